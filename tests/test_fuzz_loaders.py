"""Fuzzing the scenario loaders: random YAML documents and mutations of every shipped scenario.

The only outcomes allowed for a bad input are a valid run or a
:class:`~sim.errors.ScenarioError` (:class:`~sim.errors.DataFileError` for a
CSV) located at the input that was broken: never another exception, a hang or
a file written.

Locations are checked against an oracle that does not use ``sim``'s loader:
every YAML text given to ``sim`` is composed again by PyYAML and walked here
(key paths, lines, aliases, ``extends`` layers are the test's own
bookkeeping), or was written by the emitter below, which knows the line of
every key it writes. So for any key path the test knows the file and line
where that key, or its nearest written ancestor, stands. An error must

* carry a key path and a line (YAML errors) or a file and row (CSV errors);
* be located where the oracle says that key path was written; and
* name the mutated key, an ancestor or descendant of it, or a key tied to it
  by a rule that spans keys (dates in order, the calendar and policy dates,
  ids used elsewhere); see :func:`related`.

A catch-all handler that raised ``ScenarioError`` without the key, or with
the wrong key or line, fails these checks.

Valid mutants are run with 2 replicas on a horizon cut to a few years, and
the tiny scenario's mutants also go through ``sim run`` and ``sim validate``
(``sim.cli.main``), which must exit 2 with the located message and leave the
output folder empty on error, or write one readable file on success. Every example runs
under an alarm (:func:`deadline`), so a hang fails the test instead of
blocking the suite. Hypothesis is derandomized and bounded: the whole module
takes well under a minute. ``SIM_FUZZ_SCALE`` multiplies the number of
examples for a longer local run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sim.api import load_scenario, prepare, simulate
from sim.cli import main
from sim.errors import DataFileError, ScenarioError
from sim.scenario.load import load_yaml_document
from tests.reliability_record import record

REPO = Path(__file__).resolve().parents[1]
TINY_DIR = REPO / "tests" / "data" / "tiny"
SCALE = float(os.environ.get("SIM_FUZZ_SCALE", "1"))

#: Every scenario file shipped: (folder copied for the test, file inside it).
SCENARIO_FILES = [
    *((REPO / "scenarios", p.name) for p in sorted((REPO / "scenarios").glob("*.yaml"))),
    (TINY_DIR, "tiny.yaml"),
]
#: Every data file of those scenarios: (folder, csv inside it, scenario that reads it).
CSV_FILES = [
    (REPO / "scenarios", "data/uz_kz_trade_2016.csv", "uz_kz_khiva_2024.yaml"),
    (REPO / "scenarios", "data/io_coefficients_7sector.csv", "uz_kz_khiva_2024.yaml"),
    (TINY_DIR, "trade.csv", "tiny.yaml"),
    (TINY_DIR, "coefficients.csv", "tiny.yaml"),
]


def examples(n: int) -> int:
    return max(1, int(n * SCALE))


def fuzz_settings(n: int) -> settings:
    return settings(
        max_examples=examples(n),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


class Hang(Exception):
    """Raised by :func:`deadline` when an example runs too long."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging) when the body runs longer than ``seconds``."""

    def expire(signum: int, frame: object) -> None:
        raise Hang(f"no outcome within {seconds} s: the loader or the run hangs")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------- the location oracle


def parent_path(path: str) -> str | None:
    if path.endswith("]"):
        return path[: path.rfind("[")] or None
    dot = path.rfind(".")
    return path[:dot] if dot > 0 else None


def ancestors(path: str) -> Iterator[str]:
    """``path`` and every path containing it, innermost first."""
    current: str | None = path
    while current:
        yield current
        current = parent_path(current)


def is_ancestor(a: str, b: str) -> bool:
    """True when ``a`` is ``b`` or contains it."""
    return a in set(ancestors(b))


def last_name(path: str) -> str:
    """The last key name of a path, list indices removed: ``a.b[2]`` -> ``b``."""
    return re.sub(r"\[\d+\]$", "", path).rsplit(".", 1)[-1]


@dataclass
class Site:
    """One key of a mapping or one item of a list, as written in the text."""

    path: str
    line: int  # 1-based line of the key (mapping entry) or of the item
    start: int  # character index of the key (or item)
    value: Node
    flow: bool  # inside a flow-style {...} or [...]
    is_item: bool
    text: str = ""  # the whole text the site is in
    key_text: str = ""
    aliased: bool = False  # reached through an alias (*name): its text is the anchor's

    @property
    def scalar(self) -> str | None:
        """The value's text, for a single-line scalar (plain or quoted)."""
        node = self.value
        if not isinstance(node, ScalarNode) or node.style in ("|", ">"):
            return None
        if node.start_mark.line != node.end_mark.line:
            return None
        return self.text[node.start_mark.index : node.end_mark.index]


_OracleLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ORACLE_CACHE: dict[str, dict[str, Site]] = {}


def _key_name(node: ScalarNode) -> str:
    if node.tag.endswith(":int") and re.fullmatch(r"[-+]?[0-9_]+", node.value):
        return str(int(node.value.replace("_", "")))
    return str(node.value)


def oracle(text: str) -> dict[str, Site]:
    """Key path -> site of every key and list item of a YAML text, by PyYAML's composer.

    Independent of ``sim``'s loader. For a key written twice, the later site wins
    (that is where the duplicate is reported).
    """
    cached = _ORACLE_CACHE.get(text)
    if cached is not None:
        return cached
    # The C composer when PyYAML has it (its marks equal the pure-Python one's):
    # several times faster on the 14 kB seed scenario.
    loader = _OracleLoader(text)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    sites: dict[str, Site] = {}
    seen: set[int] = set()

    def walk(node: Node, prefix: str, aliased: bool = False) -> None:
        # An alias is the anchor's node object again; below it, the text is the anchor's.
        aliased = aliased or id(node) in seen
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    continue
                name = _key_name(key_node)
                path = f"{prefix}.{name}" if prefix else name
                sites[path] = Site(
                    path,
                    key_node.start_mark.line + 1,
                    key_node.start_mark.index,
                    value_node,
                    bool(node.flow_style),
                    False,
                    text,
                    text[key_node.start_mark.index : key_node.end_mark.index],
                    aliased or id(value_node) in seen,
                )
                walk(value_node, path, aliased)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                path = f"{prefix}[{index}]"
                sites[path] = Site(
                    path,
                    item.start_mark.line + 1,
                    item.start_mark.index,
                    item,
                    bool(node.flow_style),
                    True,
                    text,
                    aliased=aliased or id(item) in seen,
                )
                walk(item, path, aliased)

    if root is not None:
        walk(root, "")
    if len(_ORACLE_CACHE) < 64:
        _ORACLE_CACHE[text] = sites
    return sites


@dataclass
class Layer:
    """The written keys of one YAML file: path -> line."""

    file: Path
    lines: dict[str, int]
    containers: dict[str, str]  # path -> "map", "seq" or "scalar"


def layer(file: Path, text: str | None = None) -> Layer:
    sites = oracle(file.read_text(encoding="utf-8") if text is None else text)
    kinds = {
        p: "map"
        if isinstance(s.value, MappingNode)
        else "seq"
        if isinstance(s.value, SequenceNode)
        else "scalar"
        for p, s in sites.items()
    }
    return Layer(file, {p: s.line for p, s in sites.items()}, kinds)


def merged_layers(variant: Layer, bases: list[Layer]) -> list[Layer]:
    """Layers for a variant over its bases: base keys under a value the variant replaced drop out."""
    replaced = [p for p, kind in variant.containers.items() if kind != "map"]
    out = [variant]
    for base in bases:
        keep = {
            p: line
            for p, line in base.lines.items()
            if not any(p.startswith(r + "[") or p.startswith(r + ".") for r in replaced)
        }
        out.append(Layer(base.file, keep, base.containers))
    return out


def where(key: str, layers: list[Layer]) -> tuple[Path, int] | None:
    """File and line of ``key`` or of its nearest written ancestor, most derived file first."""
    for path in ancestors(key):
        for lay in layers:
            if path in lay.lines:
                return lay.file, lay.lines[path]
    return None


def extends_chain(file: Path) -> list[Path]:
    """The base files of a scenario (nearest first), read with PyYAML only."""
    bases: list[Path] = []
    current = file
    while True:
        # BaseLoader: every scalar a string, so a broken date cannot stop the oracle.
        data = yaml.load(current.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
        target = data.get("extends") if isinstance(data, dict) else None
        if not isinstance(target, str):
            return bases
        current = (current.parent / target).resolve()
        if current in bases or current == file.resolve() or not current.is_file():
            return bases
        bases.append(current)


# ---------------------------------------------------------------- what an error may name

#: Keys checked against each other within one project, portfolio or policy.
DATE_KEYS = {"announced", "financed", "construction", "operating", "stage_dates", "stage", "date"}
ID_TEXT = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


@dataclass
class Mutation:
    """What was changed: the key path, how, the old and new text, and ids it touched."""

    path: str
    kind: str
    old: str | None = None
    new: str | None = None
    line: int | None = None  # where the changed key stands in the mutated text, if known
    names: frozenset[str] = frozenset()  # ids removed or introduced


#: Keys that define the names used everywhere else: an error anywhere may follow.
DEFINING = ("extends", "regions", "sectors")


def related(err_key: str, mutation: Mutation) -> bool:
    """True when an error naming ``err_key`` is an honest report of ``mutation``."""
    m = mutation.path
    if is_ancestor(err_key, m) or is_ancestor(m, err_key):
        return True
    if m.split(".")[0].split("[")[0] in DEFINING:
        return True
    # Dates are checked in order within a project, a portfolio or the calendar,
    # and policies must fall inside the calendar.
    names = {last_name(err_key), last_name(m)}
    err_item = parent_path(err_key)
    if names <= DATE_KEYS and err_item is not None and is_ancestor(err_item, m):
        return True
    if m.startswith("time") and (
        err_key.startswith("time") or re.fullmatch(r"policies\[\d+\]\.date", err_key)
    ):
        return True
    # Without (or with another) dist: a distribution's keys are read another way.
    if last_name(m) == "dist" and parent_path(err_key) == parent_path(m):
        return True
    # Projects name their pipeline.
    if m.startswith("investment.pipelines") and last_name(err_key) == "pipeline":
        return True
    # Constant prices need a base year (reported on price_basis).
    return m.startswith("metadata.price_base") and err_key == "metadata.price_basis"


def mentions(err: ScenarioError, words: frozenset[str]) -> bool:
    """True when the error names one of ``words`` (ids the mutation removed or introduced)."""
    text = str(err)
    return any(f"'{w}'" in text or f" {w} " in text or f"{w}/" in text for w in words)


def check_error(
    err: ScenarioError, mutation: Mutation, layers: list[Layer], data_files: dict[str, Path]
) -> str:
    """Assert that ``err`` reports ``mutation`` where the oracle says; return the outcome label."""
    assert "Traceback" not in str(err)
    if isinstance(err, DataFileError):
        # A scenario edit that breaks the reading of a table: the table is named,
        # and the mutation is one that changes how the table is read.
        assert err.file is not None, str(err)
        table = Path(err.file).resolve()
        assert table in {p.resolve() for p in data_files.values()}, str(err)
        rows = table.read_bytes().count(b"\n") + 1
        assert err.line is None or 1 <= err.line <= rows, str(err)
        assert mutation.path.startswith(("trade.baseline", "input_output", "regions", "sectors"))
        if mutation.kind == "duplicate":
            raise AssertionError(f"duplicate key not reported by the loader: {err}")
        return "DataFileError naming the table"
    assert err.key is not None, f"error without a key path for {mutation}: {err}"
    expected = where(err.key, layers)
    if mutation.kind == "duplicate":
        assert err.key == mutation.path, f"{mutation}: {err}"
        assert err.line == mutation.line, f"{mutation}: {err}"
        assert "appears twice" in err.problem, str(err)
        assert err.file is not None and Path(err.file) == layers[0].file
        return "ScenarioError at the duplicated key and line"
    if expected is None:
        # A required key nobody wrote: no line, but the scenario's file and the key.
        assert err.line is None, f"{mutation}: {err}"
        assert err.file is not None and Path(err.file) == layers[0].file, str(err)
    else:
        file, line = expected
        assert err.file is not None and Path(err.file).resolve() == file.resolve(), (
            f"{mutation}: error in {err.file}, oracle says {file}\n{err}"
        )
        assert err.line == line, f"{mutation}: error on line {err.line}, oracle says {line}\n{err}"
    if related(err.key, mutation):
        if err.key == mutation.path:
            return "ScenarioError at the mutated key and line"
        return "ScenarioError at a key tied to the mutated one (parent, child, or rule)"
    # Renaming or removing an id: the error is where the id is used, and names it.
    if mentions(err, mutation.names):
        return "ScenarioError where the changed id is used, naming it"
    raise AssertionError(f"error does not name the mutated key {mutation}:\n{err}")


# ---------------------------------------------------------------- bugs found and not fixed yet


def known_bug(mutation: Mutation, exc: BaseException) -> str | None:
    """The open bug (reproduced by a strict xfail test in this module) that ``exc`` is, if any.

    The fuzz tests record such inputs and go on, while the xfail test tracks the
    bug: when it is fixed, the xfail test passes (XPASS fails the suite) and its
    entry here should go. Fixed so far: every bug the fuzzing found in its first
    round (see the regression tests at the end of this module).
    """
    del mutation, exc
    return None


# ---------------------------------------------------------------- running what is valid


def check_dataset(ds: Any) -> None:
    """A valid run's numbers are finite and flows, jobs and migration are not negative."""
    for name in ("trade", "output", "capital_flow", "jobs", "migration", "wage"):
        values = ds[name].values
        assert np.isfinite(values).all(), name
        assert (values >= 0).all(), name


def run_short(path: Path, years: int = 3) -> None:
    """Run a scenario with 2 replicas on a horizon of at most ``years`` years."""
    sc = load_scenario(path, replicas=2)
    t = sc.data["time"]
    start = dt.date.fromisoformat(t["start"])
    end = min(dt.date.fromisoformat(t["end"]), dt.date(start.year + years - 1, 12, 31))
    t["end"] = end.isoformat()
    ds = simulate(prepare(sc), batch_size=2)
    check_dataset(ds)


def run_cli(
    path: Path, out_dir: Path, command: str = "run", *, stdout: bool = False
) -> tuple[int, str]:
    """``sim run`` (or ``sim validate``) in-process; the exit status and stderr (or stdout)."""
    out_dir.mkdir(exist_ok=True)
    argv = ["-q", command, str(path)]
    if command == "run":
        argv += ["-o", str(out_dir / "out.nc"), "--replicas", "2"]
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, (out if stdout else err).getvalue()


def check_cli_error(code: int, stderr: str, err: ScenarioError, out_dir: Path) -> None:
    """On error ``sim run`` exits 2, prints the located message and writes nothing."""
    assert code == 2, stderr
    assert "Traceback" not in stderr
    head = f"{err.file}:{err.line}: " if err.line is not None else f"{err.file}: "
    assert head in stderr, stderr
    if err.key is not None:
        assert f"key: {err.key}" in stderr, stderr
    assert list(out_dir.iterdir()) == [], "a file was written for a failed run"


def check_cli_success(code: int, stderr: str, out_dir: Path) -> None:
    assert code == 0, stderr
    names = [p.name for p in out_dir.iterdir()]
    assert names == ["out.nc"], f"stray files after a successful run: {names}"
    with xr.open_dataset(out_dir / "out.nc", engine="h5netcdf") as ds:
        check_dataset(ds.load())


# ---------------------------------------------------------------- text mutations


def line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def line_of_index(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def column(text: str, index: int) -> int:
    return index - line_start(text, index)


def block_end(text: str, start: int, col: int, *, key: bool = True) -> int:
    """Index where the block that starts at ``start`` (indented at ``col``) ends.

    The block runs to the next line with content (not blank, not a comment)
    indented at most ``col``, or to the end of the text. Under a key (``key``),
    a list written at the key's own indentation ("key:\n- item") belongs to it.
    """
    pos = text.find("\n", start)
    while pos != -1:
        nxt = pos + 1
        end = text.find("\n", nxt)
        line = text[nxt : end if end != -1 else len(text)]
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            indent = len(line) - len(line.lstrip(" "))
            compact_item = key and indent == col and stripped.startswith("-")
            if indent < col or (indent == col and not compact_item):
                return nxt
        pos = end
    return len(text)


def siblings(sites: dict[str, Site], site: Site) -> list[Site]:
    """Sites of the container of ``site``, in order."""
    parent = parent_path(site.path) or ""
    out = []
    for s in sites.values():
        if s.is_item:
            if parent_path(s.path) == parent and s.path.startswith(parent + "["):
                out.append(s)
        elif (parent_path(s.path) or "") == parent and not s.is_item and not site.is_item:
            out.append(s)
    return sorted(out, key=lambda s: s.start)


def delete_site(text: str, sites: dict[str, Site], site: Site) -> str:
    """Remove a key (with its value) or a list item from the text."""
    sibs = siblings(sites, site)
    index = next(i for i, s in enumerate(sibs) if s.path == site.path)
    if site.flow:
        value_end = site.value.end_mark.index
        if index + 1 < len(sibs):
            return text[: site.start] + text[sibs[index + 1].start :]
        if index > 0:
            prev_end = sibs[index - 1].value.end_mark.index
            return text[:prev_end] + text[value_end:]
        return text[: site.start] + text[value_end:]
    if site.is_item:
        dash = text.rfind("-", line_start(text, site.start), site.start)
        col = column(text, dash if dash != -1 else site.start)
        start = line_start(text, site.start)
        return text[:start] + text[block_end(text, site.start, col, key=False) :]
    col = column(text, site.start)
    if index + 1 < len(sibs):
        # Up to the next key: also right for the first key of a list item ("- a: 1").
        return text[: site.start] + text[sibs[index + 1].start :]
    start = line_start(text, site.start)
    end = block_end(text, site.start, col)
    if text[start : site.start].strip():  # "- key: value", the item's only key
        return text[: site.start] + "{}\n" + text[end:]
    return text[:start] + text[end:]


def ids_in(node: Node) -> set[str]:
    """Key names and scalar values that look like ids, in a node and below."""
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ScalarNode):
            if ID_TEXT.match(str(current.value)):
                found.add(str(current.value))
        elif isinstance(current, MappingNode):
            for k, v in current.value:
                stack.extend((k, v))
        elif isinstance(current, SequenceNode):
            stack.extend(current.value)
    return found


def id_names(*texts: str | None) -> frozenset[str]:
    return frozenset(t.strip("'\"") for t in texts if t and ID_TEXT.match(t.strip("'\"")))


def replace_value(text: str, site: Site, new: str) -> str:
    node = site.value
    return text[: node.start_mark.index] + new + text[node.end_mark.index :]


def duplicate_key(text: str, sites: dict[str, Site], site: Site) -> tuple[str, int]:
    """Write the key a second time right after itself; returns the text and the copy's line."""
    scalar = site.scalar
    assert scalar is not None and not site.is_item
    if site.flow:
        at = site.value.end_mark.index
        copy_text = f", {site.key_text}: {scalar}"
        return text[:at] + copy_text + text[at:], line_of_index(text, at)
    col = column(text, site.start)
    end = block_end(text, site.start, col)
    insert = " " * col + f"{site.key_text}: {scalar}\n"
    if end == len(text) and not text.endswith("\n"):
        insert = "\n" + insert
    return text[:end] + insert + text[end:], line_of_index(text, end) + (
        1 if insert.startswith("\n") else 0
    )


def add_unknown_entry(text: str, site: Site) -> tuple[str, str] | None:
    """Add a key ``zz_unknown: 1`` (or an extra item) to the container ``site`` holds."""
    node = site.value
    if isinstance(node, MappingNode) and node.flow_style and node.value:
        at = node.value[-1][1].end_mark.index
        return text[:at] + ", zz_unknown: 1" + text[at:], f"{site.path}.zz_unknown"
    if isinstance(node, SequenceNode) and node.flow_style and node.value:
        last = node.value[-1]
        item = text[last.start_mark.index : last.end_mark.index]
        at = last.end_mark.index
        return text[:at] + ", " + item + text[at:], f"{site.path}[{len(node.value)}]"
    if isinstance(node, MappingNode) and node.value and not node.flow_style:
        first_key = node.value[0][0]
        col = column(text, first_key.start_mark.index)
        end = block_end(text, node.value[-1][0].start_mark.index, col)
        insert = " " * col + "zz_unknown: 1\n"
        if end == len(text) and not text.endswith("\n"):
            insert = "\n" + insert
        return text[:end] + insert + text[end:], f"{site.path}.zz_unknown"
    return None


REPLACEMENTS = {
    "wrong type: text": ['"oops"', "abc", "'1.5'"],
    "wrong type: list": ["[1, 2]", "[]"],
    "wrong type: mapping": ["{a: 1}", "{}"],
    "wrong type: bool or null": ["true", "false", "null", "~"],
    "negative number": ["-1", "-0.5", "-1e9", "-2016"],
    "huge number": ["1e308", "1e400", "123456789012345678901234567890", "9.9e99", "99999999"],
    "NaN or infinity (.nan, .inf)": [".nan", ".inf", "-.inf", ".NaN", "+.inf"],
    "zero": ["0", "0.0"],
    "unknown region or sector id": ["XX", "ZZZ", "goods", "UZ"],
    "date out of range or out of order": [
        "1899-12-31",
        "1990-01-01",
        "2999-12-31",
        "2020-02-30",
        "2016-01-01",
        "2040-06-30",
        "2021-13-01",
    ],
}
MUTATION_KINDS = [*REPLACEMENTS, "deleted key", "duplicate key", "table of the wrong shape"]


@st.composite
def text_mutation(draw: st.DrawFn, text: str) -> tuple[str, Mutation, str]:
    """A mutated text, what was mutated, and the kind (for the record)."""
    sites = oracle(text)
    paths = sorted(p for p, site in sites.items() if not site.aliased)
    while True:
        kind = draw(st.sampled_from(MUTATION_KINDS))
        site = sites[draw(st.sampled_from(paths))]
        if kind in REPLACEMENTS:
            if site.scalar is None:
                continue
            new = draw(st.sampled_from(REPLACEMENTS[kind]))
            if new == site.scalar:
                continue
            return (
                replace_value(text, site, new),
                Mutation(site.path, "replace", site.scalar, new, names=id_names(site.scalar, new)),
                kind,
            )
        if kind == "deleted key":
            names = frozenset(ids_in(site.value)) | id_names(site.path.rsplit(".", 1)[-1])
            path = site.path
            if not site.flow and len(siblings(sites, site)) == 1:
                path = parent_path(site.path) or path  # the container is left empty (null)
            return delete_site(text, sites, site), Mutation(path, "delete", names=names), kind
        if kind == "duplicate key":
            if site.is_item or site.scalar is None:
                continue
            new_text, line = duplicate_key(text, sites, site)
            return new_text, Mutation(site.path, "duplicate", site.scalar, line=line), kind
        added = add_unknown_entry(text, site)
        if added is None:
            continue
        new_text, new_path = added
        return new_text, Mutation(new_path, "add", None, "zz_unknown"), kind


# ---------------------------------------------------------------- scenario files


def copy_folder(folder: Path, into: Path) -> Path:
    target = into / folder.name
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns("*.nc", "__pycache__"))
    return target


def scenario_id(item: tuple[Path, str]) -> str:
    return item[1]


def fuzz_scenario(folder: Path, name: str, text: str, mutation: Mutation, cli: bool) -> str:
    """Load (and run, if valid) one mutated scenario; assert the outcome; return its label."""
    with tempfile.TemporaryDirectory() as tmp:
        work = copy_folder(folder, Path(tmp))
        path = work / name
        path.write_text(text, encoding="utf-8")
        try:
            layers = merged_layers(layer(path, text), [layer(b) for b in extends_chain(path)])
        except yaml.MarkedYAMLError as exc:
            # The mutation broke the YAML itself (an alias left without its anchor).
            mark = exc.problem_mark
            assert mark is not None
            with pytest.raises(ScenarioError) as info:
                load_scenario(path)
            assert info.value.file == str(path)
            assert info.value.line == mark.line + 1, str(info.value)
            assert "YAML" in info.value.problem
            return "ScenarioError: YAML error at its line"
        before = sorted(p.relative_to(work) for p in work.rglob("*"))
        out_dir = Path(tmp) / "out"
        with deadline(60):
            try:
                run_short(path, years=100 if cli else 3)
                outcome = "valid run"
            except ScenarioError as err:
                tables = {p.name: p for p in work.rglob("*.csv")}
                outcome = check_error(err, mutation, layers, tables)
                if cli:
                    code, stderr = run_cli(path, out_dir)
                    check_cli_error(code, stderr, err, out_dir)
                    if err.problem.startswith("sim run needs"):
                        # A trade-only scenario: valid for sim counterfactual, and
                        # sim validate names what sim run would still need.
                        code, said = run_cli(path, out_dir, "validate", stdout=True)
                        assert code == 0 and "sim run also needs" in said, said
                        assert str(err.key) in said, said
                    else:
                        code, stderr = run_cli(path, out_dir, "validate")
                        check_cli_error(code, stderr, err, out_dir)
            except Exception as exc:
                bug = known_bug(mutation, exc)
                if bug is None:
                    raise
                outcome = f"KNOWN BUG: {bug}"
            else:
                if cli:
                    code, stderr = run_cli(path, out_dir)
                    check_cli_success(code, stderr, out_dir)
                    # The runs override the replica count (--replicas 2): a mutant that
                    # breaks only the file's own count is for sim validate to refuse.
                    if not str(mutation.path).startswith("monte_carlo.replicas"):
                        assert run_cli(path, out_dir, "validate")[0] == 0
        after = sorted(p.relative_to(work) for p in work.rglob("*"))
        assert after == before, "the scenario folder changed"
    return outcome


def examples_for(name: str) -> int:
    """Examples per scenario file: valid mutants of the larger scenarios take ~0.5 s to run."""
    if name == "tiny.yaml":
        return 40
    return 12 if name.startswith("bench") else 25


@pytest.mark.parametrize("source", SCENARIO_FILES, ids=scenario_id)
def test_mutated_scenario_files(source: tuple[Path, str]) -> None:
    folder, name = source
    original = (folder / name).read_text(encoding="utf-8")
    cli = name == "tiny.yaml"

    @fuzz_settings(examples_for(name))
    @given(st.data())
    def check(data: st.DataObject) -> None:
        text, mutation, kind = data.draw(text_mutation(original), label="mutation")
        outcome = fuzz_scenario(folder, name, text, mutation, cli)
        record("bad YAML: mutations of the shipped scenario files", kind, outcome, subject=name)

    check()


# ---------------------------------------------------------------- broken CSV files


@dataclass
class CsvCase:
    """A mutated table, the row that was changed (None: the whole table) and its cells."""

    data: bytes
    kind: str
    line: int | None
    cells: list[str]
    header: tuple[str, ...] = ()

    def cell(self, column: str) -> str:
        return self.cells[self.header.index(column)].strip()


def _csv_lines(text: str) -> list[str]:
    return text.splitlines()


@st.composite
def csv_mutation(draw: st.DrawFn, text: str) -> CsvCase:
    lines = _csv_lines(text)
    header = lines[0].split(",")
    rows = [i for i in range(1, len(lines)) if lines[i].strip() and not lines[i].startswith("#")]
    index = draw(st.sampled_from(rows))
    number = index + 1
    cells = lines[index].split(",")
    value_col = header.index("value")
    id_cols = [i for i, h in enumerate(header) if h != "value"]
    kind = draw(st.sampled_from(CSV_KINDS))
    case = draw(_csv_case(lines, header, index, number, cells, value_col, id_cols, kind))
    case.header = tuple(h.strip() for h in header)
    return case


@st.composite
def _csv_case(
    draw: st.DrawFn,
    lines: list[str],
    header: list[str],
    index: int,
    number: int,
    cells: list[str],
    value_col: int,
    id_cols: list[int],
    kind: str,
) -> CsvCase:
    text = "\n".join(lines) + "\n"

    def with_row(row: str | None, extra: list[str] | None = None) -> bytes:
        out = list(lines)
        if row is None:
            del out[index]
        else:
            out[index] = row
        if extra is not None:
            out[index + 1 : index + 1] = extra
        return ("\n".join(out) + "\n").encode("utf-8")

    def set_cell(col: int, value: str) -> bytes:
        new = list(cells)
        new[col] = value
        return with_row(",".join(new))

    if kind == "value not a number":
        return CsvCase(set_cell(value_col, draw(st.sampled_from(["abc", "1,5", "12%", "USD 5"]))),
                       kind, number, cells)  # fmt: skip
    if kind == "negative value":
        return CsvCase(set_cell(value_col, draw(st.sampled_from(["-1", "-0.001", "-1e9"]))),
                       kind, number, cells)  # fmt: skip
    if kind == "NaN or infinity":
        return CsvCase(set_cell(value_col, draw(st.sampled_from(["nan", "NaN", "inf", "-inf",
                       "Infinity", "1e400"]))), kind, number, cells)  # fmt: skip
    if kind == "huge value":
        return CsvCase(set_cell(value_col, draw(st.sampled_from(["1e15", "1e300", "9" * 40]))),
                       kind, number, cells)  # fmt: skip
    if kind == "empty value":
        return CsvCase(set_cell(value_col, draw(st.sampled_from(["", " "]))), kind, number, cells)
    if kind == "unknown region or sector":
        col = draw(st.sampled_from(id_cols))
        return CsvCase(set_cell(col, draw(st.sampled_from(["XX", "zz", "", "A B"]))),
                       kind, number, cells)  # fmt: skip
    if kind == "extra field":
        return CsvCase(with_row(lines[index] + ",1"), kind, number, cells)
    if kind == "missing field":
        return CsvCase(with_row(",".join(cells[:-1])), kind, number, cells)
    if kind == "unterminated quote":
        return CsvCase(
            set_cell(draw(st.sampled_from(id_cols)), '"' + cells[0]), kind, number, cells
        )
    if kind == "duplicate row":
        return CsvCase(with_row(lines[index], [lines[index]]), kind, number + 1, cells)
    if kind == "deleted row":
        return CsvCase(with_row(None), kind, None, cells)
    if kind == "renamed or missing column":
        new_header = list(header)
        col = draw(st.integers(0, len(header) - 1))
        if draw(st.booleans()):
            new_header[col] = new_header[col] + "_x"
        else:
            del new_header[col]
        out = [",".join(new_header), *lines[1:]]
        return CsvCase(("\n".join(out) + "\n").encode(), kind, 1, header)
    if kind == "truncated file":
        data = text.encode("utf-8")
        cut = draw(st.integers(len(lines[0]) + 1, len(data) - 1))
        cut_line = data[:cut].count(b"\n") + 1
        return CsvCase(data[:cut], kind, cut_line, [])
    if kind == "empty file":
        return CsvCase(b"", kind, 1, [])
    if kind == "not UTF-8":
        data = text.encode("utf-8")
        at = draw(st.integers(0, len(data) - 1))
        return CsvCase(data[:at] + b"\xff\xfe" + data[at:], kind, None, [])
    # a binary file in place of the table
    return CsvCase(draw(st.binary(min_size=1, max_size=200)), kind, None, [])


CSV_KINDS = [
    "value not a number",
    "negative value",
    "NaN or infinity",
    "huge value",
    "empty value",
    "unknown region or sector",
    "extra field",
    "missing field",
    "unterminated quote",
    "duplicate row",
    "deleted row",
    "renamed or missing column",
    "truncated file",
    "empty file",
    "not UTF-8",
    "binary garbage",
]


def check_csv_error(err: ScenarioError, case: CsvCase, table: Path, scenario: Path) -> str:
    """A broken table is reported at its file and row, or (for the whole table) names what is wrong."""
    assert "Traceback" not in str(err)
    in_table = err.file is not None and Path(err.file).resolve() == table.resolve()
    if in_table and case.line is not None and err.line is not None:
        if case.kind == "truncated file":
            # The cut row, or a row the cut left as a prefix of itself.
            assert err.line in (case.line, case.line - 1), str(err)
        else:
            assert err.line == case.line, f"{case.kind}: row {err.line}, mutated {case.line}\n{err}"
        return "DataFileError at the file and row"
    if in_table:
        assert isinstance(err, DataFileError), str(err)
        if case.kind == "deleted row":
            # The first missing combination is the deleted one.
            ids = [c.strip() for c in case.cells if c.strip()][:3]
            assert "missing" in err.problem and all(i in err.problem for i in ids[:2]), str(err)
            return "DataFileError at the file, naming the missing row"
        if case.kind == "truncated file":
            # Whole rows cut off: the table says rows are missing.
            assert "missing" in err.problem or "no data rows" in err.problem, str(err)
            return "DataFileError at the file, naming the missing rows"
        if case.line is not None and err.line is None:
            # A table-wide rule broken by the row (a column of coefficients summing to 1
            # or more, a destination buying nothing of a sector): it names the row's ids.
            if "output" in case.header:
                assert f"/{case.cell('output')}" in err.problem, str(err)
            else:
                assert case.cell("destination") in err.problem, str(err)
                assert case.cell("sector") in err.problem, str(err)
            return "DataFileError at the file, naming the ids of the row"
        assert case.kind in ("not UTF-8", "binary garbage"), str(err)
        return "DataFileError at the file"
    # A table that reads but cannot be used (no output of a sector): the scenario's key.
    assert err.key == "trade.baseline.file", str(err)
    assert err.file is not None and Path(err.file).resolve() == scenario.resolve(), str(err)
    assert case.cell("origin") in err.problem and case.cell("sector") in err.problem, str(err)
    return "ScenarioError at the table's key, naming the ids of the row"


def csv_id(item: tuple[Path, str, str]) -> str:
    return item[1]


@pytest.mark.parametrize("source", CSV_FILES, ids=csv_id)
def test_broken_csv_files(source: tuple[Path, str, str]) -> None:
    folder, table_name, scenario_name = source
    original = (folder / table_name).read_text(encoding="utf-8")
    cli = scenario_name == "tiny.yaml"

    @fuzz_settings(30 if cli else 20)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        case = data.draw(csv_mutation(original), label="table")
        with tempfile.TemporaryDirectory() as tmp:
            work = copy_folder(folder, Path(tmp))
            table, scenario = work / table_name, work / scenario_name
            table.write_bytes(case.data)
            out_dir = Path(tmp) / "out"
            with deadline(60):
                try:
                    run_short(scenario, years=100 if cli else 3)
                    outcome = "valid run"
                except ScenarioError as err:
                    outcome = check_csv_error(err, case, table, scenario)
                    if cli:
                        code, stderr = run_cli(scenario, out_dir)
                        check_cli_error(code, stderr, err, out_dir)
                else:
                    if cli:
                        code, stderr = run_cli(scenario, out_dir)
                        check_cli_success(code, stderr, out_dir)
        record("bad CSV: mutations of the shipped data tables", case.kind, outcome,
               subject=table_name)  # fmt: skip

    check()


# ---------------------------------------------------------------- broken MRIO tables

MRIO_AREA = "bad MRIO tables: mutations of a pymrio folder and of CSV matrices"
#: (layout, table inside the scenario folder, examples of each kind of mutation). pymrio's
#: test system: 6 regions x 8 sectors, aggregated onto the scenario's 3 x 3; a valid mutant
#: runs in ~0.4 s.
MRIO_FILES = [
    ("pymrio", "mrio/Z.txt", 3),
    ("pymrio", "mrio/Y.txt", 2),
    ("csv", "Z.csv", 2),
    ("csv", "Y.csv", 2),
]
MATRIX_KINDS = [
    "value not a number",
    "negative value",
    "NaN or infinity",
    "huge value",
    "empty value",
    "unknown region or sector",
    "column label changed",
    "extra field",
    "missing field",
    "unterminated quote",
    "duplicate row",
    "deleted row",
    "truncated file",
    "empty file",
    "not UTF-8",
    "binary garbage",
]


@pytest.fixture(scope="module")
def mrio_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two scenario folders on pymrio's test system, ``mrio.yaml`` in each: one reads the
    folder pymrio's ``save_all()`` wrote, the other the same table as CSV matrices."""
    pytest.importorskip("pymrio", reason="pymrio (a test dependency) is not installed")
    from tests.test_scenario_mrio import build  # needs pymrio at import

    base = tmp_path_factory.mktemp("mrio")
    folders = {"pymrio": base / "pymrio", "csv": base / "csv"}
    for folder in folders.values():
        folder.mkdir()
    scenario, system = build(folders["pymrio"])
    dump = yaml.safe_dump
    (folders["pymrio"] / "mrio.yaml").write_text(dump(scenario, sort_keys=False), encoding="utf-8")
    csv_dir = folders["csv"]
    shutil.copy(folders["pymrio"] / "trade.csv", csv_dir / "trade.csv")
    labels = [f"{r}:{s}" for r, s in system.Z.index]

    def matrix(columns: list[str], values: Any) -> str:
        body = [",".join(["", *columns])]
        for lab, row in zip(labels, values, strict=True):
            body.append(",".join([lab, *(repr(float(v)) for v in row)]))
        return "\n".join(body) + "\n"

    (csv_dir / "Z.csv").write_text(matrix(labels, system.Z.to_numpy()), encoding="utf-8")
    # Final demand by destination region (its categories summed): the reader sums columns.
    y = system.Y.T.groupby(level=0).sum().T
    (csv_dir / "Y.csv").write_text(matrix([str(c) for c in y.columns], y.to_numpy()),
                                   encoding="utf-8")  # fmt: skip
    mrio = scenario["input_output"]["mrio"]
    scenario["input_output"]["mrio"] = {
        "format": "csv", "path": "Z.csv", "final_demand": "Y.csv",
        "region_map": mrio["region_map"], "sector_map": mrio["sector_map"],
    }  # fmt: skip
    (csv_dir / "mrio.yaml").write_text(dump(scenario, sort_keys=False), encoding="utf-8")
    for folder in folders.values():
        run_short(folder / "mrio.yaml")  # both read and run as written
    return folders


class MatrixCase:
    """A mutated matrix, the line changed (None: the whole file) and the label it bears."""

    def __init__(self, data: bytes, kind: str, line: int | None, label: str = "") -> None:
        self.data, self.kind, self.line = data, kind, line
        self.label = label  # "region:sector" of the mutated row or column

    def __repr__(self) -> str:
        # Short: a falsifying example is printed with its repr.
        return (
            f"MatrixCase({len(self.data)} bytes, {self.kind!r}, line {self.line}, {self.label!r})"
        )


@st.composite
def matrix_mutation(draw: st.DrawFn, text: str, sep: str, index_cols: int, kind: str) -> MatrixCase:
    """One mutation of ``kind`` of a matrix file: rows of ``index_cols`` label cells then
    values, below header lines (pymrio: region and sector levels, then pandas' line of
    index names; CSV: one line of ``region:sector`` labels)."""
    lines = text.splitlines()
    header = 3 if index_cols == 2 else 1
    rows = [i for i in range(header, len(lines)) if lines[i].strip()]
    index = draw(st.sampled_from(rows))
    cells = lines[index].split(sep)
    label = ":".join(cells[:index_cols])
    column = draw(st.integers(index_cols, len(cells) - 1))

    def encode(out: list[str]) -> bytes:
        return ("\n".join(out) + "\n").encode("utf-8")

    def with_cell(col: int, value: str, row: int = index) -> bytes:
        out = list(lines)
        changed = out[row].split(sep)
        changed[col] = value
        out[row] = sep.join(changed)
        return encode(out)

    def pick(values: list[str]) -> str:
        return draw(st.sampled_from(values))

    if kind == "value not a number":
        return MatrixCase(with_cell(column, pick(["abc", "12%", "USD 5", "1.2.3"])), kind,
                          index + 1, label)  # fmt: skip
    if kind == "negative value":
        return MatrixCase(with_cell(column, pick(["-1", "-0.001", "-1e9"])), kind, index + 1,
                          label)  # fmt: skip
    if kind == "NaN or infinity":
        return MatrixCase(with_cell(column, pick(["nan", "NaN", "inf", "-inf", "1e400"])), kind,
                          index + 1, label)  # fmt: skip
    if kind == "huge value":
        return MatrixCase(with_cell(column, pick(["1e15", "1e300", "9" * 40])), kind, index + 1,
                          label)  # fmt: skip
    if kind == "empty value":
        return MatrixCase(with_cell(column, pick(["", " "])), kind, index + 1, label)
    if kind == "unknown region or sector":
        if index_cols == 2:
            data = with_cell(draw(st.integers(0, 1)), pick(["XX", "zz", ""]))
        else:
            region, _, sector = cells[0].partition(":")
            data = with_cell(0, pick([f"XX:{sector}", f"{region}:zz", region, ""]))
        return MatrixCase(data, kind, index + 1, label)
    if kind == "column label changed":
        # pymrio: the region (line 1) or sector (line 2) level; CSV: the one header line.
        level = draw(st.integers(0, 1)) if index_cols == 2 else 0
        new = pick(["XX", "zz", ""]) if index_cols == 2 else pick(["XX:zz", "reg1", ""])
        column_label = ":".join(lines[lv].split(sep)[column] for lv in range(min(2, header)))
        return MatrixCase(with_cell(column, new, level), kind, level + 1, column_label)
    if kind == "extra field":
        out = list(lines)
        out[index] += sep + "1"
        return MatrixCase(encode(out), kind, index + 1, label)
    if kind == "missing field":
        out = list(lines)
        out[index] = sep.join(cells[:-1])
        return MatrixCase(encode(out), kind, index + 1, label)
    if kind == "unterminated quote":
        return MatrixCase(with_cell(column, '"' + cells[column]), kind, index + 1, label)
    if kind == "duplicate row":
        out = [*lines[: index + 1], lines[index], *lines[index + 1 :]]
        return MatrixCase(encode(out), kind, index + 2, label)
    if kind == "deleted row":
        # The next row moves up onto the deleted one's line (or the end of the file is there).
        return MatrixCase(encode(lines[:index] + lines[index + 1 :]), kind, index + 1, label)
    data = encode(lines)
    if kind == "truncated file":
        cut = draw(st.integers(len(lines[0]) + 1, len(data) - 1))
        return MatrixCase(data[:cut], kind, data[:cut].count(b"\n") + 1)
    if kind == "empty file":
        return MatrixCase(b"", kind, 1)
    if kind == "not UTF-8":
        at = draw(st.integers(0, len(data) - 1))
        return MatrixCase(data[:at] + b"\xff\xfe" + data[at:], kind, None)
    return MatrixCase(draw(st.binary(min_size=1, max_size=200)), kind, None)


def check_matrix_error(err: ScenarioError, case: MatrixCase, table: Path, scenario: Path) -> str:
    """A broken matrix is reported at its file and line, or names the row it broke."""
    assert "Traceback" not in str(err)
    in_table = err.file is not None and Path(err.file).resolve() == table.resolve()
    if not in_table:
        # A relabelled row that still forms a table: the concordance names the new label
        # at the scenario's map.
        assert err.file is not None and Path(err.file).resolve() == scenario.resolve(), str(err)
        assert err.key in ("input_output.mrio.region_map", "input_output.mrio.sector_map"), (
            f"{case.kind}: {err}"
        )
        return "ScenarioError at the scenario's region or sector map"
    assert isinstance(err, DataFileError), str(err)
    if case.kind in ("not UTF-8", "binary garbage"):
        return "DataFileError at the file"
    if case.kind == "truncated file" and case.line is not None:
        # The cut line, or the line after the last whole row (rows missing).
        assert err.line is None or abs(err.line - case.line) <= 1, f"{case.kind}: {err}"
        return "DataFileError at the file and line"
    if case.kind == "empty file":
        assert err.line in (None, 1), str(err)
        return "DataFileError at the file"
    if err.line == case.line:
        return "DataFileError at the file and line"
    # The rows must follow a grid: a relabelled row may only show as a row out of order
    # further down, in which case the message names the label that went missing.
    if case.label and f"'{case.label}'" in err.problem:
        return "DataFileError naming the mutated row"
    raise AssertionError(f"{case.kind} on line {case.line} ({case.label}):\n{err}")


def fuzz_matrix(folder: Path, layout: str, table_name: str, kind: str, examples: int) -> None:
    """``examples`` mutations of one kind of one matrix of the scenario in ``folder``."""
    original = (folder / table_name).read_text(encoding="utf-8")
    sep, index_cols = ("\t", 2) if layout == "pymrio" else (",", 1)

    @fuzz_settings(examples)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        case = data.draw(matrix_mutation(original, sep, index_cols, kind), label="table")
        with tempfile.TemporaryDirectory() as tmp:
            work = copy_folder(folder, Path(tmp))
            table, scenario = work / table_name, work / "mrio.yaml"
            table.write_bytes(case.data)
            out_dir = Path(tmp) / "out"
            with deadline(60):
                try:
                    run_short(scenario, years=100)
                    outcome = "valid run"
                except ScenarioError as err:
                    outcome = check_matrix_error(err, case, table, scenario)
                    code, stderr = run_cli(scenario, out_dir)
                    check_cli_error(code, stderr, err, out_dir)
        record(MRIO_AREA, kind, outcome, subject=f"{layout}: {table_name}")

    check()


@pytest.mark.parametrize("source", MRIO_FILES, ids=lambda item: f"{item[0]}-{item[1]}")
def test_broken_mrio_tables(source: tuple[str, str, int], mrio_folders: dict[str, Path]) -> None:
    layout, table_name, per_kind = source
    # Every kind gets its share: drawn among all kinds, a short derandomized run left
    # several untried.
    for kind in MATRIX_KINDS:
        fuzz_matrix(mrio_folders[layout], layout, table_name, kind, per_kind)


def test_unproductive_closed_system_is_located(
    mrio_folders: dict[str, Path], tmp_path: Path
) -> None:
    """Regression: a huge intermediate flow in Z (1e15 among flows of 1e5) left the
    table productive but not the model closed with households (induced effects), and
    the run stopped with a NumericalError naming neither the table nor its row
    (sim/engine/model.py, build_model); now a DataFileError at the row of Z holding the
    largest flow of the offending column, even after aggregation. Found by the MRIO
    fuzzing.

    Since households earn jobs x wage, at most the value added (docs/model.md s.5), such
    a table no longer makes the closed system unproductive: it runs, paying the column
    nothing. The locating error remains for a closed system that is not productive
    (households spending all of an income equal to the value added): it is built here
    from the same table, with the labour income of the old closure.
    """
    from sim.engine.production import unproductive_closed_system
    from sim.scenario.data import load_scenario_data

    work = copy_folder(mrio_folders["pymrio"], tmp_path)
    z = work / "mrio" / "Z.txt"
    lines = z.read_text(encoding="utf-8").splitlines()
    cells = lines[3].split("\t")  # reg1:food, its sale to reg1:food
    cells[2] = "1e15"
    lines[3] = "\t".join(cells)
    z.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sc = load_scenario(work / "mrio.yaml", replicas=2)
    model = prepare(sc)
    assert np.all(model.labour_income <= model.value_added_share + 1e-15)
    data = load_scenario_data(sc)
    a = np.eye(9) - np.linalg.inv(model.leontief)
    income = np.zeros((3, 9))
    for r in range(3):
        income[r, 3 * r : 3 * r + 3] = 0.3  # the old labour_income_share default
    error = unproductive_closed_system(sc, data, a, income, sc.region_ids, sc.sector_ids)
    assert isinstance(error, DataFileError)
    assert (error.file, error.line) == (str(z), 4)
    assert "closed with households is not productive" in str(error)
    assert "input_output.induced: false" in str(error)


# ---------------------------------------------------------------- random YAML documents

PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$|^[0-9]{4}$")
RESERVED = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}
DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def render_key(key: str) -> str:
    if PLAIN_KEY.match(key) and key.lower() not in RESERVED:
        return key
    return yaml_quoted(key)


def render_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    text = str(value)
    return text if DATE_TEXT.match(text) else yaml_quoted(text)


def yaml_quoted(text: str) -> str:
    """A double-quoted YAML scalar: JSON's escapes, with astral characters as \\UXXXXXXXX
    (YAML has no surrogate pairs)."""

    def astral(match: re.Match[str]) -> str:
        high, low = int(match.group(1), 16), int(match.group(2), 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"

    return re.sub(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", astral, json.dumps(text))


def emit(doc: dict[str, Any]) -> tuple[str, dict[str, int]]:
    """Block-style YAML for ``doc`` and the line of every key path and list item in it.

    The emitter is the oracle for random documents: it knows where it wrote
    each key, independently of any YAML parser.
    """
    lines: list[str] = []
    where_: dict[str, int] = {}

    def mapping(value: dict[str, Any], prefix: str, indent: int, lead: str = "") -> None:
        for n, (key, sub) in enumerate(value.items()):
            path = f"{prefix}.{key}" if prefix else str(key)
            pad = lead if n == 0 and lead else " " * indent
            where_[path] = len(lines) + 1
            if isinstance(sub, (dict, list)) and sub:
                lines.append(f"{pad}{render_key(str(key))}:")
                node(sub, path, indent + 2)
            else:
                lines.append(f"{pad}{render_key(str(key))}: {render_scalar(sub)}")

    def node(value: dict[str, Any] | list[Any], prefix: str, indent: int) -> None:
        if isinstance(value, dict):
            mapping(value, prefix, indent)
            return
        for i, item in enumerate(value):
            path = f"{prefix}[{i}]"
            if isinstance(item, dict) and item:
                where_[path] = len(lines) + 1
                mapping(item, path, indent + 2, lead=" " * indent + "- ")
            elif isinstance(item, list) and item:
                lines.append(" " * indent + "-")
                where_[path] = len(lines) + 1
                node(item, path, indent + 2)
            else:
                where_[path] = len(lines) + 1
                lines.append(" " * indent + "- " + render_scalar(item))

    mapping(doc, "", 0)
    return "\n".join(lines) + "\n", where_


KEYWORDS = [
    "metadata", "time", "regions", "sectors", "economy", "trade", "trade_costs", "investment",
    "input_output", "labour", "policies", "monte_carlo", "output", "calibration", "name",
    "start", "end", "step", "id", "growth", "wage", "employment", "baseline", "file",
    "elasticity", "dist", "mean", "sd", "low", "high", "projects", "portfolios", "capex",
    "announced", "pipeline", "value", "date", "kind", "origin", "destination", "sector",
    "coefficients", "investment_mix", "replicas", "seed", "A", "B", "C", "goods", "services",
    "2020", "2024",
]  # fmt: skip

random_keys = st.sampled_from(KEYWORDS) | st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
random_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["A", "B", "goods", "normal", "2021-06-30", "2020-02-30", "trade.csv", "all"]),
)
random_values = st.recursive(
    random_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(random_keys, inner, max_size=4),
    max_leaves=12,
)


def tiny_document() -> dict[str, Any]:
    return load_yaml_document(TINY_DIR / "tiny.yaml").data


def all_paths(value: Any, prefix: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(value, dict):
        for key, sub in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out += [path, *all_paths(sub, path)]
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            path = f"{prefix}[{i}]"
            out += [path, *all_paths(sub, path)]
    return out


def get_parent(doc: Any, path: str) -> tuple[Any, str | int]:
    """The container of ``path`` and the key or index of ``path`` in it."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    current = doc
    for part in parts[:-1]:
        current = current[int(part[1:-1])] if part.startswith("[") else current[part]
    last = parts[-1]
    return current, int(last[1:-1]) if last.startswith("[") else last


def ids_of(value: Any) -> set[str]:
    found: set[str] = set()
    for leaf in [value, *(v for v in _leaves(value))]:
        if isinstance(leaf, str) and ID_TEXT.match(leaf):
            found.add(leaf)
    return found


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for key, sub in value.items():
            yield key
            yield from _leaves(sub)
    elif isinstance(value, list):
        for sub in value:
            yield from _leaves(sub)
    else:
        yield value


@st.composite
def document_edit(draw: st.DrawFn) -> tuple[dict[str, Any], Mutation, str]:
    """The tiny scenario as data with one random edit: replace, delete or add."""
    doc = tiny_document()
    path = draw(st.sampled_from(sorted(all_paths(doc))))
    container, key = get_parent(doc, path)
    old = container[key]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    new = draw(random_values)
    if action == "delete":
        del container[key]
        names = ids_of(old) | ids_of(str(key))
        return doc, Mutation(path, "delete", names=frozenset(names)), "key or list item deleted"
    if action == "add" and isinstance(old, dict):
        new_key = draw(random_keys)
        new_key = new_key + "_x" if new_key in old else new_key
        old[new_key] = new
        names = ids_of(new) | {new_key}
        return doc, Mutation(f"{path}.{new_key}", "add", names=frozenset(names)), "random key added"
    if action == "add" and isinstance(old, list):
        old.append(new)
        mutation = Mutation(f"{path}[{len(old) - 1}]", "add", names=frozenset(ids_of(new)))
        return doc, mutation, "random list item added"
    container[key] = new
    mutation = Mutation(
        path, "replace", new=render_scalar(new), names=frozenset(ids_of(old) | ids_of(new))
    )
    return doc, mutation, "random value in place of a key's value"


def check_emitted_error(
    err: ScenarioError, path: Path, lines: dict[str, int], mutation: Mutation | None
) -> str:
    """An error for an emitted document is where the emitter wrote its key."""
    assert "Traceback" not in str(err)
    if isinstance(err, DataFileError):
        assert mutation is not None and mutation.path.startswith(
            ("trade.baseline", "input_output", "regions", "sectors")
        ), str(err)
        return "DataFileError naming the table"
    assert err.file is not None and Path(err.file) == path, str(err)
    if not lines:
        assert err.problem == "scenario file is empty" and err.line == 1, str(err)
        return "ScenarioError at the key and line"
    # The emitter writes valid YAML with unique keys: every error is about a key.
    assert err.key is not None, f"error without a key path for {mutation}: {err}"
    expected = where(err.key, [Layer(path, lines, {})])
    assert err.line == (expected[1] if expected else None), f"{mutation}: {err}"
    if mutation is None:
        return "ScenarioError at the key and line"
    if related(err.key, mutation) or mentions(err, mutation.names):
        return "ScenarioError at the edited key and line"
    raise AssertionError(f"error does not name the edited key {mutation}:\n{err}")


@fuzz_settings(60)
@given(document_edit())
def test_random_edits_of_the_tiny_document(edit: tuple[dict[str, Any], Mutation, str]) -> None:
    doc, mutation, kind = edit
    text, lines = emit(doc)
    with tempfile.TemporaryDirectory() as tmp:
        work = copy_folder(TINY_DIR, Path(tmp))
        path = work / "tiny.yaml"
        path.write_text(text, encoding="utf-8")
        with deadline(60):
            try:
                run_short(path, years=100)
                outcome = "valid run"
            except ScenarioError as err:
                outcome = check_emitted_error(err, path, lines, mutation)
            except Exception as exc:
                bug = known_bug(mutation, exc)
                if bug is None:
                    raise
                outcome = f"KNOWN BUG: {bug}"
    record("bad YAML: random documents", f"tiny scenario, {kind}", outcome, subject="tiny.yaml")


@fuzz_settings(60)
@given(st.dictionaries(random_keys, random_values, max_size=8))
def test_random_documents(doc: dict[str, Any]) -> None:
    text, lines = emit(doc)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.yaml"
        path.write_text(text, encoding="utf-8")
        with deadline(30):
            try:
                load_scenario(path)
                outcome = "valid scenario"
            except ScenarioError as err:
                outcome = check_emitted_error(err, path, lines, None)
        assert [p.name for p in Path(tmp).iterdir()] == ["random.yaml"]
    record("bad YAML: random documents", "random mapping of schema words and values", outcome)


@fuzz_settings(80)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_random_text(content: str | bytes) -> None:
    kind = "random bytes" if isinstance(content, bytes) else "random text"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.yaml"
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        n_lines = path.read_bytes().count(b"\n") + 1
        with deadline(30), pytest.raises(ScenarioError) as info:
            load_scenario(path)
    err = info.value
    assert err.file == str(path), str(err)
    assert err.line is None or 1 <= err.line <= n_lines + 1, str(err)
    assert "Traceback" not in str(err)
    record("bad YAML: random documents", kind, "ScenarioError naming the file")


# ---------------------------------------------------------------- bugs found, one test each
# Fuzzing found these; they were fixed (sim commits 5a364ee, 099673f) and the tests stay
# as regression tests.


def _tiny_with(tmp_path: Path, old: str, new: str, name: str = "tiny.yaml") -> tuple[Path, int]:
    """A copy of the tiny scenario with ``old`` replaced in ``name``; the scenario and the line."""
    folder = copy_folder(TINY_DIR, tmp_path)
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return folder / "tiny.yaml", line_of_index(text, text.index(old))


def test_validate_reports_an_impossible_date(tmp_path: Path) -> None:
    """Regression: `sim validate` sniffed for sweep files with yaml.safe_load, which raised
    ValueError (a traceback, exit 1) for an impossible date such as 2027-02-30 (sim/cli.py,
    _is_sweep_file). Found by the mutation fuzzing; fixed in 5a364ee.
    """
    path, line = _tiny_with(tmp_path, "  end: 2027-12-31", "  end: 2027-02-30")
    code, stderr = run_cli(path, tmp_path / "out", "validate")
    assert code == 2, stderr[-300:]
    assert f"{path}:{line}: not a calendar date" in stderr
    assert "key: time.end" in stderr


@pytest.mark.parametrize("bad", ["[normal]", "{a: 1}"])
def test_dist_of_wrong_type_is_located(tmp_path: Path, bad: str) -> None:
    """Regression: a list or mapping after `dist:` raised TypeError (unhashable type) in the
    validator instead of a located error (sim/scenario/walk.py, Walker.distribution).
    Found by the mutation fuzzing; fixed in 5a364ee.
    """
    path, line = _tiny_with(tmp_path, "{goods: {dist: normal,", f"{{goods: {{dist: {bad},")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == "trade.elasticity.goods.dist"
    assert info.value.line == line


def test_huge_capex_is_refused_at_its_key(tmp_path: Path) -> None:
    """Regression: a finite but huge capex (1e308) validated, then overflowed during the run
    as a NumericalError naming neither the key nor its line (no upper bound in
    sim/scenario/schema.yaml). Found by the mutation fuzzing; fixed in 5a364ee.
    """
    path, line = _tiny_with(tmp_path, "capex_total: 90", "capex_total: 1e308")
    with pytest.raises(ScenarioError) as info:
        simulate(prepare(load_scenario(path, replicas=2)))
    assert info.value.key == "investment.portfolios[0].capex_total"
    assert info.value.line == line


def test_control_character_is_a_scenario_error(tmp_path: Path) -> None:
    """Regression: a control character in a scenario raised yaml.reader.ReaderError (a
    traceback) from the error explainer, then was reported without its line
    (sim/scenario/load.py, _syntax_error). Found by the random-text fuzzing; fixed in
    5a364ee and 099673f.
    """
    path, line = _tiny_with(tmp_path, "  name: tiny\n", "  name: ti\x08ny\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.file == str(path)
    assert info.value.line == line


def test_very_long_csv_field_is_a_data_file_error(tmp_path: Path) -> None:
    """Regression: a CSV field longer than 131072 characters raised _csv.Error instead of a
    DataFileError at its row (sim/scenario/data.py, _read_rows). Found while building the
    CSV fuzzing; fixed in 5a364ee.
    """
    path, line = _tiny_with(tmp_path, "B,A,goods,50", "B,A,goods," + "5" * 200_000, "trade.csv")
    with pytest.raises(DataFileError) as info:
        prepare(load_scenario(path))
    assert Path(info.value.file or "").name == "trade.csv"
    assert info.value.line == line


def test_duplicate_coefficient_row_is_refused(tmp_path: Path) -> None:
    """Regression: a coefficient row written twice was accepted and the last one silently
    won, where the trade table refuses duplicates (sim/scenario/data.py,
    load_coefficients_table). Found by the CSV fuzzing; fixed in 5a364ee.
    """
    path, line = _tiny_with(
        tmp_path, "B,goods,goods,0.35\n", "B,goods,goods,0.35\nB,goods,goods,0.05\n",
        "coefficients.csv",
    )  # fmt: skip
    with pytest.raises(DataFileError) as info:
        prepare(load_scenario(path))
    assert Path(info.value.file or "").name == "coefficients.csv"
    assert info.value.line == line + 1


def _pymrio_with(mrio_folders: dict[str, Path], tmp_path: Path, edit: Any) -> tuple[Path, Path]:
    """A copy of the pymrio scenario with ``edit(lines)`` applied to Z.txt's lines."""
    work = copy_folder(mrio_folders["pymrio"], tmp_path)
    z = work / "mrio" / "Z.txt"
    lines = z.read_text(encoding="utf-8").splitlines()
    edit(lines)
    z.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return work / "mrio.yaml", z


def _set_cell(lines: list[str], line: int, column: int, value: str) -> None:
    cells = lines[line - 1].split("\t")
    cells[column] = value
    lines[line - 1] = "\t".join(cells)


def test_unterminated_quote_in_a_pymrio_table_is_located(
    mrio_folders: dict[str, Path], tmp_path: Path
) -> None:
    """Regression: a stray double quote in a cell of a pymrio table made the reader swallow
    the rest of the file into one cell and report a row count error on the last line of the
    file, 47 lines below the quote (sim/scenario/mrio/text.py, read_records). Found by the MRIO
    fuzzing.
    """
    scenario, z = _pymrio_with(mrio_folders, tmp_path, lambda x: _set_cell(x, 4, 5, '"12.5'))
    with pytest.raises(DataFileError) as info:
        prepare(load_scenario(scenario, replicas=2))
    assert (info.value.file, info.value.line) == (str(z), 4)
    assert "quote opened on this line is not closed" in info.value.problem


def test_mistyped_label_in_the_first_row_is_located(
    mrio_folders: dict[str, Path], tmp_path: Path
) -> None:
    """Regression: a mistyped region in the first row of Z ('XX:food') set the expected
    region, and the error blamed the next, correct row ("row 2 of Z is 'reg1:mining',
    expected 'XX:mining'", one line below; sim/scenario/mrio.py, _grid). Found by the MRIO
    fuzzing.
    """
    scenario, z = _pymrio_with(mrio_folders, tmp_path, lambda x: _set_cell(x, 4, 0, "XX"))
    with pytest.raises(DataFileError) as info:
        prepare(load_scenario(scenario, replicas=2))
    assert (info.value.file, info.value.line) == (str(z), 4)
    assert "row 1 of Z is 'XX:food', expected 'reg1:food'" in info.value.problem


def test_repeated_row_of_z_is_located(mrio_folders: dict[str, Path], tmp_path: Path) -> None:
    """Regression: a row of Z written twice was reported as "Z is not square" at the last
    row of the file, not at the repeated row (sim/scenario/mrio/text.py, check_z). Found by the
    MRIO fuzzing.
    """
    scenario, z = _pymrio_with(mrio_folders, tmp_path, lambda x: x.insert(5, x[4]))
    with pytest.raises(DataFileError) as info:
        prepare(load_scenario(scenario, replicas=2))
    assert (info.value.file, info.value.line) == (str(z), 6)
    assert "row 3 of Z repeats 'reg1:mining' (first on line 5)" in info.value.problem

"""Fuzzing the sweep file loader: mutations of every shipped sweep file, one key at a time.

The only outcomes allowed for a mutated sweep file are a valid plan
(:func:`sim.sweep.plan.make_plan` of :func:`sim.sweep.spec.read_sweep`) or a
:class:`~sim.errors.ScenarioError` located at the input that was broken --
never another exception, a hang, a huge allocation or a file written. As in
tests/test_fuzz_loaders.py, locations are checked against PyYAML's composer
(an oracle independent of ``sim``'s loader): the error must name the sweep
file, a key path and the line where that key (or its nearest written
ancestor) stands, and the key must be the mutated one, an ancestor or
descendant of it, or a key tied to it by a rule across keys (:func:`related`).
Every error is also checked through ``sim validate``, which must exit 2 with
the located message.

The sweep files name their base scenario by a relative path; the test writes
each mutant next to nothing, so that path is made absolute first (on the same
line, so every line number stays). Hypothesis is derandomized and bounded;
``SIM_FUZZ_SCALE`` multiplies the number of examples.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.cli import main
from sim.errors import ScenarioError
from sim.sweep.plan import make_plan
from sim.sweep.spec import read_sweep
from tests.reliability_record import record
from tests.test_fuzz_loaders import (
    Layer,
    Mutation,
    add_unknown_entry,
    deadline,
    delete_site,
    duplicate_key,
    fuzz_settings,
    id_names,
    ids_in,
    is_ancestor,
    last_name,
    oracle,
    parent_path,
    replace_value,
    siblings,
    where,
)

REPO = Path(__file__).resolve().parents[1]
AREA = "bad YAML: mutations of the sweep files"
#: Every sweep file shipped, with the examples each kind of mutation gets in it (valid
#: mutants of the Khiva sweep plan on the seed scenario, ~0.7 s each; the tiny ones ~0.4 s).
SWEEP_FILES = [
    (REPO / "sweeps" / "khiva_lhs.yaml", 2),
    (REPO / "tests" / "data" / "sweep" / "tiny_failing.yaml", 2),
    (REPO / "tests" / "data" / "sweep" / "tiny_grid.yaml", 2),
    (REPO / "tests" / "data" / "sweep" / "tiny_lhs.yaml", 4),
]

REPLACEMENTS = {
    "wrong type: text": ['"oops"', "abc", "'1.5'"],
    "wrong type: list": ["[1, 2]", "[]", "[normal]"],
    "wrong type: mapping": ["{a: 1}", "{}"],
    "wrong type: bool or null": ["true", "false", "null", "~"],
    "negative number": ["-1", "-0.5", "-1e9"],
    "huge number": ["1e308", "1e400", "123456789012345678901234567890", "99999999", "4096"],
    "NaN or infinity (.nan, .inf)": [".nan", ".inf", "-.inf"],
    "zero": ["0", "0.0"],
    "unknown design or distribution name": [
        "sobel", "LHS", "monte_carlo", "uniformm", "normal", "lhs", "saltelli", "morris", "list",
        "grid",
    ],
    "unknown key path": [
        "trade.elasticity.nothing", "economy.growth.ZZ", "'trade_costs.border_days[9].days'",
        "monte_carlo.seed", "time.start", "trade.elasticity", "economy..growth", "'a[0'",
        "trade.elasticity.services.x", "'regions[0]'",
    ],
}  # fmt: skip
MUTATION_KINDS = [*REPLACEMENTS, "deleted key", "duplicate key", "unknown key added"]


def absolute_scenario(path: Path) -> str:
    """The sweep file's text with its base scenario's path made absolute, on the same line."""
    text = path.read_text(encoding="utf-8")

    def resolve(match: re.Match[str]) -> str:
        return f"scenario: {(path.parent / match[1]).resolve()}"

    return re.sub(r"^scenario: (\S+)$", resolve, text, count=1, flags=re.MULTILINE)


@st.composite
def sweep_mutation(draw: st.DrawFn, text: str, kind: str) -> tuple[str, Mutation]:
    """A mutated sweep text of the given kind, and what was mutated."""
    sites = oracle(text)
    paths = sorted(p for p, site in sites.items() if not site.aliased)
    while True:
        site = sites[draw(st.sampled_from(paths))]
        if kind in REPLACEMENTS:
            if site.scalar is None:
                continue
            new = draw(st.sampled_from(REPLACEMENTS[kind]))
            if new == site.scalar:
                continue
            mutation = Mutation(site.path, "replace", site.scalar, new,
                                names=id_names(site.scalar, new))  # fmt: skip
            return replace_value(text, site, new), mutation
        if kind == "deleted key":
            names = frozenset(ids_in(site.value)) | id_names(last_name(site.path))
            path = site.path
            if not site.flow and len(siblings(sites, site)) == 1:
                path = parent_path(site.path) or path  # the container is left empty (null)
            return delete_site(text, sites, site), Mutation(path, "delete", names=names)
        if kind == "duplicate key":
            if site.is_item or site.scalar is None:
                continue
            new_text, line = duplicate_key(text, sites, site)
            return new_text, Mutation(site.path, "duplicate", site.scalar, line=line)
        added = add_unknown_entry(text, site)
        if added is None:
            continue
        new_text, new_path = added
        return new_text, Mutation(new_path, "add", None, "zz_unknown")


def top(path: str) -> str:
    """The top-level key of a key path: ``parameters[0].range`` -> ``parameters``."""
    return path.split(".")[0].split("[")[0]


def related(err_key: str, mutation: Mutation) -> bool:
    """True when an error naming ``err_key`` is an honest report of ``mutation``."""
    m = mutation.path
    if is_ancestor(err_key, m) or is_ancestor(m, err_key):
        return True
    # The design's kind decides which of its settings apply and what each parameter may
    # take (values, levels, a range).
    if top(m) == "design" and top(err_key) in ("design", "parameters"):
        return True
    # Parameters are checked against each other (each key once; in a list design, one
    # value per point from every parameter), and against the base scenario's keys.
    if top(m) in ("parameters", "scenario") and top(err_key) == "parameters":
        return last_name(err_key) in ("key", "values") or top(m) == "scenario"
    return False


def check_error(err: ScenarioError, mutation: Mutation, path: Path, text: str) -> str:
    """Assert that ``err`` reports ``mutation`` where the oracle says; return the outcome label."""
    assert "Traceback" not in str(err)
    assert err.file is not None and Path(err.file) == path, (
        f"{mutation}: error in {err.file}\n{err}"
    )
    assert err.key is not None, f"error without a key path for {mutation}: {err}"
    if mutation.kind == "duplicate":
        assert (err.key, err.line) == (mutation.path, mutation.line), f"{mutation}: {err}"
        assert "appears twice" in err.problem, str(err)
        return "ScenarioError at the duplicated key and line"
    lines = {p: s.line for p, s in oracle(text).items()}
    expected = where(err.key, [Layer(path, lines, {})])
    if expected is None:
        # A required key nobody wrote: the file's first line, or none.
        assert err.line in (None, 1), f"{mutation}: {err}"
    else:
        assert err.line == expected[1], (
            f"{mutation}: error on line {err.line}, oracle says {expected[1]}\n{err}"
        )
    if err.key == mutation.path:
        return "ScenarioError at the mutated key and line"
    if related(err.key, mutation):
        return "ScenarioError at a key tied to the mutated one (parent, child, or rule)"
    raise AssertionError(f"error does not name the mutated key {mutation}:\n{err}")


def validate_cli(path: Path, err: ScenarioError) -> None:
    """``sim validate`` on the mutant exits 2 with the same located message."""
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        code = main(["-q", "validate", str(path)])
    out = stderr.getvalue()
    assert code == 2, out
    assert "Traceback" not in out
    head = f"{err.file}:{err.line}: " if err.line is not None else f"{err.file}: "
    assert head in out and f"key: {err.key}" in out, out


def fuzz_sweep(name: str, text: str, mutation: Mutation) -> str:
    """Read and plan one mutated sweep file; assert the outcome; return its label."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        with deadline(60):
            try:
                plan = make_plan(read_sweep(path))
                assert plan.points >= 1 and len(plan.batches) >= 1
                outcome = "valid plan"
            except ScenarioError as err:
                outcome = check_error(err, mutation, path, text)
                validate_cli(path, err)
        # Reading and planning write nothing (the store is made by a run).
        assert [p.name for p in Path(tmp).iterdir()] == [name]
    return outcome


def fuzz_kind(file: Path, original: str, kind: str, examples: int) -> None:
    """``examples`` mutations of one kind of the sweep file ``file`` (text ``original``)."""

    @fuzz_settings(examples)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        text, mutation = data.draw(sweep_mutation(original, kind), label="mutation")
        outcome = fuzz_sweep(file.name, text, mutation)
        record(AREA, kind, outcome, subject=file.name)

    check()


@pytest.mark.parametrize("source", SWEEP_FILES, ids=lambda item: item[0].name)
def test_mutated_sweep_files(source: tuple[Path, int]) -> None:
    file, per_kind = source
    original = absolute_scenario(file)
    make_plan(read_sweep(file))  # the file as shipped plans
    # Every kind of mutation gets its share: drawn among all kinds, the rarer ones (huge
    # numbers, unknown key paths) went untried in a short derandomized run.
    for kind in MUTATION_KINDS:
        fuzz_kind(file, original, kind, per_kind)


# ---------------------------------------------------------------- bugs found, one test each
# Found while building this fuzzing; fixed with it. The tests stay as regression tests.


def _tiny_sweep(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """tiny_lhs.yaml with ``old`` replaced by ``new``; the mutant and the line of the change."""
    text = absolute_scenario(REPO / "tests" / "data" / "sweep" / "tiny_lhs.yaml")
    assert text.count(old) == 1, old
    path = tmp_path / "sweep.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path, text[: text.index(old)].count("\n") + 1


@pytest.mark.parametrize("bad", ["[normal]", "{a: 1}"])
def test_distribution_name_of_wrong_type_is_located(tmp_path: Path, bad: str) -> None:
    """Regression: a list or mapping after a sweep parameter's `dist:` raised TypeError
    (unhashable type) instead of a located error (sim/sweep/spec.py, _Reader.distribution).
    Found by the sweep file fuzzing.
    """
    path, line = _tiny_sweep(tmp_path, "dist: normal", f"dist: {bad}")
    with pytest.raises(ScenarioError) as info:
        read_sweep(path)
    assert (info.value.key, info.value.line) == ("parameters[1].distribution.dist", line)
    assert "unknown distribution" in info.value.problem


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("{kind: lhs, samples: 12, seed: 3}", "{kind: lhs, samples: 99999999}", "design.samples"),
        ("{kind: lhs, samples: 12, seed: 3}", "{kind: saltelli, samples: 262144}",
         "design.samples"),
        ("{kind: lhs, samples: 12, seed: 3}", "{kind: morris, trajectories: 99999999}",
         "design.trajectories"),
    ],
)  # fmt: skip
def test_design_too_large_is_refused_before_any_point_is_placed(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    """Regression: a huge design size (samples: 99999999) was placed point by point: several
    GiB allocated, MemoryError or minutes of work, instead of a located error (no bound in
    sim/sweep/spec.py). Found by the sweep file fuzzing.
    """
    path, line = _tiny_sweep(tmp_path, old, new)
    tracemalloc.start()
    try:
        with deadline(10), pytest.raises(ScenarioError) as info:
            read_sweep(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (info.value.key, info.value.line) == (key, line)
    assert "more than one sweep may have (1,000,000)" in info.value.problem
    assert peak < 50 * 2**20


def test_grid_too_large_is_refused_at_the_levels_that_make_it_so(tmp_path: Path) -> None:
    """Regression: a grid of 99,999,999 levels per parameter was built level by level
    (itertools.product over every combination) instead of a located error. Found by the
    sweep file fuzzing.
    """
    source = REPO / "tests" / "data" / "sweep" / "tiny_grid.yaml"
    text = absolute_scenario(source).replace("levels: 6", "levels: 999999")
    path = tmp_path / "grid.yaml"
    path.write_text(text, encoding="utf-8")
    with deadline(10), pytest.raises(ScenarioError) as info:
        read_sweep(path)
    # 999,999 levels fit; times the 4 values of the next parameter they do not.
    assert (info.value.key, info.value.line) == ("parameters[1].values", 9)
    assert "3,999,996 points" in info.value.problem


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [("replicas: 6", "replicas: 99999999", "replicas"),
     ("replicas: 6", "replicas: 6\nseed: 123456789012345678901234567890", "seed"),
     ("{points: 3}", "{points: 3, replicas: 99999999}", "batch.replicas")],
)  # fmt: skip
def test_sweep_settings_beyond_the_scenarios_bounds_are_refused(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    """Regression: a sweep's replicas, seed and batch.replicas replace the scenario's
    monte_carlo settings but skipped the scenario's bounds: 99,999,999 replicas (the schema
    allows 10,000,000) or a seed past 2**64-1 planned as valid (sim/sweep/spec.py,
    read_sweep). Found by the sweep file fuzzing.
    """
    path, _ = _tiny_sweep(tmp_path, old, new)
    with pytest.raises(ScenarioError) as info:
        read_sweep(path)
    text = path.read_text(encoding="utf-8")
    assert info.value.key == key
    assert info.value.line == oracle(text)[key].line
    assert "value out of range" in info.value.problem


@pytest.mark.parametrize("missing", ["scenario", "design", "parameters"])
def test_validate_reports_a_sweep_file_missing_a_required_key(tmp_path: Path, missing: str) -> None:
    """Regression: `sim validate` took a sweep file without `scenario:` or `design:` for a
    scenario and reported its other keys as unknown scenario keys (sim/cli.py,
    _is_sweep_file). Found by the sweep file fuzzing.
    """
    text = absolute_scenario(REPO / "tests" / "data" / "sweep" / "tiny_failing.yaml")
    kept = [
        line for line in text.splitlines(keepends=True)
        if not line.startswith(f"{missing}:") and not (missing == "parameters" and line[0] == " ")
    ]  # fmt: skip
    path = tmp_path / "sweep.yaml"
    path.write_text("".join(kept), encoding="utf-8")
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        code = main(["validate", str(path)])
    assert code == 2
    assert f"{path}:1: required key '{missing}' is missing" in stderr.getvalue()
    assert f"key: {missing}" in stderr.getvalue()

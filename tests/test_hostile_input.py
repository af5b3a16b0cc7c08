"""Hostile input: alias bombs, deep nesting, extends cycles, files outside the tree, code tags.

Complements tests/test_load.py (billion laughs at the loader, two-file and
self cycles, python tags at the loader), tests/test_data.py (trade and
coefficient files outside the folder, symlinks) and tests/test_cli.py
(--data-root): here the same attacks go through ``sim run`` / ``sim validate``
and ``sim.api``, through ``extends`` bases, and through the keys those tests
do not cover. Inputs that can crash the interpreter run in a subprocess.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from sim.api import load_scenario, output_path, prepare
from sim.cli import main
from sim.errors import ScenarioError, SimError
from sim.scenario.load import load_scenario_document
from tests.reliability_record import record

REPO = Path(__file__).resolve().parents[1]
TINY_DIR = REPO / "tests" / "data" / "tiny"
AREA = "hostile input"

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

#: The same bomb built from mappings instead of lists.
MAPPING_BOMB = "".join(
    f"l{n}: &l{n} {{{', '.join(f'k{j}: *l{n - 1}' for j in range(10))}}}\n" for n in range(1, 10)
).replace("*l0", "lol")


def tiny_copy(tmp_path: Path) -> Path:
    target = tmp_path / "tiny"
    shutil.copytree(TINY_DIR, target)
    return target


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    assert len(hits) == 1, hits
    return hits[0]


# ---------------------------------------------------------------- alias bombs


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("bomb", [BILLION_LAUGHS, MAPPING_BOMB], ids=["lists", "mappings"])
def test_alias_bomb_refused_by_the_cli_before_expanding(
    tmp_path: Path, bomb: str, command: str
) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    argv = [command, str(path)] + (["-o", str(out / "x.nc")] if command == "run" else [])
    tracemalloc.start()
    started = time.perf_counter()
    try:
        code, stderr = run_cli(argv)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 2, stderr
    assert f"{path}:" in stderr and "YAML alias expansion refused" in stderr, stderr
    assert "Traceback" not in stderr
    # Refused before expanding: a billion nodes would take minutes and gigabytes.
    assert elapsed < 2.0
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} MiB allocated"
    assert list(out.iterdir()) == []
    shape = "lists" if bomb is BILLION_LAUGHS else "mappings"
    record(AREA, f"alias bomb ({shape}, 10^9 nodes) via sim {command}",
           f"refused in {elapsed:.2f} s, peak {peak / 2**20:.1f} MiB, nothing written")  # fmt: skip


def test_alias_bomb_in_an_extends_base_is_refused(tmp_path: Path) -> None:
    folder = tiny_copy(tmp_path)
    (folder / "base.yaml").write_text(BILLION_LAUGHS, encoding="utf-8")
    variant = folder / "variant.yaml"
    variant.write_text("extends: base.yaml\nmetadata: {name: v}\n", encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(ScenarioError, match="alias expansion refused") as info:
        load_scenario(variant)
    assert time.perf_counter() - started < 2.0
    assert info.value.file == str(folder / "base.yaml")
    assert info.value.line is not None
    record(AREA, "alias bomb in an extends base", "ScenarioError naming the base file and line")


# ---------------------------------------------------------------- deep nesting

BLOCK_LEVELS = 1000


def levels(kind: str, n: int) -> str:
    """The depth of DEEP[kind](n), for the record."""
    return f"{min(n, BLOCK_LEVELS) if kind.startswith('block') else n:,} levels"


DEEP = {
    "flow lists": lambda n: "x: " + "[" * n + "]" * n + "\n",
    "flow mappings": lambda n: "x: " + "{a: " * n + "1" + "}" * n + "\n",
    "unclosed flow lists": lambda n: "x: " + "[" * n + "\n",
    # The text grows with the square of the depth: at most BLOCK_LEVELS levels (500 kB).
    "block mappings, one space deeper a line": lambda n: "".join(
        " " * i + f"k{i}:\n" for i in range(min(n, BLOCK_LEVELS))
    ),
}
#: Deep documents that slipped past the first nesting guard (fixed in sim commit 099673f).
DEEP_BYPASS = {
    "flow lists after a stray double quote in a comment": lambda n: (
        '# a 12" pipe\nx: ' + "[" * n + "]" * n + "\n"
    ),
    "compact block lists on one line (- - - ...)": lambda n: "x:\n" + "- " * n + "1\n",
}


def cli_in_subprocess(
    command: str, path: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``sim <command> path`` in a fresh interpreter: a crash there cannot take the tests down."""
    pythonpath = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    argv = [sys.executable, "-m", "sim.cli", command, str(path)]
    if command == "run":
        argv += ["-o", str(path.parent / "out.nc")]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": pythonpath},
        cwd=path.parent,
    )


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_moderately_deep_nesting_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(DEEP[kind](5000), encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load_scenario_document(path)
    assert time.perf_counter() - started < 5.0
    assert info.value.file == str(path)
    assert "nests deeper than" in info.value.problem
    assert info.value.line is not None
    record(AREA, f"deep nesting, {levels(kind, 5000)}: {kind}", "ScenarioError at its line")


#: Runs ``sim <command>`` on each file in one fresh interpreter and prints the outcomes
#: as JSON: a crash (SIGSEGV) ends the interpreter, so the test sees it as an exit status.
CLI_MANY = r"""
import contextlib, io, json, sys
from sim.cli import main
command, paths = sys.argv[1], sys.argv[2:]
results = {}
for path in paths:
    argv = [command, path] + (["-o", path + ".nc"] if command == "run" else [])
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(argv)
    results[path] = [code, err.getvalue()]
print(json.dumps(results))
"""


def deep_documents(tmp_path: Path, builders: dict[str, Any]) -> dict[str, Path]:
    paths = {}
    for n, (kind, build) in enumerate(sorted(builders.items())):
        paths[kind] = tmp_path / f"deep{n}.yaml"
        paths[kind].write_text(build(100_000), encoding="utf-8")
    return paths


def check_deep(tmp_path: Path, builders: dict[str, Any], command: str) -> None:
    """``sim <command>`` refuses 100,000 levels of nesting with a located error, no crash."""
    paths = deep_documents(tmp_path, builders)
    pythonpath = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", CLI_MANY, command, *map(str, paths.values())],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": pythonpath},
        cwd=tmp_path,
    )
    if result.returncode != 0:
        for kind in paths:
            record(AREA, f"deep nesting, {levels(kind, 100_000)}: {kind}; sim {command}",
                   f"interpreter died, exit status {result.returncode}")  # fmt: skip
    assert result.returncode == 0, f"the interpreter died: exit {result.returncode}"
    outcomes = json.loads(result.stdout)
    for kind, path in paths.items():
        code, stderr = outcomes[str(path)]
        record(AREA, f"deep nesting, {levels(kind, 100_000)}: {kind}; sim {command}",
               f"exit status {code}, located error" if code == 2 else f"exit status {code}")  # fmt: skip
        assert code == 2, f"{kind}: exit {code}: {stderr[-300:]}"
        assert f"{path}:" in stderr and "nests deeper than" in stderr, stderr
        assert "Traceback" not in stderr
        assert not Path(f"{path}.nc").exists()


@pytest.mark.parametrize("command", ["run", "validate"])
def test_very_deep_nesting_does_not_crash(tmp_path: Path, command: str) -> None:
    """Regression: a document nested ~25,000 levels deep (50 kB of '[') overflowed libyaml's
    C recursion and killed `sim run` with SIGSEGV; `sim validate` died of an uncaught
    RecursionError in its sweep-file sniffing (sim/scenario/load.py, _compose; sim/cli.py,
    _is_sweep_file). Fixed in 5a364ee.
    """
    check_deep(tmp_path, DEEP, command)


@pytest.mark.parametrize("command", ["run", "validate"])
def test_deep_nesting_past_the_guard_does_not_crash(tmp_path: Path, command: str) -> None:
    """Regression: the first nesting guard was bypassed by a stray double quote in a comment
    (brackets after it went uncounted) and by compact block lists on one line ('- - - 1'),
    and libyaml crashed again with SIGSEGV (sim/scenario/load.py, _check_depth). Fixed in
    099673f.
    """
    check_deep(tmp_path, DEEP_BYPASS, command)


# ---------------------------------------------------------------- scenario paths that are not files


def test_scenario_path_that_is_a_pipe_does_not_hang(tmp_path: Path) -> None:
    """Regression: a scenario path naming a named pipe blocked `sim run` and `sim validate`
    forever (and /dev/zero read until MemoryError): the scenario file was read without
    checking it is a regular file (sim/scenario/load.py, _read_text). Fixed in 5a364ee.
    """
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    for command in ("run", "validate"):
        result = cli_in_subprocess(command, fifo, timeout=30)
        assert result.returncode == 2, result.stderr
        assert f"{fifo}: " in result.stderr and "not a regular file" in result.stderr
    record(AREA, "scenario path is a named pipe (sim run, sim validate)",
           "ScenarioError: not a regular file (no hang)", 2)  # fmt: skip


def test_extends_pointing_at_a_pipe_or_device_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "base.yaml"
    os.mkfifo(fifo)
    for target in (str(fifo), "/dev/zero"):
        variant = tmp_path / "variant.yaml"
        variant.write_text(f"metadata: {{name: v}}\nextends: '{target}'\n", encoding="utf-8")
        with pytest.raises(ScenarioError) as info:
            load_scenario_document(variant)
        assert info.value.key == "extends"
        assert info.value.line == 2
    record(AREA, "extends names a named pipe or /dev/zero", "ScenarioError at extends", 2)


# ---------------------------------------------------------------- extends cycles


def test_three_file_cycle_reported_with_the_chain(tmp_path: Path) -> None:
    folder = tiny_copy(tmp_path)
    a, b, c = (folder / f"{n}.yaml" for n in "abc")
    a.write_text("extends: b.yaml\nmetadata: {name: a}\n", encoding="utf-8")
    b.write_text("metadata: {name: b}\nextends: c.yaml\n", encoding="utf-8")
    c.write_text("# c\n\nextends: a.yaml\n", encoding="utf-8")
    code, stderr = run_cli(["validate", str(a)])
    assert code == 2
    assert f"extends cycle: {a} -> {b} -> {c} -> {a}" in stderr, stderr
    assert f"{c}:3: " in stderr, stderr  # where the loop closes
    assert "key: extends = 'a.yaml'" in stderr
    record(AREA, "extends cycle of three files", "ScenarioError with the chain and the line")


@pytest.mark.parametrize(
    "spelling", ["./sub/../a.yaml", "link.yaml", "LIST"], ids=["dotdot", "symlink", "list"]
)
def test_cycle_spelled_differently_is_still_a_cycle(tmp_path: Path, spelling: str) -> None:
    (tmp_path / "sub").mkdir()
    a = tmp_path / "a.yaml"
    os.symlink(a, tmp_path / "link.yaml")
    (tmp_path / "ok.yaml").write_text("x: 1\n", encoding="utf-8")
    extends = "[ok.yaml, b.yaml]" if spelling == "LIST" else "b.yaml"
    a.write_text(f"extends: {extends}\n", encoding="utf-8")
    back = "a.yaml" if spelling == "LIST" else spelling
    (tmp_path / "b.yaml").write_text(f"extends: {back}\n", encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(ScenarioError, match="extends cycle") as info:
        load_scenario_document(a)
    assert time.perf_counter() - started < 2.0
    assert info.value.file == str(tmp_path / "b.yaml")
    assert info.value.line == 1
    assert f"{a} -> {tmp_path / 'b.yaml'} -> " in info.value.problem
    record(AREA, f"extends cycle through {spelling if spelling != 'LIST' else 'a list'}",
           "ScenarioError with the chain and the line")  # fmt: skip


def test_diamond_is_not_a_cycle(tmp_path: Path) -> None:
    # top -> left, right -> base: base is reached twice, which is no loop.
    folder = tiny_copy(tmp_path)
    (folder / "left.yaml").write_text("extends: tiny.yaml\ntrade: {closure: additive}\n")
    (folder / "right.yaml").write_text("extends: tiny.yaml\nlabour: {displacement: 0.1}\n")
    top = folder / "top.yaml"
    top.write_text("extends: [left.yaml, right.yaml]\nmetadata: {name: top}\n")
    sc = load_scenario(top)
    assert sc.data["trade"]["closure"] == "additive"
    assert sc.data["labour"]["displacement"] == 0.1
    assert sc.files.count(str(folder / "tiny.yaml")) == 1
    record(AREA, "extends diamond (not a cycle)", "accepted")


# ---------------------------------------------------------------- data outside the folder tree


def test_traversal_out_of_a_subfolder_is_refused(tiny_dir: Path) -> None:
    (tiny_dir / "data").mkdir()
    shutil.copy(tiny_dir / "trade.csv", tiny_dir.parent / "trade.csv")
    scenario = edit(tiny_dir / "tiny.yaml", "{file: trade.csv}", "{file: data/../../trade.csv}")
    with pytest.raises(ScenarioError, match="outside the scenario's folder tree") as info:
        prepare(load_scenario(scenario))
    assert info.value.key == "trade.baseline.file"
    assert info.value.line == line_of(scenario, "../../trade.csv")
    record(AREA, "data file path data/../../x.csv", "ScenarioError at the key and line")


def _mrio_files(where: Path) -> tuple[Path, Path]:
    where.mkdir(parents=True, exist_ok=True)
    z, y = where / "Z.csv", where / "Y.csv"
    z.write_text("x\n", encoding="utf-8")
    y.write_text("x\n", encoding="utf-8")
    return z, y


@pytest.mark.parametrize("key", ["path", "final_demand"])
def test_mrio_csv_files_outside_are_refused(tiny_dir: Path, key: str) -> None:
    outside_z, outside_y = _mrio_files(tiny_dir.parent / "elsewhere")
    inside_z, inside_y = _mrio_files(tiny_dir / "mrio")
    z = outside_z if key == "path" else inside_z
    y = outside_y if key == "final_demand" else inside_y
    scenario = edit(
        tiny_dir / "tiny.yaml",
        "  coefficients: {file: coefficients.csv}\n",
        f"  mrio: {{format: csv, path: '{os.path.relpath(z, tiny_dir)}',\n"
        f"         final_demand: '{os.path.relpath(y, tiny_dir)}'}}\n",
    )
    with pytest.raises(ScenarioError, match="outside the scenario's folder tree") as info:
        prepare(load_scenario(scenario))
    assert info.value.key == f"input_output.mrio.{key}"
    assert info.value.line == line_of(scenario, "mrio: {" if key == "path" else "final_demand:")
    record(AREA, f"input_output.mrio.{key} outside the folder tree", "ScenarioError at the key")


def test_mrio_folder_outside_is_refused_unless_allowed(tiny_dir: Path) -> None:
    outside = tiny_dir.parent / "tables"
    outside.mkdir()
    scenario = edit(
        tiny_dir / "tiny.yaml",
        "  coefficients: {file: coefficients.csv}\n",
        "  mrio: {path: ../tables}\n",
    )
    with pytest.raises(ScenarioError, match="outside the scenario's folder tree") as info:
        prepare(load_scenario(scenario))
    assert info.value.key == "input_output.mrio.path"
    # Allowed with a data root, the folder is then read (and found empty).
    with pytest.raises(ScenarioError) as allowed:
        prepare(load_scenario(scenario, data_roots=[outside]))
    assert "outside the scenario's folder tree" not in str(allowed.value)
    record(AREA, "input_output.mrio.path folder outside the tree", "refused; read with a data root")


def test_dict_scenario_cannot_read_outside_its_base_dir(tiny_path: Path, tmp_path: Path) -> None:
    data = load_scenario_document(tiny_path).data
    data["trade"]["baseline"]["file"] = str(tiny_path.parent / "trade.csv")  # absolute
    base = tmp_path / "work"
    base.mkdir()
    with pytest.raises(ScenarioError, match="outside the scenario's folder tree") as info:
        prepare(load_scenario(data, base_dir=base))
    assert info.value.key == "trade.baseline.file"
    record(AREA, "scenario given as a dict names an absolute path outside base_dir", "refused")


def test_a_base_elsewhere_does_not_open_its_parents(tmp_path: Path) -> None:
    # A variant reads the data its base names next to the base once the base's
    # folder is allowed (--data-root), and that folder does not open the folders above it.
    shared = tmp_path / "shared"
    base_dir = shared / "base"
    shutil.copytree(TINY_DIR, base_dir)
    secret = shared / "secret.csv"
    shutil.copy(base_dir / "trade.csv", secret)
    mine = tmp_path / "mine"
    mine.mkdir()
    variant = mine / "v.yaml"
    variant.write_text("extends: ../shared/base/tiny.yaml\n", encoding="utf-8")
    assert prepare(load_scenario(variant, data_roots=[base_dir])).flows.shape == (3, 3, 2)
    # A notebook passes folders as strings as often as paths; a mistyped one is named.
    assert prepare(load_scenario(variant, data_roots=[str(base_dir)])).flows.shape == (3, 3, 2)
    with pytest.raises(SimError, match=r"the data root .*nowhere is not a folder"):
        load_scenario(variant, data_roots=[tmp_path / "nowhere"])
    variant.write_text(
        "extends: ../shared/base/tiny.yaml\ntrade:\n  baseline: {file: ../shared/secret.csv}\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match="outside the scenario's folder tree") as info:
        prepare(load_scenario(variant, data_roots=[base_dir]))
    assert info.value.file == str(variant)
    assert info.value.line == 3
    record(AREA, "variant reads above its base's folder", "ScenarioError at the key and line")


# ---------------------------------------------------------------- nothing evaluated as code

CODE_TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:os.system ['touch {marker}']",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:pathlib.Path {{}}",
    "!!python/tuple [1, 2]",
    "!!set {{a, b}}",
    "!!omap [a: 1]",
]


@pytest.mark.parametrize("tag", CODE_TAGS)
def test_code_tags_in_an_extends_base_are_refused(tmp_path: Path, tag: str) -> None:
    folder = tiny_copy(tmp_path)
    marker = tmp_path / "pwned"
    base = folder / "tiny.yaml"
    text = base.read_text(encoding="utf-8")
    base.write_text(
        text.replace("  currency: USD\n", f"  currency: {tag.format(marker=marker)}\n"),
        encoding="utf-8",
    )
    variant = folder / "variant.yaml"
    variant.write_text("extends: tiny.yaml\ntrade: {closure: additive}\n", encoding="utf-8")
    code, stderr = run_cli(["validate", str(variant)])
    assert code == 2, stderr
    assert f"{base}:4: unknown YAML tag" in stderr, stderr
    assert "evaluated as code" in stderr
    assert not marker.exists()
    record(AREA, f"tag {tag.split()[0]} in an extends base", "ScenarioError at the line; not run")


@pytest.mark.parametrize(
    "text",
    [
        "? !!python/object/apply:os.system ['touch {marker}']\n: 1\n",
        "x: [1, !!python/object/apply:os.system ['touch {marker}']]\n",
        "x: {{a: !!python/object/apply:os.system ['touch {marker}']}}\n",
        "base: &b !!python/object/apply:os.system ['touch {marker}']\nx: *b\n",
        "base: &b\n  a: !!python/name:os.system ''\nx:\n  <<: *b\n",
    ],
    ids=["key", "flow-list", "flow-mapping", "anchor", "merge-key"],
)
def test_code_tags_anywhere_are_refused(tmp_path: Path, text: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "s.yaml"
    path.write_text(text.format(marker=marker), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario_document(path)
    assert "unknown YAML tag" in info.value.problem or "mapping key" in info.value.problem
    assert info.value.file == str(path)
    assert info.value.line is not None
    assert not marker.exists()
    record(
        AREA, "python tag as a key, in flow lists, anchors, merge keys", "ScenarioError; not run"
    )


@pytest.mark.parametrize(
    "template",
    ["{name.__class__.__mro__}", "$HOME/out.nc", "~/out.nc", "`touch x`.nc", "{0}{name!r}"],
)
def test_output_path_is_not_formatted_or_expanded(tiny_dir: Path, template: str) -> None:
    scenario = edit(
        tiny_dir / "tiny.yaml", "monte_carlo:\n", f"output: {{path: '{template}'}}\nmonte_carlo:\n"
    )
    sc = load_scenario(scenario)
    # Only the literal "{name}" is replaced: no str.format, no shell or user expansion.
    assert str(output_path(sc)) == template.replace("{name}", "tiny")
    record(AREA, f"output.path {template!r}", "used literally")


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("  step: year\n", "  step: __import__('os').system('x')\n", "time.step"),
        (
            "{dist: uniform, low: 0.005",
            "{dist: eval, low: 0.005",
            "trade_costs.cost_per_border_day.dist",
        ),
        ("  seed: 7\n", "  seed: '7; import os'\n", "monte_carlo.seed"),
    ],
    ids=["enum", "dist", "integer"],
)
def test_code_in_values_is_just_a_wrong_value(tiny_dir: Path, old: str, new: str, key: str) -> None:
    scenario = edit(tiny_dir / "tiny.yaml", old, new)
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario)
    assert info.value.key == key
    record(AREA, f"Python code as the value of {key}", "ScenarioError at the key (not run)")

"""Render docs/reliability.md from the reliability tests' own counts.

Usage (from the repository root)::

    python -m tests.make_reliability_doc                 # run the tests, then write the page
    python -m tests.make_reliability_doc --records F.jsonl --junit F.xml   # render only

Running the tests sets ``SIM_RELIABILITY_RECORD`` to a temporary file, into
which the tests append one JSON line per fault or bad input tried
(:mod:`tests.reliability_record`), and asks pytest for a JUnit XML report, from
which the page takes the pass/xfail counts, the time of each test file and the
reason of every strict xfail (the bugs found and not fixed yet). Nothing in the
page is written by hand; edit this script or the tests instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import inspect
import json
import os
import platform
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "docs" / "reliability.md"
TEST_FILES = [
    "tests/test_fuzz_loaders.py",
    "tests/test_fuzz_sweeps.py",
    "tests/test_hostile_input.py",
    "tests/test_invariants.py",
    "tests/test_atomic_write.py",
    "tests/test_output_safety.py",
    "tests/test_refusals.py",
    "tests/test_sweep_dask.py",
    "tests/test_sweep_faults.py",
    "tests/test_sweep_resume.py",
    "tests/test_clear_messages.py",
    "tests/test_unit_mistakes.py",
    "tests/test_new_user_slips.py",
]
#: Areas in the order of the page, with the sentence that introduces each.
AREAS = {
    "bad YAML: mutations of the shipped scenario files": (
        "Every scenario file in `scenarios/` and `tests/data/tiny/tiny.yaml`, mutated one key "
        "at a time at a known line (tests/test_fuzz_loaders.py). Allowed outcomes: a valid run "
        "(2 replicas, horizon cut to 3 years; the tiny scenario through `sim run` and `sim "
        "validate`) or a `ScenarioError` located where an independent oracle (PyYAML's "
        "composer) says the named key was written, naming the mutated key, a parent or child "
        "of it, or a key tied to it by a rule."
    ),
    "bad CSV: mutations of the shipped data tables": (
        "The trade and coefficient tables of the seed and tiny scenarios, broken one row (or "
        "the whole file) at a time in a copy of the scenario folder. Allowed outcomes: a valid "
        "run or a `DataFileError` naming the file and the mutated row (or, for a table-wide "
        "rule, the ids of that row)."
    ),
    "bad MRIO tables: mutations of a pymrio folder and of CSV matrices": (
        "pymrio's test system (6 regions x 8 sectors, aggregated onto a scenario's 3 x 3) as "
        "the folder its `save_all()` writes and as CSV matrices, Z and Y broken one row, cell "
        "or header label (or the whole file) at a time, every kind of fault tried in every "
        "table (tests/test_fuzz_loaders.py). Allowed outcomes: a valid run or a "
        "`DataFileError` naming the file and the mutated line (or, for a row missing from the "
        "grid, naming that row), and `sim run` exiting 2 with the same message."
    ),
    "bad YAML: mutations of the sweep files": (
        "Every sweep file in `sweeps/` and `tests/data/sweep/`, mutated one key at a time, "
        "every kind of mutation tried in every file (tests/test_fuzz_sweeps.py). Allowed "
        "outcomes: a valid plan (`make_plan(read_sweep(...))`) or a `ScenarioError` in the "
        "sweep file at the line where PyYAML's composer says the named key was written, "
        "naming the mutated key, a parent or child of it, or a key tied to it by a rule "
        "(the design and its parameters), and `sim validate` exiting 2 with the same message."
    ),
    "bad YAML: random documents": (
        "Documents written by a test emitter that knows the line of every key (random edits "
        "of the tiny scenario, random mappings of schema words), and random text and bytes. "
        "Errors must be located at the line the emitter wrote the named key on."
    ),
    "hostile input": (
        "Attacks through `sim run`, `sim validate`, `sim.api` and `extends` "
        "(tests/test_hostile_input.py; the loader-level cases are in tests/test_load.py and "
        "tests/test_data.py)."
    ),
    "outputs, writers and command-line arguments": (
        "Outputs every writer must refuse, and command-line values that must be refused "
        "(tests/test_output_safety.py): an output that is one of the command's inputs (the "
        "scenario, a base it extends, a data file, a compared run, the sweep store; by path, "
        "`./` spelling, symlink or hard link), something not of the writer's own kind (a "
        "folder of other files, a sweep store, devices, pipes, sockets), an `output.path` "
        "from a scenario outside its tree and `outputs/`, a read-only folder, data read "
        "through an `extends` base elsewhere or quoted from a file that is not a table, and "
        "out-of-range `--seed`, `--replicas`, `--batch-size`, `--confidence`, `--resamples` "
        "and `--at`. Allowed outcome: a three-part error (what, allowed, fix), exit status 2, "
        "no traceback, and nothing written or replaced."
    ),
    "silently wrong results and crashes": (
        "Inputs that gave wrong numbers without a word, or a traceback "
        "(tests/test_refusals.py): a region id containing the pair-label separator `-`, a CSV "
        "header naming a column twice, a series year written twice in different text forms, "
        "a bad `output.pairs`, control characters in text, an `extends` chain 1,500 files "
        "deep, `sim compare --year` past the horizon, a result whose embedded scenario or "
        "data hashes are damaged (invalid YAML, a code tag, an alias bomb, not JSON), a disk "
        "full while HDF5 closes a file, Ctrl-C during start-up; and a subset `sim rerun` with "
        "rounding noise, a run without projects. Allowed outcomes: a three-part error (what, "
        "allowed, fix), exit status 2, no traceback and nothing written; the clean "
        '"interrupted" message (exit 130); or, for the last two, the command working.'
    ),
    "invariants on random valid scenarios": (
        "Random valid variations of the tiny scenario (growth, elasticities, trade costs, "
        "pipelines, projects, portfolios, policies, closure, numeraire; 3 replicas, 12 to 15 "
        "years or 44 quarters), checked in every replica and period "
        "(tests/test_invariants.py). The count is replica-periods checked."
    ),
    "faults: writer killed with SIGKILL while writing NetCDF": (
        "A forked writer calling `sim.results.write.write_netcdf` on a 4.8 MB dataset (a few "
        "tenths of a second to write), killed with SIGKILL after a random delay, then the "
        "target opened and its contents checked (tests/test_atomic_write.py). The kill moment "
        "is a share of an uninterrupted write's time, measured in the same run. The next "
        "write must remove the temporary files the killed writers left."
    ),
    "faults: temporary files of killed writers": (
        "Temporaries named `.NAME.PID-HOST.RANDOM.tmp` left next to a target by writers that "
        "are dead, alive, on another host or of another target, and a folder moved aside by "
        "a writer killed between its two renames; then the next write "
        "(tests/test_atomic_write.py). A temporary may be removed only when its writer is "
        "known to be dead."
    ),
    "faults: sweep store (workers, clients, disk)": (
        "`sim sweep` on the tiny scenario with a Dask worker or the client killed with "
        "SIGKILL (tests/test_sweep_dask.py), and with the store's disk full, its quota used "
        "up or its filesystem read-only, injected in zarr's chunk writes or the batch "
        "markers' flush, and for real on a small tmpfs mounted in a user namespace where "
        "the kernel allows it (tests/test_sweep_faults.py). Allowed outcomes: the sweep "
        "completes, or stops with a message naming the store, the points and the OS error, "
        "what is kept and how to resume; the batches finished before the fault are kept "
        "and equal to an uninterrupted run's, and the resumed store is byte for byte the "
        "uninterrupted one."
    ),
    "faults: sweep start and resume (clients at once, moved folders, markers, job submission)": (
        "`sim sweep` started twice at once on one new store (two processes 0 to 0.5 s "
        "apart), resumed after its project folder was renamed, resumed and planned with an "
        "empty or torn batch marker, and run with `--slurm` where `sbatch` fails at once (a "
        "fake `sbatch` on PATH) (tests/test_sweep_resume.py). Allowed outcomes: every batch "
        "computed once and the store byte for byte an uninterrupted run's (the second client "
        "refused, or finding every batch done), finished batches kept, an unreadable marker "
        "named in a warning and its batch computed again; a refused submission stops at once "
        "with sbatch's message as a three-part error, exit status 2, no traceback."
    ),
    "clear messages": (
        "Inputs whose refusal used to mislead or lacked a fix, and output a new user reads "
        "(tests/test_clear_messages.py): ids YAML 1.1 reads as booleans (`NO`, `on`, `yes`), a "
        "data file that is a folder or a named pipe, a disk too small (sizes in B to GiB), a "
        "document over the node limit without aliases, output names of the file system's "
        "maximum length, a policy date after the horizon, CSV numbers with thousands "
        "separators or decimal commas, an id in the wrong case, a unitless range, a scenario "
        "dict without `base_dir`, a pymrio table in another money unit, the `sim run` "
        "summary with values up to 1e14, and `-h` of `sim validate` and `sim describe`. "
        "Allowed outcomes: a three-part error (what, allowed, fix) that says what happened, "
        "exit status 2, no traceback and nothing written; a summary within 100 columns; a "
        "description under the usage."
    ),
    "unit mistakes and other silent slips": (
        "Likely unit mistakes in a scenario and a `!delete` that deletes nothing "
        "(tests/test_unit_mistakes.py): a growth rate above 0.5 a year or a tariff rate above "
        "1 (a percent written as a share), projects and portfolios announced after the "
        "horizon, a `time.start` that is not the first day of its year or quarter, report "
        "years and calibration targets outside the simulated years, and a `!delete` naming a "
        "key the base does not have. Allowed outcomes: a warning located like an error (file, "
        "line, key, value, what was assumed, the fix) and the command going on; or, for years "
        "outside the horizon and the `!delete`, a three-part error (what, allowed, fix), exit "
        "status 2, no traceback."
    ),
    "documentation snippets, charts and Ctrl-C": (
        "What a new user meets beyond the scenario (tests/test_new_user_slips.py): every "
        "```python block of README.md and docs/*.md run against small outputs of the "
        "documents' commands, the text of the sensitivity charts (long titles and units), "
        "Morris points on top of each other, the guide to a one-node SLURM cluster, and "
        "SIGINT during `sim sweep` on a local Dask cluster. Allowed outcomes: the snippet "
        "runs; all text inside the canvas and every point and label visible; the guide "
        'holding the fixture\'s settings; the clean "interrupted" message, exit status 130, '
        "no traceback."
    ),
}


@dataclass
class TestFile:
    tests: int = 0
    passed: int = 0
    xfailed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    bugs: list[tuple[str, str]] = field(default_factory=list)
    skips: list[tuple[str, str]] = field(default_factory=list)


def run_tests(records: Path, junit: Path) -> int:
    env = {**os.environ, "SIM_RELIABILITY_RECORD": str(records)}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TEST_FILES]
    argv += [f"--junitxml={junit}", "-o", "junit_family=xunit1"]
    return subprocess.run(argv, cwd=REPO, env=env, check=False).returncode


def read_junit(path: Path) -> dict[str, TestFile]:
    files: dict[str, TestFile] = defaultdict(TestFile)
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("file") or case.get("classname", "").replace(".", "/") + ".py"
        entry = files[name]
        entry.tests += 1
        entry.seconds += float(case.get("time", 0.0))
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            entry.failed += 1
        elif skipped is not None and skipped.get("type") == "pytest.xfail":
            entry.xfailed += 1
            entry.bugs.append((case.get("name", ""), skipped.get("message", "")))
        elif skipped is not None:
            entry.skipped += 1
            entry.skips.append((case.get("name", ""), skipped.get("message", "")))
        else:
            entry.passed += 1
    return dict(files)


def regression_tests() -> list[tuple[str, str]]:
    """(test, bug) for every test whose docstring starts with "Regression:"."""
    found = []
    for name in TEST_FILES:
        module = importlib.import_module(name.removesuffix(".py").replace("/", "."))
        for attr, obj in vars(module).items():
            doc = inspect.getdoc(obj) if attr.startswith("test_") else None
            if doc and doc.startswith("Regression:"):
                text = " ".join(doc.removeprefix("Regression:").split())
                found.append((f"{name}::{attr}", text))
    return found


def read_records(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def outcome_text(outcomes: Counter[str]) -> str:
    parts = [f"{n} × {o}" for o, n in sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "; ".join(cell(p) for p in parts)


def git_state() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
            check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"commit {head}" + (" with uncommitted changes" if dirty else "")


def render(
    records: list[dict[str, object]],
    files: dict[str, TestFile],
    fixed: list[tuple[str, str]],
) -> str:
    lines = [
        "# Reliability record",
        "",
        "Every fault and bad input the reliability tests try, how many times, and what happened.",
        "Generated by `python -m tests.make_reliability_doc` from the tests' own counts "
        f"({dt.date.today().isoformat()}, {git_state()}, Python {platform.python_version()}); "
        "do not edit by hand. The hypothesis tests are derandomized, so the counts repeat from "
        "run to run; times and kill moments do not.",
        "",
        "A bug the tests find is reproduced by a strict xfail test until it is fixed (listed "
        "under *Open bugs*; inputs that hit it are recorded as KNOWN BUG and the fuzzing goes "
        "on), then kept as a regression test (*Bugs these tests found, now fixed*).",
        "",
        "## Test files",
        "",
        "| test file | tests | passed | xfail (open bugs) | skipped | failed | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in sorted(files):
        f = files[name]
        lines.append(
            f"| `{name}` | {f.tests} | {f.passed} | {f.xfailed} | {f.skipped} | {f.failed} | "
            f"{f.seconds:.1f} |"
        )
    skips = [(test, reason) for _, f in sorted(files.items()) for test, reason in f.skips]
    if skips:
        lines += ["", "Skipped in this run (what they need is missing here):", ""]
        lines += [f"- `{test}`: {cell(reason)}" for test, reason in skips]
    bugs = [(name, test, reason) for name, f in sorted(files.items()) for test, reason in f.bugs]
    lines += ["", "## Open bugs", ""]
    if bugs:
        lines += ["| test | bug |", "|---|---|"]
        lines += [f"| `{test}` | {cell(reason)} |" for _, test, reason in bugs]
    else:
        lines.append("None: no strict xfail is left in the reliability tests.")
    if fixed:
        lines += [
            "",
            "## Bugs these tests found, now fixed",
            "",
            "Each stays as a regression test (its docstring is the text below).",
            "",
            "| regression test | bug |",
            "|---|---|",
        ]
        lines += [f"| `{test.split('::')[1]}` | {cell(bug)} |" for test, bug in fixed]

    by_area: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    by_subject: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for rec in records:
        area, case, outcome = str(rec["area"]), str(rec["case"]), str(rec["outcome"])
        count = int(str(rec.get("count", 1)))
        by_area[area][case][outcome] += count
        if rec.get("subject"):
            by_subject[area][str(rec["subject"])][_short(outcome)] += count
    for area in [*AREAS, *sorted(set(by_area) - set(AREAS))]:
        cases = by_area.get(area)
        if not cases:
            continue
        total = sum(sum(c.values()) for c in cases.values())
        lines += ["", f"## {area[0].upper()}{area[1:]}", ""]
        if area in AREAS:
            lines += [AREAS[area], ""]
        lines += [f"{total} tries in all.", ""]
        lines += ["| fault or bad input | tried | what happened |", "|---|---:|---|"]
        for case in sorted(cases):
            outcomes = cases[case]
            lines.append(f"| {cell(case)} | {sum(outcomes.values())} | {outcome_text(outcomes)} |")
        if area in by_subject:
            lines += ["", "By file:", "", "| file | tried | outcomes |", "|---|---:|---|"]
            for subject, outcomes in sorted(by_subject[area].items()):
                lines.append(
                    f"| `{subject}` | {sum(outcomes.values())} | {outcome_text(outcomes)} |"
                )
    return "\n".join(lines) + "\n"


def _short(outcome: str) -> str:
    """Outcomes folded into a few kinds for the by-file tables."""
    if outcome.startswith("KNOWN BUG"):
        return "known bug"
    if outcome.startswith("valid"):
        return "valid plan" if outcome.startswith("valid plan") else "valid run"
    return "located error"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=Path, help="render from this JSON lines file")
    parser.add_argument("--junit", type=Path, help="pytest JUnit XML of the same run")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        records, junit = args.records, args.junit
        if records is None:
            records, junit = Path(tmp) / "records.jsonl", Path(tmp) / "junit.xml"
            status = run_tests(records, junit)
        files = read_junit(junit) if junit is not None and junit.exists() else {}
        text = render(read_records(records), files, regression_tests())
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({'tests failed' if status else 'tests passed'})")
    return status


if __name__ == "__main__":
    raise SystemExit(main())

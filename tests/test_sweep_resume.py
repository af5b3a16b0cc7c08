"""Starting and resuming a sweep when something around its store goes wrong.

Two clients started together on one new store, a project folder renamed
between a kill and the resume, a batch marker left empty or cut short, and a
SLURM that refuses the worker jobs. Each case must end with a store equal to
an uninterrupted run's (or an untouched one) and, where the right answer is a
refusal, the usual three-part message, exit status 2 and no traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sim.sweep.execute
from sim.cli import main
from sim.sweep.runner import Job, run_batch
from tests.reliability_record import record
from tests.test_sweep_support import (
    REPO,
    SWEEPS,
    TINY,
    assert_same_store,
    markers,
    run_sweep_cli,
    store_files,
    sweep_env,
)

LHS = SWEEPS / "tiny_lhs.yaml"  # 12 points in 4 batches of 3, 6 replicas
BATCHES = 4
AREA = "faults: sweep start and resume (clients at once, moved folders, markers, job submission)"
COMPUTED = re.compile(r"^  ([0-9]+) of ([0-9]+) batches computed", re.MULTILINE)


def without_warnings(stderr: str) -> str:
    """stderr less the scenario's logged warnings (the toy tables' wages, for one)."""
    return "".join(
        line for line in stderr.splitlines(keepends=True) if not line.startswith("WARNING ")
    )


def sweep(*args: str) -> int:
    return main(["sweep", *args, "--no-progress"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LHS sweep run in-process, uninterrupted."""
    out = tmp_path_factory.mktemp("lhs") / "reference.zarr"
    assert sweep(str(LHS), "-o", str(out)) == 0
    return out


# One client of the race: it imports everything first, then, for each attempt, waits
# until the other client is ready too, sleeps its offset and runs `sim sweep` into
# that attempt's store, recording the exit status and what it printed.
RACER = r"""
import contextlib, io, json, sys, time, traceback
from pathlib import Path

import sim.sweep.run  # noqa: F401 - imported before the start, as in a started client
from sim.cli import main

name, folder, sweep_file = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
offsets = json.loads(sys.argv[4])
for attempt, offset in enumerate(offsets):
    (folder / f"ready-{attempt}-{name}").touch()
    deadline = time.monotonic() + 60
    while len(list(folder.glob(f"ready-{attempt}-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(offset if name == "b" else 0.0)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["sweep", sweep_file, "-o", str(folder / f"race{attempt}.zarr"),
                         "--no-progress"])
        except BaseException:
            code = -1
            traceback.print_exc()
    result = {"code": code, "out": out.getvalue(), "err": err.getvalue()}
    (folder / f"result-{attempt}-{name}.json").write_text(json.dumps(result))
"""


def start_racer(
    name: str, folder: Path, sweep_file: Path, offsets: list[float]
) -> subprocess.Popen[str]:
    argv = [sys.executable, "-c", RACER, name, str(folder), str(sweep_file), json.dumps(offsets)]
    return subprocess.Popen(
        argv, cwd=REPO, env=sweep_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def test_two_clients_started_together_never_both_fill_a_new_store(tmp_path: Path) -> None:
    """Regression: two `sim sweep` processes started together (0-0.5 s apart) on one new
    store both ran the whole sweep, and once the final store held NaN for a point although
    both exited 0: the store was created before its lock was taken, so the second client's
    store replaced the first one's (moved aside and deleted while the first was writing)
    and each client held the lock of a different store (sim/sweep/store.py, locked_store).
    """
    body = (
        f"scenario: {TINY}\ndesign: {{kind: lhs, samples: 6, seed: 5}}\n"
        "parameters:\n  - {key: trade.elasticity.services, range: [3.0, 6.0]}\n"
        "replicas: 3\nbatch: {points: 2}\n"
    )
    sweep_file = tmp_path / "race.yaml"
    sweep_file.write_text(body, encoding="utf-8")
    reference = tmp_path / "reference.zarr"
    assert sweep(str(sweep_file), "-o", str(reference)) == 0
    offsets = [0.0, 0.0, 0.0, 0.1, 0.25, 0.5]
    folder = tmp_path / "race"
    folder.mkdir()
    clients = [start_racer(name, folder, sweep_file, offsets) for name in ("a", "b")]
    for proc in clients:
        _, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, stderr
    for attempt, offset in enumerate(offsets):
        results = [
            json.loads((folder / f"result-{attempt}-{name}.json").read_text()) for name in "ab"
        ]
        computed = 0
        second = "the other client found every batch done (exit 0)"
        for result in results:
            text = result["out"] + result["err"]
            assert "Traceback" not in text, text
            if result["code"] == 2:
                # The second client found the store locked from the moment it existed.
                second = "the other client refused (exit 2, three-part message)"
                assert without_warnings(result["err"]).startswith(
                    "error: another `sim sweep` is filling "
                ), text
                assert "\n  allowed: one `sim sweep` client per store at a time" in text
                assert "\n  fix: wait for it to finish" in text
                continue
            assert result["code"] == 0, text
            found = COMPUTED.search(result["out"])
            assert found and found[2] == "3", text
            computed += int(found[1])
        # Every batch computed once, by one client (the other, if it came after the first
        # had finished, found every batch done); the store is an uninterrupted run's.
        assert computed == 3, (attempt, results)
        assert_same_store(folder / f"race{attempt}.zarr", reference)
        record(
            AREA,
            f"two sim sweep processes started together ({offset} s apart) on one new store",
            f"each batch computed once, by one client; {second}; store identical to an "
            "uninterrupted run",
        )


def interrupt_at(batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stop an in-process sweep with Ctrl-C when it reaches ``batch``."""

    def run(job: Job, index: int) -> object:
        if index == batch:
            raise KeyboardInterrupt
        return run_batch(job, index)

    monkeypatch.setattr(sim.sweep.execute, "run_batch", run)


def test_renamed_project_folder_keeps_its_finished_batches(
    tmp_path: Path,
    reference: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Regression: renaming the project folder between a kill and the resume orphaned every
    finished batch: the plan's identity hashed the data files' absolute paths, so the resume
    was refused as "another sweep's results" and only --overwrite (recompute all) went on.
    Data are now identified by content and by path relative to the scenario's folder
    (sim/sweep/plan.py, data_identity).
    """
    before = tmp_path / "project"
    shutil.copytree(TINY.parent, before / "tiny")
    shutil.copytree(SWEEPS, before / "sweep")
    interrupt_at(2, monkeypatch)
    store = before / "outputs" / "lhs.zarr"
    assert sweep(str(before / "sweep" / "tiny_lhs.yaml"), "-o", str(store)) == 130
    monkeypatch.undo()
    capsys.readouterr()
    assert sorted(markers(store)) == ["000000.json", "000001.json"]

    after = tmp_path / "renamed project"
    before.rename(after)
    store = after / "outputs" / "lhs.zarr"
    kept = markers(store)
    assert sweep(str(after / "sweep" / "tiny_lhs.yaml"), "-o", str(store)) == 0
    out, err = capsys.readouterr()
    assert "2 of 4 batches computed in this process" in out and "2 were already done" in out, err
    assert {k: v for k, v in markers(store).items() if k in kept} == kept
    # Every value, chunk and array is the uninterrupted run's; only the store's own
    # attributes differ, which record where the sweep file and data were when it began.
    got, want = store_files(store), store_files(reference)
    assert sorted(got) == sorted(want)
    differ = sorted(k for k in got if got[k] != want[k])
    assert differ == [".zattrs", ".zmetadata"], differ
    record(
        AREA,
        "project folder (scenario, data, sweep file, store) renamed after 2 of 4 batches, "
        "then the same sweep run from the new place",
        "resumed (exit 0): the 2 finished batches kept, the other 2 computed; values "
        "identical to an uninterrupted run",
    )


@pytest.mark.parametrize("damage", ["empty", "torn"])
def test_unreadable_batch_marker_counts_as_unfinished(
    tmp_path: Path,
    reference: Path,
    damage: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Regression: an empty or torn batch marker (STORE/.sweep/done/NNNNNN.json) stopped the
    resume and `sim sweep --plan` with a JSONDecodeError traceback that did not name the
    file. It now counts as an unfinished batch, computed again, and a warning names the file
    (sim/sweep/store.py, read_marker).
    """
    store = tmp_path / "lhs.zarr"
    shutil.copytree(reference, store)
    marker = store / ".sweep" / "done" / "000001.json"
    text = marker.read_text(encoding="utf-8")
    marker.write_text("" if damage == "empty" else text[: len(text) // 2], encoding="utf-8")

    plan = run_sweep_cli(str(LHS), "-o", str(store), "--plan")
    assert plan.returncode == 0, plan.stderr
    assert "Traceback" not in plan.stderr
    assert re.search(
        rf"^WARNING sim\.sweep\.store: the batch marker {re.escape(str(marker))} (is empty|is "
        r"not a complete batch report \(JSONDecodeError: .*\)): batch 1 counts as "
        r"unfinished, and running the sweep computes it again$",
        plan.stderr,
        re.MULTILINE,
    ), plan.stderr
    assert "(3 of 4 batches already done)" in plan.stdout, plan.stdout

    kept = {k: v for k, v in markers(store).items() if k != marker.name}
    assert sweep(str(LHS), "-o", str(store)) == 0
    out = capsys.readouterr().out
    assert "1 of 4 batches computed in this process" in out and "3 were already done" in out
    assert any(str(marker) in r.getMessage() for r in caplog.records), caplog.text
    assert {k: v for k, v in markers(store).items() if k in kept} == kept
    assert_same_store(store, reference)  # the marker rewritten whole, the same bytes
    record(
        AREA,
        f"{damage} batch marker (1 of 4), then sim sweep --plan and sim sweep",
        "a warning names the marker; --plan counts 3 of 4 batches done; the resume computes "
        "the batch again (exit 0); store identical to an uninterrupted run",
    )


def test_refused_sbatch_stops_at_once_with_its_message(tmp_path: Path) -> None:
    """Regression: `sim sweep --slurm` where sbatch fails at once (no SLURM configuration)
    showed the failure only inside a tornado "Exception in callback" traceback, then waited
    the whole start timeout (600 s) for workers never submitted. The jobs are now submitted
    in the foreground and a refusal stops the sweep with sbatch's message
    (sim/sweep/execute.py, submit_jobs).
    """
    pytest.importorskip("dask_jobqueue")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "sbatch"
    fake.write_text(
        "#!/bin/sh\n"
        'echo \'sbatch: error: s_p_parse_file: unable to read "/etc/slurm/slurm.conf": '
        "No such file or directory' >&2\n"
        "echo 'sbatch: fatal: Unable to process configuration file' >&2\n"
        "exit 1\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    out = tmp_path / "slurm.zarr"
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    started = time.monotonic()
    result = run_sweep_cli(
        str(LHS), "-o", str(out), "--slurm", "--jobs", "2", "--scheduler-host", "127.0.0.1",
        "--no-progress", timeout=90, PATH=path,
    )  # fmt: skip
    seconds = time.monotonic() - started
    err = without_warnings(result.stderr)
    assert result.returncode == 2, err
    assert "Traceback" not in err and "Exception in callback" not in err, err
    assert err.startswith(
        "error: could not submit the SLURM worker jobs: `sbatch` exited with status 1:\n"
        '    sbatch: error: s_p_parse_file: unable to read "/etc/slurm/slurm.conf": No such '
        "file or directory\n"
        "    sbatch: fatal: Unable to process configuration file\n"
        "  allowed: --slurm where `sbatch` can submit jobs"
    ), err
    assert "\n  fix: check that `sinfo` lists the partition" in err
    assert seconds < 60, seconds  # not the 600 s start timeout
    assert markers(out) == {}
    record(
        AREA,
        "sim sweep --slurm with an sbatch that fails at once (fake sbatch on PATH, exit 1)",
        "exit status 2 within seconds (not the 600 s start timeout) with sbatch's message, "
        "what --slurm needs and how to fix it; no traceback; nothing computed",
    )

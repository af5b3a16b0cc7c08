"""Sweeps on a real local Dask cluster of 2 worker processes, with workers and clients killed.

Each test runs ``sim sweep --workers 2`` as a separate process, kills a worker
or the client itself with SIGKILL mid-sweep, and checks that the finished
store is byte for byte the store of an uninterrupted in-process run, and that
no batch finished before the kill was computed again.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from sim.cli import main
from tests.reliability_record import record
from tests.test_sweep_support import (
    GRID,
    SWEEPS,
    assert_same_store,
    markers,
    run_sweep_cli,
    start_sweep,
    wait_for_markers,
    wait_session_gone,
)

BATCHES = 12  # tiny_grid.yaml: 24 points, 2 per task
AREA = "faults: sweep store (workers, clients, disk)"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The grid sweep run in-process, uninterrupted."""
    out = tmp_path_factory.mktemp("grid") / "reference.zarr"
    assert main(["sweep", str(GRID), "-o", str(out), "--no-progress"]) == 0
    return out


def dask_workers(client_pid: int) -> list[psutil.Process]:
    """The worker processes a local cluster spawned (multiprocessing's spawn entry point)."""
    children = psutil.Process(client_pid).children(recursive=True)
    return [p for p in children if "spawn_main" in " ".join(p.cmdline())]


def test_worker_killed_mid_sweep_loses_and_repeats_nothing(tmp_path: Path, reference: Path) -> None:
    out = tmp_path / "grid.zarr"
    proc = start_sweep(str(GRID), "-o", str(out), "--workers", "2", "--no-progress")
    try:
        wait_for_markers(out, 2, proc, timeout=90)
        workers = dask_workers(proc.pid)
        assert len(workers) == 2
        victim = workers[0]
        os.kill(victim.pid, signal.SIGKILL)
        done_at_kill = markers(out)
        assert len(done_at_kill) < BATCHES, "the sweep finished before the worker was killed"
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert f"{BATCHES} of {BATCHES} batches computed on a local Dask cluster" in stdout
    assert "no point failed" in stdout
    assert not victim.is_running() or victim.status() == psutil.STATUS_ZOMBIE
    # Batches finished before the kill were not written again ...
    assert {k: v for k, v in markers(out).items() if k in done_at_kill} == done_at_kill
    # ... and every value is where an uninterrupted run puts it, to the byte.
    assert len(markers(out)) == BATCHES
    assert_same_store(out, reference)
    record(
        AREA,
        "Dask worker killed with SIGKILL mid-sweep (local cluster of 2 workers)",
        "sweep completed (exit 0); batches finished before the kill not written again; store "
        "identical to an uninterrupted run",
    )


def test_client_killed_then_resumed_computes_only_what_is_missing(
    tmp_path: Path, reference: Path
) -> None:
    out = tmp_path / "grid.zarr"
    args = (str(GRID), "-o", str(out), "--workers", "2", "--no-progress")
    proc = start_sweep(*args)
    try:
        wait_for_markers(out, 3, proc, timeout=90)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        # The workers notice their client is gone and exit; none keeps writing.
        wait_session_gone(proc.pid)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    done_before = markers(out)
    assert 3 <= len(done_before) < BATCHES
    assert not (out / ".zmetadata").exists()

    result = run_sweep_cli(*args)
    assert result.returncode == 0, result.stderr
    missing = BATCHES - len(done_before)
    assert f"{missing} of {BATCHES} batches computed" in result.stdout
    assert f"{len(done_before)} were already done" in result.stdout
    assert {k: v for k, v in markers(out).items() if k in done_before} == done_before
    assert_same_store(out, reference)
    record(
        AREA,
        "sim sweep client killed with SIGKILL mid-sweep, then the same command run again",
        "workers exited with the client; the rerun computed only the missing batches (exit 0); "
        "store identical to an uninterrupted run",
    )


def test_running_scheduler_given_by_address(tmp_path: Path) -> None:
    from distributed import LocalCluster

    sweep = str(SWEEPS / "tiny_lhs.yaml")
    reference, out = tmp_path / "reference.zarr", tmp_path / "remote.zarr"
    assert main(["sweep", sweep, "-o", str(reference), "--no-progress"]) == 0
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=1, threads_per_worker=1, dashboard_address=None
    )
    with cluster:
        address = cluster.scheduler_address
        assert main(["sweep", sweep, "-o", str(out), "--scheduler", address, "--no-progress"]) == 0
        # The cluster outlives the client: the sweep ran on it and left it running.
        assert cluster.scheduler_info["workers"]
    assert_same_store(out, reference)

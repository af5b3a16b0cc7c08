"""A sweep whose store cannot be written: a full disk, a used-up quota, a read-only filesystem.

The faults are injected where the bytes leave the process -- zarr's
``LocalStore`` writes every chunk through ``zarr.storage._local._put``, and a
batch marker is flushed with ``os.fsync`` before it is renamed into place --
and, where the kernel lets an unprivileged user mount one, caused for real by
a tmpfs too small for the sweep (``unshare -rm``; skipped with the reason
elsewhere).

Every case must end the same way: the sweep stops with a
:class:`~sim.errors.SimError` (``sim sweep`` prints it without a traceback and
exits 2) that says what failed (the store, the points, the OS error), what is
kept (the finished points, readable now) and how to go on; the store holds the
batches finished before the fault, equal to an uninterrupted run's, and a
batch whose write failed half-way is not counted as finished; running the same
sweep again resumes and leaves a store byte for byte equal to an uninterrupted
run's.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr.storage._local as zarr_local
from zarr.core.buffer import Buffer

from sim.cli import main
from sim.errors import SimError
from sim.sweep import Backend, make_plan, read_sweep, run_sweep
from tests.reliability_record import record
from tests.test_sweep_support import REPO, SWEEPS, assert_same_store, markers, sweep_env

LHS = SWEEPS / "tiny_lhs.yaml"  # 12 points in 4 batches of 3, 6 replicas
POINTS, BATCHES, PER_BATCH = 12, 4, 3
AREA = "faults: sweep store (workers, clients, disk)"
#: zarr's own writer, kept before any test patches it.
REAL_PUT = zarr_local._put
CHUNK_NAME = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def sweep(*args: str) -> int:
    return main(["sweep", *args, "--no-progress"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LHS sweep run in-process, uninterrupted."""
    out = tmp_path_factory.mktemp("lhs") / "reference.zarr"
    assert sweep(str(LHS), "-o", str(out)) == 0
    return out


def chunk_batch(store: Path, path: Path) -> int | None:
    """The batch a chunk file of ``store`` belongs to (its index along ``point``), else None."""
    if not path.is_relative_to(store):
        return None
    rel = path.relative_to(store)
    if len(rel.parts) != 2 or not CHUNK_NAME.match(rel.name):
        return None
    return int(rel.name.split(".")[0])


class DiskFull:
    """zarr's file writer, full from the ``allow``-th chunk of batch ``batch`` on.

    Like a real full disk, once a write has failed every later write into
    the store fails too. zarr writes the chunks of a region from several
    threads, hence the lock.
    """

    def __init__(self, store: Path, batch: int, allow: int, code: int) -> None:
        self.store, self.batch, self.allow, self.code = store, batch, allow, code
        self.written = 0
        self.failed = 0
        self.lock = threading.Lock()

    def __call__(self, path: Path, value: Buffer, exclusive: bool = False) -> int:
        index = chunk_batch(self.store, Path(path))
        with self.lock:
            full = self.failed > 0 or (
                index is not None and index >= self.batch and self.written >= self.allow
            )
            if full and Path(path).is_relative_to(self.store):
                self.failed += 1
                raise OSError(self.code, os.strerror(self.code), str(path))
            if index is not None and index >= self.batch:
                self.written += 1
        return REAL_PUT(path, value, exclusive)


def open_unfinished(store: Path) -> xr.Dataset:
    """An unfinished store, as the error message says to open it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not recognized as a component of a Zarr")
        return xr.open_zarr(store, consolidated=False)


def assert_finished_points_equal(store: Path, reference: Path, batches: list[int]) -> None:
    """The points of ``batches`` hold what an uninterrupted run holds, in every variable."""
    got, want = open_unfinished(store), xr.open_zarr(reference)
    assert dict(got.sizes) == dict(want.sizes)
    assert got.point.values.tolist() == list(range(POINTS))
    for batch in batches:
        done = slice(batch * PER_BATCH, (batch + 1) * PER_BATCH)
        for name in want.data_vars:
            np.testing.assert_array_equal(
                got[name].isel(point=done).values, want[name].isel(point=done).values,
                err_msg=f"{name}, batch {batch}",
            )  # fmt: skip


def assert_never_written(store: Path, batch: int) -> None:
    """Points no write reached read as the fill value, as the error message says."""
    points = slice(batch * PER_BATCH, (batch + 1) * PER_BATCH)
    ds = open_unfinished(store)
    assert np.isnan(ds.trade.isel(point=points).values).all()
    assert (ds.project_stage.isel(point=points).values == 0).all()


def no_leftovers(store: Path) -> None:
    """Neither zarr's ``.partial`` files nor our marker temporaries stay behind."""
    assert not list(store.rglob("*.partial"))
    assert not list((store / ".sweep" / "done").glob(".*"))


def test_full_disk_stops_the_sweep_keeps_finished_points_and_resumes(
    tmp_path: Path,
    reference: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "full.zarr"
    # Batches 0 and 1 fit; batch 2 gets 5 of its chunk files written, then the disk is full.
    fault = DiskFull(out, batch=2, allow=5, code=errno.ENOSPC)
    monkeypatch.setattr(zarr_local, "_put", fault)
    code = sweep(str(LHS), "-o", str(out))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert fault.failed >= 1
    # What is wrong: the store, the points, the OS error.
    assert err.startswith(
        f"error: could not write points 6-8 (batch 2) into the sweep store {out}: the "
        f"filesystem is full: [Errno 28] No space left on device: '{out}/"
    ), err
    # What is kept.
    assert "kept: 6 of 12 points were finished when the write failed" in err
    assert f"readable now with xarray.open_zarr('{out}', consolidated=False)" in err
    # How to go on.
    assert "fix: free space on that filesystem (or raise the quota), or move the store" in err
    assert "run the same `sim sweep` command again: it resumes with the 6 unfinished points" in err

    # Batch 2 was written in part, and has no marker: it does not count as finished.
    assert sorted(markers(out)) == ["000000.json", "000001.json"]
    written = [p for p in out.glob("*/2*") if chunk_batch(out, p) == 2]
    assert len(written) == 5, written
    no_leftovers(out)
    assert not (out / ".zmetadata").exists()
    assert_finished_points_equal(out, reference, [0, 1])
    assert_never_written(out, 3)

    monkeypatch.undo()  # room on the disk again
    kept = markers(out)
    assert sweep(str(LHS), "-o", str(out)) == 0
    printed = capsys.readouterr().out
    assert "2 of 4 batches computed in this process" in printed, printed
    assert "2 were already done" in printed
    # The finished batches were not written again; the store is the uninterrupted one.
    assert {k: v for k, v in markers(out).items() if k in kept} == kept
    assert len(markers(out)) == BATCHES
    assert_same_store(out, reference)
    record(
        AREA,
        "disk full (ENOSPC injected in zarr's chunk writes, half-way through batch 2 of 4) "
        "via sim sweep",
        "exit status 2, message with store, points, OS error, what is kept and how to resume; "
        "6 of 12 points kept, equal to an uninterrupted run; resumed store identical to it",
    )


@pytest.mark.parametrize(
    "code", [getattr(errno, "EDQUOT", errno.ENOSPC), errno.EROFS], ids=["quota", "read-only"]
)
def test_failed_marker_write_leaves_the_batch_unfinished(
    tmp_path: Path, reference: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    out = tmp_path / "marker.zarr"
    plan = make_plan(read_sweep(LHS))
    done = out / ".sweep" / "done"
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        # Only the flush of batch 1's marker, before its rename, fails.
        inode = os.fstat(fd).st_ino
        if any(p.stat().st_ino == inode for p in done.glob(".000001.json.*.tmp")):
            raise OSError(code, os.strerror(code))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(SimError) as info:
        run_sweep(plan, out, Backend(), progress=False)
    err = info.value
    assert type(err) is SimError
    assert isinstance(err.__cause__, OSError) and err.__cause__.errno == code
    text = str(err)
    head = f"could not write points 3-5 (batch 1) into the sweep store {out}: "
    assert text.startswith(head), text
    if code == errno.EROFS:
        assert text.startswith(head + "[Errno 30] Read-only file system"), text
        assert "full" not in text and "quota" not in text
        assert f"fix: make {out} writable" in text
    else:
        assert text.startswith(head + "the disk quota is used up: [Errno"), text
        assert "fix: free space on that filesystem (or raise the quota)" in text
    assert "kept: 3 of 12 points were finished" in text
    assert "it resumes with the 9 unfinished points" in text
    # Batch 1's values were all written, but without a marker the batch is not finished.
    assert sorted(markers(out)) == ["000000.json"]
    assert (out / "trade" / "1.0.0.0.0.0").is_file()
    no_leftovers(out)
    assert_finished_points_equal(out, reference, [0])
    assert_never_written(out, 3)

    monkeypatch.undo()
    outcome = run_sweep(plan, out, Backend(), progress=False)
    assert (outcome.already_done, outcome.computed, outcome.complete) == (1, 3, True)
    assert_same_store(out, reference)
    name = "quota used up (EDQUOT)" if code != errno.EROFS else "read-only filesystem (EROFS)"
    record(
        AREA,
        f"{name} while flushing a batch marker (injected in os.fsync), via sim.sweep.run_sweep",
        "SimError with the OS error, what is kept and how to resume; the batch without its "
        "marker computed again on resume; resumed store identical to an uninterrupted run",
    )


def page_rounded(path: Path) -> int:
    """Bytes a file takes on tmpfs: whole pages."""
    page = os.sysconf("SC_PAGE_SIZE")
    return -(-path.stat().st_size // page) * page


def tmpfs_bytes(store: Path, batches: float) -> int:
    """tmpfs space of ``store`` holding its first ``batches`` batches (a fraction: part of one).

    Counts the template (metadata and coordinates), the chunk files and markers
    of whole batches, and that share of the next batch's chunk files; not the
    consolidated metadata, written only when every batch is done.
    """
    whole = int(batches)
    total = 0
    partial: list[int] = []
    for path in store.rglob("*"):
        if not path.is_file() or path.name == ".zmetadata":
            continue
        index = chunk_batch(store, path)
        if path.parent.name == "done":
            index = int(path.stem)
        if index is None or index < whole:
            total += page_rounded(path)
        elif index == whole:
            partial.append(page_rounded(path))
    return total + int(sum(partial) * (batches - whole))


def test_real_full_filesystem_via_dask_then_resumed(tmp_path: Path, reference: Path) -> None:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        pytest.skip("needs Linux and unshare (util-linux) to mount a small tmpfs without root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    probe = subprocess.run(
        ["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(
            "needs unprivileged user and mount namespaces to mount a small tmpfs "
            f"(unshare -rm mount: {probe.stderr.strip() or probe.returncode})"
        )
    # Room for the template, batches 0 and 1 and half of batch 2's chunks.
    size = tmpfs_bytes(reference, 2.5)
    store, work = mnt / "lhs.zarr", tmp_path
    sim = f"{sys.executable} -m sim.cli sweep {LHS} -o {store} --no-progress"
    # Inside the namespace: fill the small tmpfs on a local Dask cluster, keep a copy of
    # what the fault left, make room (tmpfs grows on remount), resume in-process.
    script = f"""
set -u
mount -t tmpfs -o size={size} tmpfs {mnt}
{sim} --workers 2 > {work}/out1 2> {work}/err1; echo $? > {work}/rc1
cp -a {store} {work}/after_fault.zarr
mount -o remount,size=64m {mnt}
{sim} > {work}/out2 2> {work}/err2; echo $? > {work}/rc2
cp -a {store} {work}/resumed.zarr
"""
    result = subprocess.run(
        ["unshare", "-rm", "bash", "-c", script], cwd=REPO, env=sweep_env(),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    def read(name: str) -> str:
        return (work / name).read_text(encoding="utf-8")

    err = read("err1")
    assert read("rc1").strip() == "2", err
    # Nor from a worker: Dask logs a task that raises as "Compute Failed", with a traceback.
    assert "Traceback" not in err and "Compute Failed" not in err, err
    assert re.search(
        rf"^error: could not write points? [0-9-]+ \(batch [0-9]\) into the sweep store {store}: "
        r"the filesystem is full: \[Errno 28\] No space left on device",
        err,
        re.MULTILINE,
    ), err
    found = re.search(r"kept: ([0-9]+) of 12 points were finished when the write failed", err)
    assert found, err
    assert "then run the same `sim sweep` command again: it resumes" in err
    after = work / "after_fault.zarr"
    finished = sorted(int(name[:6]) for name in markers(after))
    # Another worker may have finished a batch after the failing one counted the markers.
    assert 1 <= len(finished) < BATCHES, finished
    assert int(found[1]) <= len(finished) * PER_BATCH, (found[1], finished)
    assert_finished_points_equal(after, reference, finished)

    out2 = read("out2")
    assert read("rc2").strip() == "0", read("err2")
    missing = BATCHES - len(finished)
    assert f"{missing} of {BATCHES} batches computed in this process" in out2, out2
    assert f"{len(finished)} were already done" in out2
    assert_same_store(work / "resumed.zarr", reference)
    record(
        AREA,
        f"real full filesystem (tmpfs of {size // 1024} KiB) on a local Dask cluster of 2 "
        "workers, then resumed in-process",
        "exit status 2, message with store, points, OS error, what is kept and how to resume; "
        "finished batches kept, equal to an uninterrupted run; resumed store identical to it",
    )


def test_store_error_on_a_dask_worker_is_returned_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a full store on a Dask worker raised the SimError in the task, so the
    worker logged "Compute Failed" with a traceback on the client's terminal before the
    client printed the message (sim/sweep/execute.py, run_on_dask). Found by the real full
    filesystem test.
    """
    from sim.sweep.execute import run_batch_on_worker
    from sim.sweep.runner import Job
    from sim.sweep.store import locked_store

    plan = make_plan(read_sweep(LHS))
    out = tmp_path / "worker.zarr"
    with locked_store(plan, out):
        pass
    monkeypatch.setattr(zarr_local, "_put", DiskFull(out, batch=0, allow=0, code=errno.ENOSPC))
    result = run_batch_on_worker(Job.from_plan(plan, out), 0)
    assert type(result) is SimError
    assert str(result).startswith(
        f"could not write points 0-2 (batch 0) into the sweep store {out}"
    )
    assert "kept: 0 of 12 points" in str(result)
    assert markers(out) == {}

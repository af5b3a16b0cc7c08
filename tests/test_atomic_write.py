"""Atomic NetCDF writes: a writer killed with SIGKILL at random moments never leaves a corrupt file.

A helper process imports ``sim`` once and builds a dataset that takes a few
tenths of a second to write; for every trial it forks a fresh child that calls
:func:`sim.results.write.write_netcdf`, and the test kills that child with
SIGKILL after a random delay (from before the temporary file exists to after
the rename). Then it opens what is left at the target path: it must be the
previous complete file, or none if there was none, or the new complete file if
the kill came after the rename -- never a file that does not open or holds
other numbers. A SIGKILLed process cannot remove its temporary file, so
leftovers are allowed, but only as hidden ``.<name>.<pid>-<host>.*.tmp`` files
next to the target, and the next write must remove them.

The other tests check that clean-up on its own: a temporary is removed only
when its writer is dead (never a live writer's, another host's or another
target's), a folder moved aside by a writer killed between its two renames is
put back, and a published file or folder is flushed to disk with its folder.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from tests.reliability_record import record

REPO = Path(__file__).resolve().parents[1]
AREA = "faults: writer killed with SIGKILL while writing NetCDF"
AREA_CLEANUP = "faults: temporary files of killed writers"

#: The helper: builds the dataset once, then forks one writer per command line.
WRITER = r"""
import os, sys, time
import numpy as np
import xarray as xr
from sim.results.write import write_netcdf

rows = int(sys.argv[1])
rng = np.random.default_rng(20240105)
big = rng.random((rows, 1000))
ds = xr.Dataset({"big": (("row", "col"), big)})
print("ready", float(big.sum()), flush=True)
for line in sys.stdin:
    path, generation = line.split()
    ds.attrs["generation"] = int(generation)
    ds["generation"] = ((), int(generation))
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            write_netcdf(ds, path)
        except BaseException:
            os._exit(3)
        os._exit(0)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(status, time.perf_counter() - started, flush=True)
"""


class Writer:
    """The helper process, driven one write at a time."""

    def __init__(self, rows: int) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(rows)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        head = self.readline().split()
        assert head[0] == "ready", head
        self.checksum = float(head[1])

    def readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the writer helper died"
        return line

    def write(self, path: Path, generation: int, kill_after: float | None) -> tuple[int, float]:
        """Fork a writer; SIGKILL it after ``kill_after`` seconds (None: let it finish)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{path} {generation}\n")
        self.proc.stdin.flush()
        pid = int(self.readline())
        if kill_after is not None:
            time.sleep(kill_after)
            # The child of our helper, by its id; it may have finished already.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        status, seconds = self.readline().split()
        return int(status), float(seconds)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def inspect(target: Path, checksum: float) -> int | None:
    """The generation of the complete file at ``target``, None if absent; fails if corrupt."""
    if not target.exists():
        return None
    try:
        with xr.open_dataset(target, engine="h5netcdf") as ds:
            ds.load()
            generation = int(ds.attrs["generation"])
            values = float(ds["big"].sum()), int(ds["generation"]), ds["big"].shape
    except Exception as exc:
        raise AssertionError(f"corrupt file at {target}: {type(exc).__name__}: {exc}") from exc
    assert values[1] == generation
    assert values[2][1] == 1000
    assert values[0] == pytest.approx(checksum, rel=1e-12)
    return generation


def leftovers(folder: Path, target: Path) -> list[str]:
    """Names in ``folder`` other than the target; each must be a hidden temporary file."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.[0-9]+-[0-9a-f]{{8}}\.[A-Za-z0-9_]+\.tmp$")
    names = sorted(p.name for p in folder.iterdir() if p != target)
    stray = [n for n in names if not pattern.match(n)]
    assert not stray, f"files other than the target and hidden temporaries: {stray}"
    return names


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")
def test_sigkill_at_random_moments_leaves_previous_file_or_none(tmp_path: Path) -> None:
    writer = Writer(rows=600)  # 4.8 MB of float64, compressed: a few tenths of a second
    try:
        # Time an uninterrupted write to place the kills across the whole write.
        probe = tmp_path / "probe" / "out.nc"
        times = []
        for generation in (1, 2):
            status, seconds = writer.write(probe, generation, None)
            assert status == 0
            times.append(seconds)
            assert inspect(probe, writer.checksum) == generation
        duration = float(np.mean(times))
        assert 0.05 < duration < 10, duration

        rng = random.Random(6)
        outcomes: dict[str, int] = {}
        trials = 24
        fresh = tmp_path / "fresh"  # no previous file
        chained = tmp_path / "chained"  # each trial over the previous one's result
        fresh.mkdir()
        chained.mkdir()
        previous: int | None = None
        chained_target = chained / "out.nc"
        status, _ = writer.write(chained_target, 100, None)
        assert status == 0
        previous = 100
        for trial in range(trials):
            with_previous = trial % 2 == 1
            folder = chained if with_previous else fresh
            target = folder / "out.nc"
            if not with_previous:
                target.unlink(missing_ok=True)
            before = previous if with_previous else None
            generation = 101 + trial
            delay = rng.uniform(0.0, 1.3 * duration)
            status, _ = writer.write(target, generation, delay)
            found = inspect(target, writer.checksum)
            names = leftovers(folder, target)
            killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            if found == generation:
                outcome = "new complete file (killed after the rename or not at all)"
            elif found is None:
                assert before is None, f"the previous file (generation {before}) was lost"
                outcome = "no file (there was none before)"
            else:
                assert found == before, f"generation {found}: neither the previous nor the new"
                outcome = "previous complete file intact"
            if killed and found != generation:
                outcome += ", temporary file left" if names else ", no temporary file"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            record(AREA, f"kill at {_bucket(delay / duration)} of the write time", outcome)
            if with_previous:
                previous = found
        # Kills fell before the rename in some trials (the real test of atomicity).
        assert any(k.startswith(("previous", "no file")) for k in outcomes), outcomes

        # What a killed writer left, the next write removes: its writer is dead.
        for folder in (fresh, chained):
            target = folder / "out.nc"
            stale = len(leftovers(folder, target))
            status, _ = writer.write(target, 999, None)
            assert status == 0 and inspect(target, writer.checksum) == 999
            assert leftovers(folder, target) == [], "temporaries of dead writers were kept"
            record(
                AREA,
                "next complete write after the kills",
                "file complete; every temporary file of the killed writers removed"
                if stale
                else "file complete; no temporary file was left to remove",
            )
    finally:
        writer.close()


def _bucket(fraction: float) -> str:
    """A kill moment as a range of the uninterrupted write time, for the record."""
    for limit in (0.25, 0.5, 0.75, 1.0):
        if fraction < limit:
            return f"{int((limit - 0.25) * 100)}-{int(limit * 100)}%"
    return "100-130%"


# ---------------------------------------------------------------- clean-up of dead writers' files

#: A child that makes temporaries with the real code (argv: wait|exit, then target kind
#: pairs), prints them, then waits for a line on stdin (alive) or exits at once (dead).
MAKER = r"""
import sys
from pathlib import Path
from sim.results.write import temporary_path

pairs = sys.argv[2:]
for target, kind in zip(pairs[::2], pairs[1::2]):
    tmp = temporary_path(Path(target), directory=kind == "dir")
    (tmp / "chunk" if kind == "dir" else tmp).write_text("half-written")
    print(tmp, flush=True)
if sys.argv[1] == "wait":
    sys.stdin.readline()
"""


def child_env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }


def test_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    from sim.results.write import temporary_path, write_netcdf

    target, other = tmp_path / "out.nc", tmp_path / "other.nc"
    ds = xr.Dataset({"x": ("i", np.arange(4.0))})
    # Live writers first: every temporary_path call clears dead writers' leftovers.
    mine = temporary_path(target, directory=False)  # this test's own process
    live = subprocess.Popen(
        [sys.executable, "-c", MAKER, "wait", str(target), "file"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, env=child_env(),
    )  # fmt: skip
    try:
        assert live.stdout is not None
        live_tmp = Path(live.stdout.readline().strip())
        dead = subprocess.run(
            [sys.executable, "-c", MAKER, "exit", str(target), "file", str(target), "dir",
             str(other), "file"],
            capture_output=True, text=True, env=child_env(), check=True, timeout=60,
        )  # fmt: skip
        dead_file, dead_dir, other_target = map(Path, dead.stdout.split())
        assert dead_dir.is_dir() and (dead_dir / "chunk").is_file()
        # The same dead pid on another machine sharing the folder, and a name of the old
        # format without a pid: whether their writers live cannot be known here.
        pid, host = dead_file.name.split(".")[-3].split("-")
        foreign = tmp_path / f".out.nc.{pid}-{int(host, 16) ^ 1:08x}.abcdefgh.tmp"
        old_format = tmp_path / ".out.nc.abcdefgh.tmp"
        for path in (foreign, old_format):
            path.write_text("unknown writer")
        assert all(p.exists() for p in (dead_file, dead_dir, other_target, live_tmp, mine))

        write_netcdf(ds, target)
        with xr.open_dataset(target, engine="h5netcdf") as back:
            np.testing.assert_array_equal(back["x"].values, ds["x"].values)
        assert not dead_file.exists() and not dead_dir.exists()
        kept = [live_tmp, mine, other_target, foreign, old_format]
        assert all(p.exists() for p in kept), [p.name for p in kept if not p.exists()]
        for case in ("file", "folder"):
            record(AREA_CLEANUP, f"temporary {case} of a dead writer (pid gone)",
                   "removed by the next write")  # fmt: skip
        record(AREA_CLEANUP, "temporary of a live writer (another process)", "kept")
        record(AREA_CLEANUP, "temporary of a live writer (the writing process itself)", "kept")
        for case in ("temporary of another target", "temporary named by another host",
                     "temporary without a pid (older name)"):  # fmt: skip
            record(AREA_CLEANUP, case, "kept")

        # Once the live writer has died, its temporary goes too; ours stays.
        live.communicate("\n", timeout=30)
        assert live.returncode == 0
        write_netcdf(ds, target)
        assert not live_tmp.exists() and mine.exists()
        record(AREA_CLEANUP, "temporary of a writer that has died since",
               "removed by the next write")  # fmt: skip
    finally:
        if live.poll() is None:
            live.kill()
            live.wait()


def test_folder_moved_aside_by_a_writer_killed_between_renames_is_put_back(tmp_path: Path) -> None:
    """A writer dies after moving the previous store aside, before renaming the new one in."""
    from sim.results.write import remove_stale_temporaries, write_zarr

    target = tmp_path / "out.zarr"
    write_zarr(xr.Dataset({"x": ("i", np.arange(3.0))}), target)
    killed = r"""
import os, sys
from pathlib import Path
from sim.results import write

real = os.replace
def replace(src, dst):
    real(src, dst)
    os._exit(9)  # as if SIGKILLed right after the first rename
write.os.replace = replace
target = Path(sys.argv[1])
tmp = write.temporary_path(target, directory=True)
(tmp / "new").write_text("complete new version")
write.publish(tmp, target)
"""
    done = subprocess.run(
        [sys.executable, "-c", killed, str(target)], env=child_env(), timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 9
    assert not target.exists()
    left = sorted(p.name.rsplit(".", 1)[-1] for p in tmp_path.iterdir())
    assert left == ["old", "tmp"], left

    removed = remove_stale_temporaries(target)
    # The previous complete store is back, and the new one is gone with its dead writer.
    assert [p.suffix for p in removed] == [".tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]
    with xr.open_zarr(target) as back:
        np.testing.assert_array_equal(back["x"].values, np.arange(3.0))
    # Replacing it again leaves only the new store.
    write_zarr(xr.Dataset({"y": ("j", np.ones(2))}), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]
    with xr.open_zarr(target) as back:
        assert list(back.data_vars) == ["y"]
    record(
        AREA_CLEANUP,
        "writer killed between moving the old Zarr store aside and renaming the new one in",
        "the old complete store put back by the next writer; the new one's temporary removed",
    )


def test_publish_flushes_the_contents_then_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim.results import write

    synced: list[tuple[int, int]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        synced.append((st.st_dev, st.st_ino))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)

    def identity(path: Path) -> tuple[int, int]:
        st = path.stat()
        return st.st_dev, st.st_ino

    ds = xr.Dataset({"x": ("i", np.arange(5.0))})
    nc = write.write_netcdf(ds, tmp_path / "a" / "out.nc")
    # The file's inode is the temporary's: flushed before the rename, the folder after it.
    assert synced.index(identity(nc)) < synced.index(identity(nc.parent))
    synced.clear()
    store = write.write_zarr(ds, tmp_path / "b" / "out.zarr")
    files = [p for p in store.rglob("*")]
    assert len(files) > 3
    assert {identity(p) for p in files} <= set(synced[:-1])
    assert synced[-1] == identity(store.parent)
    record(AREA_CLEANUP, "power loss after a write (fsync calls checked)",
           "file or every file of the folder flushed before the rename, the folder after it")  # fmt: skip

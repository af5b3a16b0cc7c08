"""Atomic NetCDF writes: a writer killed with SIGKILL at random moments never leaves a corrupt file.

A helper process imports ``sim`` once and builds a dataset that takes a few
tenths of a second to write; for every trial it forks a fresh child that calls
:func:`sim.results.write.write_netcdf`, and the test kills that child with
SIGKILL after a random delay (from before the temporary file exists to after
the rename). Then it opens what is left at the target path: it must be the
previous complete file, or none if there was none, or the new complete file if
the kill came after the rename -- never a file that does not open or holds
other numbers. A SIGKILLed process cannot remove its temporary file, so
leftovers are allowed, but only as hidden ``.<name>.*.tmp`` files next to the
target.
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
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.[A-Za-z0-9_]+\.tmp$")
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

        # What a killed writer leaves behind stays behind: the next write does not clean it.
        stale_before = len(leftovers(chained, chained_target))
        status, _ = writer.write(chained_target, 999, None)
        assert status == 0 and inspect(chained_target, writer.checksum) == 999
        stale_after = len(leftovers(chained, chained_target))
        record(
            AREA,
            "next complete write after the kills",
            f"file complete; {stale_after} of {stale_before} stale .tmp files still there",
        )
    finally:
        writer.close()


def _bucket(fraction: float) -> str:
    """A kill moment as a range of the uninterrupted write time, for the record."""
    for limit in (0.25, 0.5, 0.75, 1.0):
        if fraction < limit:
            return f"{int((limit - 0.25) * 100)}-{int(limit * 100)}%"
    return "100-130%"

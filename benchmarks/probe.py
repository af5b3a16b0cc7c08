"""One engine run in a fresh process: time and peak resident memory against output size.

The suite runs this module as a subprocess, so that the peak resident set
size (``VmHWM`` of ``/proc/self/status``, or ``ru_maxrss``) belongs to this
run alone. Prints one JSON object on its last line of standard output.

Usage::

    python3 -m benchmarks.probe SCENARIO [--replicas N] [--batch-size B] [--end DATE]
                                [--write PATH.nc|PATH.zarr] [--memory-limit 0.8]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, bytes."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def current_rss_bytes() -> int:
    """Resident set size of this process now, bytes (0 where /proc is not available)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run(
    scenario: str,
    replicas: int | None,
    batch_size: int | None,
    end: str | None,
    write: str | None,
    memory_limit: float | None = None,
) -> dict[str, Any]:
    """Load, simulate (and optionally write NetCDF or Zarr); return timings and memory figures."""
    import sim.api as api

    t0 = time.perf_counter()
    sc = api.load_scenario(scenario, replicas=replicas)
    if end is not None:
        sc.data["time"]["end"] = end
    if memory_limit is not None:
        sc.data["monte_carlo"]["memory_limit"] = memory_limit
    model = api.prepare(sc)
    t1 = time.perf_counter()
    rss_before = current_rss_bytes()
    file_bytes = 0
    # The engine streams batches to the file (memory bounded by a batch); engines before
    # stream_to_file streamed only to Zarr and wrote NetCDF from memory.
    streamed = bool(
        write
        and (hasattr(api, "stream_to_file") or write.rstrip("/").endswith(".zarr"))
        and hasattr(api, "run_to_file")
    )
    if streamed:
        ds, path = api.run_to_file(sc, write, batch_size=batch_size)
        t2 = t3 = time.perf_counter()
    else:
        ds = api.simulate(model, batch_size=batch_size)
        t2 = time.perf_counter()
        if write:
            from sim.results import write as writers

            writer = getattr(writers, "write_dataset", writers.write_netcdf)
            path = Path(writer(ds, write))
        t3 = time.perf_counter()
    if write:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        file_bytes = sum(p.stat().st_size for p in files)
    n_r, n_s, n_p = model.shape
    return {
        "scenario": str(scenario),
        "regions": n_r,
        "sectors": n_s,
        "projects": n_p,
        "replicas": int(ds.sizes["replica"]),
        "periods": model.calendar.periods,
        "batch_size": batch_size or int(sc.data["monte_carlo"]["batch_size"]),
        "mode": (
            ("zarr" if write.rstrip("/").endswith(".zarr") else "netcdf")
            + ("-stream" if streamed else "")
            if write
            else "memory"
        ),
        "prepare_seconds": t1 - t0,
        "simulate_seconds": t2 - t1,  # includes writing when streamed
        "write_seconds": t3 - t2,
        "output_bytes": int(ds.nbytes),
        "trade_bytes": int(ds["trade"].nbytes) if "trade" in ds else 0,
        "file_bytes": int(file_bytes),
        "rss_before_simulate_bytes": rss_before,
        "peak_rss_bytes": peak_rss_bytes(),
        "simpy_events": int(ds.attrs.get("simpy_events", 0)),
        "solver_iterations_mean": float(ds["solver_iterations"].mean())
        if "solver_iterations" in ds
        else float("nan"),
        "pid": os.getpid(),
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario")
    parser.add_argument("--replicas", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--end", default=None, help="override time.end (YYYY-MM-DD)")
    parser.add_argument("--write", default=None, help="write the dataset here (.nc or .zarr)")
    parser.add_argument(
        "--memory-limit", type=float, default=None, help="override monte_carlo.memory_limit"
    )
    args = parser.parse_args(argv)
    result = run(
        args.scenario, args.replicas, args.batch_size, args.end, args.write, args.memory_limit
    )
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

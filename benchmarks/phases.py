"""Where the wall time of ``sim run SCENARIO -o OUT`` goes, phase by phase, in one process.

The CLI's calls in order, each timed: importing the API, ``load_scenario``, ``prepare``,
``stream_to_file`` (split into simulating and labelling each batch, the writer's
``append`` and ``close``, and reopening the file) and the printed tables
(``summary_table``). The issue's goal (Issue 15) is at most 25 % of the wall time outside
simulating and writing; the interpreter's own start is outside this process (compare with
``/usr/bin/time sim run ...``).

Usage::

    python3 -m benchmarks.phases [--scenario SCENARIO] [--replicas 100] [--out /tmp/phases.nc]
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 - the imports are what is timed first
import logging  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import xarray as xr  # noqa: E402

import sim.api as api  # noqa: E402
from sim.results import stream  # noqa: E402
from sim.summary import summary_table  # noqa: E402

IMPORTED = time.perf_counter() - STARTED
ROOT = Path(__file__).resolve().parents[1]


def timed(totals: dict[str, float], name: str, fn: Any) -> Any:
    """``fn`` wrapped so that its calls add their seconds to ``totals[name]``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - start

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "uz_kz_khiva_2024.yaml"))
    parser.add_argument("--replicas", type=int, default=100)
    parser.add_argument("--out", default="/tmp/phases.nc")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    out = Path(args.out)
    out.unlink(missing_ok=True)
    totals: dict[str, float] = {"imports": IMPORTED}
    start = time.perf_counter()
    scenario = api.load_scenario(args.scenario, replicas=args.replicas)
    model = api.prepare(scenario)
    totals["load and prepare"] = time.perf_counter() - start
    writer = stream.ZarrBatchWriter if stream.is_zarr(out) else stream.NetcdfBatchWriter
    api.simulate = timed(totals, "simulate and label", api.simulate)  # type: ignore[method-assign]
    writer.append = timed(totals, "write (append)", writer.append)  # type: ignore[method-assign]
    writer.close = timed(totals, "write (close)", writer.close)  # type: ignore[method-assign]
    reopen = "open_zarr" if stream.is_zarr(out) else "open_dataset"
    setattr(api.xr, reopen, timed(totals, "reopen", getattr(xr, reopen)))
    ds, _ = api.stream_to_file(model, out)
    start = time.perf_counter()
    summary_table(ds, scenario.data)
    totals["tables"] = time.perf_counter() - start
    total = time.perf_counter() - STARTED
    inside = totals["simulate and label"] + totals["write (append)"] + totals["write (close)"]
    for name, seconds in totals.items():
        print(f"{name:20s} {seconds:6.2f} s")
    print(f"{'in this process':20s} {total:6.2f} s; simulating and writing {inside / total:.0%}")


if __name__ == "__main__":
    main()

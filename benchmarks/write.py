"""Writing a run: the default NetCDF output against Zarr, at the same replicas.

The seed is simulated once in batches (``monte_carlo.batch_size``); the batches are then
written by the streaming writers of ``sim run -o FILE`` (``sim.results.stream``), each
format in turn, interleaved, best of ``--rounds``: NetCDF-4 with its chunks compressed
in parallel (the default), NetCDF-4 with HDF5 compressing them in the writing thread (one
worker), and Zarr (its default codec). The script prints each time, each file's size and
the ratio of the NetCDF time to the Zarr time.

Usage::

    python3 -m benchmarks.write [--replicas 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import xarray as xr

from sim import api
from sim.results import stream

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "scenarios" / "uz_kz_khiva_2024.yaml"


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def write(parts: list[xr.Dataset], path: Path, total: int, batch: int) -> float:
    start = time.perf_counter()
    writer = stream.open_batch_writer(path, path, total, batch)
    for part in parts:
        writer.append(part)
    writer.close()
    return time.perf_counter() - start


#: The default NetCDF writer, HDF5 compressing in the writing thread, and Zarr.
NETCDF, HDF5_THREAD, ZARR = "NetCDF (default)", "NetCDF, compressed by HDF5 in one thread", "Zarr"


def measure(replicas: int, rounds: int, *, hdf5_thread: bool = True) -> dict[str, Any]:
    """Simulate the seed once, then time its writers, interleaved, best of ``rounds``.

    Returns the seconds and bytes of each output and ``netcdf_over_zarr``, the ratio of
    the default NetCDF writer's time to Zarr's. ``hdf5_thread=False`` leaves out HDF5's
    own filter pipeline (the slow variant kept for comparison).
    """
    logging.disable(logging.WARNING)
    try:
        model = api.prepare(api.load_scenario(SEED, replicas=replicas))
    finally:
        logging.disable(logging.NOTSET)
    # As `sim run` opens its writer: batches no larger than the run.
    batch = min(int(model.scenario.data["monte_carlo"]["batch_size"]), replicas)
    parts = [
        api.simulate(model, first=first, count=min(batch, replicas - first))
        for first in range(0, replicas, batch)
    ]
    cases = {NETCDF: ("run.nc", None), HDF5_THREAD: ("run.nc", 1), ZARR: ("run.zarr", None)}
    if not hdf5_thread:
        del cases[HDF5_THREAD]
    best = dict.fromkeys(cases, float("inf"))
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="sim-bench-write-") as tmp:
        for _ in range(rounds):
            for name, (file, threads) in cases.items():
                path = Path(tmp) / file
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else None
                if path.is_file():
                    os.remove(path)
                if threads == 1:
                    # One worker: what HDF5's own filter pipeline costs, chunk after chunk.
                    with mock.patch.object(stream, "chunk_jobs", lambda *a: None):
                        seconds = write(parts, path, replicas, batch)
                else:
                    seconds = write(parts, path, replicas, batch)
                best[name] = min(best[name], seconds)
                sizes[name] = size_of(path)
    return {
        "replicas": replicas,
        "rounds": rounds,
        "compressing_threads": stream.workers(),
        "cases": {name: {"seconds": best[name], "bytes": sizes[name]} for name in cases},
        "netcdf_over_zarr": best[NETCDF] / best[ZARR],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = measure(args.replicas, args.rounds)
    zarr_time = result["cases"][ZARR]["seconds"]
    print(f"{result['compressing_threads']} compressing threads")
    for name, case in result["cases"].items():
        print(
            f"{name:45s} {case['seconds']:6.2f} s  {case['bytes'] / 1e6:6.1f} MB  "
            f"x{case['seconds'] / zarr_time:.2f} of Zarr"
        )


if __name__ == "__main__":
    main()

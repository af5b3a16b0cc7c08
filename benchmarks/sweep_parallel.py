"""Speed-up of a 64-point sweep of the seed scenario on 2 Dask workers against 1.

Usage::

    python3 -m benchmarks.sweep_parallel [--points 64] [--replicas 10] [--json PATH]

Runs the same Latin-hypercube sweep (trade elasticity of machinery, border
days, the 2024 trade-cost trend) three times into fresh stores: in-process, on
a local Dask cluster of 1 worker and of 2 workers. Prints the times and the
ratio 1 worker / 2 workers, checks the three stores hold the same bytes, and
writes JSON (default ``outputs/bench_sweep_parallel.json``). Times cover
running the batches and writing the store, not planning; cluster start-up is
included, as a user pays it. The machines are shared and noisy: compare ratios
from one run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

from sim.sweep import Backend, make_plan, read_sweep, run_sweep

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "uz_kz_khiva_2024.yaml"


def sweep_file(folder: Path, points: int, replicas: int) -> Path:
    """The benchmark's sweep file, written into ``folder``."""
    path = folder / "bench_sweep.yaml"
    path.write_text(
        f"scenario: {SCENARIO}\n"
        f"design: {{kind: lhs, samples: {points}, seed: 1}}\n"
        "parameters:\n"
        "  - {key: trade.elasticity.machinery.mean, range: [3.0, 8.0]}\n"
        "  - {key: 'trade_costs.border_days[0].days', range: [0.5, 4.0]}\n"
        "  - {key: 'trade_costs.trend[0].rate.2024', range: [-0.05, 0.0]}\n"
        f"replicas: {replicas}\n"
        "batch: {points: 2}\n",
        encoding="utf-8",
    )
    return path


def digest(store: Path) -> str:
    """One hash over every result file of a store (not the client's lock)."""
    h = hashlib.sha256()
    for path in sorted(store.rglob("*")):
        if path.is_file() and path.name != "lock":
            h.update(path.relative_to(store).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def measure(points: int, replicas: int) -> dict[str, float | int | bool]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plan = make_plan(read_sweep(sweep_file(folder, points, replicas)))
        seconds = {}
        digests = []
        for name, backend in (
            ("in_process", Backend("process")),
            ("workers_1", Backend("local", workers=1)),
            ("workers_2", Backend("local", workers=2)),
        ):
            store = folder / f"{name}.zarr"
            started = time.perf_counter()
            outcome = run_sweep(plan, store, backend, progress=False)
            seconds[name] = time.perf_counter() - started
            assert outcome.complete and not outcome.failures, outcome
            digests.append(digest(store))
    return {
        "points": points,
        "replicas": replicas,
        "tasks": len(plan.batches),
        **{f"seconds_{k}": v for k, v in seconds.items()},
        "ratio_1_over_2_workers": seconds["workers_1"] / seconds["workers_2"],
        "identical_stores": len(set(digests)) == 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=64)
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--json", default="outputs/bench_sweep_parallel.json")
    args = parser.parse_args()
    row = measure(args.points, args.replicas)
    print(
        f"{row['points']} points x {row['replicas']} replicas, {row['tasks']} tasks: "
        f"in-process {row['seconds_in_process']:.1f} s, 1 worker {row['seconds_workers_1']:.1f} s, "
        f"2 workers {row['seconds_workers_2']:.1f} s; ratio 1/2 workers "
        f"{row['ratio_1_over_2_workers']:.2f}; stores identical: {row['identical_stores']}"
    )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(row, indent=2) + "\n")


if __name__ == "__main__":
    main()

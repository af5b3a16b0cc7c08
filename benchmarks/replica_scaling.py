"""Time per replica-period of the seed scenario at several replica counts.

Usage::

    python3 -m benchmarks.replica_scaling [--replicas 10 100 1000] [--json PATH]

Prints a table and writes JSON (default ``outputs/bench_replica_scaling.json``).
The figure of merit is the ratio between sizes in one run, not the absolute
time: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import sim.api as api

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "uz_kz_khiva_2024.yaml"


def measure(replicas: int, repeat: int = 2) -> dict[str, float]:
    """Best of ``repeat`` runs: seconds, seconds per replica-period, SimPy events."""
    model = api.prepare(api.load_scenario(SCENARIO, replicas=replicas))
    best = float("inf")
    events = 0
    for _ in range(repeat):
        start = time.perf_counter()
        ds = api.simulate(model, batch_size=replicas)
        best = min(best, time.perf_counter() - start)
        events = int(ds.attrs["simpy_events"])
    periods = model.calendar.periods
    return {
        "replicas": replicas,
        "seconds": best,
        "us_per_replica_period": 1e6 * best / (replicas * periods),
        "simpy_events": events,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--json", default="outputs/bench_replica_scaling.json")
    args = parser.parse_args()
    rows = [measure(n) for n in args.replicas]
    base = rows[0]["us_per_replica_period"]
    print(f"{'replicas':>9} {'seconds':>9} {'us/replica-period':>18} {'vs first':>9} {'events':>7}")
    for row in rows:
        print(
            f"{row['replicas']:>9} {row['seconds']:>9.2f} {row['us_per_replica_period']:>18.1f} "
            f"{row['us_per_replica_period'] / base:>9.3f} {row['simpy_events']:>7}"
        )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

"""BLAS threads: one against several on the engine's batched algebra, interleaved.

The engine simulates with one BLAS thread by default (sim.threads). This script times
``simulate_batch`` on the seed and on the 10 x 20 benchmark case with 1 and with
``--threads`` BLAS threads, best of ``--rounds``, interleaved in one process, and prints
the ratio (several threads' time over one thread's).

Usage::

    python3 -m benchmarks.threads [--threads 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from sim import api
from sim.engine.draw import draw_batch
from sim.engine.simulate import simulate_batch

ROOT = Path(__file__).resolve().parents[1]
CASES = (
    ("seed", ROOT / "scenarios" / "uz_kz_khiva_2024.yaml", 200, None),
    ("10 x 20", ROOT / "scenarios" / "bench_large_10x20.yaml", 50, "2022-12-31"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    for name, path, replicas, end in CASES:
        sc = api.load_scenario(path, replicas=replicas)
        if end:
            sc.data["time"]["end"] = end
        model = api.prepare(sc)
        batch = draw_batch(model, 0, replicas)
        best = {1: float("inf"), args.threads: float("inf")}
        for _ in range(args.rounds):
            for threads in best:
                with threadpool_limits(limits=threads, user_api="blas"):
                    start = time.perf_counter()
                    simulate_batch(model, batch)
                    best[threads] = min(best[threads], time.perf_counter() - start)
        print(
            f"{name:8s} {replicas} replicas: 1 thread {best[1]:.2f} s, {args.threads} threads "
            f"{best[args.threads]:.2f} s, ratio {best[args.threads] / best[1]:.2f}"
        )


if __name__ == "__main__":
    main()

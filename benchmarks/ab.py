"""A/B timing of engine variants: the same workload under several copies of ``sim``.

An optimisation of the engine is measured on a scratch copy of the package
(``cp -r sim /tmp/variant/`` and patch it there) against the working tree, in
fresh processes that alternate between the variants, best of ``--rounds``, so
that a burst of load on a shared machine hits every variant alike. Each run
also saves the first replicas' trade so that the variants' results can be
compared (they must agree to the solver's tolerance).

Usage::

    python3 -m benchmarks.ab --variant base=. --variant patched=/tmp/variant \\
        [--scenario scenarios/uz_kz_khiva_2024.yaml] [--replicas 1000] [--end 2017-12-31] \\
        [--rounds 3] [--env OPENBLAS_NUM_THREADS=1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def workload(scenario: str, replicas: int, end: str | None, save: str) -> dict[str, Any]:
    """Draw and simulate one batch (best of two); runs inside the variant's process."""
    import sim.api as api
    from sim.engine.draw import draw_batch
    from sim.engine.simulate import simulate_batch

    sc = api.load_scenario(scenario, replicas=replicas)
    if end:
        sc.data["time"]["end"] = end
    model = api.prepare(sc)
    best, arrays = float("inf"), {}
    for _ in range(2):
        batch = draw_batch(model, 0, replicas)
        start = time.perf_counter()
        result = simulate_batch(model, batch)
        best = min(best, time.perf_counter() - start)
        arrays = result.arrays
    np.save(save, arrays["trade"][: min(replicas, 20)])
    return {
        "seconds": best,
        "us_per_replica_period": 1e6 * best / (replicas * model.calendar.periods),
        "solver_iterations": float(np.mean(arrays["solver_iterations"])),
        "events": result.events,
    }


def main(argv: list[str] | None = None) -> None:
    """Alternate the variants, print a table and the largest difference in trade."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--variant", action="append", required=True, help="NAME=PATH of sim's parent"
    )
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "uz_kz_khiva_2024.yaml"))
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--end", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for every run")
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        scenario, replicas, end, save = args.child
        result = workload(scenario, int(replicas), end if end != "-" else None, save)
        print(json.dumps(result))
        return
    variants = dict(v.split("=", 1) for v in args.variant)
    extra = dict(e.split("=", 1) for e in args.env)
    best: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="sim-ab-") as tmp:
        for _ in range(args.rounds):
            for name, path in variants.items():
                env = {**os.environ, **extra}
                env["PYTHONPATH"] = os.pathsep.join([str(Path(path).resolve()), str(ROOT)])
                save = str(Path(tmp) / f"{name}.npy")
                command = [
                    sys.executable, "-m", "benchmarks.ab", "--variant", "x=.", "--child",
                    # Absolute: the child runs in a scratch folder.
                    str(Path(args.scenario).resolve()), str(args.replicas), args.end or "-", save,
                ]  # fmt: skip
                done = subprocess.run(
                    command,
                    env=env,
                    cwd=tmp,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                result = json.loads(done.stdout.strip().splitlines()[-1])
                if name not in best or result["seconds"] < best[name]["seconds"]:
                    best[name] = result
        trades = {name: np.load(Path(tmp) / f"{name}.npy") for name in variants}
    first = next(iter(variants))
    print(
        f"{'variant':<12} {'seconds':>9} {'us/rep-period':>14} {'iterations':>11} {'vs first':>9}"
    )
    for name, r in best.items():
        scale = np.maximum(np.abs(trades[first]), np.abs(trades[name]))
        diff = np.abs(trades[first] - trades[name]) / np.where(scale > 0, scale, 1.0)
        r["max_relative_difference_in_trade"] = float(diff.max())
        r["speedup_vs_first"] = best[first]["seconds"] / r["seconds"]
        print(
            f"{name:<12} {r['seconds']:>9.2f} {r['us_per_replica_period']:>14.1f} "
            f"{r['solver_iterations']:>11.2f} {r['speedup_vs_first']:>8.2f}x"
            f"   trade differs by {r['max_relative_difference_in_trade']:.1e}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(best, indent=2) + "\n")


if __name__ == "__main__":
    main()

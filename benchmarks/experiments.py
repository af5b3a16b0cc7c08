"""Experiments behind docs/performance.md that need no change to the engine.

``warm-start``
    The engine and the reference with the equilibrium solver started from ones in
    every period instead of the previous period's prices (the solver is wrapped,
    not edited): iterations and time, and the difference it makes to the results.
``float32``
    The endowment-gravity special case's core pass (``sim.kernels.gravity``, kept as
    the reference the equilibrium is tested against) (the equilibrium evaluation) in float32 against float64 at
    10 regions x 20 sectors, at the float64 equilibrium: time, trade error, and the
    excess demand float32 leaves (the floor a float32 solver could converge to).

Usage::

    python3 -m benchmarks.experiments warm-start [--replicas 400] [--reference-replicas 10]
    python3 -m benchmarks.experiments float32 [--replicas 2000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import sim.api as api
import sim.engine.simulate as simulate_module
from benchmarks import hotloop, reference, synthetic
from sim.engine.draw import draw_batch
from sim.engine.model import Model
from sim.engine.simulate import BatchSimulation, simulate_batch
from sim.kernels import gravity

SEED = Path(__file__).resolve().parents[1] / "scenarios" / "uz_kz_khiva_2024.yaml"


def _cold(fn: Any) -> Any:
    def cold(*args: Any, **kwargs: Any) -> Any:
        kwargs["guess"] = None
        return fn(*args, **kwargs)

    return cold


def warm_start(replicas: int, reference_replicas: int) -> dict[str, Any]:
    """Warm start (as the engine and the reference run) against a cold start every period."""
    model = api.prepare(api.load_scenario(SEED, replicas=replicas))
    out: dict[str, Any] = {"replicas": replicas, "reference_replicas": reference_replicas}
    arrays: dict[str, Any] = {}
    for label in ("warm", "cold"):
        swaps = (
            [
                (simulate_module, "solve_equilibrium", _cold),
                (reference, "solve_equilibrium", _cold),
            ]
            if label == "cold"
            else []
        )
        with hotloop.swapped(swaps):
            batch = draw_batch(model, 0, replicas)
            start = time.perf_counter()
            result = simulate_batch(model, batch)
            engine = time.perf_counter() - start
            ref = reference.simulate_reference(model, range(reference_replicas))
        arrays[label] = result.arrays
        out[label] = {
            "engine_seconds": engine,
            "engine_solver_iterations_per_period": float(result.arrays["solver_iterations"].mean()),
            "reference_run_seconds_per_replica": ref.run_seconds / reference_replicas,
            "reference_solver_iterations_per_period": float(ref.arrays["solver_iterations"].mean()),
        }
    out["engine_gain"] = out["cold"]["engine_seconds"] / out["warm"]["engine_seconds"]
    out["reference_gain"] = (
        out["cold"]["reference_run_seconds_per_replica"]
        / out["warm"]["reference_run_seconds_per_replica"]
    )
    out["max_relative_difference_warm_vs_cold"] = max(
        reference.max_relative_difference(arrays["warm"], arrays["cold"]).values()
    )
    return out


def float32(replicas: int) -> dict[str, Any]:
    """The solver's core pass in float32 against float64 at 10 regions x 20 sectors.

    The equilibrium is solved in float64; the equilibrium evaluation (the pass every
    solver iteration makes over the (N, R, R, S) arrays) is then timed in both
    precisions at those prices, and the float32 result compared with float64: its
    trade error, and its excess demand at the float64 equilibrium, which is the
    floor a float32 solver could converge to (the engine's tolerance is 1e-11).
    """
    with tempfile.TemporaryDirectory(prefix="sim-exp-") as tmp:
        path = synthetic.write_scenario(tmp, 10, 20, replicas=replicas, end="2016-12-31")
        model: Model = api.prepare(api.load_scenario(path))
    state = BatchSimulation(model, draw_batch(model, 0, replicas))
    theta = state.batch.theta
    cost = state.iceberg * (1.0 + 0.05 * np.random.default_rng(0).random(state.iceberg.shape))
    weights = gravity.cost_weights(cost, theta)
    quantity = np.ascontiguousarray(state.growth_level[:, 1]) * 1.02
    base = model.baseline
    start = time.perf_counter()
    sol = gravity.solve_gravity(base, weights, theta, quantity, max_iter=20000)
    solve_seconds = time.perf_counter() - start
    out: dict[str, Any] = {
        "regions": 10,
        "sectors": 20,
        "replicas": replicas,
        "float64_solve_seconds": solve_seconds,
        "float64_iterations": sol.iterations,
    }
    results = {}
    precisions: list[tuple[str, Any]] = [("float64", np.float64), ("float32", np.float32)]
    for label, cast in precisions:
        shares, output0 = base.shares.astype(cast), base.output.astype(cast)
        expenditure, alpha = base.expenditure.astype(cast), base.alpha.astype(cast)
        th = theta.astype(cast)
        args: tuple[Any, ...] = (
            sol.price.astype(cast),
            shares[None] * weights.astype(cast),
            -th[:, None, :],
            output0[None] * quantity.astype(cast),
            alpha,
            expenditure / output0.sum(axis=1),
            expenditure - output0.sum(axis=1),
            float(output0.sum()),
            "ratio",
        )
        timings = []
        for _ in range(5):
            start = time.perf_counter()
            trade, output, _, _ = gravity._evaluate(*args)
            timings.append(time.perf_counter() - start)
        results[label] = trade
        excess = np.abs(trade.sum(axis=2) / output - 1.0).max()
        out[label] = {
            "evaluate_seconds": min(timings),
            "dtype": str(trade.dtype),
            "excess_demand_at_float64_equilibrium": float(excess),
        }
    t64, t32 = results["float64"], results["float32"].astype(np.float64)
    out["evaluate_speedup"] = (
        out["float64"]["evaluate_seconds"] / out["float32"]["evaluate_seconds"]
    )
    out["max_relative_error_trade"] = float((np.abs(t32 - t64) / t64).max())
    return out


def main(argv: list[str] | None = None) -> None:
    """Run one experiment and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=["warm-start", "float32"])
    parser.add_argument("--replicas", type=int, default=None)
    parser.add_argument("--reference-replicas", type=int, default=10)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.experiment == "warm-start":
        result = warm_start(args.replicas or 400, args.reference_replicas)
    else:
        result = float32(args.replicas or 2000)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()

"""Per-batch fixed cost of the draws: frozen scipy.stats distributions against closed forms.

``draw_batch`` on the seed scenario turns about 540 parameter specifications into
per-replica draws. Each used to build a frozen ``scipy.stats`` distribution (about 1 ms);
:func:`sim.kernels.draws.quantile` now evaluates the same special functions directly
(the same values, bit for bit: tests/test_draws.py). This script times both in one
process, interleaved, best of ``--rounds``, and prints the ratio.

Usage::

    python3 -m benchmarks.draws [--replicas 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

import sim.engine.draw as model_module
import sim.engine.params as params_module
from sim import api
from sim.engine.draw import draw_batch
from sim.kernels import draws

SEED = Path(__file__).resolve().parents[1] / "scenarios" / "uz_kz_khiva_2024.yaml"


def frozen_quantile(family: str, params: Mapping[str, float], u: np.ndarray) -> np.ndarray:
    """The former implementation: a frozen distribution per call (truncation as before)."""
    if family in ("uniform", "triangular") and params["high"] == params["low"]:
        return np.full(np.shape(u), float(params["low"]))
    dist = draws._frozen(family, params)
    own = draws.FAMILIES[family]
    low = params.get("low") if "low" not in own else None
    high = params.get("high") if "high" not in own else None
    if low is not None or high is not None:
        f_low = dist.cdf(low) if low is not None else 0.0
        f_high = dist.cdf(high) if high is not None else 1.0
        u = f_low + u * (f_high - f_low)
    values = np.asarray(dist.ppf(u), dtype=np.float64)
    if low is not None or high is not None:
        values = np.clip(values, -np.inf if low is None else low, np.inf if high is None else high)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    model = api.prepare(api.load_scenario(SEED))
    variants = {"frozen": frozen_quantile, "closed form": draws.quantile}
    best = dict.fromkeys(variants, float("inf"))
    results = {}
    for _ in range(args.rounds):
        for name, function in variants.items():
            model_module.quantile = params_module.quantile = function  # type: ignore[attr-defined]
            start = time.perf_counter()
            batch = draw_batch(model, 0, args.replicas)
            best[name] = min(best[name], time.perf_counter() - start)
            results[name] = batch
    model_module.quantile = params_module.quantile = draws.quantile  # type: ignore[attr-defined]
    same = np.array_equal(results["frozen"].capex, results["closed form"].capex) and all(
        np.array_equal(results["frozen"].drawn[k], results["closed form"].drawn[k])
        for k in results["frozen"].drawn
    )
    for name, seconds in best.items():
        print(f"{name:12s} {1000 * seconds:8.1f} ms per batch of {args.replicas} replicas")
    print(f"ratio {best['frozen'] / best['closed form']:.1f}x; same draws: {same}")


if __name__ == "__main__":
    main()

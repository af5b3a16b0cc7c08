"""The general equilibrium at the size of a world table: one counterfactual and many.

A synthetic world of ``R`` regions x ``S`` sectors (31 x 40 = 1,240 region-sectors by
default, the size of a WIOD-style table) with input-output linkages, tariffs and
mobile labour; one static counterfactual (random trade-cost changes of +-10 %) solved
to a relative excess demand of 1e-10:

- one replica, cold (each replica's Jacobian by finite differences);
- ``N`` replicas, with the baseline's Jacobian shared as the starting Jacobian
  (:func:`sim.kernels.equilibrium.baseline_jacobian`), against ``N`` times one.

Usage::

    python3 -m benchmarks.equilibrium [--regions 31] [--sectors 40] [--replicas 100]
                                      [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from sim.kernels.equilibrium import (
    EquilibriumBaseline,
    baseline_jacobian,
    build_equilibrium_baseline,
    build_labour_markets,
    solve_equilibrium,
)


def synthetic_world(regions: int, sectors: int, seed: int = 0) -> EquilibriumBaseline:
    """A positive world table with home bias, tariffs and input shares (value added 30-60 %)."""
    rng = np.random.default_rng(seed)
    flows = rng.lognormal(0.0, 1.5, (regions, regions, sectors))
    flows[np.arange(regions), np.arange(regions)] *= 50.0
    beta = rng.uniform(0.3, 0.6, (regions, sectors))
    gamma = rng.uniform(0.0, 1.0, (regions, sectors, sectors))
    gamma *= ((1.0 - beta) / gamma.sum(axis=2))[:, :, None]
    tariff = rng.uniform(0.0, 0.1, (regions, regions, sectors))
    tariff[np.arange(regions), np.arange(regions)] = 0.0
    return build_equilibrium_baseline(flows, tariff, beta, gamma)


def measure(regions: int, sectors: int, replicas: int) -> dict[str, Any]:
    """Seconds for one counterfactual and for ``replicas`` of them, in one process."""
    base = synthetic_world(regions, sectors)
    labour = build_labour_markets(sectors, np.ones(regions, bool), np.zeros(regions))
    rng = np.random.default_rng(1)
    theta = rng.uniform(3.0, 9.0, (replicas, sectors))
    cost = rng.uniform(0.9, 1.1, (replicas, regions, regions, sectors))
    cost[:, np.arange(regions), np.arange(regions)] = 1.0
    out: dict[str, Any] = {"regions": regions, "sectors": sectors, "replicas": replicas}

    start = time.perf_counter()
    one = solve_equilibrium(base, theta[:1], labour, cost_change=cost[:1], tol=1e-10)
    out["one_seconds"] = time.perf_counter() - start
    out["one_iterations"] = one.iterations
    out["one_converged"] = bool(one.converged.all())

    start = time.perf_counter()
    shared = baseline_jacobian(base, theta.mean(axis=0), labour)
    many = solve_equilibrium(base, theta, labour, cost_change=cost, jacobian=shared, tol=1e-10)
    out["many_seconds"] = time.perf_counter() - start
    out["many_iterations"] = many.iterations
    out["many_converged"] = bool(many.converged.all())
    out["many_over_one"] = out["many_seconds"] / out["one_seconds"]
    # The first replica's answer does not depend on the path to it (to the tolerance).
    out["agreement"] = float(np.abs(many.trade[0] / one.trade[0] - 1.0).max())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=31)
    parser.add_argument("--sectors", type=int, default=40)
    parser.add_argument("--replicas", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = measure(args.regions, args.sectors, args.replicas)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["one_converged"] and result["many_converged"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

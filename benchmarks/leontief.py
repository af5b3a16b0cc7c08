"""Leontief inverse and multipliers: the engine's kernels against pymrio's ``calc_all``.

The same work on the same random multi-regional table (``R`` regions x ``S`` sectors,
one employment extension): technical coefficients, the Leontief inverse, output
multipliers and employment multipliers (total and Type I). pymrio's ``calc_all``
computes these and its accounts (footprints by region); the engine's kernels compute
what the engine uses (``sim.kernels.leontief``). Both run with the same BLAS thread
limit, interleaved in one process, best of ``--rounds``; the script prints the ratio
(pymrio's time over the engine's) and checks that the two agree to 1e-12 (relative to
the largest entry).

Usage::

    python3 -m benchmarks.leontief [--sizes 20x50,40x50] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from sim.kernels.leontief import (
    leontief_inverse,
    output_multipliers,
    satellite_multipliers,
    technical_coefficients,
    type_i_multipliers,
)


def random_table(regions: int, sectors: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A productive MRIO: flows Z (n, n), final demand Y (n, R), jobs F (n,)."""
    rng = np.random.default_rng(seed)
    n = regions * sectors
    region = np.repeat(np.arange(regions), sectors)
    # Domestic inputs dominate: a block-heavy, dense table like EXIOBASE's.
    weight = np.where(region[:, None] == region[None, :], 1.0, 0.05)
    Z = rng.gamma(0.5, 1.0, (n, n)) * weight
    Y = rng.gamma(2.0, 1.0, (n, regions)) * (0.5 + rng.random(n))[:, None] * n / regions
    # Each industry's inputs are 30-70 % of its output.
    x_target = Z.sum(axis=0) / (0.3 + 0.4 * rng.random(n))
    Y *= ((x_target - Z.sum(axis=1)).clip(min=1.0) / Y.sum(axis=1))[:, None]
    F = rng.gamma(2.0, 5.0, n)
    return {"Z": Z, "Y": Y, "F": F}


def engine(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    Z, Y, F = table["Z"], table["Y"], table["F"]
    x = Z.sum(axis=1) + Y.sum(axis=1)
    A = technical_coefficients(Z, x)
    L = leontief_inverse(A)
    e = F / x
    return {
        "L": L,
        "output": output_multipliers(L),
        "employment": satellite_multipliers(L, e),
        "type_i": type_i_multipliers(L, e),
    }


def pymrio_all(table: dict[str, np.ndarray], regions: int, sectors: int) -> dict[str, Any]:
    import pymrio

    index = pd.MultiIndex.from_product(
        [[f"r{i}" for i in range(regions)], [f"s{j}" for j in range(sectors)]],
        names=["region", "sector"],
    )
    ycols = pd.MultiIndex.from_product(
        [[f"r{i}" for i in range(regions)], ["final"]], names=["region", "category"]
    )
    io = pymrio.IOSystem(
        Z=pd.DataFrame(table["Z"], index=index, columns=index),
        Y=pd.DataFrame(table["Y"], index=index, columns=ycols),
    )
    io.employment = pymrio.Extension(
        name="employment",
        F=pd.DataFrame(table["F"][None], index=["persons"], columns=index),
        unit=pd.DataFrame({"unit": ["persons"]}, index=["persons"]),
    )
    io.calc_all()
    return {"L": io.L.to_numpy(), "employment": io.employment.M.to_numpy()[0]}


def best_of(rounds: int, runs: dict[str, Callable[[], Any]]) -> tuple[dict[str, float], Any]:
    best = dict.fromkeys(runs, float("inf"))
    results: dict[str, Any] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best, results


def measure(regions: int, sectors: int, rounds: int, threads: int = 1) -> dict[str, Any]:
    """pymrio's ``calc_all`` and the engine's kernels on one random table, interleaved.

    Returns both times (best of ``rounds``), ``ratio`` (pymrio's over the engine's) and
    the largest gaps between their Leontief inverses and employment multipliers,
    relative to the largest entry.
    """
    table = random_table(regions, sectors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pandas deprecations inside pymrio
        with threadpool_limits(limits=threads, user_api="blas"):
            best, results = best_of(
                rounds,
                {
                    "pymrio": partial(pymrio_all, table, regions, sectors),
                    "sim": partial(engine, table),
                },
            )
    ours, theirs = results["sim"], results["pymrio"]
    gaps = {
        key: float(np.abs(ours[key] - theirs[key]).max() / np.abs(theirs[key]).max())
        for key in ("L", "employment")
    }
    return {
        "regions": regions,
        "sectors": sectors,
        "threads": threads,
        "pymrio_seconds": best["pymrio"],
        "sim_seconds": best["sim"],
        "ratio": best["pymrio"] / best["sim"],
        "gap_L": gaps["L"],
        "gap_employment": gaps["employment"],
        "agree": all(gap <= 1e-12 for gap in gaps.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20x50,40x50", help="REGIONSxSECTORS, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for both")
    args = parser.parse_args()
    for size in args.sizes.split(","):
        regions, sectors = (int(v) for v in size.lower().split("x"))
        r = measure(regions, sectors, args.rounds, args.threads)
        print(
            f"{regions} x {sectors} = {regions * sectors} region-sectors, {args.threads} "
            f"BLAS thread(s): pymrio calc_all {r['pymrio_seconds']:.2f} s, "
            f"sim {r['sim_seconds']:.2f} s, ratio {r['ratio']:.2f}; agree to 1e-12: "
            f"{r['agree']} (L {r['gap_L']:.1e}, employment multipliers "
            f"{r['gap_employment']:.1e})"
        )


if __name__ == "__main__":
    main()

"""Synthetic scenarios of any size for the size-scaling and large-case benchmarks.

:func:`write_scenario` writes a trade table, a coefficients table and a YAML
scenario with ``regions`` regions and ``sectors`` sectors into a folder. The
structure follows the seed scenario (two partner regions with a project
portfolio between them, a border-days rule and a cost trend on their flows,
a policy, migration corridors, uncertain elasticities and growth), so that the
engine does the same work per region-sector as in the seed case; only the
numbers are made up. Everything is deterministic given ``seed``.

Usage::

    python3 -m benchmarks.synthetic --regions 10 --sectors 20 --out DIR [--replicas 2000]
                                    [--batch-size 500] [--data-dir data/bench] [--name NAME]
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def region_ids(regions: int) -> list[str]:
    """``R01, R02, ...``."""
    return [f"R{i + 1:02d}" for i in range(regions)]


def sector_ids(sectors: int) -> list[str]:
    """``S01, S02, ...``."""
    return [f"S{i + 1:02d}" for i in range(sectors)]


def trade_table(regions: int, sectors: int, seed: int = 0) -> FloatArray:
    """A positive baseline table (R, R, S) with home bias and gravity-like distance decay.

    Region sizes are log-spread over two orders of magnitude (the last region is a
    large rest of the world), sector weights over one; money per year.
    """
    rng = np.random.default_rng(seed)
    size = np.exp(rng.uniform(np.log(50_000), np.log(5_000_000), regions))
    size[-1] = 50_000_000.0  # a rest of the world
    weight = rng.dirichlet(np.full(sectors, 2.0))
    position = rng.uniform(0.0, 1.0, (regions, 2))
    distance = np.linalg.norm(position[:, None] - position[None], axis=2) + 0.05
    openness = rng.uniform(0.05, 0.25, regions)
    pull = size[None, :] / distance**1.2
    np.fill_diagonal(pull, 0.0)
    pull = pull / pull.sum(axis=1, keepdims=True)
    flows = np.empty((regions, regions, sectors))
    for i in range(regions):
        exports = openness[i] * pull[i]
        exports[i] = 1.0 - openness[i]
        noise = rng.lognormal(0.0, 0.3, (regions, sectors))
        flows[i] = size[i] * exports[:, None] * weight[None, :] * noise
    result: FloatArray = np.maximum(flows, 1e-3 * flows.mean())
    return result


def coefficients(sectors: int, seed: int = 0) -> FloatArray:
    """National technical coefficients (S, S), column sums between 0.35 and 0.6."""
    rng = np.random.default_rng(seed + 1)
    a = rng.uniform(0.0, 1.0, (sectors, sectors)) ** 3 + 0.2 * np.eye(sectors)
    result: FloatArray = a / a.sum(axis=0, keepdims=True) * rng.uniform(0.35, 0.6, sectors)[None, :]
    return result


def _middle(start: str, end: str) -> str:
    """The first of the month halfway through the horizon (where the policy goes)."""
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return (first + (last - first) / 2).replace(day=1).isoformat()


def scenario_dict(
    regions: int,
    sectors: int,
    *,
    name: str | None = None,
    replicas: int = 100,
    batch_size: int | None = None,
    start: str = "2016-01-01",
    end: str = "2035-12-31",
    seed: int = 0,
) -> dict[str, Any]:
    """The scenario as a mapping (data files ``trade.csv`` and ``coefficients.csv``)."""
    rid, sid = region_ids(regions), sector_ids(sectors)
    a, b = rid[0], rid[1]
    flows = trade_table(regions, sectors, seed)
    rng = np.random.default_rng(seed + 2)
    half = sid[: max(1, sectors // 2)]
    mix = {s: round(1.0 / len(half), 12) for s in half}
    mix[half[-1]] = round(1.0 - sum(v for s, v in mix.items() if s != half[-1]), 12)
    invest_mix = {sid[0]: 0.35, sid[-1]: 0.35} if sectors > 1 else {sid[0]: 0.7}
    return {
        "metadata": {
            "name": name or f"bench_{regions}x{sectors}",
            "title": f"Synthetic benchmark scenario, {regions} regions x {sectors} sectors",
            "description": "Made-up numbers with the structure of the seed scenario (benchmarks only).",
            "currency": "USD",
            "money_unit": "million",
            "price_basis": "current",
        },
        "time": {"start": start, "end": end, "step": "quarter"},
        "regions": [{"id": r} for r in rid],
        "sectors": [{"id": s} for s in sid],
        "economy": {
            "growth": {
                r: {2016: round(float(g), 4), 2023: {"dist": "normal", "mean": 0.05, "sd": 0.02}}
                for r, g in zip(rid, rng.uniform(-0.05, 0.12, regions), strict=True)
            },
            "wage": {
                r: round(float(w), 1)
                for r, w in zip(rid, rng.uniform(300, 3000, regions), strict=True)
            },
            "employment": {r: round(float(flows[i].sum() * 60.0)) for i, r in enumerate(rid)},
            "productivity_growth": {
                a: {"dist": "uniform", "low": 0.0, "high": 0.05},
                b: {"dist": "uniform", "low": 0.02, "high": 0.07},
                **{r: 0.03 for r in rid[2:]},
            },
            "labour_force_growth": 0.01,
        },
        "trade": {
            "baseline": {"file": "trade.csv"},
            "elasticity": {
                s: {"dist": "normal", "mean": round(float(m), 2), "sd": round(float(m) / 5, 2)}
                for s, m in zip(sid, rng.uniform(4.0, 10.0, sectors), strict=True)
            },
            "closure": "ratio",
            "numeraire": "world",
        },
        "trade_costs": {
            "cost_per_border_day": {
                "dist": "triangular",
                "low": 0.006,
                "mode": 0.013,
                "high": 0.021,
            },
            "border_days": [{"origin": a, "destination": b, "symmetric": True, "days": 2.0}],
            "trend": [
                {
                    "origin": a,
                    "destination": b,
                    "symmetric": True,
                    "rate": {2016: 0.0, 2017: -0.042, 2020: 0.018, 2024: 0.0},
                }
            ],
        },
        "investment": {
            "jobs_per_capex": 5.0,
            "intensity_year": 2023,
            "output_per_capex": {"dist": "triangular", "low": 0.4, "mode": 0.6, "high": 0.9},
            "construction_jobs_per_capex": {"dist": "triangular", "low": 8, "mode": 15, "high": 25},
            "pipelines": {
                "standard": {
                    "to_financing": {"dist": "lognormal", "median": 2.5, "sigma": 0.5},
                    "to_construction": {"dist": "lognormal", "median": 0.75, "sigma": 0.5},
                    "construction": {"dist": "lognormal", "median": 2.0, "sigma": 0.3},
                    "ramp_up": {"dist": "uniform", "low": 0.5, "high": 2.0},
                    "odds_financing": {"dist": "beta", "a": 7, "b": 3},
                    "odds_construction": 0.9,
                    "odds_operation": 0.95,
                    "abandon_point": 0.9,
                }
            },
            "portfolios": [
                {
                    "id": "ab-operating",
                    "count": 10,
                    "capex_total": 150,
                    "host": b,
                    "investor": a,
                    "sector_mix": mix,
                    "announced": ["2018-01-01", "2021-12-31"],
                    "stage": "operating",
                    "stage_dates": ["2019-06-01", "2024-03-31"],
                    "pipeline": "standard",
                },
                {
                    "id": "ab-preparation",
                    "count": 50,
                    "capex_total": 2000,
                    "capex_dispersion": 0.8,
                    "host": b,
                    "investor": a,
                    "sector_mix": mix,
                    "announced": ["2022-01-01", "2023-12-31"],
                    "pipeline": "standard",
                },
                {
                    "id": "ba-preparation",
                    "count": 40,
                    "capex_total": 1500,
                    "capex_dispersion": 0.8,
                    "host": a,
                    "investor": b,
                    "sector_mix": mix,
                    "announced": ["2022-06-01", "2024-12-31"],
                    "pipeline": "standard",
                },
            ],
            "other": [
                {
                    "origin": b,
                    "destination": a,
                    "amount": {2016: 40, 2023: {"dist": "normal", "mean": 200, "sd": 15}},
                    "growth_after": {"dist": "uniform", "low": 0.0, "high": 0.08},
                }
            ],
        },
        "input_output": {
            "coefficients": {"file": "coefficients.csv"},
            "investment_mix": invest_mix,
            "consumption_propensity": 0.8,
            "induced": True,
        },
        "labour": {
            "migration_elasticity": {"dist": "uniform", "low": 0.5, "high": 1.5},
            "migration": [
                {"origin": a, "destination": b, "flow": 120000, "recruitment": 0.1},
                {"origin": b, "destination": a, "flow": 5000, "recruitment": 0.02},
            ],
        },
        "policies": [
            {
                "date": _middle(start, end),
                "kind": "border_days",
                "origin": a,
                "destination": b,
                "value": {"dist": "uniform", "low": 0.3, "high": 1.0},
                "description": "faster border crossing",
            }
        ],
        "monte_carlo": {
            "replicas": replicas,
            "seed": 20240105 + seed,
            "batch_size": batch_size or replicas,
        },
        "output": {"path": "outputs/{name}.nc"},
    }


def write_scenario(
    folder: str | Path,
    regions: int,
    sectors: int,
    *,
    name: str | None = None,
    replicas: int = 100,
    batch_size: int | None = None,
    start: str = "2016-01-01",
    end: str = "2035-12-31",
    seed: int = 0,
    data_dir: str = ".",
) -> Path:
    """Write ``<name>.yaml`` and its tables ``<name>_trade.csv``, ``<name>_coefficients.csv``.

    Returns the YAML path.

    ``data_dir`` is where the tables go, relative to ``folder`` (the YAML refers to them
    by that relative path).
    """
    folder = Path(folder)
    sc = scenario_dict(
        regions,
        sectors,
        name=name,
        replicas=replicas,
        batch_size=batch_size,
        start=start,
        end=end,
        seed=seed,
    )
    name = str(sc["metadata"]["name"])
    data = folder / data_dir
    data.mkdir(parents=True, exist_ok=True)
    rid, sid = region_ids(regions), sector_ids(sectors)
    flows = trade_table(regions, sectors, seed)
    rows = ["origin,destination,sector,value"]
    rows += [
        f"{rid[i]},{rid[j]},{sid[s]},{flows[i, j, s]:.6g}"
        for i in range(regions)
        for j in range(regions)
        for s in range(sectors)
    ]
    (data / f"{name}_trade.csv").write_text("\n".join(rows) + "\n")
    coef = coefficients(sectors, seed)
    rows = ["region,input,output,value"]
    rows += [
        f"*,{sid[s]},{sid[t]},{coef[s, t]:.6g}"
        for s in range(sectors)
        for t in range(sectors)
        if coef[s, t] > 0
    ]
    (data / f"{name}_coefficients.csv").write_text("\n".join(rows) + "\n")
    prefix = "" if data_dir == "." else f"{data_dir.rstrip('/')}/"
    sc["trade"]["baseline"]["file"] = f"{prefix}{name}_trade.csv"
    sc["input_output"]["coefficients"]["file"] = f"{prefix}{name}_coefficients.csv"
    path = folder / f"{name}.yaml"
    command = f"python3 -m benchmarks.synthetic --regions {regions} --sectors {sectors}"
    command += f" --name {name} --replicas {replicas}"
    if batch_size:
        command += f" --batch-size {batch_size}"
    if seed:
        command += f" --seed {seed}"
    command += f" --out {folder} --data-dir {data_dir}"
    header = (
        f"# Synthetic benchmark scenario, {regions} regions x {sectors} sectors: made-up numbers\n"
        "# with the structure of the seed scenario, for benchmarks only. Written by\n"
        f"# {command}\n"
    )
    path.write_text(header + yaml.safe_dump(sc, sort_keys=False, width=100))
    return path


def main() -> None:
    """Write a synthetic scenario from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regions", type=int, required=True)
    parser.add_argument("--sectors", type=int, required=True)
    parser.add_argument("--out", required=True, help="folder for the YAML")
    parser.add_argument("--data-dir", default=".", help="folder of the tables, relative to --out")
    parser.add_argument("--name", default=None)
    parser.add_argument("--replicas", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = write_scenario(
        args.out,
        args.regions,
        args.sectors,
        name=args.name,
        replicas=args.replicas,
        batch_size=args.batch_size,
        seed=args.seed,
        data_dir=args.data_dir,
    )
    print(path)


if __name__ == "__main__":
    main()

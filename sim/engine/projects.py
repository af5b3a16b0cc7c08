"""The project list: listed projects and portfolios expanded into projects.

A portfolio becomes ``count`` projects with sectors by largest remainder, sizes at
spread lognormal quantiles and evenly spread dates (docs/model.md, section 4).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from sim.engine.calendar import Calendar
from sim.scenario.validate import Scenario

STAGE_KEYS = ("financed", "construction", "operating")
PIPELINE_DEFAULTS = {
    "to_financing": 1.0,
    "to_construction": 0.5,
    "construction": 2.0,
    "ramp_up": 1.0,
    "odds_financing": 1.0,
    "odds_construction": 1.0,
    "odds_operation": 1.0,
    "abandon_point": 0.5,
}

__all__ = [
    "DIRECT_JOBS_KEYS",
    "PIPELINE_DEFAULTS",
    "STAGE_KEYS",
    "Project",
    "direct_jobs_basis",
    "expand_projects",
    "investment_legs",
    "investor_share_matrix",
    "investor_shares",
    "parse_date",
]


@dataclass
class Project:
    """One project after portfolios are expanded."""

    id: str
    key: str  # key path prefix used for its parameter draws
    sector: int
    host: int
    #: (region, share) of the capex each investor pays; shares sum to 1.
    investors: tuple[tuple[int, float], ...]
    capex: Any
    announced: float
    known: tuple[float, float, float]
    pipeline: str
    # How the plant's direct jobs are stated (docs/model.md s.5): jobs per capex, or its
    # output per worker relative to its host region-sector's; exactly one is not None.
    jobs_per_capex: Any
    output_per_capex: Any
    plant_productivity: Any = None
    jobs_key: str = ""  # the key path that states them, for messages

    @property
    def investor(self) -> int:
        """The region paying the largest share (the first listed on a tie): a label."""
        return max(self.investors, key=lambda pair: pair[1])[0]


def investment_legs(
    projects: list[Project],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One leg per (project, investor): the project's index, the investor and its share.

    Sums by investor (capital flows, investment demand) weight a project's spending by
    its share on each leg, so a joint venture's capex is split, never counted twice.
    """
    legs = [(j, i, share) for j, p in enumerate(projects) for i, share in p.investors]
    project = np.array([leg[0] for leg in legs], dtype=np.int64)
    investor = np.array([leg[1] for leg in legs], dtype=np.int64)
    share = np.array([leg[2] for leg in legs], dtype=np.float64)
    return project, investor, share


def investor_share_matrix(projects: list[Project], regions: int) -> np.ndarray:
    """(P, R) share of each project's capex paid by each region; rows sum to 1."""
    out = np.zeros((len(projects), regions))
    for j, p in enumerate(projects):
        for i, share in p.investors:
            out[j, i] += share
    return out


def investor_shares(regions: list[str], entry: dict[str, Any]) -> tuple[tuple[int, float], ...]:
    """``investor: R`` or ``investors: {R: share}`` as (region index, share) pairs."""
    if "investors" in entry:
        return tuple(
            (regions.index(r), float(share)) for r, share in entry["investors"].items() if share
        )
    return ((regions.index(entry["investor"]), 1.0),)


def parse_date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def expand_projects(sc: Scenario, cal: Calendar) -> list[Project]:
    inv = sc.data["investment"]
    regions, sectors = sc.region_ids, sc.sector_ids
    pipelines = inv["pipelines"]
    projects: list[Project] = []
    for index, p in enumerate(inv["projects"]):
        known = tuple(
            cal.model_time(parse_date(p[k])) if p.get(k) else math.nan for k in STAGE_KEYS
        )
        projects.append(
            Project(
                id=p["id"],
                key=f"investment.projects[id={p['id']}]",
                sector=sectors.index(p["sector"]),
                host=regions.index(p["host"]),
                investors=investor_shares(regions, p),
                capex=p["capex"],
                announced=cal.model_time(parse_date(p["announced"])),
                known=known,  # type: ignore[arg-type]
                pipeline=p["pipeline"],
                output_per_capex=p.get("output_per_capex", inv["output_per_capex"]),
                **direct_jobs_basis(sc, p, f"investment.projects[{index}]"),
            )
        )
    for index, g in enumerate(inv["portfolios"]):
        basis = direct_jobs_basis(sc, g, f"investment.portfolios[{index}]")
        projects.extend(_expand_portfolio(sc, cal, g, pipelines, basis))
    return projects


#: Keys that state a plant's direct jobs; a project, portfolio or the investment section
#: gives at most one, the most specific statement applies.
DIRECT_JOBS_KEYS = ("jobs_per_capex", "plant_productivity")


def direct_jobs_basis(sc: Scenario, entry: dict[str, Any], where: str) -> dict[str, Any]:
    """How a project's direct jobs are stated: ``jobs_per_capex`` or ``plant_productivity``.

    The project's (or portfolio's) own key wins over the investment section's; with
    neither anywhere, the plant works at its host region-sector's productivity
    (``plant_productivity`` 1: one productivity basis for plants and suppliers).
    Stating both at one level is refused: they say the same thing two ways.
    """
    inv = sc.data["investment"]
    for level, path in ((entry, where), (inv, "investment")):
        given = [k for k in DIRECT_JOBS_KEYS if k in level]
        if len(given) == 2:
            raise sc.error(
                "jobs_per_capex and plant_productivity both state the plants' direct jobs",
                f"{path}.plant_productivity",
                level["plant_productivity"],
                allowed="one of investment.jobs_per_capex (persons per money of capex) and "
                "investment.plant_productivity (output per worker relative to the host "
                "region-sector's)",
                hint="keep the one your source reports (docs/model.md s.5)",
            )
        if given:
            return {
                "jobs_per_capex": level.get("jobs_per_capex"),
                "plant_productivity": level.get("plant_productivity"),
                "jobs_key": f"{path}.{given[0]}",
            }
    return {
        "jobs_per_capex": None,
        "plant_productivity": 1.0,
        "jobs_key": "investment.plant_productivity (default 1)",
    }


def _radical_inverse(j: int) -> float:
    """Van der Corput sequence in base 2: a spread of positions that ignores sector order."""
    out, f = 0.0, 0.5
    while j:
        out += f * (j & 1)
        j >>= 1
        f /= 2
    return out


def _pipeline_mean(pipelines: dict[str, Any], name: str, key: str) -> float:
    spec = pipelines.get(name, {}).get(key, PIPELINE_DEFAULTS[key])
    if isinstance(spec, dict):
        from sim.kernels.draws import mean

        return mean(spec["dist"], {k: v for k, v in spec.items() if k != "dist"})
    return float(spec)


def _expand_portfolio(
    sc: Scenario,
    cal: Calendar,
    g: dict[str, Any],
    pipelines: dict[str, Any],
    basis: dict[str, Any],
) -> list[Project]:
    regions, sectors = sc.region_ids, sc.sector_ids
    n = g["count"]
    # Sector counts by largest remainder.
    mix = g["sector_mix"]
    quotas = {s: mix.get(s, 0.0) * n for s in sectors}
    counts = {s: math.floor(q) for s, q in quotas.items()}
    for s in sorted(sectors, key=lambda s: quotas[s] - counts[s], reverse=True)[
        : n - sum(counts.values())
    ]:
        counts[s] += 1
    sector_list = [s for s in sectors for _ in range(counts[s])]
    # Deterministic lognormal sizes at spread quantiles.
    u = np.array([(_radical_inverse(j + 1) + 0.5 / n) % 1.0 for j in range(n)])
    u = np.clip(u, 0.5 / n, 1 - 0.5 / n)
    # ndtri is what scipy.stats.norm.ppf computes (bit for bit, tests/test_draws.py).
    weights = np.exp(g["capex_dispersion"] * special.ndtri(u))
    capex = g["capex_total"] * weights / weights.sum()
    a0, a1 = (cal.model_time(parse_date(d)) for d in g["announced"])
    stage = g["stage"]
    if g.get("stage_dates"):
        s0, s1 = (cal.model_time(parse_date(d)) for d in g["stage_dates"])
    else:
        s0 = s1 = math.nan
    name = g["pipeline"]
    to_con = _pipeline_mean(pipelines, name, "to_construction")
    build = _pipeline_mean(pipelines, name, "construction")
    out = []
    for j in range(n):
        frac = (j + 0.5) / n
        announced = a0 + (a1 - a0) * frac
        entered = s0 + (s1 - s0) * frac
        known = [math.nan, math.nan, math.nan]
        # Earlier stages of a project known to be further along are placed at
        # the pipeline's mean durations before the known date.
        if stage == "operating":
            known[2] = entered
            known[1] = max(announced, entered - build)
            known[0] = max(announced, known[1] - to_con)
        elif stage == "construction":
            known[1] = entered
            known[0] = max(announced, entered - to_con)
        elif stage == "financed":
            known[0] = entered
        announced = (
            min(announced, *(k for k in known if not math.isnan(k)))
            if stage != "announced"
            else announced
        )
        pid = f"{g['id']}-{j + 1:03d}"
        out.append(
            Project(
                id=pid,
                key=f"investment.portfolios[id={g['id']}]",
                sector=sectors.index(sector_list[j]),
                host=regions.index(g["host"]),
                investors=investor_shares(regions, g),
                capex=float(capex[j]),
                announced=announced,
                known=(known[0], known[1], known[2]),
                pipeline=name,
                output_per_capex=g.get(
                    "output_per_capex", sc.data["investment"]["output_per_capex"]
                ),
                **basis,
            )
        )
    return out

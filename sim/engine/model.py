"""Build the model as arrays: the static part once, the random part per batch.

:func:`build_model` turns a validated scenario and its tables into a
:class:`Model` (baseline trade, the multi-regional input-output system, the
project list, policies). :func:`draw_batch` draws everything random for a
contiguous range of replicas into a :class:`Batch`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from sim.engine.calendar import Calendar, build_calendar
from sim.engine.params import Sampler
from sim.engine.random import PROJECT, Streams
from sim.errors import DataFileError, NumericalError, ScenarioError
from sim.kernels import leontief
from sim.kernels.draws import quantile
from sim.kernels.equilibrium import (
    EquilibriumBaseline,
    LabourMarkets,
    baseline_jacobian,
    build_equilibrium_baseline,
    build_labour_markets,
    remove_deficits,
)
from sim.kernels.stages import StageDates, draw_stage_dates
from sim.scenario.data import ScenarioData
from sim.scenario.validate import Scenario, region_setting

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
log = logging.getLogger(__name__)

STAGE_KEYS = ("financed", "construction", "operating")
#: Table disagreements already logged in this process (region, sector, gap).
_REPORTED_GAPS: set[tuple[str, str, float]] = set()
#: trade.closure -> the equilibrium kernel's deficit closure.
DEFICIT_CLOSURE = {"ratio": "ratio", "additive": "fixed", "zero": "zero"}
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


@dataclass
class Project:
    """One project after portfolios are expanded."""

    id: str
    key: str  # key path prefix used for its parameter draws
    sector: int
    host: int
    investor: int
    capex: Any
    announced: float
    known: tuple[float, float, float]
    pipeline: str
    jobs_per_capex: Any
    output_per_capex: Any


@dataclass
class Rule:
    """A trade-cost or migration rule: a mask over flows and a value specification."""

    mask: NDArray[np.bool_]  # (R, R, S) or (R, R)
    value: Any
    key: str


@dataclass
class Policy:
    """A dated policy event."""

    period: int
    kind: str
    mask: NDArray[np.bool_]
    value: Any
    key: str
    description: str


@dataclass
class Model:
    """Everything about a scenario that is the same in every replica."""

    scenario: Scenario
    calendar: Calendar
    regions: list[str]
    sectors: list[str]
    flows: FloatArray  # (R, R, S) balanced baseline, money per year
    baseline: EquilibriumBaseline
    labour_markets: LabourMarkets
    # The same markets in full employment: the path without shocks that anchors real wages.
    path_markets: LabourMarkets | None
    # The solver's starting Jacobians at the baseline, at the elasticities' central values
    # (the same for every replica, so a replica's result does not depend on its batch).
    jacobian: FloatArray
    path_jacobian: FloatArray | None
    balance_report: dict[str, float]
    leontief: FloatArray  # (RS, RS)
    leontief_closed: FloatArray  # (RS, RS) industry block of the Type II inverse
    employment: FloatArray  # (R, S) persons employed at the start
    employment_coef: FloatArray  # (R, S) persons per (money per year) of output at the start
    sourcing_goods: FloatArray  # (R_host, RS): investment-goods demand per unit capex spending
    projects: list[Project]
    border_rules: list[Rule]
    tariff_rules: list[Rule]
    trend_rules: list[Rule]
    policies: list[Policy]
    migration: list[dict[str, Any]]
    intensity_year: int
    numeraire: int | None
    deficit_closure: str
    hashes: dict[str, str] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(R, S, P)."""
        return len(self.regions), len(self.sectors), len(self.projects)


def _by_region(spec: Any, regions: list[str]) -> FloatArray:
    if isinstance(spec, dict):
        return np.array([float(spec[r]) for r in regions])
    return np.full(len(regions), float(spec))


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _flow_mask(
    regions: list[str], sectors: list[str], rule: dict[str, Any], *, with_sectors: bool = True
) -> NDArray[np.bool_]:
    n_r, n_s = len(regions), len(sectors)
    origin = np.isin(regions, rule.get("origin", regions))
    dest = np.isin(regions, rule.get("destination", regions))
    pair = origin[:, None] & dest[None, :]
    if rule.get("symmetric", False):
        pair = pair | pair.T
    if rule.get("international_only", True):
        pair = pair & ~np.eye(n_r, dtype=bool)
    if not with_sectors:
        return pair
    sec = np.isin(sectors, rule.get("sectors", sectors))
    return np.broadcast_to(pair[:, :, None] & sec[None, None, :], (n_r, n_r, n_s)).copy()


def balance_trade(sc: Scenario, flows: FloatArray) -> tuple[FloatArray, dict[str, float]]:
    """Compare the table with stated output and expenditure; apply trade.balance_rule.

    Returns the table to use and a report ``{"<region>.output_gap": relative gap, ...}``.
    """
    regions = sc.region_ids
    econ = sc.data["economy"]
    rule = sc.data["trade"]["balance_rule"]
    tol = sc.data["trade"]["balance_tolerance"]
    report: dict[str, float] = {}
    rows, cols = flows.sum(axis=(1, 2)), flows.sum(axis=(0, 2))
    targets: dict[str, FloatArray] = {}
    for name, actual in (("output", rows), ("expenditure", cols)):
        stated = econ.get(name)
        if not stated:
            continue
        target = np.array([stated.get(r, actual[i]) for i, r in enumerate(regions)])
        targets[name] = target
        for i, r in enumerate(regions):
            if r in stated:
                gap = (actual[i] - target[i]) / target[i] if target[i] > 0 else 0.0
                report[f"{r}.{name}_gap"] = float(gap)
                if abs(gap) > tol:
                    log.warning(
                        "baseline trade table does not balance: %s %s is %.6g in the table, "
                        "%.6g stated (%.2f%%); balance_rule=%s",
                        r, name, actual[i], target[i], 100 * gap, rule,
                    )  # fmt: skip
    worst = max((abs(v) for v in report.values()), default=0.0)
    if rule == "report" or worst <= tol:
        return flows, report
    # RAS: scale rows to stated output and columns to stated expenditure, alternately.
    out_t = targets.get("output", rows)
    exp_t = targets.get("expenditure", cols)
    if abs(out_t.sum() - exp_t.sum()) > 1e-9 * out_t.sum():
        raise sc.error(
            "stated world output and expenditure differ, so no table can match both",
            "trade.balance_rule",
            rule,
            allowed="economy.output and economy.expenditure with equal world totals",
            hint="fix the stated totals or use balance_rule: report",
        )
    table = flows.copy()
    for _ in range(10_000):
        table *= (out_t / table.sum(axis=(1, 2)))[:, None, None]
        table *= (exp_t / table.sum(axis=(0, 2)))[None, :, None]
        if np.abs(table.sum(axis=(1, 2)) / out_t - 1).max() < 1e-12:
            break
    report["ras_applied"] = 1.0
    return table, report


def _expand_projects(sc: Scenario, cal: Calendar) -> list[Project]:
    inv = sc.data["investment"]
    regions, sectors = sc.region_ids, sc.sector_ids
    pipelines = inv["pipelines"]
    projects: list[Project] = []
    for p in inv["projects"]:
        known = tuple(cal.model_time(_date(p[k])) if p.get(k) else math.nan for k in STAGE_KEYS)
        projects.append(
            Project(
                id=p["id"],
                key=f"investment.projects[id={p['id']}]",
                sector=sectors.index(p["sector"]),
                host=regions.index(p["host"]),
                investor=regions.index(p["investor"]),
                capex=p["capex"],
                announced=cal.model_time(_date(p["announced"])),
                known=known,  # type: ignore[arg-type]
                pipeline=p["pipeline"],
                jobs_per_capex=p.get("jobs_per_capex", inv["jobs_per_capex"]),
                output_per_capex=p.get("output_per_capex", inv["output_per_capex"]),
            )
        )
    for g in inv["portfolios"]:
        projects.extend(_expand_portfolio(sc, cal, g, pipelines))
    return projects


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
    sc: Scenario, cal: Calendar, g: dict[str, Any], pipelines: dict[str, Any]
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
    weights = np.exp(g["capex_dispersion"] * stats.norm.ppf(u))
    capex = g["capex_total"] * weights / weights.sum()
    a0, a1 = (cal.model_time(_date(d)) for d in g["announced"])
    stage = g["stage"]
    if g.get("stage_dates"):
        s0, s1 = (cal.model_time(_date(d)) for d in g["stage_dates"])
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
                investor=regions.index(g["investor"]),
                capex=float(capex[j]),
                announced=announced,
                known=(known[0], known[1], known[2]),
                pipeline=name,
                jobs_per_capex=g.get("jobs_per_capex", sc.data["investment"]["jobs_per_capex"]),
                output_per_capex=g.get(
                    "output_per_capex", sc.data["investment"]["output_per_capex"]
                ),
            )
        )
    return out


def build_model(sc: Scenario, data: ScenarioData) -> Model:
    """Assemble the static model from a validated scenario and its tables."""
    regions, sectors = sc.region_ids, sc.sector_ids
    n_r, n_s = len(regions), len(sectors)
    t = sc.data["time"]
    cal = build_calendar(t["start"], t["end"], t["step"])
    flows, report = balance_trade(sc, data.trade)
    costs = sc.data["trade_costs"]
    tariffs = [
        Rule(_flow_mask(regions, sectors, r), r["rate"], f"trade_costs.tariffs[{i}].rate")
        for i, r in enumerate(costs["tariffs"])
    ]
    base_tariff = np.zeros((n_r, n_r, n_s))
    for rule in tariffs:
        base_tariff = np.where(rule.mask, float(rule.value), base_tariff)
    _check_table_sums(sc, flows)
    baseline = build_equilibrium_baseline(flows, base_tariff)
    labour_markets = _labour_markets(sc)
    path_markets = (
        build_labour_markets(n_s, labour_markets.mobile, np.zeros(n_r))
        if (labour_markets.elasticity > 0).any()
        else None
    )
    zero_output = np.argwhere(baseline.output <= 0)
    if zero_output.size:
        r, s = zero_output[0]
        raise sc.error(
            f"{regions[r]} has no output of sector {sectors[s]} in the baseline table",
            "trade.baseline.file",
            sc.data["trade"]["baseline"]["file"],
            allowed="positive output (row sum) in every region and sector",
            hint="add the region's domestic sales of the sector",
        )

    # Multi-regional input-output table: given, or national coefficients with inputs
    # sourced by the baseline trade shares.
    io = sc.data["input_output"]
    if data.mrio is not None:
        a_mrio = leontief.technical_coefficients(data.mrio.Z, data.mrio.x)
    else:
        assert data.coefficients is not None  # check_input_output guarantees one source
        a_mrio = leontief.mrio_from_national(data.coefficients, _sourcing(baseline))
    lmat = leontief.leontief_inverse(a_mrio)
    if sc.data["trade"]["linkages"]:
        baseline = _with_linkages(sc, baseline, a_mrio, report)
    theta = np.array(
        [_central(sc.data["trade"]["elasticity"], s) - 1.0 for s in sectors], dtype=float
    )
    if sc.data["trade"]["closure"] == "zero":
        # Caliendo & Parro's first solve, at the elasticities' central values.
        baseline = remove_deficits(baseline, theta)
        flows = baseline.trade
    closure = DEFICIT_CLOSURE[sc.data["trade"]["closure"]]
    numeraire_index = (
        None
        if sc.data["trade"]["numeraire"] == "world"
        else regions.index(sc.data["trade"]["numeraire"])
    )
    jacobian = baseline_jacobian(
        baseline, theta, labour_markets, deficit_closure=closure, numeraire=numeraire_index
    )
    path_jacobian = (
        None
        if path_markets is None
        else baseline_jacobian(
            baseline, theta, path_markets, deficit_closure=closure, numeraire=numeraire_index
        )
    )
    sourcing = _sourcing(baseline)
    labour_share = _by_region(io["labour_income_share"], regions)
    propensity = _by_region(io["consumption_propensity"], regions)
    if io["induced"]:
        income = np.zeros((n_r, n_r * n_s))
        consumption = np.zeros((n_r * n_s, n_r))
        for r in range(n_r):
            income[r, r * n_s : (r + 1) * n_s] = labour_share[r]
            # Household r spends by its expenditure shares, sourced by trade shares.
            consumption[:, r] = (
                propensity[r] * baseline.final_share[r][None, :] * sourcing[:, r, :]
            ).reshape(-1)
        try:
            lstar = leontief.closed_leontief_inverse(a_mrio, income, consumption)[
                : n_r * n_s, : n_r * n_s
            ]
        except NumericalError as exc:
            raise _unproductive_closed_system(sc, data, a_mrio, income, regions, sectors) from exc
    else:
        lstar = lmat.copy()

    econ = sc.data["economy"]
    emp = np.zeros((n_r, n_s))
    satellite = io.get("mrio", {}).get("employment")
    if data.mrio is not None and satellite:
        # Employment per unit of the table's output, applied to the scenario's output.
        per_output = np.divide(
            data.mrio.satellites[satellite] * io["mrio"]["employment_scale"],
            data.mrio.x,
            out=np.zeros_like(data.mrio.x),
            where=data.mrio.x > 0,
        ).reshape(n_r, n_s)
        employment_coef_given: FloatArray | None = per_output
    else:
        employment_coef_given = None
    for r, region in enumerate(regions):
        shares = econ.get("employment_shares", {}).get(region)
        if shares:
            vec = np.array([shares.get(s, 0.0) for s in sectors])
        else:
            vec = baseline.output[r] / baseline.output[r].sum()
        emp[r] = econ["employment"][region] * vec
    employment_coef = (
        emp / baseline.output if employment_coef_given is None else employment_coef_given
    )

    mix = np.array([io["investment_mix"].get(s, 0.0) for s in sectors])
    sourcing_goods = np.zeros((n_r, n_r * n_s))
    for h in range(n_r):
        sourcing_goods[h] = (mix[None, :] * sourcing[:, h, :]).reshape(-1)

    border = [
        Rule(_flow_mask(regions, sectors, r), r["days"], f"trade_costs.border_days[{i}].days")
        for i, r in enumerate(costs["border_days"])
    ]
    trends = [
        Rule(_flow_mask(regions, sectors, r), r["rate"], f"trade_costs.trend[{i}].rate")
        for i, r in enumerate(costs["trend"])
    ]
    policies = []
    for i, p in enumerate(sc.data["policies"]):
        is_migration = p["kind"] == "migration_cap"
        policies.append(
            Policy(
                period=max(cal.period_of(_date(p["date"])), 0),
                kind=p["kind"],
                mask=_flow_mask(regions, sectors, p, with_sectors=not is_migration),
                value=p["value"],
                key=f"policies[{i}].value",
                description=p["description"],
            )
        )
    policies.sort(key=lambda pol: pol.period)
    inv = sc.data["investment"]
    return Model(
        scenario=sc,
        calendar=cal,
        regions=regions,
        sectors=sectors,
        flows=flows,
        baseline=baseline,
        labour_markets=labour_markets,
        path_markets=path_markets,
        jacobian=jacobian,
        path_jacobian=path_jacobian,
        balance_report=report,
        leontief=lmat,
        leontief_closed=lstar,
        employment=emp,
        employment_coef=employment_coef,
        sourcing_goods=sourcing_goods,
        projects=_expand_projects(sc, cal),
        border_rules=border,
        tariff_rules=tariffs,
        trend_rules=trends,
        policies=policies,
        migration=list(sc.data["labour"]["migration"]),
        intensity_year=int(inv.get("intensity_year") or cal.starts[0].year),
        numeraire=numeraire_index,
        deficit_closure=closure,
        hashes=dict(data.hashes),
    )


def _check_table_sums(sc: Scenario, flows: FloatArray) -> None:
    """Refuse a trade table whose row or column sums overflow float64 (about 1.8e308)."""
    with np.errstate(over="ignore"):
        rows, cols = flows.sum(axis=1), flows.sum(axis=0)
    bad = ~(np.isfinite(rows) & np.isfinite(cols))
    if not bad.any():
        return
    r, s = (int(i) for i in np.argwhere(bad)[0])
    raise sc.error(
        f"the trade table's sums overflow: the sales or purchases of "
        f"{sc.region_ids[r]} in {sc.sector_ids[s]} exceed the largest number (about 1.8e308)",
        "trade.baseline.file",
        sc.data["trade"]["baseline"]["file"],
        allowed=f"values in the scenario's money unit whose sums stay finite "
        f"(largest value here: {float(flows.max()):.3g})",
        hint="check the table's unit and scale (metadata.money_unit) and values such as 1e308",
    )


def _sourcing(baseline: EquilibriumBaseline) -> FloatArray:
    """(R, R, S) origin shares of each destination's purchases at producer prices.

    Suppliers receive purchases net of tariffs, so the input-output satellite sources
    inputs, capex goods and consumption with these shares (Chenery-Moses).
    """
    bought = baseline.trade.sum(axis=0, keepdims=True)
    out: FloatArray = np.divide(
        baseline.trade, bought, out=np.zeros_like(baseline.trade), where=bought > 0
    )
    return out


def _labour_markets(sc: Scenario) -> LabourMarkets:
    """The regions' labour markets from labour.mobility, labour.closure and the elasticity."""
    lab = sc.data["labour"]
    mobile = [m == "mobile" for m in region_setting(sc, lab["mobility"])]
    elasticity = [
        0.0 if c == "full_employment" else math.inf if c == "fixed_real_wage" else float(e)
        for c, e in zip(
            region_setting(sc, lab["closure"]),
            region_setting(sc, lab["supply_elasticity"]),
            strict=True,
        )
    ]
    return build_labour_markets(
        len(sc.sector_ids), np.array(mobile, dtype=bool), np.array(elasticity)
    )


def _central(spec: Any, sector: str) -> float:
    """A sector's value of a key given as a number, a distribution or a map by sector."""
    value = spec[sector] if isinstance(spec, dict) and "dist" not in spec else spec
    if isinstance(value, dict):
        from sim.kernels.draws import mean

        return mean(value["dist"], {k: v for k, v in value.items() if k != "dist"})
    return float(value)


def _with_linkages(
    sc: Scenario, baseline: EquilibriumBaseline, a_mrio: FloatArray, report: dict[str, float]
) -> EquilibriumBaseline:
    r"""The baseline with input-output linkages: input shares from the IO coefficients.

    Input shares are the coefficients of the input-output table summed over the
    supplying regions, :math:`\gamma_{jts} = \sum_i A_{(i,s),(j,t)}`, and the
    value-added share is the rest, :math:`\beta_{jt} = 1 - \sum_s \gamma_{jts}`.
    Where the trade table's spending on a sector is below the intermediate use the
    coefficients imply, the tables disagree: the input shares of that sector are
    scaled down in that region until its final demand is zero (the shortfall
    becomes value added), and the gap is reported (``baseline_balance``).
    """
    regions, sectors = sc.region_ids, sc.sector_ids
    n_r, n_s = len(regions), len(sectors)
    # A[(i, s), (j, t)] -> gamma[j, t, s]: input s per unit of output of (j, t).
    gamma = a_mrio.reshape(n_r, n_s, n_r, n_s).sum(axis=0).transpose(1, 2, 0).copy()
    output = baseline.output
    intermediate = np.einsum("jts,jt->js", gamma, output)  # (j, s) use of input s
    excess = intermediate > baseline.spending
    for j, s in zip(*np.nonzero(excess), strict=True):
        gap = intermediate[j, s] / baseline.spending[j, s] - 1.0
        report[f"{regions[j]}.{sectors[s]}.intermediate_use_gap"] = float(gap)
        gamma[j, :, s] *= baseline.spending[j, s] / intermediate[j, s]
        # Once per process and table: calibration and sweeps build the model many times.
        seen = (regions[j], sectors[s], round(float(gap), 12))
        if seen in _REPORTED_GAPS:
            continue
        _REPORTED_GAPS.add(seen)
        log.warning(
            "input-output coefficients imply %s buys %.4g of %s as inputs, more than the "
            "trade table's spending %.4g (%.1f%% more); its input shares are scaled down "
            "to leave no final demand (docs/model.md)",
            regions[j], intermediate[j, s], sectors[s], baseline.spending[j, s], 100 * gap,
        )  # fmt: skip
    beta = 1.0 - gamma.sum(axis=2)
    return build_equilibrium_baseline(baseline.trade, baseline.tariff, beta, gamma)


@dataclass
class Batch:
    """Everything random for a contiguous range of replicas (leading axis N)."""

    first: int
    count: int
    theta: FloatArray  # (N, S)
    cost_per_day: FloatArray  # (N, S)
    growth: FloatArray  # (N, T, R, S) annual growth rate in force in each period
    productivity: FloatArray  # (N, R)
    labour_force: FloatArray  # (N, R)
    wage0: FloatArray  # (N, R)
    border_days: FloatArray  # (N, R, R, S) baseline days
    tariff: FloatArray  # (N, R, R, S) baseline tariffs
    trend: FloatArray  # (N, T, R, R, S) log of the annual iceberg-cost factor in force
    capex: FloatArray  # (N, P)
    jobs_per_capex: FloatArray  # (N, P)
    output_per_capex: FloatArray  # (N, P)
    construction_jobs: FloatArray  # (N,)
    displacement: FloatArray  # (N,)
    stages: StageDates
    ramp_years: FloatArray  # (N, P)
    planned_construction: FloatArray  # (N, P) years
    other_investment: FloatArray  # (N, T, R, R) money per year
    migration_base: FloatArray  # (R, R) persons per year
    migration_recruit: FloatArray  # (N, R, R)
    migration_cap: FloatArray  # (N, R, R) persons per year
    migration_elasticity: FloatArray  # (N,)
    policy_values: list[FloatArray]  # one (N,) array per policy
    drawn: dict[str, FloatArray]


def draw_batch(model: Model, first: int, count: int) -> Batch:
    """Draw every random quantity of replicas ``first .. first+count-1``."""
    sc = model.scenario
    d = sc.data
    regions, sectors = model.regions, model.sectors
    n_r, n_s, n_p = model.shape
    cal = model.calendar
    years = cal.years
    streams = Streams(d["monte_carlo"]["seed"], first, count)
    smp = Sampler(streams)
    econ = d["economy"]

    sigma = smp.by(d["trade"]["elasticity"], "trade.elasticity", sectors)
    theta = sigma - 1.0
    cost_per_day = smp.by(
        d["trade_costs"]["cost_per_border_day"], "trade_costs.cost_per_border_day", sectors
    )

    growth = np.zeros((count, cal.periods, n_r, n_s))
    for r, region in enumerate(regions):
        growth[:, :, r, :] = smp.series(econ["growth"][region], f"economy.growth.{region}", years)[
            :, :, None
        ]
        for s, sector in enumerate(sectors):
            extra = econ.get("sector_growth", {}).get(region, {}).get(sector)
            if extra is not None:
                growth[:, :, r, s] += smp.series(
                    extra, f"economy.sector_growth.{region}.{sector}", years
                )
    productivity = smp.by(econ["productivity_growth"], "economy.productivity_growth", regions)
    labour_force = smp.by(econ["labour_force_growth"], "economy.labour_force_growth", regions)
    wage0 = np.stack([smp.value(econ["wage"][r], f"economy.wage.{r}") for r in regions], axis=1)

    def rule_array(rules: list[Rule]) -> FloatArray:
        out = np.zeros((count, n_r, n_r, n_s))
        for rule in rules:
            value = smp.value(rule.value, rule.key)
            out = np.where(rule.mask[None], value[:, None, None, None], out)
        return out

    border_days = rule_array(model.border_rules)
    tariff = rule_array(model.tariff_rules)
    trend = np.zeros((count, cal.periods, n_r, n_r, n_s))
    for rule in model.trend_rules:
        rate = smp.series(rule.value, rule.key, years)  # (N, T)
        # Rules on the same flow multiply: their log factors add.
        trend += np.log1p(rate)[:, :, None, None, None] * rule.mask[None, None]

    inv = d["investment"]
    capex = np.zeros((count, n_p))
    jobs = np.zeros((count, n_p))
    opc = np.zeros((count, n_p))
    durations = np.zeros((count, n_p, 3))
    ramp = np.zeros((count, n_p))
    odds = np.ones((count, n_p, 3))
    abandon_point = np.zeros((count, n_p))
    uniforms = np.zeros((count, n_p, 3))
    pipeline_cache: dict[str, dict[str, Any]] = {}
    for j, p in enumerate(model.projects):
        capex[:, j] = smp.value(p.capex, f"{p.key}.capex") if isinstance(p.capex, dict) else p.capex
        jobs[:, j] = _shared_value(smp, p.jobs_per_capex, p.key, "jobs_per_capex", inv)
        opc[:, j] = _shared_value(smp, p.output_per_capex, p.key, "output_per_capex", inv)
        spec = inv["pipelines"].get(p.pipeline, {})
        if p.pipeline not in pipeline_cache:
            base = f"investment.pipelines.{p.pipeline}"
            pipeline_cache[p.pipeline] = {
                k: smp.value(spec.get(k, PIPELINE_DEFAULTS[k]), f"{base}.{k}")
                for k in ("odds_financing", "odds_construction", "odds_operation", "abandon_point")
            }
        cached = pipeline_cache[p.pipeline]
        # Per-project stream keyed by the project's id: durations and go/no-go draws.
        u = streams.uniforms(PROJECT, p.id, 7)
        for k, name in enumerate(("to_financing", "to_construction", "construction")):
            durations[:, j, k] = _duration(spec.get(name, PIPELINE_DEFAULTS[name]), u[:, k])
        ramp[:, j] = _duration(spec.get("ramp_up", PIPELINE_DEFAULTS["ramp_up"]), u[:, 3])
        uniforms[:, j, :] = u[:, 4:7]
        odds[:, j, 0] = cached["odds_financing"]
        odds[:, j, 1] = cached["odds_construction"]
        odds[:, j, 2] = cached["odds_operation"]
        abandon_point[:, j] = cached["abandon_point"]
    announced = np.array([p.announced for p in model.projects]) if n_p else np.zeros(0)
    known = np.array([p.known for p in model.projects]) if n_p else np.zeros((0, 3))
    stages = draw_stage_dates(announced, known, durations, odds, uniforms, abandon_point)
    # A known operating date ends construction (whether its start is known or drawn);
    # otherwise construction lasts the drawn duration.
    planned = np.where(
        np.isfinite(known[None, :, 2]),
        known[None, :, 2] - stages.entered[:, :, 2],
        durations[:, :, 2],
    )

    other = np.zeros((count, cal.periods, n_r, n_r))
    for i, o in enumerate(inv["other"]):
        key = f"investment.other[{i}]"
        amount = smp.series(o["amount"], f"{key}.amount", years)
        spec = o["amount"]
        last_year = (
            max(int(y) for y in spec) if isinstance(spec, dict) and "dist" not in spec else None
        )
        if last_year is not None:
            g = smp.value(o["growth_after"], f"{key}.growth_after")
            after = np.maximum(years - last_year, 0)
            amount = amount * (1.0 + g[:, None]) ** after[None, :]
        other[:, :, regions.index(o["origin"]), regions.index(o["destination"])] += amount

    base_flow = np.zeros((n_r, n_r))
    recruit = np.zeros((count, n_r, n_r))
    cap = np.full((count, n_r, n_r), np.inf)
    for i, m in enumerate(model.migration):
        a, b = regions.index(m["origin"]), regions.index(m["destination"])
        key = f"labour.migration[{i}]"
        flow = smp.value(m["flow"], f"{key}.flow")
        base_flow[a, b] = float(np.mean(flow)) if not isinstance(m["flow"], dict) else 0.0
        if isinstance(m["flow"], dict):
            raise sc.error(
                "a baseline migration flow cannot be a distribution",
                f"{key}.flow",
                m["flow"],
                allowed="a number of persons per year",
                hint="give the observed flow; put uncertainty in labour.migration_elasticity",
            )
        recruit[:, a, b] = smp.value(m["recruitment"], f"{key}.recruitment")
        if m.get("cap") is not None:
            cap[:, a, b] = smp.value(m["cap"], f"{key}.cap")
    lab = d["labour"]
    return Batch(
        first=first,
        count=count,
        theta=theta,
        cost_per_day=cost_per_day,
        growth=growth,
        productivity=productivity,
        labour_force=labour_force,
        wage0=wage0,
        border_days=border_days,
        tariff=tariff,
        trend=trend,
        capex=capex,
        jobs_per_capex=jobs,
        output_per_capex=opc,
        construction_jobs=smp.value(
            inv["construction_jobs_per_capex"], "investment.construction_jobs_per_capex"
        ),
        displacement=smp.value(lab["displacement"], "labour.displacement"),
        stages=stages,
        ramp_years=ramp,
        planned_construction=planned,
        other_investment=other,
        migration_base=base_flow,
        migration_recruit=recruit,
        migration_cap=cap,
        migration_elasticity=smp.value(lab["migration_elasticity"], "labour.migration_elasticity"),
        policy_values=[smp.value(p.value, p.key) for p in model.policies],
        drawn=smp.drawn,
    )


def _shared_value(smp: Sampler, spec: Any, key: str, name: str, inv: dict[str, Any]) -> FloatArray:
    # A value inherited from investment.<name> is one draw per replica shared by
    # all projects (a common uncertainty); an override is keyed by the project.
    if spec is inv[name]:
        return smp.value(spec, f"investment.{name}")
    return smp.value(spec, f"{key}.{name}")


def _duration(spec: Any, u: FloatArray) -> FloatArray:
    if isinstance(spec, dict):
        params = {k: float(v) for k, v in spec.items() if k != "dist"}
        return np.maximum(quantile(str(spec["dist"]), params, u), 0.0)
    return np.full(u.shape, float(spec))


__all__ = ["Batch", "Model", "build_model", "draw_batch"]


def _unproductive_closed_system(
    sc: Scenario,
    data: ScenarioData,
    a_mrio: FloatArray,
    income: FloatArray,
    regions: list[str],
    sectors: list[str],
) -> ScenarioError:
    """Locate why the model closed with households is not productive.

    Each column of the closed system spends, per unit of output, its intermediate
    inputs plus the labour income paid to households; a column near or above 1
    makes the induced multipliers infinite. The culprit is the largest input
    coefficient of the column whose closed sum is largest: the error points at its
    row of Z when the table was read from a file without aggregation, otherwise at
    the scenario key that brought the table in.
    """
    closed = a_mrio.sum(axis=0) + income.sum(axis=0)  # (RS,) inputs + labour income
    col = int(np.argmax(closed))
    row = int(np.argmax(a_mrio[:, col]))
    n_s = len(sectors)
    seller = f"{regions[row // n_s]}:{sectors[row % n_s]}"
    buyer = f"{regions[col // n_s]}:{sectors[col % n_s]}"
    problem = (
        "the input-output model closed with households is not productive: "
        f"{buyer} spends {closed[col]:.4g} per unit of output on inputs and labour "
        f"income, most of it on {seller} ({a_mrio[row, col]:.4g} per unit)"
    )
    allowed = "inputs plus labour income below 1 per unit of output in every sector"
    hint = (
        f"check the flow from {seller} to {buyer} in Z (a unit or typing error?), "
        "lower input_output.labour_income_share, or set input_output.induced: false"
    )
    table = data.mrio
    line = 0
    if table is not None and len(table.z_lines) == a_mrio.shape[0]:
        line = table.z_lines[row]
    elif table is not None and table.z_largest_lines.shape == a_mrio.shape:
        line = int(table.z_largest_lines[row, col])  # the source row of the largest flow
    if table is not None and table.z_file and line > 0:
        return DataFileError(
            problem,
            file=table.z_file,
            line=line,
            key=f"{seller} -> {buyer}",
            value=float(table.Z[row, col]),
            allowed=allowed,
            hint=hint,
        )
    key = "input_output.mrio.path" if table is not None else "input_output.coefficients"
    return sc.error(problem, key, allowed=allowed, hint=hint)

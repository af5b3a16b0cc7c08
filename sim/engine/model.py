"""Build the model as arrays: the static part once, the random part per batch.

:func:`build_model` turns a validated scenario and its tables into a
:class:`Model` (baseline trade, the multi-regional input-output system, the
project list, policies). :func:`sim.engine.draw.draw_batch` draws everything
random for a contiguous range of replicas into a :class:`~sim.engine.draw.Batch`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.engine import jobs as jobs_account
from sim.engine.calendar import Calendar, build_calendar
from sim.engine.production import (
    central_value,
    check_table_sums,
    labour_markets_of,
    sourcing_shares,
    unproductive_closed_system,
    with_tables,
)
from sim.engine.projects import Project, expand_projects, parse_date
from sim.kernels import leontief
from sim.kernels.equilibrium import (
    EquilibriumBaseline,
    LabourMarkets,
    baseline_jacobian,
    build_equilibrium_baseline,
    build_labour_markets,
    remove_deficits,
)
from sim.scenario.data import ScenarioData
from sim.scenario.validate import Scenario

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
log = logging.getLogger(__name__)

#: trade.closure -> the equilibrium kernel's deficit closure.
DEFICIT_CLOSURE = {"ratio": "ratio", "additive": "fixed", "zero": "zero"}


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
    covariate: str | None = None  # kind covariate: the gravity covariate that changes


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
    # The same markets in full employment: the path with growth only, without the
    # scenario's shocks, that anchors real wages and against which net employment changes
    # are measured.
    path_markets: LabourMarkets
    # The solver's starting Jacobians at the baseline, at the elasticities' central values
    # (the same for every replica, so a replica's result does not depend on its batch).
    jacobian: FloatArray
    path_jacobian: FloatArray
    balance_report: dict[str, float]
    leontief: FloatArray  # (RS, RS)
    leontief_closed: FloatArray  # (RS, RS) industry block of the Type II inverse
    employment: FloatArray  # (R, S) persons employed at the start
    employment_coef: FloatArray  # (R, S) persons per (money per year) of output at the start
    # The Type II households (sim.engine.jobs.household_closure): labour income per unit
    # of output (jobs x wage, at most value added), value added per unit of output, the
    # annual wage (money per person-year) and output per unit of household income.
    labour_income: FloatArray  # (R, S)
    value_added_share: FloatArray  # (R, S)
    annual_wage: FloatArray  # (R,)
    household_output: FloatArray  # (RS, R)
    sourcing_goods: FloatArray  # (R_host, RS): investment-goods demand per unit capex spending
    investment_mix: FloatArray  # (S,) goods share of capex by sector (input_output)
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
    # Implied employment multipliers at central values and their warnings (sim.engine.jobs).
    multipliers: jobs_account.MultiplierReport | None = None
    # sigma by sector: trade.elasticity, or built from trade.elasticity_table.
    elasticity: Any = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """(R, S, P)."""
        return len(self.regions), len(self.sectors), len(self.projects)

    @property
    def solves_path(self) -> bool:
        """Whether the growth-only path must be solved: to anchor real wages, or to place
        the persons of mobile labour among sectors. With sector-specific labour in full
        employment everywhere, the path's employment is the data's times labour-force
        growth, with no solve."""
        return self.anchors_real_wages or bool(self.labour_markets.mobile.any())

    @property
    def anchors_real_wages(self) -> bool:
        """Whether a region's labour supply answers real wages (against the path)."""
        return bool((self.labour_markets.elasticity > 0).any())


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


#: Lowest sigma drawn from an elasticity table's standard error (theta above 0.01).
MIN_SIGMA = 1.01


def elasticity_spec(sc: Scenario, data: ScenarioData) -> Any:
    """Sigma by sector as trade.elasticity gives it: the scenario's, or from the table.

    A table's theta becomes sigma = theta + 1; with a standard error, a normal
    distribution of sigma (sd = se) truncated at :data:`MIN_SIGMA`.
    """
    table = data.elasticity
    if table is None:
        return sc.data["trade"]["elasticity"]
    out: dict[str, Any] = {}
    for s, sector in enumerate(sc.sector_ids):
        sigma = float(table.theta[s]) + 1.0
        se = 0.0 if table.se is None else float(table.se[s])
        out[sector] = (
            {"dist": "normal", "mean": sigma, "sd": se, "low": MIN_SIGMA} if se > 0 else sigma
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
    # The tariff table's rates (zero where it has no row) under the rules, which override
    # the cells they name (docs/data.md).
    base_tariff = np.zeros((n_r, n_r, n_s)) if data.tariff is None else data.tariff.rates.copy()
    for rule in tariffs:
        base_tariff = np.where(rule.mask, float(rule.value), base_tariff)
    check_table_sums(sc, flows)
    baseline = build_equilibrium_baseline(flows, base_tariff)
    labour_markets = labour_markets_of(sc)
    anchored = bool((labour_markets.elasticity > 0).any())
    path_markets = (
        build_labour_markets(n_s, labour_markets.mobile, np.zeros(n_r))
        if anchored
        else labour_markets
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
    elif data.coefficients is not None:
        a_mrio = leontief.mrio_from_national(data.coefficients, sourcing_shares(baseline))
    else:
        # A trade-only scenario (check_input_output: no linkages): no intermediate inputs.
        a_mrio = np.zeros((n_r * n_s, n_r * n_s))
    lmat = leontief.leontief_inverse(a_mrio)
    # Linkages and the value-added, final-demand and deficit tables (docs/data.md).
    baseline = with_tables(sc, baseline, a_mrio, data, report)
    elasticity = elasticity_spec(sc, data)
    theta = np.array([central_value(elasticity, s) - 1.0 for s in sectors], dtype=float)
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
        baseline_jacobian(
            baseline, theta, path_markets, deficit_closure=closure, numeraire=numeraire_index
        )
        if anchored
        else jacobian
    )
    sourcing = sourcing_shares(baseline)
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
    # Without economy.employment (a trade-only counterfactual) persons are unknown: zero,
    # and no output reports persons (check_run_inputs keeps sim run from starting).
    for r, region in enumerate(regions if econ.get("employment") else []):
        shares = econ.get("employment_shares", {}).get(region)
        if shares:
            vec = np.array([shares.get(s, 0.0) for s in sectors])
        else:
            vec = baseline.output[r] / baseline.output[r].sum()
        emp[r] = econ["employment"][region] * vec
    employment_coef = (
        emp / baseline.output if employment_coef_given is None else employment_coef_given
    )

    # The Type II households: labour income = jobs x economy.wage (at most value added),
    # spent by consumption_propensity (sim.engine.jobs, docs/model.md s.5).
    households = jobs_account.household_closure(
        sc,
        a_mrio,
        lmat,
        employment_coef,
        baseline.final_share,
        sourcing,
        unproductive=lambda income: unproductive_closed_system(
            sc, data, a_mrio, income, regions, sectors
        ),
    )
    jobs_account.warn_capped(sc, households, employment_coef)
    lstar = households.closed

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
                period=max(cal.period_of(parse_date(p["date"])), 0),
                kind=p["kind"],
                mask=_flow_mask(regions, sectors, p, with_sectors=not is_migration),
                value=p["value"],
                key=f"policies[{i}].value",
                description=p["description"],
                covariate=p.get("covariate"),
            )
        )
    policies.sort(key=lambda pol: pol.period)
    inv = sc.data["investment"]
    model = Model(
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
        labour_income=households.labour_income,
        value_added_share=households.value_added,
        annual_wage=households.annual_wage,
        household_output=households.household_output,
        sourcing_goods=sourcing_goods,
        investment_mix=mix,
        projects=expand_projects(sc, cal),
        border_rules=border,
        tariff_rules=tariffs,
        trend_rules=trends,
        policies=policies,
        migration=list(sc.data["labour"]["migration"]),
        intensity_year=int(inv.get("intensity_year") or cal.starts[0].year),
        numeraire=numeraire_index,
        deficit_closure=closure,
        hashes=dict(data.hashes),
        elasticity=elasticity,
    )
    model.multipliers = jobs_account.multiplier_report(model)
    return model


__all__ = ["Model", "Policy", "Project", "Rule", "build_model"]

"""Build the labelled output dataset from the engine's raw arrays.

Every variable carries ``units`` and ``long_name``; flows say their period in
their units, and annual variables are sums over the year (stocks such as jobs:
averages over the year). The dataset's attributes hold the provenance: the
resolved scenario text and its sha256, the sha256 of every data file read, the
engine version and the seed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

import sim
from sim.engine.jobs import JOB_KINDS
from sim.engine.model import Model
from sim.engine.projects import investor_share_matrix
from sim.errors import ScenarioError
from sim.kernels.stages import STAGES
from sim.scenario.load import dump_yaml

FloatArray = NDArray[np.float64]


def money_unit(model: Model) -> str:
    """E.g. ``USD million (current prices)``."""
    md = model.scenario.data["metadata"]
    scale = "" if md["money_unit"] == "one" else f" {md['money_unit']}"
    basis = (
        "current prices"
        if md["price_basis"] == "current"
        else f"constant {md['price_base_year']} prices"
    )
    return f"{md['currency']}{scale} ({basis})"


def current_money_unit(model: Model) -> str:
    """E.g. ``USD million (current prices)``: the unit of the ``*_current`` variables."""
    md = model.scenario.data["metadata"]
    scale = "" if md["money_unit"] == "one" else f" {md['money_unit']}"
    return f"{md['currency']}{scale} (current prices)"


def _flow_unit(model: Model, period: str, money: str | None = None) -> str:
    head, _, basis = (money or money_unit(model)).partition(" (")
    return f"{head} {period} ({basis}"


def has_price_path(model: Model) -> bool:
    """Whether the scenario converts its constant-price money to current money."""
    return bool(model.scenario.data.get("prices"))


def pairs(model: Model) -> list[tuple[int, int]]:
    """International region pairs (a, b) with a < b in scenario order."""
    n = len(model.regions)
    return [(a, b) for a in range(n) for b in range(a + 1, n)]


def build_dataset(
    model: Model,
    arrays: dict[str, FloatArray],
    replicas: NDArray[np.int64],
    events: int,
    parameters: dict[str, FloatArray] | None = None,
    batch_size: int | None = None,
) -> xr.Dataset:
    """Label the raw arrays (leading axes replica, time) as an :class:`xarray.Dataset`.

    ``batch_size``: replicas simulated together, recorded as an attribute (see
    :func:`provenance`).
    """
    cal = model.calendar
    regions, sectors = model.regions, model.sectors
    per = cal.unit
    flow = _flow_unit(model, per)
    flow_year = _flow_unit(model, "per year")
    pair_list = pairs(model)
    pair_labels = [f"{regions[a]}-{regions[b]}" for a, b in pair_list]
    years = np.unique(cal.years)

    trade = arrays["trade"]
    turnover = (
        np.stack(
            [trade[:, :, a, b].sum(-1) + trade[:, :, b, a].sum(-1) for a, b in pair_list], axis=-1
        )
        if pair_list
        else np.zeros((*trade.shape[:2], 0))
    )
    cap_total = arrays["capital_flow_projects"].sum(-1) + arrays["capital_flow_other"]
    expenditure = arrays["expenditure"]
    real_income = expenditure / arrays["price_index"]
    real_change = 100.0 * (real_income / real_income[:, :1] - 1.0)
    gdp = arrays["value_added"].sum(-1) + arrays["tariff_revenue"]

    # A year the run covers in part (it starts or ends inside it) has no annual total: the
    # sum of its simulated periods is part of a year's flow, which tables and targets would
    # read as the year's. Its sums are NaN; averages of levels are over its periods.
    coverage = np.array([(cal.years == y).sum() for y in years]) / cal.per_year

    def annual(values: FloatArray, how: str) -> FloatArray:
        out = []
        for y, share in zip(years, coverage, strict=True):
            sel = values[:, cal.years == y]
            if how != "sum":
                out.append(sel.mean(axis=1))
            else:
                out.append(sel.sum(axis=1) if share == 1.0 else np.full_like(sel[:, 0], np.nan))
        return np.stack(out, axis=1)

    annual_jobs = annual(arrays["jobs"].sum(3), "mean")  # (N, Y, R, kind)
    jobs_year = annual_jobs.sum(axis=2)  # (N, Y, kind)
    direct = jobs_year[..., 0] + jobs_year[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        gross_to_direct = np.stack(
            [
                np.where(direct > 0, (direct + jobs_year[..., 2]) / direct, np.nan),
                np.where(direct > 0, jobs_year.sum(axis=-1) / direct, np.nan),
            ],
            axis=-1,
        )
    multiplier_unit = {"units": "1"}
    wage_unit = model.scenario.data["metadata"]["currency"]
    stage_codes = {
        "flag_values": np.arange(len(STAGES), dtype=np.int8),
        "flag_meanings": " ".join(STAGES),
    }
    r_t = ("replica", "time")
    variables: dict[str, tuple[tuple[str, ...], Any, dict[str, Any]]] = {
        "trade": ((*r_t, "origin", "destination", "sector"), trade,
                  {"units": flow, "long_name": "bilateral trade by sector (domestic sales on the diagonal)"}),
        "trade_turnover": ((*r_t, "pair"), turnover,
                           {"units": flow, "long_name": "trade turnover of the pair (exports plus imports)"}),
        "trade_turnover_annual": (("replica", "year", "pair"), annual(turnover, "sum"),
                                  {"units": flow_year, "long_name": "annual trade turnover of the pair (sum over the year; NaN in a year simulated in part)"}),
        "exports": ((*r_t, "region"), trade.sum(-1).sum(3) - np.einsum("ntiis->nti", trade),
                    {"units": flow, "long_name": "exports to all other regions"}),
        "output": ((*r_t, "region", "sector"), arrays["output"],
                   {"units": flow, "long_name": "gross output value (producer prices)"}),
        "factory_gate_price": ((*r_t, "region", "sector"), arrays["price"],
                               {"units": "1", "long_name": "factory-gate price (unit cost) relative to the start (world value-added or regional CPI numeraire)"}),
        "real_income": ((*r_t, "region"), real_income,
                        {"units": flow, "long_name": "real income: income available for consumption (value added, tariff revenue and the closure's deficit, less what the region's investors pay for investment goods) deflated by the consumer price index change"}),
        "real_income_change": ((*r_t, "region"), real_change,
                               {"units": "percent", "long_name": "real income change since the first period (welfare, includes growth)"}),
        "value_added": ((*r_t, "region", "sector"), arrays["value_added"],
                        {"units": flow, "long_name": "value added (the wage bill: labour is the only factor)"}),
        "tariff_revenue": ((*r_t, "region"), arrays["tariff_revenue"],
                           {"units": flow, "long_name": "tariff revenue of the importing region (rebated to its households)"}),
        "gdp": ((*r_t, "region"), gdp,
                {"units": flow, "long_name": "gross domestic product: value added plus tariff revenue"}),
        "gdp_annual": (("replica", "year", "region"), annual(gdp, "sum"),
                       {"units": flow_year, "long_name": "annual gross domestic product (sum over the year; NaN in a year simulated in part)"}),
        "employment": ((*r_t, "region", "sector"), arrays["employment"],
                       {"units": "persons", "long_name": "employment in the equilibrium under the region's labour closure (average over the period)"}),
        "employment_annual": (("replica", "year", "region"), annual(arrays["employment"].sum(3), "mean"),
                              {"units": "persons", "long_name": "employment in the equilibrium (average over the year)"}),
        "employment_change": ((*r_t, "region", "sector"), arrays["employment_change"],
                              {"units": "persons", "long_name": "net employment change: employment in the equilibrium minus that of the path with growth only (no trade-cost changes, tariff changes, policies or plants), under the region's labour closure (average over the period)"}),
        "employment_change_annual": (("replica", "year", "region"), annual(arrays["employment_change"].sum(3), "mean"),
                                     {"units": "persons", "long_name": "net employment change against the path with growth only (average over the year)"}),
        "real_wage": ((*r_t, "region"), arrays["real_wage"],
                      {"units": "1", "long_name": "average wage deflated by the consumer price index, relative to the start"}),
        "capital_flow_projects": ((*r_t, "origin", "destination", "sector"), arrays["capital_flow_projects"],
                                  {"units": flow, "long_name": "capex of listed projects disbursed, investor (origin) to host (destination)"}),
        "capital_flow_other": ((*r_t, "origin", "destination"), arrays["capital_flow_other"],
                               {"units": flow, "long_name": "investment outside the listed projects"}),
        "investment_goods": ((*r_t, "origin", "destination"), arrays["investment_goods"],
                             {"units": flow, "long_name": "capex goods (input_output.investment_mix) bought in the host (destination) and paid by the investor (origin): investment demand in the equilibrium, at the period's prices"}),
        "capital_flow": ((*r_t, "origin", "destination"), cap_total,
                         {"units": flow, "long_name": "total capital flow (projects plus other investment)"}),
        "capital_flow_annual": (("replica", "year", "origin", "destination"), annual(cap_total, "sum"),
                                {"units": flow_year, "long_name": "annual total capital flow (sum over the year; NaN in a year simulated in part)"}),
        "jobs": ((*r_t, "region", "sector", "kind"), arrays["jobs"],
                 {"units": "persons", "long_name": "jobs created by the cooperation (average over the period)"}),
        "jobs_annual": (("replica", "year", "region", "kind"), annual_jobs,
                        {"units": "persons", "long_name": "jobs created by the cooperation (average over the year)"}),
        "jobs_gross_to_direct": (("replica", "year", "account"), gross_to_direct,
                                 {**multiplier_unit, "long_name": "jobs supported per direct job (construction and operation) in the year, all regions: direct plus indirect (type1) and direct, indirect and induced (type2); NaN in years without direct jobs"}),
        "employment_multiplier_type1": (("replica", "region", "sector"), arrays["employment_multiplier_type1"],
                                        {**multiplier_unit, "long_name": "Type I employment multiplier of the region-sector: persons employed by it and its supply chain per person it employs, (eL)_j / e_j (one productivity basis)"}),
        "employment_multiplier_type2": (("replica", "region", "sector"), arrays["employment_multiplier_type2"],
                                        {**multiplier_unit, "long_name": "Type II employment multiplier of the region-sector: with the household round (labour income = jobs x wage), (eL*)_j / e_j"}),
        "plant_multiplier_type1": (("replica", "region", "sector"), arrays["plant_multiplier_type1"],
                                   {**multiplier_unit, "long_name": "implied Type I employment multiplier of the projects the region-sector hosts at full operation: their own and their suppliers' jobs per job of their own (NaN where it hosts none)"}),
        "plant_multiplier_type2": (("replica", "region", "sector"), arrays["plant_multiplier_type2"],
                                   {**multiplier_unit, "long_name": "implied Type II employment multiplier of the projects the region-sector hosts at full operation, with the household round (NaN where it hosts none)"}),
        "plant_productivity": (("replica", "project"), arrays["plant_productivity"],
                               {**multiplier_unit, "long_name": "output per direct worker of the plant relative to its host region-sector's average: investment.plant_productivity, or implied by jobs_per_capex and output_per_capex"}),
        "migration": ((*r_t, "origin", "destination"), arrays["migration"],
                      {"units": f"persons {per}", "long_name": "gross labour migration flow: the baseline flow scaled by the change in the real wage gap, plus the recruited share of the destination's net new labour demand"}),
        "migrant_stock": ((*r_t, "origin", "destination"), arrays["migrant_stock"],
                          {"units": "persons", "long_name": "migrants from the origin living in the destination at the end of the period (labour.migration[].stock, less returns, plus flows)"}),
        "wage": ((*r_t, "region"), arrays["wage"],
                 {"units": f"{wage_unit} per month ({money_unit(model).partition(' (')[2]}", "long_name": "average wage"}),
        "projects_by_stage": ((*r_t, "stage"), arrays["projects_by_stage"],
                              {"units": "projects", "long_name": "number of projects in each stage"}),
        "project_stage": ((*r_t, "project"), arrays["project_stage"].astype(np.int8),
                          {"units": "1", "long_name": "stage of each project", **stage_codes}),
        "solver_iterations": (r_t, arrays["solver_iterations"],
                              {"units": "1", "long_name": "iterations of the trade equilibrium solver"}),
    }  # fmt: skip
    if has_price_path(model):
        variables.update(_current_money(model, variables, arrays["price_level"], annual))
    if parameters:
        keys = sorted(parameters)
        variables["parameter_draws"] = (
            ("replica", "parameter"),
            np.stack([parameters[k] for k in keys], axis=1),
            {
                "units": "the unit of each parameter's key (docs/scenarios.md)",
                "long_name": "value drawn for each parameter given as a distribution",
            },
        )
    wanted = model.scenario.data["output"]["variables"]
    if wanted:
        unknown = [v for v in wanted if v not in variables]
        if unknown:
            raise model.scenario.error(
                f"unknown output variable '{unknown[0]}'",
                "output.variables",
                unknown[0],
                allowed=", ".join(variables),
                hint="see docs/outputs.md",
            )
        variables = {k: v for k, v in variables.items() if k in wanted}

    projects = model.projects
    coords: dict[str, Any] = {
        "replica": ("replica", replicas, {"long_name": "Monte Carlo replica"}),
        "time": ("time", cal.datetimes(), {"long_name": f"start of period ({cal.step})"}),
        "year": ("year", years, {"long_name": "calendar year"}),
        "year_coverage": (
            "year",
            coverage,
            {
                "units": "1",
                "long_name": "share of the calendar year the run simulates; annual sums are NaN where it is below 1",
            },
        ),
        "region": ("region", regions),
        "origin": ("origin", regions),
        "destination": ("destination", regions),
        "sector": ("sector", sectors),
        "kind": ("kind", list(JOB_KINDS)),
        "account": (
            "account",
            ["type1", "type2"],
            {"long_name": "input-output account: type1 direct and indirect, type2 also induced"},
        ),
        "stage": ("stage", list(STAGES)),
        "pair": ("pair", pair_labels),
        "parameter": ("parameter", sorted(parameters or {})),
        "project": ("project", [p.id for p in projects]),
        "project_sector": ("project", [sectors[p.sector] for p in projects]),
        "project_host": ("project", [regions[p.host] for p in projects]),
        "project_investor": (
            "project",
            [regions[p.investor] for p in projects],
            {"long_name": "investor paying the largest share of the project's capex"},
        ),
        "project_investor_share": (
            ("project", "origin"),
            investor_share_matrix(projects, len(regions)),
            {
                "units": "1",
                "long_name": "share of the project's capex paid by each investor region",
            },
        ),
    }
    data_vars = {name: (dims, values, attrs) for name, (dims, values, attrs) in variables.items()}
    ds = xr.Dataset(data_vars=data_vars, coords=coords)
    ds.attrs.update(provenance(model, events, len(replicas), batch_size))
    return ds


#: Money variables and how each converts to current money: the region axis whose
#: price level applies (trade at the exporter's prices, or one region's with prices.trade_valuation;
#: capex and other investment at the host's; tariff revenue, value added and wages at home).
_PRICED_BY = {
    "trade": "origin",
    "exports": "region",
    "output": "region",
    "value_added": "region",
    "tariff_revenue": "region",
    "gdp": "region",
    "capital_flow_projects": "destination",
    "capital_flow_other": "destination",
    "capital_flow": "destination",
    "investment_goods": "destination",
    "wage": "region",
}


def _current_money(
    model: Model,
    variables: dict[str, tuple[tuple[str, ...], Any, dict[str, Any]]],
    level: FloatArray,
    annual: Any,
) -> dict[str, tuple[tuple[str, ...], Any, dict[str, Any]]]:
    """``NAME_current`` for every money variable: constant money times the price level.

    ``level`` is (N, T, R), the exogenous price level of each region relative to
    ``metadata.price_base_year`` (:func:`sim.kernels.prices.price_levels`).
    """
    current = current_money_unit(model)
    flow = _flow_unit(model, model.calendar.unit, current)
    flow_year = _flow_unit(model, "per year", current)
    out: dict[str, tuple[tuple[str, ...], Any, dict[str, Any]]] = {
        "price_level": (("replica", "time", "region"), level,
                        {"units": "1", "long_name": "price level in the scenario's currency relative to the price base year (GDP deflator times exchange rate; exogenous, from prices.*)"}),
    }  # fmt: skip
    valuation = model.scenario.data["prices"].get("trade_valuation", "exporter")
    at_home = level
    if valuation != "exporter":
        # Every flow at one region's prices (world prices for price-taking economies).
        world = level[:, :, model.regions.index(valuation)]
        at_home = np.repeat(world[:, :, None], level.shape[2], axis=2)
    for name, axis in _PRICED_BY.items():
        dims, values, attrs = variables[name]
        where = dims.index(axis)
        # Broadcast (N, T, R) onto the variable's axes: R sits at the axis `where`.
        shape = [1] * len(dims)
        shape[0], shape[1], shape[where] = level.shape
        factor = (at_home if name in ("trade", "exports") else level).reshape(shape)
        if name == "trade" and valuation != "exporter":
            # Domestic sales (the diagonal) never cross a border: at home prices, so that a
            # region's sales are its output in current money as in constant money; only
            # the flows between regions are at the valuation region's level.
            n_r = level.shape[2]
            factor = np.broadcast_to(factor, (*level.shape[:2], n_r, n_r, 1)).copy()
            home = np.arange(n_r)
            factor[:, :, home, home, 0] = level
        unit = f"{attrs['units'].split(' (')[0]} ({current.partition(' (')[2]}"
        if name != "wage":
            unit = flow
        out[f"{name}_current"] = (dims, values * factor,
                                  {"units": unit, "long_name": f"{attrs['long_name']}, in current money"})  # fmt: skip
    trade = out["trade_current"][1]
    pair_list = pairs(model)
    turnover = (
        np.stack(
            [trade[:, :, a, b].sum(-1) + trade[:, :, b, a].sum(-1) for a, b in pair_list], axis=-1
        )
        if pair_list
        else np.zeros((*trade.shape[:2], 0))
    )
    gdp = out["gdp_current"][1]
    capital = out["capital_flow_current"][1]
    out.update({
        "trade_turnover_current": (("replica", "time", "pair"), turnover,
                                   {"units": flow, "long_name": f"trade turnover of the pair (exports plus imports), in current money (each flow at the {'exporter' if valuation == 'exporter' else valuation}'s price level)"}),
        "trade_turnover_annual_current": (("replica", "year", "pair"), annual(turnover, "sum"),
                                          {"units": flow_year, "long_name": "annual trade turnover of the pair, in current money (as trade statistics publish it; NaN in a year simulated in part)"}),
        "gdp_annual_current": (("replica", "year", "region"), annual(gdp, "sum"),
                               {"units": flow_year, "long_name": "annual gross domestic product, in current money (NaN in a year simulated in part)"}),
        "capital_flow_annual_current": (("replica", "year", "origin", "destination"), annual(capital, "sum"),
                                        {"units": flow_year, "long_name": "annual total capital flow, in current money (at the host's price level; NaN in a year simulated in part)"}),
    })  # fmt: skip
    return out


def multiplier_attributes(model: Model) -> dict[str, Any]:
    """The implied employment multipliers at central values, their thresholds and warnings."""
    report = model.multipliers
    if report is None:
        return {}
    limits = model.scenario.data["input_output"]["multiplier_warning"]
    return {
        "employment_multipliers": report.attribute(model),
        "employment_multiplier_thresholds": json.dumps(
            {"type1": float(limits["type1"]), "type2": float(limits["type2"])}, sort_keys=True
        ),
        "employment_multiplier_warnings": json.dumps(report.warnings),
    }


def provenance(
    model: Model, events: int, replicas: int, batch_size: int | None = None
) -> dict[str, Any]:
    """Attributes recording where the numbers come from.

    ``batch_size`` (replicas simulated together), when given, is recorded: the
    equilibrium solver's results depend on the batch at its tolerance (docs/model.md),
    so a rerun needs it to give the same bits (sim rerun), and it may differ from the
    scenario's ``monte_carlo.batch_size`` (``--batch-size``, or a batch shrunk to fit
    in memory).
    """
    sc = model.scenario
    text = dump_yaml(sc.data)
    md = sc.data["metadata"]
    return {
        "title": md["title"] or md["name"],
        "scenario_name": md["name"],
        "scenario_yaml": text,
        "scenario_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "scenario_files": json.dumps(sc.files),
        "data_files_sha256": json.dumps(model.hashes, sort_keys=True),
        "engine": "sim",
        "engine_version": sim.__version__,
        "seed": int(sc.data["monte_carlo"]["seed"]),
        "replicas": int(replicas),
        **({"batch_size": int(batch_size)} if batch_size is not None else {}),
        "money_unit": money_unit(model),
        **({"current_money_unit": current_money_unit(model)} if has_price_path(model) else {}),
        "period": model.calendar.step,
        "deficit_closure": sc.data["trade"]["closure"],
        "numeraire": sc.data["trade"]["numeraire"],
        "baseline_balance": json.dumps(model.balance_report, sort_keys=True),
        **multiplier_attributes(model),
        "simpy_events": int(events),
        "Conventions": "CF-1.8",
    }


__all__ = [
    "ScenarioError",
    "build_dataset",
    "current_money_unit",
    "has_price_path",
    "money_unit",
    "multiplier_attributes",
    "pairs",
    "provenance",
]

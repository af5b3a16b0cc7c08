"""A static counterfactual: one baseline, one shock, no calendar.

What gegravity and the Caliendo-Parro replication code compute: the scenario's
baseline (trade table, tariffs, input-output linkages, labour closures) and every
policy of the scenario applied at once, whatever its date, solved as one general
equilibrium in changes for every replica of the uncertain parameters
(elasticities, border-day costs, policy values). No growth, no projects, no
migration: the changes are the policies' alone. Each region's welfare change is split
into the Caliendo-Parro parts (terms of trade, volume of trade, technical efficiency of
trade costs, employment, deficit, approximation residual; :mod:`sim.kernels.welfare`).

The entry point reads like the engine's: load, validate, build, draw, solve, collect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from sim.engine.checks import check_converged
from sim.engine.draw import Batch, covariate_factor, draw_batch
from sim.engine.model import Model
from sim.engine.simulate import employed_persons
from sim.kernels.equilibrium import EquilibriumSolution, solve_equilibrium
from sim.kernels.welfare import decompose_solution
from sim.results.dataset import money_unit, pairs, provenance
from sim.threads import limit_blas

FloatArray = NDArray[np.float64]

__all__ = ["apply_policies", "build_counterfactual_dataset", "solve_counterfactual"]


def apply_policies(model: Model, batch: Batch) -> tuple[FloatArray, FloatArray]:
    """Iceberg-cost changes and tariffs with every trade policy in force, (N, R, R, S) each.

    Policies act in date order, as in the engine: ``border_days`` and ``tariff`` set
    the rate of the flows they name, ``trade_cost`` multiplies their iceberg cost, and
    ``covariate`` multiplies it by the gravity covariate's effect;
    ``migration_cap`` does not enter the equilibrium.
    """
    days = batch.border_days.copy()
    tariff = batch.tariff.copy()
    iceberg = np.ones_like(days)
    for policy, value in zip(model.policies, batch.policy_values, strict=True):
        if policy.kind == "migration_cap":
            continue
        v = value[:, None, None, None]
        mask = policy.mask[None]
        if policy.kind == "trade_cost":
            iceberg = np.where(mask, iceberg * v, iceberg)
        elif policy.kind == "covariate":
            factor = covariate_factor(value, batch.theta)[:, None, None, :]
            iceberg = np.where(mask, iceberg * factor, iceberg)
        elif policy.kind == "border_days":
            days = np.where(mask, v, days)
        else:
            tariff = np.where(mask, v, tariff)
    per_day = batch.cost_per_day[:, None, None, :]
    cost: FloatArray = iceberg * (1.0 + per_day * days) / (1.0 + per_day * batch.border_days)
    return cost, tariff


def solve_counterfactual(model: Model, batch: Batch) -> EquilibriumSolution:
    """The equilibrium with every policy in force, relative to the baseline."""
    cost, tariff = apply_policies(model, batch)
    trade = model.scenario.data["trade"]
    return solve_equilibrium(
        model.baseline,
        batch.theta,
        model.labour_markets,
        cost_change=cost,
        tariff=tariff,
        deficit_closure=model.deficit_closure,
        numeraire=model.numeraire,
        jacobian=model.jacobian,
        tol=trade["tolerance"],
        max_iter=trade["max_iterations"],
    )


def build_counterfactual_dataset(
    model: Model, batch: Batch, sol: EquilibriumSolution
) -> xr.Dataset:
    """Label the counterfactual: levels, changes and the replicas' draws."""
    regions, sectors = model.regions, model.sectors
    money = money_unit(model)
    head, _, basis = money.partition(" (")
    per_year = f"{head} per year ({basis}"
    base = model.baseline
    pair_list = pairs(model)

    def turnover(trade: FloatArray) -> FloatArray:
        return np.stack(
            [trade[..., a, b, :].sum(-1) + trade[..., b, a, :].sum(-1) for a, b in pair_list],
            axis=-1,
        )

    before = turnover(base.trade) if pair_list else np.zeros(0)
    after = turnover(sol.trade) if pair_list else np.zeros((batch.count, 0))
    has_persons = bool(model.scenario.data["economy"].get("employment"))
    persons = (
        employed_persons(model, sol.employment, sol.employment_group)
        if has_persons
        else np.zeros_like(sol.employment)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        trade_change = np.where(base.trade > 0, 100.0 * (sol.trade / base.trade - 1.0), 0.0)
    r = ("replica",)
    # Caliendo-Parro parts of the welfare change, percent of baseline income; the static
    # counterfactual has no productivity shocks, so no productivity part.
    cost, _ = apply_policies(model, batch)
    parts = decompose_solution(base, sol, cost_change=cost)
    flow = (*r, "region", "partner", "sector")
    share = "percent of baseline income"
    variables: dict[str, tuple[tuple[str, ...], Any, dict[str, str]]] = {
        "trade_baseline": (("origin", "destination", "sector"), base.trade,
                           {"units": per_year, "long_name": "baseline trade at producer prices (domestic sales on the diagonal)"}),
        "trade": ((*r, "origin", "destination", "sector"), sol.trade,
                  {"units": per_year, "long_name": "trade with every policy in force, at producer prices (numeraire units)"}),
        "trade_change": ((*r, "origin", "destination", "sector"), trade_change,
                         {"units": "percent", "long_name": "change of trade from the baseline"}),
        "trade_turnover_baseline": (("pair",), before,
                                    {"units": per_year, "long_name": "baseline trade turnover of the pair"}),
        "trade_turnover": ((*r, "pair"), after,
                           {"units": per_year, "long_name": "trade turnover of the pair with every policy in force"}),
        "real_income_change": ((*r, "region"), 100.0 * (sol.real_income - 1.0),
                               {"units": "percent", "long_name": "welfare: change of income deflated by the consumer price index"}),
        "real_wage_change": ((*r, "region", "sector"), 100.0 * (sol.real_wage - 1.0),
                             {"units": "percent", "long_name": "change of the wage deflated by the consumer price index"}),
        "employment_change": ((*r, "region", "sector"), persons - model.employment[None],
                              {"units": "persons", "long_name": "net change of employment under the region's labour closure"}),
        "employment_change_percent": ((*r, "region", "sector"), 100.0 * (sol.employment - 1.0),
                                      {"units": "percent", "long_name": "change of employment under the region's labour closure (in baseline wage-bill units)"}),
        "employment_change_percent_total": ((*r, "region"), 100.0 * (np.einsum("rs,nrs->nr", base.value_added, sol.employment) / base.value_added.sum(axis=1)[None] - 1.0),
                                            {"units": "percent", "long_name": "change of the region's employment under its labour closure (in baseline wage-bill units)"}),
        "value_added_change": ((*r, "region", "sector"),
                               100.0 * (np.divide(sol.value_added, base.value_added[None], out=np.ones_like(sol.value_added), where=base.value_added[None] > 0) - 1.0),
                               {"units": "percent", "long_name": "change of value added (numeraire units)"}),
        "tariff_revenue": ((*r, "region"), sol.tariff_revenue,
                           {"units": per_year, "long_name": "tariff revenue of the importing region (numeraire units)"}),
        "cpi_change": ((*r, "region"), 100.0 * (sol.cpi - 1.0),
                       {"units": "percent", "long_name": "change of the consumer price index (numeraire units)"}),
        "welfare_terms_of_trade": (flow, 100.0 * parts.terms_of_trade,
                                   {"units": share, "long_name": "welfare, terms-of-trade part (Caliendo-Parro): exports to the partner at the region's unit-cost change less imports at the partner's, baseline flows"}),
        "welfare_volume_of_trade": (flow, 100.0 * parts.volume_of_trade,
                                    {"units": share, "long_name": "welfare, volume-of-trade part (Caliendo-Parro): baseline tariff times the change of the quantity imported from the partner"}),
        "welfare_technical_efficiency": (flow, 100.0 * parts.technical_efficiency,
                                         {"units": share, "long_name": "welfare, technical-efficiency part: tariff-inclusive baseline imports from the partner times the fall of their iceberg cost"}),
        "welfare_terms_of_trade_total": ((*r, "region"), 100.0 * parts.terms_of_trade.sum(axis=(2, 3)),
                                         {"units": share, "long_name": "welfare, terms-of-trade part summed over partners and sectors"}),
        "welfare_volume_of_trade_total": ((*r, "region"), 100.0 * parts.volume_of_trade.sum(axis=(2, 3)),
                                          {"units": share, "long_name": "welfare, volume-of-trade part summed over partners and sectors"}),
        "welfare_technical_efficiency_total": ((*r, "region"), 100.0 * parts.technical_efficiency.sum(axis=(2, 3)),
                                               {"units": share, "long_name": "welfare, technical-efficiency part summed over partners and sectors"}),
        "welfare_employment": ((*r, "region"), 100.0 * parts.employment.sum(axis=2),
                               {"units": share, "long_name": "welfare, employment part: labour income of the change of employment at baseline wages"}),
        "welfare_deficit": ((*r, "region"), 100.0 * parts.deficit,
                            {"units": share, "long_name": "welfare, deficit part: change of the region's deficit (numeraire units)"}),
        "welfare_residual": ((*r, "region"), 100.0 * parts.residual,
                             {"units": share, "long_name": "welfare, approximation residual: real_income_change less the first-order parts (second order in the shock)"}),
        "solver_iterations": (r, sol.replica_iterations,
                              {"units": "1", "long_name": "Newton steps of the general equilibrium"}),
    }  # fmt: skip
    if not has_persons:
        # A trade-only scenario gives no persons: employment changes in percent only.
        del variables["employment_change"]
    keys = sorted(batch.drawn)
    if keys:
        variables["parameter_draws"] = (
            ("replica", "parameter"),
            np.stack([batch.drawn[k] for k in keys], axis=1),
            {"units": "the unit of each parameter's key (docs/scenarios.md)",
             "long_name": "value drawn for each parameter given as a distribution"},
        )  # fmt: skip
    coords: dict[str, Any] = {
        "replica": ("replica", np.arange(batch.first, batch.first + batch.count)),
        "region": ("region", regions),
        "origin": ("origin", regions),
        "destination": ("destination", regions),
        "partner": ("partner", regions),
        "sector": ("sector", sectors),
        "pair": ("pair", [f"{regions[a]}-{regions[b]}" for a, b in pair_list]),
        "parameter": ("parameter", keys),
    }
    ds = xr.Dataset(data_vars=variables, coords=coords)
    ds.attrs.update(provenance(model, 0, batch.count))
    ds.attrs["mode"] = "static counterfactual: every policy in force, no growth, no projects"
    ds.attrs["policies"] = "; ".join(p.description for p in model.policies) or "none"
    return ds


def counterfactual(model: Model) -> xr.Dataset:
    """Draw every replica of a built model, solve the counterfactual and label it."""
    replicas = int(model.scenario.data["monte_carlo"]["replicas"])
    batch = draw_batch(model, 0, replicas)
    with limit_blas():  # small batched algebra: one BLAS thread unless told (sim.threads)
        solution = solve_counterfactual(model, batch)
    check_converged(solution, model)
    return build_counterfactual_dataset(model, batch, solution)


def default_path(model: Model) -> Path:
    """``outputs/<name>.counterfactual.nc``."""
    return Path("outputs") / f"{model.scenario.data['metadata']['name']}.counterfactual.nc"

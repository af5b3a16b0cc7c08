"""The baseline economy the equilibrium starts from: checks, linkages, labour markets.

Helpers of :func:`sim.engine.model.build_model`: the trade table's sums, the input
shares from the input-output and value-added tables, the comparison of the final-demand
and deficit tables with the trade table (and the rule where the tables disagree,
docs/data.md), the regions' labour markets, the sourcing shares of the input-output
satellite, and the location of an unproductive input-output system.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.errors import DataFileError, ScenarioError
from sim.kernels.equilibrium import (
    EquilibriumBaseline,
    LabourMarkets,
    build_equilibrium_baseline,
    build_labour_markets,
)
from sim.scenario.data import ScenarioData
from sim.scenario.tables import RegionTable
from sim.scenario.validate import Scenario, region_setting

FloatArray = NDArray[np.float64]
log = logging.getLogger(__name__)

#: Table disagreements already logged in this process (kind, region, sector, gap).
_REPORTED_GAPS: set[tuple[object, ...]] = set()
#: Relative gaps between tables below this are rounding, not reported.
REPORT_FLOOR = 1e-9

__all__ = [
    "central_value",
    "check_table_sums",
    "compare_tables",
    "labour_markets_of",
    "sourcing_shares",
    "unproductive_closed_system",
    "value_added_shares",
    "with_linkages",
    "with_tables",
]


def check_table_sums(sc: Scenario, flows: FloatArray) -> None:
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


def sourcing_shares(baseline: EquilibriumBaseline) -> FloatArray:
    """(R, R, S) origin shares of each destination's purchases at producer prices.

    Suppliers receive purchases net of tariffs, so the input-output satellite sources
    inputs, capex goods and consumption with these shares (Chenery-Moses).
    """
    bought = baseline.trade.sum(axis=0, keepdims=True)
    out: FloatArray = np.divide(
        baseline.trade, bought, out=np.zeros_like(baseline.trade), where=bought > 0
    )
    return out


def labour_markets_of(sc: Scenario) -> LabourMarkets:
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


def central_value(spec: Any, sector: str) -> float:
    """A sector's value of a key given as a number, a distribution or a map by sector."""
    value = spec[sector] if isinstance(spec, dict) and "dist" not in spec else spec
    if isinstance(value, dict):
        from sim.kernels.draws import mean

        return mean(value["dist"], {k: v for k, v in value.items() if k != "dist"})
    return float(value)


def with_tables(
    sc: Scenario,
    baseline: EquilibriumBaseline,
    a_mrio: FloatArray,
    data: ScenarioData,
    report: dict[str, float],
) -> EquilibriumBaseline:
    """The baseline with input-output linkages (``trade.linkages``) and the optional tables.

    With linkages, :func:`with_linkages`. Without, value added is gross output, so a
    value-added table is refused; final demand and deficit tables are compared with
    the trade table (:func:`compare_tables`).
    """
    if sc.data["trade"]["linkages"]:
        return with_linkages(sc, baseline, a_mrio, report, data)
    if data.value_added is not None:
        raise sc.error(
            "economy.value_added gives value-added shares, but without input-output linkages "
            "value added is gross output",
            "economy.value_added.file",
            sc.data["economy"]["value_added"]["file"],
            allowed="economy.value_added with trade.linkages: true and an input-output table",
            hint="set trade.linkages: true, or remove economy.value_added",
        )
    compare_tables(sc, baseline, np.zeros_like(baseline.spending), data, report)
    return baseline


def with_linkages(
    sc: Scenario,
    baseline: EquilibriumBaseline,
    a_mrio: FloatArray,
    report: dict[str, float],
    data: ScenarioData | None = None,
) -> EquilibriumBaseline:
    r"""The baseline with input-output linkages: input shares from the IO coefficients.

    Input shares are the coefficients of the input-output table summed over the
    supplying regions, :math:`\gamma_{jts} = \sum_i A_{(i,s),(j,t)}`, and the
    value-added share is the rest, :math:`\beta_{jt} = 1 - \sum_s \gamma_{jts}`.
    With a value-added table (``economy.value_added``), :math:`\beta_{jt} =
    V_{jt}/Y_{jt}` and the input shares are rescaled to sum to :math:`1 - \beta_{jt}`,
    keeping their proportions (:func:`value_added_shares`). Final demand and
    deficit tables are compared with the trade table (:func:`compare_tables`).
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
    if data is not None and data.value_added is not None:
        gamma = value_added_shares(sc, data.value_added, gamma, output)
    stated_beta = 1.0 - gamma.sum(axis=2)
    intermediate = np.einsum("jts,jt->js", gamma, output)  # (j, s) use of input s
    if data is not None:
        compare_tables(sc, baseline, intermediate, data, report)
    excess = intermediate > baseline.spending
    for j, s in zip(*np.nonzero(excess), strict=True):
        gap = intermediate[j, s] / baseline.spending[j, s] - 1.0
        report[f"{regions[j]}.{sectors[s]}.intermediate_use_gap"] = float(gap)
        gamma[j, :, s] *= baseline.spending[j, s] / intermediate[j, s]
        _warn_once(
            ("intermediate", regions[j], sectors[s], round(float(gap), 12)),
            "input-output coefficients imply %s buys %.4g of %s as inputs, more than the "
            "trade table's spending %.4g (%.1f%% more); its input shares are scaled down "
            "to leave no final demand (docs/model.md)",
            regions[j], intermediate[j, s], sectors[s], baseline.spending[j, s], 100 * gap,
        )  # fmt: skip
    beta = 1.0 - gamma.sum(axis=2)
    if data is not None and data.value_added is not None:
        # The rule above raises value added above the table's where it binds.
        for j, t in np.argwhere(beta > stated_beta * (1.0 + 1e-12)):
            key = f"{regions[j]}.{sectors[t]}.value_added_gap"
            report[key] = float(beta[j, t] / stated_beta[j, t] - 1.0)
    return build_equilibrium_baseline(baseline.trade, baseline.tariff, beta, gamma)


def value_added_shares(
    sc: Scenario, table: RegionTable, gamma: FloatArray, output: FloatArray
) -> FloatArray:
    r"""Input shares rescaled to :math:`1 - \beta` with :math:`\beta = V / Y` from a table.

    ``gamma`` is (region, using sector, input sector); each row keeps its proportions.
    Value added must be positive and at most gross output (the trade table's row sum),
    and a sector with value added below output needs some input in the input-output table.
    """
    regions, sectors = sc.region_ids, sc.sector_ids
    va = table.values
    inputs = gamma.sum(axis=2)
    beta = va / output
    for r, s in np.argwhere((va <= 0) | (va > output * (1.0 + 1e-12))):
        line = int(table.lines[r, s]) or None
        cell = f"{regions[r]}/{sectors[s]}"
        if line is None:
            problem = f"no row of the value-added table maps onto {cell}, which produces"
        elif va[r, s] <= 0:
            problem = f"value added of {cell} is {va[r, s]:.6g}, but the sector produces"
        else:
            problem = (
                f"value added of {cell} is {va[r, s]:.6g}, above its gross output "
                f"{output[r, s]:.6g} (the trade table's sales, net of tariffs)"
            )
        raise DataFileError(
            problem,
            file=table.file,
            line=line,
            value=float(va[r, s]),
            allowed=f"value added in (0, {output[r, s]:.6g}], gross output less intermediate "
            "inputs, in the scenario's money unit per year",
            hint="check the row's unit (metadata.money_unit), year and concordance, and the "
            "trade table's sales of the sector",
        )
    for r, s in np.argwhere((beta < 1.0 - 1e-12) & (inputs <= 0)):
        raise DataFileError(
            f"value added of {regions[r]}/{sectors[s]} is {beta[r, s]:.4g} of its gross output, "
            "but the input-output table gives the sector no intermediate inputs to pay the rest",
            file=table.file,
            line=int(table.lines[r, s]) or None,
            value=float(va[r, s]),
            allowed="value added equal to gross output for a sector without inputs",
            hint="give the sector's input coefficients in the input-output table",
        )
    scale = np.divide(1.0 - beta, inputs, out=np.zeros_like(inputs), where=inputs > 0)
    out: FloatArray = gamma * scale[:, :, None]
    return out


def compare_tables(
    sc: Scenario,
    baseline: EquilibriumBaseline,
    intermediate: FloatArray,
    data: ScenarioData,
    report: dict[str, float],
) -> None:
    """Compare the final-demand and deficit tables with the trade table; report the gaps.

    The trade table is kept (docs/data.md): the baseline's spending is its column sums
    including tariffs, final demand is spending less intermediate use, and the deficits
    are what it implies. A final-demand table gives, for each region and sector,
    ``<region>.<sector>.final_demand_gap`` = (intermediate use + final demand) / spending
    - 1; a deficit table ``<region>.deficit_gap`` = (stated - implied deficit) / the
    region's spending. Gaps above 1e-9 go to ``report``, above ``trade.balance_tolerance``
    to the log as well.
    """
    regions, sectors = sc.region_ids, sc.sector_ids
    tol = float(sc.data["trade"]["balance_tolerance"])
    spending = baseline.spending
    if data.final_demand is not None:
        table = data.final_demand
        gap = (intermediate + table.values) / spending - 1.0
        for j, s in np.argwhere(np.abs(gap) > REPORT_FLOOR):
            report[f"{regions[j]}.{sectors[s]}.final_demand_gap"] = float(gap[j, s])
            if abs(gap[j, s]) <= tol:
                continue
            _warn_once(
                ("final_demand", regions[j], sectors[s], round(float(gap[j, s]), 12)),
                "tables disagree: %s spends %.6g on %s in the trade table (tariffs included), "
                "but intermediate use %.6g plus final demand %.6g (%s:%d) make %.6g (%+.2f%%); "
                "the trade table is kept, final demand in the baseline is %.6g (docs/data.md)",
                regions[j], spending[j, s], sectors[s], intermediate[j, s], table.values[j, s],
                table.file, table.lines[j, s], intermediate[j, s] + table.values[j, s],
                100 * gap[j, s], max(spending[j, s] - intermediate[j, s], 0.0),
            )  # fmt: skip
    if data.deficits is not None:
        table = data.deficits
        # Purchases at producer prices less sales: the deficit the trade table implies.
        implied = baseline.trade.sum(axis=(0, 2)) - baseline.trade.sum(axis=(1, 2))
        total = spending.sum(axis=1)
        gap = (table.values - implied) / total
        for j in np.flatnonzero(np.abs(gap) > REPORT_FLOOR):
            report[f"{regions[j]}.deficit_gap"] = float(gap[j])
            if abs(gap[j]) <= tol:
                continue
            _warn_once(
                ("deficit", regions[j], round(float(gap[j]), 12)),
                "tables disagree: %s's deficit is %.6g in the deficit table (%s:%d) but %.6g in "
                "the trade table (purchases less sales at producer prices), a gap of %+.2f%% of "
                "its spending; the trade table is kept (docs/data.md)",
                regions[j], table.values[j], table.file, table.lines[j], implied[j],
                100 * gap[j],
            )  # fmt: skip


def _warn_once(seen: tuple[object, ...], message: str, *args: object) -> None:
    """Log a table disagreement once per process: calibration and sweeps build many models."""
    if seen in _REPORTED_GAPS:
        return
    _REPORTED_GAPS.add(seen)
    log.warning(message, *args)


def unproductive_closed_system(
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
        "lower input_output.consumption_propensity, check economy.wage and "
        "economy.employment (labour income is jobs times the wage), or set "
        "input_output.induced: false"
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

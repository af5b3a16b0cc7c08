"""The baseline economy the equilibrium starts from: checks, linkages, labour markets.

Helpers of :func:`sim.engine.model.build_model`: the trade table's sums, the input
shares from the input-output table (and the rule where the tables disagree), the
regions' labour markets, the sourcing shares of the input-output satellite, and the
location of an unproductive input-output system.
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
from sim.scenario.validate import Scenario, region_setting

FloatArray = NDArray[np.float64]
log = logging.getLogger(__name__)

#: Table disagreements already logged in this process (region, sector, gap).
_REPORTED_GAPS: set[tuple[str, str, float]] = set()

__all__ = [
    "central_value",
    "check_table_sums",
    "labour_markets_of",
    "sourcing_shares",
    "unproductive_closed_system",
    "with_linkages",
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


def with_linkages(
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

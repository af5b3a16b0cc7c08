"""The general equilibrium's accounts: the baseline, the labour markets, a solution.

Data containers and the functions that derive them from data, for
:mod:`sim.kernels.equilibrium` (the model, its equations and its solver) and
:mod:`sim.kernels.equilibrium_conditions` (the conditions at given unknowns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

DEFICIT_CLOSURES = ("fixed", "ratio", "zero")

#: Largest number of region-sectors whose spending system is a dense solve.
DENSE_SPENDING_LIMIT = 300

#: Elements of an (R, R, S) array (plus a dense spending system) times the points
#: evaluated at once in a Jacobian: bounds its working memory (about ten such arrays).
JACOBIAN_BATCH_ELEMENTS = 4_000_000

__all__ = [
    "DEFICIT_CLOSURES",
    "DENSE_SPENDING_LIMIT",
    "JACOBIAN_BATCH_ELEMENTS",
    "EquilibriumBaseline",
    "EquilibriumSolution",
    "LabourMarkets",
    "build_equilibrium_baseline",
    "build_labour_markets",
]


@dataclass(frozen=True)
class EquilibriumBaseline:
    """Baseline levels and shares derived once from the data.

    Money is in one unit per year throughout (the caller's; the kernel never
    converts). Index order: origin ``i``, destination ``j``, sector ``s``; input
    shares are (region, using sector, input sector).

    Attributes
    ----------
    trade : (R, R, S)
        :math:`X_{ijs}`, flows at producer prices (net of tariffs), money per year.
    tariff : (R, R, S)
        Ad valorem tariff rates :math:`\\tau_{ijs}` (0.1 = 10 %).
    share : (R, R, S)
        :math:`\\pi_{ijs}`, origin shares of tariff-inclusive spending; a
        destination-sector that buys nothing gets :math:`\\pi_{jjs} = 1` (its price
        index is then its own unit cost and enters nothing).
    output : (R, S)
        Gross output :math:`Y_{is} = \\sum_j X_{ijs}`, money per year.
    spending : (R, S)
        :math:`E_{js} = \\sum_i (1 + \\tau_{ijs}) X_{ijs}`, money per year.
    va_share : (R, S)
        :math:`\\beta_{is}`, value added over gross output.
    input_share : (R, S, S)
        :math:`\\gamma_{ist}`, input ``t`` per unit of gross output of ``(i, s)``.
    value_added : (R, S)
        :math:`V_{is} = \\beta_{is} Y_{is}`, money per year.
    final_demand : (R, S)
        :math:`F_{js} = E_{js} - \\sum_t \\gamma_{jts} Y_{jt}`, money per year
        (negative entries mean the tables disagree; the caller checks).
    final_share : (R, S)
        :math:`\\alpha_{js} = F_{js} / \\sum_t F_{jt}`.
    tariff_revenue : (R,)
        :math:`\\sum_{i,s} \\tau_{ijs} X_{ijs}`, money per year.
    income : (R,)
        :math:`I_j = \\sum_s F_{js}`, money per year.
    deficit : (R,)
        :math:`D_j = I_j - V_j - R_j`; sums to zero across regions.
    """

    trade: FloatArray
    tariff: FloatArray
    share: FloatArray
    output: FloatArray
    spending: FloatArray
    va_share: FloatArray
    input_share: FloatArray
    value_added: FloatArray
    final_demand: FloatArray
    final_share: FloatArray
    tariff_revenue: FloatArray
    income: FloatArray
    deficit: FloatArray

    @property
    def shape(self) -> tuple[int, int]:
        """(R, S)."""
        r, s = self.output.shape
        return r, s


@dataclass(frozen=True)
class LabourMarkets:
    """How each region's labour market clears.

    Attributes
    ----------
    mobile : (R,) bool
        Labour moves between sectors (one wage per region) or is sector-specific.
    elasticity : (R,)
        Labour-supply elasticity to the real wage: 0 full employment, ``inf`` a
        fixed real wage (employment adjusts).
    group : (R, S) int
        Labour market of each region-sector (``G`` markets in all).
    region : (G,) int
        Region of each market.
    """

    mobile: BoolArray
    elasticity: FloatArray
    group: NDArray[np.int64]
    region: NDArray[np.int64]

    @property
    def count(self) -> int:
        """Number of labour markets ``G``."""
        return len(self.region)

    @property
    def first_cell(self) -> NDArray[np.int64]:
        """(G,) flat region-sector index of each market's first cell."""
        flat = self.group.ravel()
        first = np.zeros(self.count, dtype=np.int64)
        first[flat[::-1]] = np.arange(flat.size)[::-1]
        return first


@dataclass(frozen=True)
class EquilibriumSolution:
    """An equilibrium for every replica; money in the baseline's unit per year.

    Attributes
    ----------
    wage : (N, R, S)
        :math:`\\hat w_{is}` (equal across sectors where labour is mobile).
    employment : (N, R, S)
        :math:`\\hat L_{is}`, employment change by region-sector.
    unit_cost : (N, R, S)
        :math:`\\hat c_{is}`.
    sector_price : (N, R, S)
        :math:`\\hat P_{js}`.
    cpi : (N, R)
        :math:`\\hat P_j = \\prod_s \\hat P_{js}^{\\alpha_{js}}`.
    share : (N, R, R, S)
        :math:`\\pi'_{ijs}`.
    trade : (N, R, R, S)
        :math:`X'_{ijs}` at producer prices (net of tariffs).
    spending : (N, R, S)
        :math:`E'_{js}`, tariff inclusive.
    output : (N, R, S)
        :math:`Y'_{is}`.
    value_added : (N, R, S)
        :math:`V'_{is} = \\beta_{is} Y'_{is}`.
    tariff_revenue, deficit, income : (N, R)
        :math:`R'_j`, :math:`D'_j` (the trade deficit: the closure's plus the net inflow
        financing investment) and :math:`I'_j` (income available for consumption:
        value added, tariff revenue and the closure's deficit, less what ``j`` invests).
    investment : (N, R, R)
        :math:`K'_{ij} = \\sum_s K_{ijs}\\hat P_{js}`, nominal spending on investment goods
        by investor ``i`` in host ``j`` (zero without an investment shock);
        :math:`I'_j + \\sum_i K'_{ij} = V'_j + R'_j + D'_j`.
    real_income : (N, R)
        :math:`\\hat I_j / \\hat P_j`, the welfare change of the representative household.
    real_wage : (N, R, S)
        :math:`\\hat w_{is} / \\hat P_i`.
    employment_group : (N, G)
        :math:`\\hat L_g`, employment change of each labour market.
    inverse_jacobian : (N, G, G) float32
        The solver's last inverse Newton matrix (of the Jacobian plus the
        normalisation's pin, as Broyden's updates left it), in single precision: a warm
        start for a nearby problem (``solve_equilibrium(..., inverse_jacobian=...)``).
    iterations : int
        Newton steps of the slowest replica.
    replica_iterations : (N,) int
        Newton steps each replica took.
    residual : (N,)
        Largest labour-market excess demand, relative.
    converged : (N,) bool
    """

    wage: FloatArray
    employment: FloatArray
    unit_cost: FloatArray
    sector_price: FloatArray
    cpi: FloatArray
    share: FloatArray
    trade: FloatArray
    spending: FloatArray
    output: FloatArray
    value_added: FloatArray
    tariff_revenue: FloatArray
    deficit: FloatArray
    income: FloatArray
    real_income: FloatArray
    real_wage: FloatArray
    employment_group: FloatArray
    inverse_jacobian: NDArray[np.floating[Any]]  # float32
    investment: FloatArray
    iterations: int
    replica_iterations: NDArray[np.int64]
    residual: FloatArray
    converged: NDArray[np.bool_]


def build_equilibrium_baseline(
    trade: FloatArray,
    tariff: FloatArray | None = None,
    va_share: FloatArray | None = None,
    input_share: FloatArray | None = None,
) -> EquilibriumBaseline:
    r"""Derive the baseline's shares, income and deficits from the data.

    Final demand is what is left of spending after intermediate use, and
    deficits what is left of income after value added and tariff revenue, so
    the baseline satisfies every accounting identity of the model exactly
    (Caliendo & Parro 2015, section 4.1).

    Parameters
    ----------
    trade : (R, R, S)
        Flows at producer prices including domestic sales, money per year, non-negative.
    tariff : (R, R, S), optional
        Ad valorem tariff rates (default 0).
    va_share : (R, S), optional
        Value added over gross output (default 1: no intermediate inputs).
    input_share : (R, S, S), optional
        Input shares, (region, using sector, input sector); default 0. Rows must
        sum to ``1 - va_share``.

    Returns
    -------
    EquilibriumBaseline
    """
    trade = np.asarray(trade, dtype=np.float64)
    n_r, _, n_s = trade.shape
    tariff = np.zeros_like(trade) if tariff is None else np.asarray(tariff, dtype=np.float64)
    beta = np.ones((n_r, n_s)) if va_share is None else np.asarray(va_share, dtype=np.float64)
    gamma = (
        np.zeros((n_r, n_s, n_s))
        if input_share is None
        else np.asarray(input_share, dtype=np.float64)
    )
    output = trade.sum(axis=1)
    # Costs must add up: value added and inputs are all of what a producer receives, or
    # income leaks out of the economy and no equilibrium exists (the solver's line search
    # stalls at a residual of about 1e-2 instead of saying why).
    gap = np.abs(beta + gamma.sum(axis=2) - 1.0)
    bad = (output > 0) & ~(gap <= 1e-9)
    if bad.any():
        i, s = np.argwhere(bad)[0]
        raise ValueError(
            f"value-added and input shares of region {i}, sector {s} sum to "
            f"{beta[i, s] + gamma[i, s].sum():.12g}, not 1 ({int(bad.sum())} region-sectors)"
        )
    gross = trade * (1.0 + tariff)
    spending = gross.sum(axis=0)  # (j, s)
    share = np.divide(gross, spending[None], out=np.zeros_like(gross), where=spending[None] > 0)
    empty = spending <= 0
    if empty.any():
        j, s = np.nonzero(empty)
        share[j, j, s] = 1.0
    value_added = beta * output
    intermediate = np.einsum("jts,jt->js", gamma, output)
    final_demand = spending - intermediate
    income = final_demand.sum(axis=1)
    final_share = np.divide(
        final_demand, income[:, None], out=np.zeros_like(final_demand), where=income[:, None] > 0
    )
    revenue = (tariff * trade).sum(axis=(0, 2))
    deficit = income - value_added.sum(axis=1) - revenue
    return EquilibriumBaseline(
        trade=trade,
        tariff=tariff,
        share=share,
        output=output,
        spending=spending,
        va_share=beta,
        input_share=gamma,
        value_added=value_added,
        final_demand=final_demand,
        final_share=final_share,
        tariff_revenue=revenue,
        income=income,
        deficit=deficit,
    )


def build_labour_markets(
    n_sectors: int, mobile: BoolArray, elasticity: FloatArray
) -> LabourMarkets:
    """Number the labour markets: one per mobile region, one per sector elsewhere.

    Parameters
    ----------
    n_sectors : int
    mobile : (R,) bool
    elasticity : (R,)
        Labour-supply elasticities, non-negative; ``inf`` for a fixed real wage.
    """
    mobile = np.asarray(mobile, dtype=bool)
    group = np.zeros((len(mobile), n_sectors), dtype=np.int64)
    region: list[int] = []
    for r, moves in enumerate(mobile):
        if moves:
            group[r] = len(region)
            region.append(r)
        else:
            group[r] = np.arange(len(region), len(region) + n_sectors)
            region.extend([r] * n_sectors)
    return LabourMarkets(
        mobile=mobile,
        elasticity=np.asarray(elasticity, dtype=np.float64),
        group=group,
        region=np.array(region, dtype=np.int64),
    )

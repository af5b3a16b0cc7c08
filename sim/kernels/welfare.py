r"""Decomposition of a welfare change: terms of trade, volume of trade and the rest.

Caliendo & Parro (2015, *Review of Economic Studies* 82(1), "Estimates of the Trade
and Welfare Effects of NAFTA", section 4) split the first-order change of a
region's real income :math:`W_n = I_n / P_n` in their model (the model of
:mod:`sim.kernels.equilibrium`) into a **terms-of-trade** effect, the change of
the prices of what ``n`` sells against those of what it buys, and a
**volume-of-trade** effect, the change of the quantities on which ``n`` collects
tariffs (the Harberger wedge). With :math:`E^s_{np} = X_{nps}` the exports of ``n``
to partner ``p`` and :math:`M^s_{np} = X_{pns}` its imports from ``p``, both at
producer prices (net of tariffs; domestic sales count as both and cancel):

.. math::

    \mathrm{d}\ln W_n = \frac{1}{I_n}\sum_{s}\sum_{p}
        \underbrace{\bigl(E^s_{np}\,\mathrm{d}\ln c_{ns}
            - M^s_{np}\,\mathrm{d}\ln c_{ps}\bigr)}_{\text{terms of trade}}
      + \frac{1}{I_n}\sum_{s}\sum_{p}
        \underbrace{\tau_{pns}\,M^s_{np}\,\bigl(\mathrm{d}\ln M^s_{np}
            - \mathrm{d}\ln c_{ps}\bigr)}_{\text{volume of trade}}
      - \frac{1}{I_n}\sum_{s}\sum_{p}
        \underbrace{(1+\tau_{pns})\,M^s_{np}\,\mathrm{d}\ln\kappa_{pns}}_{
            \text{technical efficiency (trade costs)}}
      + \frac{1}{I_n}\Bigl(\sum_s V_{ns}\,\mathrm{d}\ln A_{ns}
      + \sum_s V_{ns}\,\mathrm{d}\ln L_{ns} + \mathrm{d}D_n\Bigr).

The first two sums are Caliendo & Parro's equation; the iceberg term is the
technical-efficiency extension of the R implementation ``paulofelipe/cp2015``
(``compute_results``). The last three terms are zero in Caliendo & Parro's
experiments and are added here because this model has them: productivity
:math:`\hat A` (labour-augmenting, :math:`\hat c_{ns}` includes :math:`\hat A_{ns}^{-\beta_{ns}}`),
employment that answers the real wage (elastic or fixed-real-wage closures:
:math:`V_{ns}\,\mathrm{d}\ln L_{ns}` is the extra labour income at baseline
wages; it sums to zero over a region's sectors under mobile labour in full
employment) and deficits that change with the closure.

**Derivation** (all first order; it holds for every labour and deficit closure of
the model). From :math:`I_n\,\mathrm{d}\ln P_n = \sum_s F_{ns}\,\mathrm{d}\ln P_{ns}`,
:math:`F_{ns} = E_{ns} - \sum_t \gamma_{nts}Y_{nt}`, the envelope result
:math:`E_{ns}\,\mathrm{d}\ln P_{ns} = \sum_p (1+\tau_{pns})X_{pns}\,
\mathrm{d}\ln(\kappa_{pns}(1+\tau_{pns})c_{ps})`, the cost function
:math:`\mathrm{d}\ln c_{ns} = \beta_{ns}\mathrm{d}\ln w_{ns} + \sum_t\gamma_{nst}
\mathrm{d}\ln P_{nt} - \beta_{ns}\mathrm{d}\ln A_{ns}` and
:math:`\mathrm{d}I_n = \sum_s V_{ns}(\mathrm{d}\ln w_{ns} + \mathrm{d}\ln L_{ns})
+ \mathrm{d}R_n + \mathrm{d}D_n`, the wage and tariff-rate terms cancel and
:math:`\mathrm{d}I_n - I_n\mathrm{d}\ln P_n` is the bracket above.

**Discrete form.** A counterfactual is a discrete change. The Caliendo-Parro
replication code (``Welfarelineal.m``, in ``Data_and_Codes_CP.zip`` of the
paper's page; the same in ``paulofelipe/cp2015``) evaluates the equation once, with
the **baseline** flows, tariffs and income as weights and every
:math:`\mathrm{d}\ln x` replaced by the proportional change :math:`\hat x - 1`:

.. math::

    \mathrm{ToT}_{nps} = \frac{X_{nps}(\hat c_{ns} - 1) - X_{pns}(\hat c_{ps} - 1)}{I_n},
    \qquad
    \mathrm{VoT}_{nps} = \frac{\tau_{pns}\,(X'_{pns} - X_{pns}\hat c_{ps})}{I_n},
    \qquad
    \mathrm{TE}_{nps} = -\frac{(1+\tau_{pns})X_{pns}(\hat\kappa_{pns} - 1)}{I_n},

and likewise :math:`V_{ns}(\hat A_{ns}-1)/I_n`, :math:`V_{ns}(\hat L_{ns}-1)/I_n`
and :math:`(D'_n - D_n)/I_n`. This is what is computed here. Its sum approximates
the exact welfare change :math:`\hat W_n - 1 = I'_n/(I_n\hat P_n) - 1` of the
solution with an error of second order in the shock (relative error of order the
shock); the **approximation residual** :math:`\hat W_n - 1 - \sum(\cdot)` is returned
as its own component, so the parts add up exactly. Caliendo & Parro report the sum of
the parts as the welfare effect; here the exact change is the total.

The split between terms of trade and the deficit term depends on the numeraire when
a region has a deficit (a uniform change :math:`\lambda` of nominal prices moves the
first by :math:`-D_n(\lambda-1)/I_n` and the second by the opposite); their sum, and
every real quantity, does not (to first order).

Everything is vectorised over a leading replica axis ``N``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.kernels.equilibrium_accounts import EquilibriumBaseline, EquilibriumSolution

FloatArray = NDArray[np.float64]

__all__ = ["WelfareDecomposition", "decompose_solution", "decompose_welfare"]


@dataclass(frozen=True)
class WelfareDecomposition:
    """The parts of each region's welfare change, as fractions of its baseline income.

    A fraction of baseline income is a change of real income in units of 1 (0.01 is
    one percent). Index order: replica, region ``n``, partner ``p``, sector ``s``.

    Attributes
    ----------
    terms_of_trade : (N, R, R, S)
        :math:`\\mathrm{ToT}_{nps}`: exports to ``p`` valued at the change of ``n``'s
        unit cost less imports from ``p`` at the change of ``p``'s (zero for p = n).
    volume_of_trade : (N, R, R, S)
        :math:`\\mathrm{VoT}_{nps}`: baseline tariff of ``n`` on imports from ``p``
        times the change of their quantity.
    technical_efficiency : (N, R, R, S)
        :math:`\\mathrm{TE}_{nps}`: the resources saved (lost) when the iceberg cost
        of ``n``'s imports from ``p`` falls (rises).
    productivity : (N, R, S)
        :math:`V_{ns}(\\hat A_{ns} - 1)/I_n`: technical efficiency of production.
    employment : (N, R, S)
        :math:`V_{ns}(\\hat L_{ns} - 1)/I_n`: labour income of the change of employment
        at baseline wages.
    deficit : (N, R)
        :math:`(D'_n - D_n)/I_n`.
    residual : (N, R)
        Approximation residual: the exact change less the sum of the parts above.
    welfare : (N, R)
        :math:`\\hat W_n - 1`, the exact change of real income; equals the sum of all
        parts, residual included.
    """

    terms_of_trade: FloatArray
    volume_of_trade: FloatArray
    technical_efficiency: FloatArray
    productivity: FloatArray
    employment: FloatArray
    deficit: FloatArray
    residual: FloatArray
    welfare: FloatArray

    @property
    def linear(self) -> FloatArray:
        """(N, R) the sum of the first-order parts (the residual left out)."""
        total: FloatArray = (
            self.terms_of_trade.sum(axis=(2, 3))
            + self.volume_of_trade.sum(axis=(2, 3))
            + self.technical_efficiency.sum(axis=(2, 3))
            + self.productivity.sum(axis=2)
            + self.employment.sum(axis=2)
            + self.deficit
        )
        return total


def decompose_welfare(
    trade: FloatArray,
    tariff: FloatArray,
    output: FloatArray,
    value_added: FloatArray,
    income: FloatArray,
    deficit: FloatArray,
    unit_cost: FloatArray,
    trade_after: FloatArray,
    employment: FloatArray,
    deficit_after: FloatArray,
    real_income: FloatArray,
    *,
    cost_change: FloatArray | None = None,
    productivity: FloatArray | None = None,
) -> WelfareDecomposition:
    r"""Split each region's welfare change into the Caliendo-Parro parts.

    Money is in one unit per year throughout (the caller's; only ratios are formed),
    counterfactual money in the solution's numeraire.

    Parameters
    ----------
    trade : (R, R, S)
        Baseline flows :math:`X_{ijs}` (origin, destination, sector) at producer
        prices, money per year.
    tariff : (R, R, S)
        Baseline ad valorem tariff rates :math:`\tau_{ijs}` of the destination.
    output : (R, S)
        Baseline gross output :math:`Y_{ns}`, money per year.
    value_added : (R, S)
        Baseline value added :math:`V_{ns}`, money per year.
    income : (R,)
        Baseline income :math:`I_n` (final expenditure), money per year.
    deficit : (R,)
        Baseline deficits :math:`D_n`, money per year.
    unit_cost : (N, R, S)
        :math:`\hat c_{ns}`, in the solution's numeraire.
    trade_after : (N, R, R, S)
        Counterfactual flows :math:`X'_{ijs}` at producer prices, money per year.
    employment : (N, R, S)
        :math:`\hat L_{ns}`.
    deficit_after : (N, R)
        :math:`D'_n`, money per year.
    real_income : (N, R)
        :math:`\hat W_n = I'_n / (I_n \hat P_n)`, the exact welfare change.
    cost_change : (N, R, R, S), optional
        :math:`\hat\kappa_{ijs}`, iceberg-cost changes (default 1).
    productivity : (N, R, S), optional
        :math:`\hat A_{ns}` (default 1).

    Returns
    -------
    WelfareDecomposition
        Every part a fraction of baseline income; zero for a region without income.
    """
    n_rep = unit_cost.shape[0]
    n_r, n_s = output.shape
    has_income = income > 0
    per_income = np.divide(1.0, income, out=np.zeros(n_r), where=has_income)
    scale3 = per_income[None, :, None, None]  # (1, n, 1, 1)
    cost_rise = unit_cost - 1.0  # (N, R, S)
    exports = trade[None] * cost_rise[:, :, None, :]  # [., n, p, s] = X_nps (c_ns - 1)
    imports = trade.transpose(1, 0, 2)  # [n, p, s] = X_pns, n's imports from p
    tariff_in = tariff.transpose(1, 0, 2)  # [n, p, s] = tau_pns
    after_in = trade_after.transpose(0, 2, 1, 3)  # [., n, p, s] = X'_pns
    imports_cost = imports[None] * cost_rise[:, None, :, :]  # X_pns (c_ps - 1)
    terms = (exports - imports_cost) * scale3
    volume = tariff_in[None] * (after_in - imports[None] * unit_cost[:, None, :, :]) * scale3
    if cost_change is None:
        efficiency = np.zeros((n_rep, n_r, n_r, n_s))
    else:
        kappa_in = np.broadcast_to(cost_change, (n_rep, n_r, n_r, n_s)).transpose(0, 2, 1, 3)
        efficiency = -((1.0 + tariff_in) * imports)[None] * (kappa_in - 1.0) * scale3
    scale2 = per_income[None, :, None]
    if productivity is None:
        supply = np.zeros((n_rep, n_r, n_s))
    else:
        change = np.broadcast_to(productivity, (n_rep, n_r, n_s)) - 1.0
        supply = value_added[None] * change * scale2
    jobs = value_added[None] * (employment - 1.0) * scale2
    balance = (deficit_after - deficit[None]) * per_income[None]
    welfare = np.where(has_income[None], real_income - 1.0, 0.0)
    parts = WelfareDecomposition(
        terms_of_trade=terms,
        volume_of_trade=volume,
        technical_efficiency=efficiency,
        productivity=supply,
        employment=jobs,
        deficit=balance,
        residual=np.zeros((n_rep, n_r)),
        welfare=welfare,
    )
    return WelfareDecomposition(
        terms_of_trade=terms,
        volume_of_trade=volume,
        technical_efficiency=efficiency,
        productivity=supply,
        employment=jobs,
        deficit=balance,
        residual=welfare - parts.linear,
        welfare=welfare,
    )


def decompose_solution(
    baseline: EquilibriumBaseline,
    solution: EquilibriumSolution,
    *,
    cost_change: FloatArray | None = None,
    productivity: FloatArray | None = None,
) -> WelfareDecomposition:
    """:func:`decompose_welfare` of a solution of :func:`~sim.kernels.equilibrium.solve_equilibrium`.

    Parameters
    ----------
    baseline : EquilibriumBaseline
    solution : EquilibriumSolution
        Solved from ``baseline``.
    cost_change : (N, R, R, S), optional
        The iceberg-cost changes the solution was solved with (default 1).
    productivity : (N, R, S), optional
        The productivity changes it was solved with (default 1).
    """
    return decompose_welfare(
        baseline.trade,
        baseline.tariff,
        baseline.output,
        baseline.value_added,
        baseline.income,
        baseline.deficit,
        solution.unit_cost,
        solution.trade,
        solution.employment,
        solution.deficit,
        solution.real_income,
        cost_change=cost_change,
        productivity=productivity,
    )

r"""Cross-border labour migration: flows and the stocks they build.

Gross migration from ``i`` to ``j`` in a period responds to the change in the
real wage gap (each region's wage over its own consumer price index) and to the
net new labour demand in ``j`` (a Harris-Todaro style reduced form; elasticities
as in the bilateral migration literature, e.g. Beine, Bertoli &
Fernandez-Huertas Moraga 2016):

.. math::

    F_{ij}(t) = \min\Bigl(C_{ij},\;
        F^0_{ij}\,\Bigl(\frac{w_j(t)/w_i(t)}{w_j(0)/w_i(0)}\Bigr)^{\varepsilon}
        + \rho_{ij}\,\max(0, \Delta J_j(t))\Bigr),

with :math:`w` real wages, :math:`F^0` the baseline flow (persons per period),
:math:`\varepsilon` the wage-gap elasticity, :math:`\Delta J_j` the net new labour
demand in ``j`` (persons), :math:`\rho_{ij}` the share of it filled by workers from
``i`` and :math:`C_{ij}` a cap (``inf`` for none). The gap is a ratio of changes,
so the currency and exchange-rate basis of the wage levels cancels.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def migration_flows(
    base_flow: FloatArray,
    wage: FloatArray,
    base_wage: FloatArray,
    elasticity: FloatArray,
    new_jobs: FloatArray,
    recruitment: FloatArray,
    cap: FloatArray,
) -> FloatArray:
    """Migration flows for every replica.

    Parameters
    ----------
    base_flow : (R, R)
        Baseline flow origin -> destination, persons per period; diagonal ignored.
    wage : (N, R)
        Current real wage by region (any unit, the same as ``base_wage``).
    base_wage : (N, R)
        Real wage by region at the start.
    elasticity : (N,)
        Elasticity of the flow to the relative real wage gap.
    new_jobs : (N, R)
        Net new labour demand in each destination this period, persons (negative
        values recruit no one).
    recruitment : (N, R, R)
        Share of the destination's net new labour demand filled from the origin.
    cap : (N, R, R)
        Maximum flow, persons per period (``inf`` for no cap).

    Returns
    -------
    (N, R, R) array
        Flows, persons per period, zero on the diagonal.
    """
    # gap[n, i, j] = (w_j / w_i) / (w0_j / w0_i)
    gap = (wage[:, None, :] / wage[:, :, None]) / (base_wage[:, None, :] / base_wage[:, :, None])
    flows = base_flow[None] * gap ** elasticity[:, None, None]
    flows = flows + recruitment * np.maximum(new_jobs, 0.0)[:, None, :]
    flows = np.minimum(flows, cap)
    n_reg = base_flow.shape[0]
    flows[:, np.arange(n_reg), np.arange(n_reg)] = 0.0
    result: FloatArray = flows
    return result


def migrant_stocks(
    previous: FloatArray, flows: FloatArray, return_rate: FloatArray, dt: float
) -> FloatArray:
    r"""Migrants from ``i`` living in ``j`` at the end of a period.

    .. math::

        S_{ij}(t) = S_{ij}(t-1)\,(1 - r_{ij})^{\Delta} + F_{ij}(t),

    with :math:`r_{ij}` the share of the stock that returns (or moves on) in a year
    and :math:`\Delta` the period in years: a stock-flow identity with geometric
    returns (seasonal migration has :math:`r` near 1; settled diasporas near 0).

    Parameters
    ----------
    previous : (N, R, R)
        Stock at the end of the previous period, persons.
    flows : (N, R, R)
        Gross flows of the period, persons per period.
    return_rate : (R, R)
        Share of the stock leaving per year, in [0, 1].
    dt : float
        Period length, years.

    Returns
    -------
    (N, R, R) array
        Stock at the end of the period, persons.
    """
    stock: FloatArray = previous * (1.0 - return_rate[None]) ** dt + flows
    return stock

"""Price levels that convert constant-price money into current money.

The equilibrium solves in constant prices of a base year: its relative prices
move, its price level does not. What statistics publish (trade in current
USD, GDP at current prices) also moves with each region's inflation and
exchange rate, which a real model does not determine. These are the
conversion factors, from exogenous paths (the GTAP and national-accounts
convention: volumes from the model, deflators from outside it).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

__all__ = ["price_levels"]


def price_levels(inflation: FloatArray, exchange_rate: FloatArray, base: int) -> FloatArray:
    r"""Each region's price level in the scenario's currency, relative to the base year.

    .. math::

        P_{n,y} = \frac{D_{n,y}}{D_{n,b}} \, \frac{e_{n,b}}{e_{n,y}}, \qquad
        \frac{D_{n,y}}{D_{n,b}} = \prod_{k=b}^{y-1} (1 + \pi_{n,k})
        \quad (y \ge b), \qquad
        \prod_{k=y}^{b-1} (1 + \pi_{n,k})^{-1} \quad (y < b),

    with :math:`\pi_{n,k}` the GDP-deflator inflation of region :math:`n` from year
    :math:`k` to :math:`k+1` in its local currency and :math:`e_{n,y}` its exchange
    rate (local currency per unit of the scenario's currency), so that a value
    :math:`V` in constant base-year money is :math:`P_{n,y} V` in current money of
    year :math:`y` (the deflator identity of the national accounts; e.g. United
    Nations et al., *System of National Accounts 2008*, ch. 15).

    Parameters
    ----------
    inflation : ndarray, shape (N, Y, R)
        Inflation of consecutive years ``y0 .. y0+Y-1``, 1 per year.
    exchange_rate : ndarray, shape (N, Y, R)
        Annual average exchange rate of the same years, local currency per unit
        (all ones where a region's inflation is already in the scenario's currency).
    base : int
        Position of the base year on the Y axis, ``0 <= base < Y``.

    Returns
    -------
    ndarray, shape (N, Y, R)
        Price levels, 1 in the base year.
    """
    # log D_y = sum of log(1 + pi_k) over k < y, up to a constant that cancels.
    step = np.log1p(inflation)
    log_d = np.concatenate([np.zeros_like(step[:, :1]), np.cumsum(step, axis=1)[:, :-1]], axis=1)
    level: FloatArray = np.exp(log_d - log_d[:, base : base + 1]) * (
        exchange_rate[:, base : base + 1] / exchange_rate
    )
    return level

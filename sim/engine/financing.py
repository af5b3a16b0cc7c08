"""Capex paid by investors: a period's refusal when the equilibrium cannot carry it.

An investor pays for the capex goods it buys in a host out of its income, so a
period's capex is a transfer: the investor's consumption spending falls by its
outlay, and where the host is abroad, the investor must run a trade surplus of
that size (docs/model.md section 4, "capex as investment demand"). A transfer
that is large against the investor's income and its trade has no equilibrium
in which the investor's spending stays positive: the solver either fails or
returns a negative spending. Both are refused here with the investor, its outlay
against its value added, and the projects that make it up, instead of a
solver's residual or a negative trade flow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from sim.engine.model import Model
from sim.errors import ConvergenceError

FloatArray = NDArray[np.float64]

#: Projects named in the message, at most.
LISTED = 5


def unpaid_capex(
    converged: NDArray[np.bool_], spending: FloatArray, investment: FloatArray | None
) -> NDArray[np.bool_]:
    """Replicas whose period fails while investors pay for capex, (N,) bool.

    Parameters
    ----------
    converged : (N,) bool
        Whether each replica's equilibrium converged.
    spending : (N, R)
        Each region's spending on final goods after its capex outlays, money per year.
    investment : (N, i, j, S) or None
        Real capex goods paid by investor ``i`` in host ``j``; ``None`` when no
        project is under construction.
    """
    if investment is None:
        return np.zeros(converged.shape, dtype=bool)
    return ~converged | (spending <= 0.0).any(axis=1)


def capex_financing_error(
    model: Model,
    period: int,
    replica: int,
    investment: FloatArray,
    value_added: FloatArray,
    exports: FloatArray,
    projects: Sequence[tuple[int, str, float, float, float]],
) -> ConvergenceError:
    """The refusal of a period whose capex its investors cannot pay.

    Parameters
    ----------
    model : Model
    period : int
        Index of the period in the calendar.
    replica : int
        The replica's index in the run (for the message).
    investment : (i, j, S)
        Real capex goods paid by investor ``i`` in host ``j``, money per year at
        the scenario's constant prices.
    value_added : (R,)
        Each region's value added on the growth path in that period, money per year
        at constant prices.
    exports : (R,)
        Each region's exports on the growth path, same unit: the trade its surplus
        must come from.
    projects : sequence of (investor, id, share, capex, years)
        The projects under construction: each investor's leg, the project's capex
        (money) and its construction time (years).
    """
    from sim.results.dataset import money_unit

    outlay = investment.sum(axis=(1, 2))  # (R,) by investor
    abroad = outlay - np.einsum("iis->i", investment)
    burden = outlay / np.maximum(value_added, 1e-300)
    payer = int(np.argmax(burden))
    name = model.regions[payer]
    unit = money_unit(model)
    legs = sorted((p for p in projects if p[0] == payer), key=lambda p: -p[2] * p[3] / p[4])
    listed = "; ".join(
        f"{pid}: {share:.0%} of {capex:,.4g} over {years:.2g} year{'' if years == 1 else 's'}"
        for _, pid, share, capex, years in legs[:LISTED]
    )
    more = f" and {len(legs) - LISTED} more" if len(legs) > LISTED else ""
    return ConvergenceError(
        f"the capex that {name} pays for in the period starting "
        f"{model.calendar.starts[period]} (replica {replica}) has no equilibrium: "
        f"{outlay[payer]:,.4g} a year, {abroad[payer]:,.4g} of it abroad, is "
        f"{burden[payer]:.0%} of {name}'s value added ({value_added[payer]:,.4g} a year; "
        f"exports {exports[payer]:,.4g} a year; money in {unit}): {name} cannot run the "
        "trade surplus that pays for it and keep a positive spending\n"
        "  allowed: capex its investors can pay out of their income (each investor pays "
        "its share of a project's capex goods while it is under construction, docs/model.md "
        "section 4)\n"
        f"  fix: check the capex and construction dates of the projects {name} invests in "
        f"({listed}{more}): a short construction concentrates the capex in few periods; "
        "check the money unit of the capex (metadata.money_unit), or share the projects "
        "with other investors"
    )


__all__ = ["capex_financing_error", "unpaid_capex"]

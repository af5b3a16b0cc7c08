"""Checks of a period's outputs: the first impossible value stops the run, located."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sim.engine.draw import Batch
from sim.engine.jobs import JOB_KINDS
from sim.engine.model import Model
from sim.errors import ConvergenceError, NumericalError
from sim.kernels.equilibrium_accounts import EquilibriumSolution

FloatArray = NDArray[np.float64]


#: Labels of the axes after (N,) of each checked per-period output.
_AXES = {
    "trade": ("origin", "destination", "sector"),
    "output": ("region", "sector"),
    "price": ("region", "sector"),
    "expenditure": ("region",),
    "value_added": ("region", "sector"),
    "tariff_revenue": ("region",),
    "employment": ("region", "sector"),
    "real_wage": ("region",),
    "capital_flow_projects": ("origin", "destination", "sector"),
    "capital_flow_other": ("origin", "destination"),
    "investment_goods": ("origin", "destination"),
    "jobs": ("region", "sector", "kind"),
    "migration": ("origin", "destination"),
    "migrant_stock": ("origin", "destination"),
    "wage": ("region",),
}


def check_period(model: Model, batch: Batch, out: dict[str, FloatArray], k: int) -> None:
    """Stop the run at the first NaN, infinity or negative value of period ``k``.

    The message names the variable, the period, the replica, the region and
    sector, and the values this replica drew for the scenario's uncertain
    parameters (the usual cause of an impossible value).
    """
    for name, axes in _AXES.items():
        values = out[name][:, k]
        # Screened by two reductions without temporaries (a NaN or an infinity makes the
        # sum of non-negative values not finite; the minimum finds negatives); the mask
        # is built only where the screen fails.
        with np.errstate(over="ignore"):
            if values.size == 0 or (values.min() >= 0 and np.isfinite(values.sum())):
                continue
        bad = ~np.isfinite(values) | (values < 0)
        if not bad.any():
            continue
        idx = np.argwhere(bad)[0]
        labels = {
            "origin": model.regions, "destination": model.regions, "region": model.regions,
            "sector": model.sectors, "kind": list(JOB_KINDS),
        }  # fmt: skip
        where = ", ".join(
            f"{axis} {labels[axis][i]}" for axis, i in zip(axes, idx[1:], strict=True)
        )
        replica = int(idx[0])
        drawn = "; ".join(
            f"{key} = {vals[replica]:.6g}" for key, vals in sorted(batch.drawn.items())
        )
        raise NumericalError(
            f"{name} became {float(values[tuple(idx)])!r} in the period starting "
            f"{model.calendar.starts[k]} (replica {batch.first + replica}, {where})\n"
            "  allowed: finite, non-negative values\n"
            + (f"  this replica drew: {drawn}\n" if drawn else "")
            + "  fix: check the scenario's elasticities, cost shocks, growth paths and the "
            "ranges of its distributions"
        )


__all__ = ["check_period"]


def check_converged(
    solution: EquilibriumSolution,
    model: Model,
    *,
    first: int = 0,
    period: int | None = None,
    path: bool = False,
    investment: bool = False,
) -> None:
    """Stop where a replica's equilibrium did not converge, naming the replica.

    ``first`` is the batch's first replica; ``period`` the period solved (``None``: the
    static counterfactual). ``path``: the solve is the growth path without the
    scenario's shocks, against which employment is measured and real wages are
    anchored (an unconverged path would skew every replica's employment change).
    ``investment``: foreign investors pay capex in the period, which the hint explains.
    """
    if solution.converged.all():
        return
    bad = int(np.argmin(solution.converged))
    trade = model.scenario.data["trade"]
    what = (
        "of the growth path (the scenario without its trade costs, policies and plants) "
        if path
        else ""
    )
    when = "" if period is None else f"in period {model.calendar.starts[period]} "
    raise ConvergenceError(
        f"the trade equilibrium {what}did not converge {when}(replica {first + bad}): max "
        f"relative excess demand {solution.residual[bad]:.3g} after {solution.iterations} "
        f"iterations\n"
        f"  allowed: below trade.tolerance = {trade['tolerance']:g}\n"
        "  fix: raise trade.max_iterations, loosen trade.tolerance, or check for "
        + (
            "extreme growth rates or elasticities"
            if path
            else "extreme trade-cost shocks or elasticities"
        )
        + (
            "; capex paid by a foreign investor is a transfer the host's trade "
            "deficit must carry, so it needs trade between them (near-closed "
            "economies cannot absorb it)"
            if investment
            else ""
        )
    )

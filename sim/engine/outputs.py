"""A batch's output arrays: their shapes, and the memory they are written to.

:func:`output_shapes` and :func:`static_shapes` are what :class:`sim.engine.simulate.
BatchSimulation` fills (and what the memory estimates of :mod:`sim.limits` count);
:func:`output_buffer` gives each batch its zeroed arrays, reusing a previous batch's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.engine.jobs import JOB_KINDS
from sim.engine.model import Model
from sim.kernels.stages import STAGES

__all__ = ["output_buffer", "output_shapes", "static_shapes"]


def static_shapes(model: Model) -> dict[str, tuple[int, ...]]:
    """Per-replica outputs that do not change over time, shapes after the leading (N,) axis."""
    n_r, n_s, n_p = model.shape
    return {
        "employment_multiplier_type1": (n_r, n_s),
        "employment_multiplier_type2": (n_r, n_s),
        "plant_multiplier_type1": (n_r, n_s),
        "plant_multiplier_type2": (n_r, n_s),
        "plant_productivity": (n_p,),
    }


#: Per-period outputs and their shapes after the leading (N, T) axes.
def output_shapes(model: Model) -> dict[str, tuple[int, ...]]:
    n_r, n_s, n_p = model.shape
    return {
        "trade": (n_r, n_r, n_s),
        "output": (n_r, n_s),
        "price": (n_r, n_s),
        "expenditure": (n_r,),
        "price_index": (n_r,),
        "capital_flow_projects": (n_r, n_r, n_s),
        "capital_flow_other": (n_r, n_r),
        "investment_goods": (n_r, n_r),
        "value_added": (n_r, n_s),
        "tariff_revenue": (n_r,),
        "employment": (n_r, n_s),
        "employment_change": (n_r, n_s),
        "real_wage": (n_r,),
        "jobs": (n_r, n_s, len(JOB_KINDS)),
        "migration": (n_r, n_r),
        "migrant_stock": (n_r, n_r),
        "wage": (n_r,),
        "price_level": (n_r,),
        "projects_by_stage": (len(STAGES),),
        "project_stage": (n_p,),
        "solver_iterations": (),
    }


def output_buffer(
    buffers: dict[str, NDArray[Any]] | None, name: str, shape: tuple[int, ...], dtype: type
) -> NDArray[Any]:
    """A zeroed output array of ``shape``: the first rows of ``buffers[name]`` where that
    is large enough (a previous batch's, already in memory), else a new one put there.

    A new array is filled now (``np.full``, not ``np.zeros``): that touches every page
    in order, where ``np.zeros`` maps pages lazily and the first writes of each period,
    one row per replica T periods apart, would fault a page per replica (~5 % of a seed
    run). Touching fresh memory is itself slow (the kernel zeroes each page): on the
    10 x 20 large case, 3.6 s of a 500-replica batch's 19 s, where zeroing the arrays a
    previous batch left takes a tenth of that; hence the reuse when a run streams its
    batches to a file (sim.api.stream_to_file).
    """
    held = None if buffers is None else buffers.get(name)
    if (
        held is not None
        and held.dtype == dtype
        and held.shape[1:] == shape[1:]
        and held.shape[0] >= shape[0]
    ):
        view = held[: shape[0]]
        view.fill(0)
        return view
    fresh: NDArray[Any] = np.full(shape, 0, dtype=dtype)
    if buffers is not None:
        buffers[name] = fresh
    return fresh

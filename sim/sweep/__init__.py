"""Parameter sweeps: many variants of a scenario, run in batches into one resumable Zarr store.

``sim sweep SWEEP.yaml`` (:mod:`sim.sweep.cli`) reads a sweep file
(:mod:`~sim.sweep.spec`), places its points (:mod:`~sim.sweep.design`), cuts
them into batches (:mod:`~sim.sweep.plan`), creates the store
(:mod:`~sim.sweep.store`) and runs the missing batches
(:mod:`~sim.sweep.runner`) in-process, on Dask or on SLURM
(:mod:`~sim.sweep.execute`). From Python::

    from sim.sweep import Backend, make_plan, read_sweep, run_sweep
    plan = make_plan(read_sweep("sweeps/tariffs.yaml"))
    run_sweep(plan, plan.sweep.output, Backend("local", workers=4))
    ds = xarray.open_zarr(plan.sweep.output)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.lazy import attribute_loader

if TYPE_CHECKING:
    from sim.sweep.execute import Backend
    from sim.sweep.plan import Plan, make_plan
    from sim.sweep.run import Outcome, run_sweep
    from sim.sweep.spec import Sweep, read_sweep

#: Imported on first use: `sim --help` registers `sim sweep` through sim.sweep.cli, which
#: must not load the runner (NumPy, xarray, the engine) before a sweep runs.
_LAZY = {
    "Backend": "sim.sweep.execute",
    "Plan": "sim.sweep.plan",
    "make_plan": "sim.sweep.plan",
    "Outcome": "sim.sweep.run",
    "run_sweep": "sim.sweep.run",
    "Sweep": "sim.sweep.spec",
    "read_sweep": "sim.sweep.spec",
}


__getattr__ = attribute_loader(__name__, _LAZY)


__all__ = ["Backend", "Outcome", "Plan", "Sweep", "make_plan", "read_sweep", "run_sweep"]

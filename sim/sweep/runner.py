"""Compute one batch of points and write it: the unit of work of every backend.

:func:`run_batch` is what a Dask worker, a SLURM-launched worker or the
in-process loop calls; it is a pure function of the job and the batch index,
so the bytes it writes do not depend on where or how often it runs. Each point
runs replicas ``0 .. R-1`` with the scenario's seed, hence common random
numbers: replica ``k`` draws the same numbers at every point.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from sim.errors import SimError
from sim.scenario.data import ScenarioData, load_scenario_data
from sim.scenario.validate import Scenario
from sim.sweep.plan import POINT, REPLICA, Layout, Plan, scenario_at
from sim.sweep.store import (
    ERROR_CHARS,
    BatchReport,
    read_report,
    write_failed,
    write_region,
    write_report,
)

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Job:
    """What a worker needs to compute any batch of a sweep (sent once per worker)."""

    store: str
    identity: str
    scenario: Scenario
    keys: tuple[str, ...]
    values: FloatArray
    replicas: int
    replica_batch: int
    batches: tuple[tuple[int, int], ...]
    layout: Layout
    data_hashes: str

    @classmethod
    def from_plan(cls, plan: Plan, store: Path) -> Job:
        sweep = plan.sweep
        return cls(
            store=str(Path(store).resolve()),
            identity=plan.identity,
            scenario=sweep.scenario,
            keys=tuple(sweep.keys),
            values=plan.values,
            replicas=sweep.replicas,
            replica_batch=sweep.replica_batch,
            batches=tuple(plan.batches),
            layout=plan.layout,
            data_hashes=str(plan.template.attrs.get("data_files_sha256", "")),
        )


#: Tables read by this process, by job identity: a worker reads them once per sweep.
_TABLES: dict[str, ScenarioData] = {}


def read_tables(job: Job) -> ScenarioData:
    """The scenario's tables, checked against the hashes recorded when the sweep was planned."""
    tables = _TABLES.get(job.identity)
    if tables is None:
        tables = load_scenario_data(job.scenario)
        found = json.dumps(tables.hashes, sort_keys=True)
        if found != job.data_hashes:
            raise SimError(
                "a data file of the base scenario changed since the sweep was planned "
                f"(recorded {job.data_hashes}, found {found})\n"
                "  fix: restore the file, or start the sweep again with --overwrite"
            )
        _TABLES.clear()
        _TABLES[job.identity] = tables
    return tables


def run_point(job: Job, tables: ScenarioData, point: int, count: int | None = None) -> xr.Dataset:
    """Run every replica of one point (``count`` replicas if given)."""
    from sim.api import simulate
    from sim.engine.model import build_model

    sc = scenario_at(job.scenario, job.keys, job.values[point])
    model = build_model(sc, tables)
    return simulate(model, first=0, count=count or job.replicas, batch_size=job.replica_batch)


def check_shape(job: Job, ds: xr.Dataset) -> None:
    """Refuse a point whose output does not fit the store's layout."""
    for var in job.layout.variables:
        if var.name not in ds.data_vars:
            raise SimError(f"this point's run has no output variable {var.name}")
        got = ds[var.name]
        if got.dims != (REPLICA, *var.dims) or got.shape != (job.replicas, *var.shape):
            raise SimError(
                f"this point changes the shape of {var.name} to {dict(got.sizes)}; every point "
                f"of a sweep must have the base scenario's shape {var.dims} {var.shape}"
            )
    for dim, labels in job.layout.index.items():
        if ds.indexes[dim].tolist() != labels:
            raise SimError(f"this point changes the labels of dimension {dim}")


def describe_failure(exc: BaseException) -> str:
    """The message stored for a failed point; a bug also names its exception type."""
    text = str(exc) if isinstance(exc, SimError) else f"{type(exc).__name__}: {exc}"
    return text or type(exc).__name__


def fill_value(dtype: np.dtype[Any]) -> Any:
    """What a failed point holds: NaN, or -1 for integers (False for flags)."""
    if dtype.kind == "f":
        return np.nan
    if dtype.kind == "b":
        return False
    return -1


def run_batch(job: Job, index: int) -> BatchReport:
    """Compute batch ``index`` unless it is done; write its region, then its marker.

    A point that raises is recorded with its message and the batch goes on.
    Errors that are not about a point (the store or the data files) propagate;
    an ``OSError`` while writing (a full disk) becomes a
    :class:`~sim.errors.SimError` that says what the store keeps and how to
    resume. The marker is written last, so a batch whose region was only
    partly written is not finished and is computed again on resume.
    """
    store = Path(job.store)
    done = read_report(store, index, job.batches[index])
    if done is not None:
        # Already written (by an earlier run, or by this task before its worker died).
        return done
    start, stop = job.batches[index]
    tables = read_tables(job)
    size, replicas = stop - start, job.replicas
    arrays = {
        var.name: np.empty((size, replicas, *var.shape), dtype=np.dtype(var.dtype))
        for var in job.layout.variables
    }
    failed = np.zeros(size, dtype=bool)
    errors = np.full(size, "", dtype=f"<U{ERROR_CHARS}")
    failures: list[tuple[int, str]] = []
    for offset, point in enumerate(range(start, stop)):
        try:
            ds = run_point(job, tables, point)
            check_shape(job, ds)
            for name, out in arrays.items():
                out[offset] = ds[name].values
        except Exception as exc:  # one failing point must not stop the sweep
            message = describe_failure(exc)
            # A SimError is the point's own problem; anything else is a bug worth a traceback.
            bug = not isinstance(exc, SimError)
            log.log(logging.WARNING if bug else logging.INFO, "sweep point %d failed: %s",
                    point, message, exc_info=bug)  # fmt: skip
            failures.append((point, message))
            failed[offset] = True
            errors[offset] = message[:ERROR_CHARS]
            for out in arrays.values():
                out[offset] = fill_value(out.dtype)
    variables = {
        var.name: ((POINT, REPLICA, *var.dims), arrays[var.name]) for var in job.layout.variables
    }
    variables["point_failed"] = ((POINT,), failed)
    variables["point_error"] = ((POINT,), errors)
    report = BatchReport(index, start, stop, tuple(failures))
    try:
        write_region(store, start, stop, variables)
        # Only now, with every chunk of the region in place, does the batch count as done.
        write_report(store, report)
    except OSError as exc:
        # A full disk (or any refused write) stops the sweep: the next batch would fail too.
        what = f"point {start}" if size == 1 else f"points {start}-{stop - 1}"
        raise write_failed(
            store, exc, what=f"{what} (batch {index})", total=len(job.values)
        ) from exc
    return report


__all__ = ["Job", "run_batch", "run_point"]

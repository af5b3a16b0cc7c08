"""The sweep's Zarr store: created up front, filled region by region, resumable.

Layout (``docs/sweeps.md`` is the contract)::

    STORE.zarr/            Zarr v2 group, opened with xarray.open_zarr(STORE)
      <run variables>      (point, replica, <the run's own dims>), chunk = one batch of points
      point_failed         (point,) bool
      point_error          (point,) text, empty where the point ran
      point_unit           (point, sweep_parameter) the design in the unit cube
      point, <key paths>   coordinates on point: index and each swept parameter's value
      .sweep/done/NNNNNN.json   one marker per finished batch (not part of the Zarr group)
      .sweep/lock          held by the running client

Why it resumes exactly: the store's metadata is written once, atomically (built
in a temporary folder, then renamed), before any run. The client's lock is
taken in the temporary folder before that rename, so the store never exists
unlocked while its creator runs: creating it and locking it are one step, and
a second client started at the same moment finds it locked and is refused
(:func:`locked_store`). A task writes only its own batch's region, which
covers whole chunks, and Zarr writes each chunk file atomically; only after
the region is written does the task write its marker, itself atomically
(temporary file, then rename). A batch without a marker is therefore computed
again from scratch and rewritten whole, with the same bytes, and a batch with
a marker is never touched again; nor is a marker that cannot be read taken
for a finished batch (:func:`read_marker`). Metadata is consolidated once,
when every batch has its marker.

A write that fails (a full disk, a used-up quota, a read-only filesystem)
stops the sweep with a :class:`~sim.errors.SimError` from
:func:`write_failed`: the failed batch has no marker, the finished ones stay
readable, and the same command resumes once the cause is fixed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import warnings
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import xarray as xr

from sim.errors import SimError
from sim.results.write import publish, sync_directory, sync_tree, temporary_path
from sim.sweep.plan import POINT, REPLICA, Plan

log = logging.getLogger(__name__)

SWEEP_DIR = ".sweep"
DONE_DIR = f"{SWEEP_DIR}/done"
LOCK_FILE = f"{SWEEP_DIR}/lock"
#: Characters kept of a failed point's message in the store (the marker keeps all of it).
ERROR_CHARS = 1024
#: Provenance of a single run that does not describe a sweep (the template's batch_size is
#: its one replica's, not the sweep's replica batch).
RUN_ONLY_ATTRS = ("replicas", "batch_size", "simpy_events")


@dataclass(frozen=True)
class BatchReport:
    """What a finished batch left: its points and the failed ones with their messages."""

    index: int
    start: int
    stop: int
    failures: tuple[tuple[int, str], ...] = ()
    #: False when the batch was found done and nothing was computed.
    computed: bool = True

    def to_json(self) -> str:
        body = {"batch": self.index, "start": self.start, "stop": self.stop,
                "failures": [list(f) for f in self.failures]}  # fmt: skip
        return json.dumps(body, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> BatchReport:
        body = json.loads(text)
        failures = tuple((int(p), str(m)) for p, m in body["failures"])
        return cls(int(body["batch"]), int(body["start"]), int(body["stop"]), failures, False)


@contextlib.contextmanager
def _quiet_zarr() -> Iterator[None]:
    """Silence zarr's note that ``.sweep`` is not a Zarr node: it is ours, on purpose."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not recognized as a component of a Zarr")
        yield


def marker_path(store: Path, index: int) -> Path:
    return store / DONE_DIR / f"{index:06d}.json"


def read_marker(path: Path, bounds: tuple[int, int] | None = None) -> BatchReport | None:
    """The report in the batch marker ``path``, or None if the batch is not finished.

    A missing marker means the batch is not finished. So does a marker that
    cannot be read as this batch's report (empty or cut short by a copy, a
    filesystem that lost a write, or edited), which is also said in a warning
    naming the file: the batch is computed again, and its marker rewritten.

    Parameters
    ----------
    path
        ``STORE/.sweep/done/NNNNNN.json``; NNNNNN is the batch's index.
    bounds
        The batch's points (start, stop) in the plan, if known: a marker for
        other points does not count either.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        _unreadable(path, f"cannot be read ({exc})")
        return None
    if not text.strip():
        _unreadable(path, "is empty")
        return None
    try:
        report = BatchReport.from_json(text)
    except (ValueError, KeyError, TypeError) as exc:  # json's errors are ValueErrors
        _unreadable(path, f"is not a complete batch report ({type(exc).__name__}: {exc})")
        return None
    if report.index != int(path.stem) or bounds not in (None, (report.start, report.stop)):
        _unreadable(
            path, f"describes batch {report.index}, points {report.start}-{report.stop - 1}"
        )
        return None
    return report


def _unreadable(path: Path, problem: str) -> None:
    """Say that the marker ``path`` does not count, and why (a log line naming the file)."""
    log.warning(
        "the batch marker %s %s: batch %d counts as unfinished, and running the sweep "
        "computes it again",
        path, problem, int(path.stem),
    )  # fmt: skip


def read_report(
    store: Path, index: int, bounds: tuple[int, int] | None = None
) -> BatchReport | None:
    """The batch's report if it has a valid marker, else None (see :func:`read_marker`)."""
    return read_marker(marker_path(store, index), bounds)


def write_report(store: Path, report: BatchReport) -> None:
    """Write the batch's marker atomically and durably: a rename either happens or not.

    The marker is what makes a batch count as finished, so it is written only
    after the batch's region, and published (flushed, renamed, folder flushed)
    so that a power loss cannot leave a marker without its data or an empty one.

    Raises
    ------
    OSError
        If the marker cannot be written (no temporary file is left behind).
    """
    target = marker_path(store, report.index)
    tmp = temporary_path(target, directory=False)
    try:
        tmp.write_text(report.to_json(), encoding="utf-8")
        publish(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def points_finished(store: Path) -> int:
    """Points of every batch with a marker: what the store holds for good."""
    return sum(r.stop - r.start for r in finished_batches(store).values())


def write_failed(store: Path, exc: OSError, *, what: str, total: int) -> SimError:
    """The error that stops a sweep when writing into its store fails.

    Parameters
    ----------
    store
        The sweep's store.
    exc
        The operating system's error (``ENOSPC`` and ``EDQUOT`` are worded as a
        full disk and a used-up quota; others are shown as they are).
    what
        What was being written, e.g. ``"points 6-7 (batch 3)"``.
    total
        Points in the whole sweep.

    Returns
    -------
    SimError
        Three parts: what failed and why; what the store keeps (the points of
        every batch with a marker, counted now, readable before the store is
        finished); how to go on (make room, or move the store, then run the
        same command again, which resumes).
    """
    done = points_finished(store)
    quota = getattr(errno, "EDQUOT", None)
    if exc.errno == errno.ENOSPC:
        reason = "the filesystem is full: "
    elif quota is not None and exc.errno == quota:
        reason = "the disk quota is used up: "
    else:
        reason = ""
    if reason:
        fix = (
            "free space on that filesystem (or raise the quota), or move the store to one with "
            "room and pass its new path with -o"
        )
    else:
        fix = (
            f"make {store} writable (a filesystem mounted read-write, a folder you may write "
            "to), or move the store and pass its new path with -o"
        )
    return SimError(
        f"could not write {what} into the sweep store {store}: {reason}{exc}\n"
        f"  kept: {done} of {total} points were finished when the write failed; they stay in "
        f"the store, readable now with xarray.open_zarr({str(store)!r}, consolidated=False) "
        "(unfinished points read as NaN, or 0 in whole-number variables), and are not "
        "computed again\n"
        f"  fix: {fix}; then run the same `sim sweep` command again: it resumes with the "
        f"{total - done} unfinished points"
    )


def finished_batches(
    store: Path, batches: Sequence[tuple[int, int]] | None = None
) -> dict[int, BatchReport]:
    """Every batch with a valid marker, by index (see :func:`read_marker`).

    With the plan's ``batches``, only markers of those batches, for their
    points, count.
    """
    folder = store / DONE_DIR
    if not folder.is_dir():
        return {}
    out = {}
    for path in sorted(folder.glob("[0-9]*.json")):
        if not path.stem.isdigit():
            continue
        index = int(path.stem)
        if batches is not None and index >= len(batches):
            _unreadable(path, f"names a batch the plan does not have (it has {len(batches)})")
            continue
        report = read_marker(path, None if batches is None else batches[index])
        if report is not None:
            out[report.index] = report
    return out


def remove_stale_markers(store: Path, finished: Collection[int]) -> None:
    """Delete the markers of batches not in ``finished``: unreadable ones, already reported.

    Only the client holding the store's lock calls this, before any batch
    runs, so that no worker reads them again; their batches are computed again
    and get new markers.
    """
    for path in (store / DONE_DIR).glob("[0-9]*.json"):
        if not (path.stem.isdigit() and int(path.stem) in finished):
            path.unlink(missing_ok=True)


def template_dataset(plan: Plan) -> xr.Dataset:
    """The whole store as a lazy dataset: metadata and coordinates, no run values."""
    import dask.array as da

    sweep = plan.sweep
    n, per_task, replicas = plan.points, plan.points_per_task, sweep.replicas
    data_vars: dict[str, Any] = {}
    for var in plan.layout.variables:
        chunks = (per_task, plan.replica_chunk(var), *var.shape)
        lazy = da.zeros((n, replicas, *var.shape), dtype=var.dtype, chunks=chunks)
        data_vars[var.name] = ((POINT, REPLICA, *var.dims), lazy, var.attrs)
    data_vars["point_failed"] = (
        (POINT,), da.zeros(n, dtype=bool, chunks=per_task),
        {"long_name": "the point's run raised; its values are NaN (-1 for integers)",
         "units": "1"},
    )  # fmt: skip
    data_vars["point_error"] = (
        (POINT,), da.full(n, "", dtype=f"<U{ERROR_CHARS}", chunks=per_task),  # type: ignore[no-untyped-call]
        {"long_name": "error message of a failed point (empty where the point ran)"},
    )  # fmt: skip
    data_vars["point_unit"] = (
        (POINT, "sweep_parameter"), plan.unit,
        {"long_name": "the design's coordinates in the unit cube (NaN for a list design)",
         "units": "1"},
    )  # fmt: skip
    coords: dict[str, Any] = {
        POINT: (POINT, np.arange(n, dtype=np.int64), {"long_name": "sweep point"}),
        "sweep_parameter": ("sweep_parameter", sweep.keys),
        REPLICA: (REPLICA, np.arange(replicas, dtype=np.int64), {"long_name": "Monte Carlo replica"}),
    }  # fmt: skip
    for j, param in enumerate(sweep.parameters):
        coords[param.key] = (
            POINT,
            plan.values[:, j],
            {"long_name": f"swept parameter {param.key}"},
        )
    for name, coord in plan.template.coords.items():
        if REPLICA not in coord.dims:
            coords[str(name)] = coord.variable
    ds = xr.Dataset(data_vars=data_vars, coords=coords)
    ds.attrs.update({k: v for k, v in plan.template.attrs.items() if k not in RUN_ONLY_ATTRS})
    ds.attrs.update(sweep_attributes(plan))
    return ds


def sweep_attributes(plan: Plan) -> dict[str, Any]:
    """The sweep's own provenance and the design settings the analysis needs."""
    sweep, design = plan.sweep, plan.sweep.design
    attrs: dict[str, Any] = {
        "sweep_design": design.kind,
        "sweep_parameters": json.dumps(sweep.keys),
        "sweep_parameter_specs": json.dumps([p.describe() for p in sweep.parameters]),
        "sweep_design_seed": design.seed,
        "sweep_points": plan.points,
        "sweep_points_per_task": plan.points_per_task,
        "sweep_replica_batch": sweep.replica_batch,
        "sweep_file": str(sweep.path.resolve()),
        "sweep_yaml": sweep.text,
        "sweep_sha256": plan.identity,
        "replicas": sweep.replicas,
    }
    if design.kind == "saltelli":
        attrs["saltelli_n"] = design.samples
    if design.kind == "morris":
        attrs["morris_trajectories"] = design.trajectories
        attrs["morris_levels"] = design.levels
        attrs["morris_delta"] = design.levels / (2 * (design.levels - 1))
    return attrs


def is_sweep_store(path: Path) -> bool:
    """Whether ``path`` is a store made by ``sim sweep`` (its attributes name a plan)."""
    try:
        attrs = json.loads((path / ".zattrs").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(attrs, dict) and "sweep_sha256" in attrs


def batches_done(plan: Plan, path: Path) -> set[int]:
    """Batches of this plan that ``path`` already holds (none if it holds another sweep)."""
    if not is_sweep_store(path):
        return set()
    attrs = json.loads((path / ".zattrs").read_text(encoding="utf-8"))
    if attrs["sweep_sha256"] != plan.identity:
        return set()
    return set(finished_batches(path, plan.batches))


#: Tries to open a store that keeps changing under the client (others replacing it).
OPEN_ATTEMPTS = 20


@contextlib.contextmanager
def locked_store(plan: Plan, path: Path, *, overwrite: bool = False) -> Iterator[bool]:
    """Hold this plan's store at ``path`` and its lock for the ``with`` block.

    Yields True if the store existed (a resume), False if it was created.
    Creating the store and taking its lock are one step: the store is built
    in a temporary folder, its lock taken there, and only then is it renamed
    into place, by a rename that never replaces a store. A second client
    started at the same moment therefore finds the store locked and is
    refused; it can neither build a store of its own over the first one nor
    hold the lock at the same time. An existing store is locked first and
    only then checked and, with ``overwrite``, replaced. The operating system
    drops the lock when the client dies (SIGKILL included).

    Raises
    ------
    SimError
        If another client holds the store; if ``path`` holds something else:
        another sweep's store (unless ``overwrite``), or anything that is not a
        sweep store; if the store cannot be created, locked or replaced.
    """
    handle, resumed = _acquire(plan, path, overwrite=overwrite)
    with handle:
        yield resumed


def _acquire(plan: Plan, path: Path, *, overwrite: bool) -> tuple[IO[str], bool]:
    """The open, locked lock file of this plan's store at ``path``, and whether it existed."""
    for _ in range(OPEN_ATTEMPTS):
        if not os.path.lexists(path):
            created = _create_locked(plan, path)
            if created is not None:
                return created, False
            continue  # another client created it first: now it is an existing store
        if not is_sweep_store(path):
            if not os.path.lexists(path):
                continue  # moved aside by a client replacing it (--overwrite)
            raise SimError(
                f"{path} exists and is not a sweep store\n"
                "  allowed: a new path, or a store written by `sim sweep`; a folder that is not "
                "a sweep store is never replaced, not even with --overwrite\n"
                "  fix: choose another output (-o), or remove it yourself"
            )
        handle = _lock_existing(path)
        if handle is None:
            continue  # replaced or moved between the check and the lock
        with contextlib.ExitStack() as undo:
            undo.callback(handle.close)
            attrs = json.loads((path / ".zattrs").read_text(encoding="utf-8"))
            if attrs.get("sweep_sha256") == plan.identity:
                (path / DONE_DIR).mkdir(parents=True, exist_ok=True)
                undo.pop_all()
                return handle, True
            if not overwrite:
                raise SimError(
                    f"{path} holds another sweep's results (the sweep file, the scenario, its "
                    "data, the batches or the engine version differ)\n"
                    "  allowed: resuming a store of the same sweep; replacing another's only "
                    "with --overwrite\n"
                    "  fix: write to another output (-o), or pass --overwrite to start this "
                    "sweep again from nothing"
                )
            _remove_store(path)  # under its lock: no client is filling it
    raise SimError(
        f"could not open the sweep store {path}: it was replaced or moved {OPEN_ATTEMPTS} times "
        "while this client tried to lock it\n"
        "  allowed: one `sim sweep` client per store at a time\n"
        "  fix: stop the other clients writing to this path (--overwrite replaces the store), "
        "or give this one another store with -o"
    )


def _create_locked(plan: Plan, path: Path) -> IO[str] | None:
    """Create the store with its lock held; None if another client's store got there first.

    The template's metadata and coordinates, the marker folder and the lock
    file are written in a temporary folder, the lock taken there (no other
    client can know that file yet), everything flushed, and the folder
    renamed into place. A rename replaces an empty folder but never one with
    files in it, and a store always has some, so of two clients only one
    store ends up at ``path``, with its creator holding its lock.
    """
    try:
        tmp = temporary_path(path, directory=True)
    except OSError as exc:
        raise _create_failed(path, exc) from exc
    handle: IO[str] | None = None
    try:
        staging = tmp / "store.zarr"
        with _quiet_zarr():
            # compute=False writes metadata and the in-memory coordinates only; no chunk of
            # run values exists until a task writes it.
            template_dataset(plan).to_zarr(
                staging, mode="w-", compute=False, consolidated=False, zarr_format=2
            )
        (staging / DONE_DIR).mkdir(parents=True)
        handle = (staging / LOCK_FILE).open("a+", encoding="utf-8")
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        sync_tree(staging)
        try:
            if os.path.lexists(path):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))
            os.rename(staging, path)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                raise
            handle.close()
            return None
        sync_directory(path.parent)
        return handle
    except BaseException as exc:
        if handle is not None:
            handle.close()
        if isinstance(exc, OSError):
            raise _create_failed(path, exc) from exc
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _lock_existing(path: Path) -> IO[str] | None:
    """Lock the existing store ``path``; None if it was moved or replaced meanwhile.

    Raises
    ------
    SimError
        If another client holds the lock, or the lock file cannot be opened.
    """
    lock = path / LOCK_FILE
    try:
        (path / SWEEP_DIR).mkdir(exist_ok=True)  # never its parents: ``path`` may be gone
        handle = lock.open("a+", encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SimError(
            f"cannot open the lock file of the sweep store {path}: {exc}\n"
            "  kept: the store as it is; nothing was computed\n"
            "  fix: make the store writable (or move it and pass its new path with -o), then "
            "run the same command again"
        ) from exc
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SimError(
            f"another `sim sweep` is filling {path} (it holds the lock {lock})\n"
            "  allowed: one `sim sweep` client per store at a time; its workers share the "
            "batches\n"
            "  fix: wait for it to finish, or stop it and run this command again to resume; "
            "to run both, give this one another store with -o"
        ) from None
    try:
        same = os.path.samestat(os.fstat(handle.fileno()), os.stat(lock))
    except OSError:
        same = False
    if not same:  # the store this file belongs to was moved aside meanwhile
        handle.close()
        return None
    return handle


def _remove_store(path: Path) -> None:
    """Delete a sweep store: moved aside in one rename, so ``path`` never holds half of it."""
    try:
        aside = temporary_path(path, directory=True)
        os.replace(path, aside)  # a folder may be renamed over an empty one
    except OSError as exc:
        raise SimError(
            f"could not replace the sweep store {path} (--overwrite): {exc}\n"
            "  kept: the store as it is; nothing was computed\n"
            "  fix: make its folder writable, or write to another output (-o)"
        ) from exc
    shutil.rmtree(aside, ignore_errors=True)


def _create_failed(path: Path, exc: OSError) -> SimError:
    return SimError(
        f"could not create the sweep store {path}: {exc}\n"
        "  kept: nothing; no point was computed and no partial store is left\n"
        "  fix: check the folder is writable and has free space (or pass another path with "
        "-o), then run the command again"
    )


def write_region(
    store: Path, start: int, stop: int, arrays: dict[str, tuple[tuple[str, ...], Any]]
) -> None:
    """Write one batch's variables into points ``start:stop`` (whole chunks)."""
    ds = xr.Dataset({name: (dims, values) for name, (dims, values) in arrays.items()})
    with _quiet_zarr():
        ds.to_zarr(store, region={POINT: slice(start, stop)}, mode="r+", consolidated=False)


def remove_partial_files(store: Path) -> list[Path]:
    """Delete what writers killed mid-file left: Zarr's ``*.partial`` and our ``*.tmp`` files.

    Both are written next to their target and renamed over it when complete,
    so a leftover one is never part of the results.
    """
    leftovers = [*store.glob("*/*.partial"), *store.glob(f"{DONE_DIR}/.*.tmp")]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def consolidate(store: Path) -> None:
    """Finish a store: drop leftovers of killed writers, then consolidate the metadata.

    Consolidated metadata lets ``xarray.open_zarr`` open the store with one read.
    """
    import zarr

    remove_partial_files(store)
    with _quiet_zarr():
        zarr.consolidate_metadata(str(store))


__all__ = [
    "BatchReport",
    "batches_done",
    "consolidate",
    "finished_batches",
    "is_sweep_store",
    "locked_store",
    "marker_path",
    "points_finished",
    "read_marker",
    "read_report",
    "remove_stale_markers",
    "write_failed",
    "write_region",
    "write_report",
]

"""The entry points for notebooks and the CLI: load, validate, build, simulate, collect, write."""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from sim.engine.draw import draw_batch
from sim.engine.model import Model, build_model
from sim.engine.outputs import output_shapes, static_shapes
from sim.engine.simulate import simulate_batch
from sim.errors import ScenarioError as ScenarioError  # re-exported for callers
from sim.errors import SimError
from sim.limits import (
    PEAK_FACTOR,
    available_memory,
    batch_bytes,
    check_disk,
    check_memory,
    output_bytes,
)
from sim.results.dataset import build_dataset
from sim.results.guard import check_output, check_scenario_output, scenario_inputs
from sim.results.stream import is_zarr, open_batch_writer
from sim.results.write import discard, io_error, publish, temporary_path, write_failed
from sim.scenario.data import load_scenario_data
from sim.scenario.load import LoadedDocument, load_scenario_document, resolve_extends_dict
from sim.scenario.validate import Scenario, check_run_inputs, validate_scenario, validate_value
from sim.threads import limit_blas

log = logging.getLogger(__name__)


def load_scenario(
    source: str | Path | Mapping[str, Any] | Scenario,
    *,
    replicas: int | None = None,
    seed: int | None = None,
    data_roots: Sequence[str | Path] | None = None,
    base_dir: str | Path | None = None,
    overrides_from: str = "<override>",
) -> Scenario:
    """Load and validate a scenario from a YAML path or a dict.

    Parameters
    ----------
    source
        Path of a scenario file, a scenario as a mapping (``extends`` and data
        file paths relative to ``base_dir``), or an already validated scenario.
    replicas, seed
        Override ``monte_carlo.replicas`` and ``monte_carlo.seed``; validated
        as if written in the file (type and bounds of the schema).
    data_roots
        Further folders data files may be read from (paths or strings).
    base_dir
        Folder for relative paths of a scenario given as a mapping (default: cwd).
    overrides_from
        Where the overrides come from, for error messages (the CLI says
        ``command line``).
    """
    overrides = {
        key: value for key, value in (("replicas", replicas), ("seed", seed)) if value is not None
    }
    if isinstance(source, Scenario):
        if not overrides:
            return source
        doc = LoadedDocument(
            data=copy.deepcopy(source.data), origins=dict(source.origins), files=list(source.files)
        )
        _override(doc, overrides, overrides_from)
        return validate_scenario(
            doc, path=source.path, data_root=source.data_root, extra_roots=source.extra_roots
        )
    if isinstance(source, Mapping):
        root = Path(base_dir) if base_dir else Path.cwd()
        data = copy.deepcopy(dict(source))
        if "extends" in data:
            doc = resolve_extends_dict(data, root)
        else:
            doc = LoadedDocument(data=data, origins={}, files=["<dict>"])
        path = None
    else:
        path = Path(source)
        doc = load_scenario_document(path)
        root = path.parent
    _override(doc, overrides, overrides_from)
    roots = None if data_roots is None else [Path(r) for r in data_roots]
    for extra in roots or []:
        if not extra.is_dir():
            # A mistyped --data-root would otherwise only show as a refusal of the data.
            raise SimError(
                f"the data root {extra} is not a folder\n"
                "  allowed: existing folders data files may be read from\n"
                "  fix: check the path given to --data-root (data_roots=)"
            )
    return validate_scenario(doc, path=path, data_root=root, extra_roots=roots)


def _override(doc: LoadedDocument, overrides: dict[str, Any], origin: str) -> None:
    """Put ``monte_carlo`` overrides into the document, so that they are validated as if
    written in the file (same types, same bounds), located at ``origin``."""
    if not overrides:
        return
    section = doc.data.setdefault("monte_carlo", {})
    if not isinstance(section, dict):
        return  # validation reports the section itself
    for key, value in overrides.items():
        section[key] = value
        doc.origins[f"monte_carlo.{key}"] = (origin, 0)


def check_batch_size(batch_size: int | None, *, origin: str = "command line") -> None:
    """Refuse a batch size the schema's ``monte_carlo.batch_size`` would refuse in a file."""
    if batch_size is not None:
        validate_value("monte_carlo.batch_size", batch_size, origin=origin)


def prepare(scenario: Scenario) -> Model:
    """Read the scenario's tables and build the static model."""
    return build_model(scenario, load_scenario_data(scenario))


def simulate(
    model: Model,
    *,
    first: int = 0,
    count: int | None = None,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    buffers: dict[str, np.ndarray] | None = None,
) -> xr.Dataset:
    """Simulate replicas ``first .. first+count-1`` in batches and label the result.

    ``buffers`` (one batch only): output arrays to reuse and leave for the next call
    (sim.engine.simulate.simulate_batch); the dataset returned then shares their memory
    and is valid only until the next call given them.
    """
    check_batch_size(batch_size, origin="<override>")
    check_run_inputs(model.scenario)
    mc = model.scenario.data["monte_carlo"]
    count = mc["replicas"] if count is None else count
    size = batch_size or mc["batch_size"]
    if buffers is not None and count > size:
        raise ValueError("buffers can be reused only by a call that simulates one batch")
    check_memory(model, count, size)
    parts: dict[str, list[np.ndarray]] = {}
    drawn: dict[str, list[np.ndarray]] = {}
    events = 0
    done = 0
    with limit_blas():  # small batched algebra: one BLAS thread unless told (sim.threads)
        for start in range(first, first + count, size):
            n = min(size, first + count - start)
            batch = draw_batch(model, start, n)

            def on_period(k: int, done: int = done, n: int = n) -> None:
                # Replica-periods done so far, as replicas: smooth progress within a batch.
                if progress is not None:
                    progress(done + n * (k + 1) // model.calendar.periods, count)

            result = simulate_batch(model, batch, on_period, buffers)
            events = max(events, result.events)
            for name, values in result.arrays.items():
                parts.setdefault(name, []).append(values)
            for key, values in batch.drawn.items():
                drawn.setdefault(key, []).append(values)
            done += n
    # One batch: use its arrays as they are (a concatenation would copy the whole output).
    arrays = {
        name: chunks[0] if len(chunks) == 1 else np.concatenate(chunks, axis=0)
        for name, chunks in parts.items()
    }
    replicas = np.arange(first, first + count, dtype=np.int64)
    parameters = {key: np.concatenate(chunks) for key, chunks in drawn.items()}
    return build_dataset(model, arrays, replicas, events, parameters, batch_size=size)


def run(
    scenario: str | Path | Mapping[str, Any] | Scenario,
    *,
    replicas: int | None = None,
    seed: int | None = None,
    batch_size: int | None = None,
    base_dir: str | Path | None = None,
) -> xr.Dataset:
    """Run a scenario and return its projection as an :class:`xarray.Dataset`.

    Examples
    --------
    >>> ds = sim.run("scenarios/uz_kz_khiva_2024.yaml", replicas=50)  # doctest: +SKIP
    >>> ds.trade_turnover_annual.sel(pair="UZ-KZ").quantile([0.05, 0.5, 0.95], "replica")
    """
    sc = load_scenario(scenario, replicas=replicas, seed=seed, base_dir=base_dir)
    model = prepare(sc)
    return simulate(model, batch_size=batch_size)


def counterfactual(
    scenario: str | Path | Mapping[str, Any] | Scenario,
    *,
    replicas: int | None = None,
    seed: int | None = None,
    base_dir: str | Path | None = None,
) -> xr.Dataset:
    """A static counterfactual: every policy of the scenario in force at once, no calendar.

    The baseline is the scenario's (trade table, tariffs, linkages, labour closures);
    the dataset holds the equilibrium's changes for every replica (docs/model.md §3).

    Examples
    --------
    >>> ds = sim.counterfactual("scenarios/uz_kz_industrial_programme.yaml")  # doctest: +SKIP
    >>> ds.real_income_change.quantile([0.05, 0.5, 0.95], "replica")
    """
    from sim.counterfactual import counterfactual as solve

    sc = load_scenario(scenario, replicas=replicas, seed=seed, base_dir=base_dir)
    return solve(prepare(sc))


def output_path(scenario: Scenario, override: str | Path | None = None) -> Path:
    """Where a run writes by default: ``output.path`` with ``{name}`` filled in.

    The path is returned as written; :func:`run_to_file` refuses one from the
    scenario that leaves its folder tree and ``outputs/``
    (:func:`sim.results.guard.check_scenario_output`).
    """
    if override is not None:
        return Path(override)
    return Path(str(scenario.data["output"]["path"]).replace("{name}", scenario.name))


def run_to_file(
    scenario: Scenario,
    path: str | Path | None = None,
    *,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[xr.Dataset, Path]:
    """Run and write the output atomically; nothing is written if the run fails.

    The run streams: each batch of replicas is appended to the output (NetCDF-4,
    or Zarr for a ``.zarr`` path) as soon as it is simulated, so memory is
    bounded by one batch (sized from the available memory) whatever the number
    of replicas. The dataset returned reads lazily from the written file; a run of
    one batch returns that batch, in memory and identical to the file's content.

    Without ``path``, the output is the scenario's ``output.path``, which
    must lie inside the scenario's folder tree or under ``outputs/`` of the
    current directory: a scenario from someone else cannot write elsewhere.
    An existing output of a run (a NetCDF file, a Zarr store that is not a
    sweep store) is replaced; anything else there, or any file the run reads,
    is refused before the run (:mod:`sim.results.guard`).
    """
    check_run_inputs(scenario)
    target = output_path(scenario, path)
    if path is None:
        check_scenario_output(scenario, target)
    model = prepare(scenario)
    check_run_output(target, scenario)
    replicas = scenario.data["monte_carlo"]["replicas"]
    check_disk(model, replicas, target)
    return stream_to_file(model, target, batch_size=batch_size, progress=progress)


def check_output_variables(model: Model) -> None:
    """Refuse ``output.variables`` naming a variable the run would not produce, before
    anything is simulated (the run's labelling would refuse it after its first batch).

    The names are those the labelling gives one replica of zeros: the dataset's own
    list, whatever the scenario switches on (prices, drawn parameters, projects).
    """
    if not model.scenario.data["output"]["variables"]:
        return
    periods = model.calendar.periods
    arrays = {name: np.zeros((1, periods, *shape)) for name, shape in output_shapes(model).items()}
    arrays |= {name: np.zeros((1, *shape)) for name, shape in static_shapes(model).items()}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # zeros divide by zeros
        build_dataset(model, arrays, np.zeros(1, dtype=np.int64), 0, draw_batch(model, 0, 1).drawn)


def check_run_output(target: Path, scenario: Scenario) -> None:
    """Refuse an output of a run that is one of the scenario's files, or is anything but
    an earlier run's output (a NetCDF file, or a Zarr store that is not a sweep store)."""
    zarr = is_zarr(target)
    check_output(
        target,
        "zarr" if zarr else "file",
        inputs=scenario_inputs(scenario),
        format=None if zarr else "NetCDF",
    )


def stream_to_file(
    model: Model,
    target: Path,
    *,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[xr.Dataset, Path]:
    """Simulate batch by batch, appending each batch to ``target`` along ``replica``.

    ``target`` is checked as :func:`run_to_file` does (none of the scenario's
    files, only an output of a run replaced) before anything is simulated.
    """
    check_run_output(target, model.scenario)
    check_output_variables(model)
    check_batch_size(batch_size, origin="<override>")
    mc = model.scenario.data["monte_carlo"]
    count = mc["replicas"]
    size = fit_batch_size(model, batch_size or mc["batch_size"])
    check_memory(model, min(size, count), size)
    try:
        tmp = temporary_path(target, directory=is_zarr(target))
    except OSError as exc:
        raise write_failed(target, exc) from exc
    try:
        writer = open_batch_writer(target, tmp, count, min(size, count))
        # Each batch is written before the next is simulated, so the next can reuse its
        # output arrays (already in memory: sim.engine.outputs.output_buffer).
        buffers: dict[str, np.ndarray] = {}
        for start in range(0, count, size):
            n = min(size, count - start)

            def report(done: int, _total: int, start: int = start) -> None:
                if progress is not None:
                    progress(start + done, count)

            part = simulate(
                model, first=start, count=n, batch_size=n, progress=report, buffers=buffers
            )
            # The file's attributes come from the first batch: record the run's batch size
            # (after fit_batch_size), which a rerun needs to give the same bits, not this
            # call's (the last batch may be smaller).
            part.attrs["batch_size"] = int(size)
            writer.append(part)
        writer.close()
        publish(tmp, target)
    except (OSError, RuntimeError) as exc:
        discard(tmp)
        if (error := io_error(exc)) is None:
            raise
        raise write_failed(target, error) from exc
    except BaseException:
        discard(tmp)
        raise
    if count <= size:
        # One batch: it is the whole file's content, already in memory (reading the file
        # back took 0.26 s of a 3.3 s seed run; tests/test_stream.py checks they are identical).
        return part, target
    # Lazily: the file may be larger than memory (read what you use, or .load()).
    opened = xr.open_zarr(target) if is_zarr(target) else xr.open_dataset(target, engine="h5netcdf")
    return opened, target


def fit_batch_size(model: Model, wanted: int) -> int:
    """The largest batch up to ``wanted`` whose estimated peak fits the memory limit."""
    available = available_memory()
    if available is None:
        return wanted
    allowed = float(model.scenario.data["monte_carlo"]["memory_limit"]) * available

    def fits(n: int) -> bool:
        return PEAK_FACTOR * output_bytes(model, n) + batch_bytes(model, n) <= allowed

    # The estimate grows with the batch (linearly, up to the solver's bounded Jacobian
    # workspace): the largest batch that fits, by bisection.
    low, high = 1, wanted
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    return low

"""The entry points for notebooks and the CLI: load, validate, build, simulate, collect, write."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from sim.engine.model import Model, build_model, draw_batch
from sim.engine.simulate import simulate_batch
from sim.errors import ScenarioError
from sim.limits import (
    PEAK_FACTOR,
    available_memory,
    batch_bytes,
    check_disk,
    check_memory,
    output_bytes,
)
from sim.results.dataset import build_dataset
from sim.results.stream import is_zarr, open_batch_writer
from sim.results.write import discard, publish, temporary_path, write_failed
from sim.scenario.data import load_scenario_data
from sim.scenario.load import LoadedDocument, load_scenario_document, resolve_extends_dict
from sim.scenario.validate import Scenario, validate_scenario

log = logging.getLogger(__name__)


def load_scenario(
    source: str | Path | Mapping[str, Any] | Scenario,
    *,
    replicas: int | None = None,
    seed: int | None = None,
    data_roots: list[Path] | None = None,
    base_dir: str | Path | None = None,
) -> Scenario:
    """Load and validate a scenario from a YAML path or a dict.

    Parameters
    ----------
    source
        Path of a scenario file, a scenario as a mapping (``extends`` and data
        file paths relative to ``base_dir``), or an already validated scenario.
    replicas, seed
        Override ``monte_carlo.replicas`` and ``monte_carlo.seed``.
    data_roots
        Further folders data files may be read from.
    base_dir
        Folder for relative paths of a scenario given as a mapping (default: cwd).
    """
    if isinstance(source, Scenario):
        sc = source
    else:
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
        sc = validate_scenario(doc, path=path, data_root=root, extra_roots=data_roots)
    if replicas is not None or seed is not None:
        sc = copy.deepcopy(sc)
        if replicas is not None:
            if replicas < 1:
                raise ScenarioError(
                    "the number of replicas must be at least 1",
                    key="monte_carlo.replicas",
                    value=replicas,
                    allowed="an integer >= 1",
                )
            sc.data["monte_carlo"]["replicas"] = int(replicas)
        if seed is not None:
            if seed < 0:
                raise ScenarioError(
                    "the seed must be non-negative", key="monte_carlo.seed", value=seed,
                    allowed="an integer >= 0",
                )  # fmt: skip
            sc.data["monte_carlo"]["seed"] = int(seed)
    return sc


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
) -> xr.Dataset:
    """Simulate replicas ``first .. first+count-1`` in batches and label the result."""
    mc = model.scenario.data["monte_carlo"]
    count = mc["replicas"] if count is None else count
    size = batch_size or mc["batch_size"]
    check_memory(model, count, size)
    parts: dict[str, list[np.ndarray]] = {}
    drawn: dict[str, list[np.ndarray]] = {}
    events = 0
    done = 0
    for start in range(first, first + count, size):
        n = min(size, first + count - start)
        batch = draw_batch(model, start, n)

        def on_period(k: int, done: int = done, n: int = n) -> None:
            # Replica-periods done so far, as replicas: smooth progress within a batch.
            if progress is not None:
                progress(done + n * (k + 1) // model.calendar.periods, count)

        result = simulate_batch(model, batch, on_period)
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
    return build_dataset(model, arrays, replicas, events, parameters)


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


def output_path(scenario: Scenario, override: str | Path | None = None) -> Path:
    """Where a run writes by default: ``output.path`` with ``{name}`` filled in."""
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
    of replicas. The dataset returned reads lazily from the written file.
    """
    target = output_path(scenario, path)
    model = prepare(scenario)
    replicas = scenario.data["monte_carlo"]["replicas"]
    check_disk(model, replicas, target)
    return stream_to_file(model, target, batch_size=batch_size, progress=progress)


def stream_to_file(
    model: Model,
    target: Path,
    *,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[xr.Dataset, Path]:
    """Simulate batch by batch, appending each batch to ``target`` along ``replica``."""
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
        for start in range(0, count, size):
            n = min(size, count - start)

            def report(done: int, _total: int, start: int = start) -> None:
                if progress is not None:
                    progress(start + done, count)

            writer.append(simulate(model, first=start, count=n, batch_size=n, progress=report))
        writer.close()
        publish(tmp, target)
    except OSError as exc:
        discard(tmp)
        raise write_failed(target, exc) from exc
    except BaseException:
        discard(tmp)
        raise
    # Lazily: the file may be larger than memory (read what you use, or .load()).
    opened = xr.open_zarr(target) if is_zarr(target) else xr.open_dataset(target, engine="h5netcdf")
    return opened, target


def fit_batch_size(model: Model, wanted: int) -> int:
    """The largest batch up to ``wanted`` whose estimated peak fits the memory limit."""
    available = available_memory()
    if available is None:
        return wanted
    allowed = float(model.scenario.data["monte_carlo"]["memory_limit"]) * available
    # Both estimates grow linearly with the replicas of a batch.
    per_replica = PEAK_FACTOR * output_bytes(model, 1) + batch_bytes(model, 1)
    return max(1, min(wanted, int(allowed // per_replica)))

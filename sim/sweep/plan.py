"""Turn a checked sweep into a plan: the points, the batches of points, the store layout.

The plan is a pure function of the sweep file, the base scenario and its data
files: the same command plans the same batches whatever the backend or the
number of workers, which is what makes results identical across backends and
lets a rerun resume a store batch by batch. Its :attr:`Plan.identity` (a
sha256 of everything that determines the numbers and the layout) is stored
with the results; a rerun refuses a store made by a different plan.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

import sim
from sim.errors import ScenarioError
from sim.scenario.keypath import set_path
from sim.scenario.load import LoadedDocument, dump_yaml
from sim.scenario.validate import Scenario, validate_scenario
from sim.sweep.design import place_points
from sim.sweep.spec import Sweep

FloatArray = NDArray[np.float64]
MiB = 1 << 20
#: Default number of tasks a design is cut into: enough to balance many workers and to
#: resume with little lost, few enough not to flood a scheduler.
TARGET_TASKS = 100
#: Largest output of one task by default; bounds a worker's memory.
TASK_OUTPUT_LIMIT = 256 * MiB
#: Largest uncompressed chunk in the store.
CHUNK_LIMIT = 64 * MiB
#: Dimensions the store puts in front of a run's own.
POINT, REPLICA = "point", "replica"


@dataclass(frozen=True)
class Variable:
    """One output variable of a run: its own dimensions after ``replica``."""

    name: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: str
    attrs: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def bytes_per_replica(self) -> int:
        return int(np.dtype(self.dtype).itemsize * math.prod(self.shape))


@dataclass(frozen=True)
class Layout:
    """What every point's dataset must look like (taken from a one-replica template run).

    Attributes
    ----------
    variables
        The run's data variables, all with ``replica`` as leading dimension.
    index
        Values of the dimension coordinates other than ``replica``: a point
        whose run has other labels (more projects, say) cannot share the store.
    """

    variables: tuple[Variable, ...]
    index: dict[str, list[Any]]

    @property
    def bytes_per_replica(self) -> int:
        return sum(v.bytes_per_replica for v in self.variables)


@dataclass
class Plan:
    """Everything fixed before the first run: points, batches, layout, identity."""

    sweep: Sweep
    unit: FloatArray
    values: FloatArray
    points_per_task: int
    batches: list[tuple[int, int]]
    layout: Layout
    template: xr.Dataset
    identity: str

    @property
    def points(self) -> int:
        return int(self.values.shape[0])

    @property
    def runs(self) -> int:
        return self.points * self.sweep.replicas

    @property
    def point_bytes(self) -> int:
        return self.layout.bytes_per_replica * self.sweep.replicas

    def replica_chunk(self, var: Variable) -> int:
        """Replicas per chunk of ``var``: all of them unless a chunk would exceed CHUNK_LIMIT."""
        per_replica = max(var.bytes_per_replica * self.points_per_task, 1)
        return max(1, min(self.sweep.replicas, CHUNK_LIMIT // per_replica))


def scenario_at(base: Scenario, keys: list[str] | tuple[str, ...], values: Any) -> Scenario:
    """The base scenario with ``keys`` set to ``values``, validated again.

    Validation runs on the changed document, so a value outside what a key
    allows, or a combination a cross-key rule refuses, raises ScenarioError.
    """
    data = copy.deepcopy(base.data)
    for key, value in zip(keys, values, strict=True):
        set_path(data, key, float(value))
    doc = LoadedDocument(data=data, origins=base.origins, files=base.files)
    return validate_scenario(
        doc, path=base.path, data_root=base.data_root, extra_roots=base.extra_roots
    )


def check_values(sweep: Sweep, values: FloatArray) -> None:
    """Refuse a design that sets a key outside its allowed range, before anything runs.

    Each parameter's extremes are tried alone on the base scenario: the bounds
    of a range (whatever the sample happens to reach, so that a bad range fails
    at any sample size), the extremes of a list, the extreme draws of a
    distribution. Only an error about the key itself is the sweep file's fault;
    an error elsewhere (a rule across keys) is left to the points it affects,
    which are then recorded as failed.
    """
    for j, param in enumerate(sweep.parameters):
        extremes = (param.low, param.high) if param.kind == "range" else (
            values[:, j].min(), values[:, j].max())  # fmt: skip
        for value in extremes:
            try:
                scenario_at(sweep.scenario, [param.key], [value])
            except ScenarioError as exc:
                if exc.key != param.key:
                    continue
                raise sweep.error(
                    f"the design sets {param.key} to {value:.6g}, which the scenario does not "
                    f"allow ({exc.problem})",
                    f"{param.where}.{param.kind}",
                    allowed=exc.allowed,
                    hint=f"narrow the {param.kind} of this parameter",
                ) from None


def run_template(sc: Scenario) -> xr.Dataset:
    """One replica of the base scenario: the shapes, labels and attributes of every point."""
    from sim.api import prepare, simulate

    return simulate(prepare(sc), first=0, count=1, batch_size=1)


def read_layout(template: xr.Dataset) -> Layout:
    variables = []
    for name, var in template.data_vars.items():
        if var.dims[:1] != (REPLICA,):
            raise ScenarioError(f"output variable {name} has no replica dimension")
        variables.append(
            Variable(
                str(name),
                tuple(map(str, var.dims[1:])),
                var.shape[1:],
                var.dtype.str,
                dict(var.attrs),
            )
        )
    index = {str(dim): template.indexes[dim].tolist() for dim in template.dims if dim != REPLICA}
    return Layout(tuple(variables), index)


def choose_points_per_task(points: int, point_bytes: int) -> int:
    """Points per task by default: about TARGET_TASKS tasks, each within TASK_OUTPUT_LIMIT."""
    by_count = math.ceil(points / TARGET_TASKS)
    by_memory = max(1, TASK_OUTPUT_LIMIT // max(point_bytes, 1))
    return max(1, min(by_count, by_memory))


def data_identity(sweep: Sweep, template: xr.Dataset) -> dict[str, str]:
    """The base scenario's data files by content, named relative to the scenario's folder.

    Not by absolute path: a project folder moved or renamed (after a kill, or
    to another machine) holds the same data, so its store must resume.
    """
    recorded = json.loads(str(template.attrs.get("data_files_sha256") or "{}"))
    folder = os.path.abspath((sweep.scenario.path or sweep.path).parent)
    return {
        Path(os.path.relpath(os.path.abspath(name), folder)).as_posix(): str(digest)
        for name, digest in recorded.items()
    }


def fingerprint(
    sweep: Sweep, values: FloatArray, points_per_task: int, template: xr.Dataset
) -> str:
    """sha256 of what determines the stored numbers and their layout.

    Nothing in it depends on where the project folder is: the scenario is
    taken as resolved text (its data paths as written), and its
    data files by content and relative path (:func:`data_identity`).
    """
    content = {
        "engine_version": sim.__version__,
        "scenario": dump_yaml(sweep.scenario.data),
        "data_files": data_identity(sweep, template),
        "keys": sweep.keys,
        "values": hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest(),
        "design": [sweep.design.kind, sweep.design.samples, sweep.design.seed,
                   sweep.design.trajectories, sweep.design.levels],
        "replicas": sweep.replicas,
        "replica_batch": sweep.replica_batch,
        "points_per_task": points_per_task,
    }  # fmt: skip
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


def make_plan(sweep: Sweep) -> Plan:
    """Place the points, check them against the scenario and cut them into batches."""
    unit, values = place_points(sweep.design, sweep.parameters)
    check_values(sweep, values)
    template = run_template(sweep.scenario)
    layout = read_layout(template)
    for param in sweep.parameters:
        if param.key in template.variables or param.key in (POINT, "sweep_parameter"):
            raise sweep.error(
                f"'{param.key}' is also the name of an output variable or coordinate",
                f"{param.where}.key",
                param.key,
                allowed="a key path that names no output variable",
                hint="this key cannot be a coordinate of the store",
            )
    points = int(values.shape[0])
    per_task = sweep.points_per_task or choose_points_per_task(
        points, layout.bytes_per_replica * sweep.replicas
    )
    per_task = min(per_task, points)
    batches = [(start, min(start + per_task, points)) for start in range(0, points, per_task)]
    identity = fingerprint(sweep, values, per_task, template)
    return Plan(sweep, unit, values, per_task, batches, layout, template, identity)


@dataclass(frozen=True)
class Trial:
    """A short timed run of the first point, to estimate time and memory."""

    replicas: int
    seconds: float
    engine_bytes: int

    def seconds_per_point(self, replicas: int) -> float:
        return self.seconds * replicas / self.replicas


def run_trial(plan: Plan) -> Trial:
    """Time the first point on at most one replica batch; trace its memory on a few replicas."""
    from sim.api import simulate
    from sim.engine.model import build_model
    from sim.scenario.data import load_scenario_data

    sweep = plan.sweep
    tables = load_scenario_data(sweep.scenario)
    count = min(sweep.replicas, sweep.replica_batch)
    started = time.perf_counter()
    model = build_model(scenario_at(sweep.scenario, sweep.keys, plan.values[0]), tables)
    simulate(model, first=0, count=count, batch_size=count)
    seconds = time.perf_counter() - started
    # Tracing slows pure-Python code, so memory is measured on a separate, small run.
    small = min(count, 8)
    tracemalloc.start()
    try:
        simulate(model, first=0, count=small, batch_size=small)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Trial(count, seconds, int(peak * sweep.replica_batch / small))


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - the loop returns at GiB


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def describe_plan(plan: Plan, trial: Trial, *, parallel: int, done: set[int], target: str) -> str:
    """The text of ``sim sweep --plan``."""
    sweep = plan.sweep
    design = sweep.design
    setting = {
        "lhs": f"{design.samples} samples, seed {design.seed}",
        "sobol": f"{design.samples} samples, seed {design.seed}",
        "saltelli": f"n = {design.samples}, {plan.points} = n(d+2) points, seed {design.seed}",
        "morris": f"{design.trajectories} trajectories, {design.levels} levels, seed {design.seed}",
    }.get(design.kind, f"{plan.points} points")
    tasks = len(plan.batches)
    per_point = trial.seconds_per_point(sweep.replicas)
    output_task = plan.points_per_task * plan.point_bytes
    memory_task = trial.engine_bytes + 2 * output_task
    pending_points = sum(b - a for i, (a, b) in enumerate(plan.batches) if i not in done)
    lines = [
        f"sweep {sweep.path}: {design.kind} design ({setting})",
        f"  base scenario     {sweep.scenario.path}",
        f"  parameters        {', '.join(sweep.keys)}",
        f"  points            {plan.points:,}",
        f"  replicas/point    {sweep.replicas:,} (seed {sweep.seed}; replica k draws the same "
        "numbers at every point)",
        f"  runs              {plan.runs:,}",
        f"  tasks             {tasks:,} batches of {plan.points_per_task:,} point(s), "
        f"{sweep.replica_batch:,} replicas simulated together",
        f"  memory per task   ~{_size(memory_task)} (engine ~{_size(trial.engine_bytes)}, "
        f"output {_size(output_task)})",
        f"  output            {_size(plan.points * plan.point_bytes)} uncompressed -> {target}",
        f"  trial             1 point x {trial.replicas} replicas in {trial.seconds:.2f} s "
        f"-> {per_point:.2f} s per point",
        f"  time estimate     {_duration(per_point * pending_points / max(parallel, 1))} "
        f"with {parallel} worker(s)"
        + (f" ({len(done)} of {tasks} batches already done)" if done else ""),
    ]
    return "\n".join(lines)


__all__ = [
    "Layout",
    "Plan",
    "Trial",
    "describe_plan",
    "make_plan",
    "run_trial",
    "scenario_at",
]

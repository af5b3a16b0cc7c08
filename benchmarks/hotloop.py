"""Where the engine's time goes: per-kernel timers, SimPy's share, NumPy calls per step.

The engine is not edited for this: its module-level names (the kernels that
``sim.engine.simulate`` imports, the solver's private helpers, the methods of
:class:`~sim.engine.simulate.BatchSimulation`, :meth:`simpy.Environment.run`)
are wrapped by timers for the duration of one run and restored afterwards.
Each wrapper costs about a microsecond per call, against milliseconds per call
for the kernels at the sizes measured.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import simpy

import sim.api as api
import sim.engine.simulate as simulate_module
import sim.kernels.equilibrium as equilibrium
from sim.engine.draw import draw_batch
from sim.engine.model import Model
from sim.engine.simulate import BatchSimulation, simulate_batch


class Timers:
    """Accumulated seconds and call counts by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A function that calls ``fn`` and adds its time under ``name``."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
                self.calls[name] = self.calls.get(name, 0) + 1

        return timed


@contextlib.contextmanager
def swapped(
    swaps: Sequence[tuple[Any, str, Callable[[Callable[..., Any]], Callable[..., Any]]]],
) -> Iterator[None]:
    """Replace ``getattr(owner, attr)`` by ``wrap(original)`` for each swap; restore on exit."""
    saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in swaps]
    try:
        for (owner, attr, wrap), (_, _, original) in zip(swaps, saved, strict=True):
            setattr(owner, attr, wrap(original))
        yield
    finally:
        for owner, attr, original in saved:
            setattr(owner, attr, original)


@contextlib.contextmanager
def patched(targets: list[tuple[Any, str, str]], timers: Timers) -> Iterator[Timers]:
    """Time ``getattr(owner, attr)`` under ``name`` for each target; restore on exit."""
    swaps = [(owner, attr, functools.partial(timers.wrap, name)) for owner, attr, name in targets]
    with swapped(swaps):
        yield timers


#: What the instrumented run times: (owner, attribute, label).
TARGETS: list[tuple[Any, str, str]] = [
    (api, "draw_batch", "draws"),
    (api, "build_dataset", "dataset"),
    (simulate_module, "BatchSimulation", "setup"),
    (simpy.Environment, "run", "simpy_run"),
    (BatchSimulation, "step", "step"),
    (BatchSimulation, "apply_stage_changes", "stage_events"),
    (BatchSimulation, "apply_policy", "policy_events"),
    (simulate_module, "solve_equilibrium", "solver"),
    (simulate_module, "migration_flows", "migration"),
    (equilibrium.EquilibriumSystem, "evaluate", "solver.evaluate"),
    (equilibrium.EquilibriumSystem, "jacobian", "solver.jacobian"),
    (equilibrium.EquilibriumSystem, "normalise", "solver.normalise"),
    (np.linalg, "solve", "solver.linalg_solve"),
]

#: The functions that compute one Newton direction (a finite-difference Jacobian).
NEWTON_STEPS = ("solver.jacobian",)


def instrumented_run(model: Model, replicas: int) -> dict[str, Any]:
    """One :func:`sim.api.simulate` run (one batch) with every target timed.

    Returns the wall time, the seconds and calls per target, SimPy's own time
    (inside :meth:`simpy.Environment.run` but outside the engine's callbacks)
    and its share of the whole run, and the rest of the step by subtraction.
    """
    timers = Timers()
    with patched(TARGETS, timers):
        start = time.perf_counter()
        ds = api.simulate(model, batch_size=replicas)
        wall = time.perf_counter() - start
    sec = timers.seconds
    callbacks = sec.get("step", 0.0) + sec.get("stage_events", 0.0) + sec.get("policy_events", 0.0)
    simpy_own = sec.get("simpy_run", 0.0) - callbacks
    # Evaluations and the spending system's solves run inside the Jacobian too: report
    # the Jacobian without them, so that no second is counted twice.
    evaluate = sec.get("solver.evaluate", 0.0)
    solves = sec.get("solver.linalg_solve", 0.0)
    solver_parts = ("solver.evaluate", "solver.jacobian", "solver.normalise")
    kernels = {
        "solver.evaluate": evaluate,
        "solver.jacobian": sec.get("solver.jacobian", 0.0),
        "solver.linalg_solve (inside the above)": solves,
        "solver.normalise": sec.get("solver.normalise", 0.0),
        "solver.rest": sec.get("solver", 0.0) - sum(sec.get(p, 0.0) for p in solver_parts),
        "migration": sec.get("migration", 0.0),
        "step.rest": sec.get("step", 0.0) - sec.get("solver", 0.0) - sec.get("migration", 0.0),
        "stage_and_policy_events": sec.get("stage_events", 0.0) + sec.get("policy_events", 0.0),
        "simpy_scheduler": simpy_own,
        "setup": sec.get("setup", 0.0),
        "draws": sec.get("draws", 0.0),
        "dataset": sec.get("dataset", 0.0),
    }
    kernels["other"] = wall - sum(kernels.values())
    return {
        "replicas": replicas,
        "periods": model.calendar.periods,
        "wall_seconds": wall,
        "seconds": dict(sec),
        "calls": dict(timers.calls),
        "kernels": kernels,
        "simpy_seconds": simpy_own,
        "simpy_share": simpy_own / wall,
        "simpy_events": int(ds.attrs["simpy_events"]),
        "newton_steps_per_period": sum(timers.calls.get(k, 0) for k in NEWTON_STEPS)
        / max(timers.calls.get("step", 1), 1),
    }


# -- NumPy calls per step --------------------------------------------------------------------
class CountingArray(np.ndarray):
    """An ndarray that counts the NumPy operations applied to it.

    A ufunc call (arithmetic, comparisons, ``exp``, ``matmul``, reductions such as
    ``sum``) or an array function (``where``, ``einsum``, ``linalg.solve``,
    ``concatenate``, ...) counts once when any argument is a counting array;
    calls made inside an array function's implementation are not counted again.
    Indexing, views and ``astype``/``reshape``/``copy`` are not counted.
    """

    ufunc_calls = 0
    function_calls = 0
    depth = 0

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if CountingArray.depth == 0:
            CountingArray.ufunc_calls += 1
        args = [_plain(x) for x in inputs]
        kwargs = {key: _plain(value) for key, value in kwargs.items()}
        CountingArray.depth += 1
        try:
            result = getattr(ufunc, method)(*args, **kwargs)
        finally:
            CountingArray.depth -= 1
        if "out" in kwargs and method != "at":
            outs = kwargs["out"]
            return _counting(outs[0]) if len(outs) == 1 else tuple(_counting(o) for o in outs)
        return _counting(result)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if CountingArray.depth == 0:
            CountingArray.function_calls += 1
        CountingArray.depth += 1
        try:
            result = func(*_plain(args), **_plain(kwargs))
        finally:
            CountingArray.depth -= 1
        return _counting(result)


def _plain(x: Any) -> Any:
    if isinstance(x, CountingArray):
        return x.view(np.ndarray)
    if isinstance(x, tuple):
        return tuple(_plain(v) for v in x)
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _counting(x: Any) -> Any:
    if isinstance(x, np.ndarray) and not isinstance(x, CountingArray):
        return x.view(CountingArray)
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return tuple(_counting(v) for v in x)
    if isinstance(x, list):
        return [_counting(v) for v in x]
    return x


def _counting_fields(obj: Any) -> Any:
    """A shallow copy of a dataclass with its array fields (and lists of arrays) counting."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray):
            changes[f.name] = value.view(CountingArray)
        elif isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            changes[f.name] = [v.view(CountingArray) for v in value]
        elif type(value).__module__.startswith("sim.kernels") and dataclasses.is_dataclass(value):
            changes[f.name] = _counting_fields(value)  # EquilibriumBaseline, StageDates
    return dataclasses.replace(obj, **changes)


def numpy_calls(model: Model, replicas: int = 4) -> dict[str, float]:
    """NumPy calls per period of the engine, and per solver iteration, on a small batch.

    Every array of the model and of the batch is made a :class:`CountingArray`, so
    every NumPy operation of the step (and of the solver it calls) is counted.
    The count per period does not depend on the number of replicas: that is the
    point of the vectorised design (the number of stage-change events does, a little:
    one per period in which any replica's project changes stage).
    """
    counted_model = _counting_fields(model)
    batch = _counting_fields(draw_batch(model, 0, replicas))
    inside = {"step": 0, "solver": 0, "events": 0}
    calls = {"step": 0, "newton_steps": 0, "events": 0}

    def total() -> int:
        return CountingArray.ufunc_calls + CountingArray.function_calls

    def counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = total()
            try:
                return fn(*args, **kwargs)
            finally:
                inside[name] += total() - start
                if name in calls:
                    calls[name] += 1

        return wrapper

    def iteration(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls["newton_steps"] += 1
            return fn(*args, **kwargs)

        return wrapper

    swaps: list[tuple[Any, str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = [
        (simulate_module, "solve_equilibrium", lambda fn: counted("solver", fn)),
        (BatchSimulation, "step", lambda fn: counted("step", fn)),
        (BatchSimulation, "apply_stage_changes", lambda fn: counted("events", fn)),
        (BatchSimulation, "apply_policy", lambda fn: counted("events", fn)),
        (equilibrium.EquilibriumSystem, "evaluate", iteration),
    ]
    with swapped(swaps):
        simulate_batch(counted_model, batch)
    steps = max(calls["step"], 1)
    iterations = calls["newton_steps"]
    return {
        "replicas": replicas,
        "periods": steps,
        "numpy_calls_per_period": inside["step"] / steps,
        "solver_calls_per_period": inside["solver"] / steps,
        "step_outside_solver_per_period": (inside["step"] - inside["solver"]) / steps,
        "newton_steps_per_period": iterations / steps,
        "calls_per_newton_step": (inside["solver"] / iterations) if iterations else 0.0,
        "event_calls": inside["events"],
        "events": calls["events"],
    }


__all__ = ["CountingArray", "Timers", "instrumented_run", "numpy_calls", "patched"]

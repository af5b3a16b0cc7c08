"""Read and check a sweep file: the base scenario, the design and the parameters it varies.

A sweep file is YAML read with :func:`~sim.scenario.load.load_yaml_document`,
so every value keeps the file and line it was written on, and every mistake is
a :class:`~sim.errors.ScenarioError` that names the file, line and key, what is
allowed and how to fix it -- the same quality as scenario errors. Parameters
are key paths into the *resolved* base scenario (``extends`` merged, defaults
filled: what ``sim describe`` prints) and must name a real number there.

See ``docs/sweeps.md`` for the format.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.kernels.draws import FAMILIES
from sim.scenario.load import LoadedDocument, load_yaml_document
from sim.scenario.schema import load_schema, split_path
from sim.scenario.validate import Scenario
from sim.sweep.keys import check_key, error_at

DESIGNS = ("grid", "lhs", "sobol", "saltelli", "morris", "list")
TOP_KEYS = (
    "scenario", "description", "design", "parameters", "replicas", "seed", "batch", "output",
    "slurm",
)  # fmt: skip
DESIGN_KEYS = ("kind", "samples", "seed", "trajectories", "levels")
PARAMETER_KEYS = ("key", "range", "values", "distribution", "levels")
BATCH_KEYS = ("points", "replicas")
SLURM_KEYS = (
    "partition", "cores", "memory", "walltime", "jobs", "account", "scheduler_host",
    "prologue", "directives", "start_timeout",
)  # fmt: skip
#: Designs built on base-2 Sobol' sequences: balanced only for powers of two.
BASE2_DESIGNS = ("sobol", "saltelli")
#: Most points one sweep may have. The plan holds every point's coordinates in memory
#: and each point is a whole Monte Carlo run, so a design past this is a typo or a study
#: to split into several sweeps; refusing it up front avoids a huge allocation.
MAX_POINTS = 1_000_000


@dataclass(frozen=True)
class Parameter:
    """One varied parameter.

    Attributes
    ----------
    key
        Key path in the resolved scenario, exactly as written in the sweep file.
    kind
        ``range`` (uniform between ``low`` and ``high``), ``values`` (a list)
        or ``distribution`` (``family`` with ``params``, sampled by inverse CDF).
    levels
        Number of grid levels for a range or distribution in a grid design.
    index
        Position in the sweep file's ``parameters`` list (for error locations).
    """

    key: str
    kind: str
    index: int
    low: float = math.nan
    high: float = math.nan
    values: tuple[float, ...] = ()
    family: str = ""
    params: tuple[tuple[str, float], ...] = ()
    levels: int | None = None

    @property
    def where(self) -> str:
        """Key path of this parameter's entry in the sweep file."""
        return f"parameters[{self.index}]"

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, kept in the store for the analysis."""
        out: dict[str, Any] = {"key": self.key, "kind": self.kind}
        if self.kind == "range":
            out.update(low=self.low, high=self.high)
        elif self.kind == "values":
            out["values"] = list(self.values)
        else:
            out["distribution"] = {"dist": self.family, **dict(self.params)}
        if self.levels is not None:
            out["levels"] = self.levels
        return out


@dataclass(frozen=True)
class Design:
    """How points are placed: the design kind and its settings."""

    kind: str
    samples: int | None = None
    seed: int = 0
    trajectories: int | None = None
    levels: int = 4


@dataclass
class SlurmOptions:
    """Where and how SLURM runs the workers (``slurm:`` section or ``--slurm`` options)."""

    partition: str | None = None
    cores: int = 1
    memory: str = "2GB"
    walltime: str = "01:00:00"
    jobs: int = 1
    account: str | None = None
    scheduler_host: str | None = None
    prologue: list[str] = field(default_factory=list)
    directives: list[str] = field(default_factory=list)
    start_timeout: float = 600.0


@dataclass
class Sweep:
    """A checked sweep file and its base scenario.

    Attributes
    ----------
    path
        The sweep file.
    text
        Its text, kept in the store as provenance.
    scenario
        The base scenario, validated, with the sweep's replicas, seed and
        replica batch applied.
    replica_batch
        Replicas simulated together within a point (``batch.replicas``,
        default ``monte_carlo.batch_size`` of the scenario).
    points_per_task
        ``batch.points`` if the file sets it; otherwise the plan chooses.
    """

    path: Path
    text: str
    document: LoadedDocument
    scenario: Scenario
    design: Design
    parameters: list[Parameter]
    replicas: int
    seed: int
    replica_batch: int
    points_per_task: int | None
    output: Path
    slurm: SlurmOptions

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.parameters]

    def error(self, problem: str, key: str, value: Any = None, **kwargs: Any) -> ScenarioError:
        """A ScenarioError located at ``key`` of the sweep file."""
        return error_at(self.document, problem, key, value, **kwargs)


class _Reader:
    """Check the sweep document section by section; every failure names file and line."""

    def __init__(self, doc: LoadedDocument) -> None:
        self.doc = doc

    def fail(self, problem: str, key: str, value: Any = None, **kwargs: Any) -> ScenarioError:
        return error_at(self.doc, problem, key, value, **kwargs)

    def only(self, mapping: dict[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
        for name in mapping:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), allowed, n=1)
                raise self.fail(
                    f"unknown key '{name}'",
                    f"{prefix}.{name}" if prefix else str(name),
                    allowed=", ".join(allowed),
                    hint=f"did you mean '{close[0]}'?" if close else "remove the key",
                )

    def integer(self, value: Any, key: str, minimum: int, maximum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(
                "expected a whole number" + (f" >= {minimum}" if minimum else ""),
                key,
                value,
                allowed=f"an integer >= {minimum}"
                + (f" and <= {maximum:,}" if maximum is not None else ""),
                hint=(
                    f"write a whole number of at least {minimum}"
                    if isinstance(value, int) and not isinstance(value, bool)
                    else "write a whole number without decimals or quotes (not true or false)"
                ),
            )
        if maximum is not None and value > maximum:
            raise self.fail(
                f"value out of range: at most {maximum:,}",
                key,
                value,
                allowed=f"an integer from {minimum} to {maximum:,}",
            )
        return value

    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(
                "expected a number", key, value, allowed="a finite number",
                hint="write the value without quotes or units",
            )  # fmt: skip
        if not math.isfinite(value):
            raise self.fail("value is not finite", key, value, allowed="a finite number")
        return float(value)

    def at_most(self, points: int, key: str, what: str, value: Any = None) -> None:
        """Refuse a design of more than MAX_POINTS points, at the key that sets its size."""
        if points > MAX_POINTS:
            raise self.fail(
                f"the design would have {points:,} points, more than one sweep may have "
                f"({MAX_POINTS:,})",
                key,
                points if value is None else value,
                allowed=f"{what} giving at most {MAX_POINTS:,} points",
                hint="split the study into several sweeps, or use a space-filling design "
                "(lhs, sobol) with fewer samples",
            )

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail("expected text", key, value, allowed="a non-empty string")
        return value

    def mapping(self, value: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail("expected a mapping", key, value, allowed=f"keys {', '.join(allowed)}")
        self.only(value, allowed, key)
        return value

    # -- sections ---------------------------------------------------------------------------
    def design(self, value: Any) -> Design:
        if isinstance(value, str):
            # Shorthand `design: grid`; its errors point at the `design` line.
            value = {"kind": value}
        spec = self.mapping(value, "design", DESIGN_KEYS)
        kind = spec.get("kind")
        if kind not in DESIGNS:
            close = difflib.get_close_matches(str(kind), DESIGNS, n=1)
            raise self.fail(
                f"unknown design {kind!r}" if kind is not None else "the design needs a kind",
                "design.kind",
                kind,
                allowed=", ".join(DESIGNS),
                hint=f"did you mean '{close[0]}'?" if close else "write design: {kind: lhs, ...}",
            )
        used = {
            "grid": (), "list": (), "lhs": ("samples",), "sobol": ("samples",),
            "saltelli": ("samples",), "morris": ("trajectories", "levels"),
        }[kind]  # fmt: skip
        for name in ("samples", "trajectories", "levels"):
            if name in spec and name not in used:
                raise self.fail(
                    f"'{name}' is not used by a {kind} design",
                    f"design.{name}",
                    spec[name],
                    allowed=", ".join(("kind", "seed", *used)),
                    hint="remove it" + (
                        "; a grid takes levels per parameter" if name == "levels" else ""
                    ),
                )  # fmt: skip
        samples = None
        if "samples" in used:
            if "samples" not in spec:
                raise self.fail(
                    f"a {kind} design needs 'samples'", "design", spec,
                    allowed="design.samples: an integer >= 1"
                    + ("; for saltelli the base sample size n (n(d+2) points)"
                       if kind == "saltelli" else ""),
                    hint="add samples: 64",
                )  # fmt: skip
            samples = self.integer(spec["samples"], "design.samples", 1)
            self.at_most(samples, "design.samples", "samples")
            if kind in BASE2_DESIGNS and samples & (samples - 1):
                low = 1 << (samples.bit_length() - 1)
                raise self.fail(
                    f"a {kind} design needs a power of two samples (Sobol' points are "
                    "balanced only then)",
                    "design.samples",
                    samples,
                    allowed="1, 2, 4, 8, ..., 64, 128, ...",
                    hint=f"use {low} or {2 * low}",
                )
        trajectories = None
        levels = 4
        if kind == "morris":
            if "trajectories" not in spec:
                raise self.fail(
                    "a morris design needs 'trajectories'", "design", spec,
                    allowed="design.trajectories: an integer >= 1", hint="add trajectories: 10",
                )  # fmt: skip
            trajectories = self.integer(spec["trajectories"], "design.trajectories", 1)
            self.at_most(trajectories, "design.trajectories", "trajectories")
            levels = self.integer(spec.get("levels", 4), "design.levels", 2)
            if levels % 2:
                raise self.fail(
                    "Morris levels must be even (the step p/(2(p-1)) then lands on the grid)",
                    "design.levels",
                    levels,
                    allowed="an even integer >= 2, usually 4",
                    hint=f"use {levels + 1}",
                )
        seed = self.integer(spec.get("seed", 0), "design.seed", 0)
        return Design(kind, samples, seed, trajectories, levels)

    def parameter(self, value: Any, index: int, design: Design) -> Parameter:
        where = f"parameters[{index}]"
        spec = self.mapping(value, where, PARAMETER_KEYS)
        if "key" not in spec:
            raise self.fail(
                "a parameter needs 'key'", where, allowed="key: the key path of a number",
                hint="add key: trade.elasticity.machinery, for instance",
            )  # fmt: skip
        key = self.text(spec["key"], f"{where}.key")
        given = [k for k in ("range", "values", "distribution") if k in spec]
        if len(given) != 1:
            raise self.fail(
                f"a parameter takes exactly one of range, values, distribution ({len(given)} "
                "given)",
                where,
                allowed="range: [low, high], values: [...] or distribution: {dist: ...}",
                hint="keep one of them",
            )
        kind = given[0]
        allowed_kinds = {
            "list": ("values",), "morris": ("range", "distribution"),
        }.get(design.kind, ("range", "values", "distribution"))  # fmt: skip
        if kind not in allowed_kinds:
            raise self.fail(
                f"a {design.kind} design cannot take {kind}",
                f"{where}.{kind}",
                allowed=" or ".join(allowed_kinds),
                hint="a list design takes values: one per point"
                if design.kind == "list"
                else "give a range or a distribution; Morris steps need a continuous scale",
            )
        levels = None
        if "levels" in spec:
            if design.kind != "grid" or kind == "values":
                raise self.fail(
                    "levels applies only to a range or distribution in a grid design",
                    f"{where}.levels",
                    spec["levels"],
                    hint="remove it" + ("" if design.kind != "morris" else "; use design.levels"),
                )
            levels = self.integer(spec["levels"], f"{where}.levels", 2)
        elif design.kind == "grid" and kind != "values":
            raise self.fail(
                f"a grid needs the number of levels of a {kind}",
                where,
                allowed="levels: an integer >= 2",
                hint="add levels: 5",
            )
        if kind == "range":
            bounds = spec["range"]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise self.fail(
                    "a range is two numbers", f"{where}.range", bounds, allowed="[low, high]"
                )
            low = self.number(bounds[0], f"{where}.range[0]")
            high = self.number(bounds[1], f"{where}.range[1]")
            if not low < high:
                raise self.fail(
                    "the range must run from low to high", f"{where}.range", bounds,
                    allowed="[low, high] with low < high", hint=f"write [{high}, {low}]",
                )  # fmt: skip
            return Parameter(key, kind, index, low=low, high=high, levels=levels)
        if kind == "values":
            values = spec["values"]
            if not isinstance(values, list) or not values:
                raise self.fail(
                    "values is a non-empty list of numbers", f"{where}.values", values,
                    allowed="[v1, v2, ...]",
                )  # fmt: skip
            numbers = tuple(self.number(v, f"{where}.values[{i}]") for i, v in enumerate(values))
            return Parameter(key, kind, index, values=numbers)
        family, params = self.distribution(spec["distribution"], f"{where}.distribution")
        return Parameter(key, kind, index, family=family, params=params, levels=levels)

    def distribution(self, value: Any, key: str) -> tuple[str, tuple[tuple[str, float], ...]]:
        if not isinstance(value, dict):
            raise self.fail(
                "expected a distribution", key, value, allowed="{dist: normal, mean: ..., sd: ...}"
            )
        family = value.get("dist")
        # A list or mapping written after `dist:` is not a name (and cannot be looked up).
        if not isinstance(family, str) or family not in FAMILIES:
            close = difflib.get_close_matches(str(family), list(FAMILIES), n=1)
            raise self.fail(
                f"unknown distribution {family!r}",
                f"{key}.dist" if "dist" in value else key,
                family,
                allowed=", ".join(FAMILIES),
                hint=f"did you mean '{close[0]}'?" if close else "write dist: normal, for instance",
            )
        names = (*FAMILIES[family], "low", "high")
        self.only({k: v for k, v in value.items() if k != "dist"}, names, key)
        params = {k: self.number(v, f"{key}.{k}") for k, v in value.items() if k != "dist"}
        for name in FAMILIES[family]:
            if name not in params:
                raise self.fail(
                    f"a {family} distribution needs '{name}'", key, value,
                    allowed=f"{family}: {', '.join(FAMILIES[family])}", hint=f"add {name}:",
                )  # fmt: skip
        for name in ("sd", "sigma", "a", "b", "median" if family == "lognormal" else ""):
            if name in params and params[name] <= 0:
                raise self.fail(f"'{name}' must be positive", f"{key}.{name}", params[name],
                                allowed="> 0")  # fmt: skip
        if "low" in params and "high" in params and not params["low"] < params["high"]:
            raise self.fail("'low' must be below 'high'", key, value, allowed="low < high")
        if family == "triangular" and not params["low"] <= params["mode"] <= params["high"]:
            raise self.fail(
                "mode must lie between low and high", key, value, allowed="low <= mode <= high"
            )
        return str(family), tuple(sorted(params.items()))


def read_sweep(
    path: str | Path,
    *,
    output: str | Path | None = None,
    points_per_task: int | None = None,
    replica_batch: int | None = None,
) -> Sweep:
    """Read and check a sweep file and load its base scenario.

    Parameters
    ----------
    path
        The sweep file.
    output, points_per_task, replica_batch
        Override ``output``, ``batch.points`` and ``batch.replicas``.

    Raises
    ------
    ScenarioError
        On the first mistake in the sweep file or its base scenario.
    """
    from sim.api import load_scenario

    path = Path(path)
    doc = load_yaml_document(path)
    reader = _Reader(doc)
    data = doc.data
    if isinstance(data, dict) and "scenario" not in data and {"metadata", "regions"} & set(data):
        # A scenario given to `sim sweep`: its keys would each be "unknown" to a sweep file.
        raise reader.fail(
            "this is a scenario, not a sweep file",
            next(k for k in ("metadata", "regions") if k in data),
            allowed="a sweep file (scenario: FILE, design: {kind: ...}, parameters: [...])",
            hint="write a sweep file that names this scenario (docs/sweeps.md), or run the "
            "scenario with `sim run`",
        )
    reader.only(data, TOP_KEYS, "")
    for required in ("scenario", "design", "parameters"):
        if required not in data:
            raise ScenarioError(
                f"required key '{required}' is missing", file=str(path), line=1, key=required,
                allowed="scenario: FILE, design: {kind: ...}, parameters: [...]",
                hint=f"add '{required}:' at the top level (see docs/sweeps.md)",
            )  # fmt: skip
    design = reader.design(data["design"])
    items = data["parameters"]
    if not isinstance(items, list) or not items:
        raise reader.fail(
            "parameters is a non-empty list", "parameters", items,
            allowed="- {key: KEY, range: [low, high]} ...",
        )  # fmt: skip
    parameters = [reader.parameter(item, i, design) for i, item in enumerate(items)]
    check_size(reader, design, parameters)
    seen: dict[str, int] = {}
    for p in parameters:
        if p.key in seen:
            raise reader.fail(
                f"'{p.key}' is varied twice (parameters[{seen[p.key]}] and [{p.index}])",
                f"{p.where}.key", p.key, allowed="each key once", hint="remove one of them",
            )  # fmt: skip
        seen[p.key] = p.index
    if design.kind == "list":
        lengths = {len(p.values) for p in parameters}
        if len(lengths) > 1:
            first = parameters[0]
            odd = next(p for p in parameters if len(p.values) != len(first.values))
            raise reader.fail(
                f"a list design takes one value per point from every parameter: {first.key} "
                f"has {len(first.values)} values, {odd.key} has {len(odd.values)}",
                f"{odd.where}.values",
                allowed="values lists of the same length",
                hint="write point i's values at position i of every list",
            )
    scenario_name = reader.text(data["scenario"], "scenario")
    scenario_path = (path.parent / scenario_name).resolve()
    if not scenario_path.is_file():
        raise reader.fail(
            f"base scenario not found: {scenario_path}",
            "scenario",
            scenario_name,
            allowed="a scenario file, relative to the sweep file's folder",
            hint="check the path",
        )
    replicas = data.get("replicas")
    seed = data.get("seed")
    # The scenario's own bounds: these values replace its monte_carlo settings.
    if replicas is not None:
        replicas = reader.integer(replicas, "replicas", 1, schema_maximum("monte_carlo.replicas"))
    if seed is not None:
        seed = reader.integer(seed, "seed", 0, schema_maximum("monte_carlo.seed"))
    batch = reader.mapping(data.get("batch", {}), "batch", BATCH_KEYS)
    if points_per_task is None and "points" in batch:
        points_per_task = reader.integer(batch["points"], "batch.points", 1)
    if replica_batch is None and "replicas" in batch:
        replica_batch = reader.integer(
            batch["replicas"], "batch.replicas", 1, schema_maximum("monte_carlo.batch_size")
        )
    if output is None and "output" in data:
        output = reader.text(data["output"], "output")
        # A sweep file from someone else writes only inside its folder tree or under
        # outputs/, as a scenario's output.path (-o on the command line is not confined).
        real = Path(os.path.realpath(os.path.abspath(output)))
        roots = [Path(os.path.realpath(p)) for p in (path.parent, Path.cwd() / "outputs")]
        if not any(root in real.parents for root in roots):
            raise reader.fail(
                f"output would write {real}, outside the sweep file's folder tree and outside "
                "outputs/ of the current directory",
                "output",
                output,
                allowed=f"a store under {roots[0]} or under {roots[1]}",
                hint="write a path inside the sweep file's folder or under outputs/, or choose "
                "the store on the command line with -o (which is not confined)",
            )
    slurm = read_slurm(reader, data.get("slurm", {}))

    sc = load_scenario(scenario_path, replicas=replicas, seed=seed)
    for p in parameters:
        check_key(doc, p.key, f"{p.where}.key", sc)
    mc = sc.data["monte_carlo"]
    sc = copy.deepcopy(sc)
    chosen_batch = min(int(replica_batch or mc["batch_size"]), int(mc["replicas"]))
    # Recorded in the scenario so the stored provenance names the batch that made the numbers.
    sc.data["monte_carlo"]["batch_size"] = chosen_batch
    return Sweep(
        path=path,
        text=path.read_text(encoding="utf-8-sig"),
        document=doc,
        scenario=sc,
        design=design,
        parameters=parameters,
        replicas=int(mc["replicas"]),
        seed=int(mc["seed"]),
        replica_batch=chosen_batch,
        points_per_task=points_per_task,
        output=Path(output) if output is not None else Path("outputs") / f"{path.stem}.zarr",
        slurm=slurm,
    )


def schema_maximum(path: str) -> int | None:
    """The scenario schema's upper bound of an integer setting, e.g. ``monte_carlo.replicas``."""
    node = load_schema()
    for segment in split_path(path):
        node = node.children[segment]
    return None if node.maximum is None else int(node.maximum)


def check_size(reader: _Reader, design: Design, parameters: list[Parameter]) -> None:
    """Refuse a design of more than MAX_POINTS points before any point is placed.

    Counted as :func:`~sim.sweep.design.place_points` will place them; the
    error stands at the key that makes the design too large.
    """
    d = len(parameters)
    if design.kind == "saltelli" and design.samples is not None:
        reader.at_most(design.samples * (d + 2), "design.samples", "samples n (n(d+2) points)",
                       design.samples)  # fmt: skip
    elif design.kind == "morris" and design.trajectories is not None:
        reader.at_most(design.trajectories * (d + 1), "design.trajectories",
                       "trajectories r (r(d+1) points)", design.trajectories)  # fmt: skip
    elif design.kind == "grid":
        points = 1
        for p in parameters:
            points *= len(p.values) if p.kind == "values" else int(p.levels or 1)
            key = f"{p.where}.values" if p.kind == "values" else f"{p.where}.levels"
            reader.at_most(points, key, "levels per parameter", p.levels or len(p.values))


def read_slurm(reader: _Reader, value: Any) -> SlurmOptions:
    """The ``slurm:`` section (every key optional)."""
    spec = reader.mapping(value, "slurm", SLURM_KEYS)
    out = SlurmOptions()
    for name in ("partition", "memory", "walltime", "account", "scheduler_host"):
        if name in spec:
            setattr(out, name, reader.text(spec[name], f"slurm.{name}"))
    for name in ("cores", "jobs"):
        if name in spec:
            setattr(out, name, reader.integer(spec[name], f"slurm.{name}", 1))
    if "start_timeout" in spec:
        out.start_timeout = reader.number(spec["start_timeout"], "slurm.start_timeout")
    for name in ("prologue", "directives"):
        if name in spec:
            lines = spec[name]
            if not isinstance(lines, list):
                raise reader.fail(f"slurm.{name} is a list of lines", f"slurm.{name}", lines)
            setattr(out, name, [reader.text(v, f"slurm.{name}[{i}]") for i, v in enumerate(lines)])
    return out


__all__ = ["DESIGNS", "Design", "Parameter", "SlurmOptions", "Sweep", "read_sweep"]

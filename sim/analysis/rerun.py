"""Rerun a result from the scenario embedded in it and say whether the numbers are the same.

A result carries the fully resolved scenario (attribute ``scenario_yaml``), the
seed and replica count, the batch size it was simulated in (``batch_size``; results
written before it was recorded fall back to the scenario's ``monte_carlo.batch_size``)
and the sha256 of every data file it read (``data_files_sha256``, absolute paths).
:func:`rerun` checks those files first (a changed or missing file is an error that
names it, since a rerun on other data proves nothing), runs the embedded scenario
again in the same batches and compares every variable, value for value: bit for bit
when all replicas are rerun in the recorded batches, within the relative tolerance
:data:`SUBSET_RTOL` (stated in the verdict) when only the first ones are or another
batch size is asked for, since the equilibrium solver's results depend on the batch
at its tolerance (docs/model.md).

Only a run can be rerun: a sweep store (``sim sweep``) or a static counterfactual
(``sim counterfactual``) is refused.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from sim.analysis.errors import RerunError
from sim.analysis.results import as_dataset, is_sweep, recorded_hashes, scenario_data
from sim.scenario.files import sha256_file

#: Relative tolerance of a rerun of only the first replicas, or in batches of another size:
#: batched differently, the equilibrium solver's results and sums of many terms may round
#: differently in the last bits (2.9e-11 persons of a job count, say; the solver's tolerance
#: is about 1e-10 relative). A rerun of all replicas in the recorded batches is compared bit
#: for bit.
SUBSET_RTOL = 1e-9
#: ... and values that cancel to about zero may differ by this share of the variable's largest.
ROUNDING = 1e-15
#: Variables that are differences of two levels (each solved to the solver's tolerance):
#: in a subset rerun they are compared relative to the level they are a difference of.
DIFFERENCE_OF = {"employment_change": "employment", "employment_change_annual": "employment_annual"}
#: Diagnostics of how the batch was solved, not results: the iterations a replica needs
#: depend on the warm start its batch carries, so a subset rerun reports, not compares, them.
DIAGNOSTICS = ("solver_iterations",)

#: Scenario keys that name data files or folders, relative to the scenario that wrote them.
FILE_KEYS: tuple[tuple[str, ...], ...] = (
    ("trade", "baseline", "file"),
    ("input_output", "coefficients", "file"),
    ("input_output", "mrio", "path"),
    ("input_output", "mrio", "final_demand"),
)


@dataclass
class RerunResult:
    """What a rerun found.

    Attributes
    ----------
    identical : bool
        Every variable, coordinate and the scenario hash are the same.
    differences : list of str
        One line per variable that differs (with the largest absolute difference).
    replicas : int
        Replicas rerun (the first ones of the result if fewer than all).
    notes : list of str
        Things worth knowing that do not make the numbers differ (e.g. engine version).
    rtol : float
        Relative tolerance of the comparison (0: bit for bit).
    batches : str
        Empty when the rerun's batches are the result's; else how they differ (another
        batch size was asked for), which is why it is compared within ``rtol``.
    """

    identical: bool
    differences: list[str] = field(default_factory=list)
    replicas: int = 0
    notes: list[str] = field(default_factory=list)
    rtol: float = 0.0
    batches: str = ""

    def format(self) -> str:
        """A short human-readable verdict."""
        if not self.identical:
            head = (
                f"DIFFERENT: the rerun of {self.replicas} replicas does not give the same numbers"
            )
        elif self.batches:  # not the same bits, and not claimed to be
            head = (
                f"identical to the solver's tolerance: the rerun of {self.replicas} replicas "
                "gives the same numbers"
            )
        else:
            head = f"identical: the rerun of {self.replicas} replicas gives the same numbers"
        if self.batches:
            how = (
                f"compared within a relative tolerance of {self.rtol:g}: {self.batches}, and "
                "the equilibrium solver's results depend on the batch at its tolerance "
                "(rerun without --batch-size to compare bit for bit)"
            )
        elif self.rtol:
            how = (
                f"compared within a relative tolerance of {self.rtol:g} (a subset of the "
                "replicas is simulated in other batches, so sums may round differently; a "
                "rerun of all replicas is compared bit for bit)"
            )
        else:
            how = "compared bit for bit"
        return "\n".join([head, f"  {how}", *(f"  {d}" for d in self.differences), *self.notes])


def check_data_files(ds: xr.Dataset) -> dict[str, str]:
    """Check that every data file the result read still exists with the recorded hash.

    Returns
    -------
    dict
        The recorded path -> sha256 mapping.

    Raises
    ------
    RerunError
        Naming every missing or changed file.
    """
    hashes = recorded_hashes(ds)
    missing = [p for p in hashes if not Path(p).is_file()]
    changed = [(p, h, sha256_file(Path(p))) for p, h in hashes.items() if p not in missing]
    changed = [c for c in changed if c[1] != c[2]]
    problems = [f"  missing: {p} (recorded sha256 {hashes[p][:12]}...)" for p in missing]
    problems += [
        f"  changed: {p} (recorded sha256 {old[:12]}..., now {new[:12]}...)"
        for p, old, new in changed
    ]
    if problems:
        raise RerunError(
            "the result's data files are not as they were when it was computed:\n"
            + "\n".join(problems),
            hint="restore the recorded files (e.g. from version control): a rerun on other "
            "data would not reproduce the result",
        )
    return hashes


def _file_entries(data: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str, str]]:
    for keys in FILE_KEYS:
        node: Any = data
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(keys[-1]), str):
            yield node, keys[-1], ".".join(keys)


def _common_base(data: dict[str, Any], hashes: dict[str, str]) -> Path | None:
    """The one folder against which every relative data path gives a recorded file, if any."""
    recorded = {Path(p) for p in hashes}
    bases: set[Path] = set()
    for node, key, _ in _file_entries(data):
        rel = Path(node[key])
        if rel.is_absolute() or ".." in rel.parts:
            return None
        found = None
        for p in recorded:
            for folder in [p, *p.parents]:  # a folder key names an ancestor of its files
                if folder.as_posix().endswith("/" + rel.as_posix()):
                    found = Path(folder.as_posix()[: -len(rel.as_posix()) - 1] or "/")
                    break
            if found is not None:
                break
        if found is None:
            return None
        bases.add(found)
    return bases.pop() if len(bases) == 1 else None


def _pin_files(data: dict[str, Any], hashes: dict[str, str]) -> list[Path]:
    """Point each data-file key of ``data`` at the recorded absolute path it read."""
    recorded = [Path(p) for p in hashes]
    roots: list[Path] = []
    for node, key, dotted in _file_entries(data):
        rel = Path(node[key])
        parts = [p for p in rel.parts if p not in ("..", ".")]
        tail = Path(*parts) if parts else rel
        hits = [p for p in recorded if p == rel or p.as_posix().endswith("/" + tail.as_posix())]
        folders = [
            p.parent
            for p in recorded
            if any(a.as_posix().endswith("/" + tail.as_posix()) for a in [p.parent, *p.parents])
        ]
        if hits:
            node[key] = str(hits[0])
            roots.append(hits[0].parent)
        elif folders:
            top = next(
                a
                for a in [folders[0], *folders[0].parents]
                if a.as_posix().endswith("/" + tail.as_posix())
            )
            node[key] = str(top)
            roots.append(top)
        else:
            raise RerunError(
                f"the result records no data file for {dotted} = {node[key]!r}",
                hint="the result was written by an older engine or edited; rerun the scenario "
                "file itself with `sim run`",
            )
    return roots


def rerun(
    result: str | Path | xr.Dataset,
    *,
    replicas: int | None = None,
    batch_size: int | None = None,
) -> RerunResult:
    """Rerun a result from its embedded scenario and compare the numbers.

    Parameters
    ----------
    result
        A run (``.nc`` path or dataset) written by ``sim run``.
    replicas
        Rerun only the first ``replicas`` replicas (a quicker spot check);
        default all.
    batch_size
        Replicas simulated together; default the result's (attribute
        ``batch_size``, else the scenario's ``monte_carlo.batch_size``). Another
        batch size moves the numbers at the equilibrium solver's tolerance (about
        1e-10 relative), so the rerun is then compared within :data:`SUBSET_RTOL`
        and, if within it, reported identical to the solver's tolerance.

    Returns
    -------
    RerunResult
        Whether every variable is identical, and what differs.

    Raises
    ------
    RerunError
        If the result is not a run (a sweep store, a static counterfactual), has
        no embedded scenario, or a data file it read is missing or changed.
    """
    from sim.api import check_batch_size, load_scenario, prepare, simulate

    ds = as_dataset(result)
    check_is_run(ds, result)
    check_batch_size(batch_size)
    data = scenario_data(ds)
    if not data or "replica" not in ds.dims:
        raise RerunError(
            "the result has no embedded scenario (attribute scenario_yaml) or no replicas",
            hint="rerun needs a .nc file written by `sim run`",
        )
    hashes = check_data_files(ds)
    data = copy.deepcopy(data)
    base = _common_base(data, hashes)
    if base is not None:  # the embedded scenario runs unchanged from one folder
        roots = [base, *{Path(p).parent for p in hashes}]
    else:  # data files from several folders: point each key at the file it read
        roots = _pin_files(data, hashes)
        base = roots[0] if roots else Path.cwd()
    total = int(ds.sizes["replica"])
    count = total if replicas is None else int(replicas)
    if not 1 <= count <= total:
        raise RerunError(
            f"cannot rerun {count} replicas of a result with {total}",
            hint=f"give --replicas between 1 and {total}",
        )
    first = int(ds["replica"].values[0])
    if not np.array_equal(ds["replica"].values, np.arange(first, first + total)):
        raise RerunError("the result's replicas are not consecutive; it cannot be rerun as one run")
    sc = load_scenario(data, base_dir=base, data_roots=roots)
    model = prepare(sc)
    new_hashes = {str(Path(p)): h for p, h in model.hashes.items()}
    if sorted(new_hashes.values()) != sorted(hashes.values()):
        raise RerunError(
            "the rerun read other data files than the result records",
            hint="this should not happen; report it with the result file",
        )
    recorded = recorded_batch_size(ds)
    # A result written before the batch size was recorded: the scenario's is the best guess,
    # and a size the user gives is taken as the run's (compared bit for bit).
    default = int(sc.data["monte_carlo"]["batch_size"]) if recorded is None else recorded
    size = default if batch_size is None else int(batch_size)
    # Batches of at least all the replicas are one batch: the same, whatever their size.
    batches = (
        ""
        if recorded is None or min(size, total) == min(recorded, total)
        else f"rerun in batches of {size}, the result was computed in batches of {recorded}"
    )
    fresh = simulate(model, first=first, count=count, batch_size=size)
    old = ds.isel(replica=slice(0, count))
    check = _compare(old, fresh, count, rtol=SUBSET_RTOL if count < total or batches else 0.0)
    check.batches = batches
    if not check.identical and recorded is None:
        given = "monte_carlo.batch_size" if batch_size is None else "--batch-size"
        check.notes.append(
            "note: the result does not record the batch size it was simulated in (written by "
            f"an older sim); the rerun used {size} ({given}), and other batches move the "
            "numbers at the solver's tolerance: give the run's batch size (its --batch-size, "
            "or the batch it was shrunk to for memory) with --batch-size"
        )
    return check


def recorded_batch_size(ds: xr.Dataset) -> int | None:
    """The batch size a result was simulated in (attribute ``batch_size``), or None for a
    result written before it was recorded."""
    value = ds.attrs.get("batch_size")
    if value is None:
        return None
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = 0
    if size < 1 or size != value:  # 2.5 or "3" is not what `sim run` writes
        raise RerunError(
            f"the result's batch_size attribute cannot be read: {value!r}",
            allowed="a positive integer (replicas simulated together), as `sim run` writes",
            hint="the result was damaged or edited: run the scenario file again with `sim run`",
        )
    return size


def check_is_run(ds: xr.Dataset, source: str | Path | xr.Dataset) -> None:
    """Refuse a result that is not a run: only what ``sim run`` writes can be rerun as one.

    A sweep store has a dimension ``point``; a static counterfactual has no ``time``
    (and says so in its attribute ``mode``). Either rerun as a run would be reported
    different, or fail, for want of what it is.
    """
    name = "the result" if isinstance(source, xr.Dataset) else str(source)
    allowed = "a NetCDF file or Zarr store written by `sim run`"
    if is_sweep(ds):
        raise RerunError(
            f"{name} is a sweep store (written by `sim sweep`: dimension point), not a run",
            allowed=allowed,
            hint="a sweep is reproduced by running its sweep file again into a new store "
            "(`sim sweep SWEEP.yaml -o NEW.zarr`); rerun checks a file written by `sim run`",
        )
    mode = str(ds.attrs.get("mode", ""))
    if mode.startswith("static counterfactual") or "time" not in ds.dims:
        what = (
            "a static counterfactual (written by `sim counterfactual`: no time dimension)"
            if mode.startswith("static counterfactual")
            else "not a run (it has no time dimension)"
        )
        raise RerunError(
            f"{name} is {what}, so it cannot be rerun as a run",
            allowed=allowed,
            hint="rerun a counterfactual with `sim counterfactual SCENARIO -o NEW.nc` (its "
            "scenario is embedded in the attribute scenario_yaml) and compare the two",
        )


def _compare(old: xr.Dataset, new: xr.Dataset, count: int, rtol: float = 0.0) -> RerunResult:
    diffs: list[str] = []
    notes: list[str] = []
    names = sorted({str(v) for v in old.data_vars} | {str(v) for v in new.data_vars})
    for name in names:
        if name not in old or name not in new:
            where = "rerun" if name not in old else "result"
            diffs.append(f"{name}: only in the {where}")
            continue
        a, b = old[name], new[name]
        if a.dims != b.dims or a.shape != b.shape:
            diffs.append(f"{name}: shape {dict(a.sizes)} in the result, {dict(b.sizes)} now")
            continue
        for dim in a.dims:
            if not np.array_equal(a[dim].values, b[dim].values):
                diffs.append(f"{name}: labels of {dim} differ")
                break
        else:
            va, vb = np.asarray(a.values), np.asarray(b.values)
            if not np.array_equal(va, vb, equal_nan=va.dtype.kind == "f"):
                delta = np.abs(va.astype(float) - vb.astype(float))
                differ = ~np.isclose(va, vb, rtol=0, atol=0, equal_nan=True)
                if rtol and name in DIAGNOSTICS:
                    notes.append(
                        f"note: {name} differs in {int(np.count_nonzero(differ))} of "
                        f"{va.size} values (largest {np.nanmax(delta):g}): a diagnostic of "
                        "the batch's solve, not a result"
                    )
                    continue
                if rtol and va.dtype.kind in "fiu" and vb.dtype.kind in "fiu":
                    # Relative to each value; a value that cancels to about zero (a sum of
                    # large terms) may carry the rounding of the variable's largest values.
                    scale = np.fmax(np.abs(va), np.abs(vb)).astype(float)
                    level = DIFFERENCE_OF.get(name)
                    if level in old and level in new and old[level].shape == va.shape:
                        scale = np.fmax(
                            np.abs(np.asarray(old[level].values)),
                            np.abs(np.asarray(new[level].values)),
                        ).astype(float)
                    top = float(np.nanmax(scale)) if scale.size else 0.0
                    differ &= ~(delta <= np.fmax(rtol * scale, ROUNDING * top))
                n_diff = int(np.count_nonzero(differ))
                if n_diff == 0:
                    continue
                diffs.append(
                    f"{name}: {n_diff} of {va.size} values differ (largest difference "
                    f"{np.nanmax(delta):.6g} {a.attrs.get('units', '')})".rstrip()
                )
    if old.attrs.get("scenario_sha256") != new.attrs.get("scenario_sha256"):
        notes.append(
            "note: the scenario re-serialises differently (scenario_sha256 differs); "
            "the data-file paths were pinned to the recorded ones"
            if not diffs
            else "note: scenario_sha256 differs"
        )
    if old.attrs.get("engine_version") != new.attrs.get("engine_version"):
        notes.append(
            f"note: computed by sim {old.attrs.get('engine_version')}, rerun with "
            f"sim {new.attrs.get('engine_version')}"
        )
    return RerunResult(
        identical=not diffs, differences=diffs, replicas=count, notes=notes, rtol=rtol
    )


__all__ = [
    "FILE_KEYS",
    "SUBSET_RTOL",
    "RerunResult",
    "check_data_files",
    "check_is_run",
    "recorded_batch_size",
    "rerun",
]

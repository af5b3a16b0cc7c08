"""What every writer checks before it writes anything: the output may be written there.

Three rules, the same for ``sim run``, ``sim calibrate``, ``sim compare``,
``sim report`` and ``sim sensitivity`` (and for :mod:`sim.api` and
:mod:`sim.results.write`), checked before any work is done so that a refusal
leaves nothing written:

1. An output is never something the command reads
   (:func:`check_not_input`): not an input itself, however it is spelt (a
   symlink, a hard link, ``./x`` or ``../d/x``: paths are compared by file
   identity and with symlinks resolved), not a path inside an input folder,
   and not a folder that holds an input (replacing it would delete the input).
2. A writer replaces only its own kind of output (:func:`check_replaceable`):
   a regular file for a file output, and where the writer names its format
   (NetCDF, PNG), only an empty file or one of that format (a scenario, a table or
   notes never count as a run's output, whatever their name); for a Zarr output, an empty folder or a
   Zarr store that is not a sweep store (those belong to ``sim sweep``); for
   an output folder (``sim report``, ``sim sensitivity``), a folder. A
   folder that is not a Zarr store, a character or block device, a named
   pipe, a socket, or a folder where a file is expected is refused. Replacing
   an existing output of its own kind is the default of ``sim run`` and ``sim
   counterfactual`` only;
   the other commands ask for ``--overwrite``.
3. The folder the output goes in can be written to
   (:func:`check_writable`), so that a long computation is not wasted on an
   output that cannot be written.

A refusal is an :class:`OutputError`: what is wrong, what is allowed, how to
fix it (the CLI exits with status 2).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sim.errors import ScenarioError, SimError

if TYPE_CHECKING:
    from sim.scenario.validate import Scenario

#: What an output is: one file, a Zarr store (a folder replaced whole), or a
#: folder that files are written into.
Kind = Literal["file", "zarr", "folder"]

#: Inputs of a command: path -> what it is to the command ("the scenario file").
Inputs = Mapping[str, str] | Mapping[Path, str] | Mapping[str | Path, str]

#: Scenario keys that name data files or folders (relative to the file that wrote them).
DATA_KEYS = (
    "trade.baseline.file",
    "input_output.coefficients.file",
    "input_output.mrio.path",
    "input_output.mrio.final_demand",
    "trade_costs.tariff_table.file",
    "economy.value_added.file",
    "economy.final_demand.file",
    "economy.deficits.file",
    "trade.elasticity_table.file",
)

#: The first bytes of the file formats writers name (``format=``): an existing file is
#: replaced as the writer's own kind of output only if it is empty or starts with one.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    # HDF5 (NetCDF-4) and the classic, 64-bit offset and CDF-5 NetCDF formats.
    "NetCDF": (b"\x89HDF\r\n\x1a\n", b"CDF\x01", b"CDF\x02", b"CDF\x05"),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    # The tidy tables of `sim export` and `sim inspect --csv` (their first column).
    "CSV table": (b"variable,",),
}

#: Files and folders at the top of a Zarr store (format 2, format 3).
_ZARR_MARKERS = (".zgroup", ".zarray", "zarr.json")
#: What ``sim sweep`` keeps in its stores (see sim/sweep/store.py); a single run never has it.
_SWEEP_DIR = ".sweep"
_SWEEP_ATTRIBUTE = "sweep_sha256"


class OutputError(SimError):
    """An output cannot or must not be written where it was asked to go.

    Parameters
    ----------
    problem
        What is wrong, in one sentence.
    allowed
        What would be accepted.
    hint
        How to fix it.
    """

    def __init__(self, problem: str, *, allowed: str, hint: str) -> None:
        self.problem = problem
        self.allowed = allowed
        self.hint = hint
        super().__init__(f"{problem}\n  allowed: {allowed}\n  fix: {hint}")


def _real(path: str | Path) -> Path:
    """The path with symlinks resolved and ``.``/``..`` removed (it need not exist)."""
    return Path(os.path.realpath(os.path.abspath(path)))


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (or cannot be examined)
        return False


def check_not_input(target: str | Path, inputs: Inputs, *, whole: bool = True) -> None:
    """Refuse an output that is, lies inside, or (``whole``) holds one of ``inputs``.

    Parameters
    ----------
    target
        The output file or folder.
    inputs
        Every file and folder the command reads, each with what it is to the
        command (``"the scenario file"``, ``"the data file named by trade.baseline.file"``).
    whole
        The output replaces ``target`` as a whole (a file, a Zarr store): a
        folder holding an input is refused too. False for a folder that
        files are written into (``sim report -o FOLDER``), which may hold
        the inputs.

    Raises
    ------
    OutputError
        Naming the input and what it is.
    """
    real = _real(target)
    for source, what in inputs.items():
        source_real = _real(source)
        if real == source_real or _same_file(target, source):
            problem = f"the output {target} is {what} ({source}), which this command reads"
        elif source_real in real.parents:
            problem = f"the output {target} lies inside {what} ({source}), which this command reads"
        elif whole and real in source_real.parents:
            problem = (
                f"the output {target} is a folder holding {what} ({source}), which this command "
                "reads; replacing the folder would delete it"
            )
        else:
            continue
        raise OutputError(
            problem,
            allowed="an output that is none of the command's inputs, does not lie inside one "
            "and does not hold one",
            hint="write the output elsewhere (-o), for example under outputs/",
        )


def _unreachable(path: Path, exc: OSError) -> OutputError:
    return OutputError(
        f"cannot examine the output {path}: {exc.strerror or exc}",
        allowed="an output path this user can reach",
        hint="choose another output path (-o)",
    )


def _describe(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def is_sweep_store(path: Path) -> bool:
    """Whether ``path`` is a folder ``sim sweep`` made (its ``.sweep`` folder or its plan attribute)."""
    if (path / _SWEEP_DIR).is_dir():
        return True
    try:
        attrs = json.loads((path / ".zattrs").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(attrs, dict) and _SWEEP_ATTRIBUTE in attrs


def is_zarr_store(path: Path) -> bool:
    """Whether the folder ``path`` is a Zarr store (group or array, format 2 or 3)."""
    return any((path / name).is_file() for name in _ZARR_MARKERS)


def has_signature(path: Path, format: str) -> bool:
    """Whether the regular file ``path`` is empty or starts as a file of ``format`` does
    (a key of :data:`SIGNATURES`)."""
    with path.open("rb") as handle:
        head = handle.read(max(len(sign) for sign in SIGNATURES[format]))
    return not head or head.startswith(SIGNATURES[format])


def check_replaceable(
    target: str | Path, kind: Kind, *, overwrite: bool = True, format: str | None = None
) -> None:
    """Refuse to write ``target`` over anything that is not this writer's own kind of output.

    Parameters
    ----------
    target
        The output; nothing there, or a symlink to nothing, is always fine.
    kind
        ``"file"``: only a regular file may be replaced. ``"zarr"``: only an
        empty folder or a Zarr store that is not a sweep store. ``"folder"``:
        an existing folder is written into (the files in it are checked one
        by one by the caller).
    overwrite
        Whether an existing output of the writer's own kind may be replaced;
        when False it is refused with a hint to pass ``--overwrite``.
    format
        For a file: the format the writer writes (a key of :data:`SIGNATURES`); an
        existing file must then be empty or of that format (default: any regular file).

    Raises
    ------
    OutputError
        Naming what is there and what the writer may replace.
    """
    path = Path(target)
    try:
        mode = os.stat(path).st_mode  # a symlink is judged by what it points to
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _unreachable(path, exc) from None
    keep = "choose another output path (-o), or move it away yourself if it is meant to go"
    if kind == "file":
        if not stat.S_ISREG(mode):
            raise OutputError(
                f"will not write the output {path}: it exists and is {_describe(mode)}, which "
                "a file output would replace",
                allowed="a new path, or an existing regular file",
                hint=keep,
            )
        what = "a file"
        if format is not None:
            try:
                same = has_signature(path, format)
            except OSError as exc:
                raise _unreachable(path, exc) from None
            if not same:
                raise OutputError(
                    f"will not write the output {path}: it exists and is not a {format} file, "
                    f"which this {format} output would replace",
                    allowed=f"a new path, or an existing {format} file",
                    hint=keep,
                )
            what = f"a {format} file"
    elif kind == "zarr":
        if not stat.S_ISDIR(mode):
            raise OutputError(
                f"will not write the Zarr store {path}: it exists and is "
                f"{'a regular file' if stat.S_ISREG(mode) else _describe(mode)}",
                allowed="a new path, an empty folder, or an existing Zarr store written by sim run",
                hint=keep,
            )
        if is_sweep_store(path):
            raise OutputError(
                f"will not write the Zarr store {path}: it holds a sweep store (written by "
                "`sim sweep`), which a single run would replace",
                allowed="a new path, an empty folder, or an existing Zarr store written by sim run",
                hint="write the run elsewhere (-o); a sweep store is replaced only by "
                "`sim sweep --overwrite`",
            )
        try:
            entries = sorted(os.listdir(path))
        except OSError as exc:
            raise _unreachable(path, exc) from None
        if not entries:
            return
        if not is_zarr_store(path):
            shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise OutputError(
                f"will not write the Zarr store {path}: it is a folder that is not a Zarr store "
                f"({len(entries)} {'entry' if len(entries) == 1 else 'entries'}: {shown}); "
                "replacing it would delete them",
                allowed="a new path, an empty folder, or an existing Zarr store written by sim run",
                hint=keep,
            )
        what = "a Zarr store"
    else:
        if not stat.S_ISDIR(mode):
            raise OutputError(
                f"will not write into {path}: it exists and is "
                f"{'a regular file' if stat.S_ISREG(mode) else _describe(mode)}, not a folder",
                allowed="a new folder, or an existing folder",
                hint="choose another folder (-o)",
            )
        return
    if not overwrite:
        raise OutputError(
            f"the output {path} exists ({what})",
            allowed=f"a new path, or an existing {what.split(' ', 1)[1]} with --overwrite",
            hint="pass --overwrite to replace it, or choose another output path (-o)",
        )


def check_writable(target: str | Path, *, into: bool = False) -> None:
    """Refuse an output whose folder (or the nearest existing folder above) cannot be written.

    With ``into``, ``target`` is itself the folder the files go in.

    Raises
    ------
    OutputError
        When a path component is not a folder, or the folder is read-only
        (permissions, or a read-only filesystem).
    """
    path = Path(os.path.abspath(target))
    folder = path if into else path.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(
            f"cannot write {target}: {folder} is not a folder",
            allowed="an output whose parent folders are folders",
            hint="choose another output path (-o)",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        why = "no write permission for this user"
        try:
            if os.statvfs(folder).f_flag & os.ST_RDONLY:
                why = "a read-only filesystem"
        except OSError:
            pass
        raise OutputError(
            f"cannot write {target}: the folder {folder} is read-only ({why})",
            allowed="an output in a folder this user can write to",
            hint=f"choose an output in a writable folder (-o), or make {folder} writable",
        )


def check_output(
    target: str | Path,
    kind: Kind,
    *,
    inputs: Inputs | None = None,
    overwrite: bool = True,
    format: str | None = None,
) -> None:
    """All three checks for one output (see the module's docstring), in order.

    Parameters
    ----------
    target
        The output file, Zarr store or folder.
    kind
        What the writer writes there (:func:`check_replaceable`).
    inputs
        Everything the command reads, path -> what it is (:func:`check_not_input`).
    overwrite
        Whether an existing output of the writer's own kind may be replaced.
    format
        The format of a file output (:func:`check_replaceable`).

    Raises
    ------
    OutputError
        For the first rule broken; nothing has been written.
    """
    if inputs:
        check_not_input(target, inputs, whole=kind != "folder")
    check_replaceable(target, kind, overwrite=overwrite, format=format)
    check_writable(target, into=kind == "folder")


def output_failed(target: str | Path, exc: OSError) -> OutputError:
    """The error for an ``OSError`` while writing ``target`` in place (a chart, a page)."""
    return OutputError(
        f"could not write {target}: {exc.strerror or exc}",
        allowed="an output in an existing, writable folder with free space",
        hint="check the folder exists, is writable and has free space, or write elsewhere (-o)",
    )


def scenario_inputs(scenario: Scenario) -> dict[str | Path, str]:
    """Every file a run of ``scenario`` reads: its YAML files (bases too) and its data files.

    Data paths that cannot be resolved (missing, outside the allowed folders)
    are left out: reading them fails later with its own error.
    """
    inputs: dict[str | Path, str] = {}
    files = [f for f in scenario.files if not f.startswith("<")]
    for k, name in enumerate(files):
        last = k == len(files) - 1 and scenario.path is not None
        inputs[name] = "the scenario file" if last else "a scenario file it extends"
    data = scenario.data
    for key in DATA_KEYS:
        node: object = data
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, str):
            continue
        mrio = data.get("input_output", {}).get("mrio")
        folder = (
            key == "input_output.mrio.path"
            and isinstance(mrio, dict)
            and mrio.get("format") == "pymrio"
        )
        try:
            path = scenario.resolve_file(key, node, folder=folder)
        except ScenarioError:
            continue
        inputs[path] = f"the data {'folder' if folder else 'file'} named by {key}"
    return inputs


def check_scenario_output(scenario: Scenario, target: Path) -> None:
    """Refuse an ``output.path`` from the scenario that leaves its folder tree and ``outputs/``.

    A scenario received from someone else must not write anywhere it likes:
    the output it names must lie inside the scenario's folder tree or under
    the current directory's ``outputs/``. A path given on the command line
    (``-o``) is the user's own choice and is not confined.

    Raises
    ------
    ScenarioError
        At ``output.path``, naming where it would write.
    """
    real = _real(target)
    roots = [_real(scenario.data_root), _real(Path.cwd() / "outputs")]
    if any(root in real.parents for root in roots):
        return
    raise scenario.error(
        f"output.path would write {real}, outside the scenario's folder tree and outside "
        "outputs/ of the current directory",
        "output.path",
        scenario.data.get("output", {}).get("path"),
        allowed=f"an output under {roots[0]} or under {roots[1]}",
        hint="write a path inside the scenario's folder or under outputs/, or choose the "
        "output on the command line with -o (which is not confined)",
    )


__all__ = [
    "DATA_KEYS",
    "SIGNATURES",
    "Inputs",
    "Kind",
    "OutputError",
    "check_not_input",
    "check_output",
    "check_replaceable",
    "check_scenario_output",
    "check_writable",
    "has_signature",
    "is_sweep_store",
    "is_zarr_store",
    "output_failed",
    "scenario_inputs",
]

"""Write datasets atomically: a temporary file (or folder) in the target folder, renamed into place.

A process killed while writing leaves the previous file (or none), never a
truncated one: :func:`os.replace` is atomic on POSIX within one filesystem.
Before anything is written, :mod:`sim.results.guard` checks that the output
is none of the inputs and replaces only its own kind of output.

Two steps make every write here, and are public so that other writers (the
streamed Zarr output of :mod:`sim.api`) follow the same rules:

:func:`temporary_path`
    creates an empty hidden file or folder next to the target, named
    ``.NAME.PID-HOST.RANDOM.tmp`` (a NAME too long for that to fit the file
    system's limit on names becomes its first bytes and a hash of it,
    ``START~HASH``, so that every legal name can be written), after
    removing what writers that died (SIGKILL, power loss) left for the same
    target. The writer's pid and a tag of its host are in the name, so a
    leftover is removed only when its writer is known to be dead: the
    temporary of a live writer, or of a writer on another machine sharing the
    folder, is never touched.
:func:`publish`
    flushes the temporary to disk, renames it over the target and flushes the
    folder, so that after a power loss the folder holds the old or the new
    version, complete.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xarray as xr

from sim.errors import SimError, shorten
from sim.results.guard import Inputs, check_output

#: Suffix of a temporary file or folder being written.
TMP_SUFFIX = ".tmp"
#: Suffix of a previous folder moved aside while a new one takes its place.
OLD_SUFFIX = ".old"
#: Errors of fsync on a folder that only mean the filesystem cannot do it.
_NO_DIRECTORY_SYNC = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP}


def _host_tag() -> str:
    """8 hex digits naming this machine: pids are only comparable on the same host."""
    return hashlib.blake2b(socket.gethostname().encode("utf-8"), digest_size=4).hexdigest()


#: Bytes a temporary's name adds to its stem: ``.`` ``.PID-HOST.`` (pid up to 10 digits)
#: ``RANDOM`` (8 characters, tempfile's) and ``.tmp``/``.old``.
_NAME_OVERHEAD = 1 + 1 + 10 + 1 + 8 + 1 + 8 + 4
#: Bytes of the target's name kept, for a human, in a hashed stem.
_HASHED_KEEP = 40


def _name_max(folder: Path) -> int:
    """The longest file name (bytes) the folder's file system allows (255 where unknown)."""
    try:
        return min(255, os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def _stem(target: Path) -> str:
    """The target's name as it appears in its temporaries' names.

    The name itself while the temporary's name fits the file system's limit on
    names; for longer names (a legal name up to the limit would otherwise be
    refused for its temporary), its first bytes and a hash of the whole name:
    ``NAME-START~HASH``, so that every legal name can be written.
    """
    name = target.name
    encoded = os.fsencode(name)
    if len(encoded) + _NAME_OVERHEAD <= _name_max(target.parent):
        return name
    digest = hashlib.blake2b(encoded, digest_size=8).hexdigest()
    start = encoded[:_HASHED_KEEP].decode("utf-8", errors="ignore")
    return f"{start}~{digest}"


def _prefix(target: Path) -> str:
    """Start of the names of this process's temporaries for ``target``."""
    return f".{_stem(target)}.{os.getpid()}-{_host_tag()}."


def _pattern(target: Path) -> re.Pattern[str]:
    """Names :func:`temporary_path` and :func:`publish` give, for any writer of ``target``."""
    return re.compile(
        rf"^\.{re.escape(_stem(target))}\.(?P<pid>[0-9]+)-(?P<host>[0-9a-f]{{8}})"
        rf"\.[A-Za-z0-9_]+(?P<suffix>{re.escape(TMP_SUFFIX)}|{re.escape(OLD_SUFFIX)})$"
    )


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (a zombie counts as alive).

    Parameters
    ----------
    pid
        A process id; ids below 1 name no single process and count as alive,
        so that nothing is removed on their account.

    Returns
    -------
    bool
        False only when the system says no such process exists.
    """
    if pid < 1:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


def discard(path: Path) -> None:
    """Remove a temporary output, file or folder (a symlink itself, never its target)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove what dead writers of ``target`` left next to it; return what was removed.

    Only names made by :func:`temporary_path` or :func:`publish` for this
    target, by a process of this host that no longer exists, are touched.
    A previous folder a dead writer had moved aside (``.old``) while the
    target is missing is the last complete version: it is put back as the
    target instead of being removed.

    Parameters
    ----------
    target
        The file or folder being written.

    Returns
    -------
    list of Path
        The temporaries removed (a restored folder is not listed).
    """
    folder, pattern, host = target.parent, _pattern(target), _host_tag()
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    stale: list[tuple[str, Path]] = []
    # A cheap test first: a folder may hold thousands of other names (a sweep's markers).
    start, ends = f".{_stem(target)}.", (TMP_SUFFIX, OLD_SUFFIX)
    for name in names:
        if not (name.startswith(start) and name.endswith(ends)):
            continue
        match = pattern.match(name)
        if match and match["host"] == host and not process_alive(int(match["pid"])):
            stale.append((match["suffix"], folder / name))
    removed = []
    # Previous versions first: one may have to become the target again.
    for suffix, path in sorted(stale, key=lambda item: item[0] != OLD_SUFFIX):
        if suffix == OLD_SUFFIX and not os.path.lexists(target):
            # Its writer died between moving it aside and renaming the new version in:
            # it is the last complete version. Kept where it is if it cannot be put back.
            with contextlib.suppress(OSError):
                os.replace(path, target)
                sync_directory(folder)
            continue
        discard(path)
        removed.append(path)
    return removed


def temporary_path(target: Path, *, directory: bool) -> Path:
    """Create an empty temporary file or folder to write ``target`` into; return its path.

    The temporary is hidden, next to the target (so that :func:`publish` is
    a rename within one filesystem), named ``.NAME.PID-HOST.RANDOM.tmp`` and
    given the mode a plain ``open()`` or ``mkdir()`` would. Before creating it,
    leftovers of dead writers of the same target are removed
    (:func:`remove_stale_temporaries`). The target's folder is created if
    missing.

    Parameters
    ----------
    target
        The file or folder that will be published.
    directory
        Create a folder (for a Zarr store) instead of a file.

    Returns
    -------
    Path
        The temporary, empty; the caller writes into it, then calls
        :func:`publish`, or removes it on failure.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    prefix = _prefix(target)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=TMP_SUFFIX, dir=target.parent))
        mode = 0o777
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=TMP_SUFFIX, dir=target.parent)
        os.close(fd)
        tmp, mode = Path(name), 0o666
    # mkstemp and mkdtemp create 0600 and 0700; give the mode the umask allows, as open() does.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, mode & ~umask)
    return tmp


def sync_directory(folder: Path) -> None:
    """fsync a folder, so that renames and new names in it survive a power loss."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_DIRECTORY_SYNC:
            raise
    finally:
        os.close(fd)


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_tree(root: Path) -> None:
    """fsync every file and folder under ``root`` (folders after their contents)."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            _sync_file(Path(folder) / name)
        sync_directory(Path(folder))


def publish(tmp: Path, target: Path) -> None:
    """Move a complete temporary into place as ``target``, durably.

    The temporary's contents are flushed to disk first (every file of a
    folder), then it is renamed over the target and the target's folder is
    flushed. A file replaces the target in one atomic rename. A folder cannot
    be renamed over a non-empty folder, so an existing target folder is first
    moved aside (``.NAME.PID-HOST.RANDOM.old``) and removed once the new one is
    in place; if the writer dies in between, the next
    :func:`temporary_path` for the target puts the old folder back.

    Parameters
    ----------
    tmp
        A temporary made by :func:`temporary_path` for ``target``, complete.
    target
        Where the result goes; its previous version, if any, is replaced.

    Raises
    ------
    OSError
        When a flush or a rename fails; the temporary is left for the caller
        to remove, and the target keeps its previous version.
    """
    folder = target.parent
    if tmp.is_dir():
        sync_tree(tmp)
    else:
        _sync_file(tmp)
    if tmp.is_dir() and target.is_dir() and not target.is_symlink():
        aside = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=OLD_SUFFIX, dir=folder))
        os.replace(target, aside)  # a folder may be renamed over an empty one
        try:
            os.replace(tmp, target)
        except BaseException:
            os.replace(aside, target)
            raise
        sync_directory(folder)
        # Renamed to a .tmp name before removal: a half-removed folder must never be
        # taken for the last complete version by remove_stale_temporaries.
        doomed = aside.with_name(aside.name.removesuffix(OLD_SUFFIX) + TMP_SUFFIX)
        os.replace(aside, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        return
    os.replace(tmp, target)
    sync_directory(folder)


_HDF5_ERRNO = re.compile(r"errno = (\d+)")


def io_error(exc: BaseException) -> OSError | None:
    """``exc`` as the operating system's error, or None if it is not one.

    h5py reports a write that failed at the operating system (a full disk while
    a file is flushed or closed) as ``RuntimeError`` ("file write failed: ...,
    errno = 28, error message = 'No space left on device'"), not ``OSError``.
    """
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, RuntimeError):
        text = str(exc)
        found = _HDF5_ERRNO.search(text)
        code = int(found.group(1)) if found else None
        if code is None and "No space left on device" in text:
            code = errno.ENOSPC
        if code is None and "Disk quota exceeded" in text:
            code = getattr(errno, "EDQUOT", errno.ENOSPC)
        if code is not None:
            return OSError(code, f"{os.strerror(code)} (HDF5: {shorten(text, 200)})")
    return None


def write_failed(target: Path, exc: OSError) -> SimError:
    """The error for an ``OSError`` while writing ``target`` through a temporary.

    Parameters
    ----------
    target
        The file or folder being written.
    exc
        The operating system's error; a full disk (``ENOSPC``) and a used-up
        quota (``EDQUOT``) are named as such.

    Returns
    -------
    SimError
        What failed, what is kept (the previous version; the caller removes
        its temporary, so no partial file is left) and how to fix it.
    """
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        problem = "the filesystem is full" if exc.errno == errno.ENOSPC else "the quota is used up"
        return SimError(
            f"could not write {target}: {problem} ({exc})\n"
            "  kept: the previous file, if there was one; no partial file is left\n"
            "  fix: free space there, or write elsewhere (-o), and run the command again"
        )
    return SimError(
        f"could not write {target}: {exc}\n"
        "  kept: the previous file, if there was one; no partial file is left\n"
        "  fix: check the folder exists, is writable and has free space"
    )


def write_file(target: Path, fill: Callable[[Path], object], *, directory: bool = False) -> Path:
    """Write the file (or, with ``directory``, the folder) ``target`` atomically:
    ``fill(tmp)`` writes a temporary one next to it, which is then published over it
    (:func:`publish`).

    What was at ``target`` stays whole until the new one is complete, and a symlink
    there is replaced, never written through (writing through one destroyed what it
    pointed to). The caller checks the target first (:mod:`sim.results.guard`).

    Raises
    ------
    SimError
        If writing fails for lack of space or permission (the temporary is removed).
    """
    try:
        tmp = temporary_path(target, directory=directory)
    except OSError as exc:
        raise write_failed(target, exc) from exc
    try:
        fill(tmp)
        publish(tmp, target)
    except OSError as exc:
        discard(tmp)
        raise write_failed(target, exc) from exc
    except BaseException:
        discard(tmp)
        raise
    return target


class ValueWriter:
    """xarray's array-writer protocol (``add``) for values held in memory: each variable's
    values are written to the file as they come."""

    def add(self, source: Any, target: Any, region: Any = None) -> None:
        target[... if region is None else region] = source


def dump_netcdf(
    ds: xr.Dataset,
    path: Path,
    *,
    encoding: dict[Any, dict[str, Any]],
    writer: ValueWriter | None = None,
) -> None:
    """Create the NetCDF-4 file ``path`` (h5netcdf) holding ``ds``, through xarray's store.

    Not ``to_netcdf``: for a dataset held in memory it only adds asking Dask for its
    scheduler, twice (for its file lock and its autoclose), which imports
    ``dask.distributed`` where Dask is installed (0.13-0.26 s a process, more than a
    counterfactual's solve and writing, docs/performance.md). One process writes the
    file, under a lock of its own. ``writer`` decides what is written of each variable
    (default: everything, :class:`ValueWriter`); values must be in memory, not Dask arrays.
    """
    store = xr.backends.H5NetCDFStore.open(path, mode="w", lock=threading.Lock())
    try:
        ds.dump_to_store(
            store,
            encoding=encoding,
            writer=writer or ValueWriter(),
            unlimited_dims=ds.encoding.get("unlimited_dims"),
        )
    finally:
        store.close()


def write_netcdf(
    ds: xr.Dataset, path: str | Path, *, inputs: Inputs | None = None, overwrite: bool = True
) -> Path:
    """Write ``ds`` as NetCDF-4 (h5netcdf) to ``path`` atomically; return the path.

    Parameters
    ----------
    ds
        The dataset.
    path
        The file; an existing NetCDF file is replaced (unless ``overwrite``
        is False), anything else there is refused (:mod:`sim.results.guard`).
    inputs
        Files the caller read, which the output must not be (path -> what it is).
    overwrite
        Whether an existing file may be replaced.

    Raises
    ------
    OutputError
        If the output may not be written there; nothing is written.
    SimError
        If writing fails (the previous file, if any, is kept).
    """
    target = Path(path)
    check_output(target, "file", inputs=inputs, overwrite=overwrite, format="NetCDF")
    encoding = {
        name: {"zlib": True, "complevel": 1, "shuffle": True}
        for name, var in ds.data_vars.items()
        if var.dtype.kind in "fiu"
    }
    try:
        tmp = temporary_path(target, directory=False)
    except OSError as exc:
        raise write_failed(target, exc) from exc
    try:
        if any(var.chunks is not None for var in ds.variables.values()):
            # Lazy values (a comparison of runs opened from their files) go through Dask.
            ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
        else:
            dump_netcdf(ds, tmp, encoding=encoding)
        publish(tmp, target)
    except (OSError, RuntimeError) as exc:
        discard(tmp)
        if (error := io_error(exc)) is None:
            raise
        raise write_failed(target, error) from exc
    except BaseException:
        discard(tmp)
        raise
    return target


def write_zarr(
    ds: xr.Dataset, path: str | Path, *, inputs: Inputs | None = None, overwrite: bool = True
) -> Path:
    """Write ``ds`` as a Zarr store at ``path`` atomically (a temporary folder renamed).

    An existing store at ``path`` is replaced only once the new one is complete;
    a folder that is not a Zarr store, a sweep store or anything but a folder
    is refused (:mod:`sim.results.guard`), as are ``inputs`` (see
    :func:`write_netcdf`).
    """
    target = Path(path)
    check_output(target, "zarr", inputs=inputs, overwrite=overwrite)
    try:
        tmp = temporary_path(target, directory=True)
    except OSError as exc:
        raise write_failed(target, exc) from exc
    try:
        # Zarr format 2: its string and metadata encodings are stable across readers.
        ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2)
        publish(tmp, target)
    except (OSError, RuntimeError) as exc:
        discard(tmp)
        if (error := io_error(exc)) is None:
            raise
        raise write_failed(target, error) from exc
    except BaseException:
        discard(tmp)
        raise
    return target


def write_dataset(
    ds: xr.Dataset, path: str | Path, *, inputs: Inputs | None = None, overwrite: bool = True
) -> Path:
    """Write NetCDF, or Zarr when the path ends in ``.zarr``."""
    if str(path).rstrip("/").endswith(".zarr"):
        return write_zarr(ds, path, inputs=inputs, overwrite=overwrite)
    return write_netcdf(ds, path, inputs=inputs, overwrite=overwrite)


__all__ = [
    "ValueWriter",
    "discard",
    "dump_netcdf",
    "io_error",
    "process_alive",
    "publish",
    "remove_stale_temporaries",
    "temporary_path",
    "write_dataset",
    "write_failed",
    "write_file",
    "write_netcdf",
    "write_zarr",
]

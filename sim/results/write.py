"""Write datasets atomically: a temporary file (or folder) in the target folder, renamed into place.

A process killed while writing leaves the previous file (or none), never a
truncated one: :func:`os.replace` is atomic on POSIX within one filesystem.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import xarray as xr

from sim.errors import SimError


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` as NetCDF-4 (h5netcdf) to ``path`` atomically; return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates the file 0600; give the result the mode a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    encoding = {
        name: {"zlib": True, "complevel": 1}
        for name, var in ds.data_vars.items()
        if var.dtype.kind in "fiu"
    }
    try:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SimError(
            f"could not write {target}: {exc}\n  fix: check the folder exists, is writable "
            "and has free space"
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_zarr(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` as a Zarr store at ``path`` atomically (a temporary folder renamed).

    An existing store at ``path`` is replaced only once the new one is complete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    old = target.with_name(f".{target.name}.old")
    try:
        # Zarr format 2: its string and metadata encodings are stable across readers.
        ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        if old.exists():
            shutil.rmtree(old)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SimError(
            f"could not write {target}: {exc}\n  fix: check the folder exists, is writable "
            "and has free space"
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def write_dataset(ds: xr.Dataset, path: str | Path) -> Path:
    """Write NetCDF, or Zarr when the path ends in ``.zarr``."""
    if str(path).rstrip("/").endswith(".zarr"):
        return write_zarr(ds, path)
    return write_netcdf(ds, path)

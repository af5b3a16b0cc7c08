"""Write a run batch by batch: each batch of replicas is appended to the output file.

A run written this way holds one batch in memory, never the whole output, so its
peak memory is bounded by the batch size whatever the number of replicas. The
writers append to a temporary path; the caller publishes it atomically once the
last batch is in (see :mod:`sim.results.write`), so a failed or killed run leaves
the previous output or none.

NetCDF-4 is created at the run's full size from the first batch and filled batch by
batch along ``replica``; Zarr grows by appending chunks.
"""

from __future__ import annotations

import math
import os
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import h5netcdf
import h5py
import numpy as np
import xarray as xr
from numpy.typing import NDArray

from sim.results.chunks import Job, chunk_jobs, workers, write_jobs
from sim.results.write import ValueWriter, dump_netcdf

#: Target size of one compressed chunk before compression; readers that select a
#: few replicas decompress whole chunks, so they should not be much larger.
CHUNK_BYTES = 8 * 2**20


class BatchWriter(Protocol):
    """Appends batches of replicas, in order, to one output being written."""

    def append(self, part: xr.Dataset) -> None:
        """Append the replicas of ``part`` after those already written."""

    def close(self) -> None:
        """Record the run's replica count and flush everything to disk."""


def is_zarr(path: str | Path) -> bool:
    """Zarr for paths ending in ``.zarr``, NetCDF-4 otherwise."""
    return str(path).rstrip("/").endswith(".zarr")


def open_batch_writer(target: Path, tmp: Path, total: int, batch: int) -> BatchWriter:
    """A writer for ``tmp``, in the format of ``target`` (see :func:`is_zarr`).

    Parameters
    ----------
    target : Path
        Where the output will be published; its suffix picks the format.
    tmp : Path
        Temporary path the batches are written to (a file for NetCDF, a folder
        for Zarr); it must not hold another run.
    total : int
        Replicas of the whole run, recorded as the ``replicas`` attribute.
    batch : int
        Replicas per batch; chunks along ``replica`` divide it, so every batch
        writes whole chunks.
    """
    if is_zarr(target):
        return ZarrBatchWriter(tmp, total, batch)
    return NetcdfBatchWriter(tmp, total, batch)


def replica_chunk(part: xr.Dataset, name: Hashable, batch: int) -> int:
    """Replicas per chunk of variable ``name``: the largest divisor of ``batch``
    whose chunk stays under :data:`CHUNK_BYTES`."""
    var = part[name]
    per_replica = max(1, var.dtype.itemsize * var.size // max(1, var.sizes["replica"]))
    limit = max(1, CHUNK_BYTES // per_replica)
    # Divisors come in pairs (d, batch // d): a walk up to sqrt(batch) finds them all.
    pairs = ((d, batch // d) for d in range(1, math.isqrt(batch) + 1) if batch % d == 0)
    return max(x for pair in pairs for x in pair if x <= limit)


def unwritten(dtype: np.dtype, shape: tuple[int, ...]) -> NDArray[np.generic]:
    """A placeholder for values a file will hold but that are not written yet: the
    shape and dtype of the variable in one element of memory (every stride 0).

    Numbers only: xarray encodes booleans and strings by converting their values,
    which would allocate the whole variable.
    """
    if np.dtype(dtype).kind not in "fiuc":
        raise TypeError(
            f"an unwritten variable must hold numbers, not {np.dtype(dtype)}: xarray would "
            "convert every value of it to encode it; write such a variable whole"
        )
    return np.broadcast_to(np.zeros((), dtype=dtype), shape)


def is_unwritten(values: object) -> bool:
    """Whether ``values`` is a placeholder of :func:`unwritten` (all strides 0)."""
    return isinstance(values, np.ndarray) and values.size > 1 and not any(values.strides)


class StructureWriter(ValueWriter):
    """xarray's array-writer protocol (``add``) for a file's structure: a variable whose
    values are :func:`unwritten` is created and left empty (HDF5 allocates none of its
    chunks until a batch writes them); every other variable is written as it comes."""

    def add(self, source: Any, target: Any, region: Any = None) -> None:
        if not is_unwritten(source):
            super().add(source, target, region)


class _Appender:
    """What both writers track: where they write, the run's size and what is written."""

    def __init__(self, path: Path, total: int, batch: int) -> None:
        self.path = path
        self.total = total
        self.batch = batch
        self.written = 0


class NetcdfBatchWriter(_Appender):
    """NetCDF-4 (HDF5, through h5netcdf), every variable created at the run's full size.

    xarray's store creates the file from the first batch with placeholders of the run's
    replicas (:func:`unwritten`, never written: :class:`StructureWriter`), which fixes
    every variable's encoding (dtype, fill value, shuffle and deflate level 1, chunks of
    whole batches along ``replica``) and writes nothing of them; ``replica`` is a fixed
    dimension, which readers size at once (an unlimited one made h5netcdf scan every
    variable for every shape: 1.2-1.8 s to open a seed run). Every batch's chunks are then compressed in parallel and written
    directly (:mod:`sim.results.chunks`); a variable of another layout is written
    through HDF5.
    """

    def append(self, part: xr.Dataset) -> None:
        n = part.sizes["replica"]
        if self.written == 0:
            self.create(part)
        jobs: list[tuple[str, Job]] = []
        rows = slice(self.written, self.written + n)
        with h5py.File(self.path, "a") as f:
            for name, var in part.variables.items():
                if "replica" not in var.dims:
                    continue
                dataset = f[str(name)]
                values = var.values
                planned = (
                    chunk_jobs(dataset, self.written, values) if var.dims[0] == "replica" else None
                )
                if planned is None:
                    dataset[tuple(rows if d == "replica" else slice(None) for d in var.dims)] = (
                        values
                    )
                else:
                    jobs.extend((str(name), job) for job in planned)
            with ThreadPoolExecutor(max_workers=workers()) as pool:
                write_jobs(f, jobs, pool)
        self.written += n

    def create(self, part: xr.Dataset) -> None:
        """The file with every variable of ``part`` at the run's size, its values unwritten."""

        def placeholder(var: xr.Variable) -> xr.Variable:
            shape = tuple(
                self.total if d == "replica" else s
                for d, s in zip(var.dims, var.shape, strict=True)
            )
            return xr.Variable(var.dims, unwritten(var.dtype, shape), var.attrs, var.encoding)

        encoding = {
            name: {
                "zlib": True,
                "complevel": 1,
                # Shuffled bytes deflate faster and smaller (Issue 15: 9.1 s against
                # 11.0 s, 204 MB against 225 MB for 1,000 seed replicas).
                "shuffle": True,
                # HDF5 chunks must be positive: a run without projects has a `project`
                # dimension of length 0 (a chunk of 1 along it holds no data).
                "chunksizes": (
                    replica_chunk(part, name, self.batch),
                    *(max(1, n) for n in var.shape[1:]),
                ),
            }
            for name, var in part.data_vars.items()
            if var.dtype.kind in "fiu" and var.dims[:1] == ("replica",)
        }
        replica = part["replica"].variable
        coords = {
            name: placeholder(coord.variable) if "replica" in coord.dims else coord.variable
            for name, coord in part.coords.items()
            if name != "replica"
        }
        coords["replica"] = xr.Variable(
            "replica", np.arange(self.total, dtype=replica.dtype), replica.attrs, replica.encoding
        )
        template = xr.Dataset(
            {
                name: placeholder(var.variable) if "replica" in var.dims else var.variable
                for name, var in part.data_vars.items()
            },
            coords=coords,
            attrs=part.attrs,
        )
        # Not to_netcdf, which would write every value (and import dask.distributed).
        dump_netcdf(template, self.path, encoding=encoding, writer=StructureWriter())

    def close(self) -> None:
        with h5netcdf.File(self.path, "a") as f:
            # The first batch wrote its own replica count; record the run's.
            f.attrs["replicas"] = int(self.total)
        with self.path.open("rb") as handle:
            os.fsync(handle.fileno())


class ZarrBatchWriter(_Appender):
    """A Zarr (format 2) store appended along ``replica``, metadata consolidated at the end."""

    def append(self, part: xr.Dataset) -> None:
        if self.written == 0:
            encoding = {
                name: {"chunks": (replica_chunk(part, name, self.batch), *var.shape[1:])}
                for name, var in part.data_vars.items()
                if var.dims[:1] == ("replica",)
            }
            part.to_zarr(self.path, mode="w", zarr_format=2, encoding=encoding, consolidated=False)
        else:
            part.to_zarr(self.path, append_dim="replica", zarr_format=2, consolidated=False)
        self.written += part.sizes["replica"]

    def close(self) -> None:
        # Imported here: a NetCDF run (the default) need not load zarr (0.1-0.2 s).
        import zarr

        zarr.open_group(str(self.path), mode="r+", zarr_format=2).attrs["replicas"] = int(
            self.total
        )
        zarr.consolidate_metadata(str(self.path))

"""Compressed HDF5 chunks written in parallel: the NetCDF output at the speed of the cores.

HDF5 compresses chunk by chunk in the thread that writes, one at a time: at zlib
level 1 that is 40-60 MB/s, slower than simulating (Issue 15). Here each chunk is
shuffled and deflated in a thread pool (the compressors release the GIL) and
written with HDF5's direct chunk write. The bytes are what HDF5's own shuffle and
deflate filters produce, declared on the dataset, so the file is an ordinary
NetCDF-4 file that every HDF5 and netCDF reader opens.

Deflate is Intel's ISA-L (``isal.isal_zlib``) at the levels it has (0-3): the same
zlib stream, which HDF5's deflate filter decodes, about 6-7x faster than zlib at
level 1 on the seed's chunks and no larger (docs/performance.md). Where ``isal`` is
not installed, or the declared level is above ISA-L's, zlib compresses.
"""

from __future__ import annotations

import importlib
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import h5py
import numpy as np
from numpy.typing import NDArray


def load_isal() -> ModuleType | None:
    """ISA-L's zlib module, or None where ``isal`` has no wheel for the platform."""
    try:
        return importlib.import_module("isal.isal_zlib")
    except ImportError:
        return None


#: The ISA-L compressor, None where zlib compresses every chunk.
ISAL = load_isal()

#: HDF5's filter ids: shuffle, then deflate (the order h5py and netCDF create them in).
SHUFFLE, DEFLATE = 2, 1


def workers() -> int:
    """Threads for compressing: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def deflate_level(dataset: h5py.Dataset) -> int | None:
    """The deflate level of a dataset filtered by exactly shuffle then deflate, else None.

    Only such datasets are written chunk by chunk; any other filter pipeline is left
    to HDF5 (the caller writes through it).
    """
    plist = dataset.id.get_create_plist()
    if plist.get_layout() != h5py.h5d.CHUNKED or plist.get_nfilters() != 2:
        return None
    first, second = plist.get_filter(0), plist.get_filter(1)
    if first[0] != SHUFFLE or second[0] != DEFLATE:
        return None
    return int(second[2][0])


def shuffled(chunk: NDArray[np.generic]) -> bytes:
    """HDF5's shuffle filter: byte ``b`` of every element, then byte ``b + 1``."""
    size = chunk.dtype.itemsize
    raw = np.ascontiguousarray(chunk).view(np.uint8).reshape(-1, size)
    return raw.T.tobytes()


#: One chunk to compress: its offset in the dataset, its values (padded), the level.
Job = tuple[tuple[int, ...], NDArray[np.generic], int]


def chunk_jobs(dataset: h5py.Dataset, start: int, values: NDArray[np.generic]) -> list[Job] | None:
    """The chunks that writing ``values`` at rows ``start ..`` of axis 0 fills.

    Parameters
    ----------
    dataset : h5py.Dataset
        Already resized to hold the rows.
    start : int
        First row.
    values : ndarray
        Shape ``(rows, *dataset.shape[1:])``, any dtype that casts to the dataset's.

    Returns
    -------
    list or None
        One job per chunk (the last one padded with the fill value: HDF5 stores
        edge chunks whole), or None where this layout is not one handled here:
        filters other than shuffle then deflate, chunks that split another axis,
        or a start that is not a chunk boundary. The caller then writes through HDF5.
    """
    level = deflate_level(dataset)
    chunks = dataset.chunks
    if (
        level is None
        or chunks is None
        or tuple(chunks[1:]) != tuple(dataset.shape[1:])
        or start % chunks[0]
        or values.shape[1:] != dataset.shape[1:]
    ):
        return None
    rows = chunks[0]
    data = np.asarray(values, dtype=dataset.dtype)
    jobs: list[Job] = []
    for first in range(0, len(data), rows):
        part = data[first : first + rows]
        if part.shape[0] < rows:
            pad = np.full((rows - part.shape[0], *part.shape[1:]), dataset.fillvalue, part.dtype)
            part = np.concatenate([part, pad])
        jobs.append(((start + first, *([0] * (dataset.ndim - 1))), part, level))
    return jobs


#: The highest level ISA-L compresses at; a dataset declaring more is left to zlib.
ISAL_MAX_LEVEL = 3


def deflate(data: bytes, level: int) -> bytes:
    """A zlib stream of ``data``: ISA-L up to its highest level, zlib above it or without it."""
    if ISAL is not None and level <= ISAL_MAX_LEVEL:
        return bytes(ISAL.compress(data, level))
    return zlib.compress(data, level)


def compress(job: Job) -> bytes:
    """The stored bytes of one chunk: shuffled, then deflated at the dataset's level."""
    _, part, level = job
    return deflate(shuffled(part), level)


def write_jobs(file: h5py.File, jobs: list[tuple[str, Job]], pool: ThreadPoolExecutor) -> None:
    """Compress every chunk of ``jobs`` (dataset name, job) in ``pool``, then write them."""
    blobs = pool.map(compress, (job for _, job in jobs))
    for (name, (offset, _, _)), blob in zip(jobs, blobs, strict=True):
        file[name].id.write_direct_chunk(offset, blob)


__all__ = [
    "ISAL",
    "ISAL_MAX_LEVEL",
    "Job",
    "chunk_jobs",
    "compress",
    "deflate",
    "deflate_level",
    "shuffled",
    "workers",
    "write_jobs",
]

"""Chunks compressed in parallel and written directly (sim.results.chunks).

The bytes written must be what HDF5's own shuffle and deflate filters would store, so
that any HDF5 or netCDF reader opens the file; layouts the module does not handle must
be left to HDF5.
"""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pytest

from sim.results import chunks
from sim.results.chunks import chunk_jobs, compress, deflate, deflate_level, shuffled, write_jobs


def _dataset(f: h5py.File, name: str, dtype: str, **filters: object) -> h5py.Dataset:
    return f.create_dataset(
        name, shape=(0, 4, 3), maxshape=(None, 4, 3), chunks=(5, 4, 3), dtype=dtype,
        fillvalue=-1, **filters,
    )  # fmt: skip


@pytest.mark.parametrize("compressor", ["isal", "zlib"])
@pytest.mark.parametrize("dtype", ["f8", "i8", "i1"])
def test_direct_chunks_read_back_as_written_and_as_hdf5_stores_them(
    tmp_path: Path, dtype: str, compressor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if compressor == "zlib":  # the fallback where ISA-L has no wheel
        monkeypatch.setattr(chunks, "ISAL", None)
    rng = np.random.default_rng(3)
    values = (rng.random((12, 4, 3)) * 100).astype(dtype)  # 2 whole chunks and a partial one
    with h5py.File(tmp_path / "x.h5", "w") as f:
        ours = _dataset(f, "ours", dtype, shuffle=True, compression="gzip", compression_opts=1)
        theirs = _dataset(f, "theirs", dtype, shuffle=True, compression="gzip", compression_opts=1)
        ours.resize(12, axis=0)
        theirs.resize(12, axis=0)
        jobs = chunk_jobs(ours, 0, values)
        assert jobs is not None and [job[0] for job in jobs] == [(0, 0, 0), (5, 0, 0), (10, 0, 0)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            write_jobs(f, [("ours", job) for job in jobs], pool)
        theirs[...] = values
    with h5py.File(tmp_path / "x.h5", "r") as f:
        np.testing.assert_array_equal(f["ours"][...], values)
        for offset in ((0, 0, 0), (5, 0, 0), (10, 0, 0)):
            mask, blob = f["ours"].id.read_direct_chunk(offset)
            _, stored = f["theirs"].id.read_direct_chunk(offset)
            # The same bytes before deflate (zlib builds may differ after it), the last
            # chunk padded with the fill value as HDF5 pads it.
            assert mask == 0
            assert zlib.decompress(blob) == zlib.decompress(stored)


def test_shuffle_is_hdf5s_byte_transposition() -> None:
    values = np.array([1, 2], dtype="<u2")  # bytes 01 00 02 00
    assert shuffled(values) == bytes([1, 2, 0, 0])


def test_other_layouts_are_left_to_hdf5(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "x.h5", "w") as f:
        plain = _dataset(f, "gzip_only", "f8", compression="gzip")
        lzf = _dataset(f, "shuffle_lzf", "f8", shuffle=True, compression="lzf")
        good = _dataset(f, "good", "f8", shuffle=True, compression="gzip", compression_opts=4)
        for d in (plain, lzf, good):
            d.resize(10, axis=0)
        values = np.zeros((10, 4, 3))
        assert deflate_level(plain) is None and chunk_jobs(plain, 0, values) is None
        assert chunk_jobs(lzf, 0, values) is None
        assert deflate_level(good) == 4
        assert chunk_jobs(good, 3, values) is None  # not a chunk boundary
        jobs = chunk_jobs(good, 5, values[:5])
        assert jobs is not None and zlib.decompress(compress(jobs[0])) == shuffled(values[:5])


def test_isal_is_installed_and_writes_zlib_streams_up_to_its_level() -> None:
    # A dependency of the project: without it NetCDF falls back to zlib, 6-7x slower.
    assert chunks.ISAL is not None
    data = shuffled(np.linspace(0.0, 1e6, 50_000))
    for level in range(chunks.ISAL_MAX_LEVEL + 1):
        blob = deflate(data, level)
        assert zlib.decompress(blob) == data
        assert blob == chunks.ISAL.compress(data, level)
    # Above ISA-L's levels the dataset's level is zlib's: the size the user asked for.
    assert deflate(data, 6) == zlib.compress(data, 6)


def test_without_isal_zlib_deflates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "ISAL", None)
    data = shuffled(np.arange(1000.0))
    assert deflate(data, 1) == zlib.compress(data, 1)

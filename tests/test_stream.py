"""Runs written batch by batch (sim/results/stream.py) equal the run held in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import sim.api as api
from sim.results.stream import CHUNK_BYTES, replica_chunk


@pytest.mark.parametrize("name", ["tiny.nc", "tiny.zarr"])
def test_streamed_batches_equal_the_run_in_memory(
    tiny_path: Path, tmp_path: Path, name: str
) -> None:
    # 7 replicas in batches of 3: two whole batches and a partial one.
    sc = api.load_scenario(tiny_path, replicas=7)
    whole = api.simulate(api.prepare(sc), batch_size=3)  # the same batches, in memory
    returned, path = api.run_to_file(sc, tmp_path / name, batch_size=3)
    opener = xr.open_zarr if name.endswith(".zarr") else xr.open_dataset
    with opener(path) as back:
        assert back.sizes["replica"] == 7
        np.testing.assert_array_equal(back.replica.values, np.arange(7))
        assert back.attrs["replicas"] == 7
        for var in whole.data_vars:
            np.testing.assert_array_equal(back[var].values, whole[var].values, err_msg=var)
            assert back[var].dtype == whole[var].dtype, var
            assert back[var].attrs["units"] == whole[var].attrs["units"], var
        assert back.attrs["scenario_sha256"] == whole.attrs["scenario_sha256"]
        # What run_to_file returns reads the same file.
        np.testing.assert_array_equal(returned.trade.values, whole.trade.values)
    returned.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary left


@pytest.mark.parametrize("name", ["tiny.nc", "tiny.zarr"])
def test_a_run_of_one_batch_returns_it_identical_to_the_file(
    tiny_path: Path, tmp_path: Path, name: str
) -> None:
    """A run of one batch returns the batch held in memory rather than reading the file
    back (0.26 s of a seed run): the two must be identical, values, dtypes and attributes."""
    sc = api.load_scenario(tiny_path, replicas=5)
    returned, path = api.run_to_file(sc, tmp_path / name)
    assert returned.sizes["replica"] == 5
    assert not returned.encoding.get("source")  # not read back from the file
    opener = xr.open_zarr if name.endswith(".zarr") else xr.open_dataset
    with opener(path) as back:
        xr.testing.assert_identical(returned, back.load())
        for var in returned.variables:
            assert returned[var].dtype == back[var].dtype, var
    # Several batches: what is returned reads the file.
    several, path = api.run_to_file(sc, tmp_path / f"several_{name}", batch_size=2)
    assert several.encoding.get("source") or name.endswith(".zarr")
    several.close()


def test_a_failed_run_leaves_the_previous_file(
    tiny_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sc = api.load_scenario(tiny_path, replicas=4)
    target = tmp_path / "tiny.nc"
    first, _ = api.run_to_file(sc, target, batch_size=2)
    before = first.trade.values.copy()
    first.close()
    calls = {"n": 0}
    real = api.simulate

    def fail_second_batch(*args: object, **kwargs: object) -> xr.Dataset:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(api, "simulate", fail_second_batch)
    with pytest.raises(RuntimeError, match="killed"):
        api.run_to_file(api.load_scenario(tiny_path, replicas=4, seed=99), target, batch_size=2)
    with xr.open_dataset(target) as back:
        np.testing.assert_array_equal(back.trade.values, before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.nc"]


def test_chunks_divide_the_batch_and_stay_small() -> None:
    big = xr.Dataset({"x": (("replica", "t"), np.zeros((12, 2**18)))})  # 2 MiB per replica
    chunk = replica_chunk(big, "x", 12)
    assert 12 % chunk == 0
    assert chunk * 2**21 <= CHUNK_BYTES
    assert chunk == 4  # the largest divisor of 12 under 8 MiB
    small = xr.Dataset({"x": (("replica",), np.zeros(10))})
    assert replica_chunk(small, "x", 10) == 10


def test_netcdf_replica_is_a_fixed_dimension_with_filtered_chunks(
    tiny_path: Path, tmp_path: Path
) -> None:
    """Issue 15: an unlimited `replica` made h5netcdf scan every variable for every shape
    (1.2-1.8 s to open a seed run). The file is created at the run's size; its chunks are
    whole batches, shuffled and deflated (written directly, sim.results.chunks)."""
    import h5netcdf
    import h5py

    sc = api.load_scenario(tiny_path, replicas=7)
    returned, path = api.run_to_file(sc, tmp_path / "tiny.nc", batch_size=3)
    returned.close()
    with h5netcdf.File(path, "r") as f:
        assert not f.dimensions["replica"].isunlimited()
        assert f.dimensions["replica"].size == 7
    with h5py.File(path, "r") as f:
        trade = f["trade"]
        assert trade.shape[0] == 7 and trade.maxshape[0] == 7
        assert trade.chunks is not None and trade.chunks[0] == 3
        assert trade.shuffle and trade.compression == "gzip" and trade.compression_opts == 1
        # Every chunk, the partial last one included, was written (none left to the fill).
        assert trade.id.get_num_chunks() == 3


def test_the_file_is_created_at_full_size_without_writing_or_holding_its_values(
    tiny_path: Path, tmp_path: Path
) -> None:
    """The NetCDF file is created from the first batch with placeholders of the run's
    replicas that are never written: no chunk is allocated, and a run of ten million
    replicas is created without memory for them (one element per variable)."""
    import h5py

    from sim.results.stream import NetcdfBatchWriter, is_unwritten, unwritten

    part = api.simulate(api.prepare(api.load_scenario(tiny_path, replicas=2)))
    path = tmp_path / "huge.nc"
    NetcdfBatchWriter(path, 10**7, 2).create(part)
    with h5py.File(path, "r") as f:
        assert f["trade"].shape == (10**7, *part.trade.shape[1:])
        assert f["trade"].id.get_num_chunks() == 0  # nothing written
        np.testing.assert_array_equal(f["replica"][-3:], [10**7 - 3, 10**7 - 2, 10**7 - 1])
    # The whole file is the replica coordinate (80 MB) and the structure, not 10^7 runs.
    assert path.stat().st_size < 100 * 2**20
    placeholder = unwritten(np.dtype("float64"), (10**7, 400))
    assert is_unwritten(placeholder) and placeholder.nbytes == 32 * 10**9
    assert not is_unwritten(np.zeros((3, 2))) and not is_unwritten(np.float64(0.0))
    with pytest.raises(TypeError, match="must hold numbers"):
        unwritten(np.dtype(bool), (10, 2))


def test_writing_a_run_does_not_import_dask_distributed(tiny_path: Path, tmp_path: Path) -> None:
    """Creating the file through xarray's store, with its own lock, asks Dask nothing
    (to_netcdf imports dask.distributed for its scheduler: 0.13-0.26 s of every run)."""
    import subprocess
    import sys

    code = (
        "import sys, sim.api as api; "
        f"api.run_to_file(api.load_scenario({str(tiny_path)!r}, replicas=3), "
        f"{str(tmp_path / 'run.nc')!r}); "
        "print('distributed' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_batch_reuses_the_last_batchs_output_arrays_zeroed() -> None:
    """Streamed runs reuse the output arrays between batches (fresh memory is slow to
    touch): a buffer large enough is reused, zeroed; another shape gets a new one."""
    from sim.engine.outputs import output_buffer

    pool: dict[str, np.ndarray] = {}
    first = output_buffer(pool, "trade", (4, 3, 2), np.float64)
    first[:] = 7.0
    again = output_buffer(pool, "trade", (3, 3, 2), np.float64)  # a smaller last batch
    assert np.shares_memory(again, first) and again.shape == (3, 3, 2)
    assert not again.any()
    other = output_buffer(pool, "trade", (4, 5, 2), np.float64)
    assert not np.shares_memory(other, first) and pool["trade"] is other
    assert output_buffer(None, "trade", (2, 2), np.int8).dtype == np.int8


def test_buffers_are_refused_for_several_batches(tiny_path: Path) -> None:
    """Batches that share buffers would overwrite each other's results in memory."""
    model = api.prepare(api.load_scenario(tiny_path, replicas=4))
    with pytest.raises(ValueError, match="one batch"):
        api.simulate(model, batch_size=2, buffers={})

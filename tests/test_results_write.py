"""Whole datasets written as NetCDF (``sim.results.write``): through xarray's store for
values in memory, through ``to_netcdf`` for lazy (Dask) values, the same file either way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

from sim.results.write import write_netcdf


def small_dataset() -> xr.Dataset:
    rng = np.random.default_rng(3)
    return xr.Dataset(
        {
            "trade": (
                ("replica", "origin", "destination"),
                rng.random((4, 3, 3)),
                {"units": "USD million (constant 2006 prices) per year", "long_name": "trade"},
            ),
            "jobs": (("replica",), np.arange(4, dtype=np.int64), {"units": "persons"}),
            "gap": (("origin",), np.array([0.5, np.nan, 2.0]), {"units": "1"}),
            "label": (("origin",), np.array(["a", "bb", "ccc"], dtype=object)),
        },
        coords={"replica": np.arange(4), "origin": ["A", "B", "C"], "destination": ["A", "B", "C"]},
        attrs={"scenario": "test", "replicas": 4},
    )


def layout(path: Path) -> dict[str, tuple[object, ...]]:
    """Every HDF5 dataset's shape, dtype, chunks, filters and fill value."""
    out: dict[str, tuple[object, ...]] = {}
    with h5py.File(path, "r") as f:
        for name, obj in f.items():
            if isinstance(obj, h5py.Dataset):
                fill = np.asarray(obj.fillvalue)
                out[name] = (
                    obj.shape, obj.dtype.str, obj.chunks, obj.compression,
                    obj.compression_opts, obj.shuffle, fill.tobytes(),
                )  # fmt: skip
    return out


def test_a_dataset_in_memory_is_written_as_to_netcdf_would(tmp_path: Path) -> None:
    """The store path writes what ``to_netcdf`` writes, with the same encoding: values,
    attributes, dtypes, filters (shuffle, deflate level 1) and fill values."""
    ds = small_dataset()
    ours = write_netcdf(ds, tmp_path / "ours.nc")
    encoding = {
        name: {"zlib": True, "complevel": 1, "shuffle": True}
        for name, var in ds.data_vars.items()
        if var.dtype.kind in "fiu"
    }
    ds.to_netcdf(tmp_path / "theirs.nc", engine="h5netcdf", encoding=encoding)
    assert layout(ours) == layout(tmp_path / "theirs.nc")
    assert layout(ours)["trade"][3:6] == ("gzip", 1, True)
    with xr.open_dataset(ours) as back, xr.open_dataset(tmp_path / "theirs.nc") as theirs:
        xr.testing.assert_identical(back, theirs)
        xr.testing.assert_identical(back, ds)


def test_a_dataset_with_lazy_values_is_written_through_dask(tmp_path: Path) -> None:
    pytest.importorskip("dask")
    ds = small_dataset().drop_vars("label")  # strings would be loaded to find their width
    path = write_netcdf(ds.chunk({"replica": 2}), tmp_path / "lazy.nc")
    with xr.open_dataset(path) as back:
        xr.testing.assert_identical(back, ds)


def test_writing_a_dataset_in_memory_does_not_import_dask_distributed(tmp_path: Path) -> None:
    """``to_netcdf`` asks Dask for its scheduler, which imports dask.distributed
    (0.13-0.26 s, more than a counterfactual's solve and writing)."""
    code = (
        "import sys, numpy as np, xarray as xr\n"
        "from sim.results.write import write_netcdf\n"
        "ds = xr.Dataset({'x': (('replica',), np.arange(3.0))})\n"
        f"write_netcdf(ds, {str(tmp_path / 'x.nc')!r})\n"
        "print('distributed' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    with xr.open_dataset(tmp_path / "x.nc") as back:
        np.testing.assert_array_equal(back["x"].values, np.arange(3.0))

"""sim.analysis.results: opening runs and sweep stores, and the helpers for common questions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import sim.api
from sim.analysis.errors import AnalysisError
from sim.analysis.results import (
    annual_mean,
    annual_sum,
    capital_flow,
    jobs_by_kind,
    jobs_by_sector,
    open_results,
    quantiles,
    reporting_pairs,
    select,
    turnover,
)
from sim.results.write import write_netcdf

TINY = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"


@pytest.fixture(scope="module")
def run() -> xr.Dataset:
    return sim.api.run(TINY, replicas=6)


def test_open_run_and_sweep_store(run: xr.Dataset, tmp_path: Path) -> None:
    path = write_netcdf(run, tmp_path / "run.nc")
    opened = open_results(path)
    xr.testing.assert_identical(opened.trade_turnover_annual, run.trade_turnover_annual)
    assert opened.attrs["seed"] == 7
    path.unlink()  # read into memory: the file is no longer needed
    assert float(opened.jobs.sum()) == float(run.jobs.sum())
    sweep = xr.concat([run, run], dim="point").assign_coords(
        point=[0, 1], **{"trade.elasticity.services": ("point", [3.0, 5.0])}
    )
    sweep[["trade_turnover_annual"]].to_zarr(tmp_path / "sweep.zarr", mode="w", zarr_format=2)
    store = open_results(tmp_path / "sweep.zarr")
    assert store.trade_turnover_annual.dims == ("point", "replica", "year", "pair")
    assert list(store["trade.elasticity.services"].values) == [3.0, 5.0]
    # the helpers keep the leading point dimension
    assert turnover(store, "B-A").dims == ("point", "replica", "year")


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError, match="no such result"):
        open_results(tmp_path / "missing.nc")
    (tmp_path / "junk.nc").write_text("not netcdf")
    with pytest.raises(AnalysisError, match="not a readable NetCDF result"):
        open_results(tmp_path / "junk.nc")
    (tmp_path / "folder").mkdir()
    with pytest.raises(AnalysisError, match="not a readable Zarr store"):
        open_results(tmp_path / "folder")


def test_turnover_of_a_pair_in_either_order(run: xr.Dataset) -> None:
    expected = run.trade_turnover_annual.sel(pair="A-B", drop=True)
    xr.testing.assert_identical(turnover(run, "B-A"), expected)
    xr.testing.assert_identical(turnover(run, ("A", "B")), expected)
    per_period = turnover(run, "A-B", annual=False)
    assert per_period.dims == ("replica", "time")
    with pytest.raises(AnalysisError, match="use one of: A-B, A-C, B-C"):
        turnover(run, "A-D")


def test_jobs_by_kind_and_sector_agree(run: xr.Dataset) -> None:
    kinds = jobs_by_kind(run)
    np.testing.assert_allclose(kinds.values, run.jobs_annual.sum("region").values)
    assert kinds.dims == ("replica", "year", "kind")
    only_b = jobs_by_kind(run, "B")
    np.testing.assert_allclose(only_b.values, run.jobs_annual.sel(region="B").values)
    sectors = jobs_by_sector(run)
    assert sectors.dims == ("replica", "year", "sector")
    # the same jobs, cut two ways
    np.testing.assert_allclose(sectors.sum("sector").values, kinds.sum("kind").values)
    with pytest.raises(AnalysisError, match="no region 'Z'"):
        jobs_by_kind(run, ["A", "Z"])


def test_capital_flow(run: xr.Dataset) -> None:
    flow = capital_flow(run, "A", "B")
    np.testing.assert_allclose(
        flow.values, run.capital_flow_annual.sel(origin="A", destination="B").values
    )
    assert float(flow.sel(year=2020).mean()) > 0


def test_quantiles_over_replicas(run: xr.Dataset) -> None:
    q = quantiles(turnover(run, "A-B"), [0.1, 0.5, 0.9])
    values = run.trade_turnover_annual.sel(pair="A-B").values
    np.testing.assert_allclose(q.values, np.quantile(values, [0.1, 0.5, 0.9], axis=0))
    assert q.dims == ("quantile", "year")
    with pytest.raises(AnalysisError, match="no dimension 'point'"):
        quantiles(turnover(run, "A-B"), dim="point")


def test_select_sums_what_is_not_selected(run: xr.Dataset) -> None:
    da = run.jobs_annual
    picked = select(da, {"kind": ["operation", "indirect"]})
    expected = da.sel(kind=["operation", "indirect"]).sum(("kind", "region"))
    np.testing.assert_allclose(picked.values, expected.values)
    assert picked.dims == ("replica", "year")
    kept = select(da, {"region": "A"}, keep=["kind"])
    assert kept.dims == ("replica", "year", "kind")
    with_nan = da.copy()
    with_nan[0, 0, 0, 0] = np.nan
    assert np.isnan(select(with_nan, {})[0, 0])  # a failed value is not summed away
    with pytest.raises(AnalysisError, match="no kind 'direct'"):
        select(da, {"kind": "direct"})


def test_annual_sum_and_mean_of_quarters() -> None:
    time = pd.date_range("2020-01-01", periods=8, freq="QS")
    da = xr.DataArray(np.arange(8.0), dims="time", coords={"time": time})
    np.testing.assert_allclose(annual_sum(da).values, [6.0, 22.0])
    np.testing.assert_allclose(annual_mean(da).values, [1.5, 5.5])
    assert list(annual_sum(da).year.values) == [2020, 2021]


def test_reporting_pairs_follow_the_scenario(run: xr.Dataset) -> None:
    assert reporting_pairs(run) == ["A-B", "A-C", "B-C"]
    data = run.copy()
    data.attrs["scenario_yaml"] = "output:\n  pairs: [[C, B]]\n"
    assert reporting_pairs(data) == ["B-C"]

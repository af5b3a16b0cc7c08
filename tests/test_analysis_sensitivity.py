"""Sobol' and Morris sensitivity from sweep stores, checked on functions with known indices.

The stores are synthetic, written with ``xarray.Dataset.to_zarr`` in the layout
``sim sweep`` writes (dimensions point and replica in front, one coordinate per
swept parameter, attributes sweep_design, sweep_parameters, saltelli_n or
morris_trajectories/morris_levels).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import xarray as xr
from scipy.stats import qmc

from sim.analysis.errors import AnalysisError
from sim.analysis.sensitivity import (
    _at,
    _indices,
    morris_effects,
    sensitivity,
    sobol_from_saltelli,
)
from sim.cli import main

PARAMS = ["trade.elasticity.goods", "trade_costs.cost_per_border_day", "labour.displacement"]
# Ishigami (a=7, b=0.1) on [-pi, pi]^3: Saltelli et al., Global Sensitivity Analysis (2008)
S1_TRUE = np.array([0.3139, 0.4424, 0.0])
ST_TRUE = np.array([0.5576, 0.4424, 0.2437])


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def saltelli_points(n: int, d: int = 3, seed: int = 1) -> np.ndarray:
    """Rows A, B, AB_0 .. AB_{d-1}; AB_i is A with column i from B."""
    base = -np.pi + 2 * np.pi * qmc.Sobol(2 * d, seed=seed).random(n)
    a, b = base[:, :d], base[:, d:]
    blocks = [a, b]
    for i in range(d):
        ab = a.copy()
        ab[:, i] = b[:, i]
        blocks.append(ab)
    return np.vstack(blocks)


def store(
    x: np.ndarray, y: np.ndarray, attrs: dict, path: Path, unit: np.ndarray | None = None
) -> Path:
    """A sweep store: y (point) becomes trade_turnover_annual (point, replica, year, pair).

    Replicas are y + e and y - e, so their mean is y; year 2030 is 2y + 5 (same
    indices); pair A-C is noise, so selecting pair A-B matters.
    """
    rng = np.random.default_rng(0)
    e = rng.normal(0, 3.0, y.shape)
    by_year = np.stack([y, 2 * y + 5], axis=-1)  # (point, year)
    reps = np.stack([by_year + e[:, None], by_year - e[:, None]], axis=1)  # (point, replica, year)
    other = rng.normal(0, 10.0, reps.shape)
    values = np.stack([reps, other], axis=-1)
    coords = {"point": np.arange(len(y)), "replica": [0, 1], "year": [2029, 2030]}
    coords |= {"pair": ["A-B", "A-C"]}
    coords |= {p: ("point", x[:, i]) for i, p in enumerate(PARAMS[: x.shape[1]])}
    ds = xr.Dataset(
        {"trade_turnover_annual": (("point", "replica", "year", "pair"), values, {"units": "USD"})},
        coords=coords,
        attrs={"sweep_parameters": json.dumps(PARAMS[: x.shape[1]]), **attrs},
    )
    if unit is not None:  # the design's unit-cube coordinates, as `sim sweep` stores them
        names = PARAMS[: x.shape[1]]
        ds["point_unit"] = (("point", "sweep_parameter"), unit)
        ds = ds.assign_coords(sweep_parameter=names)
    ds.to_zarr(path, mode="w", zarr_format=2)  # the format `sim sweep` writes
    return path


@pytest.fixture(scope="module")
def saltelli_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    n = 1024
    x = saltelli_points(n)
    path = tmp_path_factory.mktemp("sweep") / "saltelli.zarr"
    return store(x, ishigami(x), {"sweep_design": "saltelli", "saltelli_n": n}, path)


def morris_points(r: int, d: int, levels: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    step = levels / (2 * (levels - 1))
    points = []
    for _ in range(r):
        x = rng.integers(0, levels // 2, d) / (levels - 1)
        points.append(x.copy())
        for i in rng.permutation(d):
            x = x.copy()
            x[i] += step
            points.append(x)
    lo, hi = np.array([0.0, 10.0, -1.0])[:d], np.array([1.0, 20.0, 1.0])[:d]
    return lo + np.array(points) * (hi - lo)


def test_sobol_indices_of_ishigami(saltelli_store: Path) -> None:
    res = sensitivity(saltelli_store, selection={"pair": "A-B"})
    assert list(res.parameter.values) == PARAMS
    assert list(res.year.values) == [2029, 2030]
    for year in (2029, 2030):  # an affine change of the output leaves the indices alone
        r = res.sel(year=year)
        np.testing.assert_allclose(r.S1.values, S1_TRUE, atol=0.04)
        np.testing.assert_allclose(r.ST.values, ST_TRUE, atol=0.04)
        assert np.all(r.S1_low.values <= S1_TRUE) and np.all(r.S1_high.values >= S1_TRUE)
        assert np.all(r.ST_low.values <= ST_TRUE) and np.all(r.ST_high.values >= ST_TRUE)
        assert np.all(r.ST_high.values - r.ST_low.values < 0.2)
    assert res.attrs["replicas_averaged"] == 2 and res.attrs["saltelli_n"] == 1024
    # at one date: the same numbers, without the year dimension
    at = sensitivity(saltelli_store, selection={"pair": "A-B"}, at=2030)
    assert "year" not in at.dims and at.attrs["at"] == "2030"
    np.testing.assert_allclose(at.S1.values, res.S1.sel(year=2030).values)
    # without selecting the pair, the noise of pair A-C is summed in and blurs the indices
    summed = sensitivity(saltelli_store, at=2029)
    assert abs(float(summed.ST[2]) - ST_TRUE[2]) > 0.2


def test_a_date_outside_the_periods_is_refused() -> None:
    """Regression: --at after the last period picked the last period."""
    times = np.array(["2020-01-01", "2020-04-01", "2020-07-01", "2020-10-01"], "datetime64[ns]")
    da = xr.DataArray(np.arange(4.0), dims="time", coords={"time": times}, name="trade")
    assert _at(da, "2020-12-31").values.tolist() == [3.0]  # inside the last quarter
    assert _at(da, "2020").values.tolist() == [0.0]  # a year: its first period
    for outside in ("2021-01-01", "2019-12-31", "2035"):
        with pytest.raises(AnalysisError, match="outside the sweep's periods") as err:
            _at(da, outside)
        assert "2020-01-01 to 2020-12-31" in str(err.value)


def test_an_empty_selection_is_refused(saltelli_store: Path, capsys) -> None:
    """Regression: --select pair=+ selected nothing and wrote indices that were all n/a."""
    from sim.cli import main

    assert main(["sensitivity", str(saltelli_store), "--select", "pair=+"]) == 2
    assert "cannot read --select 'pair=+'" in capsys.readouterr().err


def test_a_single_run_is_refused_with_what_is_allowed(tmp_path: Path, capsys) -> None:
    """Regression: a run's file gave 'fix: use one of: ' with an empty list."""
    from sim import api
    from sim.cli import main

    run = tmp_path / "run.nc"
    api.run_to_file(api.load_scenario(Path(__file__).parent / "data/tiny/tiny.yaml",
                                      replicas=2), run)  # fmt: skip
    assert main(["sensitivity", str(run)]) == 2
    err = capsys.readouterr().err
    assert "is not a sweep store" in err and "allowed: a Zarr store written by `sim sweep`" in err


def test_estimator_matches_scipy_for_any_n() -> None:
    rng = np.random.default_rng(3)
    f_a, f_b = rng.normal(size=(2, 256)), rng.normal(size=(2, 256))
    f_ab = rng.normal(size=(3, 2, 256)) + f_a
    res = scipy.stats.sobol_indices(func={"f_A": f_a, "f_B": f_b, "f_AB": f_ab}, n=256)
    mean = np.mean([f_a, f_b], axis=(0, -1))[:, None]
    s1, st = _indices(f_a - mean, f_b - mean, f_ab - mean)
    np.testing.assert_allclose(s1, res.first_order)
    np.testing.assert_allclose(st, res.total_order)
    # n that is not a power of two (scipy's own function refuses it) still gives the indices
    x = saltelli_points(1024)
    keep = np.concatenate([np.arange(k * 1024, k * 1024 + 1000) for k in range(5)])
    out = sobol_from_saltelli(ishigami(x[keep]), 1000, 3, n_resamples=200)
    np.testing.assert_allclose(out["ST"][0], ST_TRUE, atol=0.05)


def test_constant_output_gives_nan_not_zero() -> None:
    x = saltelli_points(64)
    y = np.stack([ishigami(x), np.full(len(x), 4.0)], axis=1)
    out = sobol_from_saltelli(y, 64, 3, n_resamples=50)
    assert np.all(np.isfinite(out["S1"][0])) and np.all(np.isnan(out["S1"][1]))


def test_failed_points_drop_their_saltelli_rows(tmp_path: Path) -> None:
    n = 256
    x = saltelli_points(n)
    y = ishigami(x)
    y[2 * n + 5] = np.nan  # point AB_0 of row 5 failed
    path = store(x, y, {"sweep_design": "saltelli", "saltelli_n": n}, tmp_path / "s.zarr")
    res = sensitivity(path, selection={"pair": "A-B"}, at=2029, n_resamples=100)
    assert res.attrs["rows_dropped"] == 1 and res.attrs["saltelli_n"] == n - 1
    assert np.all(np.isfinite(res.ST.values))


def test_morris_effects_of_known_functions(tmp_path: Path) -> None:
    r, d = 12, 3
    x = morris_points(r, d)
    linear = 2.0 * x[:, 0] + 0.5 * x[:, 1]  # ranges 1, 10, 2
    path = store(
        x,
        linear,
        {"sweep_design": "morris", "morris_trajectories": r, "morris_levels": 4},
        tmp_path / "m.zarr",
    )
    res = sensitivity(path, selection={"pair": "A-B"}, at=2029)
    # effect of moving each parameter across its whole range: 2*1, 0.5*10, 0
    np.testing.assert_allclose(res.mu_star.values, [2.0, 5.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(res.mu.values, [2.0, 5.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(res.sigma.values, 0.0, atol=1e-9)
    over_time = sensitivity(path, selection={"pair": "A-B"})
    np.testing.assert_allclose(over_time.mu_star.sel(year=2030).values, [4.0, 10.0, 0.0])
    # an interaction: effects vary along the trajectories (sigma > 0) and mu* >= |mu|
    out = morris_effects(x, x[:, 0] * x[:, 2], r)
    assert out["sigma"][0, 0] > 0.1 and out["sigma"][0, 2] > 0.1 and out["sigma"][0, 1] == 0
    assert np.all(out["mu_star"] >= np.abs(out["mu"]) - 1e-12)
    assert np.all(out["mu_star_low"] <= out["mu_star"]) and np.all(
        out["mu_star"] <= out["mu_star_high"]
    )


def test_morris_steps_in_the_unit_cube_where_the_store_has_it(tmp_path: Path) -> None:
    r, d = 8, 3
    cube = (morris_points(r, d) - [0.0, 10.0, -1.0]) / [1.0, 10.0, 2.0]  # back to [0, 1]
    values = np.exp(3 * cube)  # a distribution-like, non-linear map from the cube to values
    y = 2.0 * cube[:, 0] + 0.5 * cube[:, 1]
    attrs = {"sweep_design": "morris", "morris_trajectories": r, "morris_levels": 4}
    path = store(values, y, attrs, tmp_path / "m.zarr", unit=cube)
    res = sensitivity(path, selection={"pair": "A-B"}, at=2029)
    np.testing.assert_allclose(res.mu_star.values, [2.0, 0.5, 0.0], atol=1e-9)
    np.testing.assert_allclose(res.sigma.values, 0.0, atol=1e-9)
    assert "unit cube" in res.attrs["effect_per"]
    # from the values alone the steps are uneven: the effects are no longer constant
    plain = store(values, y, attrs, tmp_path / "v.zarr")
    assert float(sensitivity(plain, selection={"pair": "A-B"}, at=2029).sigma[0]) > 0.1


def test_morris_rejects_points_that_are_not_trajectories() -> None:
    x = morris_points(4, 3)
    x[1] = x[2]  # step 0 -> 1 now moves two parameters
    with pytest.raises(AnalysisError, match="differ in 2 parameters"):
        morris_effects(x, x[:, 0], 4)


def test_store_errors(tmp_path: Path, saltelli_store: Path) -> None:
    x = saltelli_points(64)
    path = store(x, ishigami(x), {"sweep_design": "lhs"}, tmp_path / "lhs.zarr")
    with pytest.raises(AnalysisError, match="design: saltelli"):
        sensitivity(path)
    shuffled = x.copy()
    shuffled[2 * 64 :] = shuffled[2 * 64 :][::-1]
    path = store(
        shuffled,
        ishigami(shuffled),
        {"sweep_design": "saltelli", "saltelli_n": 64},
        tmp_path / "bad.zarr",
    )
    with pytest.raises(AnalysisError, match="AB_0 are not A with column 0 from B"):
        sensitivity(path)
    with pytest.raises(AnalysisError, match="no output 'jobs'"):
        sensitivity(saltelli_store, "jobs")
    with pytest.raises(AnalysisError, match="no pair 'B-C'"):
        sensitivity(saltelli_store, selection={"pair": "B-C"})
    run = xr.Dataset({"trade_turnover_annual": (("replica", "year"), np.ones((2, 2)))})
    with pytest.raises(AnalysisError, match="needs a sweep store"):
        sensitivity(run)


def test_cli_sensitivity(saltelli_store: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "sens"
    argv = ["sensitivity", str(saltelli_store), "--select", "pair=A-B", "--at", "2030"]
    assert main([*argv, "--resamples", "200", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Sobol' indices of trade_turnover_annual (pair=A-B) at 2030" in printed
    line = next(row for row in printed.splitlines() if row.startswith(PARAMS[1]))
    assert float(line.split()[1]) == pytest.approx(S1_TRUE[1], abs=0.04)
    for name in (
        "sensitivity.nc",
        "sensitivity_2030.nc",
        "sobol_2030.png",
        "sensitivity_over_time.png",
    ):
        assert (out / name).stat().st_size > 1000, name
    with xr.open_dataset(out / "sensitivity.nc", engine="h5netcdf") as saved:
        assert saved.ST.dims == ("parameter", "year")
    assert main(["sensitivity", str(saltelli_store), "--select", "pair"]) == 2
    assert "DIM=LABEL" in capsys.readouterr().err

"""sim rerun: rerun a result from its embedded scenario, checking the data files' hashes."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from sim.analysis.errors import RerunError
from sim.analysis.rerun import rerun
from sim.api import load_scenario, run_to_file
from sim.cli import main
from sim.results.write import write_netcdf


@pytest.fixture
def result(tiny_dir: Path, tmp_path: Path) -> Path:
    sc = load_scenario(tiny_dir / "tiny.yaml", replicas=4)
    _, path = run_to_file(sc, tmp_path / "out" / "tiny.nc")
    return path


def test_rerun_gives_the_same_numbers(result: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the rerun does not depend on the working directory
    assert main(["rerun", str(result)]) == 0
    assert "identical: the rerun of 4 replicas gives the same numbers" in capsys.readouterr().out
    check = rerun(result, replicas=2)
    assert check.identical and check.replicas == 2
    assert not any("scenario_sha256" in note for note in check.notes)  # the scenario ran as is


def test_rerun_reports_different_numbers(result: Path, tmp_path: Path, capsys) -> None:
    with xr.open_dataset(result, engine="h5netcdf") as ds:
        tampered = ds.load()
    tampered["trade_turnover_annual"][1, 3, 0] += 0.5
    path = write_netcdf(tampered, tmp_path / "tampered.nc")
    assert main(["rerun", str(path)]) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT" in out
    assert "trade_turnover_annual: 1 of 96 values differ (largest difference 0.5" in out
    assert "trade_turnover:" not in out  # only the tampered variable is named


def test_changed_data_file_is_refused(result: Path, tiny_dir: Path, capsys) -> None:
    trade = tiny_dir / "trade.csv"
    trade.write_text(trade.read_text() + "\n")
    assert main(["rerun", str(result)]) == 2
    err = capsys.readouterr().err
    assert f"changed: {trade.resolve()}" in err and "recorded sha256" in err
    assert "coefficients.csv" not in err  # the unchanged file is not blamed


def test_missing_data_file_is_refused(result: Path, tiny_dir: Path) -> None:
    (tiny_dir / "coefficients.csv").unlink()
    with pytest.raises(RerunError, match=r"missing: .*coefficients\.csv"):
        rerun(result)


def test_result_without_scenario_or_bad_replicas(result: Path, tmp_path: Path) -> None:
    with pytest.raises(RerunError, match="between 1 and 4"):
        rerun(result, replicas=5)
    with xr.open_dataset(result, engine="h5netcdf") as ds:
        bare = ds.load()
    del bare.attrs["scenario_yaml"]
    with pytest.raises(RerunError, match="no embedded scenario"):
        rerun(bare)


def _pair(change: float, iterations: int) -> tuple[xr.Dataset, xr.Dataset]:
    import numpy as np

    level = np.full((2, 3), 1.7e7)
    old = xr.Dataset(
        {
            "employment": (("replica", "time"), level),
            "employment_change": (("replica", "time"), np.full((2, 3), 2.0e4)),
            "solver_iterations": (("replica", "time"), np.full((2, 3), 5)),
        }
    )
    new = old.copy(deep=True)
    new["employment_change"] = old.employment_change + change
    new["solver_iterations"] = old.solver_iterations + iterations
    return old, new


def test_a_subset_rerun_compares_differences_against_their_levels() -> None:
    """employment_change (about 2e4) is employment (1.7e7) minus the path's: rounding of
    the levels at 1e-11 moves it by 1e-4, inside the tolerance; 1 person is not."""
    from sim.analysis.rerun import _compare

    assert _compare(*_pair(1e-4, 0), count=2, rtol=1e-9).identical
    assert not _compare(*_pair(1.0, 0), count=2, rtol=1e-9).identical
    assert not _compare(*_pair(1e-4, 0), count=2, rtol=0.0).identical  # all replicas: bitwise


def test_solver_iterations_are_a_diagnostic_in_a_subset_rerun() -> None:
    from sim.analysis.rerun import _compare

    subset = _compare(*_pair(0.0, 1), count=2, rtol=1e-9)
    assert subset.identical and any("solver_iterations differs" in n for n in subset.notes)
    assert not _compare(*_pair(0.0, 1), count=2, rtol=0.0).identical


def test_rerun_uses_the_recorded_batch_size(
    result: Path, tiny_dir: Path, tmp_path: Path, capsys
) -> None:
    """A run of 4 replicas in batches of 3 (`sim run --batch-size 3`) was rerun in the
    scenario's batch of 8 and reported DIFFERENT (jobs differ by 2.2e-11 persons: the
    solver's results depend on the batch at its tolerance). The run records its batch size
    and the rerun uses it, bit for bit; another size is compared within the tolerance."""
    out = tmp_path / "out" / "run_b3.nc"
    assert main(["run", str(tiny_dir / "tiny.yaml"), "--replicas", "4", "--batch-size", "3",
                 "-o", str(out), "--quiet"]) == 0  # fmt: skip
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.attrs["batch_size"] == 3
        recorded = ds.load()
    capsys.readouterr()
    assert main(["rerun", str(out)]) == 0
    text = capsys.readouterr().out
    assert "identical: the rerun of 4 replicas" in text and "bit for bit" in text
    # Another batch size: the solver's tolerance, said so, and still exit 0.
    assert main(["rerun", str(out), "--batch-size", "2"]) == 0
    text = capsys.readouterr().out
    assert "identical to the solver's tolerance" in text
    assert "batches of 2, the result was computed in batches of 3" in text
    assert rerun(out, batch_size=3).format().splitlines()[1] == "  compared bit for bit"
    # One batch of all replicas is the same batch whatever its size: bit for bit.
    with xr.open_dataset(result, engine="h5netcdf") as ds:
        assert ds.attrs["batch_size"] == 8  # the scenario's, for 4 replicas
    assert rerun(result, batch_size=4).format().splitlines()[1] == "  compared bit for bit"
    # A file from before the attribute: the scenario's batch size (8), or the one given.
    del recorded.attrs["batch_size"]
    old = rerun(recorded)
    assert not old.identical and any("does not record the batch size" in n for n in old.notes)
    assert rerun(recorded, batch_size=3).format().splitlines()[1] == "  compared bit for bit"


def test_a_batch_shrunk_to_fit_in_memory_is_recorded(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.api as api

    monkeypatch.setattr(api, "fit_batch_size", lambda model, wanted: 3)
    sc = load_scenario(tiny_dir / "tiny.yaml", replicas=4)
    returned, path = run_to_file(sc, tmp_path / "shrunk.nc")
    returned.close()
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        assert ds.attrs["batch_size"] == 3  # not the scenario's 8
    monkeypatch.undo()
    assert rerun(path).format().splitlines()[:2] == [
        "identical: the rerun of 4 replicas gives the same numbers",
        "  compared bit for bit",
    ]


def test_a_sweep_store_is_not_rerun(result: Path, tmp_path: Path, capsys) -> None:
    """A sweep store (dimension point) was rerun as a run and reported DIFFERENT."""
    with xr.open_dataset(result, engine="h5netcdf") as ds:
        run = ds.load()
    store = tmp_path / "sweep.zarr"
    sweep = xr.concat([run, run], dim="point").assign_coords(point=[0, 1])
    sweep.attrs["sweep_sha256"] = "0" * 64
    sweep[["trade_turnover_annual"]].to_zarr(store, mode="w", zarr_format=2)
    assert main(["rerun", str(store)]) == 2
    err = capsys.readouterr().err
    assert "is a sweep store" in err
    assert "allowed: a NetCDF file or Zarr store written by `sim run`" in err
    assert "fix: a sweep is reproduced by running its sweep file again" in err


def test_a_static_counterfactual_is_not_rerun(tiny_dir: Path, tmp_path: Path, capsys) -> None:
    """A file written by `sim counterfactual` (no time dimension) was rerun as a run and
    reported DIFFERENT (every variable 'only in the result')."""
    out = tmp_path / "out" / "cf.nc"
    assert main(["counterfactual", str(tiny_dir / "tiny.yaml"), "--replicas", "2",
                 "-o", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["rerun", str(out)]) == 2
    err = capsys.readouterr().err
    assert "is a static counterfactual (written by `sim counterfactual`" in err
    assert "allowed: a NetCDF file or Zarr store written by `sim run`" in err
    assert "fix: rerun a counterfactual with `sim counterfactual" in err
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        bare = ds.load()
    del bare.attrs["mode"]  # no mode attribute: still no time dimension
    with pytest.raises(RerunError, match="not a run"):
        rerun(bare)

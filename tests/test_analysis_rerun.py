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

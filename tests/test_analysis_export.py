"""`sim export`: quantiles of output variables as a tidy CSV (sim/analysis/export.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from sim import api
from sim.analysis.results import open_results
from sim.cli import main
from sim.errors import SimError

TINY = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "tiny.nc"
    api.run_to_file(api.load_scenario(TINY, replicas=20), out)
    return out


def test_quantiles_are_the_replicas_quantiles(run: Path, tmp_path: Path) -> None:
    target = tmp_path / "q.csv"
    code = main(["-q", "export", str(run), "--var", "trade_turnover_annual", "--var",
                 "jobs_annual", "--quantiles", "5,50,95", "-o", str(target)])  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    ds = open_results(run)
    turnover = ds.trade_turnover_annual.sel(pair="A-B", year=2025).values
    row = next(r for r in rows if r["variable"] == "trade_turnover_annual"
               and r["pair"] == "A-B" and r["year"] == "2025" and r["quantile"] == "50.0")  # fmt: skip
    assert float(row["value"]) == pytest.approx(np.quantile(turnover, 0.5), rel=1e-12)
    assert row["units"] == ds.trade_turnover_annual.attrs["units"]
    jobs = [r for r in rows if r["variable"] == "jobs_annual"]
    # years x regions x kinds x 3 quantiles, labels the turnover rows do not have left empty
    assert len(jobs) == ds.sizes["year"] * ds.sizes["region"] * ds.sizes["kind"] * 3
    assert all(r["pair"] == "" for r in jobs)


def test_bad_arguments_are_refused_and_nothing_is_written(run: Path, tmp_path: Path) -> None:
    from sim.analysis.export import parse_quantiles

    with pytest.raises(SimError, match="must lie in 0-100"):
        parse_quantiles("5,150")
    with pytest.raises(SimError, match="not a list of numbers"):
        parse_quantiles("median")
    target = tmp_path / "q.csv"
    assert main(["-q", "export", str(run), "--var", "no_such", "-o", str(target)]) == 2
    assert not target.exists()
    # Another program's NetCDF is refused with what is allowed (the list was empty).
    other = tmp_path / "other.nc"
    import xarray as xr

    xr.Dataset({"a": ("x", [1.0])}).to_netcdf(other, engine="h5netcdf")
    assert main(["-q", "export", str(other), "--var", "a", "-o", str(target)]) == 2
    assert not target.exists()
    # Asked twice, a variable or a quantile gives its rows once.
    argv = ["-q", "export", str(run), "--var", "trade_turnover_annual", "--var",
            "trade_turnover_annual", "--quantiles", "50,50", "-o", str(target)]  # fmt: skip
    assert main(argv) == 0
    rows = list(csv.DictReader(target.open()))
    labels = [(r["variable"], r["year"], r["pair"], r["quantile"]) for r in rows]
    assert len(labels) == len(set(labels)) and {r["quantile"] for r in rows} == {"50.0"}
    target.unlink()
    # A project's stage is a code: its quantiles would print stage "3.3".
    assert main(["-q", "export", str(run), "--var", "project_stage", "-o", str(target)]) == 2
    assert not target.exists()


def test_the_export_never_writes_over_the_run(run: Path) -> None:
    before = run.read_bytes()
    assert main(["-q", "export", str(run), "--var", "gdp_annual", "-o", str(run)]) == 2
    assert run.read_bytes() == before

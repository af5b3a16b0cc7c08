"""The labelled dataset (sim.results.dataset): years a run covers in part have no annual
sums, and what reads annual sums (tables, targets, calibration) knows it."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import yaml

from sim import api
from sim.analysis.compare import compare
from sim.analysis.errors import TargetError
from sim.errors import ScenarioError
from sim.summary import summary_table

TINY = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"


def _tiny(start: str, end: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(TINY.read_text())
    data["time"] = {"start": start, "end": end, "step": "quarter"}
    return data


@pytest.fixture(scope="module")
def runs() -> tuple[xr.Dataset, xr.Dataset]:
    """The tiny scenario over whole years, and from mid-2020 to mid-2027."""
    whole = api.run(_tiny("2020-01-01", "2027-12-31"), replicas=4, base_dir=TINY.parent)
    halves = api.run(_tiny("2020-07-01", "2027-06-30"), replicas=4, base_dir=TINY.parent)
    return whole, halves


def test_a_year_simulated_in_part_has_no_annual_sums(runs: tuple[xr.Dataset, xr.Dataset]) -> None:
    """Regression: the two quarters of 2020 were summed and labelled the year's turnover
    (about half of it), and printed as the first year of the summary."""
    whole, halves = runs
    np.testing.assert_array_equal(halves.year_coverage.values, [0.5, 1, 1, 1, 1, 1, 1, 0.5])
    assert (whole.year_coverage == 1.0).all()
    for name in ("trade_turnover_annual", "capital_flow_annual", "gdp_annual"):
        partial = halves[name].sel(year=[2020, 2027])
        assert bool(partial.isnull().all()), name
        assert bool(halves[name].sel(year=slice(2021, 2026)).notnull().all()), name
    # A whole year is the sum of its four quarters, as before.
    quarters = halves.trade_turnover.sel(time=slice("2023-01-01", "2023-12-31")).sum("time")
    np.testing.assert_allclose(halves.trade_turnover_annual.sel(year=2023), quarters)
    # Averages of levels are over the simulated periods.
    assert bool(halves.jobs_annual.sel(year=2020).notnull().all())
    assert halves.trade_turnover_annual.attrs["long_name"].endswith("simulated in part)")


def test_the_summary_shows_whole_years(runs: tuple[xr.Dataset, xr.Dataset]) -> None:
    _, halves = runs
    table = summary_table(halves)
    header = table.splitlines().index(next(x for x in table.splitlines() if "median" in x))
    rows = [line.split() for line in table.splitlines()[header + 1 :]]
    years = {int(r[-4]) for r in rows if len(r) >= 4 and r[-4].isdigit()}
    assert years == {2021, 2024, 2026}  # the first, a middle and the last whole year


def test_a_target_in_a_year_simulated_in_part_is_refused(
    runs: tuple[xr.Dataset, xr.Dataset],
) -> None:
    _, halves = runs
    with pytest.raises(TargetError, match="2020, a year the run simulates in part"):
        compare(halves, halves, targets=["trade_turnover_annual:A-B:2020>=1"])
    ok = compare(halves, halves, targets=["trade_turnover_annual:A-B:2021>=1"])
    assert ok.target_probability.shape == (1, 2)
    # The change in a year without annual sums is no number, not a probability of 0.
    p = ok.trade_turnover_annual_p_negative.sel(pair="A-B")
    assert bool(p.sel(year=2020).isnull()) and float(p.sel(year=2021)) == 0.0


def test_a_target_dated_after_the_run_is_refused(runs: tuple[xr.Dataset, xr.Dataset]) -> None:
    """Regression: a date after the last period was read as the last period."""
    _, halves = runs
    with pytest.raises(TargetError, match=r"after the run ends \(2027-06-30\)"):
        compare(halves, halves, targets=["trade_turnover:A-B:2027-07-01>=1"])
    last = compare(halves, halves, targets=["trade_turnover:A-B:2027-06-30>=1"])
    assert last.target_probability.shape == (1, 2)


def test_calibrating_to_a_year_simulated_in_part_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = _tiny("2020-07-01", "2027-06-30")
    data["calibration"] = {
        "replicas": 2,
        "targets": [{"kind": "turnover", "regions": ["A", "B"], "year": 2020, "value": 100.0}],
        "parameters": [{"key": "trade_costs.trend[0].rate.2020", "lower": -0.2, "upper": 0.1}],
    }
    data["trade_costs"]["trend"] = [{"origin": "A", "destination": "B", "rate": {"2020": 0.0}}]
    with pytest.raises(ScenarioError, match="2020 is a year the run simulates in part") as err:
        api.load_scenario(copy.deepcopy(data), base_dir=TINY.parent)
    assert err.value.key == "calibration.targets[0].year"
    assert "years 2021 to 2026, which the run simulates whole" in str(err.value)
    data["calibration"]["targets"][0]["year"] = 2021
    data["output"] = {"report_years": [2027]}
    with caplog.at_level(logging.WARNING):
        api.load_scenario(data, base_dir=TINY.parent)
    assert "report year 2027 is simulated in part" in caplog.text


def test_the_summary_says_over_how_many_replicas_jobs_per_direct_job_are() -> None:
    """Regression: jobs per direct job exist only in replicas with direct jobs (a project
    built), and their band was printed under 'N replicas' with no word of it."""
    data: dict[str, Any] = yaml.safe_load(TINY.read_text())
    investment = data["investment"]
    investment["projects"], investment["portfolios"] = investment["projects"][:1], []
    investment["pipelines"]["slow"]["odds_financing"] = 0.3
    ds = api.run(data, replicas=40, base_dir=TINY.parent)
    built = np.isfinite(ds.jobs_gross_to_direct.sel(account="type1")).sum("replica")
    table = summary_table(ds)
    note = next(line for line in table.splitlines() if line.startswith("Jobs per direct job"))
    for year in (2020, 2024, 2027):
        if int(built.sel(year=year)) < 40:
            assert f"{year}: {int(built.sel(year=year))} of 40" in note
    assert int(built.min()) < 40

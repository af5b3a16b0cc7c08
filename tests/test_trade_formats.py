"""Baseline trade in the long format of gravity work (the gegravity sample)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from sim.errors import DataFileError
from sim.scenario.data import TradeLayout, load_trade_table

SAMPLE = Path(__file__).parent / "data" / "reference" / "gegravity_sample_2006.csv"
GRAVITY = TradeLayout(origin="exporter", destination="importer", sector="", value="trade",
                      year="year", select_year=2006)  # fmt: skip


def sample_rows() -> list[dict[str, str]]:
    with SAMPLE.open() as handle:
        return list(csv.DictReader(handle))


def test_full_sample_reads_every_pair() -> None:
    rows = sample_rows()
    countries = sorted({r["exporter"] for r in rows})
    table = load_trade_table(SAMPLE, countries, ["all"], GRAVITY)
    assert table.shape == (30, 30, 1)
    can, jpn = countries.index("CAN"), countries.index("JPN")
    expected = next(
        float(r["trade"]) for r in rows if r["exporter"] == "CAN" and r["importer"] == "JPN"
    )
    assert table[can, jpn, 0] == expected
    assert table.sum() == pytest.approx(sum(float(r["trade"]) for r in rows))


def test_concordance_aggregates_into_rest_of_world() -> None:
    rows = sample_rows()
    layout = TradeLayout(**{**GRAVITY.__dict__, "region_map": {"USA": "NAM", "CAN": "NAM"},
                            "other_region": "ROW"})  # fmt: skip
    table = load_trade_table(SAMPLE, ["NAM", "JPN", "ROW"], ["all"], layout)
    nam = {"USA", "CAN"}

    def group(code: str) -> int:
        return 0 if code in nam else 1 if code == "JPN" else 2

    expected = np.zeros((3, 3))
    for r in rows:
        expected[group(r["exporter"]), group(r["importer"])] += float(r["trade"])
    np.testing.assert_allclose(table[:, :, 0], expected)


def test_unknown_country_without_rest_region_names_the_row() -> None:
    with pytest.raises(DataFileError) as err:
        load_trade_table(SAMPLE, ["CAN", "JPN"], ["all"], GRAVITY)
    assert err.value.line == 2 and "unknown region 'GBR'" in str(err.value)


def test_several_years_need_a_year(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("exporter,importer,year,trade\nA,A,2015,5\nA,A,2016,6\n")
    layout = TradeLayout(origin="exporter", destination="importer", sector="", value="trade")
    with pytest.raises(DataFileError, match="several years"):
        load_trade_table(path, ["A"], ["all"], layout)
    chosen = TradeLayout(**{**layout.__dict__, "select_year": 2016})
    assert load_trade_table(path, ["A"], ["all"], chosen)[0, 0, 0] == 6.0


def test_no_sector_column_with_several_sectors_is_refused() -> None:
    with pytest.raises(DataFileError, match="no sector column"):
        load_trade_table(SAMPLE, ["CAN"], ["a", "b"], GRAVITY)


def test_scenario_reads_the_gravity_sample(tmp_path: Path) -> None:
    import shutil

    import sim.api as api

    shutil.copy(SAMPLE, tmp_path / "sample.csv")
    (tmp_path / "coef.csv").write_text("region,input,output,value\n*,all,all,0.4\n")
    scenario = {
        "metadata": {"name": "gravity_sample"},
        "time": {"start": "2006-01-01", "end": "2008-12-31", "step": "year"},
        "regions": ["CAN", "JPN", "USA", "ROW"],
        "sectors": ["all"],
        "economy": {"growth": 0.0, "wage": 1000, "employment": 1e6},
        "trade": {
            "baseline": {
                "file": "sample.csv",
                "columns": {
                    "origin": "exporter",
                    "destination": "importer",
                    "sector": "",
                    "value": "trade",
                },
                "year": 2006,
                "other_regions": "ROW",
            },
            "elasticity": 5.0,
        },
        "input_output": {"coefficients": {"file": "coef.csv"}, "investment_mix": {"all": 0.5}},
        "monte_carlo": {"replicas": 1},
    }
    scenario["economy"] = {
        "growth": {r: 0.0 for r in scenario["regions"]},
        "wage": {r: 1000 for r in scenario["regions"]},
        "employment": {r: 1e6 for r in scenario["regions"]},
    }
    ds = api.run(scenario, base_dir=tmp_path)
    rows = sample_rows()
    can_jpn = next(
        float(r["trade"]) for r in rows if (r["exporter"], r["importer"]) == ("CAN", "JPN")
    )
    first = ds.trade.isel(replica=0, time=0).sum("sector")
    assert float(first.sel(origin="CAN", destination="JPN")) == pytest.approx(can_jpn)
    total = sum(float(r["trade"]) for r in rows)
    assert float(first.sum()) == pytest.approx(total)

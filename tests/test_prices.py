"""Real versus nominal: the model solves in constant prices; price paths convert for reporting."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim import api
from sim.errors import ScenarioError
from sim.kernels.prices import price_levels
from sim.scenario.load import load_scenario_document


def test_price_levels_compound_inflation_and_divide_by_the_exchange_rate() -> None:
    # Years 2018..2022, base 2020 (position 2); two regions.
    inflation = np.array([[[0.10, 0.0], [0.20, 0.0], [0.05, 0.03], [0.05, 0.03], [0.0, 0.0]]])
    exchange = np.array([[[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, 4.0], [1.0, 8.0]]])
    level = price_levels(inflation, exchange, base=2)
    expected_a = [1 / (1.1 * 1.2), 1 / 1.2, 1.0, 1.05, 1.05**2]
    expected_b = [1.0, 1.0, 1.0, 1.03 * 2 / 4, 1.03**2 * 2 / 8]
    np.testing.assert_allclose(level[0, :, 0], expected_a, rtol=1e-14)
    np.testing.assert_allclose(level[0, :, 1], expected_b, rtol=1e-14)


def _with_prices(tiny_path: Path, exchange_b: dict[int, float]) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(load_scenario_document(tiny_path).data)
    data["prices"] = {
        "inflation": {"A": 0.02, "B": {2020: 0.1, 2023: 0.3}, "C": 0.0},
        "exchange_rate": {"B": exchange_b},
    }
    return data


def test_a_currency_reform_moves_current_money_only(tiny_path: Path) -> None:
    """A devaluation of B in 2023 is a price event: volumes and real figures do not move."""
    calm = _with_prices(tiny_path, {2020: 100.0})
    reform = _with_prices(tiny_path, {2020: 100.0, 2023: 250.0})
    a = api.run(calm, replicas=3, base_dir=tiny_path.parent)
    b = api.run(reform, replicas=3, base_dir=tiny_path.parent)
    for name in ("trade", "gdp", "employment", "real_income", "capital_flow", "jobs"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    ratio = b.gdp_current.sel(region="B") / a.gdp_current.sel(region="B")
    years = ratio["time"].dt.year
    np.testing.assert_allclose(ratio.where(years < 2023, drop=True), 1.0, rtol=1e-14)
    np.testing.assert_allclose(ratio.where(years >= 2023, drop=True), 100 / 250, rtol=1e-14)
    # A's current-money figures do not see B's exchange rate.
    np.testing.assert_array_equal(a.gdp_current.sel(region="A"), b.gdp_current.sel(region="A"))


def test_current_money_is_constant_money_at_each_region_price_level(tiny_path: Path) -> None:
    ds = api.run(_with_prices(tiny_path, {2020: 100.0, 2022: 120.0}), replicas=2,
                 base_dir=tiny_path.parent)  # fmt: skip
    level = ds.price_level  # (replica, time, region)
    years = ds["time"].dt.year.values
    b = level.sel(region="B").values[0]
    expected_b = np.where(years < 2022, 1.0, 100 / 120) * 1.1 ** (np.minimum(years, 2023) - 2020)
    expected_b *= 1.3 ** np.maximum(years - 2023, 0)
    np.testing.assert_allclose(b, expected_b, rtol=1e-13)
    # Exports are valued at the exporter's price level; turnover sums both directions.
    trade = ds.trade.values * level.values[:, :, :, None, None]
    np.testing.assert_allclose(ds.trade_current.values, trade, rtol=1e-14)
    ab = trade[:, :, 0, 1].sum(-1) + trade[:, :, 1, 0].sum(-1)
    np.testing.assert_allclose(ds.trade_turnover_current.sel(pair="A-B").values, ab, rtol=1e-13)
    annual = ds.trade_turnover_annual_current.sel(pair="A-B", year=2024).values
    np.testing.assert_allclose(annual, ab[:, years == 2024].sum(1), rtol=1e-13)
    # Capital flows at the host's (destination's) level; wages at home.
    cap = ds.capital_flow.values * level.values[:, :, None, :]
    np.testing.assert_allclose(ds.capital_flow_current.values, cap, rtol=1e-14)
    np.testing.assert_allclose(ds.wage_current.values, ds.wage.values * level.values, rtol=1e-14)
    assert ds.trade_current.attrs["units"] == "USD million per year (current prices)"
    assert ds.trade.attrs["units"] == "USD million per year (constant 2020 prices)"
    assert ds.wage_current.attrs["units"] == "USD per month (current prices)"
    assert ds.attrs["current_money_unit"] == "USD million (current prices)"


def test_trade_at_one_regions_prices_keeps_domestic_sales_at_home(tiny_path: Path) -> None:
    """prices.trade_valuation: a region values the flows between regions at its level;
    domestic sales stay at home prices (they were at the valuation region's too, so a
    region's current-money sales were up to twice its output in the seed)."""
    data = _with_prices(tiny_path, {2020: 100.0, 2022: 120.0})
    data["prices"]["trade_valuation"] = "C"
    ds = api.run(data, replicas=2, base_dir=tiny_path.parent)
    level = ds.price_level.values  # (replica, time, region)
    expected = ds.trade.values * level[:, :, 2, None, None, None]  # C's level everywhere...
    for r in range(3):  # ...but on the diagonal
        expected[:, :, r, r] = ds.trade.values[:, :, r, r] * level[:, :, r, None]
    np.testing.assert_allclose(ds.trade_current.values, expected, rtol=1e-14)
    sales = ds.trade_current.sum(("destination", "sector")).values
    exports = ds.exports_current.values
    home = (ds.output.sum("sector").values - ds.exports.values) * level
    np.testing.assert_allclose(sales - exports, home, rtol=1e-10)


def test_without_a_price_path_there_is_no_current_money(tiny_path: Path) -> None:
    ds = api.run(str(tiny_path), replicas=2)
    assert "trade_turnover_annual_current" not in ds
    assert "current_money_unit" not in ds.attrs


def test_a_price_path_needs_constant_prices(tiny_path: Path) -> None:
    data = _with_prices(tiny_path, {2020: 1.0})
    data["metadata"]["price_basis"] = "current"
    with pytest.raises(ScenarioError) as err:
        api.load_scenario(data, base_dir=tiny_path.parent)
    text = str(err.value)
    assert "key: prices" in text and "price_basis: constant" in text


def test_a_price_path_covers_every_region(tiny_path: Path) -> None:
    data = _with_prices(tiny_path, {2020: 1.0})
    del data["prices"]["inflation"]["C"]
    with pytest.raises(ScenarioError, match=r"prices.inflation has no value for C"):
        api.load_scenario(data, base_dir=tiny_path.parent)


def test_a_current_money_target_needs_a_price_path(tiny_path: Path) -> None:
    from sim.calibration import calibrate

    data: dict[str, Any] = copy.deepcopy(load_scenario_document(tiny_path).data)
    data["calibration"] = {
        "targets": [
            {
                "kind": "turnover",
                "regions": ["A", "B"],
                "year": 2022,
                "value": 10,
                "prices": "current",
            }
        ],
        "parameters": [{"key": "economy.growth.A", "lower": 0.0, "upper": 0.1}],
    }
    sc = api.load_scenario(data, base_dir=tiny_path.parent)
    with pytest.raises(ScenarioError, match="no price path"):
        calibrate(sc)


def test_capex_in_current_money_is_deflated_at_the_host_price_level(tiny_path: Path) -> None:
    constant = _with_prices(tiny_path, {2020: 100.0})
    current = copy.deepcopy(constant)
    current["investment"]["capex_prices"] = "current"
    a = api.run(constant, replicas=2, base_dir=tiny_path.parent)
    b = api.run(current, replicas=2, base_dir=tiny_path.parent)
    # plant-b (host A, announced 2020-06, the base year) keeps its capex; plant-a and
    # the portfolio (host B, announced 2020-2021) shrink by B's price level then.
    hosts = a.project_host.values
    first_year_a = a.capital_flow_projects.sel(destination="A").sum(("time", "origin", "sector"))
    first_year_b = b.capital_flow_projects.sel(destination="A").sum(("time", "origin", "sector"))
    np.testing.assert_allclose(first_year_a, first_year_b, rtol=1e-12)
    assert "B" in hosts
    into_b_a = a.capital_flow_projects.sel(destination="B").sum(("time", "origin", "sector"))
    into_b_b = b.capital_flow_projects.sel(destination="B").sum(("time", "origin", "sector"))
    ratio = (into_b_b / into_b_a).values
    assert (ratio < 1.0).all() and (ratio >= 1 / 1.1 - 1e-12).all()


def test_capex_in_current_money_needs_a_price_path(tiny_path: Path) -> None:
    data: dict[str, Any] = copy.deepcopy(load_scenario_document(tiny_path).data)
    data["investment"]["capex_prices"] = "current"
    with pytest.raises(ScenarioError, match="needs a price path"):
        api.load_scenario(data, base_dir=tiny_path.parent)


def test_the_size_estimate_counts_the_current_money_variables(tiny_path: Path) -> None:
    from sim import limits

    data = _with_prices(tiny_path, {2020: 100.0})
    ds = api.run(data, replicas=6, base_dir=tiny_path.parent)
    model = api.prepare(api.load_scenario(data, base_dir=tiny_path.parent))
    actual = sum(v.nbytes for v in ds.data_vars.values())
    assert 0.9 * actual <= limits.output_bytes(model, 6) <= 1.3 * actual

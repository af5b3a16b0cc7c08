"""The engine on the general equilibrium: linkages, labour closures, employment, tariffs.

Runs the tiny scenario (tests/data/tiny) with and without a policy under the same seed,
so that the difference is the policy's effect replica by replica.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import yaml

from sim import api
from sim.errors import ScenarioError


def _tiny(tiny_path: Path, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(tiny_path.read_text())
    for path, value in changes.items():
        node = data
        *head, last = path.split("__")
        for key in head:
            node = node.setdefault(key, {})
        node[last] = value
    return data


def _run(tiny_path: Path, data: dict[str, Any], replicas: int = 3) -> xr.Dataset:
    return api.run(copy.deepcopy(data), replicas=replicas, base_dir=tiny_path.parent)


def _without_policy(data: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    out["policies"] = []
    return out


def test_the_default_is_the_endowment_economy(tiny_path: Path) -> None:
    ds = _run(tiny_path, _tiny(tiny_path, economy__labour_force_growth={"A": 0.01, "B": 0.0,
                                                                          "C": 0.02}))  # fmt: skip
    employment = ds.employment.sum("sector")
    # Sector-specific labour in full employment: persons follow the labour force only.
    years = np.arange(ds.sizes["time"])[None, :, None]
    expected = np.array([1e6, 8e5, 2e7]) * np.array([1.01, 1.0, 1.02]) ** years
    # (to the solver's tolerance: employment is value added over the wage)
    np.testing.assert_allclose(employment.values, np.broadcast_to(expected, employment.shape),
                               rtol=1e-10)  # fmt: skip
    shares = ds.employment / employment
    np.testing.assert_allclose(shares.values, np.broadcast_to(shares.isel(time=0).values[:, None],
                               shares.shape), rtol=1e-10)  # fmt: skip
    # No tariffs: GDP is value added, which is gross output without linkages.
    np.testing.assert_allclose(ds.gdp.values, ds.output.sum("sector").values, rtol=1e-12)
    np.testing.assert_allclose(ds.tariff_revenue.values, 0.0)
    assert ds.real_wage.isel(time=0).values == pytest.approx(1.0, rel=1e-12)


def test_a_border_cut_creates_jobs_where_labour_supply_is_elastic(tiny_path: Path) -> None:
    data = _tiny(
        tiny_path,
        trade__linkages=True,
        labour__mobility="mobile",
        labour__closure={"A": "elastic", "B": "elastic", "C": "full_employment"},
        labour__supply_elasticity=1.0,
    )
    policy, base = _run(tiny_path, data), _run(tiny_path, _without_policy(data))
    jobs = (policy.employment - base.employment).sum("sector")
    before = jobs.sel(time=slice(None, "2022-12-31"))
    after = jobs.sel(time=slice("2023-01-01", None))
    np.testing.assert_allclose(before.values, 0.0, atol=1e-6)
    assert (after.sel(region=["A", "B"]).values > 0).all()  # the partners gain jobs, net
    np.testing.assert_allclose(after.sel(region="C").values, 0.0, atol=1e-3)
    # ... drawn in by a higher real wage, along the supply curve (elasticity 1).
    gain = (policy.real_wage / base.real_wage).sel(region=["A", "B"], time="2024-01-01")
    persons = (policy.employment / base.employment).sum("sector").sel(
        region=["A", "B"], time="2024-01-01"
    ) / 2
    assert (gain.values > 1).all()
    np.testing.assert_allclose(persons.values, gain.values, rtol=0.05)


def test_a_fixed_real_wage_holds_the_path_real_wage(tiny_path: Path) -> None:
    # Without plants (a one-factor model makes employment absorb their productivity
    # under a fixed real wage), a border cut raises employment at the path's real wage.
    data = _tiny(
        tiny_path,
        trade__linkages=True,
        labour__mobility="mobile",
        labour__closure={"A": "fixed_real_wage", "B": "fixed_real_wage", "C": "full_employment"},
    )
    data["investment"] = {}
    policy, base = _run(tiny_path, data), _run(tiny_path, _without_policy(data))
    np.testing.assert_allclose(
        policy.real_wage.sel(region=["A", "B"]).values,
        base.real_wage.sel(region=["A", "B"]).values,
        rtol=1e-9,
    )
    jobs = (policy.employment - base.employment).sum("sector")
    assert (jobs.sel(region=["A", "B"], time="2024-01-01").values > 0).all()


def test_with_full_employment_a_border_cut_moves_jobs_between_sectors_only(
    tiny_path: Path,
) -> None:
    data = _tiny(tiny_path, trade__linkages=True, labour__mobility="mobile")
    policy, base = _run(tiny_path, data), _run(tiny_path, _without_policy(data))
    change = policy.employment - base.employment
    np.testing.assert_allclose(change.sum("sector").values, 0.0, atol=1e-6)
    assert float(np.abs(change.sel(time="2024-01-01")).max()) > 1.0  # persons moved
    gain = policy.real_wage - base.real_wage
    assert (gain.sel(time="2024-01-01", region=["A", "B"]).values > 0).all()


def test_linkages_change_the_baseline_accounts_but_not_the_first_period(tiny_path: Path) -> None:
    plain = _run(tiny_path, _tiny(tiny_path))
    linked = _run(tiny_path, _tiny(tiny_path, trade__linkages=True))
    first = {"time": 0}
    # The first period reproduces the trade table with or without linkages.
    np.testing.assert_allclose(
        linked.trade.isel(first).values, plain.trade.isel(first).values, rtol=1e-10
    )
    # With linkages, value added is below gross output (by the coefficients' column sums).
    share = linked.value_added.isel(first) / linked.output.isel(first)
    assert (share.values < 0.99).all() and (share.values > 0.2).all()


def test_a_tariff_raises_revenue_and_gdp_counts_it(tiny_path: Path) -> None:
    data = _tiny(tiny_path)
    policy = {"date": "2023-01-01", "kind": "tariff", "origin": "B", "destination": "A"}
    data["policies"] = [{**policy, "value": 0.1, "description": "A taxes imports from B"}]
    ds = _run(tiny_path, data)
    revenue = ds.tariff_revenue.sel(region="A")
    assert float(revenue.sel(time="2022-01-01").max()) == 0.0
    assert float(revenue.sel(time="2024-01-01").min()) > 0.0
    np.testing.assert_allclose(
        ds.gdp.values, (ds.value_added.sum("sector") + ds.tariff_revenue).values, rtol=1e-12
    )


def test_the_zero_deficit_closure_rebalances_the_baseline(tiny_path: Path) -> None:
    ds = _run(tiny_path, _tiny(tiny_path, trade__closure="zero"))
    trade = ds.trade.isel(time=0, replica=0)
    exports = trade.sum("destination") - np.diagonal(trade.values).T
    imports = trade.sum("origin") - np.diagonal(trade.values).T
    balance = (exports.sum("sector").values - imports.sum("sector").values) / float(trade.sum())
    np.testing.assert_allclose(balance, 0.0, atol=1e-10)


def test_a_fixed_real_wage_everywhere_is_refused(tiny_path: Path) -> None:
    data = _tiny(tiny_path, labour__closure="fixed_real_wage")
    with pytest.raises(ScenarioError, match=r"labour\.closure"):
        api.load_scenario(data, base_dir=tiny_path.parent)


def test_an_unknown_closure_names_what_is_allowed(tiny_path: Path) -> None:
    data = _tiny(tiny_path, labour__closure={"A": "fixed", "B": "elastic", "C": "elastic"})
    with pytest.raises(ScenarioError, match="full_employment, fixed_real_wage, elastic"):
        api.load_scenario(data, base_dir=tiny_path.parent)


def test_a_fixed_real_wage_with_plants_warns(
    tiny_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = _tiny(tiny_path, labour__closure={"A": "fixed_real_wage", "B": "elastic",
                                             "C": "full_employment"})  # fmt: skip
    with caplog.at_level("WARNING", logger="sim.scenario.validate"):
        api.load_scenario(data, base_dir=tiny_path.parent)
    assert "A fix the real wage in a scenario with plants" in caplog.text
    assert "closure: elastic" in caplog.text


# ------------------------------------------------- the net employment account, in one run


def _without_shocks(data: dict[str, Any]) -> dict[str, Any]:
    """No policy, project, trade-cost trend or other investment: the path with growth only."""
    out = _without_policy(data)
    out["investment"].update(projects=[], portfolios=[], other=[])
    out["trade_costs"].pop("trend", None)
    return out


@pytest.mark.parametrize("closure", ["elastic", "fixed_real_wage"])
def test_net_employment_change_is_employment_against_the_path(
    tiny_path: Path, closure: str
) -> None:
    """Within a run, the net change is employment minus the growth-only path's: the same
    as the employment difference from a run without any shock (the path itself)."""
    data = _tiny(
        tiny_path,
        trade__linkages=True,
        labour__mobility="mobile",
        labour__closure={"A": closure, "B": "elastic", "C": "full_employment"},
    )
    run, path = _run(tiny_path, data), _run(tiny_path, _without_shocks(data))
    scale = float(run.employment.max())
    np.testing.assert_allclose(path.employment_change.values, 0.0, atol=1e-9 * scale)
    np.testing.assert_allclose(
        run.employment_change.values,
        (run.employment - path.employment).values,
        atol=1e-8 * scale,
    )
    # The border cut and the plants create net jobs in A and B; C stays at full employment.
    late = run.employment_change_annual.sel(year=2026)
    assert (late.sel(region=["A", "B"]).values > 0).all()
    np.testing.assert_allclose(late.sel(region="C").values, 0.0, atol=1e-8 * scale)


def test_under_full_employment_net_employment_sums_to_zero_over_sectors(tiny_path: Path) -> None:
    data = _tiny(tiny_path, trade__linkages=True, labour__mobility="mobile")
    run = _run(tiny_path, data)
    change = run.employment_change
    scale = float(run.employment.max())
    np.testing.assert_allclose(change.sum("sector").values, 0.0, atol=1e-8 * scale)
    assert float(np.abs(change.isel(time=-1)).max()) > 1.0  # persons moved between sectors

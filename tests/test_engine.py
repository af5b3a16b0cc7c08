"""End-to-end checks of the engine on the tiny scenario: invariants that could fail."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import yaml

import sim.api as api
from sim.engine.draw import draw_batch
from sim.engine.simulate import BatchSimulation, simulate_batch
from sim.kernels.equilibrium import solve_equilibrium
from sim.scenario.load import load_scenario_document


def tiny_dict(tiny_path: Path) -> dict[str, Any]:
    return copy.deepcopy(load_scenario_document(tiny_path).data)


def run_dict(data: dict[str, Any], tiny_path: Path, **kw: Any) -> xr.Dataset:
    return api.run(data, base_dir=tiny_path.parent, **kw)


def test_same_seed_gives_identical_dataset(tiny_path: Path) -> None:
    a = api.run(tiny_path)
    b = api.run(tiny_path)
    xr.testing.assert_identical(a, b)
    c = api.run(tiny_path, seed=8)
    assert not np.allclose(c.trade.values, a.trade.values)


def test_batch_size_does_not_change_replicas(tiny_path: Path) -> None:
    whole = api.run(tiny_path, replicas=8, batch_size=8)
    split = api.run(tiny_path, replicas=8, batch_size=3)
    np.testing.assert_array_equal(whole.project_stage.values, split.project_stage.values)
    for name in ("trade", "jobs", "capital_flow", "migration", "output"):
        np.testing.assert_allclose(split[name].values, whole[name].values, rtol=1e-10, atol=1e-12)


def test_replica_draws_do_not_depend_on_batch(tiny_path: Path) -> None:
    model = api.prepare(api.load_scenario(tiny_path))
    big = draw_batch(model, 0, 10)
    one = draw_batch(model, 6, 1)
    np.testing.assert_array_equal(big.stages.entered[6], one.stages.entered[0])
    np.testing.assert_array_equal(big.theta[6], one.theta[0])
    np.testing.assert_array_equal(big.capex[6], one.capex[0])


def test_adding_a_project_leaves_other_stage_dates(tiny_path: Path) -> None:
    data = tiny_dict(tiny_path)
    base = run_dict(data, tiny_path)
    data["investment"]["projects"].insert(
        0,
        {"id": "new-plant", "sector": "goods", "host": "A", "investor": "C", "capex": 20,
         "announced": "2021-01-01", "pipeline": "slow"},
    )  # fmt: skip
    more = run_dict(data, tiny_path)
    assert "new-plant" in more.project.values
    for pid in base.project.values:
        np.testing.assert_array_equal(
            base.project_stage.sel(project=pid).values, more.project_stage.sel(project=pid).values
        )


def test_market_clears_every_period(tiny_path: Path) -> None:
    ds = api.run(tiny_path)
    sales = ds.trade.sum("destination").rename(origin="region")
    np.testing.assert_allclose(sales.values, ds.output.values, rtol=1e-10)


def test_capex_disbursed_equals_capex_of_projects_that_built(tiny_path: Path) -> None:
    data = tiny_dict(tiny_path)
    data["time"]["end"] = "2045-12-31"  # every construction finishes inside the horizon
    data["monte_carlo"]["replicas"] = 20
    ds = run_dict(data, tiny_path)
    model = api.prepare(api.load_scenario(data, base_dir=tiny_path.parent))
    capex = draw_batch(model, 0, 20).capex  # (N, P)
    built = (ds.project_stage == 3).any("time").values  # reached construction
    expected = (capex * built).sum(axis=1)
    disbursed = ds.capital_flow_projects.sum(("time", "origin", "destination", "sector")).values
    np.testing.assert_allclose(disbursed, expected, rtol=1e-12)
    assert built.sum() > 0 and (~built).sum() > 0  # both outcomes occur, so the check bites


def test_indirect_jobs_recomputed_from_leontief(tiny_path: Path) -> None:
    """Recompute one replica's indirect jobs from the CSV tables with numpy alone."""
    sc = api.load_scenario(tiny_path)
    model = api.prepare(sc)
    batch = draw_batch(model, 0, 1)
    result = simulate_batch(model, batch)
    sim_ = BatchSimulation(model, batch)
    regions, sectors = model.regions, model.sectors
    n_r, n_s = len(regions), len(sectors)
    # Tables straight from the files.
    flows = np.zeros((n_r, n_r, n_s))
    for line in (tiny_path.parent / "trade.csv").read_text().splitlines()[1:]:
        o, d, s, v = line.split(",")
        flows[regions.index(o), regions.index(d), sectors.index(s)] = float(v)
    shares = flows / flows.sum(axis=0, keepdims=True)
    a_nat = np.zeros((n_r, n_s, n_s))
    rows = [
        r.split(",") for r in (tiny_path.parent / "coefficients.csv").read_text().splitlines()[1:]
    ]
    for reg, i, o, v in sorted(rows, key=lambda r: r[0] != "*"):
        targets = range(n_r) if reg == "*" else [regions.index(reg)]
        for r in targets:
            a_nat[r, sectors.index(i), sectors.index(o)] = float(v)
    a = np.zeros((n_r * n_s, n_r * n_s))
    for i in range(n_r):
        for s_in in range(n_s):
            for j in range(n_r):
                for s_out in range(n_s):
                    a[i * n_s + s_in, j * n_s + s_out] = a_nat[j, s_in, s_out] * shares[i, j, s_in]
    leontief = np.linalg.inv(np.eye(n_r * n_s) - a)
    mix = np.array([0.5, 0.3])
    emp = np.array([1e6, 8e5, 2e7])[:, None] * flows.sum(axis=1) / flows.sum(axis=(1, 2))[:, None]
    coef = (emp / flows.sum(axis=1)).reshape(-1)
    checked = 0
    for k in range(model.calendar.periods):
        stage = result.arrays["project_stage"][0, k]
        goods = np.zeros(n_r * n_s)
        plant = np.zeros(n_r * n_s)
        for j, p in enumerate(model.projects):
            if stage[j] == 3:
                rate = batch.capex[0, j] / (sim_.construction_periods[0, j] * 1.0)
                for i in range(n_r):
                    for s in range(n_s):
                        goods[i * n_s + s] += rate * mix[s] * shares[i, p.host, s]
            if stage[j] == 4:
                ramp = min(max((k - sim_.entered[0, j, 3] + 0.5) / (batch.ramp_years[0, j]), 0), 1)
                plant[p.host * n_s + p.sector] += batch.capex[0, j] * 0.7 * ramp
        indirect_out = leontief @ goods + (leontief - np.eye(n_r * n_s)) @ plant
        expected = coef * indirect_out * 1.02 ** (-(k + 0.5))
        got = result.arrays["jobs"][0, k, :, :, 2].reshape(-1)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
        checked += int(expected.sum() > 0)
    assert checked >= 3


def test_static_ge_matches_first_period_after_a_cost_change(tiny_path: Path) -> None:
    data = tiny_dict(tiny_path)
    data["economy"]["growth"] = {"A": 0.0, "B": 0.0, "C": 0.0}
    data["investment"] = {}
    data["labour"] = {}
    data["trade"]["elasticity"] = {"goods": 5.0, "services": 4.0}
    data["trade"]["tolerance"] = 1e-13
    data["trade_costs"]["cost_per_border_day"] = 0.01
    data["policies"][0]["date"] = "2022-01-01"
    ds = run_dict(data, tiny_path, replicas=2)
    sc = api.load_scenario(data, base_dir=tiny_path.parent)
    model = api.prepare(sc)
    cost = np.ones((1, 3, 3, 2))
    cost[0, 0, 1, :] = cost[0, 1, 0, :] = (1 + 0.01 * 0.5) / (1 + 0.01 * 2)
    theta = np.array([[4.0, 3.0]])
    static = solve_equilibrium(
        model.baseline, theta, model.labour_markets, cost_change=cost, tol=1e-13,
        deficit_closure=model.deficit_closure,
    )  # fmt: skip
    period = ds.trade.sel(time="2022-01-01").isel(replica=0).values  # a year: flows per year
    np.testing.assert_allclose(period, static.trade[0], rtol=1e-10)
    before = ds.trade.sel(time="2021-01-01").isel(replica=0).values
    np.testing.assert_allclose(before, model.flows, rtol=1e-12)


def test_simpy_event_count_is_the_same_whatever_the_replicas(tiny_path: Path) -> None:
    small = api.run(tiny_path, replicas=2)
    large = api.run(tiny_path, replicas=400, batch_size=400)
    periods = small.sizes["time"]
    # A stage event and a step per period, and one event per policy.
    expected = 2 * periods + len(api.load_scenario(tiny_path).data["policies"])
    assert small.attrs["simpy_events"] == large.attrs["simpy_events"] == expected


def test_every_variable_has_units_and_long_name(tiny_path: Path) -> None:
    ds = api.run(tiny_path, replicas=2)
    for name, var in ds.data_vars.items():
        assert var.attrs.get("units"), name
        assert var.attrs.get("long_name"), name
    assert (
        "per year" in ds.trade.attrs["units"] and "constant 2020 prices" in ds.trade.attrs["units"]
    )


def test_provenance_records_scenario_and_data_hashes(tiny_path: Path) -> None:
    ds = api.run(tiny_path, replicas=2)
    text = ds.attrs["scenario_yaml"]
    assert hashlib.sha256(text.encode()).hexdigest() == ds.attrs["scenario_sha256"]
    hashes = json.loads(ds.attrs["data_files_sha256"])
    assert len(hashes) == 2
    for path, digest in hashes.items():
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == digest
    assert ds.attrs["seed"] == 7 and ds.attrs["engine_version"]


def test_annual_figures_are_sums_of_periods(tiny_path: Path) -> None:
    data = tiny_dict(tiny_path)
    data["time"]["step"] = "quarter"
    data["time"]["end"] = "2023-12-31"
    ds = run_dict(data, tiny_path, replicas=3)
    assert "per quarter" in ds.trade_turnover.attrs["units"]
    total = ds.trade_turnover.groupby("time.year").sum("time")
    np.testing.assert_allclose(
        total.transpose("replica", "year", "pair").values,
        ds.trade_turnover_annual.values,
        rtol=1e-12,
    )


def test_netcdf_round_trip(tiny_path: Path, tmp_path: Path) -> None:
    sc = api.load_scenario(tiny_path, replicas=3)
    ds, path = api.run_to_file(sc, tmp_path / "out" / "tiny.nc")
    with xr.open_dataset(path, engine="h5netcdf") as back:
        np.testing.assert_array_equal(back.trade.values, ds.trade.values)
        assert back.attrs["scenario_sha256"] == ds.attrs["scenario_sha256"]
    assert [p.name for p in path.parent.iterdir()] == ["tiny.nc"]  # no temporary left


@pytest.mark.parametrize("closure", ["ratio", "additive"])
def test_both_closures_run_and_clear(tiny_path: Path, closure: str) -> None:
    data = tiny_dict(tiny_path)
    data["trade"]["closure"] = closure
    data["trade"]["numeraire"] = "C"
    ds = run_dict(data, tiny_path, replicas=2)
    sales = ds.trade.sum("destination").rename(origin="region")
    np.testing.assert_allclose(sales.values, ds.output.values, rtol=1e-10)


def test_docs_outputs_lists_every_variable(tiny_path: Path) -> None:
    ds = api.run(tiny_path, replicas=2)
    page = (Path(__file__).resolve().parents[1] / "docs" / "outputs.md").read_text()
    missing = [name for name in ds.data_vars if f"| `{name}` |" not in page]
    assert not missing, f"docs/outputs.md does not describe {missing}"


def test_exports_are_sales_to_other_regions(tiny_path: Path) -> None:
    ds = api.run(tiny_path, replicas=2)
    trade = ds.trade.sum("sector")
    for region in ds.region.values:
        others = [r for r in ds.region.values if r != region]
        expected = trade.sel(origin=region, destination=others).sum("destination")
        np.testing.assert_allclose(
            ds.exports.sel(region=region).values, expected.values, rtol=1e-12
        )


def test_trend_rules_on_the_same_flow_multiply(tiny_path: Path) -> None:
    data = tiny_dict(tiny_path)
    data["economy"]["growth"] = {"A": 0.0, "B": 0.0, "C": 0.0}
    data["investment"] = {}
    data["policies"] = []
    data["trade"]["elasticity"] = {"goods": 5.0, "services": 4.0}
    one = {"origin": "A", "destination": "B", "rate": -0.1}
    data["trade_costs"]["trend"] = [one, dict(one, rate=-0.2)]
    both = run_dict(data, tiny_path, replicas=1)
    data["trade_costs"]["trend"] = [dict(one, rate=(0.9 * 0.8) - 1.0)]
    single = run_dict(data, tiny_path, replicas=1)
    np.testing.assert_allclose(both.trade.values, single.trade.values, rtol=1e-10)
    assert (
        both.trade_turnover.sel(pair="A-B").values[0, -1]
        > both.trade_turnover.sel(pair="A-B").values[0, 0]
    )


def test_trend_rules_are_kept_as_series_and_masks(tiny_dir: Path) -> None:
    """The batch holds each rule's (replicas, periods) rates and its flow mask, not a
    dense (replicas, periods, R, R, S) array; trend_at adds the rules' log factors on
    the flows they share and leaves the others at 0."""
    import yaml

    path = tiny_dir / "tiny.yaml"
    data = load_scenario_document(path).data
    data["trade_costs"]["trend"] = [
        {"origin": "A", "destination": "B", "rate": {"2020": -0.1, "2022": 0.05}},
        {"origin": "A", "destination": "C", "symmetric": False, "rate": -0.2},
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    model = api.prepare(api.load_scenario(path, replicas=3))
    batch = draw_batch(model, 0, 3)
    n_r, n_s, _ = model.shape
    periods = model.calendar.periods
    assert batch.trend_rates.shape == (3, 2, periods)
    assert batch.trend_masks.shape == (2, n_r, n_r, n_s)
    regions = list(model.regions)
    a, b, c = (regions.index(r) for r in ("A", "B", "C"))
    for k in (0, periods - 1):
        at = batch.trend_at(k)
        assert at.shape == (3, n_r, n_r, n_s)
        first, second = batch.trend_rates[:, 0, k], batch.trend_rates[:, 1, k]
        np.testing.assert_array_equal(at[:, a, b, 0], first)
        np.testing.assert_array_equal(at[:, b, a, 0], first)  # symmetric by default
        np.testing.assert_array_equal(at[:, a, c, 0], second)
        assert not at[:, c, a].any() and not at[:, b, c].any() and not at[:, a, a].any()
    assert batch.trend_rates[0, 1, 0] == pytest.approx(np.log1p(-0.2))
    assert batch.trend_rates[0, 0, 0] == pytest.approx(np.log1p(-0.1))
    assert batch.trend_rates[0, 0, -1] == pytest.approx(np.log1p(0.05))


def test_unbalanced_table_is_reported_and_ras_applies_stated_totals(
    tiny_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tiny_dict(tiny_path)
    # The table's row sums are A 1818, B 1198, C 13131; state different totals
    # with the same world sum (so RAS can meet both margins).
    data["economy"]["output"] = {"A": 1900.0, "B": 1116.0, "C": 13131.0}
    data["economy"]["expenditure"] = {"A": 1841.0, "B": 1162.0, "C": 13144.0}
    with caplog.at_level("WARNING"):
        reported = run_dict(data, tiny_path, replicas=1)
    assert "does not balance" in caplog.text
    gaps = json.loads(reported.attrs["baseline_balance"])
    assert gaps["A.output_gap"] == pytest.approx(1818 / 1900 - 1)
    first = reported.trade.isel(replica=0, time=0)
    np.testing.assert_allclose(first.sum(("destination", "sector")).values, [1818, 1198, 13131])

    data["trade"]["balance_rule"] = "ras"
    balanced = run_dict(data, tiny_path, replicas=1).trade.isel(replica=0, time=0)
    np.testing.assert_allclose(
        balanced.sum(("destination", "sector")).values, [1900, 1116, 13131], rtol=1e-9
    )
    np.testing.assert_allclose(
        balanced.sum(("origin", "sector")).values, [1841, 1162, 13144], rtol=1e-9
    )


def test_migration_cap_policy_binds(tiny_path: Path) -> None:
    data = tiny_dict(tiny_path)
    data["policies"].append(
        {"date": "2024-01-01", "kind": "migration_cap", "origin": "B", "destination": "A",
         "symmetric": False, "value": 200}
    )  # fmt: skip
    ds = run_dict(data, tiny_path, replicas=4)
    flow = ds.migration.sel(origin="B", destination="A")
    assert float(flow.sel(time=slice("2020", "2023")).min()) > 200  # base flow 1,000 a year
    np.testing.assert_allclose(flow.sel(time=slice("2024", None)).values, 200.0)


def test_output_variables_filter(
    tiny_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tiny_dict(tiny_path)
    data["output"] = {"variables": ["trade_turnover_annual", "jobs"]}
    ds = run_dict(data, tiny_path, replicas=2)
    assert set(ds.data_vars) == {"trade_turnover_annual", "jobs"}
    data["output"] = {"variables": ["trade_turnovr"]}
    with pytest.raises(api.ScenarioError, match="unknown output variable"):
        run_dict(data, tiny_path, replicas=2)
    # Refused before anything is simulated, by sim run and by sim validate (regression:
    # validate said "valid", and a run refused it only after its first batch).
    work = tmp_path / "tiny"
    shutil.copytree(tiny_path.parent, work)
    scenario = work / "bad_variables.yaml"
    scenario.write_text(
        yaml.safe_dump({"extends": "tiny.yaml", "output": data["output"]}), encoding="utf-8"
    )
    calls: list[int] = []
    monkeypatch.setattr(api, "simulate", lambda *a, **k: calls.append(1))
    with pytest.raises(api.ScenarioError, match="unknown output variable 'trade_turnovr'"):
        api.run_to_file(api.load_scenario(scenario), tmp_path / "x.nc")
    assert not calls and not (tmp_path / "x.nc").exists()
    from sim.cli import main

    assert main(["validate", str(scenario)]) == 2


def test_results_do_not_depend_on_the_horizon(tiny_path: Path) -> None:
    data = tiny_dict(tiny_path)
    full = run_dict(data, tiny_path)
    data["time"]["end"] = "2022-12-31"
    data["policies"] = []
    short = run_dict(data, tiny_path)
    # Before the policy date the two runs are the same economy.
    for name in ("capital_flow_projects", "jobs", "trade"):
        np.testing.assert_allclose(
            short[name].values, full[name].sel(time=short.time).values, rtol=1e-10, atol=1e-12
        )


def test_zarr_output(tiny_path: Path, tmp_path: Path) -> None:
    sc = api.load_scenario(tiny_path, replicas=2)
    ds, path = api.run_to_file(sc, tmp_path / "tiny.zarr")
    back = xr.open_zarr(path)
    np.testing.assert_array_equal(back.trade.values, ds.trade.values)
    # Writing again replaces the store atomically and leaves no temporary folder.
    api.run_to_file(sc, tmp_path / "tiny.zarr")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.zarr"]

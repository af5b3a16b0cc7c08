"""The benchmark suite: the per-replica reference agrees with the engine, the suite runs.

Behaviour only: no timing is asserted here (the machines are shared and noisy;
the speed-up floor is checked by ``python3 -m benchmarks.suite --small`` in CI).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import sim.api as api
from benchmarks import hotloop, reference, suite, synthetic
from benchmarks.reference import COMPARED, max_relative_difference, simulate_reference
from sim.engine.draw import draw_batch
from sim.engine.model import Model
from sim.engine.simulate import simulate_batch
from sim.scenario.load import load_scenario_document

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "scenarios" / "uz_kz_khiva_2024.yaml"


def engine_arrays(model: Model, replicas: int) -> dict[str, np.ndarray]:
    return simulate_batch(model, draw_batch(model, 0, replicas)).arrays


def assert_equivalent(model: Model, replicas: int, checked: int) -> None:
    ref = simulate_reference(model, range(checked))
    diff = max_relative_difference(engine_arrays(model, replicas), ref.arrays)
    assert set(diff) == set(COMPARED)
    assert not reference.disagreeing(diff), diff


def with_every_policy(tiny_path: Path) -> dict[str, Any]:
    """The tiny scenario with tariffs, a cost trend, one policy of each kind and a plant
    whose direct jobs are stated by its productivity."""
    data = copy.deepcopy(load_scenario_document(tiny_path).data)
    data["trade_costs"]["tariffs"] = [{"origin": "C", "destination": "A", "rate": 0.1}]
    data["trade_costs"]["trend"] = [
        {"origin": "A", "destination": "C", "rate": {2020: -0.03, 2024: 0.01}}
    ]
    # One plant states its productivity relative to its sector instead of jobs per capex.
    data["investment"]["projects"][1]["plant_productivity"] = {
        "dist": "uniform", "low": 1.5, "high": 3.0,
    }  # fmt: skip
    data["labour"]["migration"].append(
        {"origin": "A", "destination": "C", "flow": 300, "recruitment": 0.05, "cap": 400}
    )
    data["policies"] += [
        {"date": "2022-07-01", "kind": "tariff", "origin": "C", "destination": "A",
         "value": {"dist": "uniform", "low": 0.0, "high": 0.05}},
        {"date": "2024-01-01", "kind": "trade_cost", "origin": "A", "destination": "B",
         "value": 0.9},
        {"date": "2024-01-01", "kind": "trade_cost", "origin": "A", "destination": "B",
         "value": 0.95},
        {"date": "2025-01-01", "kind": "migration_cap", "origin": "A", "destination": "C",
         "value": 100},
    ]  # fmt: skip
    return data


def test_reference_matches_engine_on_the_tiny_scenario(tiny_path: Path) -> None:
    model = api.prepare(api.load_scenario(tiny_path, replicas=6))
    assert_equivalent(model, replicas=6, checked=6)


def test_reference_matches_engine_with_every_policy_kind(tiny_path: Path) -> None:
    data = with_every_policy(tiny_path)
    model = api.prepare(api.load_scenario(data, base_dir=tiny_path.parent, replicas=5))
    assert {p.kind for p in model.policies} == {
        "border_days",
        "tariff",
        "trade_cost",
        "migration_cap",
    }
    assert_equivalent(model, replicas=5, checked=5)


def test_reference_matches_engine_on_the_seed_scenario_in_a_large_batch() -> None:
    """Replicas 0-1 of a 40-replica engine batch against the reference run alone."""
    model = api.prepare(api.load_scenario(SEED, replicas=40))
    assert_equivalent(model, replicas=40, checked=2)


def test_reference_uses_one_simpy_process_per_project(tiny_path: Path) -> None:
    model = api.prepare(api.load_scenario(tiny_path, replicas=1))
    result = reference.simulate_replica(model, 0)
    # One event per period, per policy, and one per stage change of each project.
    changes = np.count_nonzero(np.diff(result.arrays["project_stage"], axis=0))
    changes += np.count_nonzero(result.arrays["project_stage"][0])
    periods = model.calendar.periods
    assert result.events >= periods + len(model.policies) + changes
    assert result.arrays["trade"].shape == (periods, 3, 3, 2)


def test_max_relative_difference_sees_a_change(tiny_path: Path) -> None:
    model = api.prepare(api.load_scenario(tiny_path, replicas=2))
    ref = simulate_reference(model, range(2))
    changed = {k: v.copy() for k, v in ref.arrays.items()}
    changed["jobs"][1, 3, 0, 0, 2] *= 1 + 1e-6
    diff = max_relative_difference(changed, ref.arrays)
    assert diff["jobs"] == pytest.approx(1e-6, rel=1e-3)
    assert diff["trade"] == 0.0


def test_synthetic_scenarios_validate_and_run(tmp_path: Path) -> None:
    path = synthetic.write_scenario(tmp_path, 4, 5, replicas=3, end="2016-12-31")
    ds = api.run(path)
    assert ds.sizes["region"] == 4 and ds.sizes["sector"] == 5
    assert np.isfinite(ds.trade.values).all()


def test_committed_large_scenario_is_the_generator_output(tmp_path: Path) -> None:
    """scenarios/bench_large_10x20.yaml and its tables are what benchmarks.synthetic writes."""
    committed = REPO / "scenarios" / "bench_large_10x20.yaml"
    written = synthetic.write_scenario(
        tmp_path, 10, 20, name="bench_large_10x20", replicas=2000, batch_size=500,
        data_dir="data/bench",
    )  # fmt: skip
    body = [line for line in committed.read_text().splitlines() if not line.startswith("#")]
    fresh = [line for line in written.read_text().splitlines() if not line.startswith("#")]
    assert body == fresh
    for table in ("trade", "coefficients"):
        name = f"data/bench/bench_large_10x20_{table}.csv"
        assert (REPO / "scenarios" / name).read_text() == (tmp_path / name).read_text()
    sc = yaml.safe_load(committed.read_text())
    assert sc["monte_carlo"]["replicas"] == 2000
    assert len(sc["regions"]) == 10 and len(sc["sectors"]) == 20


def test_numpy_call_count_does_not_depend_on_replicas(tiny_path: Path) -> None:
    model = api.prepare(api.load_scenario(tiny_path, replicas=2))
    few = hotloop.numpy_calls(model, 2)
    many = hotloop.numpy_calls(model, 7)
    assert few["numpy_calls_per_period"] > 20
    assert few["step_outside_solver_per_period"] == many["step_outside_solver_per_period"]


def test_instrumented_run_restores_the_engine(tiny_path: Path) -> None:
    before = [getattr(owner, attr) for owner, attr, _ in hotloop.TARGETS]
    model = api.prepare(api.load_scenario(tiny_path, replicas=3))
    result = hotloop.instrumented_run(model, 3)
    after = [getattr(owner, attr) for owner, attr, _ in hotloop.TARGETS]
    assert all(a is b for a, b in zip(before, after, strict=True))
    assert 0.0 <= result["simpy_share"] < 1.0
    assert result["simpy_events"] > model.calendar.periods


def tiny_config() -> suite.Config:
    """The small mode's sections at test sizes (seconds, not minutes)."""
    cfg = suite.Config.small_mode()
    cfg.speed_replicas = 30
    cfg.reference_replicas = 2
    cfg.repeats = cfg.reference_repeats = 1
    cfg.events_small, cfg.scaling = 3, [10, 20]
    cfg.sizes, cfg.size_replicas = [(3, 2), (4, 2), (3, 3)], 4
    cfg.bandwidth_cases = [("seed", 3, 7, 20), ("large", 4, 3, 10)]
    cfg.copy_bytes = 2**20
    cfg.memory_runs = [(5, "nc")]
    # Peers at toy sizes: fixed costs dominate both ratios there, so no floors.
    cfg.peer_leontief, cfg.peer_write_replicas, cfg.peer_rounds = (3, 4), 6, 1
    cfg.peer_leontief_floor, cfg.peer_write_ceiling = 0.0, float("inf")
    cfg.peer_gegravity_floor, cfg.peer_replicas_ceiling = 0.0, float("inf")
    return cfg


def test_small_mode_runs_and_writes_its_json(tmp_path: Path) -> None:
    target = tmp_path / "bench.json"
    status = suite.main(["--small", "--json", str(target)], config=tiny_config())
    assert status == 0
    doc = json.loads(target.read_text())
    assert doc["mode"] == "small" and doc["failures"] == []
    assert set(doc["results"]) == {
        "speedup", "simpy", "replicas", "sizes", "bandwidth", "memory", "peers",
    }  # fmt: skip
    assert doc["results"]["peers"]["leontief"]["agree"]
    speed = doc["results"]["speedup"]
    assert speed["equivalent"] and speed["speedup_simulation"] > 0
    assert doc["results"]["memory"]["runs"][0]["ok"], doc["results"]["memory"]
    figures = {row["figure"] for row in doc["table"]}
    assert "speed-up over the reference (simulation)" in figures
    assert "SimPy share of the run" in figures
    assert "writing the default NetCDF / Zarr" in figures
    # gegravity is a test dependency: its script ran against sim counterfactual.
    gegravity = doc["results"]["peers"]["gegravity"]
    assert gegravity["gegravity_over_sim"] > 0 and gegravity["replicas_over_one"] > 0
    assert len(gegravity["runs"]["gegravity 0.3 script"]) == 1
    assert "static counterfactual: gegravity CPU / sim counterfactual CPU" in figures


def test_small_mode_fails_below_the_floor(tmp_path: Path) -> None:
    target = tmp_path / "bench.json"
    argv = ["--small", "--only", "speedup", "--floor", "1e9", "--json", str(target)]
    status = suite.main(argv, config=tiny_config())
    assert status == 1
    assert "below the floor" in json.loads(target.read_text())["failures"][0]


def test_small_mode_fails_when_a_peer_ratio_crosses_its_floor(tmp_path: Path) -> None:
    target = tmp_path / "bench.json"
    cfg = tiny_config()
    cfg.peer_leontief_floor, cfg.peer_write_ceiling = 1e9, 1e-9
    cfg.peer_gegravity_floor, cfg.peer_replicas_ceiling = 1e9, 1e-9
    status = suite.main(["--small", "--only", "peers", "--json", str(target)], config=cfg)
    assert status == 1
    failures = json.loads(target.read_text())["failures"]
    assert any("Leontief kernels" in f and "below the floor" in f for f in failures), failures
    assert any("NetCDF" in f and "above the ceiling" in f for f in failures), failures
    assert any("gegravity" in f and "below the floor" in f for f in failures), failures
    assert any("1,000 counterfactual" in f and "above the ceiling" in f for f in failures)


def test_equilibrium_benchmark_measures_one_and_many_solves() -> None:
    from benchmarks import equilibrium

    result = equilibrium.measure(regions=4, sectors=3, replicas=5)
    assert result["one_converged"] and result["many_converged"]
    assert result["agreement"] < 1e-8  # the shared start changes the path, not the answer
    assert result["one_seconds"] > 0 and result["many_over_one"] > 0


def test_leontief_benchmark_computes_what_pymrio_computes() -> None:
    """benchmarks/leontief.py times the same work as pymrio's calc_all: check that it is."""
    import numpy as np

    from benchmarks import leontief as bench

    table = bench.random_table(3, 4, seed=1)
    ours, theirs = bench.engine(table), bench.pymrio_all(table, 3, 4)
    np.testing.assert_allclose(ours["L"], theirs["L"], rtol=1e-12)
    np.testing.assert_allclose(ours["employment"], theirs["employment"], rtol=1e-12)
    # Output multipliers are the column sums of L; Type I divide by the direct jobs.
    np.testing.assert_allclose(ours["output"], theirs["L"].sum(axis=0), rtol=1e-12)
    x = table["Z"].sum(axis=1) + table["Y"].sum(axis=1)
    np.testing.assert_allclose(ours["type_i"] * table["F"] / x, ours["employment"], rtol=1e-12)

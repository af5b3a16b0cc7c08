"""Migration inside the run: the real wage gap, net labour demand and migrant stocks.

Each period's gross flow along a corridor is the baseline flow scaled by the change in
the real wage gap (the destination's real wage over the origin's, against the start)
plus the recruited share of the destination's net new labour demand (its employment's
rise beyond its labour force's growth, from the equilibrium); stocks build from the
flows less geometric returns (docs/model.md s.5). Recomputed here from the run's own
outputs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from sim import api
from sim.engine.draw import draw_batch
from sim.scenario.load import load_scenario_document

TINY = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"
CORRIDOR = {"origin": "B", "destination": "A"}  # 1,000 a year, recruitment 0.1


def tiny_doc(**labour: Any) -> dict[str, Any]:
    doc = copy.deepcopy(load_scenario_document(TINY).data)
    doc["economy"]["labour_force_growth"] = {"A": 0.01, "B": 0.02, "C": 0.0}
    doc["labour"].update(labour)
    return doc


def run(doc: dict[str, Any]) -> tuple[api.Model, xr.Dataset]:
    model = api.prepare(api.load_scenario(doc, base_dir=TINY.parent, replicas=4))
    return model, api.simulate(model)


def net_labour_demand(model: api.Model, ds: xr.Dataset) -> np.ndarray:
    """(N, T, R) each period's rise in persons employed beyond the labour force's growth."""
    persons = ds.employment.sum("sector").values
    before = np.concatenate(
        [np.broadcast_to(model.employment.sum(axis=1), persons[:, :1].shape), persons[:, :-1]],
        axis=1,
    )
    growth = draw_batch(model, 0, persons.shape[0]).labour_force  # (N, R), per year
    factor = np.where(np.arange(persons.shape[1])[None, :, None] > 0, 1.0 + growth[:, None], 1.0)
    return persons - before * factor


def expected_flow(model: api.Model, ds: xr.Dataset) -> np.ndarray:
    """(N, T) the B -> A flow: wage-gap part plus recruited net labour demand (dt = 1)."""
    real_wage = ds.real_wage
    gap = real_wage.sel(region="A") / real_wage.sel(region="B")
    demand = net_labour_demand(model, ds)[:, :, 0]
    return 1000.0 * gap.values + 0.1 * np.maximum(demand, 0.0)


def test_full_employment_migration_answers_the_real_wage_gap_only() -> None:
    model, ds = run(tiny_doc())
    demand = net_labour_demand(model, ds)
    # Full employment: no net labour demand beyond the labour force's growth.
    assert np.abs(demand).max() < 1e-6 * float(model.employment.sum())
    flow = ds.migration.sel(**CORRIDOR).values
    np.testing.assert_allclose(flow, expected_flow(model, ds), rtol=1e-9)
    # The real wage gap moves: the flow is not the baseline flow.
    assert np.abs(flow - 1000.0).max() > 1.0
    # Corridors without a baseline flow or recruitment stay empty.
    assert float(ds.migration.sel(origin="C").sum()) == 0.0


def test_net_labour_demand_recruits_migrants() -> None:
    """A fixed real wage in A: the projects and the border cut raise employment in A, and
    the corridor's recruitment share of that rise migrates from B."""
    model, ds = run(tiny_doc(closure={"A": "fixed_real_wage", "B": "full_employment",
                                      "C": "full_employment"}))  # fmt: skip
    demand = net_labour_demand(model, ds)[:, :, 0]
    assert demand.max() > 100.0  # persons: the equilibrium adds jobs in A
    flow = ds.migration.sel(**CORRIDOR).values
    np.testing.assert_allclose(flow, expected_flow(model, ds), rtol=1e-9)
    recruited = flow - 1000.0 * (ds.real_wage.sel(region="A") / ds.real_wage.sel(region="B")).values
    assert recruited.max() > 10.0


def test_stocks_build_from_flows_less_returns() -> None:
    doc = tiny_doc()
    doc["labour"]["migration"][0].update({"stock": 5000.0, "return_rate": 0.3})
    _, ds = run(doc)
    flow = ds.migration.sel(**CORRIDOR).values
    stock = ds.migrant_stock.sel(**CORRIDOR).values
    expected = np.empty_like(flow)
    previous = np.full(flow.shape[0], 5000.0)
    for k in range(flow.shape[1]):
        previous = previous * 0.7 + flow[:, k]
        expected[:, k] = previous
    np.testing.assert_allclose(stock, expected, rtol=1e-12)
    # A steady corridor: the stock moves toward flow / return rate (about 3,333).
    assert abs(stock[:, -1].mean() - flow[:, -1].mean() / 0.3) < 0.05 * stock[:, -1].mean()
    assert ds.migrant_stock.attrs["units"] == "persons"
    assert float(ds.migrant_stock.sel(origin="A").sum()) == 0.0

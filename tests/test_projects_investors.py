"""Projects with several investors: capex, capital flows and investment demand by share.

A joint venture's capex is split among its investors by their shares (``investors:
{R: share}``); a single ``investor: R`` pays all of it. Nothing else about the project
changes: the same plant, the same stages, the same jobs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from sim import api
from sim.errors import ScenarioError
from sim.scenario.load import load_scenario_document

TINY = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"


def tiny_doc() -> dict[str, Any]:
    return copy.deepcopy(load_scenario_document(TINY).data)


def run(doc: dict[str, Any]) -> xr.Dataset:
    return api.simulate(api.prepare(api.load_scenario(doc, base_dir=TINY.parent, replicas=4)))


def with_investors(doc: dict[str, Any], shares: dict[str, float]) -> dict[str, Any]:
    """Every project and the portfolio paid by ``shares`` instead of their one investor."""
    for entry in (*doc["investment"]["projects"], *doc["investment"]["portfolios"]):
        entry.pop("investor")
        entry["investors"] = dict(shares)
    return doc


def test_capex_is_split_by_the_investors_shares() -> None:
    single = run(with_investors(tiny_doc(), {"A": 1.0}))
    joint = run(with_investors(tiny_doc(), {"A": 0.6, "C": 0.4}))
    flows = single.capital_flow_projects.sum("sector")
    split = joint.capital_flow_projects.sum("sector")
    assert float(flows.sel(origin="A").sum()) > 0
    # The same plants disburse the same capex; who pays is split 60/40.
    np.testing.assert_allclose(split.sum("origin"), flows.sum("origin"), rtol=1e-12)
    np.testing.assert_allclose(split.sel(origin="A"), 0.6 * flows.sel(origin="A"), rtol=1e-12)
    np.testing.assert_allclose(split.sel(origin="C"), 0.4 * flows.sel(origin="A"), rtol=1e-12)
    assert float(split.sel(origin="B").sum()) == 0.0
    # Construction and operation jobs do not depend on who pays.
    direct = ["construction", "operation"]
    np.testing.assert_allclose(
        joint.jobs.sel(kind=direct), single.jobs.sel(kind=direct), rtol=1e-12
    )
    # Investment demand (capex goods, at the host's prices) is paid by the same shares.
    goods_single = single.investment_goods.sum("origin")
    goods = joint.investment_goods
    assert float(goods.sel(origin="C").sum()) > 0
    np.testing.assert_allclose(
        goods.sel(origin="C").sum(("replica", "time")),
        0.4 / 0.6 * goods.sel(origin="A").sum(("replica", "time")),
        rtol=1e-9,
    )
    assert float(goods_single.sum()) > 0
    shares = joint.project_investor_share
    np.testing.assert_allclose(shares.sum("origin"), 1.0)
    np.testing.assert_allclose(shares.sel(origin="C"), 0.4)
    assert set(joint.project_investor.values) == {"A"}


def test_a_joint_venture_with_the_host_moves_only_the_foreign_share() -> None:
    """Plant-a is hosted in B; with B paying half, half its capex crosses the border."""
    doc = tiny_doc()
    plant = doc["investment"]["projects"][0]
    assert plant["host"] == "B"
    plant.pop("investor")
    plant["investors"] = {"A": 0.5, "B": 0.5}
    doc["investment"]["portfolios"] = []
    doc["investment"]["projects"] = [plant]
    ds = run(doc)
    flows = ds.capital_flow_projects.sum(("sector", "time"))
    np.testing.assert_allclose(
        flows.sel(origin="A", destination="B"), flows.sel(origin="B", destination="B"), rtol=1e-12
    )


@pytest.mark.parametrize(
    ("entry", "message", "key"),
    [
        ({"investor": "A", "investors": {"A": 1.0}}, "both investor and investors", "investor"),
        ({}, "no investor is given", "investor"),
        ({"investors": {"A": 0.6, "C": 0.3}}, "must sum to 1", "investors"),
        ({"investors": {"A": 0.6, "Z": 0.4}}, "Z", "investors"),
    ],
)
def test_investors_are_checked(entry: dict[str, Any], message: str, key: str) -> None:
    doc = tiny_doc()
    plant = doc["investment"]["projects"][0]
    plant.pop("investor")
    plant.update(entry)
    with pytest.raises(ScenarioError) as err:
        api.load_scenario(doc, base_dir=TINY.parent)
    text = str(err.value)
    assert message in text
    assert f"investment.projects[0].{key}" in text

"""Projects reach trade through the equilibrium: plants' sales and capex goods.

A plant in operation is a productivity shift of its host region-sector (docs/model.md
s.4): the host sells more everywhere, proportionally more where its market share is
small (its export markets), and displaces other suppliers in its own market (import
substitution: the diversion the turnover figures net out). Capex goods are investment
demand of the host, sourced through its trade shares, so imports of machinery show in
trade while a project is built. Each run is compared with the same draws without it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import xarray as xr

from sim import api
from sim.scenario.load import load_scenario_document

TINY = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"


def tiny_doc(*projects: dict[str, Any]) -> dict[str, Any]:
    """The tiny scenario with only ``projects``: no portfolio, policy or other investment."""
    doc = copy.deepcopy(load_scenario_document(TINY).data)
    doc["investment"].update(projects=list(projects), portfolios=[], other=[])
    doc["policies"] = []
    return doc


def run(doc: dict[str, Any]) -> xr.Dataset:
    return api.simulate(api.prepare(api.load_scenario(doc, base_dir=TINY.parent, replicas=4)))


PLANT = {"id": "plant", "sector": "goods", "host": "B", "investor": "A", "capex": 100.0,
         "announced": "2017-01-01", "construction": "2017-06-01", "operating": "2018-06-01"}  # fmt: skip
SITE = {"id": "site", "sector": "services", "host": "B", "investor": "A", "capex": 200.0,
        "announced": "2020-01-01", "construction": "2020-01-01", "operating": "2029-01-01"}  # fmt: skip


def test_a_plant_sells_more_abroad_and_displaces_imports() -> None:
    without, plant = run(tiny_doc()), run(tiny_doc(PLANT))
    goods = {"sector": "goods", "time": plant.time[-1]}
    trade0, trade1 = without.trade.sel(**goods), plant.trade.sel(**goods)
    change = trade1 / trade0 - 1.0  # (replica, origin, destination)
    share0 = trade0 / trade0.sum("origin")  # each market's import shares
    share = (trade1 / trade1.sum("origin")) / share0 - 1.0
    for market in ("A", "C"):
        assert float(change.sel(origin="B", destination=market).min()) > 0.0  # exports rise
        # Eaton-Kortum: B's market share rises proportionally more where it is small.
        gain = share.sel(origin="B", destination=market) - share.sel(origin="B", destination="B")
        assert float(gain.min()) > 0.0
    assert float(change.sel(origin="B", destination="B").min()) > 0.0
    # B's own market: A and C lose market share to the plant (import substitution); what
    # they sell there in money also carries B's higher income.
    for rival in ("A", "C"):
        assert float(share.sel(origin=rival, destination="B").max()) < 0.0
    # The plant's output (70 a year at baseline prices) is mostly new output of B:goods.
    added = (plant.output - without.output).sel(region="B", sector="goods").isel(time=-1)
    assert float(added.min()) > 0.5 * 70.0 and float(added.max()) < 1.1 * 70.0


def test_capex_goods_are_imported_while_a_project_is_built() -> None:
    """Construction of a 200-capex site in B paid by A (2020-2028): half of the spending
    is goods (input_output.investment_mix), bought by B through its trade shares."""
    without, site = run(tiny_doc()), run(tiny_doc(SITE))
    year = {"time": site.time[3]}  # 2023, under construction
    spend = float(
        site.capital_flow_projects.sel(**year).sum(("origin", "destination", "sector"))[0]
    )
    assert spend > 0
    bought = (site.trade - without.trade).sel(destination="B", sector="goods", **year)
    # B buys at least the goods half of capex more goods (more with the inputs its own
    # producers need to make them).
    assert float(bought.sum("origin").min()) > 0.5 * spend
    # A supplies at least its baseline share of B's goods purchases (60 of 605) of that
    # half; more in fact, as A pays the transfer and its goods get cheaper (the transfer
    # problem's terms-of-trade effect).
    assert float(bought.sel(origin="A").min()) > 60.0 / 605.0 * 0.5 * spend
    # The investor pays: its transfer shows as B's capital inflow and A's lower spending.
    goods = site.investment_goods.sel(origin="A", destination="B", **year)
    assert float(goods.min()) > 0

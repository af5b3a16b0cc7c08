"""sim.analysis.diff: what a variant scenario changes, in words (hand-made dicts)."""

from __future__ import annotations

import copy
from typing import Any

from sim.analysis.diff import describe_distribution, describe_policy, scenario_diff

POLICY = {
    "date": "2026-01-01",
    "kind": "border_days",
    "origin": ["UZ"],
    "destination": ["KZ"],
    "symmetric": True,
    "sectors": ["goods", "services"],
    "value": {"dist": "uniform", "low": 0.25, "high": 1.0},
    "description": "International Center opens",
}
BASE: dict[str, Any] = {
    "metadata": {"name": "base", "currency": "USD"},
    "sectors": [{"id": "goods", "name": ""}, {"id": "services", "name": ""}],
    "investment": {
        "pipelines": {"promising": {"odds_financing": 0.3, "construction": 2.0}},
        "projects": [
            {"id": "plant-a", "sector": "goods", "host": "B", "capex": 50.0},
            {"id": "plant-b", "sector": "services", "host": "A", "capex": 30.0},
        ],
        "portfolios": [{"id": "grp", "count": 3, "capex_total": 90.0, "host": "B"}],
    },
    "trade_costs": {"border_days": [{"origin": ["A"], "destination": ["B"], "days": 2.0}]},
    "policies": [],
}


def test_equal_scenarios_have_no_difference() -> None:
    assert scenario_diff(BASE, copy.deepcopy(BASE)) == []


def test_names_exactly_the_changed_keys() -> None:
    variant = copy.deepcopy(BASE)
    variant["metadata"]["name"] = "variant"
    variant["investment"]["pipelines"]["promising"]["odds_financing"] = {
        "dist": "beta",
        "a": 6.0,
        "b": 4.0,
    }
    variant["investment"]["projects"][1]["capex"] = 45.0
    variant["trade_costs"]["border_days"][0]["days"] = 1.0
    variant["policies"] = [POLICY]
    assert scenario_diff(BASE, variant) == [
        "metadata.name: 'base' -> 'variant'",
        "investment.pipelines.promising.odds_financing: 0.3 -> beta(6, 4)",
        "investment.projects['plant-b'].capex: 30 -> 45",
        "trade_costs.border_days[0].days: 2 -> 1",
        "policies: added 'International Center opens' (2026-01-01, border_days UZ<->KZ, "
        "uniform 0.25-1.0 days)",
    ]


def test_items_matched_by_id_added_and_removed_with_dates() -> None:
    variant = copy.deepcopy(BASE)
    # plant-a removed, plant-c added in front: matched by id, not by position
    variant["investment"]["projects"] = [
        {"id": "plant-c", "sector": "goods", "host": "A", "investor": "B", "capex": 40.0,
         "announced": "2021-01-01"},
        variant["investment"]["projects"][1],
    ]  # fmt: skip
    variant["investment"]["portfolios"][0]["announced"] = ["2020-01-01", "2021-06-30"]
    variant["investment"]["portfolios"].append(
        {"id": "grp2", "count": 2, "capex_total": 20.0, "host": "A",
         "announced": ["2022-01-01", "2022-12-31"]}
    )  # fmt: skip
    assert scenario_diff(BASE, variant) == [
        "investment.projects: removed 'plant-a' (goods in B, capex 50)",
        "investment.projects: added 'plant-c' (goods in A from B, capex 40, announced 2021-01-01)",
        "investment.portfolios['grp'].announced: added [2020-01-01, 2021-06-30]",
        "investment.portfolios: added 'grp2' (2 projects in A, capex 20 in all, "
        "announced 2022-01-01 to 2022-12-31)",
    ]


def test_policies_matched_by_description_with_their_date() -> None:
    base = copy.deepcopy(BASE)
    base["policies"] = [POLICY, dict(POLICY, description="second", date="2027-01-01", value=0.5)]
    variant = copy.deepcopy(base)
    variant["policies"].reverse()  # order alone changes nothing
    assert scenario_diff(base, variant) == []
    variant["policies"][0]["value"] = 0.1
    variant["policies"][1]["sectors"] = ["goods"]
    del variant["metadata"]["currency"]
    variant["metadata"]["money_unit"] = "million"
    assert scenario_diff(base, variant) == [
        "metadata.currency: removed (was 'USD')",
        "metadata.money_unit: added 'million'",
        "policies['International Center opens' (2026-01-01)].sectors: [goods, services] -> [goods]",
        "policies['second' (2027-01-01)].value: 0.5 -> 0.1",
    ]


def test_distributions_and_policies_in_words() -> None:
    assert describe_distribution({"dist": "uniform", "low": 0.25, "high": 1.0}) == (
        "uniform 0.25-1.0"
    )
    assert describe_distribution({"dist": "beta", "a": 6.0, "b": 4.0}) == "beta(6, 4)"
    assert describe_distribution(
        {"dist": "lognormal", "median": 1.5, "sigma": 0.5, "low": 0.0}
    ) == ("lognormal(median 1.5, sigma 0.5)")
    assert describe_distribution(
        {"dist": "normal", "mean": 0.055, "sd": 0.01, "low": -0.9, "high": 2.0}
    ) == ("normal(mean 0.055, sd 0.01) within -0.9 to 2.0")
    assert describe_distribution({"dist": "triangular", "low": 0.4, "mode": 0.6, "high": 0.9}) == (
        "triangular 0.4-0.9, mode 0.6"
    )
    trade = dict(
        POLICY,
        kind="trade_cost",
        origin=["UZ", "KZ"],
        destination=["ROW"],
        symmetric=False,
        sectors=["goods"],
        value=0.97,
        description="",
    )
    assert describe_policy(trade, ["goods", "services"]) == (
        "'trade_cost' (2026-01-01, trade_cost UZ+KZ->ROW, sectors goods, costs x 0.97)"
    )

"""Checks of rules that span several keys of a validated scenario (``check_*``).

Each takes the :class:`~sim.scenario.scenario.Scenario` after the schema walk
(:mod:`sim.scenario.walk`) and raises a :class:`~sim.errors.ScenarioError` naming the
file, line, key and value, what is allowed and how to fix it.
"""

from __future__ import annotations

import difflib
import itertools
from typing import Any

import numpy as np

from sim.scenario.hints import warn
from sim.scenario.scenario import Scenario


def _refuse_duplicate_ids(
    sc: Scenario, items: list[dict[str, Any]], path: str, label: str, seen: set[str]
) -> None:
    """Add the ids of ``items`` (written at ``path``) to ``seen``; refuse one already there."""
    for i, item in enumerate(items):
        if item["id"] in seen:
            raise sc.error(
                f"duplicate {label} id", f"{path}[{i}].id", item["id"], hint="ids must be unique"
            )
        seen.add(item["id"])


def check_ids_unique(sc: Scenario) -> None:
    """Region, sector, project and portfolio ids are unique."""
    for key in ("regions", "sectors"):
        _refuse_duplicate_ids(sc, sc.data[key], key, key[:-1], set())
    if len(sc.data["regions"]) < 2:
        raise sc.error(
            "at least two regions are needed",
            "regions",
            sc.region_ids,
            hint="add a region (a rest of the world, say)",
        )
    if not sc.data["sectors"]:
        raise sc.error("at least one sector is needed", "sectors", [], hint="add a sector")
    # Projects and portfolios share one namespace: a portfolio's projects are named
    # after it (ID-001, sim.engine.projects).
    shared: set[str] = set()
    for kind, label in (("projects", "project"), ("portfolios", "portfolio")):
        _refuse_duplicate_ids(sc, sc.data["investment"][kind], f"investment.{kind}", label, shared)


def check_time(sc: Scenario) -> None:
    """The calendar runs forward; constant prices name their year."""
    t = sc.data["time"]
    if t["end"] <= t["start"]:
        raise sc.error(
            "time.end must be after time.start",
            "time.end",
            t["end"],
            allowed=f"a date after {t['start']}",
        )
    md = sc.data["metadata"]
    if md["price_basis"] == "constant" and md.get("price_base_year") is None:
        raise sc.error(
            "constant prices need a base year",
            "metadata.price_basis",
            "constant",
            hint="add metadata.price_base_year: YEAR",
        )


def check_prices(sc: Scenario) -> None:
    """A price path converts constant-price money: it needs that basis and every region."""
    prices = sc.data.get("prices") or {}
    md = sc.data["metadata"]
    capex_prices = (sc.data.get("investment") or {}).get("capex_prices")
    if capex_prices == "current" and md["price_basis"] == "constant" and not prices:
        raise sc.error(
            "capex in current money needs a price path to convert it to the scenario's "
            "constant prices",
            "investment.capex_prices",
            capex_prices,
            allowed="capex_prices: constant, or a price path under prices",
            hint="add prices.inflation (and prices.exchange_rate) by region",
        )
    if not prices:
        return
    if md["price_basis"] != "constant":
        raise sc.error(
            "a price path converts constant-price money to current money, but the "
            "scenario's money is in current prices",
            "prices",
            sorted(prices),
            allowed="prices with metadata.price_basis: constant and a price_base_year",
            hint="state the tables' year as metadata.price_base_year, set "
            "metadata.price_basis: constant and economy.growth to real growth",
        )
    valuation = prices.get("trade_valuation", "exporter")
    if valuation != "exporter" and valuation not in sc.region_ids:
        raise sc.error(
            f"unknown trade valuation '{valuation}'",
            "prices.trade_valuation",
            valuation,
            allowed="exporter, or one of the regions: " + ", ".join(sc.region_ids),
            hint="write exporter, or the id of the region whose prices set trade prices",
        )
    given = prices.get("inflation") or {}
    missing = [r for r in sc.region_ids if r not in given]
    if missing:
        raise sc.error(
            f"prices.inflation has no value for {', '.join(missing)}",
            "prices.inflation",
            given,
            allowed="one entry per region (0 for a region whose prices do not change)",
            hint=f"add {missing[0]}: RATE",
        )


def check_trade(sc: Scenario) -> None:
    """Elasticities come from one source; the numeraire is 'world' or a region."""
    given = [k for k in ("elasticity", "elasticity_table") if sc.data["trade"].get(k)]
    if len(given) != 1:
        raise sc.error(
            "trade elasticities: give trade.elasticity or trade.elasticity_table"
            + (", not both" if given else ""),
            "trade.elasticity_table" if given else "trade",
            sc.data["trade"].get("elasticity_table") if given else None,
            allowed="trade.elasticity (sigma by sector, numbers or distributions) or "
            "trade.elasticity_table (a CSV of theta by sector)",
            hint="remove one of the two" if given else "add trade.elasticity: {SECTOR: SIGMA}",
        )
    numeraire = sc.data["trade"]["numeraire"]
    if numeraire != "world" and numeraire not in sc.region_ids:
        raise sc.error(
            f"unknown numeraire '{numeraire}'",
            "trade.numeraire",
            numeraire,
            allowed=f"world, {', '.join(sc.region_ids)}",
        )


def _check_pair(sc: Scenario, path: str, a: str, b: str) -> None:
    if a == b:
        raise sc.error(
            "origin and destination must differ",
            path,
            a,
            hint="name two different regions",
        )


def check_investors(sc: Scenario, item: dict[str, Any], base: str) -> None:
    """A project or portfolio names its investor, or investors with shares summing to one."""
    given = [k for k in ("investor", "investors") if k in item]
    if len(given) != 1:
        raise sc.error(
            "both investor and investors are given" if given else "no investor is given",
            f"{base}.{given[0] if given else 'investor'}",
            item.get("investors", item.get("investor")),
            allowed="investor: REGION (one investor pays all the capex), or investors: "
            "{REGION: share, ...} with shares summing to 1",
            hint="keep one of the two keys" if given else "add investor: REGION",
        )
    shares = item.get("investors")
    if shares is not None:
        total = sum(shares.values())
        if not shares or abs(total - 1.0) > 1e-6:
            raise sc.error(
                "investor shares must sum to 1",
                f"{base}.investors",
                shares,
                allowed=f"shares summing to 1 (these sum to {total:g})",
                hint="give each investor region's share of the capex; a single investor "
                "can be written investor: REGION",
            )


def check_investment(sc: Scenario) -> None:
    """Pipelines exist; dates are ordered; sector mixes sum to one."""
    inv = sc.data["investment"]
    pipelines = set(inv["pipelines"]) | {"default"}
    for kind in ("projects", "portfolios"):
        for i, item in enumerate(inv[kind]):
            base = f"investment.{kind}[{i}]"
            if item["pipeline"] not in pipelines:
                close = difflib.get_close_matches(item["pipeline"], sorted(pipelines), n=1)
                raise sc.error(
                    f"unknown pipeline '{item['pipeline']}'",
                    f"{base}.pipeline",
                    item["pipeline"],
                    allowed=", ".join(sorted(pipelines)),
                    hint=f"did you mean '{close[0]}'?"
                    if close
                    else "define it under investment.pipelines",
                )
    for kind in ("projects", "portfolios"):
        for i, item in enumerate(inv[kind]):
            check_investors(sc, item, f"investment.{kind}[{i}]")
    for i, p in enumerate(inv["projects"]):
        dates = [
            (k, p[k]) for k in ("announced", "financed", "construction", "operating") if p.get(k)
        ]
        for (k1, d1), (k2, d2) in itertools.pairwise(dates):
            if d2 < d1:
                raise sc.error(
                    f"'{k2}' date is before '{k1}'",
                    f"investment.projects[{i}].{k2}",
                    d2,
                    allowed=f"on or after {d1}",
                )
    for i, g in enumerate(inv["portfolios"]):
        base = f"investment.portfolios[{i}]"
        total = sum(g["sector_mix"].values())
        if abs(total - 1.0) > 1e-6:
            raise sc.error(
                "sector shares must sum to 1",
                f"{base}.sector_mix",
                g["sector_mix"],
                allowed=f"shares summing to 1 (these sum to {total:g})",
            )
        for key in ("announced", "stage_dates"):
            rng = g.get(key)
            if rng is None:
                if key == "stage_dates" and g["stage"] != "announced":
                    raise sc.error(
                        f"stage '{g['stage']}' needs stage_dates",
                        f"{base}.stage",
                        g["stage"],
                        hint="add stage_dates: [first, last]",
                    )
                continue
            if len(rng) != 2 or rng[1] < rng[0]:
                raise sc.error(
                    f"{key} must be [first, last] in order",
                    f"{base}.{key}",
                    rng,
                    allowed="two dates, first <= last",
                )
        if g.get("stage_dates") and g["stage_dates"][0] < g["announced"][0]:
            raise sc.error(
                "stage_dates start before the announcements",
                f"{base}.stage_dates",
                g["stage_dates"],
                allowed=f"on or after {g['announced'][0]}",
            )
    for i, o in enumerate(inv["other"]):
        _check_pair(sc, f"investment.other[{i}].destination", o["origin"], o["destination"])


def check_input_output(sc: Scenario) -> None:
    """Exactly one input-output source: national coefficients or a multi-regional table."""
    io = sc.data["input_output"]
    has_coef, has_mrio = "coefficients" in io, "mrio" in io
    if not has_coef and not has_mrio and sc.data["trade"]["linkages"]:
        raise sc.error(
            "trade.linkages needs input shares: the scenario gives no input-output table",
            "trade.linkages",
            True,
            allowed="linkages with input_output.coefficients or input_output.mrio, or "
            "linkages: false (a trade-only scenario)",
            hint="add input_output: {coefficients: {file: ...}}, or set trade.linkages: false",
        )
    if has_coef and has_mrio:
        raise sc.error(
            "give either input_output.coefficients or input_output.mrio, not both",
            "input_output",
            None,
            allowed="coefficients: {file: ...} or mrio: {format: pymrio, path: FOLDER}",
            hint="remove one of the two",
        )
    if has_mrio:
        mrio = io["mrio"]
        if "path" not in mrio:
            raise sc.error("input_output.mrio needs path", "input_output.mrio", mrio,
                           hint="add path: FOLDER (pymrio) or path: Z.csv (csv)")  # fmt: skip
        if mrio["format"] == "csv" and "final_demand" not in mrio:
            raise sc.error("a csv table needs final_demand", "input_output.mrio", mrio,
                           hint="add final_demand: Y.csv")  # fmt: skip


def check_shares(sc: Scenario) -> None:
    """Employment shares sum to 1; the investment mix sums to at most 1."""
    for region, shares in sc.data["economy"].get("employment_shares", {}).items():
        total = sum(shares.values())
        if abs(total - 1.0) > 1e-6:
            raise sc.error(
                "employment shares must sum to 1",
                f"economy.employment_shares.{region}",
                shares,
                allowed=f"sum 1 (these sum to {total:g})",
            )
    mix = sc.data["input_output"]["investment_mix"]
    if sum(mix.values()) > 1 + 1e-9:
        raise sc.error(
            "investment mix sums to more than 1",
            "input_output.investment_mix",
            mix,
            allowed="shares summing to at most 1",
        )


def check_regions_complete(sc: Scenario) -> None:
    """Per-region tables cover every region (wage and employment where given)."""
    for key in ("growth", "wage", "employment"):
        given = sc.data["economy"].get(key)
        if given is None:
            continue
        missing = [r for r in sc.region_ids if r not in given]
        if missing:
            raise sc.error(
                f"economy.{key} has no value for {', '.join(missing)}",
                f"economy.{key}",
                given,
                allowed="one entry per region",
                hint=f"add {missing[0]}: ...",
            )


def region_setting(sc: Scenario, value: Any) -> list[Any]:
    """A setting given once for all regions or as a mapping by region, in region order."""
    if isinstance(value, dict):
        return [value[r] for r in sc.region_ids]
    return [value] * len(sc.region_ids)


def check_labour(sc: Scenario) -> None:
    """Some region's labour is scarce: a fixed real wage everywhere has no equilibrium."""
    closure = sc.data["labour"]["closure"]
    if all(c == "fixed_real_wage" for c in region_setting(sc, closure)):
        raise sc.error(
            "every region fixes its real wage, so nothing bounds world employment "
            "(labour is the only factor of production)",
            "labour.closure",
            closure,
            allowed="full_employment or elastic in at least one region",
            hint="give the rest of the world full_employment, e.g. {ROW: full_employment, ...}",
        )
    inv = sc.data["investment"]
    fixed = [
        r for r, c in zip(sc.region_ids, region_setting(sc, closure), strict=True)
        if c == "fixed_real_wage"
    ]  # fmt: skip
    if fixed and (inv["projects"] or inv["portfolios"]):
        warn(
            sc,
            f"{', '.join(fixed)} fix the real wage in a scenario with plants: with labour the "
            "only factor, employment there absorbs the plants' whole productivity gain "
            "(docs/model.md, section 3), which can move it by large amounts",
            "labour.closure",
            closure,
            assumed="the fixed real wage as written",
            hint="use closure: elastic with a supply_elasticity for regions with slack labour",
        )


def check_migration(sc: Scenario) -> None:
    """Migration corridors join two different regions, each corridor once.

    A corridor's flow, stock, return rate and caps describe one population of migrants;
    a second entry for the same origin and destination would replace the first (the
    engine keeps one set per corridor), losing its flow and stock.
    """
    seen: dict[tuple[str, str], int] = {}
    for i, m in enumerate(sc.data["labour"]["migration"]):
        _check_pair(sc, f"labour.migration[{i}].destination", m["origin"], m["destination"])
        corridor = (m["origin"], m["destination"])
        if corridor in seen:
            first = seen[corridor]
            _, line = sc.where(f"labour.migration[{first}].origin")
            raise sc.error(
                f"the corridor {corridor[0]} -> {corridor[1]} has a second entry "
                f"(labour.migration[{first}]{f', line {line}' if line else ''}, is the first)",
                f"labour.migration[{i}].origin",
                m["origin"],
                allowed="one entry per origin and destination",
                hint="merge the entries (sum the flows and the stocks; one return rate, the "
                "flow-weighted mean of theirs); the model has one population of migrants a "
                "corridor",
            )
        seen[corridor] = i


def check_covariate_policy(sc: Scenario, p: dict[str, Any], base: str) -> None:
    """A covariate policy names a covariate of trade_costs.gravity; no other kind names one."""
    coefficients = (sc.data["trade_costs"].get("gravity") or {}).get("coefficients", {})
    if p["kind"] != "covariate":
        if "covariate" in p:
            raise sc.error(
                f"a {p['kind']} policy has no covariate",
                f"{base}.covariate",
                p["covariate"],
                allowed="covariate only with kind: covariate",
                hint="remove covariate, or set kind: covariate",
            )
        return
    name = p.get("covariate")
    if name not in coefficients:
        raise sc.error(
            "a covariate policy needs a covariate with an estimated coefficient"
            if name is None
            else f"covariate '{name}' has no coefficient in trade_costs.gravity",
            f"{base}.covariate",
            name,
            allowed=", ".join(coefficients) or "none: trade_costs.gravity gives no coefficients",
            hint="add trade_costs.gravity (sim estimate writes it) and name one of its covariates",
        )


def check_gravity(sc: Scenario) -> None:
    """The covariance (or standard errors) covers exactly the coefficients, symmetric PSD."""
    gravity = sc.data["trade_costs"].get("gravity")
    if not gravity:
        return
    names = list(gravity["coefficients"])
    base = "trade_costs.gravity"
    if "covariance" in gravity and "standard_errors" in gravity:
        raise sc.error(
            "both covariance and standard_errors are given",
            f"{base}.standard_errors",
            gravity["standard_errors"],
            allowed="one of the two",
            hint="keep covariance when the coefficients were estimated jointly",
        )
    for key in ("covariance", "standard_errors"):
        given = gravity.get(key)
        if given is not None and sorted(given) != sorted(names):
            raise sc.error(
                f"{key} does not cover exactly the coefficients",
                f"{base}.{key}",
                sorted(given),
                allowed=", ".join(names),
                hint=f"give {key} for every coefficient and no other",
            )
    cov = gravity.get("covariance")
    if cov is None:
        return
    for name in names:
        if sorted(cov[name]) != sorted(names):
            raise sc.error(
                f"covariance row {name} does not cover exactly the coefficients",
                f"{base}.covariance.{name}",
                sorted(cov[name]),
                allowed=", ".join(names),
            )
    matrix = np.array([[float(cov[a][b]) for b in names] for a in names])
    if not np.allclose(matrix, matrix.T, rtol=1e-9, atol=1e-14) or (
        np.linalg.eigvalsh((matrix + matrix.T) / 2).min() < -1e-12 * max(1.0, np.abs(matrix).max())
    ):
        raise sc.error(
            "the covariance is not a symmetric positive semi-definite matrix",
            f"{base}.covariance",
            names,
            allowed="a covariance matrix (as sim estimate writes it)",
            hint="copy the covariance of the estimation unchanged",
        )


def check_policies(sc: Scenario) -> None:
    """Policies fall inside the simulated period and their values fit their kind."""
    t = sc.data["time"]
    for i, p in enumerate(sc.data["policies"]):
        base = f"policies[{i}]"
        if not t["start"] <= p["date"] <= t["end"]:
            raise sc.error(
                "policy date outside the simulated period",
                f"{base}.date",
                p["date"],
                allowed=f"{t['start']} to {t['end']}",
                hint="move the date inside the period, extend time.start or time.end to "
                "include it, or remove the policy",
            )
        value = p["value"]
        check_covariate_policy(sc, p, base)
        if p["kind"] != "covariate" and isinstance(value, (int, float)) and value < 0:
            raise sc.error(
                "policy value must not be negative",
                f"{base}.value",
                value,
                allowed=">= 0",
            )
        if p["kind"] == "trade_cost" and isinstance(value, (int, float)) and value <= 0:
            raise sc.error(
                "a trade-cost factor must be positive",
                f"{base}.value",
                value,
                allowed="> 0 (1 = unchanged)",
            )


def check_output(sc: Scenario) -> None:
    """Each of ``output.pairs`` is two different regions of the scenario."""
    for i, pair in enumerate(sc.data["output"]["pairs"]):
        path = f"output.pairs[{i}]"
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(r, str) for r in pair)
        ):
            raise sc.error(
                "expected a pair of two region ids",
                path,
                pair,
                allowed=f"[a, b] with a and b among {', '.join(sc.region_ids)}",
                hint=f"write the pair as [{', '.join(sc.region_ids[:2])}]",
            )
        for j, region in enumerate(pair):
            if region not in sc.region_ids:
                close = difflib.get_close_matches(region, sc.region_ids, n=1)
                raise sc.error(
                    f"unknown region '{region}'",
                    f"{path}[{j}]",
                    region,
                    allowed=f"regions of this scenario: {', '.join(sc.region_ids)}",
                    hint=f"did you mean '{close[0]}'?" if close else "declare it under regions:",
                )
        if pair[0] == pair[1]:
            raise sc.error(
                "a pair needs two different regions",
                path,
                pair,
                allowed="[a, b] with a different from b",
                hint="name two different regions (trade within a region is not a pair)",
            )


# -- likely unit mistakes: located warnings (what was assumed) or errors ----------------------

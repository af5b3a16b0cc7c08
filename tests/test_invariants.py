"""Invariants of a run, checked with hypothesis on random valid variations of the tiny scenario.

Each example is the tiny scenario (3 regions, 2 sectors) with random growth,
elasticities, trade costs, pipelines, projects and portfolios, policies,
deficit closure and numeraire. Its run must satisfy, in every period and
replica:

* market clearing: each region-sector's output equals its sales,
  ``output == trade.sum(destination)``;
* the budget of every region under the chosen deficit closure, with
  expenditure taken from the trade flows (``trade.sum(origin, sector)``):
  ratio, expenditure/output ratios proportional to the baseline ones with one
  common factor; additive, expenditure minus output equal to the baseline
  deficit times world output growth;
* the numeraire: world output at baseline prices equal to supply, or the
  numeraire region's consumer price index equal to 1;
* capex: capital flows of listed projects equal the capex of the projects
  that reached construction (each completed project disburses exactly its
  capex), and period by period the rule of docs/model.md section 4;
* jobs equal to intensities times activity, recomputed here from the
  formulas of docs/model.md section 5 with an input-output system built
  independently from the scenario's CSV files (operation, construction,
  indirect and induced jobs);
* no negative or non-finite flows, jobs or migration.

The random draws (stage dates, capex, intensities, growth rates) come from
``sim.engine.draw.draw_batch`` and the expanded project list, calendar and
baseline table from the model; the flows, jobs and input-output system are
recomputed here.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from sim.api import load_scenario, prepare, simulate
from sim.engine.draw import Batch, draw_batch
from sim.engine.model import Model
from sim.errors import ConvergenceError
from sim.scenario.load import load_yaml_document
from tests.reliability_record import record

TINY_DIR = Path(__file__).parent / "data" / "tiny"
REGIONS = ["A", "B", "C"]
SECTORS = ["goods", "services"]
REPLICAS = 3
AREA = "invariants on random valid scenarios"


def settings_for(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---------------------------------------------------------------- random valid scenarios


def rate(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False).map(lambda x: round(x, 4))


def date_between(first: dt.date, last: dt.date) -> st.SearchStrategy[str]:
    return st.integers(0, (last - first).days).map(
        lambda d: (first + dt.timedelta(days=d)).isoformat()
    )


def region_pair() -> st.SearchStrategy[tuple[str, str]]:
    return st.permutations(REGIONS).map(lambda p: (p[0], p[1]))


@st.composite
def investors_of(draw: st.DrawFn, investor: str) -> dict[str, Any]:
    """``investor: R``, or a joint venture ``investors: {R: share, ...}`` led by ``investor``."""
    if draw(st.booleans()):
        return {"investor": investor}
    partner = draw(st.sampled_from([r for r in REGIONS if r != investor]))
    lead = draw(st.sampled_from([0.5, 0.6, 0.75, 0.9]))
    return {"investors": {investor: lead, partner: round(1.0 - lead, 2)}}


@st.composite
def durations(draw: st.DrawFn, low: float, high: float) -> Any:
    """A duration: a number, or a uniform distribution inside [low, high]."""
    a = draw(rate(low, high))
    if draw(st.booleans()):
        return a
    b = draw(rate(low, high))
    if a == b:
        return a
    return {"dist": "uniform", "low": min(a, b), "high": max(a, b)}


#: Known dates of listed projects: any subset, in order. A later date known alone used
#: to break the stage order and the capex invariant (the two regression tests below).
KNOWN_DATES = [
    (),
    ("financed",),
    ("construction",),
    ("operating",),
    ("financed", "construction"),
    ("financed", "operating"),
    ("construction", "operating"),
    ("financed", "construction", "operating"),
]


@st.composite
def project(draw: st.DrawFn, index: int, pipelines: list[str]) -> dict[str, Any]:
    host, investor = draw(region_pair())
    announced = dt.date.fromisoformat(
        draw(date_between(dt.date(2020, 1, 1), dt.date(2022, 12, 31)))
    )
    item: dict[str, Any] = {
        "id": f"p{index}",
        "sector": draw(st.sampled_from(SECTORS)),
        "host": host,
        **draw(investors_of(investor)),
        "capex": draw(rate(1, 200))
        if draw(st.booleans())
        else {"dist": "uniform", "low": 5.0, "high": 50.0},
        "announced": announced.isoformat(),
        "pipeline": draw(st.sampled_from(pipelines)),
    }
    day = announced
    for key in draw(st.sampled_from(KNOWN_DATES)):
        day = day + dt.timedelta(days=draw(st.integers(0, 700)))
        item[key] = day.isoformat()
    basis = draw(st.sampled_from(["inherited", "jobs_per_capex", "plant_productivity"]))
    if basis == "jobs_per_capex":
        item["jobs_per_capex"] = draw(rate(0, 15))
    elif basis == "plant_productivity":
        item["plant_productivity"] = draw(rate(0.2, 5))
    return item


@st.composite
def portfolio(draw: st.DrawFn, pipelines: list[str]) -> dict[str, Any]:
    host, investor = draw(region_pair())
    goods = draw(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]))
    stage = draw(st.sampled_from(["announced", "financed", "construction", "operating"]))
    item: dict[str, Any] = {
        "id": "grp",
        "count": draw(st.integers(1, 4)),
        "capex_total": draw(rate(10, 300)),
        "capex_dispersion": draw(rate(0, 1)),
        "host": host,
        **draw(investors_of(investor)),
        "sector_mix": {"goods": goods, "services": 1.0 - goods},
        "announced": ["2020-01-01", draw(date_between(dt.date(2020, 1, 1), dt.date(2021, 12, 31)))],
        "stage": stage,
        "pipeline": draw(st.sampled_from(pipelines)),
    }
    if stage != "announced":
        first = draw(date_between(dt.date(2022, 1, 1), dt.date(2023, 6, 30)))
        item["stage_dates"] = [first, draw(date_between(dt.date(2023, 7, 1), dt.date(2024, 6, 30)))]
    return item


@st.composite
def policy(draw: st.DrawFn, end_year: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["border_days", "trade_cost", "tariff"]))
    origin, destination = draw(region_pair())
    value = {
        "border_days": rate(0, 5),
        "trade_cost": rate(0.7, 1.3),
        "tariff": rate(0, 0.3),
    }[kind]
    return {
        "date": draw(date_between(dt.date(2020, 1, 1), dt.date(end_year, 12, 31))),
        "kind": kind,
        "origin": origin,
        "destination": destination,
        "symmetric": draw(st.booleans()),
        "value": draw(value)
        if draw(st.booleans()) or kind != "trade_cost"
        else {"dist": "uniform", "low": 0.8, "high": 1.1},
    }


@st.composite
def valid_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """The tiny scenario with random values everywhere the invariants care about."""
    doc = load_yaml_document(TINY_DIR / "tiny.yaml").data
    step = draw(st.sampled_from(["year", "year", "quarter"]))
    end_year = draw(st.integers(2031, 2034)) if step == "year" else 2030
    doc["time"] = {"start": "2020-01-01", "end": f"{end_year}-12-31", "step": step}
    econ = doc["economy"]
    econ["growth"] = {
        r: draw(rate(-0.03, 0.1)) if draw(st.booleans()) else {"2020": draw(rate(-0.03, 0.1)),
                                                                "2024": draw(rate(-0.03, 0.1))}
        for r in REGIONS
    }  # fmt: skip
    econ["productivity_growth"] = {r: draw(rate(-0.02, 0.06)) for r in REGIONS}
    doc["trade"]["elasticity"] = {
        "goods": {"dist": "normal", "mean": draw(rate(3, 8)), "sd": 0.5},
        "services": draw(rate(1.5, 10)),
    }
    doc["trade"]["closure"] = draw(st.sampled_from(["ratio", "additive"]))
    doc["trade"]["numeraire"] = draw(st.sampled_from(["world", *REGIONS]))
    costs = doc["trade_costs"]
    costs["cost_per_border_day"] = draw(rate(0, 0.05))
    costs["border_days"][0]["days"] = draw(rate(0, 5))
    if draw(st.booleans()):
        costs["tariffs"] = [{"origin": "C", "destination": ["A", "B"], "rate": draw(rate(0, 0.3))}]
    if draw(st.booleans()):
        costs["trend"] = [{"origin": "A", "destination": "C", "rate": draw(rate(-0.05, 0.05))}]
    inv = doc["investment"]
    inv["jobs_per_capex"] = draw(rate(0, 10))
    inv["output_per_capex"] = draw(rate(0, 1.5))
    inv["construction_jobs_per_capex"] = draw(rate(0, 20))
    if draw(st.booleans()):
        inv["intensity_year"] = draw(st.integers(2018, 2026))
    inv["pipelines"] = {
        name: {
            "to_financing": draw(durations(0, 2)),
            "to_construction": draw(durations(0, 1)),
            "construction": draw(durations(0.1, 3)),
            "ramp_up": draw(durations(0, 3)),
            "odds_financing": draw(rate(0.3, 1)),
            "odds_construction": draw(rate(0.3, 1)),
            "odds_operation": draw(rate(0.3, 1)),
            "abandon_point": draw(rate(0, 1)),
        }
        for name in ("p1", "p2")
    }
    names = ["p1", "p2", "default"]
    inv["projects"] = [draw(project(i, names)) for i in range(draw(st.integers(0, 4)))]
    inv["portfolios"] = [draw(portfolio(names))] if draw(st.booleans()) else []
    doc["labour"]["displacement"] = draw(rate(0, 0.5))
    goods = draw(rate(0, 0.6))
    doc["input_output"]["investment_mix"] = {"goods": goods, "services": draw(rate(0, 1 - goods))}
    econ["wage"] = {r: draw(rate(100, 6000)) for r in REGIONS}
    doc["input_output"]["consumption_propensity"] = draw(rate(0.3, 0.95))
    doc["input_output"]["induced"] = draw(st.booleans())
    doc["policies"] = [draw(policy(end_year)) for _ in range(draw(st.integers(0, 2)))]
    doc["monte_carlo"] = {
        "replicas": REPLICAS,
        "seed": draw(st.integers(0, 2**32)),
        "batch_size": REPLICAS,
    }
    return doc


# ---------------------------------------------------------------- independent recomputation


def read_coefficients(path: Path) -> np.ndarray:
    """National coefficients (region, input, output) from the CSV; '*' rows first."""
    table = np.zeros((len(REGIONS), len(SECTORS), len(SECTORS)))
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in sorted(rows, key=lambda r: r["region"] != "*"):
        k, m = SECTORS.index(row["input"]), SECTORS.index(row["output"])
        regions = range(len(REGIONS)) if row["region"] == "*" else [REGIONS.index(row["region"])]
        for r in regions:
            table[r, k, m] = float(row["value"])
    return table


def by_region(spec: Any, region: str) -> float:
    return float(spec[region] if isinstance(spec, dict) else spec)


@dataclass
class Expected:
    """What docs/model.md says the run must produce, per replica and period."""

    capex_flow: np.ndarray  # (N, T, R, R, S) capital flow of projects, per period
    construction_jobs: np.ndarray  # (N, T, R, S)
    operation_jobs: np.ndarray  # (N, T, R, S)
    indirect_jobs: np.ndarray  # (N, T, R, S)
    induced_jobs: np.ndarray  # (N, T, R, S)
    supply: np.ndarray  # (N, T) world output at baseline prices, money per year
    reached: np.ndarray  # (N, P) project started construction within the horizon
    completed: np.ndarray  # (N, P) ... and started operating within it


def period_of(t: np.ndarray, dt_: float, periods: int) -> np.ndarray:
    """Period index of model-clock dates (docs/model.md section 2); inf -> never (T)."""
    k = np.floor(np.where(np.isfinite(t), t, 1e9) / dt_ + 1e-9)
    return np.clip(k, 0, periods).astype(int)


def expected_run(model: Model, batch: Batch) -> Expected:
    """Recompute capital flows, jobs and supply from the draws, the scenario and its tables."""
    doc = model.scenario.data  # validated: defaults filled in
    flows = model.flows  # the baseline table (balance_rule report: the CSV as read)
    cal = model.calendar
    n, periods, step = batch.count, cal.periods, cal.dt
    n_r, n_s = len(REGIONS), len(SECTORS)
    projects = model.projects
    host = np.array([p.host for p in projects], dtype=int)
    sector = np.array([p.sector for p in projects], dtype=int)
    # Who pays each project's capex, read from the scenario entry that lists it.
    paying = []
    for p in projects:
        kind, ident = p.key.removeprefix("investment.").rstrip("]").split("[id=")
        entry = next(e for e in doc["investment"][kind] if e["id"] == ident)
        paying.append(entry.get("investors") or {entry["investor"]: 1.0})

    # Stages (section 4): snapped entry periods; construction lasts at least one period.
    entered = batch.stages.entered
    k_con = period_of(entered[:, :, 2], step, periods)
    k_op = period_of(entered[:, :, 3], step, periods)
    started = k_con < periods
    k_op = np.where(started, np.minimum(np.maximum(k_op, k_con + 1), periods), k_op)
    k_ab = period_of(batch.stages.abandoned, step, periods)
    t2 = entered[:, :, 2]
    with np.errstate(invalid="ignore"):
        n_p = np.floor((t2 + batch.planned_construction) / step + 1e-9) - np.floor(t2 / step + 1e-9)
    n_p = np.maximum(np.nan_to_num(n_p, nan=1.0, posinf=1.0), 1.0)

    # Output per worker (section 5).
    start_year = cal.starts[0].year + (cal.starts[0].month - 1) / 12
    y_int = doc["investment"].get("intensity_year") or cal.starts[0].year
    gamma = batch.productivity  # (N, R)
    delta = batch.displacement[:, None]  # (N, 1)

    # Input-output system built from the CSV and the baseline table (section 5).
    a_nat = read_coefficients(TINY_DIR / "coefficients.csv")
    expenditure_s = flows.sum(axis=0)  # (R dest, S)
    shares = flows / expenditure_s[None]  # pi_ijs
    output = flows.sum(axis=1)  # Y_is
    big_a = np.zeros((n_r * n_s, n_r * n_s))
    for i in range(n_r):
        for s in range(n_s):
            for j in range(n_r):
                for t in range(n_s):
                    big_a[i * n_s + s, j * n_s + t] = a_nat[j, s, t] * shares[i, j, s]
    eye = np.eye(n_r * n_s)
    leontief = np.linalg.inv(eye - big_a)
    io = doc["input_output"]
    employment = np.array([doc["economy"]["employment"][r] for r in REGIONS], dtype=float)
    jobs_per_output = (employment / output.sum(axis=1))[:, None] * np.ones((1, n_s))  # e_rs
    # Households earn jobs x wage (money per person-year), at most the value added.
    wage = np.array([doc["economy"]["wage"][r] for r in REGIONS], dtype=float) * 12 / 1e6
    value_added = 1.0 - a_nat.sum(axis=1)  # (R, S): 1 - the column sums of the coefficients
    pay = np.minimum(jobs_per_output * wage[:, None], value_added)  # (R, S) per unit of output
    household = np.zeros((n_r * n_s, n_r))
    if io["induced"]:
        beta = io["consumption_propensity"]
        # Households spend by final-demand shares at purchaser prices (tariffs included).
        tariff = np.zeros_like(flows)
        for rule in doc.get("trade_costs", {}).get("tariffs", []):
            origins = [REGIONS.index(r) for r in np.atleast_1d(rule["origin"])]
            for j in [REGIONS.index(r) for r in np.atleast_1d(rule["destination"])]:
                for i in origins:
                    if i != j:
                        tariff[i, j] = rule["rate"]
        purchases = (flows * (1.0 + tariff)).sum(axis=0)
        alpha = purchases / purchases.sum(axis=1, keepdims=True)  # (R, S)
        closed = np.zeros((n_r * n_s + n_r, n_r * n_s + n_r))
        closed[: n_r * n_s, : n_r * n_s] = big_a
        for r in range(n_r):
            closed[n_r * n_s + r, r * n_s : (r + 1) * n_s] = pay[r]
            for i in range(n_r):
                for s in range(n_s):
                    closed[i * n_s + s, n_r * n_s + r] = (
                        by_region(beta, REGIONS[r]) * alpha[r, s] * shares[i, r, s]
                    )
        inverse = np.linalg.inv(np.eye(len(closed)) - closed)
        lstar = inverse[: n_r * n_s, : n_r * n_s]
        household = inverse[: n_r * n_s, n_r * n_s :]  # output per unit of household income
    else:
        lstar = leontief
    mix = np.array([io["investment_mix"].get(s, 0.0) for s in SECTORS])
    on_site = max(0.0, 1.0 - mix.sum())
    stated = np.isfinite(batch.plant_productivity)  # (N, P) direct jobs from productivity

    # Growth levels (section 2) for the numeraire check.
    growth = batch.growth  # (N, T, R, S) rate in force
    level = np.ones((n, periods, n_r, n_s))
    for k in range(1, periods):
        level[:, k] = level[:, k - 1] * (1 + growth[:, k - 1]) ** step

    capex_flow = np.zeros((n, periods, n_r, n_r, n_s))
    con_jobs = np.zeros((n, periods, n_r, n_s))
    op_jobs = np.zeros((n, periods, n_r, n_s))
    ind_jobs = np.zeros((n, periods, n_r, n_s))
    hh_jobs = np.zeros((n, periods, n_r, n_s))
    supply = np.zeros((n, periods))
    for k in range(periods):
        t_k = start_year + (k + 0.5) * step
        in_con = (k_con <= k) & (k < k_op) & (k < k_ab)  # (N, P)
        operating = (k >= k_op) & (k_op < periods) & (k < k_ab)
        spend = np.where(in_con, batch.capex / (n_p * step), 0.0)  # x_p, per year
        ramp_periods = batch.ramp_years / step
        with np.errstate(divide="ignore", invalid="ignore"):
            ramp = np.where(ramp_periods > 0, (k - k_op + 0.5) / ramp_periods, 1.0)
        ramp = np.where(operating, np.clip(ramp, 0.0, 1.0), 0.0)
        plant = batch.capex * batch.output_per_capex * ramp * (1 - delta)  # q_p, per year
        for m in range(n):
            pi_h = (1 + gamma[m, host]) ** (-(t_k - y_int))
            e = (jobs_per_output * (1 + gamma[m])[:, None] ** (-(k + 0.5) * step)).reshape(-1)
            real_wage = wage * (1 + gamma[m]) ** ((k + 0.5) * step)  # grows with output/worker
            f = np.zeros(n_r * n_s)
            q = np.zeros(n_r * n_s)
            earned = np.zeros(n_r)  # labour income of plants and sites, by host
            for j in range(len(projects)):
                h, s = host[j], sector[j]
                for name, share in paying[j].items():
                    capex_flow[m, k, REGIONS.index(name), h, s] += share * spend[m, j] * step
                site = spend[m, j] * batch.construction_jobs[m] * pi_h[j]
                con_jobs[m, k, h, s] += site
                if stated[m, j]:  # the sector's jobs per output over the plant's productivity
                    own = plant[m, j] * e[h * n_s + s] / batch.plant_productivity[m, j]
                else:
                    own = (
                        batch.capex[m, j] * batch.jobs_per_capex[m, j] * ramp[m, j]
                        * (1 - delta[m, 0]) * pi_h[j]
                    )  # fmt: skip
                op_jobs[m, k, h, s] += own
                earned[h] += min(own * real_wage[h], value_added[h, s] * plant[m, j])
                earned[h] += min(site * real_wage[h], on_site * spend[m, j])
                f += (spend[m, j] * mix[None, :] * shares[:, h, :]).reshape(-1)
                q[h * n_s + s] += plant[m, j]
            ind_jobs[m, k] = (e * (leontief @ f + (leontief - eye) @ q)).reshape(n_r, n_s)
            # The closed inverse pays plant output its sector's wage bill: replace it by what
            # plants and construction sites pay.
            gap = earned - (pay * q.reshape(n_r, n_s)).sum(axis=1)
            hh_out = (lstar - leontief) @ (f + q) + household @ gap
            hh_jobs[m, k] = (e * hh_out).reshape(n_r, n_s)
            supply[m, k] = (level[m, k] * output).sum() + q.sum()
    return Expected(
        capex_flow, con_jobs, op_jobs, ind_jobs, hh_jobs, supply,
        reached=started, completed=started & (k_op < periods) & (k_op < k_ab),
    )  # fmt: skip


# ---------------------------------------------------------------- the test


#: A refused capex burden is at least this large: the investor's outlay against its value
#: added, or its outlay abroad against its exports (the trade surplus that must pay for it).
BURDEN = 0.2


def unpayable_burden(message: str) -> float | None:
    """The larger burden a capex refusal states (sim.engine.financing), or None."""
    found = re.search(
        r"has no equilibrium: ([\d,.e+-]+) a year, ([\d,.e+-]+) of it abroad, is \d+% of "
        r"\w+'s value added \(([\d,.e+-]+) a year; exports ([\d,.e+-]+) a year",
        message,
    )
    if found is None:
        return None
    outlay, abroad, value_added, exports = (float(g.replace(",", "")) for g in found.groups())
    return max(outlay / value_added, abroad / max(exports, 1e-300))


def close(actual: np.ndarray, expected: np.ndarray, what: str, rtol: float = 1e-9) -> None:
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-12)
    err = float(np.abs(actual - expected).max(initial=0.0)) / scale
    assert err <= rtol, f"{what}: max relative deviation {err:.3g}"


@settings_for(100)
@given(valid_scenarios())
def test_invariants_hold_on_random_valid_scenarios(doc: dict[str, Any]) -> None:
    sc = load_scenario(doc, base_dir=TINY_DIR)
    model = prepare(sc)
    try:
        ds = simulate(model, batch_size=REPLICAS)
    except ConvergenceError as exc:
        # Capex an investor cannot pay (a transfer too large against its income and its
        # exports) has no equilibrium, and the run refuses it: only for a real burden.
        burden = unpayable_burden(str(exc))
        assert burden is not None, f"a run of a valid scenario failed: {exc}"
        assert burden >= BURDEN, f"capex refused at a small burden: {exc}"
        reject()
    batch = draw_batch(model, 0, REPLICAS)
    step = model.calendar.dt
    periods = model.calendar.periods
    flows = model.flows  # the baseline table the run uses (balance_rule report: the CSV)

    trade = ds.trade.values  # (N, T, R, R, S) per period
    output = ds.output.values  # (N, T, R, S)
    checked: list[str] = []

    # No negative or non-finite flows, jobs, migration.
    for name in ("trade", "output", "capital_flow", "capital_flow_projects", "jobs", "migration"):
        values = ds[name].values
        assert np.isfinite(values).all(), name
        assert (values >= -1e-12 * max(1.0, float(np.abs(values).max()))).all(), name
    checked.append("no negative or non-finite flows, jobs or migration")

    # Market clearing: output equals sales in every period.
    close(output, trade.sum(axis=3), "market clearing: output vs sales", rtol=1e-9)
    checked.append("market clearing: output == trade.sum(destination)")

    # Budget of every region under the closure; expenditure from trade flows.
    # Capex goods bought in a host and paid by a foreign investor move the host's deficit
    # by that inflow (sim.kernels.equilibrium, investment demand): take it out.
    goods = ds.investment_goods.values  # (N, T, investor, host)
    inflow = goods.sum(axis=2) - goods.sum(axis=3)
    spent = trade.sum(axis=(2, 4)) - inflow  # (N, T, R dest)
    earned = output.sum(axis=3)  # (N, T, R)
    base_out = flows.sum(axis=(1, 2))
    base_exp = flows.sum(axis=(0, 2))
    if sc.data["trade"]["closure"] == "ratio":
        factor = (spent / earned) / (base_exp / base_out)  # common across regions
        close(factor, np.repeat(factor[:, :, :1], factor.shape[2], axis=2), "ratio closure")
        close(spent.sum(axis=2), earned.sum(axis=2), "world spending equals world income")
    else:
        growth = earned.sum(axis=2, keepdims=True) / base_out.sum()
        close(spent - earned, (base_exp - base_out) * growth, "additive closure", rtol=1e-8)
    checked.append(f"budget under the {sc.data['trade']['closure']} closure")

    expected = expected_run(model, batch)
    numeraire = sc.data["trade"]["numeraire"]
    if numeraire == "world":
        close(earned.sum(axis=2) / step, expected.supply, "world numeraire: output at base prices")
    else:
        r = REGIONS.index(numeraire)
        # Income is spending at producer prices plus the tariffs paid on it (revenue),
        # less the capex goods bought there (investment, not consumption).
        bought = trade.sum(axis=(2, 4))[:, :, r] - goods.sum(axis=2)[:, :, r]
        income = bought + ds.tariff_revenue.values[:, :, r]
        price_index = income / ds.real_income.values[:, :, r]
        close(price_index, np.ones_like(price_index), f"numeraire {numeraire}: its CPI")
    checked.append(f"numeraire ({'world' if numeraire == 'world' else 'region'})")

    # Capex: each completed project disbursed exactly its capex; flows period by period.
    cap = ds.capital_flow_projects.values
    close(cap, expected.capex_flow, "capital flows of projects, period by period")
    per_project_total = np.where(expected.completed, batch.capex, 0.0).sum(axis=1)
    only_completed = ~(expected.reached & ~expected.completed).any(axis=1)  # nothing unfinished
    if only_completed.any():
        close(
            cap.sum(axis=(1, 2, 3, 4))[only_completed],
            per_project_total[only_completed],
            "capex disbursed vs capex of the projects that reached construction",
        )
    checked.append("capex disbursed == capex of projects that reached construction")

    jobs = ds.jobs.values  # (N, T, R, S, kind)
    close(jobs[..., 1], expected.operation_jobs, "operation jobs")
    close(jobs[..., 0], expected.construction_jobs, "construction jobs")
    close(jobs[..., 2], expected.indirect_jobs, "indirect jobs", rtol=1e-8)
    close(jobs[..., 3], expected.induced_jobs, "induced jobs", rtol=1e-8)
    checked.append("jobs == intensities x activity (4 kinds)")

    for what in checked:
        record(AREA, what, "held", count=REPLICAS * periods)
    built = int(expected.completed.sum())
    record(AREA, "projects completed in the examples (replica x project)", "seen", count=built)
    assert math.isfinite(float(ds.wage.values.sum()))


def test_expected_run_is_not_vacuous() -> None:
    """The recomputation sees projects that build and operate (guards the oracle itself)."""
    doc = load_yaml_document(TINY_DIR / "tiny.yaml").data
    doc["time"]["end"] = "2034-12-31"
    model = prepare(load_scenario(doc, base_dir=TINY_DIR, replicas=REPLICAS))
    batch = draw_batch(model, 0, REPLICAS)
    expected = expected_run(model, batch)
    assert expected.completed.any()
    assert expected.operation_jobs.sum() > 0
    assert expected.indirect_jobs.sum() > 0
    assert expected.induced_jobs.sum() > expected.indirect_jobs.sum() * 1e-6
    ds = simulate(model, batch_size=REPLICAS)
    # A wrong oracle (say, ramp-up off by a period) would not match the run.
    shifted = expected.operation_jobs[:, 1:]
    assert not np.allclose(ds.jobs.values[:, :-1, ..., 1], shifted)
    close(ds.jobs.values[..., 1], expected.operation_jobs, "operation jobs of the tiny scenario")


def test_known_operating_date_alone_disburses_capex() -> None:
    """Regression: with only the operating date of a project known, capex was disbursed over
    the drawn construction time, not up to the known date, so a completed project paid out
    half its capex here (sim/engine/model.py, draw_batch `planned`). Found by the capex
    invariant; fixed in 5a364ee.
    """
    doc = load_yaml_document(TINY_DIR / "tiny.yaml").data
    doc["investment"]["portfolios"] = []
    doc["investment"]["pipelines"] = {"p": {"to_financing": 0.0, "to_construction": 0.0,
                                            "construction": 2.0}}  # fmt: skip
    doc["investment"]["projects"] = [
        {"id": "done", "sector": "goods", "host": "A", "investor": "B", "capex": 100.0,
         "announced": "2020-01-01", "operating": "2021-01-01", "pipeline": "p"},
    ]  # fmt: skip
    model = prepare(load_scenario(doc, base_dir=TINY_DIR, replicas=1))
    ds = simulate(model, batch_size=1)
    stages = ds.project_stage.values[0, :, 0]
    assert (stages == 4).any(), "the project operates"
    assert float(ds.capital_flow_projects.values.sum()) == pytest.approx(100.0)


def test_known_construction_date_before_drawn_financing() -> None:
    """Regression: a known start of construction did not bound the drawn financing date, so
    the stage read 'financed' while the plant was being built and only a quarter of the
    capex was paid (sim/kernels/stages.py, draw_stage_dates). Found by the capex invariant;
    fixed in 5a364ee.
    """
    doc = load_yaml_document(TINY_DIR / "tiny.yaml").data
    doc["time"]["step"] = "quarter"
    doc["investment"]["portfolios"] = []
    doc["investment"]["pipelines"] = {"p": {"to_financing": 1.5, "construction": 1.0}}
    doc["investment"]["projects"] = [
        {"id": "early", "sector": "goods", "host": "A", "investor": "B", "capex": 100.0,
         "announced": "2020-01-01", "construction": "2020-06-01", "pipeline": "p"},
    ]  # fmt: skip
    model = prepare(load_scenario(doc, base_dir=TINY_DIR, replicas=1))
    ds = simulate(model, batch_size=1)
    stages = ds.project_stage.values[0, :, 0]
    assert stages[1] == 3, f"stage in 2020Q2, when construction starts: {stages[:8]}"
    assert float(ds.capital_flow_projects.values.sum()) == pytest.approx(100.0)


pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

"""Draw everything random for a batch of replicas (:func:`draw_batch` -> :class:`Batch`).

The static model is built once (:mod:`sim.engine.model`); for each contiguous range of
replicas this module turns the scenario's parameter specifications into per-replica
arrays through the one keyed seeding path (:mod:`sim.engine.random`,
:mod:`sim.engine.params`): elasticities, growth, wages, trade costs, the projects'
stage dates and durations, price paths, policy values and the gravity coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from sim.engine.model import Model, Policy, Rule
from sim.engine.params import Sampler
from sim.engine.projects import PIPELINE_DEFAULTS
from sim.engine.random import PARAMETER, PROJECT, Streams
from sim.kernels.draws import quantile
from sim.kernels.prices import price_levels
from sim.kernels.stages import StageDates, draw_stage_dates

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class Batch:
    """Everything random for a contiguous range of replicas (leading axis N)."""

    first: int
    count: int
    theta: FloatArray  # (N, S)
    cost_per_day: FloatArray  # (N, S)
    growth: FloatArray  # (N, T, R, S) annual growth rate in force in each period
    productivity: FloatArray  # (N, R)
    labour_force: FloatArray  # (N, R)
    wage0: FloatArray  # (N, R)
    border_days: FloatArray  # (N, R, R, S) baseline days
    tariff: FloatArray  # (N, R, R, S) baseline tariffs
    # Trade-cost trend rules as time series and masks, not a dense (N, T, R, R, S) array
    # (Issue 15: 640 MB a 500-replica batch at 10 x 20): see :meth:`trend_at`.
    trend_rates: FloatArray  # (N, K, T) log of each rule's annual cost factor in force
    trend_masks: FloatArray  # (K, R, R, S) the flows each rule applies to (0 or 1)
    capex: FloatArray  # (N, P)
    jobs_per_capex: FloatArray  # (N, P); 0 where plant_productivity states the jobs
    # (N, P) output per direct worker relative to the host region-sector's, where stated
    # (investment.plant_productivity); NaN where jobs_per_capex states the jobs.
    plant_productivity: FloatArray
    output_per_capex: FloatArray  # (N, P)
    construction_jobs: FloatArray  # (N,)
    displacement: FloatArray  # (N,)
    stages: StageDates
    ramp_years: FloatArray  # (N, P)
    planned_construction: FloatArray  # (N, P) years
    other_investment: FloatArray  # (N, T, R, R) money per year
    migration_base: FloatArray  # (R, R) persons per year
    migration_recruit: FloatArray  # (N, R, R)
    migration_cap: FloatArray  # (N, R, R) persons per year
    migration_stock: FloatArray  # (R, R) persons at the start
    migration_return: FloatArray  # (R, R) share of the stock returning per year
    migration_elasticity: FloatArray  # (N,)
    policy_values: list[FloatArray]  # one (N,) array per policy
    price_level: FloatArray  # (N, T, R) current money per unit of constant money
    drawn: dict[str, FloatArray]

    def trend_at(self, k: int) -> FloatArray:
        """(N, R, R, S) log of the annual iceberg-cost factor in force in period ``k``.

        Rules on the same flow multiply: their log factors add, in the rules' order.
        """
        n_k, n_r, _, n_s = self.trend_masks.shape
        out = np.zeros((self.count, n_r, n_r, n_s))
        for j in range(n_k):
            out += self.trend_rates[:, j, k, None, None, None] * self.trend_masks[j]
        return out


def gravity_coefficients(smp: Sampler, doc: dict[str, Any]) -> dict[str, FloatArray]:
    """(N,) per replica for each of ``trade_costs.gravity.coefficients``.

    With a covariance the coefficients are drawn jointly, :math:`\beta + Lz` with
    :math:`LL^\top` the covariance and :math:`z` standard normal (one keyed stream);
    with standard errors, independently; otherwise they are the same in every replica.
    """
    gravity = doc["trade_costs"].get("gravity")
    if not gravity:
        return {}
    names = list(gravity["coefficients"])
    mean = np.array([float(gravity["coefficients"][k]) for k in names])
    key = "trade_costs.gravity.coefficients"
    if "covariance" in gravity:
        cov = np.array([[float(gravity["covariance"][a][b]) for b in names] for a in names])
        # Eigen-decomposition, not Cholesky: a covariance can be singular (PSD).
        w, v = np.linalg.eigh((cov + cov.T) / 2.0)
        root = v * np.sqrt(np.clip(w, 0.0, None))
        z = special.ndtri(smp.streams.uniforms(PARAMETER, key, len(names)))
        draws = mean[None] + z @ root.T
    elif "standard_errors" in gravity:
        se = np.array([float(gravity["standard_errors"][k]) for k in names])
        z = special.ndtri(smp.streams.uniforms(PARAMETER, key, len(names)))
        draws = mean[None] + z * se[None]
    else:
        return {k: np.full(smp.replicas, m) for k, m in zip(names, mean, strict=True)}
    out = {k: draws[:, i] for i, k in enumerate(names)}
    smp.drawn.update({f"{key}.{k}": v for k, v in out.items()})
    return out


def policy_values(smp: Sampler, doc: dict[str, Any], policies: list[Policy]) -> list[FloatArray]:
    """Each policy's (N,) value; a covariate policy's is its coefficient times the change,
    the log change of its flows' t^(1-sigma) (applied as an iceberg factor by sector)."""
    coefficients = gravity_coefficients(smp, doc)
    values = []
    for p in policies:
        value = smp.value(p.value, p.key)
        if p.kind == "covariate":
            value = coefficients[str(p.covariate)] * value
        values.append(value)
    return values


def covariate_factor(log_change: FloatArray, theta: FloatArray) -> FloatArray:
    """(N, S) iceberg factor of a covariate policy: t^(-theta) moves by exp(log_change)."""
    factor: FloatArray = np.exp(-log_change[:, None] / theta)
    return factor


def draw_batch(model: Model, first: int, count: int) -> Batch:
    """Draw every random quantity of replicas ``first .. first+count-1``."""
    sc = model.scenario
    d = sc.data
    regions, sectors = model.regions, model.sectors
    n_r, n_s, n_p = model.shape
    cal = model.calendar
    years = cal.years
    streams = Streams(d["monte_carlo"]["seed"], first, count)
    smp = Sampler(streams)
    econ = d["economy"]

    sigma = smp.by(model.elasticity, "trade.elasticity", sectors)
    theta = sigma - 1.0
    cost_per_day = smp.by(
        d["trade_costs"]["cost_per_border_day"], "trade_costs.cost_per_border_day", sectors
    )

    growth = np.zeros((count, cal.periods, n_r, n_s))
    for r, region in enumerate(regions):
        if not econ.get("growth"):
            continue  # a trade-only scenario: no growth path (check_run_inputs for sim run)
        growth[:, :, r, :] = smp.series(econ["growth"][region], f"economy.growth.{region}", years)[
            :, :, None
        ]
        for s, sector in enumerate(sectors):
            extra = econ.get("sector_growth", {}).get(region, {}).get(sector)
            if extra is not None:
                growth[:, :, r, s] += smp.series(
                    extra, f"economy.sector_growth.{region}.{sector}", years
                )
    productivity = smp.by(econ["productivity_growth"], "economy.productivity_growth", regions)
    labour_force = smp.by(econ["labour_force_growth"], "economy.labour_force_growth", regions)
    wage0 = (
        np.stack([smp.value(econ["wage"][r], f"economy.wage.{r}") for r in regions], axis=1)
        if econ.get("wage")
        else np.full((count, n_r), np.nan)  # a trade-only scenario: wages are not used
    )

    def rule_array(rules: list[Rule]) -> FloatArray:
        out = np.zeros((count, n_r, n_r, n_s))
        for rule in rules:
            value = smp.value(rule.value, rule.key)
            out = np.where(rule.mask[None], value[:, None, None, None], out)
        return out

    border_days = rule_array(model.border_rules)
    # The baseline's rates: the tariff table under the rules (fixed numbers, build_model).
    tariff = np.broadcast_to(model.baseline.tariff, (count, n_r, n_r, n_s)).copy()
    trend_rates = np.zeros((count, len(model.trend_rules), cal.periods))
    for j, rule in enumerate(model.trend_rules):
        trend_rates[:, j] = np.log1p(smp.series(rule.value, rule.key, years))  # (N, T)
    trend_masks = np.array([rule.mask for rule in model.trend_rules], dtype=np.float64).reshape(
        len(model.trend_rules), n_r, n_r, n_s
    )

    inv = d["investment"]
    capex = np.zeros((count, n_p))
    jobs = np.zeros((count, n_p))
    plant_productivity = np.full((count, n_p), np.nan)
    opc = np.zeros((count, n_p))
    durations = np.zeros((count, n_p, 3))
    ramp = np.zeros((count, n_p))
    odds = np.ones((count, n_p, 3))
    abandon_point = np.zeros((count, n_p))
    uniforms = np.zeros((count, n_p, 3))
    pipeline_cache: dict[str, dict[str, Any]] = {}
    for j, p in enumerate(model.projects):
        capex[:, j] = smp.value(p.capex, f"{p.key}.capex") if isinstance(p.capex, dict) else p.capex
        if p.jobs_per_capex is not None:
            jobs[:, j] = _shared_value(smp, p.jobs_per_capex, p.key, "jobs_per_capex", inv)
        else:  # stated as output per worker relative to the host region-sector's
            plant_productivity[:, j] = _shared_value(
                smp, p.plant_productivity, p.key, "plant_productivity", inv
            )
        opc[:, j] = _shared_value(smp, p.output_per_capex, p.key, "output_per_capex", inv)
        spec = inv["pipelines"].get(p.pipeline, {})
        if p.pipeline not in pipeline_cache:
            base = f"investment.pipelines.{p.pipeline}"
            pipeline_cache[p.pipeline] = {
                k: smp.value(spec.get(k, PIPELINE_DEFAULTS[k]), f"{base}.{k}")
                for k in ("odds_financing", "odds_construction", "odds_operation", "abandon_point")
            }
        cached = pipeline_cache[p.pipeline]
        # Per-project stream keyed by the project's id: durations and go/no-go draws.
        u = streams.uniforms(PROJECT, p.id, 7)
        for k, name in enumerate(("to_financing", "to_construction", "construction")):
            durations[:, j, k] = _duration(spec.get(name, PIPELINE_DEFAULTS[name]), u[:, k])
        ramp[:, j] = _duration(spec.get("ramp_up", PIPELINE_DEFAULTS["ramp_up"]), u[:, 3])
        uniforms[:, j, :] = u[:, 4:7]
        odds[:, j, 0] = cached["odds_financing"]
        odds[:, j, 1] = cached["odds_construction"]
        odds[:, j, 2] = cached["odds_operation"]
        abandon_point[:, j] = cached["abandon_point"]
    announced = np.array([p.announced for p in model.projects]) if n_p else np.zeros(0)
    known = np.array([p.known for p in model.projects]) if n_p else np.zeros((0, 3))
    stages = draw_stage_dates(announced, known, durations, odds, uniforms, abandon_point)
    # A known operating date ends construction (whether its start is known or drawn);
    # otherwise construction lasts the drawn duration.
    planned = np.where(
        np.isfinite(known[None, :, 2]),
        known[None, :, 2] - stages.entered[:, :, 2],
        durations[:, :, 2],
    )

    other = np.zeros((count, cal.periods, n_r, n_r))
    for i, o in enumerate(inv["other"]):
        key = f"investment.other[{i}]"
        amount = smp.series(o["amount"], f"{key}.amount", years)
        spec = o["amount"]
        last_year = (
            max(int(y) for y in spec) if isinstance(spec, dict) and "dist" not in spec else None
        )
        if last_year is not None:
            g = smp.value(o["growth_after"], f"{key}.growth_after")
            after = np.maximum(years - last_year, 0)
            amount = amount * (1.0 + g[:, None]) ** after[None, :]
        other[:, :, regions.index(o["origin"]), regions.index(o["destination"])] += amount

    base_flow = np.zeros((n_r, n_r))
    stock = np.zeros((n_r, n_r))
    returns = np.zeros((n_r, n_r))
    recruit = np.zeros((count, n_r, n_r))
    cap = np.full((count, n_r, n_r), np.inf)
    for i, m in enumerate(model.migration):
        a, b = regions.index(m["origin"]), regions.index(m["destination"])
        key = f"labour.migration[{i}]"
        flow = smp.value(m["flow"], f"{key}.flow")
        base_flow[a, b] = float(np.mean(flow)) if not isinstance(m["flow"], dict) else 0.0
        if isinstance(m["flow"], dict):
            raise sc.error(
                "a baseline migration flow cannot be a distribution",
                f"{key}.flow",
                m["flow"],
                allowed="a number of persons per year",
                hint="give the observed flow; put uncertainty in labour.migration_elasticity",
            )
        recruit[:, a, b] = smp.value(m["recruitment"], f"{key}.recruitment")
        stock[a, b] = m["stock"]
        returns[a, b] = m["return_rate"]
        if m.get("cap") is not None:
            cap[:, a, b] = smp.value(m["cap"], f"{key}.cap")
    lab = d["labour"]
    start = cal.starts[0]
    announced_year = (
        start.year + np.floor((start.month - 1) / 12 + announced + 1e-9).astype(np.int64)
        if n_p
        else np.zeros(0, dtype=np.int64)
    )
    by_year, first_year = _draw_price_levels(
        smp, d, regions, np.concatenate([years, announced_year])
    )
    price_level = by_year[:, years - first_year]
    if inv.get("capex_prices") == "current" and n_p:
        # Capex stated in current money of its announcement year, at the host's prices.
        hosts = np.array([p.host for p in model.projects])
        capex = capex / by_year[:, announced_year - first_year, hosts]
    return Batch(
        first=first,
        count=count,
        theta=theta,
        cost_per_day=cost_per_day,
        growth=growth,
        productivity=productivity,
        labour_force=labour_force,
        wage0=wage0,
        border_days=border_days,
        tariff=tariff,
        trend_rates=trend_rates,
        trend_masks=trend_masks,
        capex=capex,
        jobs_per_capex=jobs,
        plant_productivity=plant_productivity,
        output_per_capex=opc,
        construction_jobs=smp.value(
            inv["construction_jobs_per_capex"], "investment.construction_jobs_per_capex"
        ),
        displacement=smp.value(lab["displacement"], "labour.displacement"),
        stages=stages,
        ramp_years=ramp,
        planned_construction=planned,
        other_investment=other,
        migration_base=base_flow,
        migration_recruit=recruit,
        migration_cap=cap,
        migration_stock=stock,
        migration_return=returns,
        migration_elasticity=smp.value(lab["migration_elasticity"], "labour.migration_elasticity"),
        policy_values=policy_values(smp, d, model.policies),
        price_level=price_level,
        drawn=smp.drawn,
    )


def _draw_price_levels(
    smp: Sampler, d: dict[str, Any], regions: list[str], years: NDArray[np.int64]
) -> tuple[FloatArray, int]:
    """(N, Y, R) price levels relative to the base year, of consecutive years from the second value.

    The years cover ``years`` and the base year; without a price path every level is 1.
    """
    prices = d.get("prices") or {}
    first, last = int(years.min()), int(years.max())
    if not prices:
        return np.ones((smp.replicas, last - first + 1, len(regions))), first
    base = int(d["metadata"]["price_base_year"])
    span = np.arange(min(base, first), max(base, last) + 1)
    rates = prices["inflation"]
    exchange = prices.get("exchange_rate") or {}
    inflation = np.stack(
        [smp.series(rates[r], f"prices.inflation.{r}", span) for r in regions], axis=2
    )
    rate = np.stack(
        [
            smp.series(exchange[r], f"prices.exchange_rate.{r}", span)
            if r in exchange
            else np.ones_like(inflation[:, :, 0])
            for r in regions
        ],
        axis=2,
    )
    return price_levels(inflation, rate, base - int(span[0])), int(span[0])


def _shared_value(smp: Sampler, spec: Any, key: str, name: str, inv: dict[str, Any]) -> FloatArray:
    # A value inherited from investment.<name> is one draw per replica shared by
    # all projects (a common uncertainty); an override is keyed by the project.
    if spec is inv.get(name):
        return smp.value(spec, f"investment.{name}")
    return smp.value(spec, f"{key}.{name}")


def _duration(spec: Any, u: FloatArray) -> FloatArray:
    if isinstance(spec, dict):
        params = {k: float(v) for k, v in spec.items() if k != "dist"}
        return np.maximum(quantile(str(spec["dist"]), params, u), 0.0)
    return np.full(u.shape, float(spec))


__all__ = ["Batch", "covariate_factor", "draw_batch", "gravity_coefficients", "policy_values"]

"""A per-replica reference implementation of the model, for the speed-up benchmark.

This is the model written the way a careful economist writes it by hand when
there is no batching engine: one replica at a time, one SimPy process per
project (its stage changes are events at their dates), one per policy, one for
the period's economy, and the model's equations (docs/model.md, sections 3-5)
in NumPy on that replica's own arrays, without a replica axis. It shares with
the engine only what a fair comparison must share:

- the static model (:func:`sim.engine.model.build_model`: baseline trade, the
  input-output inverses, the project list) and the draws
  (:func:`sim.engine.draw.draw_batch` called for one replica at a time, so
  replica ``k`` gets bitwise the draws it gets in any batch);
- the equilibrium solver and its tolerances
  (:func:`sim.kernels.equilibrium.solve_equilibrium`, called with one replica, warm
  started from the replica's last two periods as in the engine,
  :func:`sim.kernels.equilibrium.extrapolate_unknowns`).

Everything else (timing of stages, capex disbursement, ramp-up, supply
changes, trade costs, jobs, wages, migration, capital flows) is written again
here from the documentation, so the equivalence check in the suite and in
``tests/test_benchmarks.py`` also cross-checks the engine against the written
model. Results are the engine's raw arrays (leading axes replica, period).
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from sim.engine.draw import Batch, draw_batch
from sim.engine.model import Model
from sim.errors import ConvergenceError
from sim.kernels.equilibrium import extrapolate_unknowns, solve_equilibrium, unknowns_of
from sim.kernels.stages import ABANDONED, CONSTRUCTION, OPERATING, STAGES

FloatArray = NDArray[np.float64]

#: Arrays compared with the engine (all float64 except ``project_stage``).
COMPARED = (
    "trade",
    "output",
    "price",
    "expenditure",
    "price_index",
    "capital_flow_projects",
    "capital_flow_other",
    "jobs",
    "migration",
    "migrant_stock",
    "wage",
    "employment",
    "employment_change",
    "projects_by_stage",
    "project_stage",
    "plant_productivity",
)


@dataclass
class ReplicaResult:
    """One replica's outputs, leading axis period, and what it took."""

    arrays: dict[str, NDArray[Any]]
    events: int
    draw_seconds: float
    run_seconds: float


@dataclass
class Replica:
    """State of one replica of the economy (arrays without a replica axis)."""

    model: Model
    draws: Batch  # drawn for this replica alone (count 1)
    stage: NDArray[np.int8] = field(init=False)
    events: int = 0

    def __post_init__(self) -> None:
        m, d = self.model, self.draws
        n_r, n_s, n_p = m.shape
        cal = m.calendar
        self.dt = cal.dt
        self.periods = cal.periods
        first = cal.starts[0]
        self.start_year = first.year + (first.month - 1) / 12.0
        # This replica's draws.
        self.theta = d.theta[0]  # (S,)
        self.cost_per_day = d.cost_per_day[0]  # (S,)
        self.growth = d.growth[0]  # (T, R, S) annual rate in force in each period
        self.productivity = d.productivity[0]  # (R,)
        self.labour_force = d.labour_force[0]  # (R,)
        self.wage0 = d.wage0[0]  # (R,)
        # (T, R, R, S) log of the annual cost factor, rules adding on shared flows
        self.trend = np.zeros((d.trend_rates.shape[2], *d.trend_masks.shape[1:]))
        for rates, mask in zip(d.trend_rates[0], d.trend_masks, strict=True):
            self.trend += rates[:, None, None, None] * mask
        self.capex = d.capex[0]  # (P,)
        self.jobs_per_capex = d.jobs_per_capex[0]
        self.plant_productivity = d.plant_productivity[0]  # NaN where jobs_per_capex states jobs
        self.output_per_capex = d.output_per_capex[0]
        self.construction_jobs = float(d.construction_jobs[0])
        self.keep = 1.0 - float(d.displacement[0])
        self.ramp_years = d.ramp_years[0]
        self.other_investment = d.other_investment[0]  # (T, R, R) money per year
        self.migration_base = d.migration_base  # (R, R) persons per year
        self.recruitment = d.migration_recruit[0]  # (R, R)
        self.elasticity = float(d.migration_elasticity[0])
        # Policy instruments in force; the baseline values set the base of cost changes.
        self.border_days = d.border_days[0].copy()
        self.tariff = d.tariff[0].copy()
        self.iceberg = np.ones((n_r, n_r, n_s))
        self.cap = d.migration_cap[0].copy()  # persons per year
        self.base_cost = 1.0 + self.cost_per_day * d.border_days[0]
        # Projects: where they are, and the period each stage starts (T = never).
        self.host = np.array([p.host for p in m.projects], dtype=np.int64)
        self.sector = np.array([p.sector for p in m.projects], dtype=np.int64)
        self.host_cell = self.host * n_s + self.sector  # index into (R * S)
        # Each investor pays its share of a project's capex (one leg per investor).
        self.leg_project = np.array(
            [j for j, p in enumerate(m.projects) for _ in p.investors], dtype=np.int64
        )
        self.leg_share = np.array([s for p in m.projects for _, s in p.investors], dtype=float)
        leg_investor = np.array([i for p in m.projects for i, _ in p.investors], dtype=np.int64)
        leg_host, leg_sector = self.host[self.leg_project], self.sector[self.leg_project]
        self.flow_cell = (leg_investor * n_r + leg_host) * n_s + leg_sector  # into (R*R*S)
        self.pair_cell = leg_investor * n_r + leg_host  # into (R*R)
        self.capex_mix = m.investment_mix
        self.entered = np.array([[self.period_of(y) for y in row] for row in d.stages.entered[0]])
        self.entered = self.entered.reshape(n_p, 4)
        self.abandoned = np.array([self.period_of(y) for y in d.stages.abandoned[0]])
        self.entered_operation = self.entered[:, 3].copy()
        self.disbursement_periods = np.ones(n_p)
        for j in range(n_p):
            start = d.stages.entered[0, j, 2]
            operating = d.stages.entered[0, j, 3]
            if self.entered[j, 2] < self.periods and not operating < 0:
                # Construction lasts at least one period, so a project that builds disburses
                # (unless it was operating before the horizon began).
                later = max(self.entered[j, 3], self.entered[j, 2] + 1)
                self.entered_operation[j] = min(later, self.periods)
            if math.isfinite(start):
                # Capex is spread over the planned construction time, not cut by the horizon.
                end = start + d.planned_construction[0, j]
                planned = math.floor(end / self.dt + 1e-9) - math.floor(start / self.dt + 1e-9)
                self.disbursement_periods[j] = max(planned, 1)
        self.stage = np.zeros(n_p, dtype=np.int8)
        self.identity = np.eye(n_r * n_s)
        # The period's economy carries the solver's warm start, last period's persons
        # employed and the migrant stocks.
        self.unknowns = np.zeros(m.labour_markets.count)
        self.unknowns_before = self.unknowns
        self.log_trend = np.zeros((n_r, n_r, n_s))
        self.supply_level = np.ones((n_r, n_s))  # output level from growth alone
        self.previous_persons = m.employment.sum(axis=1)
        self.stock = d.migration_stock.copy()
        self.return_rate = d.migration_return
        self.out: dict[str, NDArray[Any]] = {
            "trade": np.zeros((self.periods, n_r, n_r, n_s)),
            "output": np.zeros((self.periods, n_r, n_s)),
            "price": np.zeros((self.periods, n_r, n_s)),
            "expenditure": np.zeros((self.periods, n_r)),
            "price_index": np.zeros((self.periods, n_r)),
            "capital_flow_projects": np.zeros((self.periods, n_r, n_r, n_s)),
            "capital_flow_other": np.zeros((self.periods, n_r, n_r)),
            "jobs": np.zeros((self.periods, n_r, n_s, 4)),
            "migration": np.zeros((self.periods, n_r, n_r)),
            "migrant_stock": np.zeros((self.periods, n_r, n_r)),
            "employment_change": np.zeros((self.periods, n_r, n_s)),
            "wage": np.zeros((self.periods, n_r)),
            "employment": np.zeros((self.periods, n_r, n_s)),
            "projects_by_stage": np.zeros((self.periods, len(STAGES))),
            "project_stage": np.zeros((self.periods, n_p), dtype=np.int8),
            "solver_iterations": np.zeros(self.periods),
        }
        # Each plant's output per worker relative to its host region-sector's (section 5):
        # stated, or the sector's jobs per unit of output at the intensity year over the
        # plant's (jobs per capex over output per capex).
        sector_jobs = m.employment_coef[self.host, self.sector] * (
            1.0 + self.productivity[self.host]
        ) ** (self.start_year - m.intensity_year)
        with np.errstate(divide="ignore", invalid="ignore"):
            implied = np.where(
                self.jobs_per_capex > 0,
                sector_jobs * self.output_per_capex / self.jobs_per_capex,
                np.inf,  # no direct jobs
            )
        self.out["plant_productivity"] = np.where(
            np.isfinite(self.plant_productivity), self.plant_productivity, implied
        )

    def period_of(self, year: float) -> int:
        """Period whose start is the latest on or before a model-clock date (T if never)."""
        if not math.isfinite(year):
            return self.periods
        return min(max(math.floor(year / self.dt + 1e-9), 0), self.periods)

    # -- SimPy processes ---------------------------------------------------------------------
    def project(self, env: simpy.Environment, j: int) -> Generator[simpy.Event, Any, None]:
        """A project moves up one stage at each stage date, until it operates or is dropped."""
        dates = [(int(k), 0) for k in (*self.entered[j, :3], self.entered_operation[j])]
        dates.append((int(self.abandoned[j]), 1))
        for period, dropped in sorted(dates):
            if period >= self.periods:
                break
            yield env.timeout(period - env.now)
            self.events += 1
            if dropped:
                self.stage[j] = ABANDONED
                return
            self.stage[j] += 1

    def policy(self, env: simpy.Environment, i: int) -> Generator[simpy.Event, Any, None]:
        """A policy takes effect at the start of its period, on the flows it names."""
        policy = self.model.policies[i]
        yield env.timeout(policy.period)
        self.events += 1
        value = float(self.draws.policy_values[i][0])
        if policy.kind == "migration_cap":
            self.cap = np.where(policy.mask, value, self.cap)
        elif policy.kind == "border_days":
            self.border_days = np.where(policy.mask, value, self.border_days)
        elif policy.kind == "tariff":
            self.tariff = np.where(policy.mask, value, self.tariff)
        elif policy.kind == "covariate":  # t^(-theta) moves by exp(coefficient x change)
            factor = np.exp(-value / self.theta)  # (S,)
            self.iceberg = np.where(policy.mask, self.iceberg * factor, self.iceberg)
        else:  # trade_cost: multiplies the iceberg factor in force
            self.iceberg = np.where(policy.mask, self.iceberg * value, self.iceberg)

    def economy(self, env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        """Each period's economy at mid-period, after the period's stage and policy events."""
        for k in range(self.periods):
            yield env.timeout(k + 0.5 - env.now)
            self.events += 1
            self.period(k)

    # -- the period's economy (docs/model.md, sections 3 to 5) -------------------------------
    def period(self, k: int) -> None:
        """Compute period ``k``: trade equilibrium, capital flows, jobs, wages, migration."""
        m = self.model
        n_r, n_s, _ = m.shape
        dt = self.dt
        trade_spec = m.scenario.data["trade"]
        y0 = m.baseline.output  # (R, S) money per year
        if k > 0:
            self.supply_level = self.supply_level * (1.0 + self.growth[k - 1]) ** dt
            self.log_trend = self.log_trend + self.trend[k - 1] * dt

        # Projects: capex disbursed during construction, output once operating.
        building = self.stage == CONSTRUCTION
        operating = self.stage == OPERATING
        spend = np.where(building, self.capex / (self.disbursement_periods * dt), 0.0)  # per year
        ramp_periods = self.ramp_years / dt
        # Ramp-up counts from the operating date, also one before the horizon.
        opened = self.draws.stages.entered[0, :, 3] / dt
        start = np.where(np.isfinite(opened) & (opened < 0), opened, self.entered_operation)
        since_start = k - start + 0.5
        with np.errstate(divide="ignore", invalid="ignore"):
            ramp = np.where(ramp_periods > 0, np.clip(since_start / ramp_periods, 0.0, 1.0), 1.0)
        ramp = np.where(operating, ramp, 0.0)
        plant = self.capex * self.output_per_capex * ramp * self.keep  # money per year
        plant_output = np.bincount(self.host_cell, plant, n_r * n_s)  # (R*S,)

        # Trade: the general equilibrium in changes, solved relative to the baseline;
        # iceberg costs change by the ratio below, tariffs are tariffs (with revenue).
        cost = (
            self.iceberg
            * np.exp(self.log_trend)
            * (1.0 + self.cost_per_day * self.border_days)
            / self.base_cost
        )
        quantity = self.supply_level + plant_output.reshape(n_r, n_s) / y0
        # Capex goods are investment demand in the equilibrium, paid by the investor.
        paid = spend[self.leg_project] * self.leg_share  # by each investor
        pair_spend = np.bincount(self.pair_cell, paid, n_r * n_r).reshape(n_r, n_r)
        investment = pair_spend[:, :, None] * self.capex_mix if pair_spend.any() else None
        # The path with growth only, in full employment: it anchors real wages where labour
        # supply answers them, and net employment changes are measured against it.
        path, target = None, None
        if m.solves_path:
            path = solve_equilibrium(
                m.baseline,
                self.theta[None],
                m.path_markets,
                productivity=self.supply_level[None],
                deficit_closure=m.deficit_closure,
                numeraire=m.numeraire,
                tol=trade_spec["tolerance"],
                max_iter=trade_spec["max_iterations"],
            )
            if m.anchors_real_wages:
                target = path.real_wage.reshape(1, -1)[:, m.labour_markets.first_cell]
        sol = solve_equilibrium(
            m.baseline,
            self.theta[None],
            m.labour_markets,
            cost_change=cost[None],
            tariff=self.tariff[None],
            productivity=quantity[None],
            real_wage_target=target,
            investment=None if investment is None else investment[None],
            deficit_closure=m.deficit_closure,
            numeraire=m.numeraire,
            guess=extrapolate_unknowns(self.unknowns, self.unknowns_before)[None],
            tol=trade_spec["tolerance"],
            max_iter=trade_spec["max_iterations"],
        )
        if not sol.converged[0]:
            raise ConvergenceError(
                f"reference: the trade equilibrium did not converge in period {k} "
                f"(replica {self.draws.first})"
            )
        self.unknowns_before = self.unknowns
        self.unknowns = unknowns_of(sol, m.labour_markets)[0]
        self.price = sol.unit_cost[0]
        output = sol.output[0]

        # Jobs: direct jobs at the plants, indirect and induced through the MRIO model.
        elapsed = (k + 0.5) * dt
        since_intensity = self.start_year + elapsed - m.intensity_year
        intensity = (1.0 + self.productivity[self.host]) ** (-since_intensity)  # per project
        construction = np.bincount(
            self.host_cell, spend * self.construction_jobs * intensity, n_r * n_s
        )
        per_output = (m.employment_coef * (1.0 + self.productivity[:, None]) ** (-elapsed)).ravel()
        # A plant stated by its productivity employs its output times its sector's jobs
        # per unit of output, divided by that productivity.
        stated = np.isfinite(self.plant_productivity)
        own_jobs = np.where(
            stated,
            plant * per_output[self.host_cell] / np.where(stated, self.plant_productivity, 1.0),
            self.capex * self.jobs_per_capex * ramp * self.keep * intensity,
        )
        operation = np.bincount(self.host_cell, own_jobs, n_r * n_s)
        spend_by_host = np.bincount(self.host, spend, n_r)
        goods = spend_by_host @ m.sourcing_goods  # (R*S,) capex-goods demand
        indirect_output = m.leontief @ goods + (m.leontief - self.identity) @ plant_output
        induced_output = (m.leontief_closed - m.leontief) @ (goods + plant_output)
        if m.household_output.any():
            # Households earn jobs x wage: the wage grows with output per worker since the
            # start; pay is at most value added (plants) or the on-site spending (sites).
            wage = m.annual_wage * (1.0 + self.productivity) ** elapsed  # (R,)
            value_added = m.value_added_share.ravel()[self.host_cell]
            plant_pay = np.minimum(own_jobs * wage[self.host], value_added * plant)
            on_site = max(0.0, 1.0 - float(self.capex_mix.sum()))
            site_jobs = spend * self.construction_jobs * intensity
            site_pay = np.minimum(site_jobs * wage[self.host], on_site * spend)
            earned = np.bincount(self.host, plant_pay + site_pay, n_r)
            # (L* - L) q already pays plant output its sector's wage bill: replace it.
            sector_pay = (m.labour_income * plant_output.reshape(n_r, n_s)).sum(axis=1)
            induced_output = induced_output + m.household_output @ (earned - sector_pay)
        jobs = np.stack(
            [construction, operation, indirect_output * per_output, induced_output * per_output],
            axis=-1,
        ).reshape(n_r, n_s, 4)

        # Wages follow output per member of the labour force; migration answers them and jobs.
        # Persons employed (docs/model.md s.3): sector-specific markets scale each sector;
        # a mobile region's market sets its total, split by persons times sector changes.
        base_persons = m.employment  # (R, S)
        persons = base_persons * sol.employment[0]
        for r in range(n_r):
            if m.labour_markets.mobile[r]:
                market = sol.employment_group[0, m.labour_markets.group[r, 0]]
                persons[r] = persons[r] / persons[r].sum() * base_persons[r].sum() * market
        persons = persons * ((1.0 + self.labour_force) ** (k * dt))[:, None]
        # The same persons on the path (growth only), by the same rule.
        on_path = base_persons.copy()
        if path is not None:
            on_path = on_path * path.employment[0]
            for r in range(n_r):
                if m.path_markets.mobile[r]:
                    market = path.employment_group[0, m.path_markets.group[r, 0]]
                    on_path[r] = on_path[r] / on_path[r].sum() * base_persons[r].sum() * market
        on_path = on_path * ((1.0 + self.labour_force) ** (k * dt))[:, None]
        # The average wage is the wage bill per person employed.
        bill = sol.value_added[0].sum(axis=1) / m.baseline.value_added.sum(axis=1)
        wage = self.wage0 * bill / (persons.sum(axis=1) / base_persons.sum(axis=1))
        # Migration answers the real wage gap (against the start) and the net new labour
        # demand: employment's rise beyond the labour force's growth.
        real_wage = wage / self.wage0 / sol.cpi[0]
        total = persons.sum(axis=1)
        growth = (1.0 + self.labour_force) ** dt if k > 0 else 1.0
        new_jobs = np.maximum(total - self.previous_persons * growth, 0.0)
        self.previous_persons = total
        gap = real_wage[None, :] / real_wage[:, None]
        migration = np.minimum(
            self.migration_base * dt * gap**self.elasticity + self.recruitment * new_jobs[None, :],
            self.cap * dt,
        )
        np.fill_diagonal(migration, 0.0)
        self.stock = self.stock * (1.0 - self.return_rate) ** dt + migration

        out = self.out
        out["trade"][k] = sol.trade[0] * dt
        out["output"][k] = output * dt
        out["price"][k] = self.price
        out["employment"][k] = persons
        out["employment_change"][k] = persons - on_path
        out["expenditure"][k] = sol.income[0] * dt
        out["price_index"][k] = sol.cpi[0]
        out["capital_flow_projects"][k] = np.bincount(
            self.flow_cell, spend[self.leg_project] * self.leg_share * dt, n_r * n_r * n_s
        ).reshape(n_r, n_r, n_s)
        out["capital_flow_other"][k] = self.other_investment[k] * dt
        out["jobs"][k] = jobs
        out["migration"][k] = migration
        out["migrant_stock"][k] = self.stock
        out["wage"][k] = wage
        out["projects_by_stage"][k] = np.bincount(self.stage, minlength=len(STAGES))
        out["project_stage"][k] = self.stage
        out["solver_iterations"][k] = sol.replica_iterations[0]

    def run(self) -> dict[str, NDArray[Any]]:
        """Run the replica's calendar to the end of the horizon; return its outputs."""
        env = simpy.Environment()
        for j in range(len(self.model.projects)):
            env.process(self.project(env, j))
        for i in range(len(self.model.policies)):
            env.process(self.policy(env, i))
        env.process(self.economy(env))
        env.run()
        return self.out


def simulate_replica(model: Model, replica: int) -> ReplicaResult:
    """Draw and run one replica."""
    start = time.perf_counter()
    draws = draw_batch(model, replica, 1)
    drawn = time.perf_counter()
    rep = Replica(model, draws)
    arrays = rep.run()
    done = time.perf_counter()
    return ReplicaResult(arrays, rep.events, drawn - start, done - drawn)


@dataclass
class ReferenceRun:
    """Stacked outputs of several replicas (leading axes replica, period) and timings."""

    arrays: dict[str, NDArray[Any]]
    replicas: list[int]
    events: int
    draw_seconds: float
    run_seconds: float

    @property
    def seconds(self) -> float:
        """Draws plus simulation."""
        return self.draw_seconds + self.run_seconds


def simulate_reference(model: Model, replicas: Iterable[int]) -> ReferenceRun:
    """Run the given replicas one after the other and stack their outputs."""
    results = [(r, simulate_replica(model, r)) for r in replicas]
    names = results[0][1].arrays.keys() if results else ()
    return ReferenceRun(
        arrays={name: np.stack([res.arrays[name] for _, res in results]) for name in names},
        replicas=[r for r, _ in results],
        events=sum(res.events for _, res in results),
        draw_seconds=sum(res.draw_seconds for _, res in results),
        run_seconds=sum(res.run_seconds for _, res in results),
    )


#: Relative agreement required between the engine and the reference, per array.
RTOL = 1e-9
#: Migration answers net labour demand, a difference of two periods' employment (millions
#: of persons, each solved to the trade tolerance): its relative agreement is looser.
RTOL_BY_ARRAY = {"migration": 1e-7, "migrant_stock": 1e-7}
#: Arrays that are differences of another's levels are compared relative to those levels.
SCALED_BY = {"employment_change": "employment"}


def disagreeing(differences: dict[str, float]) -> dict[str, float]:
    """The arrays of ``differences`` (from :func:`max_relative_difference`) above tolerance."""
    return {k: d for k, d in differences.items() if not d <= RTOL_BY_ARRAY.get(k, RTOL)}


def max_relative_difference(
    engine: dict[str, NDArray[Any]],
    reference: dict[str, NDArray[Any]],
    names: Iterable[str] = COMPARED,
) -> dict[str, float]:
    """Largest ``|a - b| / max(|a|, |b|)`` per array (0 where both are 0); for the arrays
    of :data:`SCALED_BY`, relative to the levels they are differences of.

    ``engine`` arrays may hold more replicas than ``reference``: the first
    ``len(reference)`` replicas are compared.
    """
    out: dict[str, float] = {}
    for name in names:
        ref = np.asarray(reference[name], dtype=np.float64)
        eng = np.asarray(engine[name][: ref.shape[0]], dtype=np.float64)
        if eng.shape != ref.shape:
            raise ValueError(f"{name}: engine shape {eng.shape}, reference {ref.shape}")
        level = SCALED_BY.get(name)
        if level is None:
            scale = np.maximum(np.abs(eng), np.abs(ref))
        else:
            scale = np.maximum(
                np.abs(np.asarray(engine[level][: ref.shape[0]])), np.abs(reference[level])
            )
        diff = np.abs(eng - ref)
        rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
        out[name] = float(rel.max()) if rel.size else 0.0
    return out


__all__ = [
    "COMPARED",
    "ReferenceRun",
    "Replica",
    "ReplicaResult",
    "max_relative_difference",
    "simulate_reference",
    "simulate_replica",
]

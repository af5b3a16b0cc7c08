"""The SimPy calendar driving vectorised steps over a batch of replicas.

Policy events and project stage changes are SimPy events at the start of their
period (time ``k``); the period's economy is computed at ``k + 0.5``, after
every event of that period has fired (growth and cost trends are levels at the
period's start, ramp-up and productivity are taken at its middle). A stage-change event
fires at the start of every period and updates, through masks, the replicas whose
projects change stage then, so the number of SimPy events is two per period plus one
per policy, whatever the number of replicas and their draws.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from sim.engine.checks import check_converged, check_period
from sim.engine.draw import Batch, covariate_factor
from sim.engine.financing import capex_financing_error, unpaid_capex
from sim.engine.jobs import (
    batch_plant_accounts,
    plant_multipliers,
    sector_multipliers,
)
from sim.engine.model import Model
from sim.engine.outputs import output_buffer, output_shapes
from sim.engine.parts import PartSolver, choose_parts
from sim.engine.projects import investment_legs
from sim.kernels.equilibrium import extrapolate_unknowns, solve_equilibrium, unknowns_of
from sim.kernels.migration import migrant_stocks, migration_flows
from sim.kernels.stages import ABANDONED, CONSTRUCTION, OPERATING, STAGES

FloatArray = NDArray[np.float64]

#: Fields of a period's equilibrium the step does not read, and of the growth path's: a
#: batch solved in parts does not merge them (sim.engine.parts.merge_solutions).
_UNREAD = ("share", "spending", "sector_price", "deficit", "real_income", "real_wage")
_UNREAD_ON_PATH = (
    "share", "spending", "sector_price", "deficit", "real_income", "trade", "output",
    "value_added", "unit_cost", "cpi", "tariff_revenue", "income", "investment",
)  # fmt: skip


@dataclass
class BatchResult:
    """Raw arrays of one batch, leading axes (N, T), flows per period (the arrays of
    :func:`static_shapes`: leading axis N only)."""

    arrays: dict[str, FloatArray]
    events: int


def _snap(model: Model, years: FloatArray) -> NDArray[np.int64]:
    """Period index of model-clock dates (inf -> T, never reached in the horizon)."""
    periods = model.calendar.periods
    k = np.floor(np.where(np.isfinite(years), years, 1e9) / model.calendar.dt + 1e-9)
    return np.clip(k, 0, periods).astype(np.int64)


class BatchSimulation:
    """State and step function for one batch; driven by a SimPy environment."""

    def __init__(
        self, model: Model, batch: Batch, buffers: dict[str, NDArray[Any]] | None = None
    ) -> None:
        self.model = model
        self.batch = batch
        n = batch.count
        n_r, n_s, n_p = model.shape
        cal = model.calendar
        self.dt = cal.dt
        self.years = cal.years
        first = cal.starts[0]
        self.start_year = first.year + (first.month - 1) / 12.0
        # Stage entry periods (N, P, 4) and abandonment (N, P); T means never.
        self.entered = _snap(model, batch.stages.entered)
        # Construction lasts at least one period, so every project that builds
        # disburses its capex even when construction is shorter than a period.
        started = self.entered[:, :, 2] < cal.periods
        # A plant that started operating before the horizon is operating from the first
        # period: nothing of its construction (nor its capex) lies inside the horizon.
        operating_time = batch.stages.entered[:, :, 3]  # model years, negative before start
        before = np.isfinite(operating_time) & (operating_time < 0)
        self.entered[:, :, 3] = np.where(
            started & ~before,
            np.minimum(np.maximum(self.entered[:, :, 3], self.entered[:, :, 2] + 1), cal.periods),
            self.entered[:, :, 3],
        )
        self.abandoned = _snap(model, batch.stages.abandoned)
        con = batch.stages.entered[:, :, 2]
        # Planned construction in periods, not cut by the horizon: the disbursement
        # rate must not depend on where the simulation stops.
        with np.errstate(invalid="ignore"):
            planned = np.floor((con + batch.planned_construction) / self.dt + 1e-9) - np.floor(
                con / self.dt + 1e-9
            )
        self.construction_periods = np.maximum(np.nan_to_num(planned, nan=1.0, posinf=1.0), 1.0)
        self.ramp_periods = batch.ramp_years / self.dt
        self.stage = np.zeros((n, n_p), dtype=np.int8)
        self.border_days = batch.border_days.copy()
        self.tariff = batch.tariff.copy()
        self.iceberg = np.ones((n, n_r, n_r, n_s))
        self.log_trend = np.zeros((n, n_r, n_r, n_s))
        self.migration_cap = batch.migration_cap.copy()
        # The solver's warm start: the equilibrium unknowns of the last two periods.
        self.unknowns = np.zeros((n, model.labour_markets.count))
        self.unknowns_before = self.unknowns
        self.path_unknowns = self.path_before = self.unknowns
        # Each replica's last inverse Newton matrix (Broyden-updated) starts its next
        # period's solve (in single precision, updated in place by the next solve); the
        # first starts from the baseline's Jacobian, shared. The batch is solved in
        # replica parts side by side (sim.engine.parts), each carrying its own.
        setting = model.scenario.data["monte_carlo"]["solver_parts"]
        self.parts = PartSolver(n, choose_parts(setting, model.labour_markets.count))
        self.inverse: list[NDArray[np.float32]] | None = None
        self.path_inverse: list[NDArray[np.float32]] | None = None
        # Migration's state: persons employed last period (at first, the data's) and the
        # migrant stocks at the end of last period.
        self.prev_persons = np.broadcast_to(model.employment.sum(axis=1), (n, n_r))
        self.migrants = np.broadcast_to(batch.migration_stock, (n, n_r, n_r))
        # Where each project's quantities go: (host, sector), (investor, host, sector), host.
        # Sums over projects are bincounts over (replica, cell), not one-hot matmuls:
        # a multithreaded BLAS call on a (N, P) x (P, R*S) product is slow on a busy machine.
        host_cell = np.array([p.host * n_s + p.sector for p in model.projects], dtype=np.int64)
        host = np.array([p.host for p in model.projects], dtype=np.int64)
        sector = np.array([p.sector for p in model.projects], dtype=np.int64)
        rows = np.arange(n, dtype=np.int64)[:, None]
        self.to_host = (rows * (n_r * n_s) + host_cell[None]).ravel()
        self.to_region = (rows * n_r + host[None]).ravel()
        # Sums by investor run over legs (project, investor, share): a joint venture's
        # spending is split by its investors' shares.
        self.leg_project, self.leg_investor, self.leg_share = investment_legs(model.projects)
        leg_host, leg_sector = host[self.leg_project], sector[self.leg_project]
        pair = self.leg_investor * n_r + leg_host
        self.to_flow = (rows * (n_r * n_r * n_s) + (pair * n_s + leg_sector)[None]).ravel()
        self.to_pair = (rows * (n_r * n_r) + pair[None]).ravel()
        eye = np.eye(n_r * n_s)
        self.supply_chain_t = (model.leontief - eye).T  # plant output -> supplier output
        self.total_t = model.leontief.T  # final demand -> output
        self.induced_t = (model.leontief_closed - model.leontief).T
        # The household round pays jobs x wage (sim.engine.jobs): the sector's labour income
        # per unit of output, and output per unit of each region's household income.
        self.income_coef = model.labour_income.reshape(-1)  # (RS,)
        self.household_t = model.household_output.T if model.household_output.any() else None
        self.y0 = model.baseline.output
        # Output level from growth alone at the start of each period, (N, T, R, S).
        log_growth = np.cumsum(np.log1p(batch.growth) * self.dt, axis=1)
        self.growth_level = np.exp(
            np.concatenate([np.zeros_like(log_growth[:, :1]), log_growth[:, :-1]], axis=1)
        )
        self.base_cost = 1.0 + batch.cost_per_day[:, None, None, :] * batch.border_days
        # Iceberg costs relative to the baseline but for the trend: they change only at
        # policy events, so they are computed again only then (None: to be computed).
        self.event_cost: FloatArray | None = None
        # Direct jobs from jobs_per_capex, or from the plant's productivity relative to its
        # host region-sector; the labour income plants and construction sites pay.
        plants = batch_plant_accounts(model, batch)
        # Zeroed output arrays: a previous batch's where ``buffers`` holds them (see
        # output_buffer), else new ones.
        self.out = {
            name: output_buffer(buffers, name, (n, cal.periods, *shape), np.float64)
            for name, shape in output_shapes(model).items()
        }
        self.out["project_stage"] = output_buffer(
            buffers, "project_stage", (n, cal.periods, n_p), np.int8
        )
        # The implied employment multipliers: the sectors' (the same in every replica) and
        # those of the plants each region-sector hosts, at full operation.
        type1, type2 = sector_multipliers(model)
        self.out["employment_multiplier_type1"] = np.repeat(type1[None], n, axis=0)
        self.out["employment_multiplier_type2"] = np.repeat(type2[None], n, axis=0)
        plant1, plant2, _ = plant_multipliers(model, plants, batch.capex, batch.output_per_capex)
        self.out["plant_multiplier_type1"] = plant1
        self.out["plant_multiplier_type2"] = plant2
        self.out["plant_productivity"] = plants.productivity
        # Per-project quantities that do not change within a run, (N, P), per year.
        keep = (1.0 - batch.displacement)[:, None]
        self.output_capacity = batch.capex * batch.output_per_capex * keep  # at full ramp-up
        self.job_capacity = batch.capex * plants.jobs_per_capex * keep
        self.plant_pay = plants.pay  # (N, P) labour income per unit of output
        self.construction_pay = plants.construction_pay  # (N, P) per money spent
        self.full_spend = batch.capex / (self.construction_periods * self.dt)
        # Ramp-up as (k + 0.5 - start) * rate clipped to [0, 1]; no ramp-up is a rate so
        # large that half a period already clips to 1.
        self.ramp_rate = np.divide(
            1.0,
            self.ramp_periods,
            out=np.full_like(self.ramp_periods, 1e30, dtype=float),
            where=self.ramp_periods > 0,
        )
        # Ramp-up counts from the operating date, before the horizon too.
        self.ramp_origin = np.where(
            before, 0.5 - operating_time / self.dt, 0.5 - self.entered[:, :, 3]
        )  # (N, P) float
        # The stage events' work list: every (replica, project) pair whose stage may change
        # in each period, so that an event touches those pairs only, not all (N, P, 4) dates.
        periods = cal.periods
        dates = np.concatenate([self.entered.reshape(-1, 4).T.ravel(), self.abandoned.ravel()])
        owner = np.tile(np.arange(n * n_p, dtype=np.int64), 5)
        due = dates < periods
        order = np.argsort(dates[due], kind="stable")
        self.change_pairs = owner[due][order]
        self.change_bounds = np.searchsorted(dates[due][order], np.arange(periods + 1))
        self.stage_changed()

    # -- events ------------------------------------------------------------------------------
    def apply_stage_changes(self, period: int) -> None:
        """Set the stage of every replica and project whose stage changes in ``period``."""
        lo, hi = self.change_bounds[period], self.change_bounds[period + 1]
        if lo == hi:
            return
        pairs = np.unique(self.change_pairs[lo:hi])
        entered = self.entered.reshape(-1, 4)[pairs]
        stage = (entered <= period).sum(axis=1, dtype=np.int8)
        stage[self.abandoned.reshape(-1)[pairs] <= period] = ABANDONED
        flat = self.stage.reshape(-1)  # a view: the stages are updated in place
        if np.array_equal(flat[pairs], stage):
            return
        flat[pairs] = stage
        self.stage_changed()

    def stage_changed(self) -> None:
        """Recompute what depends on the stages alone: construction spending and its sums.

        Spending, construction jobs, capex goods and project capital flows are constant
        between stage changes, so they are summed over projects here, not every period.
        """
        n, (n_r, n_s, _) = self.batch.count, self.model.shape
        self.operating = self.stage == OPERATING
        spend = np.where(self.stage == CONSTRUCTION, self.full_spend, 0.0)  # (N, P) per year
        self.construction_cells = _group_sum(
            spend * self.batch.construction_jobs[:, None], self.to_host, n, n_r * n_s
        )
        # (N, RS) final demand for capex goods, per year: spending by host, sourced by its shares.
        self.goods = _group_sum(spend, self.to_region, n, n_r) @ self.model.sourcing_goods
        # (N, R) labour income of the on-site workers, per year, by host.
        self.construction_income = _group_sum(spend * self.construction_pay, self.to_region, n, n_r)
        # (N, investor, host, S) real investment goods per year, for the equilibrium: the
        # goods share of capex (the rest, on-site labour, is in the jobs account only).
        mix = self.model.investment_mix
        paid = spend[:, self.leg_project] * self.leg_share  # (N, legs) by each investor
        by_pair = _group_sum(paid, self.to_pair, n, n_r * n_r).reshape(n, n_r, n_r)
        self.investment = by_pair[..., None] * mix if by_pair.any() and mix.any() else None
        self.capital_cells = _group_sum(paid, self.to_flow, n, n_r * n_r * n_s).reshape(
            n, n_r, n_r, n_s
        )
        self.stage_counts = np.stack(
            [(self.stage == code).sum(axis=1) for code in range(len(STAGES))], axis=1
        )

    def apply_policy(self, index: int) -> None:
        policy = self.model.policies[index]
        value = self.batch.policy_values[index]
        if policy.kind == "migration_cap":
            self.migration_cap = np.where(
                policy.mask[None], value[:, None, None], self.migration_cap
            )
            return
        self.event_cost = None
        if policy.kind == "covariate":
            # A gravity covariate's change: a factor on iceberg costs by sector.
            factor = covariate_factor(value, self.batch.theta)[:, None, None, :]
            self.iceberg[...] = np.where(policy.mask[None], self.iceberg * factor, self.iceberg)
            return
        target = {
            "border_days": self.border_days,
            "tariff": self.tariff,
            "trade_cost": self.iceberg,
        }[policy.kind]
        v = value[:, None, None, None]
        new = target * v if policy.kind == "trade_cost" else np.broadcast_to(v, target.shape)
        target[...] = np.where(policy.mask[None], new, target)

    def check_financing(self, k: int, replica: int, shocks: dict[str, FloatArray | None]) -> None:
        """Refuse period ``k`` if the capex investors pay is what breaks ``replica``.

        The replica is solved again without the capex: if that solves with positive
        spending, the capex is the cause and the refusal names the investor and its
        projects (sim.engine.financing); otherwise the caller's own checks report it.
        """
        model, b = self.model, self.batch
        trade = model.scenario.data["trade"]
        alone = solve_equilibrium(
            model.baseline,
            b.theta[replica : replica + 1],
            model.labour_markets,
            cost_change=_replica_row(shocks["cost_change"], replica),
            tariff=_replica_row(shocks["tariff"], replica),
            productivity=_replica_row(shocks["productivity"], replica),
            real_wage_target=_replica_row(shocks["real_wage_target"], replica),
            deficit_closure=model.deficit_closure,
            numeraire=model.numeraire,
            tol=trade["tolerance"],
            max_iter=trade["max_iterations"],
        )
        if not (alone.converged.all() and (alone.income > 0).all()):
            return
        assert self.investment is not None
        legs = [
            (
                int(investor),
                model.projects[project].id,
                float(share),
                float(b.capex[replica, project]),
                float(self.construction_periods[replica, project] * self.dt),
            )
            for project, investor, share in zip(
                self.leg_project, self.leg_investor, self.leg_share, strict=True
            )
            if self.stage[replica, project] == CONSTRUCTION
        ]
        # The growth path's value added and exports: the scale of what the investors earn.
        level = self.growth_level[replica, k]
        value_added = (model.baseline.value_added * level).sum(axis=1)
        sales = model.baseline.trade * level[:, None, :]  # (i, j, S)
        exports = sales.sum(axis=(1, 2)) - np.einsum("iis->i", sales)
        raise capex_financing_error(
            model, k, b.first + replica, self.investment[replica], value_added, exports, legs
        )

    # -- the period's economy ----------------------------------------------------------------
    def step(self, k: int) -> None:
        model, b = self.model, self.batch
        n = b.count
        n_r, n_s, _ = model.shape
        dt = self.dt
        out = self.out
        if k > 0:
            self.log_trend += b.trend_at(k - 1) * dt
        # Iceberg costs (policies, trend, border days) change relative to the baseline;
        # tariffs are tariffs, with revenue (sim.kernels.equilibrium).
        if self.event_cost is None:
            self.event_cost = (
                self.iceberg
                * (1.0 + b.cost_per_day[:, None, None, :] * self.border_days)
                / self.base_cost
            )
        cost = self.event_cost * np.exp(self.log_trend)
        # Projects in operation: output and jobs after ramp-up (spending: see stage_changed).
        ramp = np.where(
            self.operating, np.clip((self.ramp_origin + k) * self.ramp_rate, 0.0, 1.0), 0.0
        )
        plant = _group_sum(self.output_capacity * ramp, self.to_host, n, n_r * n_s)  # (N, RS)
        added = plant.reshape(n, n_r, n_s)
        quantity = self.growth_level[:, k] + added / self.y0[None]

        trade = model.scenario.data["trade"]
        # The path without the scenario's shocks (growth only, full employment): fixed real
        # wages and labour supply are anchored at its real wages, so that employment
        # answers trade costs, policies and plants, not growth; net employment changes are
        # measured against its employment.
        path, target = None, None
        if model.solves_path:
            path, self.path_inverse = self.parts.solve(
                solve_equilibrium,
                {
                    "theta": b.theta,
                    "productivity": self.growth_level[:, k],
                    "guess": extrapolate_unknowns(self.path_unknowns, self.path_before),
                },
                {
                    "baseline": model.baseline,
                    "labour": model.path_markets,
                    "deficit_closure": model.deficit_closure,
                    "numeraire": model.numeraire,
                    "jacobian": model.path_jacobian,
                    "tol": trade["tolerance"],
                    "max_iter": trade["max_iterations"],
                },
                self.path_inverse,
                unused=_UNREAD_ON_PATH,
            )
            check_converged(path, model, first=b.first, period=k, path=True)
            self.path_before = self.path_unknowns
            self.path_unknowns = unknowns_of(path, model.path_markets)
            if model.anchors_real_wages:
                target = path.real_wage.reshape(n, -1)[:, model.labour_markets.first_cell]
        shocks = {
            "cost_change": cost,
            "tariff": self.tariff,
            "productivity": quantity,
            "real_wage_target": target,
        }
        sol, self.inverse = self.parts.solve(
            solve_equilibrium,
            {
                "theta": b.theta,
                "cost_change": cost,
                "tariff": self.tariff,
                "productivity": quantity,
                "real_wage_target": target,
                "investment": self.investment,
                "guess": extrapolate_unknowns(self.unknowns, self.unknowns_before),
            },
            {
                "baseline": model.baseline,
                "labour": model.labour_markets,
                "deficit_closure": model.deficit_closure,
                "numeraire": model.numeraire,
                "jacobian": model.jacobian,
                "tol": trade["tolerance"],
                "max_iter": trade["max_iterations"],
            },
            self.inverse,
            unused=_UNREAD,
        )
        unpaid = unpaid_capex(sol.converged, sol.income, self.investment)
        if unpaid.any():
            self.check_financing(k, int(np.argmax(unpaid)), shocks)
        check_converged(sol, model, first=b.first, period=k, investment=self.investment is not None)
        self.unknowns_before = self.unknowns
        self.unknowns = unknowns_of(sol, model.labour_markets)

        # Output per worker grows from the start (employment coefficients of the
        # input-output table) and from the intensity year (project job intensities).
        elapsed = (k + 0.5) * dt
        since_intensity = self.start_year + elapsed - model.intensity_year
        prod_factor = (1.0 + b.productivity) ** (-elapsed)
        prod_host = (1.0 + b.productivity) ** (-since_intensity)
        # The productivity factor depends on the host region only: apply it to the cell sums.
        host_factor = np.repeat(prod_host, n_s, axis=1)  # (N, RS)
        construction = self.construction_cells * host_factor
        operation = _group_sum(self.job_capacity * ramp, self.to_host, n, n_r * n_s) * host_factor
        goods = self.goods  # (N, RS) per year, summed at stage changes
        indirect_out = goods @ self.total_t + plant @ self.supply_chain_t
        induced_out = (goods + plant) @ self.induced_t
        if self.household_t is not None:
            # (L* - L)(f + q) pays the plants their sector's wage bill per unit of output;
            # the household round spends what plants and construction sites pay instead.
            plant_income = _group_sum(
                self.output_capacity * ramp * self.plant_pay, self.to_region, n, n_r
            )
            sector_income = (plant * self.income_coef).reshape(n, n_r, n_s).sum(axis=2)
            gap = plant_income - sector_income + self.construction_income
            induced_out = induced_out + gap @ self.household_t
        coef = (model.employment_coef[None] * prod_factor[:, :, None]).reshape(n, -1)
        jobs = out["jobs"][:, k]
        jobs[..., 0] = construction.reshape(n, n_r, n_s)
        jobs[..., 1] = operation.reshape(n, n_r, n_s)
        jobs[..., 2] = (indirect_out * coef).reshape(n, n_r, n_s)
        jobs[..., 3] = (induced_out * coef).reshape(n, n_r, n_s)

        # Employment in persons: the labour force grows; the equilibrium moves it between
        # sectors and, under a fixed real wage or elastic supply, in and out of work.
        labour_force = ((1.0 + b.labour_force) ** (k * dt))[:, :, None]
        employment = employed_persons(model, sol.employment, sol.employment_group) * labour_force
        on_path = (
            model.employment[None] * labour_force
            if path is None
            else employed_persons(model, path.employment, path.employment_group) * labour_force
        )
        # The average wage is the wage bill per person employed.
        bill = sol.value_added.sum(axis=2) / model.baseline.value_added.sum(axis=1)[None]
        wage = b.wage0 * bill / (employment.sum(axis=2) / model.employment.sum(axis=1)[None])
        real_wage = wage / b.wage0 / sol.cpi  # relative to the start
        # Net labour demand: the period's rise in employment beyond the labour force's
        # growth (what the equilibrium's closures add or shed, all sources together).
        persons = employment.sum(axis=2)
        grown = self.prev_persons * ((1.0 + b.labour_force) ** dt if k > 0 else 1.0)
        self.prev_persons = persons
        flows = migration_flows(
            b.migration_base * dt,
            real_wage,
            np.ones_like(real_wage),
            b.migration_elasticity,
            persons - grown,
            b.migration_recruit,
            self.migration_cap * dt,
        )
        self.migrants = migrant_stocks(self.migrants, flows, b.migration_return, dt)
        out["migration"][:, k] = flows
        out["migrant_stock"][:, k] = self.migrants

        out["trade"][:, k] = sol.trade * dt
        out["output"][:, k] = sol.output * dt
        out["price"][:, k] = sol.unit_cost
        out["expenditure"][:, k] = sol.income * dt
        out["price_index"][:, k] = sol.cpi
        out["value_added"][:, k] = sol.value_added * dt
        out["tariff_revenue"][:, k] = sol.tariff_revenue * dt
        out["employment"][:, k] = employment
        out["employment_change"][:, k] = employment - on_path
        out["real_wage"][:, k] = real_wage
        out["capital_flow_projects"][:, k] = self.capital_cells * dt
        out["capital_flow_other"][:, k] = b.other_investment[:, k] * dt
        out["investment_goods"][:, k] = sol.investment * dt
        out["wage"][:, k] = wage
        out["price_level"][:, k] = b.price_level[:, k]
        out["project_stage"][:, k] = self.stage
        out["projects_by_stage"][:, k] = self.stage_counts
        out["solver_iterations"][:, k] = sol.replica_iterations
        check_period(model, b, out, k)


def _replica_row(value: FloatArray | None, replica: int) -> FloatArray | None:
    return None if value is None else value[replica : replica + 1]


def employed_persons(model: Model, change: FloatArray, market_change: FloatArray) -> FloatArray:
    """Persons employed by region and sector, (N, R, S), at the start's labour force.

    ``change`` (N, R, S) and ``market_change`` (N, G) are the equilibrium's employment
    changes, in wage-bill units (the baseline's sector wages). Where labour is
    sector-specific they apply to each sector's persons; where it is mobile the
    region's one market sets the total and the sectors' changes set the split, so
    that full employment keeps the region's persons whatever the sector wage
    differentials of the data.
    """
    base = model.employment
    markets = model.labour_markets
    market = market_change[:, markets.group[:, 0]]  # (N, R): a mobile region's one market
    moved = base[None] * change
    share = moved / moved.sum(axis=2, keepdims=True)
    total = base.sum(axis=1)[None] * market
    persons: FloatArray = np.where(markets.mobile[None, :, None], share * total[:, :, None], moved)
    return persons


def _group_sum(values: FloatArray, cells: NDArray[np.int64], n: int, size: int) -> FloatArray:
    """Sum the (N, P) ``values`` into (N, size) cells; ``cells`` is the flat (replica, cell) index."""
    total = np.bincount(cells, weights=values.ravel(), minlength=n * size)  # float64 with weights
    return np.asarray(total, dtype=np.float64).reshape(n, size)


def simulate_batch(
    model: Model,
    batch: Batch,
    on_period: Callable[[int], None] | None = None,
    buffers: dict[str, NDArray[Any]] | None = None,
) -> BatchResult:
    """Run one batch through the SimPy calendar and return its raw arrays.

    ``on_period(k)`` is called after each period (progress reporting). With
    ``buffers`` (a dict, empty at first), the output arrays are taken from it and left
    in it: the next batch given the same dict reuses their memory, so this batch's
    arrays are valid only until then.
    """
    sim = BatchSimulation(model, batch, buffers)
    env = simpy.Environment()
    counter = {"events": 0}

    def at(time: float, action: Callable[[], None]) -> None:
        event = env.timeout(time)

        def fire(_: Any) -> None:
            counter["events"] += 1
            action()

        event.callbacks.append(fire)

    # A stage event at the start of every period (it updates the replicas whose
    # projects change stage then), so the number of SimPy events is the same
    # whatever the replicas and their draws: 2T plus one per policy.
    for k in range(model.calendar.periods):
        at(k, lambda k=k: sim.apply_stage_changes(k))  # type: ignore[misc]
    for i, policy in enumerate(model.policies):
        at(policy.period, lambda i=i: sim.apply_policy(i))  # type: ignore[misc]

    def periods() -> Generator[simpy.events.Event, Any, None]:
        for k in range(model.calendar.periods):
            # Mid-period, after every event dated at the period's start.
            yield env.timeout(k + 0.5 - env.now)
            counter["events"] += 1
            sim.step(k)
            if on_period is not None:
                on_period(k)

    env.process(periods())
    try:
        env.run()
    finally:
        sim.parts.close()
    return BatchResult(arrays=sim.out, events=counter["events"])

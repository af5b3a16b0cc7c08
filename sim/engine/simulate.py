"""The SimPy calendar driving vectorised steps over a batch of replicas.

Policy events and project stage changes are SimPy events at the start of their
period (time ``k``); the period's economy is computed at ``k + 0.5``, after
every event of that period has fired (growth and cost trends are levels at the
period's start, ramp-up and productivity are taken at its middle). A stage-change event
fires once for each period in which any replica of the batch changes a
project's stage and updates all replicas through masks, so the number of
events is at most two per period plus one per policy, whatever the number of
replicas.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from sim.engine.model import Batch, Model
from sim.errors import ConvergenceError, NumericalError
from sim.kernels.gravity import cost_weights, solve_gravity
from sim.kernels.migration import migration_flows
from sim.kernels.stages import ABANDONED, CONSTRUCTION, OPERATING, STAGES

FloatArray = NDArray[np.float64]
JOB_KINDS = ("construction", "operation", "indirect", "induced")


#: Per-period outputs and their shapes after the leading (N, T) axes.
def output_shapes(model: Model) -> dict[str, tuple[int, ...]]:
    n_r, n_s, n_p = model.shape
    return {
        "trade": (n_r, n_r, n_s),
        "output": (n_r, n_s),
        "price": (n_r, n_s),
        "expenditure": (n_r,),
        "price_index": (n_r,),
        "capital_flow_projects": (n_r, n_r, n_s),
        "capital_flow_other": (n_r, n_r),
        "jobs": (n_r, n_s, len(JOB_KINDS)),
        "migration": (n_r, n_r),
        "wage": (n_r,),
        "projects_by_stage": (len(STAGES),),
        "project_stage": (n_p,),
        "solver_iterations": (),
    }


@dataclass
class BatchResult:
    """Raw arrays of one batch, leading axes (N, T), flows per period."""

    arrays: dict[str, FloatArray]
    events: int


def _snap(model: Model, years: FloatArray) -> NDArray[np.int64]:
    """Period index of model-clock dates (inf -> T, never reached in the horizon)."""
    periods = model.calendar.periods
    k = np.floor(np.where(np.isfinite(years), years, 1e9) / model.calendar.dt + 1e-9)
    return np.clip(k, 0, periods).astype(np.int64)


class BatchSimulation:
    """State and step function for one batch; driven by a SimPy environment."""

    def __init__(self, model: Model, batch: Batch) -> None:
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
        self.entered[:, :, 3] = np.where(
            started,
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
        self.price = np.ones((n, n_r, n_s))
        self.prev_jobs = np.zeros((n, n_r))
        # One-hot maps from projects to (host, sector) and (investor, host, sector).
        self.to_host = np.zeros((n_p, n_r * n_s))
        self.to_flow = np.zeros((n_p, n_r * n_r * n_s))
        for j, p in enumerate(model.projects):
            self.to_host[j, p.host * n_s + p.sector] = 1.0
            self.to_flow[j, (p.investor * n_r + p.host) * n_s + p.sector] = 1.0
        self.goods_demand = (
            np.stack([model.sourcing_goods[p.host] for p in model.projects])
            if n_p
            else np.zeros((0, n_r * n_s))
        )
        eye = np.eye(n_r * n_s)
        self.supply_chain_t = (model.leontief - eye).T  # plant output -> supplier output
        self.total_t = model.leontief.T  # final demand -> output
        self.induced_t = (model.leontief_closed - model.leontief).T
        self.y0 = model.baseline.output
        # Output level from growth alone at the start of each period, (N, T, R, S).
        log_growth = np.cumsum(np.log1p(batch.growth) * self.dt, axis=1)
        self.growth_level = np.exp(
            np.concatenate([np.zeros_like(log_growth[:, :1]), log_growth[:, :-1]], axis=1)
        )
        self.base_cost = (1.0 + batch.tariff) * (
            1.0 + batch.cost_per_day[:, None, None, :] * batch.border_days
        )
        self.out = {
            name: np.zeros((n, cal.periods, *shape)) for name, shape in output_shapes(model).items()
        }
        self.out["project_stage"] = np.zeros((n, cal.periods, n_p), dtype=np.int8)

    # -- events ------------------------------------------------------------------------------
    def apply_stage_changes(self, period: int) -> None:
        """Set the stage of every replica and project whose stage changes in ``period``."""
        reached = (self.entered <= period).sum(axis=2)
        stage = np.where(reached > 0, reached, 0).astype(np.int8)
        stage[self.abandoned <= period] = ABANDONED
        self.stage = stage

    def apply_policy(self, index: int) -> None:
        policy = self.model.policies[index]
        value = self.batch.policy_values[index]
        if policy.kind == "migration_cap":
            self.migration_cap = np.where(
                policy.mask[None], value[:, None, None], self.migration_cap
            )
            return
        target = {
            "border_days": self.border_days,
            "tariff": self.tariff,
            "trade_cost": self.iceberg,
        }[policy.kind]
        v = value[:, None, None, None]
        new = target * v if policy.kind == "trade_cost" else np.broadcast_to(v, target.shape)
        target[...] = np.where(policy.mask[None], new, target)

    # -- the period's economy ----------------------------------------------------------------
    def step(self, k: int) -> None:
        model, b = self.model, self.batch
        n = b.count
        n_r, n_s, n_p = model.shape
        dt = self.dt
        out = self.out
        if k > 0:
            self.log_trend += b.trend[:, k - 1] * dt
        cost = (
            self.iceberg
            * np.exp(self.log_trend)
            * (1.0 + self.tariff)
            * (1.0 + b.cost_per_day[:, None, None, :] * self.border_days)
            / self.base_cost
        )
        # Projects: capex disbursed during construction, output and jobs in operation.
        in_con = self.stage == CONSTRUCTION
        spend_rate = np.where(in_con, b.capex / (self.construction_periods * dt), 0.0)  # per year
        since_op = k - self.entered[:, :, 3] + 0.5
        ramp = np.where(
            self.stage == OPERATING,
            np.clip(
                np.divide(
                    since_op,
                    self.ramp_periods,
                    out=np.ones_like(since_op, dtype=float),
                    where=self.ramp_periods > 0,
                ),
                0.0,
                1.0,
            ),
            0.0,
        )
        keep = (1.0 - b.displacement)[:, None]
        plant_output = b.capex * b.output_per_capex * ramp * keep  # (N, P) per year
        added = (plant_output @ self.to_host).reshape(n, n_r, n_s)
        quantity = self.growth_level[:, k] + added / self.y0[None]

        sol = solve_gravity(
            model.baseline,
            cost_weights(cost, b.theta),
            b.theta,
            quantity,
            closure=model.scenario.data["trade"]["closure"],
            numeraire=model.numeraire,
            price_guess=self.price,
            tol=model.scenario.data["trade"]["tolerance"],
            max_iter=model.scenario.data["trade"]["max_iterations"],
        )
        if not sol.converged.all():
            bad = int(np.argmin(sol.converged))
            raise ConvergenceError(
                f"the trade equilibrium did not converge in period {model.calendar.starts[k]} "
                f"(replica {b.first + bad}): max relative excess demand "
                f"{sol.residual[bad]:.3g} after {sol.iterations} iterations\n"
                f"  allowed: below trade.tolerance = {model.scenario.data['trade']['tolerance']:g}\n"
                "  fix: raise trade.max_iterations, loosen trade.tolerance, or check for "
                "extreme trade-cost shocks or elasticities"
            )
        self.price = sol.price

        # Output per worker grows from the start (employment coefficients of the
        # input-output table) and from the intensity year (project job intensities).
        elapsed = (k + 0.5) * dt
        since_intensity = self.start_year + elapsed - model.intensity_year
        prod_factor = (1.0 + b.productivity) ** (-elapsed)
        prod_host = (1.0 + b.productivity) ** (-since_intensity)
        host_factor = prod_host[:, [p.host for p in model.projects]] if n_p else np.zeros((n, 0))
        construction = (spend_rate * b.construction_jobs[:, None] * host_factor) @ self.to_host
        operation = (b.capex * b.jobs_per_capex * ramp * keep * host_factor) @ self.to_host
        goods = spend_rate @ self.goods_demand  # (N, RS) final demand, per year
        plant = plant_output @ self.to_host
        indirect_out = goods @ self.total_t + plant @ self.supply_chain_t
        induced_out = (goods + plant) @ self.induced_t
        coef = (model.employment_coef[None] * prod_factor[:, :, None]).reshape(n, -1)
        jobs = out["jobs"][:, k]
        jobs[..., 0] = construction.reshape(n, n_r, n_s)
        jobs[..., 1] = operation.reshape(n, n_r, n_s)
        jobs[..., 2] = (indirect_out * coef).reshape(n, n_r, n_s)
        jobs[..., 3] = (induced_out * coef).reshape(n, n_r, n_s)

        # Wages follow output per member of the labour force; migration answers gaps and jobs.
        income = sol.output.sum(axis=2)
        wage = b.wage0 * (income / self.y0.sum(axis=1)[None]) / (1.0 + b.labour_force) ** (k * dt)
        total_jobs = jobs.sum(axis=(2, 3))
        new_jobs = total_jobs - self.prev_jobs
        self.prev_jobs = total_jobs
        out["migration"][:, k] = migration_flows(
            b.migration_base * dt,
            wage,
            b.wage0,
            b.migration_elasticity,
            new_jobs,
            b.migration_recruit,
            self.migration_cap * dt,
        )

        out["trade"][:, k] = sol.trade * dt
        out["output"][:, k] = sol.output * dt
        out["price"][:, k] = sol.price
        out["expenditure"][:, k] = sol.expenditure * dt
        out["price_index"][:, k] = sol.price_index
        out["capital_flow_projects"][:, k] = ((spend_rate @ self.to_flow) * dt).reshape(
            n, n_r, n_r, n_s
        )
        out["capital_flow_other"][:, k] = b.other_investment[:, k] * dt
        out["wage"][:, k] = wage
        out["project_stage"][:, k] = self.stage
        for code in range(len(STAGES)):
            out["projects_by_stage"][:, k, code] = (self.stage == code).sum(axis=1)
        out["solver_iterations"][:, k] = sol.replica_iterations
        check_period(model, b, out, k)


#: Labels of the axes after (N,) of each checked per-period output.
_AXES = {
    "trade": ("origin", "destination", "sector"),
    "output": ("region", "sector"),
    "price": ("region", "sector"),
    "expenditure": ("region",),
    "capital_flow_projects": ("origin", "destination", "sector"),
    "capital_flow_other": ("origin", "destination"),
    "jobs": ("region", "sector", "kind"),
    "migration": ("origin", "destination"),
    "wage": ("region",),
}


def check_period(model: Model, batch: Batch, out: dict[str, FloatArray], k: int) -> None:
    """Stop the run at the first NaN, infinity or negative value of period ``k``.

    The message names the variable, the period, the replica, the region and
    sector, and the values this replica drew for the scenario's uncertain
    parameters (the usual cause of an impossible value).
    """
    for name, axes in _AXES.items():
        values = out[name][:, k]
        bad = ~np.isfinite(values) | (values < 0)
        if not bad.any():
            continue
        idx = np.argwhere(bad)[0]
        labels = {
            "origin": model.regions, "destination": model.regions, "region": model.regions,
            "sector": model.sectors, "kind": list(JOB_KINDS),
        }  # fmt: skip
        where = ", ".join(
            f"{axis} {labels[axis][i]}" for axis, i in zip(axes, idx[1:], strict=True)
        )
        replica = int(idx[0])
        drawn = "; ".join(
            f"{key} = {vals[replica]:.6g}" for key, vals in sorted(batch.drawn.items())
        )
        raise NumericalError(
            f"{name} became {float(values[tuple(idx)])!r} in the period starting "
            f"{model.calendar.starts[k]} (replica {batch.first + replica}, {where})\n"
            "  allowed: finite, non-negative values\n"
            + (f"  this replica drew: {drawn}\n" if drawn else "")
            + "  fix: check the scenario's elasticities, cost shocks, growth paths and the "
            "ranges of its distributions"
        )


def stage_change_periods(sim: BatchSimulation) -> list[int]:
    """Periods in which any replica of the batch changes any project's stage."""
    periods = sim.model.calendar.periods
    dates = np.concatenate([sim.entered.reshape(-1), sim.abandoned.reshape(-1)])
    return sorted(int(k) for k in np.unique(dates) if k < periods)


def simulate_batch(
    model: Model, batch: Batch, on_period: Callable[[int], None] | None = None
) -> BatchResult:
    """Run one batch through the SimPy calendar and return its raw arrays.

    ``on_period(k)`` is called after each period (progress reporting).
    """
    sim = BatchSimulation(model, batch)
    env = simpy.Environment()
    counter = {"events": 0}

    def at(time: float, action: Callable[[], None]) -> None:
        event = env.timeout(time)

        def fire(_: Any) -> None:
            counter["events"] += 1
            action()

        event.callbacks.append(fire)

    for k in stage_change_periods(sim):
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
    env.run()
    return BatchResult(arrays=sim.out, events=counter["events"])

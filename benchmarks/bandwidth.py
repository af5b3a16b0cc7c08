"""Effective memory bandwidth of each kernel call of a warm batch, against numpy's copy
(the suite's ``bandwidth`` section)."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.timing import best_of
from sim.engine.draw import draw_batch
from sim.engine.model import Model
from sim.engine.simulate import BatchSimulation
from sim.kernels import equilibrium
from sim.kernels.equilibrium import DENSE_SPENDING_LIMIT, solve_equilibrium
from sim.kernels.migration import migration_flows

#: Largest system whose spending block is a dense solve (``solve_equilibrium``'s default).
NEWTON_LIMIT = DENSE_SPENDING_LIMIT


def copy_bandwidth(nbytes: int, repeats: int = 5) -> float:
    """numpy's streaming copy (np.copyto of float64), bytes read plus written per second."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    seconds, _ = best_of(repeats, lambda: np.copyto(dst, src))
    return 2.0 * src.nbytes / seconds


def _warm_state(model: Model, replicas: int) -> BatchSimulation:
    """A batch advanced through its first period (prices warm, stages set)."""
    batch = draw_batch(model, 0, replicas)
    state = BatchSimulation(model, batch)
    state.apply_stage_changes(0)
    state.step(0)
    return state


def kernel_bandwidths(model: Model, replicas: int, copy: float) -> list[dict[str, Any]]:
    """Effective bandwidth of each kernel call on the arrays of a warm batch.

    Minimum bytes: every input array read once and every output written once,
    at its dtype; one solver iteration counts as one call.
    """
    state = _warm_state(model, replicas)
    b = state.batch
    n_r, n_s, _ = model.shape
    n = replicas
    cost = (
        state.iceberg
        * np.exp(state.log_trend)
        * (1.0 + b.cost_per_day[:, None, None, :] * state.border_days)
        / state.base_cost
    )
    quantity = np.ascontiguousarray(state.growth_level[:, 1])
    f8 = 8
    flows, cells = n * n_r * n_r * n_s, n * n_r * n_s
    rows: list[dict[str, Any]] = []

    def record(name: str, seconds: float, nbytes: float, note: str) -> None:
        rows.append(
            {
                "kernel": name,
                "seconds_per_call": seconds,
                "min_bytes": nbytes,
                "bytes_per_second": nbytes / seconds,
                "fraction_of_copy": nbytes / seconds / copy,
                "note": note,
            }
        )

    def solve(iterations: int) -> Any:
        return solve_equilibrium(
            model.baseline,
            b.theta,
            model.labour_markets,
            cost_change=cost,
            tariff=state.tariff,
            productivity=quantity,
            deficit_closure=model.deficit_closure,
            numeraire=model.numeraire,
            tol=0.0,
            max_iter=iterations,
        )

    t_few, sol_few = best_of(3, lambda: solve(1))
    t_more, sol_more = best_of(3, lambda: solve(6))
    per_iteration = (t_more - t_few) / max(sol_more.iterations - sol_few.iterations, 1)
    method = "dense spending" if n_r * n_s <= NEWTON_LIMIT else "iterated spending"
    record(
        f"solver iteration ({method})",
        per_iteration,
        f8 * (flows + 3 * cells + n * n_s + cells),
        "read cost changes, productivity, theta, unknowns; write unknowns",
    )
    shocks = equilibrium.Shocks.build(model.baseline, b.theta, cost, state.tariff, quantity, None)
    system = equilibrium.EquilibriumSystem(
        model.baseline,
        model.labour_markets,
        model.deficit_closure,
        model.numeraire,
        n_r * n_s <= NEWTON_LIMIT,
    )
    unknowns = system.normalise(np.zeros((n, model.labour_markets.count)))
    seconds, _ = best_of(5, lambda: system.evaluate(unknowns, shocks, None))
    record(
        "equilibrium evaluation (EquilibriumSystem.evaluate)",
        seconds,
        f8 * (2 * flows + 3 * cells + n * n_s + 2 * n * n_r),
        "read weights, productivity, theta, unknowns; write prices, spending, residual",
    )
    rng = np.random.default_rng(0)
    goods, plant = np.abs(rng.normal(size=(2, n, n_r * n_s)))

    def input_output() -> tuple[Any, Any]:
        # The step's input-output products, with its precomputed (transposed) inverses.
        indirect = goods @ state.total_t + plant @ state.supply_chain_t
        return indirect, (goods + plant) @ state.induced_t

    seconds, _ = best_of(5, input_output)
    record(
        "input-output jobs (the step's 3 matmuls)",
        seconds,
        f8 * (4 * n * n_r * n_s + 3 * (n_r * n_s) ** 2),
        f"read demand, plant output, 3 inverses; write 2; compute-bound: "
        f"{3 * 2 * n * (n_r * n_s) ** 2 / seconds / 1e9:.1f} GFLOP/s",
    )
    wage = b.wage0 * 1.01
    new_jobs = np.full((n, n_r), 10.0)
    cap = state.migration_cap * state.dt
    seconds, _ = best_of(
        5,
        lambda: migration_flows(
            b.migration_base * state.dt,
            wage,
            b.wage0,
            b.migration_elasticity,
            new_jobs,
            b.migration_recruit,
            cap,
        ),
    )
    record(
        "migration_flows",
        seconds,
        f8 * (3 * n * n_r + n + 3 * n * n_r * n_r + n_r * n_r),
        "read wages, jobs, recruitment, cap; write flows",
    )
    k = min(2, model.calendar.periods - 1)
    seconds, _ = best_of(3, lambda: state.step(k))
    n_p = len(model.projects)
    step_bytes = f8 * (
        7 * flows  # read trend slice, log trend (and write), iceberg, tariff, days, base cost
        + flows  # write trade
        + flows  # write capital flows by sector
        + 2 * cells  # read growth level, price guess
        + 6 * cells  # write output, price, 4 job kinds
        + 8 * n * n_p  # read capex, intensities, output per capex, entry, ramp, stage...
    )
    record(
        "whole period (BatchSimulation.step)",
        seconds,
        step_bytes,
        "the period's inputs read and outputs written once, solver iterations included",
    )
    return rows

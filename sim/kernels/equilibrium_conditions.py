"""The general equilibrium's conditions at given unknowns (sim.kernels.equilibrium).

Given the log wages (or log employment where the real wage is fixed) of every
labour market, :class:`EquilibriumSystem` solves the price block and the spending system and
returns the labour markets' excess demand; its finite-difference Jacobian and the
labelled solution are built here too. The equations are in the docstring of
:mod:`sim.kernels.equilibrium`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.kernels.equilibrium_accounts import (
    JACOBIAN_BATCH_ELEMENTS,
    EquilibriumBaseline,
    EquilibriumSolution,
    LabourMarkets,
)
from sim.kernels.equilibrium_shocks import Shocks, TradeShares

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def excess_of(residual: FloatArray) -> FloatArray:
    """Largest relative excess demand per replica (inf where not a number)."""
    gap = np.abs(np.expm1(residual)).max(axis=1)
    return np.where(np.isfinite(gap), gap, np.inf)


@dataclass
class SolverState:
    """What one evaluation leaves: warm starts and the residual."""

    log_price: FloatArray  # (N, R, S) sector price indices
    spending: FloatArray  # (N, R, S)
    residual: FloatArray  # (N, G)

    def take(self, rows: BoolArray | NDArray[np.int64]) -> SolverState:
        return SolverState(self.log_price[rows], self.spending[rows], self.residual[rows])

    def put(self, rows: NDArray[np.int64], other: SolverState) -> None:
        self.log_price[rows] = other.log_price
        self.spending[rows] = other.spending
        self.residual[rows] = other.residual

    def repeat(self, times: int) -> SolverState:
        return SolverState(*(np.repeat(a, times, axis=0) for a in self.__dict__.values()))


@dataclass
class _Point:
    """Every quantity of the model at given unknowns (nominal, before the numeraire)."""

    log_wage: FloatArray  # (N, G)
    log_employment: FloatArray  # (N, G)
    log_cost: FloatArray  # (N, R, S)
    log_price: FloatArray  # (N, R, S)
    log_cpi: FloatArray  # (N, R)
    shares: TradeShares  # pi'_ijs in factors
    spending: FloatArray  # (N, R, S)
    output: FloatArray  # (N, R, S)
    supply: FloatArray  # (N, G) value added the labour markets supply
    revenue: FloatArray  # (N, R)
    deficit: FloatArray  # (N, R) trade deficit: the closure's plus net investment inflow
    income: FloatArray  # (N, R) value added + revenue + closure's deficit - own outlay
    investment: FloatArray  # (N, i, j) nominal investment spending by investor and host


class EquilibriumSystem:
    """The equilibrium conditions of one baseline and closure, for any replicas."""

    def __init__(
        self,
        baseline: EquilibriumBaseline,
        labour: LabourMarkets,
        deficit_closure: str,
        numeraire: int | None,
        dense: bool,
    ) -> None:
        self.base = baseline
        self.labour = labour
        self.closure = deficit_closure
        self.numeraire = numeraire
        self.dense = dense
        n_r = baseline.shape[0]
        self.group = labour.group.ravel()
        fixed = np.isinf(labour.elasticity[labour.region])
        self.fixed = fixed  # (G,) markets with a fixed real wage: unknown is log employment
        self.finite_elasticity = np.where(fixed, 0.0, labour.elasticity[labour.region])
        self.va_group = np.asarray(
            np.bincount(self.group, weights=baseline.value_added.ravel(), minlength=labour.count),
            dtype=np.float64,
        )
        self.live = self.va_group > 0
        wage_unknown = ~fixed & self.live
        if not wage_unknown.any():
            raise ValueError(
                "at least one labour market with output must have a finite supply elasticity"
            )
        self.wage_unknown = wage_unknown
        h = wage_unknown.astype(float)
        self.pin_vector = h
        self.pin = np.outer(h, h)
        # Regions' income from their labour markets: (G,) -> (R,) sums.
        self.to_region = np.zeros((labour.count, n_r))
        self.to_region[np.arange(labour.count), labour.region] = 1.0
        va_region = baseline.value_added.sum(axis=1)
        # (V_j + D_j) / V_j, from income net of tariff revenue (no cancellation).
        self.phi = np.divide(
            baseline.income - baseline.tariff_revenue,
            va_region,
            out=np.ones(n_r),
            where=va_region > 0,
        )
        self.world_va = float(va_region.sum())
        # Final demand's (R, S) shares and the input shares as (j, t, s) for spending.
        self.gamma_t = np.ascontiguousarray(baseline.input_share.transpose(0, 2, 1))  # (j, s, t)
        self.has_inputs = bool(baseline.input_share.any())
        # d log c_ks / d log P_kt: input shares, plus the CPI weights where the real wage
        # is fixed (the wage follows the CPI), (R, S, S).
        fixed_cell = self.fixed[self.group].reshape(baseline.shape)
        self.cost_in_prices = baseline.input_share + (
            fixed_cell[:, :, None]
            * baseline.va_share[:, :, None]
            * baseline.final_share[:, None, :]
        )
        # Floats of the largest arrays one evaluated point needs (Jacobian batches).
        rs = n_r * baseline.shape[1]
        self.point_size = n_r * rs + (rs * rs if dense and self.has_inputs else 0)

    # The price block's and the spending system's Newton matrices at the baseline shares,
    # inverted once (the same for every replica), and only where a dense Newton step needs
    # them: with input-output linkages or a fixed real wage (two (RS, RS) inverses a solve).
    @cached_property
    def price_newton(self) -> FloatArray:
        base = self.base
        rs = base.output.size
        at_base = np.einsum("kjs,kst->jskt", base.share, self.cost_in_prices)
        return np.asarray(np.linalg.inv(np.eye(rs) - at_base.reshape(rs, rs)), dtype=np.float64)

    @cached_property
    def spend_newton(self) -> FloatArray:
        base = self.base
        rs = base.output.size
        to_producer = base.share / (1.0 + base.tariff)
        tax = (base.share - to_producer).sum(axis=0)
        spend_base = np.einsum("jst,jkt->jskt", self.gamma_t, to_producer)
        for j in range(base.shape[0]):
            spend_base[j, :, j, :] += base.final_share[j][:, None] * tax[j][None, :]
        return np.asarray(np.linalg.inv(np.eye(rs) - spend_base.reshape(rs, rs)), dtype=np.float64)

    # -- unknowns --------------------------------------------------------------------------
    def normalise(self, unknowns: FloatArray) -> FloatArray:
        """Remove the price level: mean log wage of the live wage markets is zero."""
        w = self.wage_unknown
        shift = unknowns[:, w].mean(axis=1, keepdims=True)
        out: FloatArray = np.where(~self.fixed[None], unknowns - shift, unknowns)
        return out

    # -- one evaluation -------------------------------------------------------------------
    def evaluate(
        self, unknowns: FloatArray, shocks: Shocks, warm: SolverState | None
    ) -> SolverState:
        point = self.point(unknowns, shocks, warm)
        return SolverState(point.log_price, point.spending, self.residual(unknowns, point))

    def residual(self, unknowns: FloatArray, point: _Point) -> FloatArray:
        n_rep = unknowns.shape[0]
        value_added = (self.base.va_share[None] * point.output).reshape(n_rep, -1)
        demand = _group_sum(value_added, self.group, self.labour.count)
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = np.log(demand) - np.log(point.supply)
        # A market without output pins its unknown: its wage follows the others'.
        mean = unknowns[:, self.wage_unknown].mean(axis=1, keepdims=True)
        idle = np.where(self.fixed[None], unknowns, unknowns - mean)
        out: FloatArray = np.where(self.live[None], gap, idle)
        return out

    def point(self, unknowns: FloatArray, shocks: Shocks, warm: SolverState | None) -> _Point:
        base = self.base
        n_rep = unknowns.shape[0]
        n_r, n_s = base.shape
        region = self.labour.region
        theta = shocks.theta[:, None, :]  # (N, 1, S)
        log_price = np.zeros((n_rep, n_r, n_s)) if warm is None else warm.log_price.copy()
        alpha = base.final_share
        beta = base.va_share[None]
        any_fixed = bool(self.fixed.any())
        has_inputs = self.has_inputs
        size = n_r * n_s
        newton = self.dense and (has_inputs or any_fixed)
        sweeps, last_change, exact = 0, np.inf, False
        for _ in range(100_000):
            log_cpi = (alpha[None] * log_price).sum(axis=2)
            log_wage = unknowns
            if any_fixed:
                cpi_wage = log_cpi[:, region] + shocks.log_target
                log_wage = np.where(self.fixed[None], cpi_wage, unknowns)
            # Productivity augments labour (value added), GTAP's primary-factor technical
            # change: real value added at baseline prices grows by it (the growth path is
            # real GDP growth), and output buys its inputs as before.
            log_wage_unit = log_wage[:, self.group].reshape(n_rep, n_r, n_s)
            log_cost = beta * (log_wage_unit - shocks.log_productivity)
            if has_inputs:
                log_cost += np.matmul(base.input_share[None], log_price[:, :, :, None])[..., 0]
            cost = np.exp(-theta * log_cost)  # (N, i, s)
            denom = np.einsum("nijs,nis->njs", shocks.weight, cost)
            new_price = -np.log(denom) / theta
            gap = new_price - log_price
            change = np.abs(gap).max()
            if not (has_inputs or any_fixed) or not change > 1e-14:
                log_price = new_price
                break
            if not newton:
                log_price = new_price  # a contraction: iterate
                continue
            sweeps += 1
            contracting = change < 0.25 * last_change
            last_change = change
            if sweeps <= 2 or (contracting and sweeps <= 40 and not exact):
                # Newton with the baseline's Jacobian (the same for every replica, so
                # its inverse is computed once): fast while the shares move little.
                # One matrix product for all replicas (a batch of matrix-vector
                # products would read the matrix once a replica).
                step = gap.reshape(n_rep, size) @ self.price_newton.T
            else:
                exact = True  # once the shares have moved too far, stay exact
                # Newton: d new_price_js / d log_price_kt =
                # pi'_kjs (gamma_kst + [fixed real wage at (k, s)] beta_ks alpha_kt).
                share = TradeShares(shocks.weight, cost, denom).full()
                jac = np.einsum("nkjs,kst->njskt", share, self.cost_in_prices)
                jac = np.eye(size)[None] - jac.reshape(n_rep, size, size)
                step = np.linalg.solve(jac, gap.reshape(n_rep, size, 1))
            log_price = log_price + step.reshape(n_rep, n_r, n_s)
        log_cpi = (alpha[None] * log_price).sum(axis=2)
        shares = TradeShares(shocks.weight, cost, denom)
        log_employment = np.where(
            self.fixed[None],
            unknowns,
            self.finite_elasticity[None] * (log_wage - log_cpi[:, region] - shocks.log_target),
        )
        supply: FloatArray = np.exp(log_wage + log_employment) * self.va_group[None]
        income_va = supply @ self.to_region  # (N, R)
        deficit, autonomous = self.deficits(income_va)
        if shocks.investment.size:
            # Real investment goods at the host's sector prices; the investor pays for
            # them out of its consumption income, so the host's trade deficit rises by
            # what foreign investors spend there (the capital inflow that finances it).
            price = np.exp(log_price)
            demand = shocks.invested_in * price  # (N, j, s)
            invested = np.einsum("nijs,njs->nij", shocks.investment, price)  # (N, i, j)
            outlay = invested.sum(axis=2)  # (N, i)
            autonomous = autonomous - outlay
            deficit = deficit + invested.sum(axis=1) - outlay
        else:
            demand, invested = None, np.zeros((n_rep, n_r, n_r))
        spending, tax = self.spend(shares, shocks, autonomous, warm, demand)
        # Producers receive spending net of tariffs; the tariffs are the importer's revenue.
        output = shares.sales(shocks.net if shocks.taxed else None, spending)  # (N, i, s)
        revenue = (tax * spending).sum(axis=2)
        return _Point(
            log_wage=log_wage,
            log_employment=log_employment,
            log_cost=log_cost,
            log_price=log_price,
            log_cpi=log_cpi,
            shares=shares,
            spending=spending,
            output=output,
            supply=supply,
            revenue=revenue,
            deficit=deficit,
            income=autonomous + revenue,
            investment=invested,
        )

    def deficits(self, income_va: FloatArray) -> tuple[FloatArray, FloatArray]:
        """D'_j under the closure and value added plus D'_j, both (N, R).

        ``income_va`` is the regions' value added (N, R). Under the ratio closure the
        sum is computed as a product, not as a difference, so that a region whose
        deficit nearly cancels its value added keeps its precision.
        """
        world = income_va.sum(axis=1, keepdims=True)
        if self.closure == "fixed":
            deficit: FloatArray = self.base.deficit[None] * world / self.world_va
            return deficit, income_va + deficit
        if self.closure == "zero":
            return np.zeros_like(income_va), income_va
        scale = world / (self.phi[None] * income_va).sum(axis=1, keepdims=True)
        total: FloatArray = income_va * self.phi[None] * scale
        return total - income_va, total

    def spend(
        self,
        shares: TradeShares,
        shocks: Shocks,
        autonomous: FloatArray,
        warm: SolverState | None,
        demand: FloatArray | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        r"""Solve :math:`E = \Gamma(B E) + \alpha(\rho\cdot E + I^{\mathrm{aut}}) + K` for E, (N, R, S).

        ``autonomous`` (N, R) is income that does not depend on spending (value
        added from the labour markets plus the deficit, less investment outlays);
        tariff revenue does. ``demand`` (N, R, S) is nominal investment demand
        :math:`K` by host region and sector (none if ``None``).
        """
        base = self.base
        n_rep = shares.denom.shape[0]
        n_r, n_s = base.shape
        alpha = base.final_share
        net = shocks.net if shocks.taxed else None
        # rho_js, the tariff's part of j's spending on s, (N, j, s)
        tax = shares.collected(shocks.levy) if shocks.taxed else np.zeros((n_rep, n_r, n_s))
        rhs = alpha[None] * autonomous[:, :, None]
        if not self.has_inputs:
            # Final demand only: E_js = alpha_js (rho_j . E_j + a_j) + K_js, so rho_j . E_j
            # has a closed form and E_j = alpha_j (a_j + rho_j . K_j) / (1 - rho_j . alpha_j) + K_j.
            lead = 1.0 / (1.0 - (tax * alpha[None]).sum(axis=2))[:, :, None]
            if demand is None:
                closed: FloatArray = rhs * lead
                return closed, tax
            taxed = (tax * demand).sum(axis=2)[:, :, None]
            with_k: FloatArray = alpha[None] * (autonomous[:, :, None] + taxed) * lead + demand
            return with_k, tax
        if demand is not None:
            rhs = rhs + demand
        if self.dense:
            size = n_r * n_s
            # Newton with the baseline's matrix (inverted once): E += (I - M_0)^-1 (M E + a - E),
            # a few matrix-vector products while the shares move little; else a dense solve.
            spending = rhs.copy() if warm is None else warm.spending.copy()
            for _ in range(8):
                output = shares.sales(net, spending)
                gap = np.matmul(self.gamma_t[None], output[:, :, :, None])[..., 0]
                gap += alpha[None] * ((tax * spending).sum(axis=2) + autonomous)[:, :, None]
                if demand is not None:
                    gap += demand
                gap -= spending
                if not np.abs(gap).max() > 1e-15 * np.abs(spending).max():
                    return spending, tax
                step = gap.reshape(n_rep, size) @ self.spend_newton.T
                spending = spending + step.reshape(n_rep, n_r, n_s)
            # M[(j, s), (k, t)] = gamma[j, s<-t] b[j, k, t] + delta_jk alpha_js rho_kt
            mat = np.einsum("jst,njkt->njskt", self.gamma_t, shares.full() * shocks.net)
            idx = np.arange(n_r)
            mat[:, idx, :, idx, :] += alpha[None, :, :, None].transpose(1, 0, 2, 3) * tax[
                :, :, None, :
            ].transpose(1, 0, 2, 3)
            system = np.eye(size)[None] - mat.reshape(n_rep, size, size)
            solved = np.linalg.solve(system, rhs.reshape(n_rep, size, 1))
            return solved.reshape(n_rep, n_r, n_s), tax
        spending = rhs.copy() if warm is None else warm.spending.copy()
        for _ in range(100_000):
            output = shares.sales(net, spending)  # (N, j, t) as producer
            new = np.einsum("jst,njt->njs", self.gamma_t, output)
            new += alpha[None] * ((tax * spending).sum(axis=2) + autonomous)[:, :, None]
            if demand is not None:
                new += demand
            gap = np.abs(new - spending).max() / max(np.abs(new).max(), 1e-300)
            spending = new
            if not gap > 1e-15:
                break
        return spending, tax

    # -- Newton's Jacobian ------------------------------------------------------------------
    def jacobian(self, unknowns: FloatArray, shocks: Shocks, state: SolverState) -> FloatArray:
        """Forward differences, (n, G, G); all perturbed points evaluated in batches."""
        n_rep, n_g = unknowns.shape
        h = 1e-6
        jac = np.empty((n_rep, n_g, n_g))
        chunk = max(1, JACOBIAN_BATCH_ELEMENTS // (self.point_size * n_g))
        for lo in range(0, n_rep, chunk):
            rows = slice(lo, min(lo + chunk, n_rep))
            m = rows.stop - rows.start
            moved = np.repeat(unknowns[rows], n_g, axis=0).reshape(m, n_g, n_g)
            moved[:, np.arange(n_g), np.arange(n_g)] += h
            sub = SolverState(state.log_price[rows], state.spending[rows], state.residual[rows])
            points = moved.reshape(m * n_g, n_g)
            at = self.point(
                points,
                shocks.sub(rows).repeat(n_g),
                sub.repeat(n_g),
            )
            out = self.residual(points, at).reshape(m, n_g, n_g)  # [replica, moved k, g]
            jac[rows] = ((out - state.residual[rows][:, None, :]) / h).transpose(0, 2, 1)
        return jac

    # -- the answer ------------------------------------------------------------------------
    def solution(
        self,
        unknowns: FloatArray,
        shocks: Shocks,
        state: SolverState,
        iterations: NDArray[np.int64],
        tol: float,
        inverse_jacobian: NDArray[np.floating[Any]],
    ) -> EquilibriumSolution:
        base = self.base
        point = self.point(unknowns, shocks, state)
        share = point.shares.full()
        n_rep = unknowns.shape[0]
        n_r, n_s = base.shape
        value_added = base.va_share[None] * point.output
        wage_group = np.exp(point.log_wage)
        wage = wage_group[:, self.group].reshape(n_rep, n_r, n_s)
        va0 = base.value_added[None]
        with np.errstate(divide="ignore", invalid="ignore"):
            employment = np.where(va0 > 0, value_added / (wage * va0), 1.0)
        employment_group = np.exp(point.log_employment)
        if self.numeraire is None:
            volume = (va0 * np.exp(shocks.log_productivity) * employment).sum(axis=(1, 2))
            scale = volume / value_added.sum(axis=(1, 2))
        else:
            scale = np.exp(-point.log_cpi[:, self.numeraire])
        s1 = scale[:, None]
        s2 = scale[:, None, None]
        s3 = scale[:, None, None, None]
        cpi = np.exp(point.log_cpi) * s1
        income = point.income * s1
        with np.errstate(divide="ignore", invalid="ignore"):
            real_income = np.where(base.income[None] > 0, income / (base.income[None] * cpi), 1.0)
        residual = state.residual
        return EquilibriumSolution(
            wage=wage * s2,
            employment=employment,
            unit_cost=np.exp(point.log_cost) * s2,
            sector_price=np.exp(point.log_price) * s2,
            cpi=cpi,
            share=share,
            trade=share * shocks.net * point.spending[:, None] * s3,
            spending=point.spending * s2,
            output=point.output * s2,
            value_added=value_added * s2,
            tariff_revenue=point.revenue * s1,
            deficit=point.deficit * s1,
            income=income,
            investment=point.investment * s2,
            real_income=real_income,
            real_wage=wage * s2 / cpi[:, :, None],
            employment_group=employment_group,
            inverse_jacobian=inverse_jacobian,
            iterations=int(iterations.max(initial=0)),
            replica_iterations=iterations,
            residual=excess_of(residual),
            converged=excess_of(residual) <= tol,
        )


def _group_sum(values: FloatArray, group: NDArray[np.int64], count: int) -> FloatArray:
    """Sum (N, RS) values into (N, G) labour markets."""
    n_rep = values.shape[0]
    cells = (np.arange(n_rep)[:, None] * count + group[None]).ravel()
    total = np.bincount(cells, weights=values.ravel(), minlength=n_rep * count)
    return np.asarray(total, dtype=np.float64).reshape(n_rep, count)

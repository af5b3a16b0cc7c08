"""The general equilibrium's conditions at given unknowns (sim.kernels.equilibrium).

Given the log wages (or log employment where the real wage is fixed) of every
labour market, :class:`_System` solves the price block and the spending system and
returns the labour markets' excess demand; its finite-difference Jacobian and the
labelled solution are built here too. The equations are in the docstring of
:mod:`sim.kernels.equilibrium`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.kernels.equilibrium_accounts import (
    JACOBIAN_BATCH_ELEMENTS,
    EquilibriumBaseline,
    EquilibriumSolution,
    LabourMarkets,
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def _excess(residual: FloatArray) -> FloatArray:
    """Largest relative excess demand per replica (inf where not a number)."""
    gap = np.abs(np.expm1(residual)).max(axis=1)
    return np.where(np.isfinite(gap), gap, np.inf)


@dataclass(frozen=True)
class _Shocks:
    """The counterfactual's per-replica inputs in the form the evaluation needs."""

    theta: FloatArray  # (N, S)
    weight: FloatArray  # (N, i, j, s): pi_ijs (kappa_hat tau_hat)^-theta
    net: FloatArray  # (N, i, j, s): 1 / (1 + tau')
    log_productivity: FloatArray  # (N, R, S)
    log_target: FloatArray  # (N, G)
    investment: FloatArray  # (N, i, j, s) real, or (N, 0, 0, 0) when there is none

    @classmethod
    def build(
        cls,
        baseline: EquilibriumBaseline,
        theta: FloatArray,
        cost_change: FloatArray | None,
        tariff: FloatArray | None,
        productivity: FloatArray | None,
        real_wage_target: FloatArray | None,
        investment: FloatArray | None = None,
    ) -> _Shocks:
        n_rep = theta.shape[0]
        n_r, n_s = baseline.shape
        new_tariff = baseline.tariff[None] if tariff is None else tariff
        factor = (1.0 + new_tariff) / (1.0 + baseline.tariff[None])
        if cost_change is not None:
            factor = factor * cost_change
        weight = baseline.share[None] * factor ** (-theta[:, None, None, :])
        net = np.broadcast_to(1.0 / (1.0 + new_tariff), weight.shape)
        log_a = (
            np.zeros((n_rep, n_r, n_s))
            if productivity is None
            else np.log(np.broadcast_to(productivity, (n_rep, n_r, n_s)))
        )
        log_target = (
            np.zeros((n_rep, 1))
            if real_wage_target is None
            else np.log(np.broadcast_to(real_wage_target, (n_rep, real_wage_target.shape[-1])))
        )
        invest = (
            np.zeros((n_rep, 0, 0, 0))
            if investment is None or not np.any(investment)
            else np.broadcast_to(investment, (n_rep, n_r, n_r, n_s)).astype(float)
        )
        return cls(theta, weight, net, log_a, log_target, invest)

    def take(self, rows: BoolArray | NDArray[np.int64]) -> _Shocks:
        return _Shocks(
            self.theta[rows],
            self.weight[rows],
            self.net[rows],
            self.log_productivity[rows],
            self.log_target[rows],
            self.investment[rows],
        )

    def repeat(self, times: int) -> _Shocks:
        return _Shocks(*(np.repeat(a, times, axis=0) for a in self.__dict__.values()))


@dataclass
class _State:
    """What one evaluation leaves: warm starts and the residual."""

    log_price: FloatArray  # (N, R, S) sector price indices
    spending: FloatArray  # (N, R, S)
    residual: FloatArray  # (N, G)

    def take(self, rows: BoolArray | NDArray[np.int64]) -> _State:
        return _State(self.log_price[rows], self.spending[rows], self.residual[rows])

    def put(self, rows: NDArray[np.int64], other: _State) -> None:
        self.log_price[rows] = other.log_price
        self.spending[rows] = other.spending
        self.residual[rows] = other.residual

    def repeat(self, times: int) -> _State:
        return _State(*(np.repeat(a, times, axis=0) for a in self.__dict__.values()))


@dataclass
class _Point:
    """Every quantity of the model at given unknowns (nominal, before the numeraire)."""

    log_wage: FloatArray  # (N, G)
    log_employment: FloatArray  # (N, G)
    log_cost: FloatArray  # (N, R, S)
    log_price: FloatArray  # (N, R, S)
    log_cpi: FloatArray  # (N, R)
    share: FloatArray  # (N, i, j, s)
    spending: FloatArray  # (N, R, S)
    output: FloatArray  # (N, R, S)
    supply: FloatArray  # (N, G) value added the labour markets supply
    revenue: FloatArray  # (N, R)
    deficit: FloatArray  # (N, R) trade deficit: the closure's plus net investment inflow
    income: FloatArray  # (N, R) value added + revenue + closure's deficit - own outlay
    investment: FloatArray  # (N, i, j) nominal investment spending by investor and host


class _System:
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
        # The price block's and the spending system's Newton matrices at the baseline
        # shares, inverted once (the same for every replica).
        rs = baseline.output.size
        if dense and rs > 0:
            at_base = np.einsum("kjs,kst->jskt", baseline.share, self.cost_in_prices)
            self.price_newton = np.linalg.inv(np.eye(rs) - at_base.reshape(rs, rs))
            to_producer = baseline.share / (1.0 + baseline.tariff)
            tax = (baseline.share - to_producer).sum(axis=0)
            spend_base = np.einsum("jst,jkt->jskt", self.gamma_t, to_producer)
            for j in range(n_r):
                spend_base[j, :, j, :] += baseline.final_share[j][:, None] * tax[j][None, :]
            self.spend_newton = np.linalg.inv(np.eye(rs) - spend_base.reshape(rs, rs))
        # Floats of the largest arrays one evaluated point needs (Jacobian batches).
        rs = n_r * baseline.shape[1]
        self.point_size = n_r * rs + (rs * rs if dense and self.has_inputs else 0)

    # -- unknowns --------------------------------------------------------------------------
    def normalise(self, unknowns: FloatArray) -> FloatArray:
        """Remove the price level: mean log wage of the live wage markets is zero."""
        w = self.wage_unknown
        shift = unknowns[:, w].mean(axis=1, keepdims=True)
        out: FloatArray = np.where(~self.fixed[None], unknowns - shift, unknowns)
        return out

    # -- one evaluation -------------------------------------------------------------------
    def evaluate(self, unknowns: FloatArray, shocks: _Shocks, warm: _State | None) -> _State:
        point = self.point(unknowns, shocks, warm)
        return _State(point.log_price, point.spending, self.residual(unknowns, point))

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

    def point(self, unknowns: FloatArray, shocks: _Shocks, warm: _State | None) -> _Point:
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
            numer = shocks.weight * np.exp(-theta * log_cost)[:, :, None, :]
            denom = numer.sum(axis=1)
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
                step = np.matmul(self.price_newton, gap.reshape(n_rep, size, 1))
            else:
                exact = True  # once the shares have moved too far, stay exact
                # Newton: d new_price_js / d log_price_kt =
                # pi'_kjs (gamma_kst + [fixed real wage at (k, s)] beta_ks alpha_kt).
                share = numer / denom[:, None]
                jac = np.einsum("nkjs,kst->njskt", share, self.cost_in_prices)
                jac = np.eye(size)[None] - jac.reshape(n_rep, size, size)
                step = np.linalg.solve(jac, gap.reshape(n_rep, size, 1))
            log_price = log_price + step.reshape(n_rep, n_r, n_s)
        log_cpi = (alpha[None] * log_price).sum(axis=2)
        share = numer / denom[:, None]
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
            nominal = shocks.investment * np.exp(log_price)[:, None]  # (N, i, j, s)
            demand = nominal.sum(axis=1)  # (N, j, s)
            outlay = nominal.sum(axis=(2, 3))  # (N, i)
            autonomous = autonomous - outlay
            invested = nominal.sum(axis=3)  # (N, i, j)
            deficit = deficit + invested.sum(axis=1) - outlay
        else:
            demand, invested = None, np.zeros((n_rep, n_r, n_r))
        spending = self.spend(share, shocks.net, autonomous, warm, demand)
        bought = share * shocks.net * spending[:, None]  # producer prices, (N, i, j, s)
        output = bought.sum(axis=2)
        revenue = (share * spending[:, None]).sum(axis=(1, 3)) - bought.sum(axis=(1, 3))
        return _Point(
            log_wage=log_wage,
            log_employment=log_employment,
            log_cost=log_cost,
            log_price=log_price,
            log_cpi=log_cpi,
            share=share,
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
        share: FloatArray,
        net: FloatArray,
        autonomous: FloatArray,
        warm: _State | None,
        demand: FloatArray | None = None,
    ) -> FloatArray:
        r"""Solve :math:`E = \Gamma(B E) + \alpha(\rho\cdot E + I^{\mathrm{aut}}) + K` for E, (N, R, S).

        ``autonomous`` (N, R) is income that does not depend on spending (value
        added from the labour markets plus the deficit, less investment outlays);
        tariff revenue does. ``demand`` (N, R, S) is nominal investment demand
        :math:`K` by host region and sector (none if ``None``).
        """
        base = self.base
        n_rep = share.shape[0]
        n_r, n_s = base.shape
        alpha = base.final_share
        to_producer = share * net  # b_ijs, (N, i, j, s)
        tax = (share - to_producer).sum(axis=1)  # rho_js, (N, j, s)
        rhs = alpha[None] * autonomous[:, :, None]
        if not self.has_inputs:
            # Final demand only: E_js = alpha_js (rho_j . E_j + a_j) + K_js, so rho_j . E_j
            # has a closed form and E_j = alpha_j (a_j + rho_j . K_j) / (1 - rho_j . alpha_j) + K_j.
            lead = 1.0 / (1.0 - (tax * alpha[None]).sum(axis=2))[:, :, None]
            if demand is None:
                closed: FloatArray = rhs * lead
                return closed
            taxed = (tax * demand).sum(axis=2)[:, :, None]
            with_k: FloatArray = alpha[None] * (autonomous[:, :, None] + taxed) * lead + demand
            return with_k
        if demand is not None:
            rhs = rhs + demand
        if self.dense:
            size = n_r * n_s
            # Newton with the baseline's matrix (inverted once): E += (I - M_0)^-1 (M E + a - E),
            # a few matrix-vector products while the shares move little; else a dense solve.
            spending = rhs.copy() if warm is None else warm.spending.copy()
            for _ in range(8):
                output = (to_producer * spending[:, None]).sum(axis=2)
                gap = np.matmul(self.gamma_t[None], output[:, :, :, None])[..., 0]
                gap += alpha[None] * ((tax * spending).sum(axis=2) + autonomous)[:, :, None]
                if demand is not None:
                    gap += demand
                gap -= spending
                if not np.abs(gap).max() > 1e-15 * np.abs(spending).max():
                    return spending
                step = np.matmul(self.spend_newton, gap.reshape(n_rep, size, 1))
                spending = spending + step.reshape(n_rep, n_r, n_s)
            # M[(j, s), (k, t)] = gamma[j, s<-t] b[j, k, t] + delta_jk alpha_js rho_kt
            mat = np.einsum("jst,njkt->njskt", self.gamma_t, to_producer)
            idx = np.arange(n_r)
            mat[:, idx, :, idx, :] += alpha[None, :, :, None].transpose(1, 0, 2, 3) * tax[
                :, :, None, :
            ].transpose(1, 0, 2, 3)
            system = np.eye(size)[None] - mat.reshape(n_rep, size, size)
            solved = np.linalg.solve(system, rhs.reshape(n_rep, size, 1))
            return solved.reshape(n_rep, n_r, n_s)
        spending = rhs.copy() if warm is None else warm.spending.copy()
        for _ in range(100_000):
            output = (to_producer * spending[:, None]).sum(axis=2)  # (N, j, t) as producer
            new = np.einsum("jst,njt->njs", self.gamma_t, output)
            new += alpha[None] * ((tax * spending).sum(axis=2) + autonomous)[:, :, None]
            if demand is not None:
                new += demand
            gap = np.abs(new - spending).max() / max(np.abs(new).max(), 1e-300)
            spending = new
            if not gap > 1e-15:
                break
        return spending

    # -- Newton's Jacobian ------------------------------------------------------------------
    def jacobian(self, unknowns: FloatArray, shocks: _Shocks, state: _State) -> FloatArray:
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
            sub = _State(state.log_price[rows], state.spending[rows], state.residual[rows])
            points = moved.reshape(m * n_g, n_g)
            at = self.point(
                points,
                _Shocks(*(a[rows] for a in shocks.__dict__.values())).repeat(n_g),
                sub.repeat(n_g),
            )
            out = self.residual(points, at).reshape(m, n_g, n_g)  # [replica, moved k, g]
            jac[rows] = ((out - state.residual[rows][:, None, :]) / h).transpose(0, 2, 1)
        return jac

    # -- the answer ------------------------------------------------------------------------
    def solution(
        self,
        unknowns: FloatArray,
        shocks: _Shocks,
        state: _State,
        iterations: NDArray[np.int64],
        tol: float,
        inverse_jacobian: FloatArray,
    ) -> EquilibriumSolution:
        base = self.base
        point = self.point(unknowns, shocks, state)
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
            share=point.share,
            trade=point.share * shocks.net * point.spending[:, None] * s3,
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
            residual=_excess(residual),
            converged=_excess(residual) <= tol,
        )


def _group_sum(values: FloatArray, group: NDArray[np.int64], count: int) -> FloatArray:
    """Sum (N, RS) values into (N, G) labour markets."""
    n_rep = values.shape[0]
    cells = (np.arange(n_rep)[:, None] * count + group[None]).ravel()
    total = np.bincount(cells, weights=values.ravel(), minlength=n_rep * count)
    return np.asarray(total, dtype=np.float64).reshape(n_rep, count)

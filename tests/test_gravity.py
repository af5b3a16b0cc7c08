"""Tests for sim.kernels.gravity: exact hat algebra of multi-sector structural gravity.

Every check recomputes the equilibrium conditions independently from the returned
prices and expenditure, or compares with a small independent solver.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from sim.kernels import gravity
from sim.kernels.gravity import (
    GravityBaseline,
    GravitySolution,
    build_gravity_baseline,
    cost_weights,
    extrapolate_prices,
    solve_gravity,
)

CLOSURES = ("ratio", "additive")
NUMERAIRES = (None, 0, 2)


# --- helpers ------------------------------------------------------------------------------


def _flows(seed: int = 0, regions: int = 3, sectors: int = 2) -> np.ndarray:
    """A positive, unbalanced (E_j != Y_j) trade table with a home bias."""
    rng = np.random.default_rng(seed)
    flows = rng.uniform(1.0, 10.0, size=(regions, regions, sectors))
    flows[np.arange(regions), np.arange(regions)] *= 8.0
    return flows


def _solve(
    flows: np.ndarray,
    cost: np.ndarray,
    theta: np.ndarray,
    quantity: np.ndarray,
    **kwargs: object,
) -> tuple[GravityBaseline, GravitySolution]:
    baseline = build_gravity_baseline(flows)
    sol = solve_gravity(baseline, cost_weights(cost, theta), theta, quantity, **kwargs)
    return baseline, sol


def _shock(n_rep: int, regions: int, sectors: int, seed: int = 1) -> np.ndarray:
    """Random trade-cost changes with the domestic cost left at 1."""
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0.75, 1.3, size=(n_rep, regions, regions, sectors))
    cost[:, np.arange(regions), np.arange(regions)] = 1.0
    return cost


def _gravity_prediction(
    flows: np.ndarray, cost: np.ndarray, theta: np.ndarray, sol: GravitySolution
) -> np.ndarray:
    """X'_ijs from the gravity equation, computed from scratch (no kernel helpers)."""
    n_rep, regions = cost.shape[0], flows.shape[0]
    e_js = flows.sum(axis=0)  # (j, s)
    pi = flows / e_js[None]
    alpha = e_js / e_js.sum(axis=1, keepdims=True)
    out = np.empty_like(sol.trade)
    for n in range(n_rep):
        for j in range(regions):
            for s in range(flows.shape[2]):
                weight = pi[:, j, s] * (cost[n, :, j, s] * sol.price[n, :, s]) ** -theta[n, s]
                out[n, :, j, s] = weight / weight.sum() * alpha[j, s] * sol.expenditure[n, j]
    return out


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


# --- zero shock ---------------------------------------------------------------------------


@pytest.mark.parametrize("closure", CLOSURES)
@pytest.mark.parametrize("numeraire", NUMERAIRES)
def test_zero_shock_returns_baseline(closure: str, numeraire: int | None) -> None:
    flows = _flows()
    n_rep, regions, sectors = 2, 3, 2
    theta = np.array([[4.0, 6.0], [2.5, 8.0]])
    _, sol = _solve(
        flows,
        np.ones((n_rep, regions, regions, sectors)),
        theta,
        np.ones((n_rep, regions, sectors)),
        closure=closure,
        numeraire=numeraire,
    )
    assert sol.converged.all()
    for n in range(n_rep):
        assert _rel(sol.trade[n], flows) < 1e-12
        assert _rel(sol.output[n], flows.sum(axis=1)) < 1e-12
        assert _rel(sol.expenditure[n], flows.sum(axis=(0, 2))) < 1e-12
    np.testing.assert_allclose(sol.price, 1.0, rtol=1e-12)
    np.testing.assert_allclose(sol.price_index, 1.0, rtol=1e-12)


def test_baseline_quantities() -> None:
    flows = _flows(seed=3)
    base = build_gravity_baseline(flows)
    np.testing.assert_allclose(base.shares.sum(axis=0), 1.0, rtol=1e-14)
    np.testing.assert_allclose(base.alpha.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(base.output[1, 0], flows[1, :, 0].sum(), rtol=1e-14)
    np.testing.assert_allclose(base.expenditure[2], flows[:, 2, :].sum(), rtol=1e-14)
    np.testing.assert_allclose(base.shares[0, 1, 1], flows[0, 1, 1] / flows[:, 1, 1].sum())
    # a destination-sector that buys nothing gets zero shares, not nan
    flows[:, 0, 1] = 0.0
    base = build_gravity_baseline(flows)
    assert np.all(base.shares[:, 0, 1] == 0.0)
    assert base.alpha[0, 1] == 0.0


def test_cost_weights() -> None:
    cost = np.array([1.0, 2.0, 0.5]).reshape(1, 3, 1, 1) * np.ones((2, 3, 3, 2))
    theta = np.array([[4.0, 2.0], [1.0, 3.0]])
    w = cost_weights(cost, theta)
    assert w[0, 1, 0, 0] == pytest.approx(2.0**-4)
    assert w[0, 2, 1, 1] == pytest.approx(0.5**-2)
    assert w[1, 1, 2, 1] == pytest.approx(2.0**-3)
    assert w[1, 0, 0, 0] == 1.0


def test_unknown_closure_rejected() -> None:
    base = build_gravity_baseline(_flows())
    with pytest.raises(ValueError, match="closure"):
        solve_gravity(base, np.ones((1, 3, 3, 2)), np.ones((1, 2)), np.ones((1, 3, 2)), closure="x")


# --- equilibrium conditions after a shock -------------------------------------------------


@pytest.fixture(scope="module")
def shocked() -> dict[tuple[str, int | None], tuple]:
    """Solutions of one shocked 3x3x2 economy (4 replicas) for all closures/numeraires."""
    flows = _flows()
    n_rep, regions, sectors = 4, 3, 2
    cost = _shock(n_rep, regions, sectors)
    theta = np.random.default_rng(2).uniform(2.0, 8.0, size=(n_rep, sectors))
    quantity = np.random.default_rng(3).uniform(0.9, 1.3, size=(n_rep, regions, sectors))
    out = {}
    for closure in CLOSURES:
        for numeraire in NUMERAIRES:
            base, sol = _solve(flows, cost, theta, quantity, closure=closure, numeraire=numeraire)
            out[closure, numeraire] = (flows, cost, theta, quantity, base, sol)
    return out


@pytest.mark.parametrize("closure", CLOSURES)
@pytest.mark.parametrize("numeraire", NUMERAIRES)
def test_gravity_equation_holds(shocked: dict, closure: str, numeraire: int | None) -> None:
    flows, cost, theta, _, _, sol = shocked[closure, numeraire]
    assert sol.converged.all()
    assert np.all(sol.residual <= 1e-12)
    # the shock must actually move prices, or the check below is vacuous
    assert np.abs(sol.price / sol.price[:, :1, :1] - 1.0).max() > 1e-2
    assert _rel(sol.trade, _gravity_prediction(flows, cost, theta, sol)) < 1e-10


@pytest.mark.parametrize("closure", CLOSURES)
@pytest.mark.parametrize("numeraire", NUMERAIRES)
def test_market_clearing(shocked: dict, closure: str, numeraire: int | None) -> None:
    flows, _, _, quantity, _, sol = shocked[closure, numeraire]
    assert _rel(sol.trade.sum(axis=2), sol.output) < 1e-10
    # output is the value of supply at the new prices
    assert _rel(sol.output, flows.sum(axis=1)[None] * quantity * sol.price) < 1e-12
    # spending on each destination's imports equals its expenditure
    assert _rel(sol.trade.sum(axis=(1, 3)), sol.expenditure) < 1e-10


@pytest.mark.parametrize("numeraire", NUMERAIRES)
def test_ratio_closure(shocked: dict, numeraire: int | None) -> None:
    flows, *_, sol = shocked["ratio", numeraire]
    e0, y0 = flows.sum(axis=(0, 2)), flows.sum(axis=(1, 2))
    assert np.abs(e0 / y0 - 1.0).min() > 1e-2  # the baseline really has deficits
    income = sol.output.sum(axis=2)
    factor = (sol.expenditure / income) / (e0 / y0)[None]  # (N, R): one common value per n
    np.testing.assert_allclose(factor, factor[:, :1] * np.ones_like(factor), rtol=1e-12)
    np.testing.assert_allclose(sol.expenditure.sum(axis=1), income.sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize("numeraire", NUMERAIRES)
def test_additive_closure(shocked: dict, numeraire: int | None) -> None:
    flows, *_, sol = shocked["additive", numeraire]
    e0, y0 = flows.sum(axis=(0, 2)), flows.sum(axis=(1, 2))
    deficit = e0 - y0
    income = sol.output.sum(axis=2)
    scale = income.sum(axis=1, keepdims=True) / y0.sum()
    np.testing.assert_allclose(
        sol.expenditure - income, deficit[None] * scale, rtol=1e-10, atol=1e-10 * y0.sum()
    )
    np.testing.assert_allclose(sol.expenditure.sum(axis=1), income.sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize("closure", CLOSURES)
def test_numeraire_world_output(shocked: dict, closure: str) -> None:
    flows, _, _, quantity, _, sol = shocked[closure, None]
    target = (flows.sum(axis=1)[None] * quantity).sum(axis=(1, 2))
    np.testing.assert_allclose(sol.output.sum(axis=(1, 2)), target, rtol=1e-12)
    assert np.abs(sol.price_index - 1.0).max() > 1e-3  # CPIs are free in this normalisation


@pytest.mark.parametrize("closure", CLOSURES)
@pytest.mark.parametrize("numeraire", [0, 2])
def test_numeraire_region_cpi(shocked: dict, closure: str, numeraire: int) -> None:
    flows, cost, theta, _, _, sol = shocked[closure, numeraire]
    np.testing.assert_allclose(sol.price_index[:, numeraire], 1.0, rtol=1e-12)
    # the CPI itself, recomputed: prod_s (sum_k pi_kjs (t p)^-theta)^(-alpha_js/theta_s)
    e_js = flows.sum(axis=0)
    pi, alpha = flows / e_js[None], e_js / e_js.sum(axis=1, keepdims=True)
    n_rep, regions, _, sectors = cost.shape
    for n in range(n_rep):
        for j in range(regions):
            log_cpi = 0.0
            for s in range(sectors):
                term = (pi[:, j, s] * (cost[n, :, j, s] * sol.price[n, :, s]) ** -theta[n, s]).sum()
                log_cpi += alpha[j, s] * np.log(term) / -theta[n, s]
            assert sol.price_index[n, j] == pytest.approx(np.exp(log_cpi), rel=1e-12)


@pytest.mark.parametrize("closure", CLOSURES)
def test_numeraire_only_changes_units(shocked: dict, closure: str) -> None:
    """Relative prices and trade shares do not depend on the unit of account."""
    sol_none = shocked[closure, None][-1]
    sol_0 = shocked[closure, 0][-1]
    ratio = sol_0.price / sol_none.price
    np.testing.assert_allclose(ratio, ratio[:, :1, :1] * np.ones_like(ratio), rtol=1e-10)
    np.testing.assert_allclose(
        sol_0.trade / sol_none.trade, ratio[:, :1, :1, None] * np.ones_like(sol_0.trade), rtol=1e-10
    )


# --- comparative statics ------------------------------------------------------------------


@pytest.mark.parametrize("closure", CLOSURES)
def test_lower_pair_cost_raises_pair_trade(closure: str) -> None:
    flows = _flows(seed=5)
    regions, sectors = 3, 2
    cost = np.ones((1, regions, regions, sectors))
    cost[0, 0, 1] = cost[0, 1, 0] = 0.8  # cheaper trade between regions 0 and 1 only
    theta = np.array([[4.0, 6.0]])
    _, sol = _solve(flows, cost, theta, np.ones((1, regions, sectors)), closure=closure)
    assert sol.converged.all()
    trade = sol.trade[0]
    for s in range(sectors):
        assert trade[0, 1, s] > flows[0, 1, s]
        assert trade[1, 0, s] > flows[1, 0, s]
        for r in (0, 1):
            new_share = trade[r, r, s] / trade[:, r, s].sum()
            old_share = flows[r, r, s] / flows[:, r, s].sum()
            assert new_share < old_share


def test_homogeneity_in_baseline_scale() -> None:
    flows = _flows(seed=7)
    n_rep, regions, sectors = 2, 3, 2
    cost = _shock(n_rep, regions, sectors, seed=8)
    theta = np.array([[3.0, 5.0], [6.0, 2.0]])
    quantity = np.full((n_rep, regions, sectors), 1.1)
    for closure in CLOSURES:
        _, sol = _solve(flows, cost, theta, quantity, closure=closure)
        _, scaled = _solve(1234.5 * flows, cost, theta, quantity, closure=closure)
        np.testing.assert_allclose(scaled.price, sol.price, rtol=1e-12)
        np.testing.assert_allclose(scaled.trade, 1234.5 * sol.trade, rtol=1e-12)
        np.testing.assert_allclose(scaled.price_index, sol.price_index, rtol=1e-12)


def test_symmetric_economy_gives_symmetric_result() -> None:
    """Invariance under the region permutation (0 1)(2 3) of data and shock."""
    sigma = np.array([1, 0, 3, 2])
    rng = np.random.default_rng(11)
    raw = rng.uniform(1.0, 10.0, size=(4, 4, 2)) + 20.0 * np.eye(4)[:, :, None]
    flows = raw + raw[sigma][:, sigma]
    assert not np.allclose(flows[:, :, 0], flows[:, :, 0].T)  # not a trivial symmetric table
    raw_cost = rng.uniform(0.7, 1.2, size=(1, 4, 4, 2))
    cost = 0.5 * (raw_cost + raw_cost[:, sigma][:, :, sigma])
    theta = np.array([[3.0, 7.0]])
    quantity = np.ones((1, 4, 2))
    quantity[0, [0, 1]] = 1.2
    for closure in CLOSURES:
        _, sol = _solve(flows, cost, theta, quantity, closure=closure)
        assert sol.converged.all()
        assert np.abs(sol.price - 1.0).max() > 1e-2
        np.testing.assert_allclose(sol.price[:, sigma], sol.price, rtol=1e-10)
        np.testing.assert_allclose(sol.trade[:, sigma][:, :, sigma], sol.trade, rtol=1e-10)
        np.testing.assert_allclose(sol.price_index[:, sigma], sol.price_index, rtol=1e-10)
        np.testing.assert_allclose(sol.expenditure[:, sigma], sol.expenditure, rtol=1e-10)


def test_two_identical_regions_symmetric_shock() -> None:
    flows = np.zeros((2, 2, 1))
    flows[:, :, 0] = [[80.0, 20.0], [20.0, 80.0]]
    cost = np.array([[1.0, 0.9], [0.9, 1.0]]).reshape(1, 2, 2, 1)
    theta = np.array([[5.0]])
    _, sol = _solve(flows, cost, theta, np.ones((1, 2, 1)))
    # equal prices (=1 by the world-output numeraire), so the new share is analytic
    np.testing.assert_allclose(sol.price, 1.0, rtol=1e-12)
    foreign = 0.2 * 0.9**-5 / (0.8 + 0.2 * 0.9**-5)
    np.testing.assert_allclose(sol.trade[0, 0, 1, 0], foreign * 100.0, rtol=1e-12)
    np.testing.assert_allclose(sol.trade[0, 1, 0, 0], foreign * 100.0, rtol=1e-12)
    cpi = (0.8 + 0.2 * 0.9**-5) ** (-1 / 5)
    np.testing.assert_allclose(sol.price_index, cpi, rtol=1e-12)


# --- independent solver --------------------------------------------------------------------


def _fsolve_single_sector(
    flows: np.ndarray, cost: np.ndarray, theta: float, quantity: np.ndarray
) -> np.ndarray:
    """Exact hat algebra, one sector, ratio closure, world output numeraire, via fsolve."""
    x = flows[:, :, 0]
    y0, e0 = x.sum(axis=1), x.sum(axis=0)
    pi = x / e0[None]
    phi = e0 / y0
    t = cost[:, :, 0]
    q = quantity[:, 0]
    regions = x.shape[0]

    def excess(log_p: np.ndarray) -> np.ndarray:
        p = np.exp(log_p)
        y = y0 * q * p
        spend = phi * y * y.sum() / (phi * y).sum()
        weight = pi * (t * p[:, None]) ** -theta
        demand = (weight / weight.sum(axis=0)[None] * spend[None]).sum(axis=1)
        res = demand / y - 1.0
        # market clearing for all but one region (Walras) plus the numeraire
        res[-1] = y.sum() / (y0 * q).sum() - 1.0
        return res

    solution = optimize.root(excess, np.zeros(regions), method="hybr", tol=1e-14)
    assert solution.success
    return np.exp(solution.x)


def test_matches_independent_solver() -> None:
    regions = 4
    flows = _flows(seed=13, regions=regions, sectors=1)
    cost = _shock(1, regions, 1, seed=14)
    quantity = np.random.default_rng(15).uniform(0.8, 1.4, size=(1, regions, 1))
    theta = 4.5
    _, sol = _solve(flows, cost, np.array([[theta]]), quantity)
    p_ref = _fsolve_single_sector(flows, cost[0], theta, quantity[0])
    assert np.abs(p_ref - 1.0).max() > 1e-2
    np.testing.assert_allclose(sol.price[0, :, 0], p_ref, rtol=1e-10)


# --- batching, iteration budget, growth ----------------------------------------------------


@pytest.mark.parametrize("closure", CLOSURES)
@pytest.mark.parametrize("numeraire", [None, 1])
def test_batch_independence(closure: str, numeraire: int | None) -> None:
    flows = _flows(seed=17)
    n_rep, regions, sectors = 5, 3, 2
    cost = _shock(n_rep, regions, sectors, seed=18)
    theta = np.random.default_rng(19).uniform(1.5, 9.0, size=(n_rep, sectors))
    quantity = np.random.default_rng(20).uniform(0.9, 1.2, size=(n_rep, regions, sectors))
    _, batch = _solve(flows, cost, theta, quantity, closure=closure, numeraire=numeraire)
    assert batch.converged.all()
    for n in range(n_rep):
        sl = slice(n, n + 1)
        _, alone = _solve(
            flows, cost[sl], theta[sl], quantity[sl], closure=closure, numeraire=numeraire
        )
        for field in ("price", "trade", "output", "expenditure", "price_index"):
            np.testing.assert_allclose(
                getattr(batch, field)[sl], getattr(alone, field), rtol=1e-12, err_msg=field
            )
        assert batch.converged[n] == alone.converged[0]


def test_small_iteration_budget_not_converged() -> None:
    flows = _flows()
    cost = _shock(2, 3, 2)
    theta = np.array([[4.0, 6.0], [3.0, 5.0]])
    quantity = np.ones((2, 3, 2))
    _, sol = _solve(flows, cost, theta, quantity, max_iter=1, tol=1e-12)
    assert not sol.converged.any()
    assert np.all(sol.residual > 1e-12)
    assert sol.iterations == 1
    _, full = _solve(flows, cost, theta, quantity, tol=1e-12)
    assert full.converged.all()
    assert full.iterations > 1


def test_warm_start_converges_to_same_point() -> None:
    flows = _flows()
    cost = _shock(2, 3, 2)
    theta = np.array([[4.0, 6.0], [3.0, 5.0]])
    quantity = np.ones((2, 3, 2))
    _, cold = _solve(flows, cost, theta, quantity)
    wobble = 1.0 + 1e-3 * np.random.default_rng(4).standard_normal(cold.price.shape)
    _, warm = _solve(flows, cost, theta, quantity, price_guess=cold.price * wobble)
    assert warm.converged.all()
    np.testing.assert_allclose(warm.price, cold.price, rtol=1e-10)
    assert warm.iterations <= cold.iterations


@pytest.mark.parametrize("closure", CLOSURES)
def test_numeraire_cpi_enforced_when_ones_clear_markets(closure: str) -> None:
    """All routes into region 1 (domestic included) cost 20% more.

    Shares are unchanged, so p = c (uniform) clears every market; the numeraire
    P_1 = 1 pins c = 1/1.2, and every flow falls by the same factor.
    """
    flows = _flows()
    cost = np.ones((1, 3, 3, 2))
    cost[0, :, 1] = 1.2
    theta = np.array([[4.0, 6.0]])
    _, sol = _solve(flows, cost, theta, np.ones((1, 3, 2)), closure=closure, numeraire=1)
    assert sol.converged.all()
    np.testing.assert_allclose(sol.price_index[:, 1], 1.0, rtol=1e-12)
    np.testing.assert_allclose(sol.price, 1.0 / 1.2, rtol=1e-12)
    np.testing.assert_allclose(sol.trade[0], flows / 1.2, rtol=1e-12)


def test_numeraire_world_output_enforced_for_equilibrium_warm_start() -> None:
    flows = _flows()
    cost = _shock(1, 3, 2)
    theta = np.array([[4.0, 6.0]])
    quantity = np.ones((1, 3, 2))
    _, cold = _solve(flows, cost, theta, quantity)
    # an equilibrium up to the unit of account: demand is homogeneous of degree zero
    _, warm = _solve(flows, cost, theta, quantity, price_guess=2.0 * cold.price)
    np.testing.assert_allclose(warm.output.sum(), flows.sum(), rtol=1e-12)
    np.testing.assert_allclose(warm.price, cold.price, rtol=1e-10)


@pytest.mark.parametrize("closure", CLOSURES)
@pytest.mark.parametrize("numeraire", [None, 2])
def test_structured_newton_step_reaches_the_same_equilibrium(
    shocked: dict, closure: str, numeraire: int | None
) -> None:
    flows, cost, theta, quantity, base, newton = shocked[closure, numeraire]
    sol = solve_gravity(
        base,
        cost_weights(cost, theta),
        theta,
        quantity,
        closure=closure,
        numeraire=numeraire,
        newton_limit=0,
    )
    assert sol.converged.all()
    np.testing.assert_allclose(sol.price, newton.price, rtol=1e-10)
    assert _rel(sol.trade, _gravity_prediction(flows, cost, theta, sol)) < 1e-10


def test_large_system_converges() -> None:
    """13 regions x 12 sectors = 156 region-sectors, above the default newton_limit:
    the structured step (12 blocks of 13 x 13)."""
    regions, sectors = 13, 12
    flows = _flows(seed=23, regions=regions, sectors=sectors)
    cost = _shock(1, regions, sectors, seed=24)
    theta = np.random.default_rng(25).uniform(2.0, 8.0, size=(1, sectors))
    _, sol = _solve(flows, cost, theta, np.ones((1, regions, sectors)))
    assert sol.converged.all()
    assert _rel(sol.trade.sum(axis=2), sol.output) < 1e-10
    assert _rel(sol.trade, _gravity_prediction(flows, cost, theta, sol)) < 1e-10


@pytest.mark.parametrize("closure", CLOSURES)
def test_uniform_growth_scales_flows(closure: str) -> None:
    flows = _flows(seed=21)
    n_rep, regions, sectors = 2, 3, 2
    growth = np.array([1.07, 0.93])
    quantity = growth[:, None, None] * np.ones((n_rep, regions, sectors))
    theta = np.array([[4.0, 6.0], [2.0, 3.0]])
    _, sol = _solve(
        flows, np.ones((n_rep, regions, regions, sectors)), theta, quantity, closure=closure
    )
    np.testing.assert_allclose(sol.price, 1.0, rtol=1e-12)
    np.testing.assert_allclose(sol.price_index, 1.0, rtol=1e-12)
    np.testing.assert_allclose(sol.trade, growth[:, None, None, None] * flows[None], rtol=1e-12)


# --- properties on random trade tables -----------------------------------------------------


@st.composite
def _economies(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    regions = draw(st.integers(2, 4))
    sectors = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    flows = rng.uniform(0.1, 10.0, size=(regions, regions, sectors))
    flows[np.arange(regions), np.arange(regions)] *= rng.uniform(1.0, 10.0)
    cost = rng.uniform(0.8, 1.25, size=(1, regions, regions, sectors))
    theta = rng.uniform(1.5, 8.0, size=(1, sectors))
    quantity = rng.uniform(0.8, 1.25, size=(1, regions, sectors))
    return flows, cost, theta, quantity


@settings(max_examples=25, deadline=None, derandomize=True)
@given(_economies(), st.sampled_from(CLOSURES))
def test_property_zero_shock_identity(economy: tuple, closure: str) -> None:
    flows, cost, theta, quantity = economy
    _, sol = _solve(flows, np.ones_like(cost), theta, np.ones_like(quantity), closure=closure)
    assert sol.converged.all()
    assert _rel(sol.trade[0], flows) < 1e-12


def _economy(
    flows: list, cost: list, theta: list, quantity: list
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One replica in the shapes the strategy draws: (R,R,S), (1,R,R,S), (1,S), (1,R,S)."""
    return (
        np.array(flows, dtype=float),
        np.array(cost, dtype=float)[None],
        np.array(theta, dtype=float)[None],
        np.array(quantity, dtype=float)[None],
    )


# Regression cases found by the property test below: a diagonal Newton step on own
# prices that ignores cross-price effects overshot on them (nan prices reported as
# converged, no convergence within max_iter, or a step length collapsing at ~1e-6).
HARD_ECONOMIES = [
    (  # dominant home supplier, low elasticity
        _economy(
            [[[19.66822776], [9.50959059]], [[1.52718017], [36.12972708]]],
            [[[0.9904969], [1.17246617]], [[0.98413961], [1.04731716]]],
            [1.67913424],
            [[1.1390809], [1.04216449]],
        ),
        "ratio",
    ),
    (  # small region facing a large cost rise
        _economy(
            [[[53.29362268], [2.77088847]], [[0.50563789], [2.19319859]]],
            [[[1.21074001], [1.0729861]], [[1.12827345], [1.04463125]]],
            [7.57797075],
            [[1.1671341], [0.80123233]],
        ),
        "additive",
    ),
    (  # two sectors, near-autarky in one sector for one region
        _economy(
            [
                [[37.747688, 16.32780644], [0.50563789, 0.26362359]],
                [[8.15137537, 9.13628022], [35.9785657, 43.1458937]],
            ],
            [
                [[1.22078259, 1.1671341], [0.80123233, 1.18583192]],
                [[0.81511351, 1.12834495], [0.87904503, 1.18843052]],
            ],
            [5.01949793, 3.44812729],
            [[0.99020925, 0.81274385], [0.85592747, 1.10178099]],
        ),
        "ratio",
    ),
]


@pytest.mark.parametrize(("economy", "closure"), HARD_ECONOMIES, ids=["a", "b", "c"])
def test_hard_economies_converge(economy: tuple, closure: str) -> None:
    flows, cost, theta, quantity = economy
    with np.errstate(all="ignore"):
        _, sol = _solve(flows, cost, theta, quantity, closure=closure)
    assert np.all(np.isfinite(sol.price)) and np.all(sol.price > 0)
    assert sol.converged.all()
    assert _rel(sol.trade.sum(axis=2), sol.output) < 1e-10
    assert _rel(sol.trade, _gravity_prediction(flows, cost, theta, sol)) < 1e-10


@settings(max_examples=25, deadline=None, derandomize=True)
@given(_economies(), st.sampled_from(CLOSURES), st.sampled_from([None, 0]))
def test_property_equilibrium_conditions(
    economy: tuple, closure: str, numeraire: int | None
) -> None:
    flows, cost, theta, quantity = economy
    _, sol = _solve(flows, cost, theta, quantity, closure=closure, numeraire=numeraire)
    assert sol.converged.all()
    assert np.all(np.isfinite(sol.price)) and np.all(sol.price > 0)
    assert _rel(sol.trade, _gravity_prediction(flows, cost, theta, sol)) < 1e-10
    assert _rel(sol.trade.sum(axis=2), sol.output) < 1e-10
    np.testing.assert_allclose(sol.expenditure.sum(axis=1), sol.output.sum(axis=(1, 2)), rtol=1e-12)
    if numeraire is None:
        target = (flows.sum(axis=1)[None] * quantity).sum()
        np.testing.assert_allclose(sol.output.sum(), target, rtol=1e-12)
    else:
        np.testing.assert_allclose(sol.price_index[:, numeraire], 1.0, rtol=1e-12)


def test_extrapolate_prices_is_exact_on_a_geometric_path_and_bounded_after_jumps() -> None:
    rng = np.random.default_rng(3)
    level = rng.uniform(0.5, 2.0, size=(4, 3, 2))
    growth = rng.uniform(0.9, 1.1, size=(4, 3, 2))
    # p_k = level * growth**k: the guess for k = 2 is exact.
    guess = extrapolate_prices(level * growth, level)
    np.testing.assert_allclose(guess, level * growth**2, rtol=1e-14)
    # A tenfold jump is extrapolated by at most a factor of 2 either way.
    jump = extrapolate_prices(np.full((1, 1, 2), 10.0), np.array([[[1.0, 100.0]]]))
    np.testing.assert_allclose(jump, [[[20.0, 5.0]]])


@pytest.mark.parametrize("closure", CLOSURES)
def test_structured_step_equals_the_dense_newton_step(closure: str) -> None:
    """The Woodbury step equals solve(J + 1 1^T, -F) at an off-equilibrium price."""
    regions, sectors, n_rep = 4, 3, 5
    rng = np.random.default_rng(31)
    base = build_gravity_baseline(_flows(seed=30, regions=regions, sectors=sectors))
    theta = rng.uniform(2.0, 8.0, size=(n_rep, sectors))
    weights = cost_weights(_shock(n_rep, regions, sectors, seed=32), theta)
    price = rng.uniform(0.8, 1.25, size=(n_rep, regions, sectors))
    supply = base.output[None] * rng.uniform(0.9, 1.2, size=(n_rep, regions, sectors))
    phi = base.expenditure / base.output.sum(axis=1)
    deficit = base.expenditure - base.output.sum(axis=1)
    world0 = float(base.output.sum())
    trade, output, expenditure, _ = gravity._evaluate(
        price, base.shares[None] * weights, -theta[:, None, :], supply, base.alpha,
        phi, deficit, world0, closure,
    )  # fmt: skip
    sales = trade.sum(axis=2)
    log_excess = np.log(sales / output)
    jac = gravity._jacobian(trade, output, expenditure, sales, theta, phi, deficit, world0, closure)
    size = regions * sectors
    dense = np.linalg.solve(
        jac.reshape(n_rep, size, size) + 1.0, -log_excess.reshape(n_rep, size, 1)
    ).reshape(n_rep, regions, sectors)
    structured = gravity._structured_newton_move(
        trade, output, expenditure, sales, log_excess, theta, phi, deficit, world0, closure
    )
    assert np.abs(log_excess).max() > 1e-2  # far from equilibrium: a real step
    np.testing.assert_allclose(structured, dense, rtol=1e-10, atol=1e-13)


def test_a_replica_whose_markets_turn_nan_is_not_converged() -> None:
    """A NaN market is never counted as cleared; the other replicas are untouched."""
    flows = _flows()
    cost = _shock(2, 3, 2)
    theta = np.array([[4.0, 6.0], [4.0, 6.0]])
    weights = cost_weights(cost, theta)
    weights[1, 0, 1, 0] = np.nan  # replica 1: one bilateral cost is not a number
    base = build_gravity_baseline(flows)
    sol = solve_gravity(base, weights, theta, np.ones((2, 3, 2)), max_iter=60)
    _, alone = _solve(flows, cost[:1], theta[:1], np.ones((1, 3, 2)))
    assert sol.converged.tolist() == [True, False]
    assert not np.isfinite(sol.residual[1])
    np.testing.assert_array_equal(sol.price[0], alone.price[0])

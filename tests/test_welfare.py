"""Tests for sim.kernels.welfare: the Caliendo-Parro decomposition of welfare changes.

The parts are a first-order expansion evaluated with baseline weights (the replication
code's discrete form), so for a shock of size eps the approximation residual is of
second order: |residual| = O(eps^2) while the welfare change is O(eps), a relative error
O(eps), and halving the shock divides the residual by 4. The tests check that order (a
wrong first-order part leaves an O(eps) residual, which halving divides by 2 only), the
exact adding-up for large shocks and analytic cases.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.kernels.equilibrium import (
    EquilibriumBaseline,
    EquilibriumSolution,
    LabourMarkets,
    build_equilibrium_baseline,
    build_labour_markets,
    solve_equilibrium,
)
from sim.kernels.welfare import WelfareDecomposition, decompose_solution

REGIONS, SECTORS = 3, 3


def _baseline(seed: int = 3, tariffs: bool = True) -> EquilibriumBaseline:
    """Three regions and sectors, linkages, unbalanced trade (deficits), tariffs 2-15 %."""
    rng = np.random.default_rng(seed)
    flows = rng.uniform(1.0, 10.0, (REGIONS, REGIONS, SECTORS))
    flows[np.arange(REGIONS), np.arange(REGIONS)] *= 6.0
    beta = rng.uniform(0.35, 0.6, (REGIONS, SECTORS))
    gamma = rng.uniform(0.0, 1.0, (REGIONS, SECTORS, SECTORS))
    gamma *= ((1.0 - beta) / gamma.sum(axis=2))[:, :, None]
    tariff = rng.uniform(0.02, 0.15, flows.shape) if tariffs else np.zeros(flows.shape)
    tariff[np.arange(REGIONS), np.arange(REGIONS)] = 0.0
    return build_equilibrium_baseline(flows, tariff, beta, gamma)


def _direction(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directions of a tariff, an iceberg-cost and a productivity shock, entries in [-1, 1]."""
    rng = np.random.default_rng(seed)
    tariff = rng.uniform(-1.0, 1.0, (REGIONS, REGIONS, SECTORS))
    iceberg = rng.uniform(-1.0, 1.0, (REGIONS, REGIONS, SECTORS))
    tariff[np.arange(REGIONS), np.arange(REGIONS)] = 0.0
    iceberg[np.arange(REGIONS), np.arange(REGIONS)] = 0.0
    return tariff, iceberg, rng.uniform(-1.0, 1.0, (REGIONS, SECTORS))


# (mobile labour, supply elasticities, deficit closure, numeraire): every closure once.
CLOSURES = [
    (True, [0.0, 0.0, 0.0], "fixed", None),  # Caliendo & Parro's: full employment
    (False, [1.0, 0.3, 0.0], "ratio", None),  # sector-specific, elastic supply
    (True, [np.inf, 0.3, 0.0], "fixed", 1),  # a fixed real wage, a CPI numeraire
]


def _solve(
    base: EquilibriumBaseline,
    labour: LabourMarkets,
    closure: str,
    numeraire: int | None,
    eps: float,
    *,
    tariff_only: bool = False,
) -> tuple[EquilibriumSolution, WelfareDecomposition]:
    d_tariff, d_iceberg, d_supply = _direction(11)
    if tariff_only:  # every tariff up (eps > 0) or down
        d_tariff = np.where(np.eye(REGIONS, dtype=bool)[:, :, None], 0.0, 1.0) * np.ones_like(
            d_tariff
        )
    tariff = (base.tariff + eps * d_tariff)[None]
    cost = None if tariff_only else (1.0 + eps * d_iceberg)[None]
    supply = None if tariff_only else (1.0 + eps * d_supply)[None]
    sol = solve_equilibrium(
        base,
        np.full((1, SECTORS), 4.0),
        labour,
        cost_change=cost,
        tariff=tariff,
        productivity=supply,
        deficit_closure=closure,
        numeraire=numeraire,
        tol=1e-14,
    )
    assert sol.converged.all()
    return sol, decompose_solution(base, sol, cost_change=cost, productivity=supply)


def test_a_small_tariff_change_is_its_terms_and_volume_of_trade() -> None:
    # Every tariff up by 0.1 percentage point (eps = 1e-3), in Caliendo & Parro's setting
    # (full employment, fixed deficits). The residual is O(eps^2): relative to the welfare
    # change O(eps), with a constant of the order of the trade elasticity (the Harberger
    # triangle's curvature; theta = 4, measured 3.7), and a quarter of it at eps / 2.
    base = _baseline()
    labour = build_labour_markets(SECTORS, np.ones(REGIONS, bool), np.zeros(REGIONS))
    residuals = []
    for eps in (1e-3, 5e-4):
        _, parts = _solve(base, labour, "fixed", None, eps, tariff_only=True)
        change = np.abs(parts.welfare).max()
        assert change > 1e-4  # the shock moves welfare
        assert np.abs(parts.residual).max() <= 10.0 * eps * change
        assert np.abs(parts.volume_of_trade).max() > 1e-5
        assert np.abs(parts.technical_efficiency).max() == 0.0
        residuals.append(np.abs(parts.residual).max())
    assert 3.5 < residuals[0] / residuals[1] < 4.5


@pytest.mark.parametrize(("mobile", "elasticity", "closure", "numeraire"), CLOSURES)
def test_every_part_is_right_to_first_order(
    mobile: bool, elasticity: list[float], closure: str, numeraire: int | None
) -> None:
    # Tariffs, iceberg costs and productivity all move by eps; employment and deficits
    # answer under each closure: the parts sum to the welfare change up to O(eps^2).
    base = _baseline()
    labour = build_labour_markets(SECTORS, np.full(REGIONS, mobile), np.array(elasticity))
    residuals = []
    for eps in (1e-3, 5e-4):
        _, parts = _solve(base, labour, closure, numeraire, eps)
        change = np.abs(parts.welfare).max()
        assert change > 1e-4
        assert np.abs(parts.residual).max() <= 10.0 * eps * change
        residuals.append(np.abs(parts.residual).max())
    assert 3.5 < residuals[0] / residuals[1] < 4.5
    if not mobile or np.isinf(elasticity[0]):
        # Employment answers: its part is of the order of the shock (eps = 5e-4 here).
        assert np.abs(parts.employment).max() > 0.1 * eps


def test_the_parts_add_up_exactly_and_the_residual_is_reported() -> None:
    # A large shock (tariffs and costs by +-30 %): the residual is no longer small, and the
    # parts, residual included, add up to the exact welfare change.
    base = _baseline()
    labour = build_labour_markets(SECTORS, np.ones(REGIONS, bool), np.array([1.0, 0.3, 0.0]))
    sol, parts = _solve(base, labour, "fixed", None, 0.3)
    np.testing.assert_allclose(parts.linear + parts.residual, sol.real_income - 1.0, atol=1e-14)
    np.testing.assert_allclose(parts.welfare, sol.real_income - 1.0, atol=0.0)
    assert np.abs(parts.residual).max() > 1e-3 * np.abs(parts.welfare).max()


def test_terms_of_trade_are_a_transfer_between_regions() -> None:
    # Exports of one region are imports of another at the same cost change: weighted by
    # income, the world's terms-of-trade parts sum to zero, partner by partner.
    base = _baseline()
    labour = build_labour_markets(SECTORS, np.ones(REGIONS, bool), np.zeros(REGIONS))
    _, parts = _solve(base, labour, "fixed", None, 0.05)
    money = parts.terms_of_trade[0] * base.income[:, None, None]  # (n, p, s)
    np.testing.assert_allclose(money, -money.transpose(1, 0, 2), atol=1e-12)
    assert np.abs(money).max() > 1e-3
    np.testing.assert_allclose(np.diagonal(money, axis1=0, axis2=1), 0.0, atol=0.0)


def test_without_tariffs_the_volume_of_trade_part_is_zero() -> None:
    base = _baseline(tariffs=False)
    labour = build_labour_markets(SECTORS, np.ones(REGIONS, bool), np.zeros(REGIONS))
    d_tariff, d_iceberg, _ = _direction(5)
    cost = (1.0 + 0.1 * d_iceberg)[None]
    tariff = (0.1 * np.abs(d_tariff))[None]  # new tariffs: VoT is weighted by the baseline's
    sol = solve_equilibrium(
        base, np.full((1, SECTORS), 4.0), labour, cost_change=cost, tariff=tariff, tol=1e-14
    )
    parts = decompose_solution(base, sol, cost_change=cost)
    assert np.abs(parts.welfare).max() > 1e-3
    assert np.abs(parts.volume_of_trade).max() == 0.0
    # With the baseline's tariffs the same shock has a volume-of-trade part.
    taxed = _baseline(tariffs=True)
    sol = solve_equilibrium(
        taxed, np.full((1, SECTORS), 4.0), labour, cost_change=cost, tariff=tariff, tol=1e-14
    )
    assert np.abs(decompose_solution(taxed, sol, cost_change=cost).volume_of_trade).max() > 1e-4


def _twins(tariff: float) -> EquilibriumBaseline:
    """Two identical countries, two sectors, balanced symmetric trade, equal tariffs."""
    flows = np.zeros((2, 2, 2))
    flows[:, :, 0] = [[60.0, 15.0], [15.0, 60.0]]
    flows[:, :, 1] = [[80.0, 5.0], [5.0, 80.0]]
    rates = np.where(np.eye(2, dtype=bool)[:, :, None], 0.0, tariff) * np.ones((2, 2, 2))
    beta = np.full((2, 2), 0.5)
    gamma = np.full((2, 2, 2), 0.25)
    return build_equilibrium_baseline(flows, rates, beta, gamma)


def test_a_symmetric_shock_between_twins_has_no_terms_of_trade_effect() -> None:
    base = _twins(0.10)
    labour = build_labour_markets(2, np.ones(2, bool), np.zeros(2))
    theta = np.array([[4.0, 6.0]])
    both = np.where(np.eye(2, dtype=bool)[:, :, None], 0.0, 0.05) * np.ones((1, 2, 2, 2))
    sol = solve_equilibrium(base, theta, labour, tariff=both, deficit_closure="zero", tol=1e-14)
    parts = decompose_solution(base, sol)
    assert (parts.welfare > 1e-4).all()  # both gain from the mutual tariff cut
    np.testing.assert_allclose(parts.terms_of_trade, 0.0, atol=1e-14)
    assert (parts.volume_of_trade.sum(axis=(2, 3)) > 1e-4).all()  # the gain: more trade
    # One twin alone cutting its tariff (the same cut) moves its terms of trade against it.
    alone = base.tariff[None].copy()
    alone[0, 1, 0, :] = 0.05  # country 0's tariff on imports from 1
    sol = solve_equilibrium(base, theta, labour, tariff=alone, deficit_closure="zero", tol=1e-14)
    tot = decompose_solution(base, sol).terms_of_trade.sum(axis=(2, 3))[0]
    assert tot[0] < -1e-4 and tot[1] > 1e-4


def test_a_large_countrys_tariff_improves_its_terms_of_trade() -> None:
    # Country 0 is ten times country 1; it taxes its imports by 10 %, with no tariffs
    # before: no volume-of-trade part (baseline weights), a terms-of-trade gain for it that
    # outweighs the (second-order) efficiency loss, a terms-of-trade loss for the partner.
    flows = np.array([[900.0, 50.0], [50.0, 50.0]])[:, :, None]
    base = build_equilibrium_baseline(flows)
    labour = build_labour_markets(1, np.ones(2, bool), np.zeros(2))
    tariff = np.zeros((1, 2, 2, 1))
    tariff[0, 1, 0, 0] = 0.10
    sol = solve_equilibrium(
        base, np.array([[4.0]]), labour, tariff=tariff, deficit_closure="zero", tol=1e-14
    )
    parts = decompose_solution(base, sol)
    tot = parts.terms_of_trade[0, :, :, 0]  # (region, partner)
    assert tot[0, 1] > 1e-3 and tot[1, 0] < -1e-3
    assert parts.welfare[0, 0] > 0.0 > parts.welfare[0, 1]
    assert np.abs(parts.volume_of_trade).max() == 0.0
    assert parts.residual[0, 0] < 0.0  # the Harberger triangle: second order, a loss


def test_a_uniform_productivity_gain_raises_real_income_by_its_size() -> None:
    # Every region-sector's (labour-augmenting) productivity up by eps, no tariffs and no
    # deficits, one value added share beta: prices fall uniformly and W_hat = 1 + eps
    # exactly, whatever beta (real value added grows by eps: the growth path is real GDP
    # growth). The productivity part is value added over income times eps = eps, with no
    # residual. A gross-output shift of eps would give (1 + eps)^(1 / beta) (Hulten 1978).
    rng = np.random.default_rng(4)
    flows = rng.uniform(1.0, 10.0, (REGIONS, REGIONS, SECTORS))
    flows = flows + flows.transpose(1, 0, 2)
    beta = np.full((REGIONS, SECTORS), 0.4)
    gamma = rng.uniform(0.0, 1.0, (REGIONS, SECTORS, SECTORS))
    gamma *= ((1.0 - beta) / gamma.sum(axis=2))[:, :, None]
    base = build_equilibrium_baseline(flows, None, beta, gamma)
    labour = build_labour_markets(SECTORS, np.ones(REGIONS, bool), np.zeros(REGIONS))
    eps = 0.02
    supply = np.full((1, REGIONS, SECTORS), 1.0 + eps)
    sol = solve_equilibrium(
        base,
        np.full((1, SECTORS), 4.0),
        labour,
        productivity=supply,
        deficit_closure="zero",
        tol=1e-14,
    )
    parts = decompose_solution(base, sol, productivity=supply)
    np.testing.assert_allclose(parts.welfare, eps, rtol=1e-10)
    np.testing.assert_allclose(parts.productivity.sum(axis=2), eps, rtol=1e-10)
    np.testing.assert_allclose(parts.terms_of_trade, 0.0, atol=1e-12)
    np.testing.assert_allclose(parts.residual, 0.0, atol=1e-12)
    # World value added at baseline prices grows by eps too (the world numeraire).
    np.testing.assert_allclose(
        sol.value_added.sum(), base.value_added.sum() * (1.0 + eps), rtol=1e-10
    )


def test_a_symmetric_iceberg_cut_is_technical_efficiency() -> None:
    # One sector, twins, no tariffs: a 1 % cut of both directions' iceberg cost. No terms
    # of trade change; the first-order gain is the import share times 1 %; the exact change
    # is Arkolakis-Costinot-Rodriguez-Clare's pi_jj_hat^(-1/theta).
    base = build_equilibrium_baseline(np.array([[80.0, 20.0], [20.0, 80.0]])[:, :, None])
    labour = build_labour_markets(1, np.ones(2, bool), np.zeros(2))
    cost = np.array([[1.0, 0.99], [0.99, 1.0]])[None, :, :, None]
    sol = solve_equilibrium(
        base, np.array([[5.0]]), labour, cost_change=cost, deficit_closure="zero", tol=1e-14
    )
    parts = decompose_solution(base, sol, cost_change=cost)
    own = sol.share[0, [0, 1], [0, 1], 0] / 0.8
    np.testing.assert_allclose(parts.welfare[0], own ** (-1 / 5.0) - 1.0, rtol=1e-10)
    np.testing.assert_allclose(parts.terms_of_trade, 0.0, atol=1e-14)
    np.testing.assert_allclose(parts.technical_efficiency.sum(axis=(2, 3)), 0.2 * 0.01, rtol=1e-12)
    # ln W = ln(pi + (1 - pi) e^(-theta x)) / theta, x = ln 0.99, is -(1 - pi) x plus
    # theta pi (1 - pi) x^2 / 2; W - 1 adds (ln W)^2 / 2 and the part -(1 - pi)(e^x - 1)
    # takes (1 - pi) x^2 / 2 off: the residual's second-order term, up to O(x^3).
    x, pi, theta = np.log(0.99), 0.8, 5.0
    second = x**2 / 2 * (theta * pi * (1 - pi) + (1 - pi) ** 2 + (1 - pi))
    np.testing.assert_allclose(parts.residual, second, rtol=5 * abs(x))


def test_the_numeraire_moves_the_deficit_part_not_the_sum() -> None:
    # With deficits, a nominal rescaling shifts -D_n d ln(lambda) from the terms of trade to
    # the deficit part: each moves at first order (halves with the shock), their sum at
    # second order only (a quarter).
    base = _baseline()
    labour = build_labour_markets(SECTORS, np.ones(REGIONS, bool), np.zeros(REGIONS))
    moved, gap = [], []
    for eps in (1e-3, 5e-4):
        _, world = _solve(base, labour, "fixed", None, eps)
        _, cpi = _solve(base, labour, "fixed", 1, eps)
        np.testing.assert_allclose(world.welfare, cpi.welfare, atol=1e-13)
        moved.append(np.abs(world.deficit - cpi.deficit).max())
        gap.append(np.abs(world.linear - cpi.linear).max())
    assert moved[1] > 1e-6 and 1.8 < moved[0] / moved[1] < 2.2
    assert gap[1] < 1e-2 * moved[1] and 3.5 < gap[0] / gap[1] < 4.5


def test_a_zero_shock_has_no_parts() -> None:
    base = _baseline()
    labour = build_labour_markets(SECTORS, np.ones(REGIONS, bool), np.array([1.0, 0.3, 0.0]))
    _, parts = _solve(base, labour, "ratio", None, 0.0)
    for value in (parts.linear, parts.residual, parts.terms_of_trade, parts.volume_of_trade):
        np.testing.assert_allclose(value, 0.0, atol=1e-12)

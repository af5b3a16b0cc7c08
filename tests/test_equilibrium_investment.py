"""Investment demand inside the general equilibrium (project capex while plants are built).

Investor ``i`` buys real investment goods ``K_ijs`` in host ``j``: they are spending in
``j`` sourced through the trade shares, paid out of the investor's income for
consumption, and the host's trade deficit rises by the foreign investors' spending
(sim/kernels/equilibrium.py, "Investment demand").
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.kernels.equilibrium import (
    EquilibriumBaseline,
    EquilibriumSolution,
    build_equilibrium_baseline,
    build_labour_markets,
    solve_equilibrium,
)


def _economy(seed: int, regions: int = 3, sectors: int = 3) -> EquilibriumBaseline:
    rng = np.random.default_rng(seed)
    flows = rng.uniform(1.0, 10.0, (regions, regions, sectors))
    flows[np.arange(regions), np.arange(regions)] *= 6.0
    beta = rng.uniform(0.35, 0.6, (regions, sectors))
    gamma = rng.uniform(0.0, 1.0, (regions, sectors, sectors))
    gamma *= ((1.0 - beta) / gamma.sum(axis=2))[:, :, None]
    tariff = rng.uniform(0.0, 0.2, (regions, regions, sectors))
    tariff[np.arange(regions), np.arange(regions)] = 0.0
    return build_equilibrium_baseline(flows, tariff, beta, gamma)


def _solve(
    base: EquilibriumBaseline,
    investment: np.ndarray | None,
    *,
    closure: str = "ratio",
    numeraire: int | None = None,
    mobile: bool = True,
) -> EquilibriumSolution:
    n_r, n_s = base.shape
    labour = build_labour_markets(n_s, np.full(n_r, mobile), np.zeros(n_r))
    theta = np.array([[4.0, 6.0, 8.0][:n_s], [5.0, 5.0, 5.0][:n_s]])
    return solve_equilibrium(
        base,
        theta,
        labour,
        investment=investment,
        deficit_closure=closure,
        numeraire=numeraire,
        tol=1e-13,
    )


def _capex(base: EquilibriumBaseline, size: float) -> np.ndarray:
    """Region 0 invests in region 1 (sectors 0 and 2), region 2 at home (sector 1)."""
    n_r, n_s = base.shape
    k = np.zeros((2, n_r, n_r, n_s))
    scale = size * base.output.sum()
    k[:, 0, 1, 0] = 0.6 * scale
    k[:, 0, 1, 2] = 0.4 * scale
    k[:, 2, 2, 1] = 0.5 * scale
    k[1] *= 2.0  # the second replica invests twice as much
    return k


def test_no_investment_is_the_model_without_it() -> None:
    base = _economy(1)
    none = _solve(base, None)
    zero = _solve(base, np.zeros((2, *base.trade.shape)))
    np.testing.assert_array_equal(none.trade, zero.trade)
    np.testing.assert_array_equal(zero.investment, 0.0)


@pytest.mark.parametrize("closure", ["fixed", "ratio", "zero"])
@pytest.mark.parametrize("mobile", [True, False])
def test_every_condition_holds_with_investment(closure: str, mobile: bool) -> None:
    base = _economy(2)
    k = _capex(base, 0.01)
    sol = _solve(base, k, closure=closure, mobile=mobile)
    assert sol.converged.all()
    rtol = 1e-10
    net = 1.0 / (1.0 + base.tariff[None])
    sales = (sol.share * net * sol.spending[:, None]).sum(axis=2)
    np.testing.assert_allclose(sol.output, sales, rtol=rtol)
    # Investment goods at the host's sector prices, spent there on top of the rest.
    nominal = k * sol.sector_price[:, None]  # (N, i, j, s)
    intermediate = np.einsum("jts,njt->njs", base.input_share, sol.output)
    final = base.final_share[None] * sol.income[:, :, None]
    np.testing.assert_allclose(sol.spending, intermediate + final + nominal.sum(axis=1),
                               rtol=rtol)  # fmt: skip
    np.testing.assert_allclose(sol.investment, nominal.sum(axis=3), rtol=rtol)
    # Income for consumption plus investment spending is value added, revenue and the
    # trade deficit; the trade deficit is spending less sales.
    np.testing.assert_allclose(
        sol.income + sol.investment.sum(axis=1),
        sol.value_added.sum(axis=2) + sol.tariff_revenue + sol.deficit,
        rtol=rtol,
    )
    own = np.diagonal(sol.trade, axis1=1, axis2=2).sum(axis=1)  # (N, R) domestic sales
    imports = sol.trade.sum(axis=(1, 3)) - own
    exports = sol.trade.sum(axis=(2, 3)) - own
    np.testing.assert_allclose(
        imports - exports,
        sol.deficit,
        atol=1e-10 * sol.output.sum(axis=(1, 2)).max(),
    )
    # The deficits still sum to zero: what the host borrows, the investor lends.
    world = sol.value_added.sum(axis=(1, 2))
    assert np.abs(sol.deficit.sum(axis=1)).max() < 1e-10 * world.max()


def test_foreign_capex_moves_the_deficit_by_what_it_spends() -> None:
    """Against the same model without it, under a closure that fixes the rest (zero)."""
    base = _economy(3)
    k = _capex(base, 0.01)
    sol = _solve(base, k, closure="zero")
    inflow = (k * sol.sector_price[:, None])[:, 0, 1].sum(axis=1)  # region 0 -> host 1
    np.testing.assert_allclose(sol.deficit[:, 1], inflow, rtol=1e-10)
    np.testing.assert_allclose(sol.deficit[:, 0], -inflow, rtol=1e-10)
    # Region 2 invests at home: its spending shifts to investment, its deficit stays 0.
    assert abs(sol.deficit[0, 2]) < 1e-10 * sol.output.sum()


def test_capex_goods_are_imported_and_the_investor_consumes_less() -> None:
    base = _economy(4)
    before = _solve(base, None)
    k = _capex(base, 0.02)
    after = _solve(base, k)
    # The host buys more of the capex goods from every origin (sourced by trade shares).
    bought = after.trade[:, :, 1, 0] / before.trade[:, :, 1, 0]
    assert (bought > 1.0).all()
    # Twice the capex, more imports still (the second replica).
    assert (after.trade[1, :, 1, 0] > after.trade[0, :, 1, 0]).all()
    # The investor gives up consumption now; the host's consumption is its own income.
    assert (after.real_income[:, 0] < before.real_income[:, 0]).all()


def test_real_results_do_not_depend_on_the_numeraire() -> None:
    base = _economy(5)
    k = _capex(base, 0.01)
    world = _solve(base, k, numeraire=None)
    cpi = _solve(base, k, numeraire=2)
    for name in ("share", "employment", "real_income", "real_wage"):
        np.testing.assert_allclose(getattr(world, name), getattr(cpi, name), rtol=1e-10)

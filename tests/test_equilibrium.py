"""Tests for sim.kernels.equilibrium: the Caliendo-Parro general equilibrium in changes.

Analytic results (Arkolakis-Costinot-Rodríguez-Clare; the real wage with input-output
linkages of Caliendo & Parro 2015 and Costinot & Rodríguez-Clare 2014), every
equilibrium condition after a shock, the endowment-gravity special case, tariff
revenue and the labour-market closures. A levels solve is in test_equilibrium_levels.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import ConvergenceError
from sim.kernels.equilibrium import (
    EquilibriumBaseline,
    EquilibriumSolution,
    LabourMarkets,
    build_equilibrium_baseline,
    build_labour_markets,
    extrapolate_unknowns,
    remove_deficits,
    solve_equilibrium,
    unknowns_of,
)
from sim.kernels.gravity import build_gravity_baseline, cost_weights, solve_gravity


def _table(rng: np.random.Generator, regions: int, sectors: int, balanced: bool) -> np.ndarray:
    flows = rng.uniform(1.0, 10.0, (regions, regions, sectors))
    if balanced:  # a symmetric table: every region-sector sells what it buys, no deficits
        flows = flows + flows.transpose(1, 0, 2)
    flows[np.arange(regions), np.arange(regions)] *= 6.0
    return flows


def _technology(
    rng: np.random.Generator, regions: int, sectors: int
) -> tuple[np.ndarray, np.ndarray]:
    beta = rng.uniform(0.35, 0.6, (regions, sectors))
    gamma = rng.uniform(0.0, 1.0, (regions, sectors, sectors))
    gamma *= ((1.0 - beta) / gamma.sum(axis=2))[:, :, None]
    return beta, gamma


def _costs(rng: np.random.Generator, n: int, regions: int, sectors: int) -> np.ndarray:
    cost = rng.uniform(0.7, 1.3, (n, regions, regions, sectors))
    cost[:, np.arange(regions), np.arange(regions)] = 1.0
    return cost


def _mobile(regions: int, sectors: int, elasticity: float = 0.0) -> LabourMarkets:
    return build_labour_markets(sectors, np.ones(regions, bool), np.full(regions, elasticity))


def _own(array: np.ndarray) -> np.ndarray:
    """Domestic entries (i == j) of an (..., R, R, S) array, as (..., R, S)."""
    return np.diagonal(array, axis1=-3, axis2=-2).swapaxes(-1, -2)


# -- analytic results -----------------------------------------------------------------------
def test_one_sector_welfare_is_the_acr_formula() -> None:
    rng = np.random.default_rng(1)
    base = build_equilibrium_baseline(_table(rng, 4, 1, balanced=True))
    assert np.abs(base.deficit).max() < 1e-12
    theta = np.full((3, 1), 5.0)
    sol = solve_equilibrium(
        base, theta, _mobile(4, 1), cost_change=_costs(rng, 3, 4, 1), deficit_closure="zero"
    )
    assert sol.converged.all()
    domestic_change = _own(sol.share)[..., 0] / _own(base.share)[None, :, 0]
    np.testing.assert_allclose(sol.real_income, domestic_change ** (-1 / 5.0), rtol=1e-10)
    assert np.abs(sol.real_income - 1).max() > 1e-3  # the shock is not trivial


def test_real_wage_with_input_output_linkages_is_the_exact_formula() -> None:
    # ln(w/P)_j = -alpha_j' (I - Gamma_j)^-1 (ln pi_hat_jj / theta)  (Caliendo & Parro 2015,
    # section 3; Costinot & Rodriguez-Clare 2014, eq. 29): mobile labour, no tariffs.
    rng = np.random.default_rng(2)
    regions, sectors, n = 3, 4, 2
    beta, gamma = _technology(rng, regions, sectors)
    base = build_equilibrium_baseline(_table(rng, regions, sectors, True), None, beta, gamma)
    theta = rng.uniform(3.0, 9.0, (n, sectors))
    sol = solve_equilibrium(
        base,
        theta,
        _mobile(regions, sectors),
        cost_change=_costs(rng, n, regions, sectors),
        deficit_closure="zero",
    )
    for k in range(n):
        for j in range(regions):
            log_pi = np.log(sol.share[k, j, j] / base.share[j, j])
            x = np.linalg.solve(np.eye(sectors) - base.input_share[j], log_pi / theta[k])
            expected = -base.final_share[j] @ x
            assert np.log(sol.real_wage[k, j, 0]) == pytest.approx(expected, abs=1e-8)
    # With zero deficits and no tariffs, income is the wage bill: welfare is the real wage.
    np.testing.assert_allclose(sol.real_income, sol.real_wage[:, :, 0], rtol=1e-10)


# -- the baseline and the equilibrium conditions -----------------------------------------------
def _shocked(
    closure: str, mobile: bool, numeraire: int | None
) -> tuple[EquilibriumBaseline, EquilibriumSolution, dict[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    regions, sectors, n = 3, 3, 4
    beta, gamma = _technology(rng, regions, sectors)
    tariff = rng.uniform(0.0, 0.2, (regions, regions, sectors))
    tariff[np.arange(regions), np.arange(regions)] = 0.0
    base = build_equilibrium_baseline(_table(rng, regions, sectors, False), tariff, beta, gamma)
    shock = {
        "theta": rng.uniform(3.0, 8.0, (n, sectors)),
        "cost_change": _costs(rng, n, regions, sectors),
        "tariff": np.broadcast_to(tariff * rng.uniform(0, 2, tariff.shape), (n, *tariff.shape)),
        "productivity": rng.uniform(0.9, 1.2, (n, regions, sectors)),
    }
    labour = build_labour_markets(sectors, np.full(regions, mobile), np.zeros(regions))
    sol = solve_equilibrium(
        base,
        shock["theta"],
        labour,
        cost_change=shock["cost_change"],
        tariff=shock["tariff"],
        productivity=shock["productivity"],
        deficit_closure=closure,
        numeraire=numeraire,
        tol=1e-13,
    )
    return base, sol, shock


def test_baseline_accounts_hold() -> None:
    rng = np.random.default_rng(4)
    beta, gamma = _technology(rng, 3, 2)
    tariff = rng.uniform(0.0, 0.3, (3, 3, 2))
    base = build_equilibrium_baseline(_table(rng, 3, 2, False), tariff, beta, gamma)
    assert base.deficit.sum() == pytest.approx(0.0, abs=1e-10 * base.output.sum())
    np.testing.assert_allclose(base.share.sum(axis=0), 1.0, rtol=1e-14)
    np.testing.assert_allclose(base.final_share.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(
        base.income, base.value_added.sum(axis=1) + base.tariff_revenue + base.deficit
    )
    # Spending on a sector is intermediate use plus final demand.
    intermediate = np.einsum("jts,jt->js", gamma, base.output)
    np.testing.assert_allclose(base.spending, intermediate + base.final_demand)


def test_a_zero_shock_returns_the_baseline() -> None:
    rng = np.random.default_rng(5)
    beta, gamma = _technology(rng, 3, 3)
    tariff = rng.uniform(0.0, 0.2, (3, 3, 3))
    base = build_equilibrium_baseline(_table(rng, 3, 3, False), tariff, beta, gamma)
    for closure in ("fixed", "ratio"):
        for mobile in (True, False):
            labour = build_labour_markets(3, np.full(3, mobile), np.zeros(3))
            sol = solve_equilibrium(base, np.full((2, 3), 4.0), labour, deficit_closure=closure)
            np.testing.assert_allclose(sol.trade, np.broadcast_to(base.trade, sol.trade.shape),
                                       rtol=1e-12)  # fmt: skip
            np.testing.assert_allclose(sol.wage, 1.0, rtol=1e-12)
            np.testing.assert_allclose(sol.employment, 1.0, rtol=1e-12)
            np.testing.assert_allclose(sol.deficit, np.broadcast_to(base.deficit, (2, 3)),
                                       atol=1e-12 * base.output.sum())  # fmt: skip


@pytest.mark.parametrize("closure", ["fixed", "ratio", "zero"])
@pytest.mark.parametrize("mobile", [True, False])
@pytest.mark.parametrize("numeraire", [None, 1])
def test_every_equilibrium_condition_holds_after_a_shock(
    closure: str, mobile: bool, numeraire: int | None
) -> None:
    base, sol, shock = _shocked(closure, mobile, numeraire)
    assert sol.converged.all()
    rtol = 1e-10
    net = 1.0 / (1.0 + shock["tariff"])
    # Market clearing: output is what every destination spends on the origin, net of tariffs.
    sales = (sol.share * net * sol.spending[:, None]).sum(axis=2)
    np.testing.assert_allclose(sol.output, sales, rtol=rtol)
    # Spending: intermediate use plus final demand out of income.
    intermediate = np.einsum("jts,njt->njs", base.input_share, sol.output)
    final = base.final_share[None] * sol.income[:, :, None]
    np.testing.assert_allclose(sol.spending, intermediate + final, rtol=rtol)
    # Income: value added, tariff revenue, deficit.
    revenue = (sol.share * (1 - net) * sol.spending[:, None]).sum(axis=(1, 3))
    np.testing.assert_allclose(sol.tariff_revenue, revenue, rtol=rtol)
    np.testing.assert_allclose(
        sol.income, sol.value_added.sum(axis=2) + sol.tariff_revenue + sol.deficit, rtol=rtol
    )
    # Deficit closure; deficits always sum to zero.
    world = sol.value_added.sum(axis=(1, 2))
    scale = world.sum() and world[:, None]
    assert np.abs(sol.deficit.sum(axis=1)).max() < 1e-10 * world.max()
    if closure == "fixed":
        expected = base.deficit[None] * world[:, None] / base.value_added.sum()
        np.testing.assert_allclose(sol.deficit, expected, rtol=rtol, atol=1e-12 * scale.max())
    elif closure == "zero":
        assert np.abs(sol.deficit).max() < 1e-10 * world.max()
    else:
        va = sol.value_added.sum(axis=2)
        phi = (base.value_added.sum(axis=1) + base.deficit) / base.value_added.sum(axis=1)
        ratio = (va + sol.deficit) / va / phi[None]
        np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1], ratio.shape), rtol=rtol)
    # Prices: shares follow costs, and unit costs follow wages and input prices.
    theta = shock["theta"][:, None, None, :]
    tau_hat = (1 + shock["tariff"]) / (1 + base.tariff[None])
    numer = base.share[None] * (shock["cost_change"] * tau_hat * sol.unit_cost[:, :, None]) ** (
        -theta
    )
    np.testing.assert_allclose(sol.share, numer / numer.sum(axis=1, keepdims=True), rtol=rtol)
    np.testing.assert_allclose(sol.sector_price ** (-theta[:, 0]), numer.sum(axis=1), rtol=rtol)
    # Productivity augments labour: c = (w / A)^beta prod_t P_t^gamma_t.
    log_cost = base.va_share * (np.log(sol.wage) - np.log(shock["productivity"])) + np.einsum(
        "ist,nit->nis", base.input_share, np.log(sol.sector_price)
    )
    np.testing.assert_allclose(np.log(sol.unit_cost), log_cost, atol=1e-10)
    # Labour markets: full employment (mobile: one wage per region).
    va0 = base.value_added[None]
    if mobile:
        np.testing.assert_allclose(sol.wage, np.broadcast_to(sol.wage[:, :, :1], sol.wage.shape),
                                   rtol=1e-14)  # fmt: skip
        np.testing.assert_allclose(
            sol.value_added.sum(axis=2), sol.wage[:, :, 0] * va0.sum(axis=2), rtol=rtol
        )
        assert np.abs(sol.employment - 1).max() > 1e-3  # labour moved between sectors
    else:
        np.testing.assert_allclose(sol.value_added, sol.wage * va0, rtol=rtol)
        np.testing.assert_allclose(sol.employment, 1.0, rtol=rtol)
    # Numeraire.
    if numeraire is None:
        volume = (va0 * shock["productivity"] * sol.employment).sum(axis=(1, 2))
        np.testing.assert_allclose(world, volume, rtol=rtol)
    else:
        np.testing.assert_allclose(sol.cpi[:, numeraire], 1.0, rtol=rtol)


def test_real_quantities_do_not_depend_on_the_numeraire() -> None:
    _, world, _ = _shocked("fixed", True, None)
    _, cpi, _ = _shocked("fixed", True, 2)
    for name in ("share", "employment", "real_income", "real_wage"):
        np.testing.assert_allclose(getattr(world, name), getattr(cpi, name), rtol=1e-10)
    ratio = cpi.output / world.output
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1, :1], ratio.shape), rtol=1e-10)


def test_replicas_do_not_depend_on_their_batch() -> None:
    base, sol, shock = _shocked("ratio", True, None)
    labour = _mobile(3, 3)
    for k in (0, 3):
        one = solve_equilibrium(
            base,
            shock["theta"][k : k + 1],
            labour,
            cost_change=shock["cost_change"][k : k + 1],
            tariff=shock["tariff"][k : k + 1],
            productivity=shock["productivity"][k : k + 1],
            deficit_closure="ratio",
            tol=1e-13,
        )
        np.testing.assert_allclose(one.trade[0], sol.trade[k], rtol=1e-11)


def test_a_warm_start_from_the_solution_takes_no_step() -> None:
    base, sol, shock = _shocked("fixed", False, None)
    labour = build_labour_markets(3, np.zeros(3, bool), np.zeros(3))
    guess = unknowns_of(sol, labour)
    np.testing.assert_array_equal(extrapolate_unknowns(guess, guess), guess)
    again = solve_equilibrium(
        base,
        shock["theta"],
        labour,
        cost_change=shock["cost_change"],
        tariff=shock["tariff"],
        productivity=shock["productivity"],
        guess=guess,
        tol=1e-10,
    )
    assert again.iterations == 0
    np.testing.assert_allclose(again.trade, sol.trade, rtol=1e-10)


def test_the_last_inverse_jacobian_warm_starts_a_nearby_solve() -> None:
    """A path of equilibria carries each replica's inverse Newton matrix: the next solve
    reaches the same equilibrium as one started from scratch, in no more steps."""
    base, sol, shock = _shocked("fixed", True, None)
    labour = _mobile(3, 3)
    nearby = {**shock, "cost_change": shock["cost_change"] * 0.99}
    kwargs = {
        "cost_change": nearby["cost_change"],
        "tariff": nearby["tariff"],
        "productivity": nearby["productivity"],
        "tol": 1e-12,
    }
    cold = solve_equilibrium(base, shock["theta"], labour, **kwargs)
    warm = solve_equilibrium(
        base, shock["theta"], labour, inverse_jacobian=sol.inverse_jacobian, **kwargs
    )
    assert sol.inverse_jacobian.shape == (shock["theta"].shape[0], labour.count, labour.count)
    assert warm.converged.all() and cold.converged.all()
    np.testing.assert_allclose(warm.trade, cold.trade, rtol=1e-10)
    assert warm.iterations <= cold.iterations


# -- the endowment-gravity special case -------------------------------------------------------
@pytest.mark.parametrize(("closure", "old"), [("fixed", "additive"), ("ratio", "ratio")])
@pytest.mark.parametrize("numeraire", [None, 0, 2])
def test_without_linkages_it_is_the_endowment_gravity_model(
    closure: str, old: str, numeraire: int | None
) -> None:
    # No input-output linkages, sector-specific labour in fixed supply, no tariffs: supply
    # quantities are the productivity changes, as in sim.kernels.gravity.
    rng = np.random.default_rng(6)
    regions, sectors, n = 3, 4, 5
    flows = _table(rng, regions, sectors, False)
    theta = rng.uniform(2.0, 9.0, (n, sectors))
    cost = _costs(rng, n, regions, sectors)
    supply = rng.uniform(0.8, 1.3, (n, regions, sectors))
    labour = build_labour_markets(sectors, np.zeros(regions, bool), np.zeros(regions))
    new = solve_equilibrium(
        build_equilibrium_baseline(flows),
        theta,
        labour,
        cost_change=cost,
        productivity=supply,
        deficit_closure=closure,
        numeraire=numeraire,
        tol=1e-13,
    )
    ref = solve_gravity(
        build_gravity_baseline(flows),
        cost_weights(cost, theta),
        theta,
        supply,
        closure=old,
        numeraire=numeraire,
        tol=1e-13,
    )
    np.testing.assert_allclose(new.trade, ref.trade, rtol=1e-10)
    np.testing.assert_allclose(new.unit_cost, ref.price, rtol=1e-10)
    np.testing.assert_allclose(new.income, ref.expenditure, rtol=1e-10)
    np.testing.assert_allclose(new.cpi, ref.price_index, rtol=1e-10)
    np.testing.assert_allclose(new.employment, 1.0, rtol=1e-12)


# -- tariffs ----------------------------------------------------------------------------------
def _two_countries() -> tuple[EquilibriumBaseline, LabourMarkets]:
    flows = np.array([[80.0, 20.0], [20.0, 80.0]])[:, :, None]
    return build_equilibrium_baseline(flows), _mobile(2, 1)


def _tariff_on_imports(rate: float) -> np.ndarray:
    tariff = np.zeros((1, 2, 2, 1))
    tariff[0, 1, 0, 0] = rate  # region 0 taxes imports from region 1
    return tariff


def test_a_small_tariff_with_revenue_rebated_gains_the_importer() -> None:
    # A large country's small tariff: a first-order terms-of-trade gain against a
    # second-order efficiency loss (the optimal tariff is positive), the partner loses.
    base, labour = _two_countries()
    theta = np.array([[4.0]])
    sol = solve_equilibrium(
        base, theta, labour, tariff=_tariff_on_imports(0.05), deficit_closure="zero"
    )
    assert sol.real_income[0, 0] > 1.0 > sol.real_income[0, 1]
    assert sol.tariff_revenue[0, 0] > 0 and sol.tariff_revenue[0, 1] == 0
    assert sol.wage[0, 0, 0] / sol.wage[0, 1, 0] > 1.0  # the terms of trade improve
    # The same wedge as an iceberg cost has no revenue: the importer loses.
    iceberg = np.ones((1, 2, 2, 1))
    iceberg[0, 1, 0, 0] = 1.05
    lost = solve_equilibrium(base, theta, labour, cost_change=iceberg, deficit_closure="zero")
    assert lost.real_income[0, 0] < 1.0
    # A prohibitive tariff is close to autarky and loses too.
    high = solve_equilibrium(
        base, theta, labour, tariff=_tariff_on_imports(3.0), deficit_closure="zero"
    )
    assert high.real_income[0, 0] < 1.0


# -- labour-market closures -------------------------------------------------------------------
def _border_cut(elasticity: float, mobile: bool) -> tuple[EquilibriumBaseline, EquilibriumSolution]:
    rng = np.random.default_rng(7)
    regions, sectors = 3, 3
    beta, gamma = _technology(rng, regions, sectors)
    flows = _table(rng, regions, sectors, True)
    flows[2] *= 20.0  # a large rest of the world
    flows[:, 2] *= 20.0
    base = build_equilibrium_baseline(flows, None, beta, gamma)
    cost = np.ones((1, regions, regions, sectors))
    cost[0, 0, 1] = cost[0, 1, 0] = 0.8  # the two partners cut their border costs
    elasticities = np.array([elasticity, elasticity, 0.0])  # the world stays at full employment
    labour = build_labour_markets(sectors, np.full(regions, mobile), elasticities)
    sol = solve_equilibrium(
        base, np.full((1, sectors), 5.0), labour, cost_change=cost, deficit_closure="zero"
    )
    assert sol.converged.all()
    return base, sol


@pytest.mark.parametrize("mobile", [True, False])
def test_with_a_fixed_real_wage_a_border_cut_creates_jobs_in_the_partners_exporters(
    mobile: bool,
) -> None:
    base, sol = _border_cut(np.inf, mobile)
    np.testing.assert_allclose(sol.real_wage[0, :2], 1.0, rtol=1e-10)
    exports = base.trade[0, 1] + base.trade[1, 0]  # (S,) the partners' mutual trade
    for region in (0, 1):
        exporting = base.trade[region, 1 - region] > 0.01 * base.output[region]
        assert exporting.any()
        assert (sol.employment[0, region, exporting] > 1.0).all()
    jobs = (base.value_added[:2] * (sol.employment[0, :2] - 1)).sum()
    assert jobs > 0 and exports.sum() > 0


def test_with_full_employment_a_border_cut_moves_wages_not_total_employment() -> None:
    base, sol = _border_cut(0.0, True)
    va = base.value_added
    total = (va * sol.employment[0]).sum(axis=1) / va.sum(axis=1)  # wage-bill weighted
    np.testing.assert_allclose(total, 1.0, rtol=1e-11)
    assert np.abs(sol.employment[0] - 1).max() > 1e-3  # it moves between sectors
    assert (sol.real_wage[0, :2, 0] > 1.0).all()  # the gains show as real wages


def test_a_finite_supply_elasticity_lies_between_the_two_closures() -> None:
    base, full = _border_cut(0.0, True)
    _, elastic = _border_cut(1.0, True)
    _, fixed = _border_cut(np.inf, True)

    def jobs(sol: EquilibriumSolution) -> np.ndarray:
        return (base.value_added[:2] * (sol.employment[0, :2] - 1)).sum(axis=1)

    assert (np.abs(jobs(full)) < 1e-9 * base.value_added.sum()).all()
    assert (jobs(elastic) > 0).all() and (jobs(elastic) < jobs(fixed)).all()
    # Along the supply curve, employment = (real wage)^elasticity.
    employment = elastic.employment_group[0, :2]
    np.testing.assert_allclose(employment, elastic.real_wage[0, :2, 0], rtol=1e-10)


def test_a_fixed_real_wage_everywhere_is_refused() -> None:
    base, _ = _two_countries()
    labour = build_labour_markets(1, np.ones(2, bool), np.full(2, np.inf))
    with pytest.raises(ValueError, match="finite supply elasticity"):
        solve_equilibrium(base, np.array([[4.0]]), labour)


# -- deficits ---------------------------------------------------------------------------------
def test_removing_deficits_gives_a_balanced_baseline() -> None:
    rng = np.random.default_rng(8)
    beta, gamma = _technology(rng, 3, 2)
    base = build_equilibrium_baseline(_table(rng, 3, 2, False), None, beta, gamma)
    assert np.abs(base.deficit).max() > 0.01 * base.income.max()
    balanced = remove_deficits(base, np.array([4.0, 6.0]))
    assert np.abs(balanced.deficit).max() < 1e-10 * balanced.income.max()
    # Technology is unchanged; the world is rescaled only through the numeraire.
    np.testing.assert_array_equal(balanced.input_share, base.input_share)
    assert balanced.value_added.sum() == pytest.approx(base.value_added.sum(), rel=1e-10)


def test_a_balanced_world_not_found_is_refused() -> None:
    """Caliendo & Parro's first solve must converge: its flows become the baseline."""
    rng = np.random.default_rng(8)
    beta, gamma = _technology(rng, 3, 2)
    base = build_equilibrium_baseline(_table(rng, 3, 2, False), None, beta, gamma)
    with pytest.raises(ConvergenceError, match=r"without trade deficits .* did not converge"):
        remove_deficits(base, np.array([4.0, 6.0]), tol=1e-300)  # no float is that close


def test_shares_that_do_not_add_up_are_refused() -> None:
    """Value added below output without inputs leaks income: no equilibrium exists (the
    solver stalled at a residual of about 1e-2), so the baseline is refused instead."""
    rng = np.random.default_rng(4)
    table = _table(rng, 3, 2, True)
    beta = np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=r"region 0, sector 0 sum to 0.5, not 1 \(6 region"):
        build_equilibrium_baseline(table, np.zeros((3, 3, 2)), beta, np.zeros((3, 2, 2)))
    gamma = np.zeros((3, 2, 2))
    gamma[:, :, 0] = 0.5  # now they add up
    base = build_equilibrium_baseline(table, np.zeros((3, 3, 2)), beta, gamma)
    np.testing.assert_allclose(base.va_share + base.input_share.sum(axis=2), 1.0)

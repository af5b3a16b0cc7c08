"""Independent check of the hat-algebra equilibrium against a model solved in levels.

A small Armington/CES world (3 regions x 3 sectors, Cobb-Douglas production with
input-output linkages, ad valorem tariffs rebated to the importer, fixed labour
endowments, exogenous deficits) is written here in *levels* and solved with
:func:`scipy.optimize.root`, before and after a shock to trade costs, tariffs and
productivity. The baseline that :func:`build_equilibrium_baseline` derives from
the levels solution, shocked through :func:`solve_equilibrium`, must reproduce
the levels counterfactual. Nothing of :mod:`sim.kernels.equilibrium` beyond its
public interface is used.

Levels model (the Cobb-Douglas normalising constant is absorbed into ``A``):

* unit cost ``c_is = (w_is / A_is)^beta_is prod_t P_it^gamma_ist`` (labour-augmenting ``A``);
* delivered price ``p_ijs = (1 + tau_ijs) d_ijs c_is``;
* price index ``P_js = (sum_i a_ijs p_ijs^-theta_s)^(-1/theta_s)``;
* shares ``pi_ijs = a_ijs p_ijs^-theta_s / P_js^-theta_s`` (tariff inclusive);
* spending ``E_js = sum_t gamma_jts Y_jt + alpha_js I_j``;
* gross output ``Y_is = sum_j pi_ijs E_js / (1 + tau_ijs)``;
* income ``I_j = sum_{g in j} w_g Lbar_g + sum_{i,s} tau_ijs/(1+tau_ijs) pi_ijs E_js + D_j``
  (labour income; equal to ``sum_s beta_js Y_js`` in equilibrium);
* labour: ``sum_{s in g} beta_s Y_s = w_g Lbar_g`` for every market ``g`` (one per
  region with mobile labour, one per region-sector with sector-specific labour);
* numeraire: world value added ``sum_g w_g Lbar_g = 1`` (it replaces one labour
  market, redundant by Walras' law, which is checked after the solve).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.optimize import root

from sim.kernels.equilibrium import (
    EquilibriumBaseline,
    EquilibriumSolution,
    LabourMarkets,
    build_equilibrium_baseline,
    build_labour_markets,
    solve_equilibrium,
)

Array = NDArray[np.float64]

R, S = 3, 3
RTOL = 1e-9
SEEDS = (20150101, 7)


@dataclass(frozen=True)
class Economy:
    """Parameters of the levels model; money in units of baseline world value added."""

    theta: Array  # (S,)
    beta: Array  # (R, S) value-added shares
    gamma: Array  # (R, S, S) input shares, (region, using sector, input sector)
    alpha: Array  # (R, S) final-demand shares
    weight: Array  # (R, R, S) taste/technology weights a_ijs
    distance: Array  # (R, R, S) iceberg costs d_ijs >= 1, d_iis = 1
    tariff: Array  # (R, R, S) ad valorem tariffs
    productivity: Array  # (R, S) A_is
    group: NDArray[np.int64]  # (R, S) labour market of each region-sector
    endowment: Array  # (G,) labour endowment of each market
    deficit: Array  # (R,) baseline deficits, sum zero


@dataclass(frozen=True)
class Levels:
    """A solved levels equilibrium."""

    wage: Array  # (R, S) w_is (equal across a mobile region's sectors)
    price: Array  # (R, S) P_js
    spending: Array  # (R, S) E_js
    share: Array  # (R, R, S) pi_ijs
    trade: Array  # (R, R, S) X_ijs at producer prices
    output: Array  # (R, S) Y_is
    value_added: Array  # (R, S) beta_is Y_is
    revenue: Array  # (R,)
    deficit: Array  # (R,)
    income: Array  # (R,)
    employment: Array  # (R, S) beta_is Y_is / w_is
    labour_gap: Array  # (G,) log demand - log supply of every labour market
    x: Array  # the unknowns, a warm start


def make_economy(seed: int, mobile: bool) -> Economy:
    """Random but fixed parameters."""
    rng = np.random.default_rng(seed)
    theta = rng.uniform(3.0, 8.0, S)
    beta = rng.uniform(0.3, 0.6, (R, S))
    raw = rng.uniform(0.2, 1.0, (R, S, S))
    gamma = raw / raw.sum(axis=2, keepdims=True) * (1.0 - beta)[:, :, None]
    alpha = rng.dirichlet(np.ones(S), R)
    weight = rng.uniform(0.5, 1.5, (R, R, S))
    distance = rng.uniform(1.3, 2.5, (R, R, S))
    tariff = rng.uniform(0.0, 0.2, (R, R, S))
    idx = np.arange(R)
    distance[idx, idx, :] = 1.0
    tariff[idx, idx, :] = 0.0
    productivity = rng.uniform(0.8, 1.2, (R, S))
    if mobile:
        group = np.repeat(np.arange(R), S).reshape(R, S)
        endowment = rng.uniform(0.5, 2.0, R)
    else:
        group = np.arange(R * S).reshape(R, S)
        endowment = rng.uniform(0.5, 2.0, R * S)
    deficit = rng.uniform(-0.04, 0.04, R)
    deficit -= deficit.mean()
    return Economy(
        theta=theta,
        beta=beta,
        gamma=gamma,
        alpha=alpha,
        weight=weight,
        distance=distance,
        tariff=tariff,
        productivity=productivity,
        group=group,
        endowment=endowment,
        deficit=deficit,
    )


def shock(eco: Economy) -> tuple[Economy, Array, Array, Array]:
    """Cut some trade costs by 20 %, change some tariffs, shift some productivities.

    Returns the shocked economy and the hat solver's inputs: ``dhat``, ``tau'``, ``Ahat``.
    """
    dhat = np.ones((R, R, S))
    dhat[0, 1, [0, 2]] = 0.8
    dhat[1, 0, [0, 2]] = 0.8
    dhat[2, 0, 1] = 0.8
    tau_new = eco.tariff.copy()
    tau_new[0, 2, :] = 0.0  # region 2 frees imports from region 0
    tau_new[1, 2, 1] = 0.25
    tau_new[2, 1, 0] = 0.3
    a_hat = np.ones((R, S))
    a_hat[1, 0] = 1.1
    a_hat[2, 2] = 0.95
    a_hat[0, 1] = 1.05
    new = replace(
        eco,
        distance=eco.distance * dhat,
        tariff=tau_new,
        productivity=eco.productivity * a_hat,
    )
    return new, dhat, tau_new, a_hat


def _deficit_rule(eco: Economy, closure: str, base_va: Array | None) -> Callable[[Array], Array]:
    """D'_j from the regions' value added (R,), under the closure."""
    if closure == "fixed":
        # D' = D * world VA' / world VA; the baseline's world VA is 1 (numeraire).
        return lambda va: eco.deficit * va.sum()
    if closure == "zero":
        return lambda va: np.zeros(R)
    if closure == "ratio":
        assert base_va is not None
        phi = (base_va + eco.deficit) / base_va
        return lambda va: va * (phi * va.sum() / (phi * va).sum() - 1.0)
    raise ValueError(closure)


def _evaluate(x: Array, eco: Economy, deficit_of: Callable[[Array], Array]) -> tuple[Array, Levels]:
    n_g = eco.endowment.size
    log_w = x[:n_g]
    log_p = x[n_g : n_g + R * S].reshape(R, S)
    log_e = x[n_g + R * S :].reshape(R, S)
    log_c = eco.beta * (log_w[eco.group] - np.log(eco.productivity)) + np.einsum(
        "ist,it->is", eco.gamma, log_p
    )
    delivered = (1.0 + eco.tariff) * eco.distance * np.exp(log_c)[:, None, :]  # p_ijs
    kernel = eco.weight * delivered ** (-eco.theta)
    total = kernel.sum(axis=0)  # P_js^-theta_s
    model_log_p = -np.log(total) / eco.theta
    share = kernel / total[None]
    spending = np.exp(log_e)
    gross = share * spending[None]  # tariff-inclusive purchases from i
    trade = gross / (1.0 + eco.tariff)
    output = trade.sum(axis=1)
    value_added = eco.beta * output
    revenue = (gross - trade).sum(axis=(0, 2))
    supply = np.exp(log_w) * eco.endowment  # w_g Lbar_g
    region_of_market = np.zeros(n_g, dtype=np.int64)
    region_of_market[eco.group] = np.arange(R)[:, None]
    # Households earn what the labour markets pay (w Lbar); using beta Y instead would
    # leave world value added free and Walras' law void.
    earned: Array = np.bincount(region_of_market, weights=supply, minlength=R).astype(float)
    deficit = deficit_of(earned)
    income = earned + revenue + deficit
    model_e = np.einsum("jts,jt->js", eco.gamma, output) + eco.alpha * income[:, None]
    demand = np.bincount(eco.group.ravel(), weights=value_added.ravel(), minlength=n_g)
    labour_gap = np.log(demand) - np.log(supply)
    residual_labour = labour_gap.copy()
    residual_labour[-1] = np.log(supply.sum())  # numeraire: world value added = 1
    residual = np.concatenate(
        [residual_labour, (log_p - model_log_p).ravel(), (log_e - np.log(model_e)).ravel()]
    )
    wage = np.exp(log_w)[eco.group]
    levels = Levels(
        wage=wage,
        price=np.exp(log_p),
        spending=spending,
        share=share,
        trade=trade,
        output=output,
        value_added=value_added,
        revenue=revenue,
        deficit=deficit,
        income=income,
        employment=value_added / wage,
        labour_gap=labour_gap,
        x=x,
    )
    return residual, levels


def solve_levels(
    eco: Economy, closure: str = "fixed", base_va: Array | None = None, x0: Array | None = None
) -> Levels:
    """Solve the levels model with scipy's hybrid Powell method."""
    n_g = eco.endowment.size
    deficit_of = _deficit_rule(eco, closure, base_va)
    if x0 is None:
        x0 = np.concatenate(
            [
                np.full(n_g, -np.log(eco.endowment.sum())),
                np.zeros(R * S),
                np.full(R * S, np.log(1.5 / (R * S))),
            ]
        )
    sol = root(lambda x: _evaluate(x, eco, deficit_of)[0], x0, method="hybr", tol=1e-14)
    residual, levels = _evaluate(sol.x, eco, deficit_of)
    assert np.abs(residual).max() < 1e-12, (sol.message, np.abs(residual).max())
    return levels


def region_va(lv: Levels) -> Array:
    out: Array = lv.value_added.sum(axis=1)
    return out


def check_accounting(eco: Economy, lv: Levels) -> None:
    """Identities the levels solution must satisfy whatever the hat solver says."""
    tol = 1e-11
    # Walras: the labour market dropped for the numeraire clears too.
    assert np.abs(lv.labour_gap).max() < tol
    assert lv.value_added.sum() == pytest.approx(1.0, abs=tol)
    np.testing.assert_allclose(lv.share.sum(axis=0), 1.0, atol=tol)
    # World income equals world final spending; deficits sum to zero.
    final = lv.spending - np.einsum("jts,jt->js", eco.gamma, lv.output)
    np.testing.assert_allclose(final, eco.alpha * lv.income[:, None], atol=tol)
    assert lv.deficit.sum() == pytest.approx(0.0, abs=tol)
    assert lv.income.sum() == pytest.approx(1.0 + lv.revenue.sum(), abs=tol)
    # The deficit is net imports at producer prices.
    imports = lv.trade.sum(axis=(0, 2)) - np.einsum("jjs->j", lv.trade)
    exports = lv.trade.sum(axis=(1, 2)) - np.einsum("jjs->j", lv.trade)
    np.testing.assert_allclose(imports - exports, lv.deficit, atol=tol)
    # Employment is the endowment.
    employed = np.bincount(
        eco.group.ravel(), weights=lv.employment.ravel(), minlength=eco.endowment.size
    )
    np.testing.assert_allclose(employed, eco.endowment, rtol=tol)


def baseline_of(eco: Economy, lv: Levels) -> EquilibriumBaseline:
    return build_equilibrium_baseline(lv.trade, eco.tariff, eco.beta, eco.gamma)


def labour_of(mobile: bool) -> LabourMarkets:
    return build_labour_markets(S, mobile=np.full(R, mobile), elasticity=np.zeros(R))


def compare(
    eco: Economy, lv0: Levels, lv1: Levels, sol: EquilibriumSolution, mobile: bool
) -> dict[str, float]:
    """Largest relative gaps between the hat solution and the levels counterfactual."""
    world = sol.value_added[0].sum()  # the hat solution's unit: world VA' = 1 here
    what = lv1.wage / lv0.wage
    cpi_hat = np.prod((lv1.price / lv0.price) ** eco.alpha, axis=1)
    expected = {
        "share": (sol.share[0], lv1.share),
        "relative wage": (sol.wage[0] / sol.wage[0, 0, 0], what / what[0, 0]),
        "wage / world VA": (sol.wage[0] / world, what),
        "real wage": (sol.real_wage[0], what / cpi_hat[:, None]),
        "real income": (sol.real_income[0], lv1.income / lv0.income / cpi_hat),
        "trade / world VA": (sol.trade[0] / world, lv1.trade),
        "spending / world VA": (sol.spending[0] / world, lv1.spending),
        "income / world VA": (sol.income[0] / world, lv1.income),
        "tariff revenue / world VA": (sol.tariff_revenue[0] / world, lv1.revenue),
        "sector price ratio": (
            sol.sector_price[0] / sol.sector_price[0, 0, 0],
            (lv1.price / lv0.price) / (lv1.price[0, 0] / lv0.price[0, 0]),
        ),
        "employment": (sol.employment[0], lv1.employment / lv0.employment),
    }
    gaps: dict[str, float] = {}
    for name, (got, want) in expected.items():
        gaps[name] = float(np.max(np.abs(got - want) / np.abs(want)))
    scale = np.abs(lv1.income).max()
    gaps["deficit / world VA"] = float(np.max(np.abs(sol.deficit[0] / world - lv1.deficit)) / scale)
    if mobile:
        # Employment moves between sectors (the comparison is only meaningful if it does).
        assert np.abs(lv1.employment / lv0.employment - 1.0).max() > 1e-3
    return gaps


def run_case(seed: int, mobile: bool, closure: str) -> dict[str, float]:
    eco = make_economy(seed, mobile)
    lv0 = solve_levels(eco)
    check_accounting(eco, lv0)
    base = baseline_of(eco, lv0)
    shocked, dhat, tau_new, a_hat = shock(eco)
    lv1 = solve_levels(shocked, closure, base_va=region_va(lv0), x0=lv0.x)
    check_accounting(shocked, lv1)
    if closure == "zero":
        assert np.abs(lv1.deficit).max() == 0.0
    sol = solve_equilibrium(
        base,
        eco.theta[None, :],
        labour_of(mobile),
        cost_change=dhat[None],
        tariff=tau_new[None],
        productivity=a_hat[None],
        deficit_closure=closure,
        numeraire=None,
    )
    assert sol.converged.all()
    return compare(eco, lv0, lv1, sol, mobile)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mobile", [True, False], ids=["mobile", "specific"])
def test_baseline_from_levels(seed: int, mobile: bool) -> None:
    """The baseline derived from the levels flows recovers D and alpha."""
    eco = make_economy(seed, mobile)
    lv = solve_levels(eco)
    check_accounting(eco, lv)
    base = baseline_of(eco, lv)
    world_output = lv.output.sum()
    np.testing.assert_allclose(base.deficit, eco.deficit, rtol=0, atol=1e-9 * world_output)
    np.testing.assert_allclose(base.final_share, eco.alpha, rtol=1e-9)
    np.testing.assert_allclose(base.income, lv.income, rtol=1e-9)
    np.testing.assert_allclose(base.share, lv.share, rtol=1e-9)
    np.testing.assert_allclose(base.tariff_revenue, lv.revenue, rtol=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mobile", [True, False], ids=["mobile", "specific"])
def test_no_shock_reproduces_baseline(seed: int, mobile: bool) -> None:
    eco = make_economy(seed, mobile)
    base = baseline_of(eco, solve_levels(eco))
    sol = solve_equilibrium(
        base,
        eco.theta[None, :],
        labour_of(mobile),
        deficit_closure="fixed",
        numeraire=None,
    )
    assert sol.converged.all()
    np.testing.assert_allclose(sol.trade[0], base.trade, rtol=1e-12, atol=0)
    np.testing.assert_allclose(sol.wage[0], 1.0, rtol=1e-12)
    np.testing.assert_allclose(sol.real_income[0], 1.0, rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    ("mobile", "closure"),
    [
        (True, "fixed"),
        (False, "fixed"),
        (True, "zero"),
        (False, "zero"),
        (True, "ratio"),
        (False, "ratio"),
    ],
    ids=[
        "mobile-fixed",
        "specific-fixed",
        "mobile-zero",
        "specific-zero",
        "mobile-ratio",
        "specific-ratio",
    ],
)
def test_counterfactual_matches_levels(seed: int, mobile: bool, closure: str) -> None:
    gaps = run_case(seed, mobile, closure)
    worst = {name: gap for name, gap in gaps.items() if not gap < RTOL}
    assert not worst, worst

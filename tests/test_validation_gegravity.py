"""Validation of the structural-gravity kernel against gegravity 0.3 and by its properties.

Reference case (``tests/data/reference/``, described in ``shared/reference/README.md``):
gegravity 0.3's documented Canada-Japan trade agreement on its 2006 sample data (30
countries, trade in USD million including domestic flows). sigma = 5 (theta = 4),
reference importer DEU, and the shock pta = 1 for CAN->JPN and JPN->CAN with the PPML
coefficient 0.4711383 on pta: t^(1-sigma) is multiplied by exp(0.4711383) for those
two directed pairs, so the engine's cost weight t_hat^(-theta) is exp(0.4711383) there
and 1 elsewhere. One sector, quantity 1, closure "ratio" (E/Y fixed), and the
numeraire is DEU's consumer price index, which is gegravity's normalisation of DEU's
inward multilateral resistance (P_DEU = 1).

1. From gegravity's own baseline (its fitted flows, "baseline modeled trade"): every
   bilateral change within 0.3 pp of gegravity's, country results within stated
   tolerances.
2. From the observed flows of the sample data: the changes differ more (the numbers
   are recorded below).
3. Why the fitted-baseline case differs at all: gegravity 0.3 solves its multilateral
   resistances with the *baseline* output and expenditure shares (one round of the
   Yotov et al. 2016 procedure). A transcription of that procedure reproduces the
   published figures to 1e-6 pp; iterated until the shares are consistent with the
   new prices it gives the engine's prices to 1e-9. The 0.8 % gap between gegravity's
   fitted row sums and Y is a single factor for all countries (sum E / sum Y = 0.9919),
   which leaves every share unchanged and so plays no part.
4. Structural-gravity properties on random trade tables (hypothesis): zero shock,
   homogeneity, bilateral liberalisation, symmetry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim.kernels.gravity import (
    GravityBaseline,
    GravitySolution,
    build_gravity_baseline,
    cost_weights,
    solve_gravity,
)

REFERENCE = Path(__file__).parent / "data" / "reference"
SIGMA = 5.0
THETA = SIGMA - 1.0
PTA = 0.4711383
# gegravity's documented PPML cost coefficients (t^(1-sigma) = exp(sum b x)); the
# constant is not a trade cost.
COST_COEFFICIENTS = {
    "lndist": -0.3898623,
    "contiguity": 0.891577,
    "common_language": 0.0326249,
    "pta": PTA,
    "international": -3.412584,
}

# gegravity 0.3's published figures (README of the reference data).
PUBLISHED_TRADE = {("CAN", "JPN"): 62.44, ("JPN", "CAN"): 55.29, ("USA", "CAN"): -2.22}
PUBLISHED_GDP = {"CAN": 0.418261, "JPN": 0.053755, "USA": -0.007411}

# The engine's figures, recorded for docs/validation.md (percent changes of trade):
#   from gegravity's fitted baseline: CAN->JPN +62.32, JPN->CAN +55.23, USA->CAN -2.13,
#       max |difference| over all 900 pairs 0.25 pp (JPN->JPN: +0.01 against +0.26);
#   from the observed flows:          CAN->JPN +60.93, JPN->CAN +57.11, USA->CAN -1.38,
#       max |difference| over all 900 pairs 1.82 pp (JPN->CAN: +57.11 against +55.29).
FITTED_MAX_DIFF_PP = 0.25
OBSERVED_MAX_DIFF_PP = 1.82

BILATERAL_TOL_PP = 0.3
SIGN_THRESHOLD_PCT = 0.5


# --- reference data ------------------------------------------------------------------------


def _matrix(frame: pd.DataFrame, column: str, index: dict[str, int]) -> np.ndarray:
    """Exporter x importer matrix of one column of a long table."""
    out = np.full((len(index), len(index)), np.nan)
    out[frame["exporter"].map(index), frame["importer"].map(index)] = frame[column].to_numpy()
    assert not np.isnan(out).any(), f"{column}: the table is not square"
    return out


class Reference:
    """The gegravity experiment's inputs and published results as arrays."""

    def __init__(self) -> None:
        bilateral = pd.read_csv(REFERENCE / "gegravity_canjpn_bilateral.csv")
        sample = pd.read_csv(REFERENCE / "gegravity_sample_2006.csv")
        self.country = pd.read_csv(REFERENCE / "gegravity_canjpn_country.csv").set_index("country")
        self.names = sorted(bilateral["exporter"].unique())
        self.index = {name: i for i, name in enumerate(self.names)}
        assert len(self.names) == 30
        assert sorted(sample["exporter"].unique()) == self.names
        self.fitted = _matrix(bilateral, "baseline modeled trade", self.index)
        self.experiment = _matrix(bilateral, "experiment trade", self.index)
        self.change = _matrix(bilateral, "trade change (percent)", self.index)
        self.observed = _matrix(sample, "trade", self.index)
        self.gravity = {v: _matrix(sample, v, self.index) for v in COST_COEFFICIENTS}
        self.output = sample.groupby("exporter")["Y"].mean()[self.names].to_numpy()
        self.expenditure = sample.groupby("importer")["E"].mean()[self.names].to_numpy()

    def pair(self, origin: str, destination: str) -> tuple[int, int]:
        return self.index[origin], self.index[destination]

    def column(self, name: str) -> np.ndarray:
        return self.country.loc[self.names, name].to_numpy()


@pytest.fixture(scope="module")
def ref() -> Reference:
    return Reference()


def _canjpn(ref: Reference, flows: np.ndarray) -> tuple[GravityBaseline, GravitySolution]:
    """The experiment in the engine, started from a (R, R) baseline trade table."""
    regions = len(ref.names)
    weight = np.ones((1, regions, regions, 1))
    for origin, destination in (("CAN", "JPN"), ("JPN", "CAN")):
        weight[(0, *ref.pair(origin, destination), 0)] = np.exp(PTA)
    baseline = build_gravity_baseline(flows[:, :, None])
    sol = solve_gravity(
        baseline,
        weight,
        np.array([[THETA]]),
        np.ones((1, regions, 1)),
        closure="ratio",
        numeraire=ref.index["DEU"],
    )
    assert sol.converged.all()
    return baseline, sol


def _percent(sol: GravitySolution, flows: np.ndarray) -> np.ndarray:
    return 100.0 * (sol.trade[0, :, :, 0] / flows - 1.0)


@pytest.fixture(scope="module")
def fitted(ref: Reference) -> tuple[GravityBaseline, GravitySolution, np.ndarray]:
    baseline, sol = _canjpn(ref, ref.fitted)
    return baseline, sol, _percent(sol, ref.fitted)


@pytest.fixture(scope="module")
def observed(ref: Reference) -> tuple[GravityBaseline, GravitySolution, np.ndarray]:
    baseline, sol = _canjpn(ref, ref.observed)
    return baseline, sol, _percent(sol, ref.observed)


def test_reference_data_consistent(ref: Reference) -> None:
    """The reference tables agree with each other and with the published figures."""
    np.testing.assert_allclose(
        ref.change, 100.0 * (ref.experiment / ref.fitted - 1.0), rtol=0, atol=1e-9
    )
    for (origin, destination), value in PUBLISHED_TRADE.items():
        assert ref.change[ref.pair(origin, destination)] == pytest.approx(value, abs=0.005)
    assert ref.fitted[ref.pair("CAN", "JPN")] == pytest.approx(4871.83, abs=0.005)
    assert ref.experiment[ref.pair("CAN", "JPN")] == pytest.approx(7913.90, abs=0.005)
    gdp = ref.country["GDP change (percent)"]
    for name, value in PUBLISHED_GDP.items():
        assert gdp[name] == pytest.approx(value, abs=5e-7)


# --- 1. from gegravity's fitted baseline -------------------------------------------------------


def test_fitted_baseline_bilateral_changes(ref: Reference, fitted: tuple) -> None:
    _, _, pct = fitted
    diff = np.abs(pct - ref.change)
    assert diff.max() <= BILATERAL_TOL_PP
    assert diff.max() == pytest.approx(FITTED_MAX_DIFF_PP, abs=0.005)
    large = np.abs(ref.change) > SIGN_THRESHOLD_PCT
    assert large.sum() == 87  # the pairs with a visible change (CAN, JPN and their partners)
    np.testing.assert_array_equal(np.sign(pct[large]), np.sign(ref.change[large]))
    # an independent exact-hat solver gives +62.29 % (README) against gegravity's +62.44 %
    assert pct[ref.pair("CAN", "JPN")] == pytest.approx(62.29, abs=0.05)
    assert pct[ref.pair("JPN", "CAN")] == pytest.approx(55.23, abs=0.01)
    assert pct[ref.pair("USA", "CAN")] == pytest.approx(-2.13, abs=0.01)


def test_fitted_baseline_country_results(ref: Reference, fitted: tuple) -> None:
    """Country results whose gegravity definitions map onto the engine's.

    gegravity (OneSectorGE, Country._construct_country_measures): output Y' = p' Y, so
    "output change" is the factory-gate price change; E' = (E/Y) Y'; the IMR is the
    CES price index P (P_DEU = 1); GDP = Y/P, so "GDP change" = p_hat/P_hat - 1 (its
    "terms of trade", p/P, is the same number); welfare statistic (E/P)/(E'/P'); the
    foreign-trade and intranational columns are sums of bilateral flows. The OMR is left
    out: its level depends on gegravity's world-output normalisation, which the engine
    does not have.

    Tolerances: the published numbers are gegravity's first-round solution (see
    test_gap_is_gegravity_first_round_solution); the second-round correction, which
    the engine includes, reaches 0.035 pp for prices and price indices (JPN) and
    0.010 pp for real GDP (CAN). The tolerances are those maxima rounded up: 0.05 pp,
    0.015 pp, and 2e-4 for the welfare ratio (0.00013). Aggregates of bilateral flows
    are weighted means of bilateral changes over the same baseline flows, so they lie
    within the bilateral tolerance.
    """
    baseline, sol, pct = fitted
    price = sol.price[0, :, 0]
    cpi = sol.price_index[0]
    expenditure_hat = sol.expenditure[0] / baseline.expenditure
    assert cpi[ref.index["DEU"]] == pytest.approx(1.0, abs=1e-12)

    checks = {
        "factory gate price change (percent)": (100.0 * (price - 1.0), 0.05),
        "output change (percent)": (
            100.0 * (sol.output[0, :, 0] / baseline.output[:, 0] - 1.0),
            0.05,
        ),
        "expenditure change (percent)": (100.0 * (expenditure_hat - 1.0), 0.05),
        "imr change (percent)": (100.0 * (cpi - 1.0), 0.05),
        "GDP change (percent)": (100.0 * (price / cpi - 1.0), 0.015),
        "terms of trade change (percent)": (100.0 * (price / cpi - 1.0), 0.015),
        "welfare statistic": (cpi / expenditure_hat, 2e-4),
    }
    trade = sol.trade[0, :, :, 0]
    foreign = ~np.eye(len(ref.names), dtype=bool)
    checks["foreign exports change (percent)"] = (
        100.0 * ((trade * foreign).sum(axis=1) / (ref.fitted * foreign).sum(axis=1) - 1.0),
        BILATERAL_TOL_PP,
    )
    checks["foreign imports change (percent)"] = (
        100.0 * ((trade * foreign).sum(axis=0) / (ref.fitted * foreign).sum(axis=0) - 1.0),
        BILATERAL_TOL_PP,
    )
    checks["intranational trade change (percent)"] = (np.diag(pct), BILATERAL_TOL_PP)
    for column, (ours, tol) in checks.items():
        np.testing.assert_allclose(ours, ref.column(column), rtol=0, atol=tol, err_msg=column)

    gdp = 100.0 * (price / cpi - 1.0)
    for name, value in PUBLISHED_GDP.items():
        assert gdp[ref.index[name]] == pytest.approx(value, abs=0.015)
        assert np.sign(gdp[ref.index[name]]) == np.sign(value)
    # the two partners gain most (welfare statistic below 1 is a gain)
    welfare = cpi / expenditure_hat
    assert welfare[ref.index["CAN"]] < welfare[ref.index["JPN"]] < 1.0
    assert np.sort(welfare)[:2].tolist() == sorted(welfare[[ref.index["CAN"], ref.index["JPN"]]])


# --- 2. from the observed flows --------------------------------------------------------------


def test_observed_flows_differ_more(ref: Reference, fitted: tuple, observed: tuple) -> None:
    """Observed shares are not the fitted gravity shares, so the changes differ more.

    In the observed data JPN supplies 2.4 % of CAN's spending (fitted: 3.3 %) and the
    USA 36 % (fitted: 21 %); the observed row sums miss Y by up to 6.8 % (the fitted
    ones by a uniform 0.8 %).
    """
    _, _, pct_fitted = fitted
    _, _, pct = observed
    diff = np.abs(pct - ref.change)
    fitted_diff = np.abs(pct_fitted - ref.change)
    assert diff.max() > fitted_diff.max()
    assert diff.max() > BILATERAL_TOL_PP
    assert diff.max() == pytest.approx(OBSERVED_MAX_DIFF_PP, abs=0.005)
    assert np.unravel_index(diff.argmax(), diff.shape) == ref.pair("JPN", "CAN")
    assert pct[ref.pair("CAN", "JPN")] == pytest.approx(60.9, abs=1.0)  # README: +60.9 %
    assert pct[ref.pair("JPN", "CAN")] == pytest.approx(57.11, abs=0.01)
    assert pct[ref.pair("USA", "CAN")] == pytest.approx(-1.38, abs=0.01)
    # the direction of every visible change is still gegravity's
    large = np.abs(ref.change) > SIGN_THRESHOLD_PCT
    np.testing.assert_array_equal(np.sign(pct[large]), np.sign(ref.change[large]))

    row_gap = np.abs(ref.observed.sum(axis=1) / ref.output - 1.0)
    fitted_gap = ref.fitted.sum(axis=1) / ref.output
    assert row_gap.max() == pytest.approx(0.068, abs=0.001)
    np.testing.assert_allclose(fitted_gap, ref.expenditure.sum() / ref.output.sum(), rtol=1e-8)
    shares = ref.observed[:, ref.index["CAN"]] / ref.observed[:, ref.index["CAN"]].sum()
    assert shares[ref.index["JPN"]] == pytest.approx(0.0236, abs=5e-4)
    assert shares[ref.index["USA"]] == pytest.approx(0.360, abs=5e-3)


# --- 3. where the fitted-baseline difference comes from ---------------------------------------


def _resistances(
    cost: np.ndarray, out_share: np.ndarray, exp_share: np.ndarray, reference: int
) -> tuple[np.ndarray, np.ndarray]:
    """gegravity's multilateral resistance system, solved by biproportional scaling.

    Unknowns x_i = Pi_i^(sigma-1) and z_j = P_j^(sigma-1) (gegravity's "ratios") with
    z_j sum_i t_ij Y_i/Y x_i = 1 and x_i sum_j t_ij E_j/E z_j = 1: a Sinkhorn scaling
    of t^(1-sigma) to row sums Y_i/Y and column sums E_j/E, unique up to one factor,
    fixed by P_reference = 1.
    """
    x = np.ones(len(out_share))
    for _ in range(10_000):
        z = 1.0 / (cost.T @ (out_share * x))
        x_new = 1.0 / (cost @ (exp_share * z))
        if np.abs(x_new / x - 1.0).max() < 1e-15:
            break
        x = x_new
    else:  # pragma: no cover - diagnostic
        raise AssertionError("Sinkhorn scaling did not converge")
    z = 1.0 / (cost.T @ (out_share * x_new))
    return x_new * z[reference], z / z[reference]


def test_gap_is_gegravity_first_round_solution(ref: Reference, fitted: tuple) -> None:
    """gegravity's procedure reproduces the published figures; iterated, it is the engine.

    gegravity 0.3 (OneSectorGE._calculate_full_ge) solves the resistances with the
    experiment's costs but the baseline shares Y_i/Y and E_j/E, sets
    p_i = Pi_i / Pi'_i, and only then computes trade with Y' = p Y, E' = (E/Y) Y'. Its
    experiment flows therefore miss p Y by up to 0.2 % (a first round of the
    Yotov et al. 2016 iteration). Updating the shares until they agree with the prices
    gives the equilibrium the engine solves for.
    """
    reference = ref.index["DEU"]
    cost0 = np.exp(sum(b * ref.gravity[v] for v, b in COST_COEFFICIENTS.items()))
    cost1 = cost0.copy()
    for origin, destination in (("CAN", "JPN"), ("JPN", "CAN")):
        cost1[ref.pair(origin, destination)] *= np.exp(PTA)
    y, e = ref.output, ref.expenditure
    x0, z0 = _resistances(cost0, y / y.sum(), e / e.sum(), reference)
    fitted_flows = cost0 * e[None, :] * (y / y.sum())[:, None] * z0[None, :] * x0[:, None]
    np.testing.assert_allclose(fitted_flows, ref.fitted, rtol=1e-7)

    def trade(price: np.ndarray, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        value = price * y
        return cost1 * (e / y * value)[None, :] * (value / value.sum())[:, None] * z * x[:, None]

    # first round: baseline shares in the resistance system
    x1, z1 = _resistances(cost1, y / y.sum(), e / e.sum(), reference)
    price = (x1 / x0) ** (1.0 / (1.0 - SIGMA))
    first = trade(price, x1, z1)
    np.testing.assert_allclose(100.0 * (first / ref.fitted - 1.0), ref.change, rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        100.0 * (price - 1.0),
        ref.column("factory gate price change (percent)"),
        rtol=0,
        atol=1e-6,
    )
    clearing = first.sum(axis=1) / (price * y) / (fitted_flows.sum(axis=1) / y)
    assert 1e-3 < np.abs(clearing - 1.0).max() < 3e-3

    # iterate: factory-gate prices from Y'_i/Y' = (beta_i p_i)^(1-sigma) Pi'_i^(1-sigma)
    beta = (y / y.sum()) * x0
    for _ in range(100):
        value = price * y
        spend = e / y * value
        x, z = _resistances(cost1, value / value.sum(), spend / spend.sum(), reference)
        new = ((value / value.sum()) * x / beta) ** (1.0 / (1.0 - SIGMA))
        converged = np.abs(new / price - 1.0).max() < 1e-14
        price = new
        if converged:
            break
    else:  # pragma: no cover - diagnostic
        raise AssertionError("gegravity iteration did not converge")
    _, sol, pct = fitted
    np.testing.assert_allclose(sol.price[0, :, 0], price, rtol=1e-9)
    # Trade differs only by the engine's Walras rescaling of E'_j = phi_j Y'_j (the data
    # have sum E != sum Y, so gegravity's E' = (E/Y) Y' does not add up to world output).
    converged_pct = 100.0 * (trade(price, x, z) / ref.fitted - 1.0)
    np.testing.assert_allclose(pct, converged_pct, rtol=0, atol=0.01)
    assert np.abs(converged_pct - ref.change).max() > 0.2


# --- 4. structural-gravity properties on random trade tables --------------------------------

CLOSURES = ("ratio", "additive")
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


@st.composite
def _tables(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Positive (R, R, S) trade tables with dominant domestic flows, and theta (1, S).

    Off-diagonal flows in [1, 10]; domestic flows at least 10 R, so every region buys
    more than half of each sector at home.
    """
    regions = draw(st.integers(2, 5))
    sectors = draw(st.integers(1, 3))
    flows = draw(hnp.arrays(np.float64, (regions, regions, sectors), elements=st.floats(1, 10)))
    home = draw(hnp.arrays(np.float64, (regions, sectors), elements=st.floats(1, 10)))
    flows[np.arange(regions), np.arange(regions)] = 10.0 * regions * home
    theta = draw(hnp.arrays(np.float64, (1, sectors), elements=st.floats(1.5, 8.0)))
    return flows, theta


def _cost_shocks(regions: int, sectors: int) -> st.SearchStrategy[np.ndarray]:
    """Trade-cost changes in [0.7, 1.3] with domestic costs unchanged, shape (1, R, R, S)."""

    def clear_home(cost: np.ndarray) -> np.ndarray:
        cost[:, np.arange(regions), np.arange(regions)] = 1.0
        return cost

    return hnp.arrays(np.float64, (1, regions, regions, sectors), elements=st.floats(0.7, 1.3)).map(
        clear_home
    )


def _run(
    flows: np.ndarray,
    cost: np.ndarray,
    theta: np.ndarray,
    closure: str,
    numeraire: int | None = None,
) -> GravitySolution:
    regions, _, sectors = flows.shape
    sol = solve_gravity(
        build_gravity_baseline(flows),
        cost_weights(cost, theta),
        theta,
        np.ones((1, regions, sectors)),
        closure=closure,
        numeraire=numeraire,
    )
    assert sol.converged.all()
    return sol


@PROPERTY_SETTINGS
@given(_tables(), st.sampled_from(CLOSURES), st.sampled_from([None, 0]))
def test_property_zero_shock_is_exact(table: tuple, closure: str, numeraire: int | None) -> None:
    flows, theta = table
    regions, _, sectors = flows.shape
    sol = _run(flows, np.ones((1, regions, regions, sectors)), theta, closure, numeraire)
    np.testing.assert_allclose(sol.trade[0], flows, rtol=1e-12)
    np.testing.assert_allclose(sol.price, 1.0, rtol=1e-12)
    np.testing.assert_allclose(sol.price_index, 1.0, rtol=1e-12)


@PROPERTY_SETTINGS
@given(st.data(), _tables(), st.sampled_from(CLOSURES), st.floats(1e-3, 1e3))
def test_property_homogeneity(
    data: st.DataObject, table: tuple, closure: str, scale: float
) -> None:
    """Scaling every baseline flow by c scales the new flows by c; prices do not move."""
    flows, theta = table
    regions, _, sectors = flows.shape
    cost = data.draw(_cost_shocks(regions, sectors))
    numeraire = data.draw(st.sampled_from([None, regions - 1]))
    sol = _run(flows, cost, theta, closure, numeraire)
    scaled = _run(scale * flows, cost, theta, closure, numeraire)
    np.testing.assert_allclose(scaled.price, sol.price, rtol=1e-9)
    np.testing.assert_allclose(scaled.price_index, sol.price_index, rtol=1e-9)
    np.testing.assert_allclose(scaled.trade, scale * sol.trade, rtol=1e-9)


@PROPERTY_SETTINGS
@given(st.data(), _tables(), st.sampled_from(CLOSURES), st.floats(0.5, 0.95))
def test_property_bilateral_liberalisation(
    data: st.DataObject, table: tuple, closure: str, factor: float
) -> None:
    """Cheaper trade between a and b: more a<->b trade in every sector, less home bias.

    The domestic share is that of total spending: with several sectors and different
    elasticities the general-equilibrium price changes can raise one sector's domestic
    share slightly (found by random search: +4e-5 in 3 of 40,000 cases), while the
    total never rose.
    """
    flows, theta = table
    regions, _, sectors = flows.shape
    a, b = data.draw(st.permutations(range(regions)))[:2]
    cost = np.ones((1, regions, regions, sectors))
    cost[0, a, b] = cost[0, b, a] = factor
    sol = _run(flows, cost, theta, closure)
    trade = sol.trade[0]
    assert np.all(trade[a, b] > flows[a, b])
    assert np.all(trade[b, a] > flows[b, a])
    for r in (a, b):
        assert trade[r, r].sum() / trade[:, r].sum() < flows[r, r].sum() / flows[:, r].sum()


@PROPERTY_SETTINGS
@given(st.data(), _tables(), st.sampled_from(CLOSURES))
def test_property_symmetric_economy(data: st.DataObject, table: tuple, closure: str) -> None:
    """An economy and shock invariant under a relabelling of regions give invariant results.

    The symmetric economy is built from a random one by summing it over the cyclic
    group of a random permutation g: X_sym = sum_k X[g^k][:, g^k], likewise for costs.
    """
    raw, theta = table
    regions, _, sectors = raw.shape
    perm = np.array(data.draw(st.permutations(range(regions))))
    raw_cost = data.draw(_cost_shocks(regions, sectors))
    flows = np.zeros_like(raw)
    cost = np.zeros_like(raw_cost)
    power = np.arange(regions)
    order = 0
    while True:
        flows += raw[power][:, power]
        cost += raw_cost[:, power][:, :, power]
        order += 1
        power = perm[power]
        if np.array_equal(power, np.arange(regions)):
            break
    cost /= order
    np.testing.assert_allclose(flows[perm][:, perm], flows, rtol=1e-14)
    sol = _run(flows, cost, theta, closure)
    np.testing.assert_allclose(sol.price[:, perm], sol.price, rtol=1e-10)
    np.testing.assert_allclose(sol.price_index[:, perm], sol.price_index, rtol=1e-10)
    np.testing.assert_allclose(sol.expenditure[:, perm], sol.expenditure, rtol=1e-10)
    np.testing.assert_allclose(sol.trade[:, perm][:, :, perm], sol.trade, rtol=1e-10)


def test_the_general_equilibrium_reproduces_the_canada_japan_experiment(
    ref: Reference, fitted: tuple
) -> None:
    """The same experiment through the engine's general equilibrium (one sector, no
    linkages, no tariffs, labour in full employment): the endowment special case, so the
    bilateral changes against gegravity are those of the tests above, to 1e-10."""
    from sim.kernels.equilibrium import (
        build_equilibrium_baseline,
        build_labour_markets,
        solve_equilibrium,
    )

    _, gravity_sol, _ = fitted
    regions = len(ref.names)
    cost = np.ones((1, regions, regions, 1))
    for origin, destination in (("CAN", "JPN"), ("JPN", "CAN")):
        cost[(0, *ref.pair(origin, destination), 0)] = np.exp(-PTA / THETA)  # t^-theta = e^PTA
    sol = solve_equilibrium(
        build_equilibrium_baseline(ref.fitted[:, :, None]),
        np.array([[THETA]]),
        build_labour_markets(1, np.ones(regions, bool), np.zeros(regions)),
        cost_change=cost,
        deficit_closure="ratio",
        numeraire=ref.index["DEU"],
    )
    assert sol.converged.all()
    np.testing.assert_allclose(sol.trade, gravity_sol.trade, rtol=1e-10)
    np.testing.assert_allclose(sol.cpi, gravity_sol.price_index, rtol=1e-10)
    change = 100.0 * (sol.trade[0, :, :, 0] / ref.fitted - 1.0)
    assert np.abs(change - ref.change).max() <= BILATERAL_TOL_PP
    assert change[ref.pair("CAN", "JPN")] == pytest.approx(62.29, abs=0.05)

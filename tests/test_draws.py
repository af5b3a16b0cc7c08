"""Tests for sim.kernels.draws: inverse-transform sampling and means."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.kernels.draws import FAMILIES, mean, quantile

U = np.array([1e-12, 1e-6, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1 - 1e-6])

CASES = [
    ("normal", {"mean": 3.0, "sd": 2.0}, stats.norm(loc=3.0, scale=2.0)),
    ("lognormal", {"median": 5.0, "sigma": 0.4}, stats.lognorm(s=0.4, scale=5.0)),
    ("uniform", {"low": -1.0, "high": 4.0}, stats.uniform(loc=-1.0, scale=5.0)),
    ("triangular", {"low": 1.0, "mode": 2.0, "high": 5.0}, stats.triang(c=0.25, loc=1, scale=4)),
    ("beta", {"a": 2.0, "b": 5.0}, stats.beta(2.0, 5.0)),
]


def test_families_listed() -> None:
    assert set(FAMILIES) == {case[0] for case in CASES}


@pytest.mark.parametrize(("family", "params", "dist"), CASES, ids=[c[0] for c in CASES])
def test_quantile_matches_scipy(family: str, params: dict, dist: stats.rv_frozen) -> None:
    values = quantile(family, params, U)
    np.testing.assert_allclose(values, dist.ppf(U), rtol=1e-12)
    assert values.dtype == np.float64
    assert np.all(np.diff(values) > 0)


def test_quantile_closed_forms() -> None:
    """Independent of scipy: closed-form inverse CDFs."""
    u = np.array([0.1, 0.5, 0.8])
    np.testing.assert_allclose(quantile("uniform", {"low": 2.0, "high": 6.0}, u), 2.0 + 4.0 * u)
    z = np.array([-1.2815515655446004, 0.0, 0.8416212335729143])  # standard normal quantiles
    np.testing.assert_allclose(quantile("normal", {"mean": 1.0, "sd": 3.0}, u), 1.0 + 3.0 * z)
    np.testing.assert_allclose(
        quantile("lognormal", {"median": 7.0, "sigma": 0.5}, u), 7.0 * np.exp(0.5 * z)
    )
    # triangular(0, 1, 2): F^-1(u) = sqrt(2u) for u <= 1/2, 2 - sqrt(2(1-u)) above
    tri = quantile("triangular", {"low": 0.0, "mode": 1.0, "high": 2.0}, u)
    np.testing.assert_allclose(tri, [math.sqrt(0.2), 1.0, 2.0 - math.sqrt(0.4)])
    # beta(1, 1) is the standard uniform; beta(2, 1) has F(x) = x^2
    np.testing.assert_allclose(quantile("beta", {"a": 1.0, "b": 1.0}, u), u)
    np.testing.assert_allclose(quantile("beta", {"a": 2.0, "b": 1.0}, u), np.sqrt(u))


def test_quantile_keeps_shape() -> None:
    u = np.random.default_rng(0).uniform(size=(3, 4, 2))
    assert quantile("normal", {"mean": 0.0, "sd": 1.0}, u).shape == (3, 4, 2)


def test_degenerate_triangular_and_uniform_are_point_masses() -> None:
    values = quantile("triangular", {"low": 2.0, "mode": 2.0, "high": 2.0}, U)
    np.testing.assert_array_equal(values, np.full(U.shape, 2.0))
    values = quantile("uniform", {"low": -3.0, "high": -3.0}, U.reshape(2, 5))
    np.testing.assert_array_equal(values, np.full((2, 5), -3.0))


def test_unknown_family() -> None:
    with pytest.raises(ValueError, match="unknown distribution family"):
        quantile("gamma", {"a": 1.0}, U)
    with pytest.raises(ValueError, match="unknown distribution family"):
        mean("gamma", {"a": 1.0})


def test_truncated_normal_matches_truncnorm() -> None:
    mu, sd, low, high = 1.0, 2.0, 0.0, 4.0
    values = quantile("normal", {"mean": mu, "sd": sd, "low": low, "high": high}, U)
    ref = stats.truncnorm((low - mu) / sd, (high - mu) / sd, loc=mu, scale=sd)
    np.testing.assert_allclose(values, ref.ppf(U), rtol=1e-9, atol=1e-14)
    assert np.all((values >= low) & (values <= high))


def test_one_sided_truncation() -> None:
    mu, sd = 1.0, 2.0
    lower = quantile("normal", {"mean": mu, "sd": sd, "low": 0.5}, U)
    ref = stats.truncnorm((0.5 - mu) / sd, np.inf, loc=mu, scale=sd)
    np.testing.assert_allclose(lower, ref.ppf(U), rtol=1e-9)
    assert lower.min() >= 0.5
    upper = quantile("normal", {"mean": mu, "sd": sd, "high": 0.5}, U)
    ref = stats.truncnorm(-np.inf, (0.5 - mu) / sd, loc=mu, scale=sd)
    np.testing.assert_allclose(upper, ref.ppf(U), rtol=1e-9)
    assert upper.max() <= 0.5


def test_truncated_lognormal_via_log_truncnorm() -> None:
    median, sigma, low, high = 5.0, 0.6, 3.0, 9.0
    values = quantile("lognormal", {"median": median, "sigma": sigma, "low": low, "high": high}, U)
    mu = math.log(median)
    ref = stats.truncnorm(
        (math.log(low) - mu) / sigma, (math.log(high) - mu) / sigma, loc=mu, scale=sigma
    )
    np.testing.assert_allclose(values, np.exp(ref.ppf(U)), rtol=1e-9)
    assert np.all((values >= low) & (values <= high))


def test_truncated_beta_cdf_is_rescaled_uniform() -> None:
    params = {"a": 2.0, "b": 3.0, "low": 0.2, "high": 0.6}
    values = quantile("beta", params, U)
    dist = stats.beta(2.0, 3.0)
    f_low, f_high = dist.cdf(0.2), dist.cdf(0.6)
    np.testing.assert_allclose((dist.cdf(values) - f_low) / (f_high - f_low), U, atol=1e-12)
    assert np.all((values >= 0.2) & (values <= 0.6))


def test_uniform_low_high_are_parameters_not_truncation() -> None:
    values = quantile("uniform", {"low": 10.0, "high": 20.0}, np.array([0.5]))
    assert values[0] == pytest.approx(15.0)


@settings(max_examples=50, deadline=None)
@given(
    mu=st.floats(-5, 5),
    sd=st.floats(0.1, 5),
    a=st.floats(-3, 3),
    width=st.floats(0.01, 6),
    u=st.floats(1e-9, 1 - 1e-9),
)
def test_property_truncation_stays_in_bounds(
    mu: float, sd: float, a: float, width: float, u: float
) -> None:
    low, high = mu + a * sd, mu + (a + width) * sd
    value = quantile("normal", {"mean": mu, "sd": sd, "low": low, "high": high}, np.array([u]))
    assert low <= value[0] <= high


# --- means -----------------------------------------------------------------------------------


def test_means_untruncated() -> None:
    assert mean("normal", {"mean": 3.0, "sd": 2.0}) == pytest.approx(3.0)
    assert mean("lognormal", {"median": 5.0, "sigma": 0.4}) == pytest.approx(
        5.0 * math.exp(0.4**2 / 2)
    )
    assert mean("uniform", {"low": -1.0, "high": 4.0}) == pytest.approx(1.5)
    assert mean("triangular", {"low": 1.0, "mode": 2.0, "high": 6.0}) == pytest.approx(3.0)
    assert mean("beta", {"a": 2.0, "b": 5.0}) == pytest.approx(2.0 / 7.0)


@pytest.mark.parametrize(("low", "high"), [(0.0, 4.0), (2.0, None), (None, -1.0), (-1.0, 1.0)])
def test_truncated_normal_mean(low: float | None, high: float | None) -> None:
    mu, sd = 1.0, 2.0
    params = {"mean": mu, "sd": sd}
    if low is not None:
        params["low"] = low
    if high is not None:
        params["high"] = high
    a = -np.inf if low is None else (low - mu) / sd
    b = np.inf if high is None else (high - mu) / sd
    expected = stats.truncnorm(a, b, loc=mu, scale=sd).mean()
    assert mean("normal", params) == pytest.approx(expected, rel=1e-7)
    if low is not None and high is not None and low + high == 2 * mu:
        assert mean("normal", params) == pytest.approx(mu, abs=1e-9)  # symmetric window


def test_truncated_lognormal_mean_closed_form() -> None:
    """E[X | X > c] for lognormal = exp(mu + s^2/2) Phi(mu + s^2 - ln c)/s) / Phi((mu - ln c)/s)."""
    median, s, c = 4.0, 0.5, 5.0
    mu = math.log(median)
    expected = (
        math.exp(mu + s**2 / 2)
        * stats.norm.cdf((mu + s**2 - math.log(c)) / s)
        / stats.norm.cdf((mu - math.log(c)) / s)
    )
    assert mean("lognormal", {"median": median, "sigma": s, "low": c}) == pytest.approx(
        expected, rel=1e-7
    )


@pytest.mark.parametrize(
    ("low", "high"), [(9.0, None), (9.0, 12.0), (None, -7.0), (-30.0, -8.0), (30.0, 31.0)]
)
def test_truncated_normal_mean_in_the_tails(low: float | None, high: float | None) -> None:
    """Windows deep in a tail, where Phi(b) - Phi(a) cancels unless taken from that tail."""
    mu, sd = 1.0, 2.0
    params = {"mean": mu, "sd": sd}
    params |= {"low": low} if low is not None else {}
    params |= {"high": high} if high is not None else {}
    a = -np.inf if low is None else (low - mu) / sd
    b = np.inf if high is None else (high - mu) / sd
    got = mean("normal", params)
    assert got == pytest.approx(stats.truncnorm(a, b, loc=mu, scale=sd).mean(), rel=1e-9)
    assert (low is None or got > low) and (high is None or got < high)


@pytest.mark.parametrize(("low", "high"), [(0.0, 3.0), (2.0, 9.0), (None, 1.5), (-5.0, None)])
def test_truncated_lognormal_mean_against_integration(
    low: float | None, high: float | None
) -> None:
    median, s = 2.5, 0.6
    params = {"median": median, "sigma": s}
    params |= {"low": low} if low is not None else {}
    params |= {"high": high} if high is not None else {}
    lo = 0.0 if low is None else max(low, 0.0)
    hi = np.inf if high is None else high
    expected = stats.lognorm(s=s, scale=median).expect(
        lambda x: x, lb=lo, ub=hi, conditional=True, epsabs=1e-13, epsrel=1e-12
    )
    assert mean("lognormal", params) == pytest.approx(expected, rel=1e-9)


def test_truncated_mean_of_a_window_without_mass_is_integrated() -> None:
    # 60 sd above the mean: no mass in double precision, so no closed form (it would
    # divide zero by zero); scipy's integration answers, and says it cannot.
    params = {"mean": 0.0, "sd": 1.0, "low": 60.0, "high": 61.0}
    with pytest.warns(RuntimeWarning, match="invalid value"):
        assert math.isnan(mean("normal", params))


def test_mean_agrees_with_quantile_average() -> None:
    """The mean is the average of the quantile function over a fine midpoint grid."""
    params = {"mean": 2.0, "sd": 1.5, "low": 1.0, "high": 6.0}
    grid = (np.arange(200_000) + 0.5) / 200_000
    assert quantile("normal", params, grid).mean() == pytest.approx(
        mean("normal", params), rel=1e-6
    )


# ------------------------------------- the closed forms are scipy.stats' values, bit for bit
_SCIPY_CASES = [
    ("normal", {"mean": 3.0, "sd": 0.7}),
    ("lognormal", {"median": 2.5, "sigma": 0.4}),
    ("uniform", {"low": -1.0, "high": 4.0}),
    ("triangular", {"low": 0.4, "mode": 0.6, "high": 0.9}),
    ("triangular", {"low": 0.0, "mode": 0.0, "high": 2.0}),
    ("triangular", {"low": 0.0, "mode": 2.0, "high": 2.0}),
    ("beta", {"a": 6.0, "b": 4.0}),
]


@pytest.mark.parametrize(("family", "params"), _SCIPY_CASES)
def test_quantiles_are_scipys_bit_for_bit(family: str, params: dict[str, float]) -> None:
    from sim.kernels.draws import _frozen

    u = np.clip(np.random.default_rng(1).random(5000), 1e-16, 1 - 1e-16)
    np.testing.assert_array_equal(quantile(family, params, u), _frozen(family, params).ppf(u))


@pytest.mark.parametrize(("family", "params"), _SCIPY_CASES)
def test_truncated_quantiles_are_scipys_bit_for_bit(family: str, params: dict[str, float]) -> None:
    """Truncation maps u through the CDF at the bounds: the same CDF as scipy's."""
    from sim.kernels.draws import _frozen

    dist = _frozen(family, params)
    low, high = (float(x) for x in dist.ppf([0.2, 0.9]))
    own = FAMILIES[family]
    u = np.clip(np.random.default_rng(2).random(2000), 1e-16, 1 - 1e-16)
    if "low" in own:  # uniform and triangular: bounds are their own parameters
        grid = np.linspace(params["low"] - 1, params["high"] + 1, 4001)
        from sim.kernels.draws import _cdf

        np.testing.assert_array_equal([_cdf(family, params, float(x)) for x in grid],
                                      dist.cdf(grid))  # fmt: skip
        return
    f_low, f_high = dist.cdf(low), dist.cdf(high)
    expected = np.clip(dist.ppf(f_low + u * (f_high - f_low)), low, high)
    got = quantile(family, {**params, "low": low, "high": high}, u)
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(FAMILIES)),
    st.floats(-50, 50),
    st.floats(0.01, 5),
    st.floats(0.0, 1.0),
)
def test_untruncated_mean_is_scipys_bit_for_bit(
    family: str, centre: float, spread: float, where: float
) -> None:
    """The closed form (without importing scipy.stats, Issue 15) is scipy's own."""
    from sim.kernels.draws import _frozen

    params = {
        "normal": {"mean": centre, "sd": spread},
        "lognormal": {"median": abs(centre) + 0.01, "sigma": spread},
        "uniform": {"low": centre, "high": centre + spread},
        "triangular": {"low": centre, "mode": centre + where * spread, "high": centre + spread},
        "beta": {"a": spread, "b": 0.1 + where * 5},
    }[family]
    assert mean(family, params) == float(_frozen(family, params).mean())

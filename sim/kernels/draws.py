r"""Turn uniform draws into draws from the scenario's distributions.

Inverse-transform sampling: a draw is :math:`F^{-1}(u)` for a uniform
:math:`u \in (0, 1)` supplied by the caller. Keeping the uniforms outside makes
every draw a pure function of (seed, replica, key) and lets common random
numbers be shared across sweep points.

Truncation to ``[low, high]`` maps :math:`u` onto
:math:`F(\text{low}) + u\,(F(\text{high}) - F(\text{low}))` before inverting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

FloatArray = NDArray[np.float64]

#: Distribution families and the parameters each one takes (besides low/high).
FAMILIES: dict[str, tuple[str, ...]] = {
    "normal": ("mean", "sd"),
    "lognormal": ("median", "sigma"),
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "beta": ("a", "b"),
}


def _frozen(family: str, params: Mapping[str, float]) -> Any:
    """A frozen scipy.stats distribution (for means and checks; drawing does without)."""
    # Imported here: scipy.stats takes 0.7-0.9 s to import, and drawing needs only the
    # special functions (Issue 15: start-up of every command that simulates).
    from scipy import stats

    if family == "normal":
        return stats.norm(loc=params["mean"], scale=params["sd"])
    if family == "lognormal":
        return stats.lognorm(s=params["sigma"], scale=params["median"])
    if family == "uniform":
        return stats.uniform(loc=params["low"], scale=params["high"] - params["low"])
    if family == "triangular":
        low, mode, high = params["low"], params["mode"], params["high"]
        width = high - low
        return stats.triang(c=(mode - low) / width if width > 0 else 0.5, loc=low, scale=width)
    if family == "beta":
        return stats.beta(params["a"], params["b"])
    raise ValueError(f"unknown distribution family {family!r}; allowed: {sorted(FAMILIES)}")


def _standard(family: str, params: Mapping[str, float]) -> tuple[float, float]:
    """(loc, scale) of the family's standard form, as scipy.stats writes it."""
    if family == "normal":
        return float(params["mean"]), float(params["sd"])
    if family == "lognormal":
        return 0.0, float(params["median"])
    if family in ("uniform", "triangular"):
        return float(params["low"]), float(params["high"]) - float(params["low"])
    return 0.0, 1.0  # beta


def _triangular_mode(params: Mapping[str, float]) -> float:
    width = params["high"] - params["low"]
    return (params["mode"] - params["low"]) / width if width > 0 else 0.5


def _ppf(family: str, params: Mapping[str, float], u: FloatArray) -> FloatArray:
    """Inverse CDF by the special functions scipy.stats uses, without building a frozen
    distribution (which costs about 1 ms a call); the same operations in the same order,
    so the values are scipy's bit for bit (tests/test_draws.py)."""
    loc, scale = _standard(family, params)
    if family == "normal":
        x = special.ndtri(u)
    elif family == "lognormal":
        x = np.exp(params["sigma"] * special.ndtri(u))
    elif family == "uniform":
        x = u
    elif family == "triangular":
        c = _triangular_mode(params)
        x = np.where(u < c, np.sqrt(c * u), 1.0 - np.sqrt((1.0 - c) * (1.0 - u)))
    elif family == "beta":
        # Boost's incomplete-beta inverse, which scipy.stats.beta.ppf also calls.
        x = special.betaincinv(params["a"], params["b"], u)
    else:
        raise ValueError(f"unknown distribution family {family!r}; allowed: {sorted(FAMILIES)}")
    out: FloatArray = np.asarray(x * scale + loc, dtype=np.float64)
    return out


def _cdf(family: str, params: Mapping[str, float], value: float) -> float:
    """The CDF at one point (for truncation), as scipy.stats computes it."""
    loc, scale = _standard(family, params)
    x = (value - loc) / scale
    if family == "normal":
        return float(special.ndtr(x))
    if family == "lognormal":
        return float(special.ndtr(np.log(x) / params["sigma"])) if x > 0 else 0.0
    if family == "uniform":
        return float(min(max(x, 0.0), 1.0))
    if family == "triangular":
        c = _triangular_mode(params)
        if x <= 0.0:
            return 0.0
        if x >= 1.0:
            return 1.0
        if c == 0.0:
            return float(2 * x - x * x)
        if x < c:
            return float(x * x / c)
        return float((x * x - 2 * x + c) / (c - 1) if c != 1.0 else x * x)
    if family == "beta":
        return float(special.betainc(params["a"], params["b"], x))
    raise ValueError(f"unknown distribution family {family!r}; allowed: {sorted(FAMILIES)}")


def quantile(family: str, params: Mapping[str, float], u: FloatArray) -> FloatArray:
    """Map uniforms ``u`` (any shape) through the inverse CDF of a distribution.

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES`.
    params : mapping
        The family's parameters; ``low``/``high`` (where not the family's own
        parameters) truncate the distribution.
    u : array, any shape
        Uniform draws in (0, 1).

    Returns
    -------
    array, same shape as ``u``
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown distribution family {family!r}; allowed: {sorted(FAMILIES)}")
    if family in ("uniform", "triangular") and params["high"] == params["low"]:
        return np.full(np.shape(u), float(params["low"]))  # a point mass
    own = FAMILIES[family]
    low = params.get("low") if "low" not in own else None
    high = params.get("high") if "high" not in own else None
    u = np.asarray(u, dtype=np.float64)
    if low is not None or high is not None:
        f_low = _cdf(family, params, low) if low is not None else 0.0
        f_high = _cdf(family, params, high) if high is not None else 1.0
        u = f_low + u * (f_high - f_low)
    values = _ppf(family, params, u)
    if low is not None or high is not None:
        values = np.clip(
            values, low if low is not None else -np.inf, high if high is not None else np.inf
        )
    return values


def _standard_mean(family: str, params: Mapping[str, float]) -> float:
    """The mean of the family's standard form, as scipy.stats' ``_stats`` computes it."""
    if family == "normal":
        return 0.0
    if family == "lognormal":
        return float(np.sqrt(np.exp(params["sigma"] * params["sigma"])))
    if family == "uniform":
        return 0.5
    if family == "triangular":
        return (_triangular_mode(params) + 1.0) / 3.0
    if family == "beta":
        return params["a"] * 1.0 / (params["a"] + params["b"])
    raise ValueError(f"unknown distribution family {family!r}; allowed: {sorted(FAMILIES)}")


def mean(family: str, params: Mapping[str, float]) -> float:
    """Expected value of a (possibly truncated) distribution.

    Untruncated, by the closed form scipy.stats uses (``mu * scale + loc``, bit for bit,
    tests/test_draws.py), without importing it; a truncated normal or lognormal in closed
    form too; a truncated beta by scipy's numerical expectation.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown distribution family {family!r}; allowed: {sorted(FAMILIES)}")
    own = FAMILIES[family]
    low = params.get("low") if "low" not in own else None
    high = params.get("high") if "high" not in own else None
    if low is None and high is None:
        loc, scale = _standard(family, params)
        return float(_standard_mean(family, params) * scale + loc)
    lo = low if low is not None else -np.inf
    hi = high if high is not None else np.inf
    if family in ("normal", "lognormal"):
        closed = _truncated_mean(family, params, lo, hi)
        if closed is not None:
            return closed
    dist = _frozen(family, params)
    return float(dist.expect(lambda x: x, lb=lo, ub=hi, conditional=True))


def _mass(alpha: float, beta: float) -> float:
    r"""``Phi(beta) - Phi(alpha)``, from the tail where it does not cancel."""
    if alpha > 0.0:
        return float(special.ndtr(-alpha) - special.ndtr(-beta))
    return float(special.ndtr(beta) - special.ndtr(alpha))


def _truncated_mean(family: str, params: Mapping[str, float], lo: float, hi: float) -> float | None:
    r"""The mean of a normal or lognormal truncated to ``[lo, hi]``, in closed form.

    .. math::

        E[X \mid lo < X < hi] = \mu + \sigma\,
            \frac{\varphi(\alpha) - \varphi(\beta)}{\Phi(\beta) - \Phi(\alpha)}
        \quad\text{(normal)},\qquad
        e^{\mu + \sigma^2/2}\,
            \frac{\Phi(\beta - \sigma) - \Phi(\alpha - \sigma)}{\Phi(\beta) - \Phi(\alpha)}
        \quad\text{(lognormal)},

    with :math:`\alpha, \beta` the standardised bounds (of :math:`\ln X` for the
    lognormal; Johnson, Kotz and Balakrishnan 1994, *Continuous Univariate
    Distributions* 1, eqs. 13.134 and 14.8a). Exact where scipy's numerical expectation
    is good to about 1e-8, and without importing ``scipy.stats`` (0.4-0.9 s, Issue 15).
    None where the window holds no mass in double precision (the caller integrates).
    """
    if family == "normal":
        mu, sigma = float(params["mean"]), float(params["sd"])
        alpha, beta = (lo - mu) / sigma, (hi - mu) / sigma
        mass = _mass(alpha, beta)
        if not mass > 0.0:
            return None
        density = np.exp(-0.5 * alpha * alpha) - np.exp(-0.5 * beta * beta)
        return float(mu + sigma * density / np.sqrt(2.0 * np.pi) / mass)
    mu, sigma = float(np.log(params["median"])), float(params["sigma"])
    alpha = (np.log(lo) - mu) / sigma if lo > 0.0 else -np.inf
    beta = (np.log(hi) - mu) / sigma if hi < np.inf else np.inf
    mass = _mass(alpha, beta)
    shifted = _mass(alpha - sigma, beta - sigma)
    if not (mass > 0.0 and shifted > 0.0):
        return None
    return float(np.exp(mu + 0.5 * sigma * sigma) * shifted / mass)

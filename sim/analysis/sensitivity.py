"""Global sensitivity of a run's outputs to swept parameters: Sobol' indices and Morris effects.

The input is a sweep store written by ``sim sweep`` (dimensions ``point`` and
``replica`` in front of the run's own; one coordinate on ``point`` per swept
parameter, named by its key path; attributes ``sweep_design`` and
``sweep_parameters``). The model output at a point is the **mean over its
replicas** of the chosen quantity, so the indices describe how the parameters
move the expected outcome; the Monte Carlo spread within a point is not
attributed to any parameter.

- ``saltelli`` design (attribute ``saltelli_n`` = n): points ordered A (n
  rows), B (n rows), AB_0 ... AB_{d-1} (n rows each), AB_i being A with
  column i taken from B. First-order and total Sobol' indices use the
  Saltelli (2010) estimators of :func:`scipy.stats.sobol_indices`, with
  confidence intervals from :func:`scipy.stats.bootstrap` (BCa, resampling
  the n rows).
- ``morris`` design (attributes ``morris_trajectories`` r, ``morris_levels``):
  r trajectories of d+1 points, consecutive points differing in exactly one
  parameter. Elementary effects are changes of the output per change of the
  parameter across its whole swept range: steps in the design's unit cube
  (coordinate ``point_unit`` where the store has it, so a distribution is
  stepped in probability), else in values rescaled from the smallest to the
  largest in the store. mu* is the mean of their absolute values, sigma their
  standard deviation, with a bootstrap interval of mu* over trajectories.

Indices are computed for every year (or period) at once, so a result can be
read over time or at one date.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.stats
import xarray as xr

from sim.analysis.errors import AnalysisError
from sim.analysis.results import as_dataset, check_quantity, is_sweep, run_end, select
from sim.errors import quote

log = logging.getLogger(__name__)

FloatArray = np.ndarray


def _indices(f_a: FloatArray, f_b: FloatArray, f_ab: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Saltelli (2010) first-order and total indices, as in :func:`scipy.stats.sobol_indices`.

    ``f_a``, ``f_b`` have shape (..., s, n) and ``f_ab`` (..., d, s, n) with the
    same leading batch shape; returns (..., s, d) arrays.
    """
    var = np.var(np.stack([f_a, f_b], axis=-1), axis=(-2, -1))  # (..., s)
    fa = f_a[..., None, :, :]
    first = np.mean(f_b[..., None, :, :] * (f_ab - fa), axis=-1)  # (..., d, s)
    total = 0.5 * np.mean((fa - f_ab) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s1 = np.swapaxes(first, -1, -2) / var[..., None]
        st = np.swapaxes(total, -1, -2) / var[..., None]
    return s1, st


def _fill_degenerate(boot: Any, confidence: float) -> tuple[FloatArray, FloatArray]:
    """Interval bounds; where BCa is undefined (e.g. an index that is 0 in every
    resample), the percentiles of the bootstrap distribution instead."""
    low = np.array(boot.confidence_interval.low, dtype=float)
    high = np.array(boot.confidence_interval.high, dtype=float)
    gap = ~(np.isfinite(low) & np.isfinite(high))
    if gap.any():
        dist = np.asarray(boot.bootstrap_distribution, dtype=float)
        alpha = 100 * (1 - confidence) / 2
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            low[gap] = np.nanpercentile(dist, alpha, axis=-1)[gap]
            high[gap] = np.nanpercentile(dist, 100 - alpha, axis=-1)[gap]
    return low, high


def _batch_last(values: FloatArray, lead: int, first: int = 1) -> FloatArray:
    """Move ``lead`` batch axes starting at axis ``first`` to the end (scipy's vectorized form)."""
    if lead == 0:
        return values
    return np.moveaxis(values, list(range(first, first + lead)), list(range(-lead, 0)))


def sobol_from_saltelli(
    y: FloatArray,
    n: int,
    d: int,
    *,
    confidence: float = 0.95,
    n_resamples: int = 999,
    seed: int = 0,
) -> dict[str, FloatArray]:
    """Sobol' indices and bootstrap intervals from outputs on a Saltelli design.

    Parameters
    ----------
    y
        Outputs of shape (n * (d + 2), s): rows A, B, AB_0, ..., AB_{d-1}; s outputs
        (e.g. years).
    n, d
        Base sample size and number of parameters.
    confidence, n_resamples
        Level and resamples of the BCa bootstrap intervals.
    seed
        Seed of the bootstrap resampling (the same inputs give the same intervals).

    Returns
    -------
    dict
        ``S1``, ``ST`` and their ``_low``/``_high`` bounds, each of shape (s, d); NaN
        where the output does not vary over the design.
    """
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if y.shape[0] != n * (d + 2):
        raise AnalysisError(
            f"a Saltelli design with n={n} and {d} parameters has {n * (d + 2)} points, "
            f"not {y.shape[0]}",
            hint="check the store's saltelli_n and sweep_parameters attributes",
        )
    f_a, f_b = y[:n].T, y[n : 2 * n].T  # (s, n)
    f_ab = y[2 * n :].reshape(d, n, -1).transpose(0, 2, 1)  # (d, s, n)
    s = y.shape[1]
    out = {
        k: np.full((s, d), np.nan) for k in ("S1", "ST", "S1_low", "S1_high", "ST_low", "ST_high")
    }
    both = np.concatenate([f_a, f_b], axis=1)
    spread = np.ptp(both, axis=1)
    scale = np.maximum(np.abs(both).max(axis=1), 1e-300)
    live = spread > 1e-12 * scale  # outputs that vary over the design
    if not live.any():
        return out
    f_a, f_b, f_ab = f_a[live], f_b[live], f_ab[:, live]
    mean = np.mean([f_a, f_b], axis=(0, -1))[:, None]  # scipy centres before estimating
    ca, cb, cab = f_a - mean, f_b - mean, f_ab - mean
    if n & (n - 1) == 0:
        res = scipy.stats.sobol_indices(func={"f_A": f_a, "f_B": f_b, "f_AB": f_ab}, n=n)
        s1 = np.asarray(res.first_order).reshape(-1, d)
        st = np.asarray(res.total_order).reshape(-1, d)
    else:  # scipy's function wants a power of 2 (for its sampler); the estimator does not
        s1, st = _indices(ca, cb, cab)
    out["S1"][live], out["ST"][live] = s1, st

    def statistic(idx: FloatArray, axis: int = -1) -> FloatArray:
        idx = np.asarray(idx, dtype=np.intp)  # (..., n) resampled row numbers
        a = np.moveaxis(ca[:, idx], 0, -2)  # (..., s, n)
        b = np.moveaxis(cb[:, idx], 0, -2)
        ab = np.moveaxis(cab[:, :, idx], (0, 1), (-3, -2))  # (..., d, s, n)
        first, total = _indices(a, b, ab)  # (..., s, d)
        stacked = np.stack([first, total], axis=0)  # (2, ..., s, d)
        return _batch_last(stacked, idx.ndim - 1)

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        boot = scipy.stats.bootstrap(
            (np.arange(n),),
            statistic,
            n_resamples=n_resamples,
            vectorized=True,
            batch=max(1, 2_000_000 // max(1, n * d * int(live.sum()))),
            confidence_level=confidence,
            method="BCa",
            rng=np.random.default_rng(seed),
        )
    low, high = _fill_degenerate(boot, confidence)
    out["S1_low"][live], out["S1_high"][live] = low[0], high[0]
    out["ST_low"][live], out["ST_high"][live] = low[1], high[1]
    return out


def morris_effects(
    x: FloatArray,
    y: FloatArray,
    r: int,
    *,
    unit: bool = False,
    confidence: float = 0.95,
    n_resamples: int = 999,
    seed: int = 0,
) -> dict[str, FloatArray]:
    """Morris elementary effects from outputs on r trajectories.

    Parameters
    ----------
    x
        Parameter values, shape (r * (d + 1), d), trajectory by trajectory.
    y
        Outputs, shape (r * (d + 1), s).
    r
        Number of trajectories.
    unit
        ``x`` are the design's unit-cube coordinates (effects per unit); else
        values, rescaled so that the smallest to the largest value is one unit.

    Returns
    -------
    dict
        ``mu``, ``mu_star``, ``sigma``, ``mu_star_low``, ``mu_star_high``, each (s, d):
        effects per change of the parameter by its whole swept range.

    Raises
    ------
    AnalysisError
        If the points are not r trajectories of one-at-a-time steps.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    d = x.shape[1]
    if x.shape[0] != r * (d + 1) or y.shape[0] != x.shape[0]:
        raise AnalysisError(
            f"{r} Morris trajectories of {d} parameters have {r * (d + 1)} points, "
            f"not {x.shape[0]}",
            hint="check the store's morris_trajectories and sweep_parameters attributes",
        )
    lo, span = (np.zeros(d), np.ones(d)) if unit else (x.min(axis=0), np.ptp(x, axis=0))
    if np.any(span <= 0):
        flat = int(np.argmax(span <= 0))
        raise AnalysisError(f"parameter {flat} takes a single value over the whole Morris design")
    xn = ((x - lo) / span).reshape(r, d + 1, d)
    yt = y.reshape(r, d + 1, -1)
    dx = np.diff(xn, axis=1)  # (r, d, d): step j, parameter i
    moved = np.abs(dx) > 1e-9
    if not np.all(moved.sum(axis=2) == 1):
        t, j = np.argwhere(moved.sum(axis=2) != 1)[0]
        raise AnalysisError(
            f"Morris trajectory {t}: points {j} and {j + 1} differ in "
            f"{int(moved[t, j].sum())} parameters, not exactly one",
            hint="the store's points must be ordered trajectory by trajectory (d+1 points each)",
        )
    which = np.argmax(moved, axis=2)  # (r, d): parameter changed at each step
    if not all(sorted(row) == list(range(d)) for row in which):
        raise AnalysisError("a Morris trajectory does not move every parameter exactly once")
    step = np.take_along_axis(dx, which[..., None], axis=2)[..., 0]  # (r, d)
    dy = np.diff(yt, axis=1)  # (r, d, s)
    ee = np.empty((r, d, y.shape[1]))
    rows = np.arange(r)[:, None]
    ee[rows, which] = dy / step[..., None]  # (r, parameter, s)
    out = {
        "mu": ee.mean(axis=0).T,
        "mu_star": np.abs(ee).mean(axis=0).T,
        "sigma": (ee.std(axis=0, ddof=1) if r > 1 else np.full(ee.shape[1:], np.nan)).T,
    }
    absee = np.abs(ee)

    def statistic(idx: FloatArray, axis: int = -1) -> FloatArray:
        idx = np.asarray(idx, dtype=np.intp)  # (..., r) resampled trajectories
        mean = absee[idx].mean(axis=-3)  # (..., d, s)
        return _batch_last(mean, idx.ndim - 1, first=0)

    low = np.full_like(out["mu_star"], np.nan)
    high = np.full_like(out["mu_star"], np.nan)
    if r > 1:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            boot = scipy.stats.bootstrap(
                (np.arange(r),),
                statistic,
                n_resamples=n_resamples,
                vectorized=True,
                confidence_level=confidence,
                method="percentile",
                rng=np.random.default_rng(seed),
            )
        low, high = (a.T for a in _fill_degenerate(boot, confidence))
    out["mu_star_low"], out["mu_star_high"] = low, high
    return out


#: Most bootstrap resamples accepted: the resampled statistics are held in memory at once.
MAX_RESAMPLES = 100_000


def check_bootstrap(confidence: Any, n_resamples: Any) -> None:
    """Refuse a confidence level or a number of resamples the bootstrap cannot use.

    Raises
    ------
    AnalysisError
        For a level outside (0, 1) (a percentage such as 95 is named as
        such) or a number of resamples that is not a whole number from 2 to
        :data:`MAX_RESAMPLES`.
    """
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, (int, float, np.floating))
        or not 0 < float(confidence) < 1
    ):
        percent = isinstance(confidence, (int, float)) and 1 < float(confidence) < 100
        raise AnalysisError(
            f"the confidence level {confidence!r} is not a probability",
            hint=f"write it as a fraction: --confidence {float(confidence) / 100:g}"
            if percent
            else "give a level such as --confidence 0.95",
            allowed="a number strictly between 0 and 1 (0.95 for 95 % intervals)",
        )
    if (
        isinstance(n_resamples, bool)
        or not isinstance(n_resamples, (int, np.integer))
        or not 2 <= int(n_resamples) <= MAX_RESAMPLES
    ):
        raise AnalysisError(
            f"cannot draw {n_resamples!r} bootstrap resamples",
            hint="give --resamples 999 (the default), or fewer for a quicker, rougher interval",
            allowed=f"a whole number from 2 to {MAX_RESAMPLES:,}",
        )


def parse_at(at: int | str, axis: str) -> int | str:
    """``--at`` read for a ``year`` axis (a year) or a ``time`` axis (a year or YYYY-MM-DD).

    Raises
    ------
    AnalysisError
        If it is neither.
    """
    text = str(at).strip()
    if axis == "year":
        if text.isascii() and text.isdigit() and len(text) == 4:
            return int(text)
        raise AnalysisError(
            f"--at {quote(text)} is not a year",
            hint="give a year of the sweep, e.g. --at 2030",
            allowed="a year written as four digits",
        )
    if text.isascii() and text.isdigit() and len(text) == 4:
        return text
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise AnalysisError(
        f"--at {quote(text)} is not a year or a date",
        hint="give a year (--at 2030) or a date of the sweep (--at 2030-06-30)",
        allowed="a year as four digits, or a date as YYYY-MM-DD",
    )


def _at(da: xr.DataArray, at: int | str | None) -> xr.DataArray:
    if at is None:
        return da
    if "year" in da.dims:
        year = int(parse_at(at, "year"))
        if year not in da["year"].values:
            raise AnalysisError(
                f"no year {year} in the sweep",
                hint=f"years: {int(da['year'].min())}-{int(da['year'].max())}",
            )
        return da.sel(year=[year])
    if "time" in da.dims:
        at = parse_at(at, "time")
        stamp = np.datetime64(str(at)) if len(str(at)) > 4 else np.datetime64(f"{at}-01-01")
        times = da["time"].values
        end = run_end(times)
        if not times[0] <= stamp < end:
            raise AnalysisError(
                f"--at {at} is outside the sweep's periods",
                hint=f"give a date from {str(times[0])[:10]} to {end - np.timedelta64(1, 'D')}",
            )
        return da.sel(time=[stamp], method="pad")
    raise AnalysisError(f"'{da.name}' has no year or time dimension to pick a date from")


def sensitivity(
    store: str | Path | xr.Dataset,
    output: str = "trade_turnover_annual",
    *,
    selection: Mapping[str, Any] | None = None,
    at: int | str | None = None,
    confidence: float = 0.95,
    n_resamples: int = 999,
    seed: int = 0,
) -> xr.Dataset:
    """Sobol' indices (Saltelli design) or Morris effects (Morris design) of one output.

    Parameters
    ----------
    store
        A sweep store (path or dataset) with a ``saltelli`` or ``morris`` design.
    output
        A variable of the store with a ``year`` or ``time`` dimension.
    selection
        Labels to select, e.g. ``{"pair": "UZ-KZ"}``; other dimensions but
        year/time are summed (all regions, all kinds, ...).
    at
        A year (or a date for per-period outputs) to compute the indices at;
        ``None`` computes them for every year or period (over time).
    confidence, n_resamples, seed
        Bootstrap intervals: level, resamples and seed.

    Returns
    -------
    xarray.Dataset
        Dimension ``parameter`` (key paths) and ``year`` or ``time``. Saltelli:
        ``S1``, ``ST`` with ``*_low``/``*_high``; Morris: ``mu_star`` (with
        bounds), ``mu``, ``sigma``. Attributes name the output, selection,
        design and sample sizes.

    Raises
    ------
    AnalysisError
        If the store is not a sweep, the design gives no indices, or the output
        or selection does not exist.
    """
    check_bootstrap(confidence, n_resamples)
    ds = as_dataset(store)
    if not is_sweep(ds):
        raise AnalysisError(
            "sensitivity needs a sweep store (dimension 'point'), not a single run",
            hint="run `sim sweep` with design saltelli or morris and pass its store",
        )
    design = str(ds.attrs.get("sweep_design", ""))
    try:
        params = [str(p) for p in json.loads(str(ds.attrs.get("sweep_parameters", "[]")))]
    except json.JSONDecodeError as exc:
        raise AnalysisError(f"the store's sweep_parameters attribute is not JSON: {exc}") from exc
    if design not in ("saltelli", "morris"):
        raise AnalysisError(
            f"the sweep's design is '{design or 'unknown'}': Sobol' indices need the saltelli "
            "design and elementary effects the morris design",
            hint="sweep again with design: saltelli (Sobol') or design: morris (screening)",
        )
    missing = [p for p in params if p not in ds.coords]
    if not params or missing:
        raise AnalysisError(
            f"the store lacks the coordinate of swept parameter '{(missing or ['?'])[0]}'",
            hint="the store needs one coordinate on 'point' per key path of sweep_parameters",
        )
    if output not in ds.data_vars:
        usable = sorted(
            str(v) for v in ds.data_vars if {"year", "time"} & set(map(str, ds[v].dims))
        )
        raise AnalysisError(
            f"the sweep has no output '{output}'", hint=f"use one of: {', '.join(usable)}"
        )
    check_quantity(ds[output])
    da = select(ds[output], dict(selection or {}))
    if "replica" in da.dims:
        da = da.mean("replica", skipna=False)  # a failed replica fails its point
    da = _at(da, at)
    axis = "year" if "year" in da.dims else "time"
    if axis not in da.dims:
        raise AnalysisError(f"'{output}' has no year or time dimension")
    da = da.transpose("point", axis)
    y = np.asarray(da.values, dtype=float)
    x = np.stack([np.asarray(ds[p].values, dtype=float) for p in params], axis=1)
    d = len(params)
    bad = ~np.isfinite(y).all(axis=1)
    attrs: dict[str, Any] = {
        "output": output,
        "selection": json.dumps({k: v for k, v in (selection or {}).items()}, default=str),
        "units": str(ds[output].attrs.get("units", "")),
        "design": design,
        "replicas_averaged": int(ds.sizes.get("replica", 1)),
        "confidence": confidence,
        "n_resamples": n_resamples,
        "note": "indices of the mean over replicas at each point",
    }
    if design == "saltelli":
        n = int(ds.attrs.get("saltelli_n", 0))
        if n <= 0:
            raise AnalysisError("the saltelli store lacks the attribute saltelli_n")
        _check_saltelli(x, n, d)
        if bad.any():  # drop whole rows j (A_j, B_j and every AB_ij) with a failed point
            rows = bad.reshape(d + 2, n).any(axis=0)
            log.warning("dropping %d of %d Saltelli rows with failed points", rows.sum(), n)
            keep = ~rows
            y = y.reshape(d + 2, n, -1)[:, keep].reshape(-1, y.shape[1])
            n = int(keep.sum())
            attrs["rows_dropped"] = int(rows.sum())
        if n < 2:
            raise AnalysisError("fewer than two complete Saltelli rows: no indices")
        res = sobol_from_saltelli(
            y, n, d, confidence=confidence, n_resamples=n_resamples, seed=seed
        )
        attrs["saltelli_n"] = n
        meta = {
            "S1": "first-order Sobol' index",
            "ST": "total Sobol' index",
        }
    else:
        r = int(ds.attrs.get("morris_trajectories", 0))
        if r <= 0:
            raise AnalysisError("the morris store lacks the attribute morris_trajectories")
        # The design's unit-cube coordinates, where the sweep stored them, give the exact
        # steps (distributions are stepped in probability); else the values are rescaled.
        unit = "point_unit" in ds and "sweep_parameter" in ds["point_unit"].dims
        if unit:
            cube = (
                ds["point_unit"].sel(sweep_parameter=params).transpose("point", "sweep_parameter")
            )
            x = np.asarray(cube.values, dtype=float)
        if bad.any():
            traj = bad.reshape(r, d + 1).any(axis=1)
            log.warning("dropping %d of %d Morris trajectories with failed points", traj.sum(), r)
            keep = np.repeat(~traj, d + 1)
            x, y, r = x[keep], y[keep], int((~traj).sum())
            attrs["trajectories_dropped"] = int(traj.sum())
        if r < 1:
            raise AnalysisError("no complete Morris trajectory: no effects")
        res = morris_effects(
            x, y, r, unit=unit, confidence=confidence, n_resamples=n_resamples, seed=seed
        )
        attrs["effect_per"] = (
            "a change of the parameter across its whole swept range (unit cube of the design)"
            if unit
            else "a change of the parameter from its smallest to its largest swept value"
        )
        attrs["morris_trajectories"] = r
        attrs["morris_levels"] = int(ds.attrs.get("morris_levels", 0))
        meta = {
            "mu_star": "Morris mu*: mean absolute elementary effect per swept range",
            "mu": "Morris mu: mean elementary effect per swept range",
            "sigma": "Morris sigma: standard deviation of the elementary effects",
        }
    coords = {"parameter": params, axis: da[axis].values}
    out = xr.Dataset(coords=coords, attrs=attrs)
    for name, values in res.items():
        base = name.removesuffix("_low").removesuffix("_high")
        long = meta.get(base, base)
        if name.endswith("_low"):
            long = f"{long}: lower bound of the {confidence:.0%} bootstrap interval"
        elif name.endswith("_high"):
            long = f"{long}: upper bound of the {confidence:.0%} bootstrap interval"
        units = "1" if design == "saltelli" else attrs["units"]
        out[name] = xr.DataArray(
            np.asarray(values).T,
            dims=("parameter", axis),
            attrs={"units": units, "long_name": long},
        )
    if at is not None:
        # The period the date falls in, as the axis labels it (a year given for a per-period
        # output is its first period).
        out.attrs["at"] = str(da[axis].values[0])[:10]
        out = out.squeeze(axis, drop=True)
    return out


def _check_saltelli(x: FloatArray, n: int, d: int) -> None:
    if x.shape[0] != n * (d + 2):
        raise AnalysisError(
            f"a Saltelli design with n={n} and {d} parameters has {n * (d + 2)} points, "
            f"not {x.shape[0]}",
            hint="check the store's saltelli_n and sweep_parameters attributes",
        )
    a, b = x[:n], x[n : 2 * n]
    for i in range(d):
        ab = x[(2 + i) * n : (3 + i) * n]
        expect = a.copy()
        expect[:, i] = b[:, i]
        if not np.allclose(ab, expect, rtol=1e-9, atol=0.0, equal_nan=True):
            raise AnalysisError(
                f"the points of block AB_{i} are not A with column {i} from B",
                hint="the store's points must be ordered A, B, AB_0, ..., AB_{d-1}",
            )


__all__ = [
    "MAX_RESAMPLES",
    "check_bootstrap",
    "morris_effects",
    "parse_at",
    "sensitivity",
    "sobol_from_saltelli",
]

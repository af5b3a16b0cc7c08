"""Compare two runs as distributions of the change, replica by replica.

Two runs of the same scenario family with the same seed, replica numbers and
time axis draw the same random numbers for the same replica (common random
numbers), so replica *k* of the variant minus replica *k* of the base is the
change the variant makes in that one possible world. :func:`compare` reports
the quantiles of that paired change, not the difference of two medians, the
probability that the change is negative and, for user-named targets, the
probability of reaching each target in each run.

Runs that cannot be paired (different seeds, replica numbers or time axes)
are refused unless ``paired=False``: then the change is the difference of two
independent draws, one from each run (all combinations of replicas, or a fixed
random sample of ``max_pairs`` of them), and only the years both runs have are
compared.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from sim.analysis.errors import TARGET_SYNTAX, AnalysisError, PairingError, TargetError
from sim.analysis.results import (
    DEFAULT_QUANTILES,
    annual_mean,
    as_dataset,
    check_quantity,
    is_sweep,
    output_annual,
    reporting_pairs,
    run_end,
    scenario_data,
    select,
)

#: Label of sums in the decomposition table.
ALL = "all"

#: The quantities compared: name -> label used in tables.
QUANTITIES: dict[str, str] = {
    "trade_turnover_annual": "trade turnover",
    "capital_flow_annual": "capital flow",
    "output_annual": "gross output",
    "employment_annual": "net employment (persons employed in the equilibrium)",
    "jobs_annual": "jobs",
    "jobs_by_kind": "jobs by kind (all regions)",
    "jobs_total": "jobs of all kinds (all regions)",
}

_OPS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}
_TARGET = re.compile(
    r"^\s*(?P<var>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?::(?P<sel>[^:]*))?"
    r":\s*(?P<when>\d{4}(?:-\d{2}-\d{2})?)\s*"
    r"(?P<op>>=|<=|>|<)\s*(?P<value>[-+]?[0-9][0-9_]*(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*$"
)


@dataclass(frozen=True)
class Target:
    """A condition on one quantity of a run in one year or period.

    Parameters
    ----------
    text
        The target as the user wrote it (used as its label).
    variable
        A variable of the run with a ``year`` or ``time`` dimension, or ``output_annual``.
    selection
        Dimension -> labels selected (and summed); other dimensions are summed.
    when
        A year (``"2030"``) or a date (``"2030-07-01"``).
    op, value
        The comparison the quantity must satisfy.
    """

    text: str
    variable: str
    selection: tuple[tuple[str | None, tuple[str, ...]], ...]
    when: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Target:
        """Read a target written as ``VARIABLE[:SELECTION]:WHEN OP VALUE``.

        Raises
        ------
        TargetError
            If ``text`` does not follow the syntax.
        """
        m = _TARGET.match(text)
        if m is None:
            raise TargetError(f"cannot read the target '{text}'", hint=f"write {TARGET_SYNTAX}")
        selection: list[tuple[str | None, tuple[str, ...]]] = []
        for token in (m["sel"] or "").split(","):
            token = token.strip()
            if not token:
                continue
            dim, eq, labels = token.partition("=")
            if eq and not (dim.strip() and labels.strip()):
                raise TargetError(
                    f"cannot read '{token}' in the target '{text}'",
                    hint="write dim=label (e.g. kind=operation) or just a label (e.g. UZ-KZ)",
                )
            names = tuple(x.strip() for x in (labels if eq else dim).split("+") if x.strip())
            selection.append((dim.strip() if eq else None, names))
        return cls(
            text=text.strip(),
            variable=m["var"],
            selection=tuple(selection),
            when=m["when"],
            op=m["op"],
            value=float(m["value"].replace("_", "")),
        )

    def quantity(self, ds: xr.Dataset) -> xr.DataArray:
        """The targeted quantity in every replica of ``ds`` (dimension ``replica``)."""
        if self.variable == "output_annual" and "output" in ds:
            da = output_annual(ds)
            da.name = "output_annual"
        elif self.variable in ds.data_vars:
            da = ds[self.variable]
        else:
            usable = sorted(
                str(v) for v in ds.data_vars if {"year", "time"} & set(map(str, ds[v].dims))
            )
            raise TargetError(
                f"the target '{self.text}' names '{self.variable}', which this result lacks",
                hint=f"use one of: {', '.join([*usable, 'output_annual'])}",
            )
        check_quantity(da)
        chosen: dict[str, list[str]] = {}
        for dim, labels in self.selection:
            chosen.setdefault(dim or _dim_of(da, labels[0], self.text), []).extend(labels)
        da = select(da, chosen)
        return _at(da, self.when, self.text)

    def probability(self, ds: xr.Dataset) -> float:
        """Share of the replicas of ``ds`` that meet the target."""
        values = self.quantity(ds).values
        return float(np.mean(_OPS[self.op](values, self.value)))


def _dim_of(da: xr.DataArray, label: str, text: str) -> str:
    hits = []
    for dim in da.dims:
        if dim in ("replica", "point", "time", "year"):
            continue
        known = [str(v) for v in da[dim].values]
        a, sep, b = label.partition("-")
        if label in known or (dim == "pair" and sep and f"{b}-{a}" in known):
            hits.append(str(dim))
    if len(hits) == 1:
        return hits[0]
    dims = ", ".join(
        f"{d}={'|'.join(map(str, da[d].values))}"
        for d in da.dims
        if d not in ("replica", "point", "time", "year")
    )
    if not hits:
        raise TargetError(
            f"'{label}' in the target '{text}' is no label of '{da.name}'",
            hint=f"its labels are {dims}",
        )
    raise TargetError(
        f"'{label}' in the target '{text}' is a label of several dimensions ({', '.join(hits)})",
        hint=f"write dim={label}, e.g. {hits[0]}={label}",
    )


def _at(da: xr.DataArray, when: str, text: str) -> xr.DataArray:
    if "year" in da.dims:
        if len(when) != 4:
            raise TargetError(
                f"'{da.name}' is annual: the target '{text}' needs a year, not a date",
                hint="write the year, e.g. ...:2030>=10000",
            )
        year = int(when)
        if year not in da["year"].values:
            raise TargetError(
                f"the target '{text}' asks for {year}, outside the run's years "
                f"{int(da['year'].min())}-{int(da['year'].max())}",
                hint="pick a year of the run",
            )
        picked = da.sel(year=year, drop=True)
        if bool(np.isnan(picked.values).all()):
            raise TargetError(
                f"the target '{text}' asks for {year}, a year the run simulates in part: "
                f"'{da.name}' has no total for it",
                hint="pick a year the run simulates whole",
            )
        return picked
    if "time" in da.dims:
        if len(when) == 4:
            raise TargetError(
                f"'{da.name}' is per period: the target '{text}' needs a date (YYYY-MM-DD)",
                hint=f"write a date, or use the annual variable ({da.name}_annual) with a year",
            )
        try:
            stamp = np.datetime64(dt.date.fromisoformat(when))
        except ValueError:
            raise TargetError(
                f"'{when}' in the target '{text}' is not a date",
                hint="write a real date as YYYY-MM-DD, e.g. ...:2030-01-01>=10000",
            ) from None
        times = da["time"].values
        if stamp < times[0]:
            raise TargetError(f"the target '{text}' asks for a date before the run starts")
        if stamp >= (end := run_end(times)):
            raise TargetError(
                f"the target '{text}' asks for a date after the run ends "
                f"({end - np.timedelta64(1, 'D')})",
                hint="pick a date of the run",
            )
        return da.sel(time=stamp, method="pad", drop=True)
    raise TargetError(f"'{da.name}' has no year or time dimension", hint=TARGET_SYNTAX)


def pairing_problems(base: xr.Dataset, variant: xr.Dataset) -> list[str]:
    """Why replica k of ``base`` cannot be paired with replica k of ``variant`` (empty if it can)."""
    problems = []
    sb, sv = base.attrs.get("seed"), variant.attrs.get("seed")
    if sb is None or sv is None or int(sb) != int(sv):
        problems.append(f"different seeds (base {sb}, variant {sv})")
    nb, nv = base.sizes.get("replica", 0), variant.sizes.get("replica", 0)
    if nb != nv:
        problems.append(f"different numbers of replicas (base {nb}, variant {nv})")
    elif not np.array_equal(base["replica"].values, variant["replica"].values):
        problems.append("different replica numbers (the runs simulated different replicas)")
    for axis in ("time", "year"):
        if axis in base.coords and axis in variant.coords:
            tb, tv = base[axis].values, variant[axis].values
            if not np.array_equal(tb, tv):
                problems.append(f"different {axis} axes (base {_span(tb)}, variant {_span(tv)})")
                break
    pb, pv = base.attrs.get("period"), variant.attrs.get("period")
    if pb != pv and not any("time" in p for p in problems):
        problems.append(f"different period lengths (base {pb}, variant {pv})")
    return problems


def _span(values: np.ndarray) -> str:
    if len(values) == 0:
        return "empty"
    first, last = values[0], values[-1]
    if np.issubdtype(values.dtype, np.datetime64):
        first, last = str(first)[:10], str(last)[:10]
    return f"{first} to {last}, {len(values)} steps"


def _quantity(ds: xr.Dataset, name: str) -> xr.DataArray | None:
    if name == "output_annual":
        return output_annual(ds).sum("sector") if "output" in ds else None
    if name in ("jobs_by_kind", "jobs_total"):
        if "jobs_annual" not in ds:
            return None
        da = ds["jobs_annual"].sum("region")
        da = da.sum("kind") if name == "jobs_total" else da
        da.attrs = dict(ds["jobs_annual"].attrs)
        return da
    return ds[name] if name in ds.data_vars else None


def _check_labels(b: xr.DataArray, v: xr.DataArray, name: str) -> None:
    for dim in b.dims:
        if dim in ("replica", "year", "time"):
            continue
        lb, lv = [str(x) for x in b[dim].values], [str(x) for x in v[dim].values]
        if lb != lv:
            raise AnalysisError(
                f"the runs have different {dim}s in {name}: base {lb}, variant {lv}",
                hint="compare runs of scenarios with the same regions, sectors and pairs",
            )


def _check_units(b: xr.DataArray, v: xr.DataArray, name: str) -> None:
    """Refuse a change between runs that measure ``name`` in different units (another
    currency, money unit or price basis): their difference would mean nothing."""
    ub, uv = str(b.attrs.get("units", "")), str(v.attrs.get("units", ""))
    if ub != uv:
        raise AnalysisError(
            f"the runs measure {name} in different units: base {ub!r}, variant {uv!r}",
            allowed="runs whose variable has the same units",
            hint="compare runs in the same currency, money unit and price basis (rerun one "
            "with the other's metadata.currency, money_unit, price_basis and price_base_year)",
        )


def _draws(nb: int, nv: int, paired: bool, max_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    if paired:
        idx = np.arange(nb)
        return idx, idx
    if nb * nv <= max_pairs:
        ib, iv = np.meshgrid(np.arange(nb), np.arange(nv), indexing="ij")
        return ib.ravel(), iv.ravel()
    rng = np.random.default_rng(0)  # fixed: the same comparison gives the same numbers
    return rng.integers(0, nb, max_pairs), rng.integers(0, nv, max_pairs)


def change_draws(
    base: xr.DataArray,
    variant: xr.DataArray,
    *,
    paired: bool = True,
    max_pairs: int = 20000,
) -> xr.DataArray:
    """Variant minus base for each pair of replicas (dimension ``draw``).

    Paired: replica k minus replica k (the two must have the same replicas).
    Unpaired: independent pairs, all combinations or a fixed random sample of
    ``max_pairs``; only the years (or periods) both have are kept.
    """
    if paired:
        b, v = xr.align(base, variant, join="exact")
    else:
        b, v = xr.align(base, variant, join="inner", exclude=["replica"])
    ib, iv = _draws(b.sizes["replica"], v.sizes["replica"], paired, max_pairs)
    db = b.isel(replica=xr.DataArray(ib, dims="draw")).drop_vars("replica")
    dv = v.isel(replica=xr.DataArray(iv, dims="draw")).drop_vars("replica")
    out = (dv - db).transpose("draw", ...)
    out.attrs = {"units": base.attrs.get("units", ""), "long_name": f"change in {base.name}"}
    return out


def compare(
    base: str | Path | xr.Dataset,
    variant: str | Path | xr.Dataset,
    *,
    paired: bool = True,
    targets: Sequence[str | Target] = (),
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    max_pairs: int = 20000,
) -> xr.Dataset:
    """Compare two runs as the distribution of the change, replica by replica.

    Parameters
    ----------
    base, variant
        Runs (datasets or paths of ``.nc`` files written by ``sim run``).
    paired
        Pair replica k of one with replica k of the other (common random
        numbers). Runs with different seeds, replicas or time axes are refused
        unless this is false.
    targets
        Conditions such as ``"trade_turnover_annual:UZ-KZ:2030>=10000"`` (see
        :data:`TARGET_SYNTAX`); the result gives the probability of meeting
        each in each run.
    quantiles
        Quantiles of the change and of the levels to report.
    max_pairs
        Unpaired only: the most pairs of replicas used to form the change.

    Returns
    -------
    xarray.Dataset
        For each quantity ``Q`` of :data:`QUANTITIES` present in both runs
        (``trade_turnover_annual`` by pair, ``capital_flow_annual`` by origin
        and destination, ``output_annual`` by region, ``jobs_annual`` by region
        and kind, ``jobs_by_kind`` summed over regions, ``jobs_total`` over
        regions and kinds):

        - ``Q_change`` (quantile, year, ...): quantiles of the change;
        - ``Q_change_mean`` (year, ...): its mean (additive over regions, kinds);
        - ``Q_p_negative`` (year, ...): probability that the change is negative;
        - ``Q_level`` (run, quantile, year, ...): quantiles in each run.

        ``jobs_change_by_sector`` (year, region, sector, kind) is the mean
        change of jobs, whose parts add up to ``jobs_total_change_mean``; and
        ``target_probability`` (target, run) the share of replicas meeting
        each target. Attributes say whether the runs were paired, and name them.

    Raises
    ------
    PairingError
        If ``paired`` and the runs cannot be paired.
    TargetError
        If a target cannot be read or applied.

    Examples
    --------
    >>> cmp = compare("outputs/base.nc", "outputs/programme.nc",
    ...               targets=["trade_turnover_annual:UZ-KZ:2030>=10000"])  # doctest: +SKIP
    >>> cmp.trade_turnover_annual_change.sel(pair="UZ-KZ", year=2030, quantile=0.5)  # doctest: +SKIP
    """
    b_ds, v_ds = as_dataset(base), as_dataset(variant)
    for label, ds in (("base", b_ds), ("variant", v_ds)):
        if is_sweep(ds) or "replica" not in ds.dims:
            raise AnalysisError(
                f"the {label} is not a single run (it has dimensions {dict(ds.sizes)})",
                hint="compare two .nc files written by `sim run`; open a sweep store with "
                "sim.open_results and select a point first",
            )
    parsed = [t if isinstance(t, Target) else Target.parse(t) for t in targets]
    problems = pairing_problems(b_ds, v_ds)
    if paired and problems:
        raise PairingError(
            "the runs cannot be paired replica by replica: " + "; ".join(problems),
            hint="run both with the same --seed and --replicas over the same time span, "
            "or compare them unpaired (--unpaired, paired=False): the bands are then wider "
            "because they include the noise of independent draws",
        )
    q = [float(x) for x in quantiles]
    out = xr.Dataset()
    compared: list[str] = []
    n_draws = 0
    for name in QUANTITIES:
        b, v = _quantity(b_ds, name), _quantity(v_ds, name)
        if b is None or v is None:
            continue
        _check_labels(b, v, name)
        _check_units(b, v, name)
        d = change_draws(b, v, paired=paired, max_pairs=max_pairs)
        n_draws = d.sizes["draw"]
        if d.sizes.get("year", 1) == 0:
            raise PairingError("the runs have no year in common", hint="compare runs that overlap")
        units = str(b.attrs.get("units", ""))
        with warnings.catch_warnings():
            # A year a run simulates in part has no annual sums (NaN): its statistics are
            # NaN too, not a warning, and not a probability of 0.
            warnings.simplefilter("ignore", RuntimeWarning)
            out[f"{name}_change"] = d.quantile(q, dim="draw").assign_attrs(
                units=units, long_name=f"change in {QUANTITIES[name]}: quantiles over replicas"
            )
            out[f"{name}_change_mean"] = d.mean("draw").assign_attrs(
                units=units, long_name=f"change in {QUANTITIES[name]}: mean over replicas"
            )
            out[f"{name}_p_negative"] = (
                (d < 0)
                .where(d.notnull())
                .mean("draw")
                .assign_attrs(
                    units="1",
                    long_name=f"probability that the change in {QUANTITIES[name]} is negative",
                )
            )
            years = d["year"].values
            levels = [x.sel(year=years).quantile(q, dim="replica") for x in (b, v)]
        out[f"{name}_level"] = xr.concat(levels, dim=xr.DataArray(["base", "variant"], dims="run"))
        out[f"{name}_level"].attrs.update(
            units=units, long_name=f"{QUANTITIES[name]} in each run: quantiles over replicas"
        )
        compared.append(name)
    if not compared:
        raise AnalysisError(
            "the runs have none of the compared variables in common",
            hint=f"keep at least one of {', '.join(QUANTITIES)} in output.variables",
        )
    if "jobs" in b_ds and "jobs" in v_ds and "year" in out.coords:
        jb = annual_mean(b_ds["jobs"]).sel(year=out["year"].values).mean("replica")
        jv = annual_mean(v_ds["jobs"]).sel(year=out["year"].values).mean("replica")
        out["jobs_change_by_sector"] = (jv - jb).transpose("year", "region", "sector", "kind")
        out["jobs_change_by_sector"].attrs.update(
            units="persons",
            long_name="mean change in jobs by region, sector and kind (average over the year)",
        )
    if parsed:
        probs = [[t.probability(b_ds), t.probability(v_ds)] for t in parsed]
        out["target_probability"] = xr.DataArray(
            np.array(probs),
            dims=("target", "run"),
            coords={"target": [t.text for t in parsed], "run": ["base", "variant"]},
            attrs={"units": "1", "long_name": "share of replicas meeting the target"},
        )
    sc = scenario_data(v_ds)
    out.attrs.update(
        paired=int(paired),
        pairing_problems="; ".join(problems),
        draws=int(n_draws),
        base_name=str(b_ds.attrs.get("scenario_name", "base")),
        variant_name=str(v_ds.attrs.get("scenario_name", "variant")),
        base_seed=str(b_ds.attrs.get("seed")),
        variant_seed=str(v_ds.attrs.get("seed")),
        base_replicas=int(b_ds.sizes["replica"]),
        variant_replicas=int(v_ds.sizes["replica"]),
        money_unit=str(v_ds.attrs.get("money_unit", "")),
        report_pairs=json.dumps(reporting_pairs(v_ds) if "pair" in v_ds.coords else []),
        report_years=json.dumps((sc.get("output", {}) or {}).get("report_years") or []),
        description="variant minus base; "
        + ("replica k minus replica k (common random numbers)" if paired else "unpaired draws"),
    )
    return out


def paired_change(
    base: str | Path | xr.Dataset,
    variant: str | Path | xr.Dataset,
    variable: str = "trade_turnover_annual",
    *,
    paired: bool = True,
) -> xr.DataArray:
    """The change of one variable, replica by replica (dimension ``draw``), e.g. for a fan chart.

    Raises
    ------
    PairingError
        If ``paired`` and the runs cannot be paired.
    """
    b_ds, v_ds = as_dataset(base), as_dataset(variant)
    problems = pairing_problems(b_ds, v_ds)
    if paired and problems:
        raise PairingError(
            "the runs cannot be paired replica by replica: " + "; ".join(problems),
            hint="use runs with the same seed, replicas and time span, or compare them unpaired",
        )
    for ds in (b_ds, v_ds):
        if variable not in ds:
            raise AnalysisError(f"a run has no variable '{variable}'")
    return change_draws(b_ds[variable], v_ds[variable], paired=paired)


def jobs_decomposition(cmp: xr.Dataset, year: int) -> xr.DataArray:
    """Mean change in jobs in ``year`` by region, sector and kind; the cells add up to the total.

    Means are used because they add up (a median of a sum is not the sum of
    the medians); the total equals ``jobs_total_change_mean``.
    """
    if "jobs_change_by_sector" not in cmp:
        raise AnalysisError("the comparison has no jobs by sector (the runs lack 'jobs')")
    years = [int(y) for y in cmp["year"].values]
    if year not in years:
        raise AnalysisError(
            f"no year {year} in the comparison", hint=f"years: {years[0]}-{years[-1]}"
        )
    return cmp["jobs_change_by_sector"].sel(year=year, drop=True)


__all__ = [
    "ALL",
    "QUANTITIES",
    "TARGET_SYNTAX",
    "Target",
    "change_draws",
    "compare",
    "jobs_decomposition",
    "paired_change",
    "pairing_problems",
]

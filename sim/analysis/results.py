"""Open runs and sweep stores, and answer the common questions about them.

A *run* is the NetCDF file ``sim run`` writes (dimension ``replica`` in front);
a *sweep store* is the Zarr directory ``sim sweep`` writes (dimensions ``point``
and ``replica`` in front of the run's own). The helpers below work on both:
they select and sum, and leave every leading dimension (``point``,
``replica``) in place.

Examples
--------
>>> ds = open_results("outputs/uz_kz_khiva_2024.nc")  # doctest: +SKIP
>>> quantiles(turnover(ds, "KZ-UZ"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from sim.analysis.errors import AnalysisError

#: Quantiles reported by default: the 90 % band, the 50 % band and the median.
DEFAULT_QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)


def open_results(path: str | Path) -> xr.Dataset:
    """Open a run (NetCDF file) or a sweep store (Zarr directory).

    A run is read into memory and its file closed, so the file can be
    replaced while the dataset is in use; a sweep store is opened lazily
    (dask arrays) because it may be larger than memory.

    Parameters
    ----------
    path
        A ``.nc`` file written by ``sim run`` or a Zarr directory written by
        ``sim sweep``.

    Returns
    -------
    xarray.Dataset
        The run's dataset, or the sweep's with dimensions ``point`` and
        ``replica`` in front.

    Raises
    ------
    AnalysisError
        If the path does not exist or is neither a NetCDF file nor a Zarr store.
    """
    p = Path(path)
    if not p.exists():
        raise AnalysisError(
            f"no such result: {p}",
            hint="give the .nc file written by `sim run` or the store written by `sim sweep`",
        )
    if p.is_dir():
        try:
            return xr.open_zarr(p)
        except Exception as exc:  # zarr raises several unrelated types
            raise AnalysisError(
                f"{p} is a folder but not a readable Zarr store ({type(exc).__name__}: {exc})",
                hint="give the store written by `sim sweep`, or a .nc file written by `sim run`",
            ) from exc
    try:
        with xr.open_dataset(p, engine="h5netcdf") as ds:
            return ds.load()
    except Exception as exc:  # h5py/h5netcdf raise OSError, ValueError, ...
        raise AnalysisError(
            f"{p} is not a readable NetCDF result ({type(exc).__name__}: {exc})",
            hint="give the .nc file written by `sim run`",
        ) from exc


def as_dataset(source: str | Path | xr.Dataset) -> xr.Dataset:
    """Return ``source`` if it is a dataset, else open it with :func:`open_results`."""
    return source if isinstance(source, xr.Dataset) else open_results(source)


def is_sweep(ds: xr.Dataset) -> bool:
    """Whether ``ds`` is a sweep store (has a ``point`` dimension)."""
    return "point" in ds.dims


def check_single_result(ds: xr.Dataset, what: str) -> None:
    """Refuse anything but one result of `sim run` or `sim counterfactual` (a sweep store,
    a comparison, a sensitivity table or another program's NetCDF)."""
    problem = ""
    if is_sweep(ds):
        problem = f"{what} is a sweep store (it has dimension point), not a single run"
    elif ds.attrs.get("engine") != "sim" or "replica" not in ds.dims:
        names = [str(v) for v in ds.data_vars]
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        problem = (
            f"{what} is not a result of `sim run` or `sim counterfactual` "
            f"(variables: {shown or 'none'}; no replica dimension or sim provenance)"
        )
    if problem:
        raise AnalysisError(
            problem,
            allowed="a NetCDF file or Zarr store written by `sim run` or `sim counterfactual`",
            hint="give the run's file; for a sweep store select a point first "
            "(sim.open_results(...).isel(point=k)), or use `sim sensitivity`",
        )


def check_quantity(da: xr.DataArray) -> None:
    """Refuse a variable of codes (``flag_values``, such as a project's stage): its
    quantiles, sums and changes are not quantities."""
    if "flag_values" in da.attrs:
        meanings = str(da.attrs.get("flag_meanings", ""))
        raise AnalysisError(
            f"'{da.name}' holds codes ({meanings}), not a quantity: its quantiles, sums and "
            "changes mean nothing",
            allowed="a variable with units that measure something",
            hint="use the counts of projects in each stage (projects_by_stage)"
            if da.name == "project_stage"
            else "choose another variable",
        )


def scenario_data(ds: xr.Dataset) -> dict[str, Any]:
    """The resolved scenario embedded in a result (attribute ``scenario_yaml``), or ``{}``."""
    text = ds.attrs.get("scenario_yaml")
    if not text:
        return {}
    # A result is input like any other: the same hardened loader and limits as a file
    # (no code tags, no alias bombs, bounded nesting).
    from sim.errors import ScenarioError
    from sim.scenario.load import load_yaml_text

    try:
        data = load_yaml_text(str(text), _attribute(ds, "scenario_yaml")).data
    except ScenarioError as exc:
        raise _damaged(ds, "scenario_yaml", str(exc).splitlines()[0]) from None
    return data if isinstance(data, dict) else {}


def _attribute(ds: xr.Dataset, name: str) -> str:
    source = ds.encoding.get("source")
    return f"{source}, attribute {name}" if source else f"the result's attribute {name}"


def _damaged(ds: xr.Dataset, name: str, problem: str) -> AnalysisError:
    return AnalysisError(
        f"the result's {name} cannot be read: {problem}",
        allowed=(
            "a result written by `sim run` (scenario_yaml: the resolved scenario as plain YAML; "
            "data_files_sha256: a JSON object of path: sha256)"
        ),
        hint="the result was damaged or edited: run the scenario file again with `sim run`",
    )


def reporting_pairs(ds: xr.Dataset) -> list[str]:
    """Pairs to report: ``output.pairs`` of the scenario, else pairs without ``ROW``, else all."""
    labels = [str(p) for p in ds["pair"].values] if "pair" in ds.coords else []
    out = scenario_data(ds).get("output", {}) or {}
    wanted = []
    for pair in out.get("pairs", []) or []:
        label = _find_pair(labels, f"{pair[0]}-{pair[1]}")
        if label is not None:
            wanted.append(label)
    return wanted or [p for p in labels if "ROW" not in p.upper().split("-")] or labels


def _find_pair(labels: Sequence[str], pair: str) -> str | None:
    if pair in labels:
        return pair
    a, sep, b = pair.partition("-")
    flipped = f"{b}-{a}"
    return flipped if sep and flipped in labels else None


def pair_label(ds: xr.Dataset, pair: str | tuple[str, str]) -> str:
    """The run's label for a region pair, in either order (``"KZ-UZ"`` finds ``"UZ-KZ"``).

    Raises
    ------
    AnalysisError
        If the run has no such pair.
    """
    text = pair if isinstance(pair, str) else f"{pair[0]}-{pair[1]}"
    labels = [str(p) for p in ds["pair"].values]
    found = _find_pair(labels, text)
    if found is None:
        raise AnalysisError(
            f"no region pair '{text}' in this result",
            hint=f"use one of: {', '.join(labels)}",
        )
    return found


def _need(ds: xr.Dataset, name: str) -> xr.DataArray:
    if name not in ds.data_vars:
        raise AnalysisError(
            f"this result has no variable '{name}'",
            hint="run again without restricting output.variables, or pick another quantity",
        )
    return ds[name]


def turnover(ds: xr.Dataset, pair: str | tuple[str, str], *, annual: bool = True) -> xr.DataArray:
    """Trade turnover (exports plus imports) of a region pair.

    Parameters
    ----------
    ds
        A run or sweep store.
    pair
        ``"UZ-KZ"``, ``"KZ-UZ"`` or ``("UZ", "KZ")``: the order does not matter.
    annual
        Sums over the calendar year (``trade_turnover_annual``, dimension
        ``year``) if true, else per period (``trade_turnover``, ``time``).

    Returns
    -------
    xarray.DataArray
        Leading dimensions of ``ds`` (``replica``, and ``point`` for a sweep) and
        ``year`` or ``time``.
    """
    name = "trade_turnover_annual" if annual else "trade_turnover"
    return _need(ds, name).sel(pair=pair_label(ds, pair), drop=True)


def capital_flow(
    ds: xr.Dataset, origin: str, destination: str, *, annual: bool = True
) -> xr.DataArray:
    """Total capital flow from ``origin`` (investor) to ``destination`` (host)."""
    name = "capital_flow_annual" if annual else "capital_flow"
    da = _need(ds, name)
    for dim, label in (("origin", origin), ("destination", destination)):
        if label not in da[dim].values:
            raise AnalysisError(
                f"no region '{label}' in this result",
                hint=f"use one of: {', '.join(map(str, da[dim].values))}",
            )
    return da.sel(origin=origin, destination=destination, drop=True)


def _regions(da: xr.DataArray, region: str | Sequence[str] | None) -> xr.DataArray:
    if region is None:
        return da.sum("region")
    wanted = [region] if isinstance(region, str) else list(region)
    missing = [r for r in wanted if r not in da["region"].values]
    if missing:
        raise AnalysisError(
            f"no region '{missing[0]}' in this result",
            hint=f"use one of: {', '.join(map(str, da['region'].values))}",
        )
    return da.sel(region=wanted).sum("region")


def jobs_by_kind(
    ds: xr.Dataset, region: str | Sequence[str] | None = None, *, annual: bool = True
) -> xr.DataArray:
    """Jobs by kind (construction, operation, indirect, induced), summed over regions.

    Parameters
    ----------
    ds
        A run or sweep store.
    region
        A region id or a list of them; ``None`` sums all regions.
    annual
        Averages over the year (``jobs_annual``) if true, else per period.

    Returns
    -------
    xarray.DataArray
        Leading dimensions, ``year`` (or ``time``) and ``kind``; persons.
    """
    if annual:
        return _regions(_need(ds, "jobs_annual"), region)
    return _regions(_need(ds, "jobs").sum("sector"), region)


def jobs_by_sector(
    ds: xr.Dataset, region: str | Sequence[str] | None = None, *, annual: bool = True
) -> xr.DataArray:
    """Jobs of all kinds by sector, summed over regions (annual: the average over the year)."""
    da = _regions(_need(ds, "jobs").sum("kind"), region)
    return annual_mean(da) if annual else da


def run_end(times: np.ndarray) -> np.datetime64:
    """The first day after a run's last period, from its time axis (period starts, on
    the first of a month): the last start plus the axis' spacing (a quarter or a year; a
    year for a run of one period)."""
    months = times.astype("datetime64[M]")
    step = int((months[-1] - months[-2]).astype(int)) if months.size > 1 else 12
    return np.datetime64(months[-1] + np.timedelta64(step, "M"), "D")


def annual_sum(da: xr.DataArray) -> xr.DataArray:
    """Sum a per-period variable (dimension ``time``) over calendar years (dimension ``year``)."""
    out = da.groupby("time.year").sum("time")
    out.attrs = dict(da.attrs)
    return out


def annual_mean(da: xr.DataArray) -> xr.DataArray:
    """Average a per-period stock (dimension ``time``) over calendar years (dimension ``year``)."""
    out = da.groupby("time.year").mean("time")
    out.attrs = dict(da.attrs)
    return out


def output_annual(ds: xr.Dataset) -> xr.DataArray:
    """Gross output summed over the year, by region and sector (money per year)."""
    da = annual_sum(_need(ds, "output"))
    units = str(ds["output"].attrs.get("units", ""))
    for per in ("per quarter", "per month", "per year"):
        units = units.replace(per, "per year")
    da.attrs.update(units=units, long_name="gross output value (sum over the year)")
    return da


def quantiles(
    da: xr.DataArray, q: Sequence[float] = DEFAULT_QUANTILES, dim: str = "replica"
) -> xr.DataArray:
    """Quantiles of ``da`` over ``dim`` (default: the Monte Carlo replicas).

    Returns
    -------
    xarray.DataArray
        Dimension ``quantile`` in front, the others of ``da`` but ``dim``.
    """
    if dim not in da.dims:
        raise AnalysisError(f"'{da.name}' has no dimension '{dim}'", hint=f"dims: {da.dims}")
    out = da.quantile(list(q), dim=dim)
    out.attrs = dict(da.attrs)
    return out


def select(
    da: xr.DataArray, selection: Mapping[str, Any], *, keep: Sequence[str] = ()
) -> xr.DataArray:
    """Select labels (``{"pair": "UZ-KZ", "kind": ["operation"]}``) and sum the other dims.

    Dimensions named in ``keep`` (plus ``point``, ``replica``, ``time`` and
    ``year``) are left alone; every other dimension not in ``selection`` is
    summed over. A list of labels is selected then summed.
    """
    out = da
    for dim, label in selection.items():
        if dim not in out.dims:
            raise AnalysisError(
                f"'{da.name}' has no dimension '{dim}'",
                hint=f"its dimensions are {', '.join(map(str, da.dims))}",
            )
        labels = [label] if isinstance(label, str | int | np.integer) else list(label)
        known = [str(v) for v in out[dim].values]
        if dim == "pair":
            labels = [_find_pair(known, str(x)) or str(x) for x in labels]
        missing = [x for x in labels if str(x) not in known]
        if missing:
            raise AnalysisError(
                f"no {dim} '{missing[0]}' in '{da.name}'", hint=f"use one of: {', '.join(known)}"
            )
        out = out.sel({dim: labels}).sum(dim, skipna=False)
    fixed = {"point", "replica", "time", "year", *keep}
    rest = [d for d in out.dims if d not in fixed]
    return out.sum(rest, skipna=False) if rest else out


def recorded_hashes(ds: xr.Dataset) -> dict[str, str]:
    """The data files a result read and their sha256 (attribute ``data_files_sha256``)."""
    text = ds.attrs.get("data_files_sha256")
    if not text:
        return {}
    try:
        hashes = json.loads(str(text))
    except (ValueError, RecursionError) as exc:
        raise _damaged(ds, "data_files_sha256", f"not JSON ({exc})") from None
    if not isinstance(hashes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in hashes.items()
    ):
        raise _damaged(ds, "data_files_sha256", "not a JSON object of path: sha256")
    return hashes


def calibration_targets(ds: xr.Dataset, kind: str = "turnover") -> list[dict[str, Any]]:
    """Observed targets of one kind from the embedded scenario's ``calibration.targets``."""
    calib = scenario_data(ds).get("calibration", {}) or {}
    return [t for t in calib.get("targets", []) or [] if t.get("kind") == kind]


__all__ = [
    "DEFAULT_QUANTILES",
    "annual_mean",
    "annual_sum",
    "as_dataset",
    "calibration_targets",
    "capital_flow",
    "is_sweep",
    "jobs_by_kind",
    "jobs_by_sector",
    "open_results",
    "output_annual",
    "pair_label",
    "quantiles",
    "recorded_hashes",
    "reporting_pairs",
    "scenario_data",
    "select",
    "turnover",
]

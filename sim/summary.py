"""The printed summary of a run: medians and 5-95 % bands for chosen years."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

#: Width the printed summary fits (a terminal of 100 columns).
WIDTH = 100


def _quantiles(values: xr.DataArray, digits: int = 0) -> list[str]:
    """Median, 5 % and 95 % quantiles of ``values``, formatted with thousands separators.

    NaN values (a ratio in a year without its denominator) are left out; "n/a" if all are.
    """
    finite = values.values[np.isfinite(values.values)]
    if not finite.size:
        return ["n/a"] * 3
    # Rounded to the digits shown, plus 0.0: a value that rounds to zero prints as 0, not -0.
    q = np.round(np.quantile(finite, [0.5, 0.05, 0.95]), digits) + 0.0
    return [f"{v:,.{digits}f}" for v in q]


def _layout(rows: list[tuple[str, int, list[str]]], header: list[str]) -> list[str]:
    """Rows (label, year, cells) as lines of at most :data:`WIDTH` characters.

    Years are rows, so the width does not grow with the number of years; the
    number columns are as wide as their widest value (a million or a trillion
    fits); the label column is as wide as the longest label, as long as the line
    fits :data:`WIDTH` (a label longer than that room gets a line of its own).
    """
    number = max([12, *(len(c) + 2 for _, _, cells in rows for c in cells)])
    longest = max([len(header[0]), *(len(label) for label, _, _ in rows)]) + 2
    label_width = max(12, min(longest, WIDTH - 6 - 3 * number))
    lines = [
        f"{header[0]:<{label_width}}{header[1]:>6}" + "".join(f"{h:>{number}}" for h in header[2:])
    ]
    previous = None
    for label, year, cells in rows:
        shown = "" if label == previous else label
        if len(shown) >= label_width:
            lines.append(shown)
            shown = ""
        previous = label
        lines.append(f"{shown:<{label_width}}{year:>6}" + "".join(f"{c:>{number}}" for c in cells))
    return lines


def report_years(ds: xr.Dataset, wanted: list[int] | None = None) -> list[int]:
    """``wanted`` where the run has them; by default the first, a middle and the last year
    the run simulates whole (a year it covers in part has no annual sums)."""
    years = [int(y) for y in ds["year"].values]
    if wanted:
        return [y for y in wanted if y in years]
    if "year_coverage" in ds.coords:
        whole = [y for y, c in zip(years, ds["year_coverage"].values, strict=True) if c == 1.0]
        years = whole or years
    return sorted({years[0], years[len(years) // 2], years[-1]})


#: The annual variables the run's summary table shows.
TABLE_VARIABLES = (
    "trade_turnover_annual",
    "trade_turnover_annual_current",
    "capital_flow_annual",
    "capital_flow_annual_current",
    "employment_change_annual",
    "jobs_annual",
    "jobs_gross_to_direct",
)


def summary_table(ds: xr.Dataset, scenario_data: dict[str, Any] | None = None) -> str:
    """Median and 5-95 % band of annual trade turnover, capital flows and jobs."""
    out = scenario_data.get("output", {}) if scenario_data else {}
    years = report_years(ds, out.get("report_years"))
    pairs = (
        [f"{a}-{b}" for a, b in out.get("pairs", [])]
        or [str(p) for p in ds["pair"].values if "ROW" not in str(p).upper().split("-")]
        or [str(p) for p in ds["pair"].values]
    )
    money = ds.attrs.get("money_unit", "")
    lines = [
        f"Scenario {ds.attrs.get('scenario_name', '?')}: {ds.sizes['replica']} replicas, "
        f"seed {ds.attrs.get('seed')}; median and 5-95 % band",
        f"Money: {money}"
        + (
            f"; rows marked (current) in {ds.attrs['current_money_unit']}."
            if "current_money_unit" in ds.attrs
            else "."
        ),
        "Flows per year (sums over the year), jobs as annual averages.",
        "",
    ]
    rows: list[tuple[str, int, list[str]]] = []
    # One read of what the table shows: on a file just reopened (dask arrays) every cell
    # would otherwise be its own computation (1,310 of them for 435 pairs, Issue 15).
    shown = [name for name in TABLE_VARIABLES if name in ds]
    full = ds
    ds = ds[shown].sel(year=years).load() if shown else ds

    def row(label: str, values: xr.DataArray, digits: int = 0) -> None:
        rows.extend((label, y, _quantiles(values.sel(year=y), digits)) for y in years)

    if "trade_turnover_annual" in ds:
        for p in pairs:
            if p in ds["pair"].values:
                row(f"trade turnover {p}", ds.trade_turnover_annual.sel(pair=p))
                if "trade_turnover_annual_current" in ds:
                    row(
                        f"trade turnover {p} (current)",
                        ds.trade_turnover_annual_current.sel(pair=p),
                    )
    if "capital_flow_annual" in ds:
        for p in pairs:
            a, b = p.split("-", 1)
            for o, d in ((a, b), (b, a)):
                row(f"capital flow {o} -> {d}", ds.capital_flow_annual.sel(origin=o, destination=d))
                if "capital_flow_annual_current" in ds:
                    row(
                        f"capital flow {o} -> {d} (current)",
                        ds.capital_flow_annual_current.sel(origin=o, destination=d),
                    )
    if "employment_change_annual" in ds:
        # The net account (docs/model.md s.5): against the path with growth only.
        for r in dict.fromkeys(r for p in pairs for r in p.split("-", 1)):
            if r in ds["region"].values:
                row(
                    f"net employment change {r} (persons)",
                    ds.employment_change_annual.sel(region=r),
                )
    if "jobs_annual" in ds:
        for kind in ds["kind"].values:
            row(
                f"gross jobs supported, {kind} (persons)",
                ds.jobs_annual.sel(kind=kind).sum("region"),
            )
        row("gross jobs supported, all kinds (persons)", ds.jobs_annual.sum(("region", "kind")))
    if "jobs_gross_to_direct" in ds:
        for account, label in (("type1", "direct + indirect"), ("type2", "all kinds")):
            row(
                f"jobs per direct job, {label}",
                ds.jobs_gross_to_direct.sel(account=account),
                digits=2,
            )
    lines += _layout(rows, ["quantity", "year", "median", "5%", "95%"])
    if "jobs_gross_to_direct" in ds:
        # The ratio exists only in replicas with direct jobs that year (a project built):
        # its band is then over those replicas, which the reader must be told.
        ratio = ds.jobs_gross_to_direct.sel(account="type1")
        counted = np.isfinite(ratio).sum("replica").sel(year=years).values
        total = ds.sizes["replica"]
        fewer = [f"{y}: {int(n)} of {total}" for y, n in zip(years, counted, strict=True)
                 if n < total]  # fmt: skip
        if fewer:
            lines.append(
                "Jobs per direct job: over the replicas with direct jobs in the year only ("
                + "; ".join(fewer)
                + ")."
            )
    lines += multiplier_lines(full)
    return "\n".join(lines)


@dataclass
class MultiplierRow:
    """Medians over replicas of one region-sector hosting projects (docs/model.md s.5)."""

    cell: str  # "region:sector"
    sector_type1: float
    plants_type1: float
    sector_type2: float
    plants_type2: float
    productivity: float  # the projects' output per worker against the sector's
    flagged: bool  # above input_output.multiplier_warning


def multiplier_rows(ds: xr.Dataset) -> tuple[list[MultiplierRow], dict[str, float]]:
    """The implied employment multipliers of the region-sectors hosting projects.

    Medians over replicas: the sector's, at its own productivity, and its projects', at
    theirs; with the thresholds of ``input_output.multiplier_warning`` (empty if unknown).
    """
    names = ("employment_multiplier_type1", "plant_multiplier_type1",
             "employment_multiplier_type2", "plant_multiplier_type2")  # fmt: skip
    limits: dict[str, float] = json.loads(
        str(ds.attrs.get("employment_multiplier_thresholds", "{}"))
    )
    if not all(n in ds for n in names):
        return [], limits
    # Loaded once: a cell-by-cell read of a reopened file is one computation per cell.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells: no plants there
        medians = {n: ds[n].median("replica", skipna=True).load() for n in names}
    productivity = ds.plant_productivity.load() if "plant_productivity" in ds else None
    th1, th2 = limits.get("type1", np.inf), limits.get("type2", np.inf)
    rows = []
    for r in map(str, ds["region"].values):
        for s in map(str, ds["sector"].values):
            v1, p1, v2, p2 = (float(medians[n].sel(region=r, sector=s)) for n in names)
            if not np.isfinite(p1):
                continue  # no project here
            relative = float("nan")
            if productivity is not None and "project_host" in ds.coords:
                mine = np.flatnonzero(((ds.project_host == r) & (ds.project_sector == s)).values)
                if mine.size:
                    relative = float(productivity.isel(project=mine).median(skipna=True))
            rows.append(MultiplierRow(f"{r}:{s}", v1, p1, v2, p2, relative, p1 > th1 or p2 > th2))
    return rows, limits


def multiplier_lines(ds: xr.Dataset) -> list[str]:
    """:func:`multiplier_rows` as lines of the printed summary."""
    rows, limits = multiplier_rows(ds)
    if not rows:
        return []
    marked = (
        f"; * above input_output.multiplier_warning ({limits['type1']:g}, {limits['type2']:g})"
        if limits
        else ""
    )
    lines = [
        "",
        "Implied employment multipliers of the region-sectors hosting projects (median): the",
        "sector at its own productivity and its projects at theirs (productivity: their output",
        f"per worker against the sector's){marked}.",
        f"{'region:sector':<24}{'type I':>10}{'projects':>10}{'type II':>10}{'projects':>10}"
        f"{'productivity':>14}",
    ]
    for row in rows:
        label = row.cell + ("*" if row.flagged else "")
        lines.append(
            f"{label:<24}{row.sector_type1:>10.2f}{row.plants_type1:>10.2f}"
            f"{row.sector_type2:>10.2f}{row.plants_type2:>10.2f}{row.productivity:>14.2f}"
        )
    return lines


#: Rows of the welfare decomposition in the counterfactual summary: label, variables.
WELFARE_PARTS = (
    ("terms of trade", ("welfare_terms_of_trade_total",)),
    ("volume of trade", ("welfare_volume_of_trade_total",)),
    ("trade-cost efficiency", ("welfare_technical_efficiency_total",)),
    ("employment and deficit", ("welfare_employment", "welfare_deficit")),
    ("approximation residual", ("welfare_residual",)),
)


def counterfactual_table(ds: xr.Dataset) -> str:
    """The printed summary of a static counterfactual: medians and 5-95 % bands."""

    def cells(values: xr.DataArray, digits: int) -> list[str]:
        q = np.round(np.quantile(values.values, [0.5, 0.05, 0.95]), digits) + 0.0  # no "-0"
        return [f"{v:,.{digits}f}" for v in q]

    width = 14
    lines = [f"{'':<40}" + "".join(f"{h:>{width}}" for h in ("median", "5 %", "95 %"))]

    def add(label: str, row: list[str]) -> None:
        lines.append(f"{label:<40}" + "".join(f"{c:>{width}}" for c in row))

    for region in ds["region"].values:
        at = {"region": region}
        add(f"{region}: real income (%)", cells(ds.real_income_change.sel(at), 3))
        if "welfare_residual" in ds:  # its Caliendo-Parro parts (sim/kernels/welfare.py)
            for label, names in WELFARE_PARTS:
                part = sum((ds[n].sel(at) for n in names[1:]), ds[names[0]].sel(at))
                add(f"{region}:   {label} (pp)", cells(part, 3))
        if "employment_change" in ds:
            persons = ds.employment_change.sel(at).sum("sector")
            add(f"{region}: employment (persons)", cells(persons, 0))
        else:  # a trade-only scenario: no persons given
            add(f"{region}: employment (%)", cells(ds.employment_change_percent_total.sel(at), 3))
    for pair in ds["pair"].values:
        change = 100.0 * (
            ds.trade_turnover.sel(pair=pair) / ds.trade_turnover_baseline.sel(pair=pair) - 1
        )
        add(f"{pair}: turnover (%)", cells(change, 2))
    return "\n".join(lines)

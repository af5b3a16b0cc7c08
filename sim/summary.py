"""The printed summary of a run: medians and 5-95 % bands for chosen years."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr


def _band(values: xr.DataArray) -> str:
    q = np.quantile(values.values, [0.05, 0.5, 0.95])
    return f"{q[1]:>10,.0f}  [{q[0]:,.0f} - {q[2]:,.0f}]"


def report_years(ds: xr.Dataset, wanted: list[int] | None = None) -> list[int]:
    years = [int(y) for y in ds["year"].values]
    if wanted:
        return [y for y in wanted if y in years]
    return sorted({years[0], years[len(years) // 2], years[-1]})


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
        f"seed {ds.attrs.get('seed')}; median [5% - 95%]",
        f"Money: {money}; flows per year (sums over the year), jobs as annual averages.",
        "",
        f"{'quantity':<44}" + "".join(f"{y:>34}" for y in years),
    ]

    def row(label: str, values: xr.DataArray) -> None:
        lines.append(f"{label:<44}" + "".join(f"{_band(values.sel(year=y)):>34}" for y in years))

    if "trade_turnover_annual" in ds:
        for p in pairs:
            if p in ds["pair"].values:
                row(f"trade turnover {p}", ds.trade_turnover_annual.sel(pair=p))
    if "capital_flow_annual" in ds:
        for p in pairs:
            a, b = p.split("-", 1)
            row(f"capital flow {a} -> {b}", ds.capital_flow_annual.sel(origin=a, destination=b))
            row(f"capital flow {b} -> {a}", ds.capital_flow_annual.sel(origin=b, destination=a))
    if "jobs_annual" in ds:
        for kind in ds["kind"].values:
            row(f"jobs, {kind} (persons)", ds.jobs_annual.sel(kind=kind).sum("region"))
        row("jobs, all kinds (persons)", ds.jobs_annual.sum(("region", "kind")))
    return "\n".join(lines)

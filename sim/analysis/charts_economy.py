"""PNG charts of a run's economy: real income and welfare, GDP and value added, trade by
direction and sector, trade balances, jobs by region (net and gross) and capital flows by
origin and destination.

The same conventions as :mod:`sim.analysis.charts`: figures without pyplot, the
Okabe-Ito palette, the common year axis with the policies' dates, every axis with its
quantity and unit. Charts with one panel per region (or pair, or direction) share one
title, one unit label and one legend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.analysis.charts import (
    GREY,
    LIGHT_GREY,
    OKABE_ITO,
    colours,
    named_colours,
    save_figure,
    thousands_ticks,
)
from sim.analysis.charts_panels import (
    annual,
    band,
    fit,
    legend_below,
    panels,
    persons_axis,
    region_names,
    report_regions,
    stacked_bars,
    unit_label,
    year_axis,
    zero_line,
)
from sim.analysis.results import scenario_data

#: How the job kinds are named on the charts; the direct kinds come first.
KIND_LABELS = {
    "construction": "direct: construction",
    "operation": "direct: operation",
    "indirect": "indirect (suppliers)",
    "induced": "induced (household spending)",
}


def _fans_by_region(
    ds: xr.Dataset,
    da: xr.DataArray,
    regions: Sequence[str],
    title: str,
    label: tuple[str, str],
    *,
    zero: bool = False,
    sharey: bool = False,
) -> Figure:
    names = region_names(ds)
    fig, axes = panels(len(regions), sharey=sharey)
    for ax, region in zip(axes, regions, strict=True):
        band(ax, da.sel(region=region), OKABE_ITO["blue"])
        if zero:
            zero_line(ax)
        ax.set_title(names.get(region, region), loc="left")
        thousands_ticks(ax)
        year_axis(ax, ds)
    fig.suptitle(title)
    unit_label(fig, *label)
    legend_below(fig, axes)
    return fit(fig)


def real_income_figure(ds: xr.Dataset, regions: Sequence[str] = ()) -> Figure:
    """Fans (median, 5-95 %) of ``real_income_change`` by region: percent since the start."""
    da = ds["real_income_change"]
    units = str(da.attrs.get("units", "percent"))
    return _fans_by_region(
        ds,
        da,
        list(regions) or report_regions(ds),
        "Real income by region: change since the first period (growth included)",
        ("real income change", units),
        zero=True,
        sharey=True,
    )


def welfare_parts(ds: xr.Dataset) -> list[tuple[str, xr.DataArray]]:
    """The parts of the welfare decomposition the dataset holds (``welfare_*``), by region.

    Each part is summed over partners and sectors and, with a time axis, taken at its
    last date; empty when the dataset has none (a run has none; a static counterfactual
    has them, docs/outputs.md).
    """
    from sim.summary import WELFARE_PARTS

    out = []
    for label, names in WELFARE_PARTS:
        present = [ds[n] for n in names if n in ds]
        if present:
            part = present[0]
            for more in present[1:]:
                part = part + more
            out.append((label, _at_end(part)))
    return out


def _at_end(da: xr.DataArray) -> xr.DataArray:
    for dim in ("time", "year"):
        if dim in da.dims:
            da = da.isel({dim: -1})
    extra = [d for d in da.dims if d in ("partner", "sector", "destination")]
    return da.sum(extra) if extra else da


def welfare_figure(ds: xr.Dataset) -> Figure:
    """Grouped bars: the median of each part of the welfare decomposition by region, and
    the median real income change as a diamond."""
    parts = welfare_parts(ds)
    regions = [str(r) for r in parts[0][1]["region"].values]
    names = region_names(ds)
    fig, (ax,) = panels(1, row_height=3.6)
    x = np.arange(len(regions))
    width = 0.8 / len(parts)
    palette = colours(len(parts))
    for i, ((label, part), colour) in enumerate(zip(parts, palette, strict=True)):
        median = part.median("replica").sel(region=regions).values
        ax.bar(x - 0.4 + width * (i + 0.5), median, width=width, color=colour, label=label)
    if "real_income_change" in ds:
        total = _at_end(ds["real_income_change"]).median("replica").sel(region=regions)
        ax.plot(
            x, total.values, "D", color=OKABE_ITO["black"], markersize=7, label="real income change"
        )
    zero_line(ax)
    ax.set_xticks(x, [names.get(r, r) for r in regions])
    ax.set_xlabel("region")
    ax.set_ylabel("percent of baseline income")
    ax.set_title(
        "Welfare decomposition of real income change by region (medians over replicas)", loc="left"
    )
    legend_below(fig, [ax], ncols=3)
    return fit(fig)


def gdp_figure(ds: xr.Dataset, regions: Sequence[str] = ()) -> Figure:
    """Fans (median, 5-95 %) of annual GDP by region."""
    da = ds["gdp_annual"]
    return _fans_by_region(
        ds,
        da,
        list(regions) or report_regions(ds),
        "Gross domestic product by region (value added plus tariff revenue)",
        ("GDP", str(da.attrs.get("units") or "money per year")),
    )


def _sector_bars(
    ds: xr.Dataset,
    da: xr.DataArray,
    where: Sequence[tuple[dict[str, str], str]],
    grid: tuple[Figure, list[Axes]],
    title: str,
    quantity: str,
) -> Figure:
    """Stacked bars of ``da``'s replica mean by sector, one panel per (selection, title)."""
    mean = da.mean("replica")
    sectors = [str(s) for s in da["sector"].values]
    fig, axes = grid
    years = mean["year"].values
    for ax, (selection, name) in zip(axes, where, strict=True):
        at = mean.sel(selection)
        parts = [(s, at.sel(sector=s).values) for s in sectors]
        stacked_bars(ax, years, parts, named_colours(sectors))
        ax.set_title(name, loc="left")
        thousands_ticks(ax)
        year_axis(ax, ds)
    fig.suptitle(title)
    unit_label(fig, quantity, da.attrs["units"] or "money per year")
    legend_below(fig, axes)
    return fit(fig)


def value_added_figure(ds: xr.Dataset, regions: Sequence[str] = ()) -> Figure:
    """Stacked bars of the mean annual value added by sector, one panel per region."""
    regions = list(regions) or report_regions(ds)
    names = region_names(ds)
    return _sector_bars(
        ds,
        annual(ds["value_added"]),
        [({"region": r}, names.get(r, r)) for r in regions],
        panels(len(regions)),
        "Value added by region and sector (mean over replicas)",
        "value added",
    )


def bilateral_exports(ds: xr.Dataset) -> xr.DataArray:
    """Annual exports from ``origin`` to ``destination``, all sectors (sums over the year)."""
    return annual(ds["trade"].sum("sector", keep_attrs=True))


def trade_by_direction_figure(ds: xr.Dataset, pairs: Sequence[str]) -> Figure:
    """Fans of each region's annual exports to the other region of each pair."""
    exports = bilateral_exports(ds)
    names = region_names(ds)
    fig, axes = panels(len(pairs), ncols=min(len(pairs), 2))
    for ax, pair in zip(axes, pairs, strict=True):
        a, _, b = pair.partition("-")
        for (o, d), colour in zip(
            ((a, b), (b, a)), (OKABE_ITO["blue"], OKABE_ITO["orange"]), strict=True
        ):
            band(ax, exports.sel(origin=o, destination=d), colour, f"{o} → {d}")
        ax.set_title(f"{names.get(a, a)} and {names.get(b, b)}", loc="left")
        thousands_ticks(ax)
        ax.set_ylim(bottom=0)
        year_axis(ax, ds)
    fig.suptitle("Exports by direction, all sectors (origin → destination)")
    unit_label(fig, "exports", exports.attrs["units"] or "money per year")
    legend_below(fig, axes)
    return fit(fig)


def trade_by_sector_figure(ds: xr.Dataset, pairs: Sequence[str]) -> Figure:
    """Stacked bars of the mean annual exports by sector: a row per pair, a panel per direction."""
    directions = [
        (o, d)
        for p in pairs
        for o, d in (
            (p.partition("-")[0], p.partition("-")[2]),
            (p.partition("-")[2], p.partition("-")[0]),
        )
    ]
    return _sector_bars(
        ds,
        annual(ds["trade"]),
        [({"origin": o, "destination": d}, f"exports {o} → {d}") for o, d in directions],
        panels(2 * len(pairs), ncols=2, row_height=2.5),
        "Exports by direction and sector (mean over replicas)",
        "exports",
    )


def trade_balance(ds: xr.Dataset) -> xr.DataArray:
    """Each region's annual trade balance with all other regions: exports minus imports."""
    trade = ds["trade"].sum("sector")
    cross = trade["origin"] != trade["destination"]
    flows = trade.where(cross, 0.0)
    exports = flows.sum("destination").rename(origin="region")
    imports = flows.sum("origin").rename(destination="region")
    balance = exports - imports.sel(region=exports["region"].values)
    balance.attrs["units"] = str(ds["trade"].attrs.get("units", ""))
    return annual(balance)


def trade_balance_figure(ds: xr.Dataset, regions: Sequence[str] = ()) -> Figure:
    """Fans (median, 5-95 %) of each region's annual trade balance with all partners."""
    balance = trade_balance(ds)
    return _fans_by_region(
        ds,
        balance,
        list(regions) or report_regions(ds),
        "Trade balance by region with all partners (exports minus imports)",
        ("trade balance", balance.attrs["units"] or "money per year"),
        zero=True,
    )


def _kind_colours(kinds: Sequence[str]) -> dict[str, str]:
    return dict(zip(kinds, colours(len(kinds)), strict=True))  # as on the jobs-by-kind chart


DIRECT = ("construction", "operation")


def jobs_by_region_figure(ds: xr.Dataset, regions: Sequence[str] = ()) -> Figure:
    """A row per region: net employment change (fan), direct jobs by kind, and indirect and
    induced jobs (medians), each panel at its own scale so that direct jobs stay visible."""
    regions = list(regions) or report_regions(ds)
    kinds = [str(k) for k in ds["kind"].values] if "jobs_annual" in ds else []
    palette = _kind_colours(kinds)
    columns: list[tuple[str, list[str]]] = []
    if "employment_change_annual" in ds:
        columns.append(("net employment change", []))
    for what, wanted in (("direct jobs", True), ("indirect and induced", False)):
        chosen = [k for k in kinds if (k in DIRECT) == wanted]
        if chosen:
            columns.append((what, chosen))
    fig, axes = panels(len(columns) * len(regions), ncols=len(columns), row_height=2.5)
    for i, region in enumerate(regions):
        for j, (what, chosen) in enumerate(columns):
            ax = axes[i * len(columns) + j]
            if not chosen:
                band(ax, ds["employment_change_annual"].sel(region=region), GREY, "net change")
                zero_line(ax)
            else:
                at = ds["jobs_annual"].sel(region=region).median("replica")
                for k in chosen:
                    ax.plot(
                        at["year"].values,
                        at.sel(kind=k).values,
                        color=palette[k],
                        marker="o",
                        markersize=3,
                        linewidth=2.0,
                        label=f"gross: {KIND_LABELS.get(k, k)}, median",
                    )
                ax.set_ylim(bottom=0)
            ax.set_title(f"{region}: {what}", loc="left", fontsize="medium")
            ax.set_ylabel("persons")
            persons_axis(ax)
            year_axis(ax, ds)
    fig.suptitle(
        "Jobs by region: net change against the growth-only path, and gross jobs by kind\n"
        "(persons, averages over the year; medians, the net change with its 5-95 % band)"
    )
    legend_below(fig, axes, ncols=3)
    return fit(fig)


def peak_jobs_year(ds: xr.Dataset) -> int:
    """The report year with the most gross jobs supported (median over replicas, all regions)."""
    from sim.summary import report_years

    years = report_years(ds, (scenario_data(ds).get("output") or {}).get("report_years"))
    total = ds["jobs_annual"].sum(("region", "kind")).median("replica")
    return int(max(years, key=lambda y: (float(total.sel(year=y)), y)))


def jobs_in_year_figure(ds: xr.Dataset, year: int, regions: Sequence[str] = ()) -> Figure:
    """Grouped bars for one year by region: gross jobs by kind (direct first) and the net
    employment change; medians with 5-95 % whiskers, each bar labelled with its median."""
    regions = list(regions) or report_regions(ds)
    names = region_names(ds)
    kinds = [str(k) for k in ds["kind"].values]
    palette = _kind_colours(kinds)
    series = [(KIND_LABELS.get(k, k), ds["jobs_annual"].sel(kind=k), palette[k]) for k in kinds]
    if "employment_change_annual" in ds:
        series.append(("net employment change", ds["employment_change_annual"], LIGHT_GREY))
    fig, (ax,) = panels(1, row_height=3.8)
    x = np.arange(len(regions))
    width = 0.84 / len(series)
    for i, (label, da, colour) in enumerate(series):
        q = da.sel(year=year, region=regions).quantile([0.05, 0.5, 0.95], "replica").values
        at = x - 0.42 + width * (i + 0.5)
        ax.bar(
            at,
            q[1],
            width=width,
            color=colour,
            label=label,
            hatch="//" if colour == LIGHT_GREY else None,
            edgecolor=GREY,
            linewidth=0.4,
            yerr=np.abs(np.stack([q[1] - q[0], q[2] - q[1]])),
            error_kw={"ecolor": "#333333", "capsize": 2, "linewidth": 0.8},
        )
        for position, median, top, bottom in zip(at, q[1], q[2], q[0], strict=True):
            y, va = (top, "bottom") if median >= 0 else (bottom, "top")
            ax.annotate(
                f"{median:,.0f}",
                (position, y),
                xytext=(0, 2 if va == "bottom" else -2),
                textcoords="offset points",
                ha="center",
                va=va,
                rotation=90,
                fontsize="x-small",
            )
    zero_line(ax)
    ax.margins(y=0.18)
    ax.set_xticks(x, [names.get(r, r) for r in regions])
    ax.set_xlabel("region")
    ax.set_ylabel("persons (average over the year)")
    ax.set_title(
        f"Jobs in {year} by region: gross jobs supported by kind and net employment "
        "change\nbars: medians over replicas (numbers); whiskers: 5-95 %",
        loc="left",
    )
    thousands_ticks(ax)
    legend_below(fig, [ax], ncols=3)
    return fit(fig)


def capital_parts(ds: xr.Dataset) -> list[tuple[str, xr.DataArray]]:
    """The annual capital flows by origin and destination the run holds: listed projects
    and other investment, or only their total."""
    parts = []
    if "capital_flow_projects" in ds:
        parts.append(
            ("listed projects", annual(ds["capital_flow_projects"].sum("sector", keep_attrs=True)))
        )
    if "capital_flow_other" in ds:
        parts.append(("other investment", annual(ds["capital_flow_other"])))
    if not parts:
        for name in ("capital_flow_annual", "capital_flow"):
            if name in ds:
                parts.append(("all investment", annual(ds[name])))
                break
    return parts


def capital_directions(ds: xr.Dataset) -> list[tuple[str, str]]:
    """Cross-border directions (origin, destination) with a capital flow in some replica."""
    parts = capital_parts(ds)
    if not parts:
        return []
    total = abs(parts[0][1]).max(("replica", "year"))
    for _, part in parts[1:]:
        total = total + abs(part).max(("replica", "year"))
    return [
        (str(o), str(d))
        for o in total["origin"].values
        for d in total["destination"].values
        if o != d and float(total.sel(origin=o, destination=d)) > 0
    ]


def capital_by_direction_figure(ds: xr.Dataset) -> Figure:
    """Stacked bars of the mean annual capital flow, one panel per origin → destination."""
    parts = capital_parts(ds)
    directions = capital_directions(ds)
    names = region_names(ds)
    fig, axes = panels(len(directions), sharey=True)
    palette = [OKABE_ITO["blue"] if n == "listed projects" else LIGHT_GREY for n, _ in parts]
    for ax, (o, d) in zip(axes, directions, strict=True):
        means = [(n, p.sel(origin=o, destination=d).mean("replica")) for n, p in parts]
        years = means[0][1]["year"].values
        stacked_bars(ax, years, [(n, m.values) for n, m in means], palette)
        ax.set_title(f"{names.get(o, o)} → {names.get(d, d)}", loc="left", fontsize="medium")
        thousands_ticks(ax)
        year_axis(ax, ds)
    units = parts[0][1].attrs.get("units") or "money per year"
    fig.suptitle("Cross-border capital flows by origin and destination (mean over replicas)")
    unit_label(fig, "capital flow", units)
    legend_below(fig, axes)
    return fit(fig)


def economy_charts(ds: xr.Dataset, folder: str | Path, pairs: Sequence[str]) -> dict[str, Path]:
    """The economy charts of one run that its variables allow; name -> PNG path."""
    folder = Path(folder)
    regions = report_regions(ds, pairs)
    out: dict[str, Path] = {}

    def chart(key: str, file: str, fig: Figure) -> None:
        out[key] = save_figure(fig, folder / file)

    if "time" not in ds.dims:
        # A static counterfactual (sim counterfactual): no paths to draw, its real income
        # change is the decomposition's total.
        if welfare_parts(ds):
            chart("welfare_decomposition", "welfare_decomposition.png", welfare_figure(ds))
        return out
    if "real_income_change" in ds and regions:
        chart("real_income", "real_income_change_by_region.png", real_income_figure(ds, regions))
    if welfare_parts(ds):
        chart("welfare_decomposition", "welfare_decomposition.png", welfare_figure(ds))
    if "gdp_annual" in ds and regions:
        chart("gdp", "gdp_by_region.png", gdp_figure(ds, regions))
    if "value_added" in ds and regions:
        chart("value_added", "value_added_by_sector.png", value_added_figure(ds, regions))
    if "trade" in ds and pairs:
        chart("trade_by_direction", "trade_by_direction.png", trade_by_direction_figure(ds, pairs))
        chart("trade_by_sector", "trade_by_sector.png", trade_by_sector_figure(ds, pairs))
    if "trade" in ds and regions:
        chart("trade_balance", "trade_balance_by_region.png", trade_balance_figure(ds, regions))
    if ("jobs_annual" in ds or "employment_change_annual" in ds) and regions:
        chart("jobs_by_region", "jobs_net_gross_by_region.png", jobs_by_region_figure(ds, regions))
    if "jobs_annual" in ds and "year" in ds.coords and regions:
        year = peak_jobs_year(ds)
        chart("jobs_in_year", "jobs_by_region_in_year.png", jobs_in_year_figure(ds, year, regions))
    if capital_directions(ds):
        chart(
            "capital_by_direction",
            "capital_flows_by_direction.png",
            capital_by_direction_figure(ds),
        )
    return out


__all__ = [
    "KIND_LABELS",
    "bilateral_exports",
    "capital_by_direction_figure",
    "capital_directions",
    "capital_parts",
    "economy_charts",
    "gdp_figure",
    "jobs_by_region_figure",
    "jobs_in_year_figure",
    "peak_jobs_year",
    "real_income_figure",
    "region_names",
    "report_regions",
    "trade_balance",
    "trade_balance_figure",
    "trade_by_direction_figure",
    "trade_by_sector_figure",
    "value_added_figure",
    "welfare_figure",
    "welfare_parts",
]

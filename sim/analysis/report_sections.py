"""The report's economic sections: welfare and real income, value added and GDP, trade by
direction and sector with the trade balance, jobs by region (net and gross) and capital
flows by origin and destination.

Each builder takes the run, its charts (name -> PNG, :func:`sim.analysis.charts.run_charts`)
and the sentence about policy lines, and returns the section's HTML, or nothing when the
run has none of its charts. A chart is embedded with :func:`figure_html`, whose
``<figure>`` carries the chart's title, axis labels, series and legend as data
attributes (:mod:`sim.analysis.chart_labels`). Captions name only what is drawn.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path

import xarray as xr

from sim.analysis.chart_labels import figure_attributes, read_png_labels

_BAND = "Line: median over replicas; band: 90 % of replicas (5-95 %)."

CAPTIONS = {
    "real_income": "Real income by region (income from value added, tariff revenue and the "
    "trade deficit, deflated by the consumer price index): change since the first period, in "
    "percent. It includes growth, so it is not the effect of the scenario alone (compare with "
    "a run without it for that). " + _BAND,
    "gdp": "Gross domestic product by region (value added plus tariff revenue), sum over the "
    "year. " + _BAND,
    "value_added": "Value added by region and sector, sum over the year: stacked means over "
    "replicas.",
    "trade_by_direction": "Exports of each region of a reporting pair to the other, all "
    "sectors, sum over the year. Lines: medians over replicas; bands: 90 % of replicas "
    "(5-95 %).",
    "trade_by_sector": "Exports of each region of a reporting pair to the other by sector, sum "
    "over the year: stacked means over replicas.",
    "trade_balance": "Trade balance of each region with all other regions of the model "
    "(exports minus imports, all sectors), sum over the year. " + _BAND,
}


def figure_html(path: Path, alt: str, caption: str, key: str = "") -> str:
    """A chart embedded as a ``data:`` URI in a ``<figure>`` with its labels as attributes.

    Parameters
    ----------
    path
        The PNG written by :func:`sim.analysis.charts.save_figure` (its labels travel in it).
    alt, caption
        The image's alternative text and the caption (plain text, escaped here).
    key
        The chart's name, written as ``data-chart``.
    """
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    chart = f' data-chart="{html.escape(key)}"' if key else ""
    return (
        f"<figure{chart}{figure_attributes(read_png_labels(path))}>"
        f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _figure(pngs: Mapping[str, Path], key: str, alt: str, caption: str) -> list[str]:
    return [figure_html(pngs[key], alt, caption, key)] if key in pngs else []


def welfare_caption(ds: xr.Dataset) -> str:
    """The caption of the welfare decomposition: the diamond only where it is drawn."""
    text = (
        "Welfare decomposition of real income change by region: the median over replicas of "
        "each part, in percent of baseline income"
    )
    if "real_income_change" in ds:
        text += "; diamonds: the median real income change"
    return text + ". Medians of the parts do not add up to the median of the total."


def welfare_section(ds: xr.Dataset, pngs: Mapping[str, Path], marked: str = "") -> str:
    """Section "Welfare and real income": real income fans by region and, where the dataset
    holds its parts (``welfare_*``), the welfare decomposition."""
    parts = _figure(
        pngs, "real_income", "real income change by region", CAPTIONS["real_income"] + marked
    )
    parts += _figure(pngs, "welfare_decomposition", "welfare decomposition", welfare_caption(ds))
    return "\n".join(["<h2>Welfare and real income</h2>", *parts]) if parts else ""


def value_added_section(ds: xr.Dataset, pngs: Mapping[str, Path], marked: str = "") -> str:
    """Section "Value added and GDP": GDP fans by region, value added by region and sector."""
    parts = _figure(pngs, "gdp", "GDP by region", CAPTIONS["gdp"] + marked)
    parts += _figure(
        pngs, "value_added", "value added by region and sector", CAPTIONS["value_added"] + marked
    )
    if not parts:
        return ""
    money = html.escape(str(ds.attrs.get("money_unit", "")))
    note = (
        f"<p>Money: {money}, sums over the year. Value added is the wage bill (labour is the "
        "model's only factor); GDP adds the tariff revenue.</p>"
    )
    return "\n".join(["<h2>Value added and GDP</h2>", note, *parts])


def trade_subsections(ds: xr.Dataset, pngs: Mapping[str, Path], marked: str = "") -> str:
    """Subsections of "Trade": exports by direction and by sector, and the trade balance."""
    parts = _figure(
        pngs, "trade_by_direction", "exports by direction", CAPTIONS["trade_by_direction"] + marked
    )
    parts += _figure(
        pngs,
        "trade_by_sector",
        "exports by direction and sector",
        CAPTIONS["trade_by_sector"] + marked,
    )
    out = ["<h3>Trade by direction and sector</h3>", *parts] if parts else []
    balance = _figure(
        pngs, "trade_balance", "trade balance by region", CAPTIONS["trade_balance"] + marked
    )
    if balance:
        out += ["<h3>Trade balance</h3>", *balance]
    return "\n".join(out)


def jobs_by_region_caption(ds: xr.Dataset) -> str:
    """The caption of the net and gross jobs chart: the columns it draws."""
    columns = []
    if "employment_change_annual" in ds:
        columns.append(
            "net employment change against the path with growth only (all sectors, average "
            "over the year; median and 90 % band)"
        )
    if "jobs_annual" in ds:
        columns.append(
            "gross jobs supported by the cooperation by kind (medians over replicas; the "
            "direct kinds, construction and operation, thick with dots)"
        )
    text = "One row per region: " + ("; beside it, ".join(columns)) + "."
    if len(columns) == 2:
        text += (
            " Two accounts: gross counts the jobs that project spending and plant output "
            "support; net, the jobs the scenario's shocks add or remove under each region's "
            "labour closure, displacement included."
        )
    return text


def jobs_in_year_caption(ds: xr.Dataset, year: int) -> str:
    """The caption of the jobs-by-region bars for one year."""
    net = " and the net employment change (hatched)" if "employment_change_annual" in ds else ""
    return (
        f"Jobs in {year}, the report year with the most gross jobs supported, by region: gross "
        f"jobs supported by kind, direct kinds first{net}. Bars and numbers: medians over "
        "replicas; whiskers: 5-95 %; persons, averages over the year."
    )


def jobs_by_region_section(ds: xr.Dataset, pngs: Mapping[str, Path], marked: str = "") -> str:
    """Subsection of "Jobs": net and gross jobs by region, over time and in one year."""
    from sim.analysis.charts_economy import peak_jobs_year

    parts = _figure(
        pngs, "jobs_by_region", "net and gross jobs by region", jobs_by_region_caption(ds) + marked
    )
    if "jobs_in_year" in pngs:
        year = peak_jobs_year(ds)
        parts += _figure(
            pngs, "jobs_in_year", f"jobs by region in {year}", jobs_in_year_caption(ds, year)
        )
    return "\n".join(["<h3>Jobs by region: net and gross</h3>", *parts]) if parts else ""


def capital_by_direction_caption(ds: xr.Dataset) -> str:
    """The caption of the capital flows by direction: the parts it stacks."""
    from sim.analysis.charts_economy import capital_parts

    names = [name for name, _ in capital_parts(ds)]
    drawn = {
        "listed projects": "capex of listed projects",
        "other investment": "other investment (hatched)",
        "all investment": "all investment",
    }
    return (
        "Cross-border capital flows, one panel per direction (origin → destination) with a "
        f"flow, sum over the year: {' and '.join(drawn[n] for n in names)}; stacked means "
        "over replicas."
    )


def capital_by_direction_section(ds: xr.Dataset, pngs: Mapping[str, Path], marked: str = "") -> str:
    """Subsection of "Investment": capital flows by origin and destination."""
    parts = _figure(
        pngs,
        "capital_by_direction",
        "capital flows by origin and destination",
        capital_by_direction_caption(ds) + marked,
    )
    return "\n".join(["<h3>Capital flows by origin and destination</h3>", *parts]) if parts else ""


__all__ = [
    "CAPTIONS",
    "capital_by_direction_caption",
    "capital_by_direction_section",
    "figure_html",
    "jobs_by_region_caption",
    "jobs_by_region_section",
    "jobs_in_year_caption",
    "trade_subsections",
    "value_added_section",
    "welfare_caption",
    "welfare_section",
]

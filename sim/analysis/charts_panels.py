"""Layout helpers of the multi-panel charts (:mod:`sim.analysis.charts_economy`).

Small multiples, one panel per region, pair or direction, styled like the single charts of
:mod:`sim.analysis.charts`: one title, one unit label and one legend for the figure, the
common year axis with the policies' dates in every panel, and titles and labels wrapped
to fit.
"""

from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.analysis.charts import (
    DPI,
    GREY,
    LIGHT_GREY,
    OKABE_ITO,
    fit_text,
    format_year_axis,
    policy_list,
    time_values,
    wrap_to,
)
from sim.analysis.results import annual_sum, scenario_data

#: Width of the multi-panel charts, in inches (as wide as the single charts or wider).
WIDTH = 9.0


def annual_units(units: str) -> str:
    """The units of a per-period flow summed over the year (``per quarter`` -> ``per year``)."""
    for per in ("per quarter", "per month", "per period"):
        units = units.replace(per, "per year")
    return units


def annual(da: xr.DataArray) -> xr.DataArray:
    """A per-period flow summed over calendar years, in units per year; an annual one as it
    is (a copy: the run's own attributes are left alone)."""
    out = annual_sum(da) if "time" in da.dims else da.copy()
    out.attrs = dict(da.attrs, units=annual_units(str(da.attrs.get("units", ""))))
    return out


def report_regions(ds: xr.Dataset, pairs: Sequence[str] = ()) -> list[str]:
    """The regions of the reporting pairs in the run's order; every region without pairs."""
    regions = [str(r) for r in ds["region"].values] if "region" in ds.coords else []
    wanted = {r for p in pairs for r in (p.partition("-")[0], p.partition("-")[2])}
    return [r for r in regions if r in wanted] or regions


def region_names(ds: xr.Dataset) -> dict[str, str]:
    """Region id -> ``"id (name)"`` where the scenario names it, else the id."""
    out = {}
    for item in scenario_data(ds).get("regions") or []:
        if isinstance(item, dict) and item.get("name"):
            out[str(item.get("id"))] = f"{item.get('id')} ({item['name']})"
    return out


def panels(
    n: int, ncols: int | None = None, row_height: float = 2.9, sharey: bool = False
) -> tuple[Figure, list[Axes]]:
    """A figure of ``n`` panels, at most three a row, styled like the single charts."""
    ncols = max(1, min(n, 3) if ncols is None else ncols)
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(WIDTH, 1.3 + row_height * nrows), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.subplots(nrows, ncols, squeeze=False, sharey=sharey)
    axes = [ax for row in grid for ax in row]
    for ax in axes[n:]:
        fig.delaxes(ax)
    for ax in axes[:n]:
        ax.grid(True, axis="y", color="#E5E5E5", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, axes[:n]


def band(ax: Axes, draws: xr.DataArray, colour: str, label: str = "", dim: str = "replica") -> None:
    """Median line and 90 % band (5-95 %) of ``draws`` over ``dim``."""
    axis, x = time_values(draws)
    q = draws.quantile([0.05, 0.5, 0.95], dim=dim).transpose("quantile", axis).values
    prefix = f"{label}: " if label else ""
    ax.fill_between(x, q[0], q[2], color=colour, alpha=0.2, linewidth=0, label=f"{prefix}5-95 %")
    ax.plot(x, q[1], color=colour, linewidth=2.0, label=f"{prefix}median")


def legend_below(fig: Figure, axes: Sequence[Axes], ncols: int = 4) -> None:
    """One legend under the panels, each label once."""
    handles: dict[str, Artist] = {}
    for ax in axes:
        for handle, text in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(text, handle)
    if handles:
        fig.legend(
            list(handles.values()),
            list(handles.keys()),
            loc="outside lower center",
            frameon=False,
            fontsize="small",
            ncols=min(ncols, len(handles)),
        )


def _ends_before(text: Text, renderer: Any, right: float) -> bool:
    return bool(text.get_window_extent(renderer).x1 <= right)


def fit(fig: Figure) -> Figure:
    """Wrap each panel's title to the panel's width (beside another panel it would run into
    that one's title), then fit every text to the canvas (:func:`charts.fit_text`)."""
    if len(fig.axes) > 1:
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        fig.draw_without_rendering()
        for ax in fig.axes:
            right = ax.get_window_extent(renderer).x1 + 8.0
            title = ax._left_title  # type: ignore[attr-defined]
            wrap_to(title, functools.partial(_ends_before, renderer=renderer, right=right))
    return fit_text(fig)


def year_axis(ax: Axes, ds: xr.Dataset) -> None:
    """The common year axis with the policies' dates; fewer ticks in narrower panels."""
    format_year_axis(ax, policy_list(ds))
    spec = ax.get_subplotspec()
    ncols = spec.get_gridspec().ncols if spec is not None else 1
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins={1: 10, 2: 7}.get(ncols, 5)))


def unit_label(fig: Figure, quantity: str, units: str) -> None:
    """The y label shared by the panels: the quantity over its unit, wrapped to fit."""
    fig.supylabel(f"{quantity}\n{textwrap.fill(units, 48)}", fontsize="medium")


def zero_line(ax: Axes) -> None:
    """A thin black line at zero (changes and balances)."""
    ax.axhline(0.0, color=OKABE_ITO["black"], linewidth=0.8)


def stacked_bars(
    ax: Axes, years: np.ndarray, parts: Sequence[tuple[str, np.ndarray]], palette: Sequence[str]
) -> None:
    """Bars stacked upwards for positive parts and downwards for negative ones."""
    up, down = np.zeros(len(years)), np.zeros(len(years))
    for (name, values), colour in zip(parts, palette, strict=True):
        base = np.where(values >= 0, up, down)
        hatch = "//" if colour == LIGHT_GREY else None
        ax.bar(
            years,
            values,
            bottom=base,
            color=colour,
            label=name,
            width=0.8,
            hatch=hatch,
            edgecolor="white" if hatch is None else GREY,
            linewidth=0.3,
        )
        up, down = up + np.maximum(values, 0), down + np.minimum(values, 0)


def persons_axis(ax: Axes) -> None:
    """Whole persons on the y axis, spanning at least -1 to 1 (0 to 1 for counts), so that a
    net change of zero, a sum of rounding noise, is drawn flat; and no "-0"."""
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    low, high = ax.get_ylim()
    if high - low < 2.0:
        ax.set_ylim(0.0 if low >= 0 else min(low, -1.0), max(high, 1.0))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{round(v) + 0:,d}"))


__all__ = [
    "WIDTH",
    "annual",
    "annual_units",
    "band",
    "fit",
    "legend_below",
    "panels",
    "persons_axis",
    "region_names",
    "report_regions",
    "stacked_bars",
    "unit_label",
    "year_axis",
    "zero_line",
]

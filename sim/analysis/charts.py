"""PNG charts of runs, comparisons and sensitivity results (matplotlib, Agg canvas).

Figures are made with :class:`matplotlib.figure.Figure` and an Agg canvas, never
through pyplot, so drawing needs no display and leaves no global state. Colours
are the Okabe-Ito palette, which stays distinguishable for the common forms of
colour blindness; every axis says its quantity and unit.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.analysis.report_scenario import decimal_years, mark_policies, turnover_targets
from sim.analysis.results import annual_sum, pair_label, scenario_data

#: Okabe & Ito (2008), "Color universal design": safe for colour-blind readers.
OKABE_ITO: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
GREY = "#999999"
LIGHT_GREY = "#CCCCCC"
#: Order in which categories (sectors, kinds) take colours.
PALETTE: list[str] = [
    OKABE_ITO[k] for k in ("blue", "orange", "green", "vermillion", "sky", "purple", "yellow")
]
STAGE_COLOURS: dict[str, str] = {
    "planned": "#DDDDDD",
    "announced": OKABE_ITO["sky"],
    "financed": OKABE_ITO["blue"],
    "construction": OKABE_ITO["orange"],
    "operating": OKABE_ITO["green"],
    "abandoned": OKABE_ITO["vermillion"],
}
DPI = 120
SIZE = (8.0, 4.6)


def colours(n: int) -> list[str]:
    """``n`` colours from the palette (grey beyond seven)."""
    return [PALETTE[i] if i < len(PALETTE) else GREY for i in range(n)]


def named_colours(names: Sequence[str]) -> list[str]:
    """Palette colours for categories; one called ``other`` (the rest of the economy) is grey."""
    out, i = [], 0
    for name in names:
        if name.lower() in ("other", "others", "rest"):
            out.append(GREY)
        else:
            out.append(PALETTE[i] if i < len(PALETTE) else GREY)
            i += 1
    return out


def _figure(size: tuple[float, float] = SIZE) -> tuple[Figure, Axes]:
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True, axis="y", color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def thousands_ticks(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


#: Space kept free between a title or label and the canvas's edge, in pixels.
EDGE = 6.0


def wrap_to(text: Text, fits: Callable[[Text], bool]) -> None:
    """Rewrap ``text`` at word boundaries, narrower and narrower, until ``fits`` holds."""
    original = text.get_text()
    if not original or fits(text):
        return
    width = max(len(line) for line in original.splitlines())
    while width > 8 and not fits(text):
        width -= max(1, width // 10)
        paragraphs = original.split("\n")
        text.set_text("\n".join(textwrap.fill(part, width) for part in paragraphs))


def fit_text(fig: Figure) -> Figure:
    """Wrap each axes' titles and axis labels so that they lie inside the canvas.

    Constrained layout moves the axes to make room for titles and labels but never
    wraps them: a long title (a sweep output with its selection) ran past the right
    edge and a long unit past the top, and the saved PNG cut them off.
    """
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    fig.draw_without_rendering()  # lay the axes out, so that positions are final
    canvas = fig.bbox
    for ax in fig.axes:
        for loc in ("left", "center", "right"):
            title = ax.title if loc == "center" else getattr(ax, f"_{loc}_title")
            wrap_to(
                title,
                lambda t: (
                    t.get_window_extent(renderer).x1 <= canvas.x1 - EDGE
                    and t.get_window_extent(renderer).x0 >= canvas.x0 + EDGE
                ),
            )
        wrap_to(
            ax.xaxis.label,
            lambda t: t.get_window_extent(renderer).width <= canvas.width - 2 * EDGE,
        )
        wrap_to(
            ax.yaxis.label,
            lambda t: t.get_window_extent(renderer).height <= canvas.height - 2 * EDGE,
        )
    fig.draw_without_rendering()
    return fig


def save_figure(fig: Figure, path: str | Path, close: bool = True) -> Path:
    from sim.analysis.chart_labels import png_metadata
    from sim.results.guard import check_replaceable
    from sim.results.write import write_file

    target = Path(path)
    # A chart replaces a PNG, never another file, a folder or a device; it is written to a
    # temporary file and renamed, so a symlink there is replaced, not written through.
    check_replaceable(target, "file", format="PNG")
    target.parent.mkdir(parents=True, exist_ok=True)
    # bbox_inches="tight": whatever still reaches past the canvas widens the PNG, not cut;
    # the labels travel in the PNG, for the report page (sim.analysis.chart_labels).
    write_file(
        target,
        lambda tmp: fig.savefig(
            tmp, format="png", dpi=DPI, facecolor="white", bbox_inches="tight",
            pad_inches=0.1, metadata=png_metadata(fig),
        ),
    )  # fmt: skip
    if close:
        fig.clear()  # free the artists now, not when the figure is collected
    return target


def time_values(da: xr.DataArray) -> tuple[str, np.ndarray]:
    """The time dimension of ``da`` and its values as years (a period at its start's fraction)."""
    axis = "year" if "year" in da.dims else "time"
    return axis, decimal_years(da[axis].values)


def fan(
    ax: Axes,
    draws: xr.DataArray,
    *,
    dim: str = "replica",
    colour: str = OKABE_ITO["blue"],
    label: str = "median",
) -> None:
    """Draw a fan: median line, 50 % band (25-75 %) and 90 % band (5-95 %) over ``dim``."""
    axis, x = time_values(draws)
    q = draws.quantile([0.05, 0.25, 0.5, 0.75, 0.95], dim=dim).transpose("quantile", axis).values
    ax.fill_between(x, q[0], q[4], color=colour, alpha=0.18, linewidth=0, label="90 % band")
    ax.fill_between(x, q[1], q[3], color=colour, alpha=0.38, linewidth=0, label="50 % band")
    ax.plot(x, q[2], color=colour, linewidth=2.0, label=label)


def policy_list(ds: xr.Dataset) -> list[Mapping[str, Any]]:
    return [p for p in scenario_data(ds).get("policies") or [] if isinstance(p, Mapping)]


def format_year_axis(ax: Axes, policies: Sequence[Mapping[str, Any]] = ()) -> None:
    """The one x axis of every time chart: "year", ticks at whole years (per-period series
    are drawn at their start's fraction of the year); and the policies' dates on it."""
    mark_policies(ax, policies, "year")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=10))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}"))
    ax.set_xlabel("year")


def turnover_fan_figure(ds: xr.Dataset, pair: str) -> Figure:
    """Fan chart of the annual trade turnover of ``pair``, with observed targets as points."""
    label = pair_label(ds, pair)
    current, targets = turnover_targets(ds, pair)
    da = ds["trade_turnover_annual_current" if current else "trade_turnover_annual"].sel(pair=label)
    fig, ax = _figure()
    fan(ax, da, colour=OKABE_ITO["blue"], label="simulated median")
    first = True
    for t in targets:
        y = int(t["year"])
        if t.get("value") is not None:
            ax.plot(
                y,
                float(t["value"]),
                "o",
                color=OKABE_ITO["black"],
                markersize=7,
                zorder=5,
                label="observed" if first else None,
            )
            first = False
        for key, marker, text in (
            ("lower", "^", "observed: at least"),
            ("upper", "v", "observed: at most"),
        ):
            if t.get(key) is not None:
                handles = ax.get_legend_handles_labels()[1]
                ax.plot(
                    y,
                    float(t[key]),
                    marker,
                    color=OKABE_ITO["vermillion"],
                    markersize=8,
                    zorder=5,
                    label=None if text in handles else text,
                )
    ax.set_title(f"Trade turnover {label} (exports plus imports)", loc="left")
    ax.set_ylabel(str(da.attrs.get("units", "")))
    thousands_ticks(ax)
    ax.set_ylim(bottom=0)
    format_year_axis(ax, policy_list(ds))
    ax.legend(loc="upper left", frameon=False)
    return fig


def difference_fan_figure(
    draws: xr.DataArray,
    title: str,
    subtitle: str = "",
    policies: Sequence[Mapping[str, Any]] = (),
) -> Figure:
    """Fan chart of a paired change (dimension ``draw``) with the zero line, and a line at
    the date of each of ``policies`` (items of a scenario's ``policies``)."""
    fig, ax = _figure()
    fan(ax, draws, dim="draw", colour=OKABE_ITO["vermillion"], label="median change")
    ax.axhline(0.0, color=OKABE_ITO["black"], linewidth=0.9)
    ax.set_title(title + (f"\n{subtitle}" if subtitle else ""), loc="left")
    ax.set_ylabel(str(draws.attrs.get("units", "")))
    thousands_ticks(ax)
    format_year_axis(ax, policies)
    ax.legend(loc="upper left", frameon=False)
    return fig


def _stacked_area(
    ax: Axes, x: np.ndarray, series: Sequence[tuple[str, np.ndarray]], palette: Sequence[str]
) -> None:
    ax.stackplot(
        x,
        *[values for _, values in series],
        labels=[name for name, _ in series],
        colors=list(palette),
        alpha=0.9,
        linewidth=0.3,
        edgecolor="white",
    )


def jobs_by_kind_figure(ds: xr.Dataset) -> Figure:
    """Stacked mean jobs by kind (all regions) over time, with the 90 % band of the total."""
    jobs = ds["jobs"].sum(("region", "sector"))
    mean = jobs.mean("replica")
    kinds = [str(k) for k in jobs["kind"].values]
    _, x = time_values(jobs)
    fig, ax = _figure()
    _stacked_area(ax, x, [(k, mean.sel(kind=k).values) for k in kinds], colours(len(kinds)))
    total = jobs.sum("kind")
    q = total.quantile([0.05, 0.95], "replica").values
    ax.plot(x, q[0], "--", color=OKABE_ITO["black"], linewidth=1.0, label="total: 5 % and 95 %")
    ax.plot(x, q[1], "--", color=OKABE_ITO["black"], linewidth=1.0)
    ax.set_title("Jobs created by the cooperation, by kind (mean over replicas)", loc="left")
    ax.set_ylabel("persons employed (average over the period)")
    thousands_ticks(ax)
    format_year_axis(ax, policy_list(ds))
    ax.legend(loc="upper left", frameon=False, ncols=2)
    return fig


def jobs_by_sector_figure(ds: xr.Dataset) -> Figure:
    """Stacked mean jobs by sector (all regions and kinds) over time."""
    jobs = ds["jobs"].sum(("region", "kind")).mean("replica")
    sectors = [str(s) for s in jobs["sector"].values]
    _, x = time_values(jobs)
    fig, ax = _figure()
    _stacked_area(ax, x, [(s, jobs.sel(sector=s).values) for s in sectors], named_colours(sectors))
    ax.set_title("Jobs created by the cooperation, by sector (mean over replicas)", loc="left")
    ax.set_ylabel("persons employed (average over the period)")
    thousands_ticks(ax)
    format_year_axis(ax, policy_list(ds))
    ax.legend(loc="upper left", frameon=False, ncols=2)
    return fig


def capital_flows_figure(ds: xr.Dataset) -> Figure:
    """Stacked bars of the mean cross-border capital flow per year, by sector of the project."""
    cross = ds["origin"] != ds["destination"]
    parts: list[tuple[str, np.ndarray]] = []
    years: np.ndarray = np.array([])
    units = ""
    if "capital_flow_projects" in ds:
        projects = annual_sum(ds["capital_flow_projects"].where(cross, 0.0))
        by_sector = projects.sum(("origin", "destination")).mean("replica")
        years = by_sector["year"].values
        for s in by_sector["sector"].values:
            parts.append((f"projects: {s}", by_sector.sel(sector=s).values))
    if "capital_flow_other" in ds:
        other = annual_sum(ds["capital_flow_other"].where(cross, 0.0))
        other_mean = other.sum(("origin", "destination")).mean("replica")
        years = other_mean["year"].values
        parts.append(("other investment", other_mean.values))
    if "capital_flow_annual" in ds:
        units = str(ds["capital_flow_annual"].attrs.get("units", ""))
    fig, ax = _figure()
    bottom = np.zeros(len(years))
    names = [name.removeprefix("projects: ") for name, _ in parts]
    palette = named_colours(names)
    if names and names[-1] == "other investment":
        palette[-1] = LIGHT_GREY
    for (name, values), colour in zip(parts, palette, strict=True):
        ax.bar(years, values, bottom=bottom, color=colour, label=name, width=0.8)
        bottom = bottom + values
    ax.set_title("Cross-border capital flows by sector (mean over replicas)", loc="left")
    ax.set_ylabel(units or "money per year")
    thousands_ticks(ax)
    format_year_axis(ax, policy_list(ds))
    ax.legend(loc="upper left", frameon=False, ncols=2, fontsize="small")
    return fig


def pipeline_figure(ds: xr.Dataset) -> Figure:
    """Stacked mean number of projects in each stage over time."""
    stages = ds["projects_by_stage"].mean("replica")
    names = [str(s) for s in stages["stage"].values]
    _, x = time_values(stages)
    fig, ax = _figure()
    _stacked_area(
        ax,
        x,
        [(s, stages.sel(stage=s).values) for s in names],
        [STAGE_COLOURS.get(s, GREY) for s in names],
    )
    ax.set_title("Project pipeline by stage (mean over replicas)", loc="left")
    ax.set_ylabel("number of projects")
    format_year_axis(ax, policy_list(ds))
    ax.legend(loc="upper left", frameon=False, ncols=3)
    ax.set_ylim(0, float(stages.sum("stage").max()) * 1.25 or 1.0)
    return fig


def _short(name: str, width: int = 50) -> str:
    return name if len(name) <= width else "..." + name[-(width - 3) :]


def sobol_figure(res: xr.Dataset, title: str = "") -> Figure:
    """Horizontal bars of first-order and total Sobol' indices at one date, with intervals."""
    params = [str(p) for p in res["parameter"].values]
    y = np.arange(len(params))
    fig, ax = _figure((8.0, 1.2 + 0.55 * len(params)))
    ax.grid(True, axis="x", color="#E5E5E5")
    ax.grid(False, axis="y")
    for offset, name, colour, label in (
        (-0.2, "S1", OKABE_ITO["blue"], "first-order S1"),
        (0.2, "ST", OKABE_ITO["orange"], "total ST"),
    ):
        v = res[name].values
        err = np.abs(np.stack([v - res[f"{name}_low"].values, res[f"{name}_high"].values - v]))
        ax.barh(
            y + offset,
            v,
            height=0.38,
            color=colour,
            label=label,
            xerr=np.nan_to_num(err),
            error_kw={"ecolor": "#333333", "capsize": 3},
        )
    ax.set_yticks(y, [_short(p) for p in params])
    ax.set_ylabel("parameter")
    ax.invert_yaxis()
    ax.set_xlabel(
        f"share of the output's variance ({float(res.attrs['confidence']):.0%} intervals)"
    )
    low = float(np.nanmin(np.concatenate([res["S1_low"].values, [0.0]])))
    high = float(np.nanmax(np.concatenate([res["ST_high"].values, res["S1_high"].values, [1.0]])))
    ax.set_xlim(low - 0.05, high + 0.05)
    ax.axvline(0.0, color=OKABE_ITO["black"], linewidth=0.8)
    ax.set_title(title or "Sobol' indices", loc="left")
    fig.legend(loc="outside lower center", frameon=False, ncols=2)
    return fit_text(fig)


def sensitivity_time_figure(res: xr.Dataset, title: str = "") -> Figure:
    """Total Sobol' index (or Morris mu*) of each parameter over time, with intervals."""
    name = "ST" if "ST" in res else "mu_star"
    _, x = time_values(res[name])
    fig, ax = _figure()
    for p, colour in zip(res["parameter"].values, colours(res.sizes["parameter"]), strict=True):
        r = res.sel(parameter=p)
        ax.fill_between(
            x,
            r[f"{name}_low"].values,
            r[f"{name}_high"].values,
            color=colour,
            alpha=0.18,
            linewidth=0,
        )
        ax.plot(x, r[name].values, color=colour, linewidth=1.8, label=_short(str(p)))
    if name == "ST":
        ax.set_ylabel("total Sobol' index ST (share of variance)")
        ax.set_ylim(bottom=0)
    else:
        ax.set_ylabel(f"Morris mu* ({res.attrs.get('units', '')} per swept range)")
        thousands_ticks(ax)
    format_year_axis(ax)
    what = "total Sobol' index ST" if name == "ST" else "Morris mu*"
    level = f"{float(res.attrs['confidence']):.0%}"
    ax.set_title(
        (title or f"{what[0].upper()}{what[1:]} of each parameter over time")
        + f"\nbands: {level} bootstrap intervals",
        loc="left",
    )
    fig.legend(loc="outside lower center", frameon=False, fontsize="small", ncols=2)
    return fit_text(fig)


def morris_figure(res: xr.Dataset, title: str = "") -> Figure:
    """Morris screening plot at one date: mu* against sigma, one labelled point per parameter."""
    fig, ax = _figure()
    ax.grid(True, axis="x", color="#E5E5E5")
    units = str(res.attrs.get("units", ""))
    mu, sig = res["mu_star"].values, res["sigma"].values
    err = np.abs(np.stack([mu - res["mu_star_low"].values, res["mu_star_high"].values - mu]))
    top = float(np.nanmax(np.concatenate([mu, sig, [0.0]]))) if mu.size else 1.0
    top = top if top > 0 else 1.0
    # Points closer than this (a share of the axis) are drawn as concentric rings, larger
    # first, and their labels stacked: two parameters without effect both sit at the
    # origin, and the second used to hide the first.
    near = 0.03 * top
    rank = np.zeros(mu.size, dtype=int)
    for i in range(mu.size):
        rank[i] = sum(
            1 for j in range(i) if abs(mu[j] - mu[i]) <= near and abs(sig[j] - sig[i]) <= near
        )
    group = [
        sum(
            1 for j in range(mu.size) if abs(mu[j] - mu[i]) <= near and abs(sig[j] - sig[i]) <= near
        )
        for i in range(mu.size)
    ]
    for i, (p, colour) in enumerate(
        zip(res["parameter"].values, colours(res.sizes["parameter"]), strict=True)
    ):
        ax.errorbar(
            mu[i],
            sig[i],
            xerr=np.nan_to_num(err[:, i : i + 1]),
            fmt="o",
            color=colour,
            markersize=8 + 5 * (group[i] - 1 - rank[i]),
            markerfacecolor=colour if rank[i] == group[i] - 1 else "none",
            markeredgewidth=2,
            capsize=3,
            label=_short(str(p)),
            zorder=3 + rank[i],
            clip_on=False,
        )
        ax.annotate(
            _short(str(p), 30),
            (mu[i], sig[i]),
            xytext=(9, 6 + 12 * rank[i]),
            textcoords="offset points",
            fontsize="x-small",
            color=colour,
        )
    ax.plot(
        [0, top * 1.1],
        [0, top * 1.1],
        ":",
        color=GREY,
        linewidth=1,
        label="sigma = mu* (strong interaction or non-linearity above)",
    )
    # A little room left of and below zero, so that points at the origin show whole.
    ax.set_xlim(left=-0.03 * top)
    ax.set_ylim(bottom=-0.03 * top)
    ax.set_xlabel(f"mu*: mean |elementary effect| ({units} per swept range)")
    ax.set_ylabel(f"sigma ({units} per swept range)")
    thousands_ticks(ax)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_title(title or "Morris screening", loc="left")
    ax.legend(loc="upper left", frameon=False, fontsize="small")
    return fit_text(fig)


def save(fig: Figure, path: str | Path) -> Path:
    """Write a figure as PNG (white background, the module's resolution); return the path."""
    return save_figure(fig, path, close=False)


def turnover_fan_chart(ds: xr.Dataset, pair: str, path: str | Path) -> Path:
    """Write :func:`turnover_fan_figure` as PNG."""
    return save_figure(turnover_fan_figure(ds, pair), path)


def difference_fan_chart(
    draws: xr.DataArray,
    title: str,
    path: str | Path,
    subtitle: str = "",
    policies: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Write :func:`difference_fan_figure` as PNG."""
    return save_figure(difference_fan_figure(draws, title, subtitle, policies), path)


def jobs_by_kind_chart(ds: xr.Dataset, path: str | Path) -> Path:
    """Write :func:`jobs_by_kind_figure` as PNG."""
    return save_figure(jobs_by_kind_figure(ds), path)


def jobs_by_sector_chart(ds: xr.Dataset, path: str | Path) -> Path:
    """Write :func:`jobs_by_sector_figure` as PNG."""
    return save_figure(jobs_by_sector_figure(ds), path)


def capital_flows_chart(ds: xr.Dataset, path: str | Path) -> Path:
    """Write :func:`capital_flows_figure` as PNG."""
    return save_figure(capital_flows_figure(ds), path)


def pipeline_chart(ds: xr.Dataset, path: str | Path) -> Path:
    """Write :func:`pipeline_figure` as PNG."""
    return save_figure(pipeline_figure(ds), path)


def sobol_chart(res: xr.Dataset, path: str | Path, title: str = "") -> Path:
    """Write :func:`sobol_figure` as PNG."""
    return save_figure(sobol_figure(res, title), path)


def sensitivity_time_chart(res: xr.Dataset, path: str | Path, title: str = "") -> Path:
    """Write :func:`sensitivity_time_figure` as PNG."""
    return save_figure(sensitivity_time_figure(res, title), path)


def morris_chart(res: xr.Dataset, path: str | Path, title: str = "") -> Path:
    """Write :func:`morris_figure` as PNG."""
    return save_figure(morris_figure(res, title), path)


def run_charts(ds: xr.Dataset, folder: str | Path, pairs: Sequence[str]) -> dict[str, Path]:
    """All the charts of one run that its variables allow; name -> PNG path."""
    out: dict[str, Path] = {}
    folder = Path(folder)
    if "trade_turnover_annual" in ds:
        for pair in pairs:
            key = f"turnover_{pair}"
            out[key] = turnover_fan_chart(ds, pair, folder / f"turnover_{pair}.png")
    if "jobs" in ds:
        out["jobs_by_kind"] = jobs_by_kind_chart(ds, folder / "jobs_by_kind.png")
        out["jobs_by_sector"] = jobs_by_sector_chart(ds, folder / "jobs_by_sector.png")
    if "capital_flow_projects" in ds or "capital_flow_other" in ds:
        out["capital_flows"] = capital_flows_chart(ds, folder / "capital_flows_by_sector.png")
    if "projects_by_stage" in ds:
        out["pipeline"] = pipeline_chart(ds, folder / "pipeline_by_stage.png")
    from sim.analysis.charts_economy import economy_charts

    return out | economy_charts(ds, folder, pairs)


__all__ = [
    "OKABE_ITO",
    "PALETTE",
    "capital_flows_chart",
    "capital_flows_figure",
    "colours",
    "difference_fan_chart",
    "difference_fan_figure",
    "fan",
    "jobs_by_kind_chart",
    "jobs_by_kind_figure",
    "jobs_by_sector_chart",
    "jobs_by_sector_figure",
    "morris_chart",
    "morris_figure",
    "named_colours",
    "pipeline_chart",
    "pipeline_figure",
    "run_charts",
    "save",
    "sensitivity_time_chart",
    "sensitivity_time_figure",
    "sobol_chart",
    "sobol_figure",
    "turnover_fan_chart",
    "turnover_fan_figure",
]

"""The report's account of the scenario: what was run, what a variant changes, policy dates.

Everything here is read from the scenario embedded in a run
(:func:`sim.analysis.results.scenario_data`) and the run's attributes and
coordinates; the HTML is escaped and holds no script or outside reference (the
report page forbids both).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes

from sim.analysis.diff import (
    describe_flows,
    describe_target,
    describe_value,
    format_number,
    policy_label,
    policy_value,
    scenario_diff,
)
from sim.analysis.results import calibration_targets, pair_label, scenario_data

#: Colour of the policy lines on the charts (a dark grey, apart from the palette).
POLICY_COLOUR = "#555555"
#: Longest label of a policy line, in characters.
POLICY_LABEL = 32


def html_table(
    head: Sequence[str],
    rows: Sequence[Sequence[str]],
    total_rows: frozenset[int] = frozenset(),
    cls: str = "",
) -> str:
    """An HTML table; the first column is a left-aligned label; cells are already escaped."""
    th = "".join(
        f'<th class="label">{h}</th>' if i == 0 else f"<th>{h}</th>" for i, h in enumerate(head)
    )
    body = []
    for k, row in enumerate(rows):
        cells = "".join(
            f'<td class="label">{c}</td>' if i == 0 else f"<td>{c}</td>" for i, c in enumerate(row)
        )
        body.append(f'<tr class="total">{cells}</tr>' if k in total_rows else f"<tr>{cells}</tr>")
    table = f'<table class="{cls}">' if cls else "<table>"
    return f'<div class="scroll">{table}<tr>{th}</tr>{"".join(body)}</table></div>'


def _e(x: Any) -> str:
    return html.escape(str(x))


def _ids(items: Any) -> list[tuple[str, str]]:
    """(id, name) of a scenario's regions or sectors, written as ids or as {id, name}."""
    out = []
    for item in items or []:
        if isinstance(item, Mapping):
            out.append((str(item.get("id", "?")), str(item.get("name") or "")))
        else:
            out.append((str(item), ""))
    return out


def _named(items: Any) -> str:
    return ", ".join(f"{i} ({n})" if n else i for i, n in _ids(items))


def _by_region(value: Any) -> str:
    if isinstance(value, Mapping) and "dist" not in value:
        return ", ".join(f"{k} {describe_value(v).strip(chr(39))}" for k, v in value.items())
    return describe_value(value).strip("'")


def _money(data: Mapping[str, Any], ds: xr.Dataset) -> str:
    meta = data.get("metadata") or {}
    basis = str(meta.get("price_basis") or "")
    if basis == "constant":
        basis = f"constant {meta.get('price_base_year', '?')} prices"
    elif basis:
        basis = f"{basis} prices"
    money = " ".join(str(meta.get(k) or "") for k in ("currency", "money_unit")).strip()
    text = ", ".join(p for p in (money or str(ds.attrs.get("money_unit", "?")), basis) if p)
    twins = sorted(str(v) for v in ds.data_vars if str(v).endswith("_current"))
    if twins:
        unit = ds.attrs.get("current_money_unit", "current prices")
        text += (
            f"; current-money twins of {len(twins)} variables (names ending in _current), in {unit}"
        )
    else:
        text += "; no current-money twins"
    return text


def _labour(data: Mapping[str, Any], ds: xr.Dataset) -> str:
    labour = data.get("labour") or {}
    parts = []
    if "closure" in labour:
        parts.append(f"closure: {_by_region(labour['closure'])}")
    if "supply_elasticity" in labour:
        parts.append(f"labour supply elasticity: {_by_region(labour['supply_elasticity'])}")
    if "mobility" in labour:
        parts.append(f"mobility: {labour['mobility']}")
    corridors = [
        f"{m.get('origin', '?')}->{m.get('destination', '?')} "
        f"{format_number(m.get('flow', 0))} persons per year"
        for m in labour.get("migration") or []
        if isinstance(m, Mapping)
    ]
    if corridors:
        parts.append("migration: " + ", ".join(corridors))
    if "deficit_closure" in ds.attrs:
        parts.append(
            f"trade balance closure: {ds.attrs['deficit_closure']}, numeraire "
            f"{ds.attrs.get('numeraire', '?')}"
        )
    return "; ".join(parts) or "not stated"


def _policies_html(data: Mapping[str, Any]) -> str:
    policies = [p for p in data.get("policies") or [] if isinstance(p, Mapping)]
    if not policies:
        return "<p>No policies: the run has no dated policy events.</p>"
    sectors = {i for i, _ in _ids(data.get("sectors"))}
    rows = []
    for p in sorted(policies, key=lambda p: str(p.get("date", ""))):
        own = p.get("sectors")
        named = "all" if not own or set(map(str, own)) == sectors else ", ".join(map(str, own))
        rows.append(
            [
                _e(p.get("date", "?")),
                _e(p.get("kind", "?")),
                _e(describe_flows(p.get("origin"), p.get("destination"), p.get("symmetric", True))),
                _e(named),
                _e(policy_value(p)),
                _e(p.get("description", "")),
            ]
        )
    return html_table(
        ["date", "kind", "flows", "sectors", "value", "description"], rows, cls="text"
    )


def _portfolio_html(data: Mapping[str, Any], ds: xr.Dataset) -> str:
    investment = data.get("investment") or {}
    projects = investment.get("projects") or []
    portfolios = investment.get("portfolios") or []
    n = ds.sizes.get("project", len(projects))
    if not n and "projects_by_stage" not in ds:
        return "<p>No projects.</p>"
    parts = [
        f"<p>{n} projects: {len(projects)} listed one by one and "
        f"{sum(int(p.get('count', 0)) for p in portfolios if isinstance(p, Mapping))} "
        f"in {len(portfolios)} portfolios.</p>"
    ]
    if "projects_by_stage" in ds:
        stages = [str(s) for s in ds["stage"].values]
        rows = []
        for where, i in (("at the start", 0), ("at the end", -1)):
            at = ds["projects_by_stage"].isel(time=i)
            at = at.mean("replica") if "replica" in at.dims else at
            when = np.datetime_as_string(ds["time"].values[i], unit="D")
            counts = [f"{float(at.sel(stage=s)):,.1f}".removesuffix(".0") for s in stages]
            rows.append([f"{where} ({_e(when)})", *counts])
        parts.append(
            "<p>Number of projects by stage (mean over replicas; the end is the start of the "
            "last period):</p>" + html_table(["", *map(_e, stages)], rows)
        )
    if "project_sector" in ds.coords and "project_host" in ds.coords:
        sector = [str(s) for s in ds["project_sector"].values]
        host = [str(h) for h in ds["project_host"].values]
        capex = None
        if "project_capex" in ds:
            c = ds["project_capex"]
            capex = np.asarray(c.mean("replica") if "replica" in c.dims else c, dtype=float)
        hosts = sorted(set(host))
        rows, totals = [], []
        for s in sorted(set(sector)):
            cells = []
            for h in hosts:
                mask = [a == s and b == h for a, b in zip(sector, host, strict=True)]
                cells.append(_count(mask, capex))
            rows.append([_e(s), *cells, _count([a == s for a in sector], capex)])
        for h in hosts:
            totals.append(_count([b == h for b in host], capex))
        rows.append(["all sectors", *totals, _count([True] * len(sector), capex)])
        what = "number of projects" + (" (capex)" if capex is not None else "")
        parts.append(
            f"<p>By sector and host region ({what}):</p>"
            + html_table(
                ["sector", *(f"in {_e(h)}" for h in hosts), "all hosts"],
                rows,
                frozenset({len(rows) - 1}),
            )
        )
    return "\n".join(parts)


def _count(mask: Sequence[bool], capex: np.ndarray | None) -> str:
    n = int(sum(mask))
    if capex is None or not n:
        return str(n)
    return f"{n} ({format_number(round(float(capex[np.asarray(mask)].sum()), 1))})"


def _calibration_html(data: Mapping[str, Any], ds: xr.Dataset) -> str:
    calibration = data.get("calibration") or {}
    targets = [t for t in calibration.get("targets") or [] if isinstance(t, Mapping)]
    params = [p for p in calibration.get("parameters") or [] if isinstance(p, Mapping)]
    files = json.loads(str(ds.attrs.get("scenario_files", "[]")))
    fitted = [f for f in files if ".calibrated." in str(f)]
    text = f"{len(targets)} targets" if targets else "no calibration targets"
    if params:
        text += "; parameters to fit: " + ", ".join(str(p.get("key", "?")) for p in params)
    if fitted:
        text += f"; fitted values from {', '.join(map(str, fitted))} (written by sim calibrate)"
    out = f"<p>Calibration: {_e(text)}.</p>"
    if targets:
        rows = [
            [
                _e(describe_target(t) + (f", {t['prices']} prices" if t.get("prices") else "")),
                _e(t.get("source") or "not given"),
            ]
            for t in targets
        ]
        out += html_table(["target", "source"], rows, cls="text")
    return out


def scenario_html(ds: xr.Dataset) -> str:
    """The section "The scenario": what the run consists of, as a definition list and tables.

    Parameters
    ----------
    ds
        A run with its embedded scenario (attribute ``scenario_yaml``).

    Returns
    -------
    str
        Escaped HTML: name, title and description, regions, sectors, horizon
        and step, money basis, labour closures, replicas and seed, the
        policies, the project portfolio by stage, sector and host, and the
        calibration targets with their sources.
    """
    data = scenario_data(ds)
    meta = data.get("metadata") or {}
    time = data.get("time") or {}
    mc = data.get("monte_carlo") or {}
    name = meta.get("name") or ds.attrs.get("scenario_name", "?")
    title = meta.get("title") or ""
    items = {
        "scenario": f"{name}" + (f": {title}" if title else ""),
        "regions": _named(data.get("regions")) or "not stated",
        "sectors": _named(data.get("sectors")) or "not stated",
        "horizon": f"{time.get('start', '?')} to {time.get('end', '?')}, step "
        f"{time.get('step', ds.attrs.get('period', '?'))}",
        "money": _money(data, ds),
        "labour and closures": _labour(data, ds),
        "replicas": f"{ds.sizes.get('replica', mc.get('replicas', '?'))}, seed "
        f"{ds.attrs.get('seed', mc.get('seed', '?'))}",
    }
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items.items())
    parts = [f"<dl>{rows}</dl>"]
    if meta.get("description"):
        parts.append(f"<p>{_e(meta['description'])}</p>")
    parts += [
        "<h3>Policies</h3>",
        _policies_html(data),
        "<h3>Projects</h3>",
        _portfolio_html(data, ds),
        "<h3>Calibration</h3>",
        _calibration_html(data, ds),
    ]
    return "\n".join(parts)


def variant_changes_html(base: xr.Dataset, variant: xr.Dataset) -> str:
    """The subsection "What the variant changes": the resolved diff of the two scenarios.

    Parameters
    ----------
    base, variant
        The compared run and the reported one, each with its embedded scenario.

    Returns
    -------
    str
        Escaped HTML: a list with one item per changed, added or removed key
        (:func:`sim.analysis.diff.scenario_diff`), or a sentence when the
        scenarios are the same.
    """
    lines = scenario_diff(scenario_data(base), scenario_data(variant))
    head = (
        f"<h3>What the variant changes</h3><p>{_e(variant.attrs.get('scenario_name', 'this run'))}"
        f" against {_e(base.attrs.get('scenario_name', 'the compared run'))}, key by key in the "
        "resolved scenarios (every default filled in):</p>"
    )
    if not lines:
        return head + "<p>Nothing: the two scenarios are the same (only the draws may differ).</p>"
    return head + "<ul>" + "".join(f"<li>{_e(line)}</li>" for line in lines) + "</ul>"


def run_policies(*runs: xr.Dataset) -> list[dict[str, Any]]:
    """The policies of one or more runs' scenarios, each once (same date and description)."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for ds in runs:
        for p in scenario_data(ds).get("policies") or []:
            if not isinstance(p, Mapping):
                continue
            key = (str(p.get("date")), policy_label(p))
            if key not in seen:
                seen.add(key)
                out.append(dict(p))
    return out


def _year_fraction(day: dt.date) -> float:
    start = dt.date(day.year, 1, 1)
    length = (dt.date(day.year + 1, 1, 1) - start).days
    return day.year + (day - start).days / length


def turnover_targets(ds: xr.Dataset, pair: str) -> tuple[bool, list[dict[str, Any]]]:
    """The money of a pair's turnover chart (True: current) and the targets it draws.

    Targets are compared in the money they name (current by default where the run has a
    price path): the chart is drawn in that money and shows the targets stated in it, in
    the years the run has. The caption describes these, and only these.
    """
    regions = set(pair_label(ds, pair).split("-"))
    targets = [
        t for t in calibration_targets(ds, "turnover") if set(t.get("regions") or []) == regions
    ]
    has_prices = "trade_turnover_annual_current" in ds
    current = has_prices and any(t.get("prices", "current") != "constant" for t in targets)
    years = {int(y) for y in ds["year"].values} if "year" in ds.coords else set()
    drawn = [
        t
        for t in targets
        if int(t["year"]) in years
        and (has_prices and t.get("prices", "current") != "constant") == current
        and any(t.get(k) is not None for k in ("value", "lower", "upper"))
    ]
    return current, drawn


def turnover_caption(ds: xr.Dataset, pair: str) -> str:
    """The caption of a pair's turnover fan chart: the points and triangles only if drawn."""
    _, drawn = turnover_targets(ds, pair)
    text = (
        "Annual trade turnover (exports plus imports, sum over the year). Line: median over "
        "replicas; dark band: 50 % of replicas (25-75 %); light band: 90 % (5-95 %)."
    )
    points = any(t.get("value") is not None for t in drawn)
    bounds = any(t.get(k) is not None for t in drawn for k in ("lower", "upper"))
    if points and bounds:
        text += (
            " Points: observed figures from the scenario's calibration targets "
            "(triangles: observed bounds)."
        )
    elif points:
        text += " Points: observed figures from the scenario's calibration targets."
    elif bounds:
        text += (
            " Triangles: observed bounds from the scenario's calibration targets "
            "(pointing up: at least; down: at most)."
        )
    return text


def decimal_years(values: Any) -> np.ndarray:
    """Dates (``datetime64``) as years with their fraction (2026-07-01: about 2026.5); years
    (integers) as they are. Every time chart draws against these, so that all of them have
    the same x axis: "year", with ticks at whole years.
    """
    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.datetime64):
        return arr
    days = arr.astype("datetime64[D]")
    year = days.astype("datetime64[Y]")
    start = year.astype("datetime64[D]")
    length = (year + 1).astype("datetime64[D]") - start
    fraction = (days - start).astype(float) / length.astype(float)
    return np.asarray(year.astype(int) + 1970 + fraction, dtype=float)


def mark_policies(ax: Axes, policies: Sequence[Mapping[str, Any]], axis: str = "year") -> None:
    """Draw a thin vertical line with a short label at each policy's date.

    Parameters
    ----------
    ax
        A time chart, already drawn (its x range is final).
    policies
        Items of a scenario's ``policies`` (``date``, ``description``, ``kind``).
    axis
        ``"year"`` for an axis of years (a date is drawn at its fraction of the
        year: 2026-07-01 at 2026.5) or ``"time"`` for an axis of dates.

    Notes
    -----
    The lines have gid ``"policy"``; the first one is labelled ``policy date``
    for the legend. Policies on the same date share a line; a date outside the
    chart's x range is not drawn. Without policies the chart is unchanged.
    """
    by_date: dict[dt.date, list[str]] = {}
    for p in policies:
        try:
            day = dt.date.fromisoformat(str(p.get("date"))[:10])
        except ValueError:
            continue
        by_date.setdefault(day, []).append(policy_label(p))
    if not by_date:
        return
    low, high = sorted(ax.get_xlim())
    first = True
    for day, labels in sorted(by_date.items()):
        x: Any = _year_fraction(day) if axis == "year" else np.datetime64(day.isoformat())
        position = float(ax.convert_xunits(x))  # type: ignore[no-untyped-call]
        if not low <= position <= high:
            continue
        ax.axvline(
            x,
            color=POLICY_COLOUR,
            linewidth=0.9,
            linestyle=(0, (4, 2)),
            zorder=1.5,
            gid="policy",
            label="policy date" if first else "_nolegend_",
        )
        first = False
        text = "; ".join(labels)
        if len(text) > POLICY_LABEL:
            text = text[: POLICY_LABEL - 3] + "..."
        ax.text(
            x,
            0.98,
            f"{day.isoformat()} {text}",
            transform=ax.get_xaxis_transform(),
            rotation=90,
            ha="right",
            va="top",
            fontsize="x-small",
            color=POLICY_COLOUR,
            gid="policy",
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1.0},
        )
    ax.set_xlim(low, high)


__all__ = [
    "decimal_years",
    "html_table",
    "mark_policies",
    "run_policies",
    "scenario_html",
    "turnover_caption",
    "turnover_targets",
    "variant_changes_html",
]

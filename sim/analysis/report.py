"""One self-contained HTML page with a run's charts (and a comparison's), plus the PNG files.

The page embeds every chart as a base64 ``data:`` URI and its styles inline;
it references nothing outside itself (a Content-Security-Policy forbids any
fetch), so it can be mailed or archived as one file and opened offline.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import xarray as xr

import sim
from sim.analysis.report_scenario import html_table as _table
from sim.analysis.report_scenario import (
    run_policies,
    scenario_html,
    turnover_caption,
    variant_changes_html,
)
from sim.analysis.report_sections import (
    capital_by_direction_section,
    figure_html,
    jobs_by_region_section,
    trade_subsections,
    value_added_section,
    welfare_section,
)
from sim.analysis.results import (
    as_dataset,
    check_single_result,
    reporting_pairs,
    scenario_data,
)

if TYPE_CHECKING:
    from sim.analysis.compare_format import ChangeRow

PAGE = "report.html"

_CSS = """
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #1a1a1a;
       max-width: 1000px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { padding: 0.25em 0.6em; border-bottom: 1px solid #e5e5e5; text-align: right;
         white-space: nowrap; }
th { background: #f3f3f3; }
td.label, th.label { text-align: left; }
td small { color: #555; }
tr.total td { font-weight: bold; border-top: 1px solid #999; }
.scroll { overflow-x: auto; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; font-size: 0.9em; }
dt { font-weight: bold; }
dd { margin: 0; }
table.text td { text-align: left; white-space: normal; min-width: 4em; }
"""

CAPTIONS = {
    "jobs_by_kind": "Jobs created by the cooperation by kind, summed over regions: stacked means "
    "over replicas; dashed lines: 5 % and 95 % quantiles of the total.",
    "jobs_by_sector": "Jobs of all kinds by sector, summed over regions: stacked means over "
    "replicas.",
    "pipeline": "Number of projects in each stage: stacked means over replicas.",
    "difference": "Change in annual trade turnover, this run minus the compared run, replica by "
    "replica (common random numbers). Line: median change; bands: 50 % and 90 % of replicas.",
}


def _caption(ds: xr.Dataset, key: str) -> str:
    """The caption of a run chart, naming only the series it draws."""
    if key == "capital_flows":
        drawn = [
            text
            for name, text in (
                ("capital_flow_projects", "capex of listed projects by sector (investor to host)"),
                ("capital_flow_other", "other investment"),
            )
            if name in ds
        ]
        return f"Cross-border capital flows by year: {' and '.join(drawn)}; stacked means over replicas."
    return CAPTIONS[key]


def _n(x: float, signed: bool = False) -> str:
    if x != x:  # NaN
        return "n/a"
    if round(x) == 0:
        return "0"  # no "-0" or "+0"
    return f"{x:+,.0f}" if signed else f"{x:,.0f}"


def summary_html(ds: xr.Dataset) -> str:
    """Median and 5-95 % band of turnover, capital flows and jobs in the report years.

    A static counterfactual (no time axis) shows the table ``sim counterfactual`` prints:
    real income with its decomposition, employment and turnover changes.
    """
    from sim.summary import counterfactual_table, report_years

    if "year" not in ds.coords:
        return f"<pre>{html.escape(counterfactual_table(ds))}</pre>"
    out = scenario_data(ds).get("output", {}) or {}
    years = report_years(ds, out.get("report_years"))
    series: list[tuple[str, xr.DataArray]] = []
    pairs = reporting_pairs(ds) if "pair" in ds.coords else []
    if "trade_turnover_annual" in ds:
        series += [(f"trade turnover {p}", ds.trade_turnover_annual.sel(pair=p)) for p in pairs]
    if "capital_flow_annual" in ds:
        for p in pairs:
            a, _, b = p.partition("-")
            for o, d in ((a, b), (b, a)):
                flow = ds.capital_flow_annual.sel(origin=o, destination=d)
                series.append((f"capital flow {o} &rarr; {d}", flow))
    if "jobs_annual" in ds:
        for kind in ds["kind"].values:
            series.append(
                (f"jobs, {html.escape(str(kind))}", ds.jobs_annual.sel(kind=kind).sum("region"))
            )
        series.append(("jobs, all kinds", ds.jobs_annual.sum(("region", "kind"))))
    rows = []
    for label, da in series:
        q = da.sel(year=years).quantile([0.05, 0.5, 0.95], "replica").transpose("quantile", "year")
        v = q.values
        rows.append(
            [label if label.startswith(("capital", "jobs")) else html.escape(label)]
            + [
                f"{_n(v[1, i])}<br><small>{_n(v[0, i])} &ndash; {_n(v[2, i])}</small>"
                for i in range(len(years))
            ]
        )
    note = (
        f"<p>Median over replicas, and below it the 90 % band (5 % &ndash; 95 %). Money: "
        f"{html.escape(str(ds.attrs.get('money_unit', '')))} per year (sums over the year); "
        "jobs: persons, averages over the year.</p>"
    )
    return note + _table(["quantity", *map(str, years)], rows)


def multipliers_html(ds: xr.Dataset) -> str:
    """The implied employment multipliers of the region-sectors hosting projects, and the
    run's warnings about them (docs/model.md s.5); empty for a run without them."""
    from sim.summary import multiplier_rows

    rows, limits = multiplier_rows(ds)
    if not rows:
        return ""

    def x(v: float) -> str:
        return "n/a" if v != v else f"{v:.2f}"

    body = [
        [
            html.escape(r.cell) + (" *" if r.flagged else ""),
            x(r.sector_type1),
            x(r.plants_type1),
            x(r.sector_type2),
            x(r.plants_type2),
            x(r.productivity),
        ]
        for r in rows
    ]
    head = ["region:sector", "type I, sector", "type I, projects", "type II, sector",
            "type II, projects", "projects' productivity"]  # fmt: skip
    marked = (
        f" * marks a region-sector above the scenario's thresholds "
        f"(input_output.multiplier_warning: type I {limits['type1']:g}, type II "
        f"{limits['type2']:g})."
        if limits
        else ""
    )
    parts = [
        "<h3>Implied employment multipliers</h3><p>Persons employed in the whole system per "
        "person employed directly (medians over replicas): each region-sector hosting "
        "projects at its own productivity, and its projects at theirs (their output per "
        "worker against the sector's average; suppliers always work at their sectors' "
        f"averages).{html.escape(marked)}</p>",
        _table(head, body),
    ]
    warnings = json.loads(str(ds.attrs.get("employment_multiplier_warnings", "[]")))
    if warnings:
        items = "".join(f"<li>{html.escape(str(w))}</li>" for w in warnings)
        parts.append(f"<p>Warnings of the run:</p><ul>{items}</ul>")
    return "\n".join(parts)


def _change_cells(rows: Sequence[ChangeRow]) -> list[list[str]]:
    out, previous = [], ""
    for r in rows:
        out.append(
            [
                html.escape(r.quantity) if r.quantity != previous else "",
                str(r.year),
                _n(r.base_median),
                _n(r.variant_median),
                _n(r.change_median, True),
                f"{_n(r.change_low, True)} &ndash; {_n(r.change_high, True)}",
                f"{r.p_negative:.0%}",
            ]
        )
        previous = r.quantity
    return out


def comparison_html(cmp: xr.Dataset, band: float = 0.9) -> str:
    """The comparison's tables: change by quantity and year, jobs decomposition, targets."""
    from sim.analysis.compare_format import (
        LEFT_OUT,
        compact_rows,
        comparison_heading,
        comparison_rows,
        decomposition_rows,
    )

    lo, hi = f"{(1 - band) / 2:.0%}", f"{1 - (1 - band) / 2:.0%}"
    parts = [
        f"<p>{html.escape(comparison_heading(cmp))}. Money: "
        f"{html.escape(str(cmp.attrs.get('money_unit', '')))} per year; jobs: persons.</p>"
    ]
    head = [
        "quantity",
        "year",
        "base median",
        "variant median",
        "change median",
        f"change {lo} &ndash; {hi}",
        "P(change &lt; 0)",
    ]
    every = comparison_rows(cmp, band=band)
    kept, left_out = compact_rows(every)
    parts.append(_table(head, _change_cells(kept)))
    if left_out:
        # The full table one click away, without script: a <details> element.
        parts.append(
            f"<details><summary>{html.escape(LEFT_OUT.format(n=left_out))}: show the full "
            f"table ({len(every)} rows)</summary>{_table(head, _change_cells(every))}</details>"
        )
    if "jobs_change_by_sector" in cmp:
        year = int(cmp["year"].values[-1])
        kinds, dec = decomposition_rows(cmp, year)
        parts.append(
            f"<h3>Change in jobs in {year} by region, sector and kind</h3><p>Mean change over "
            "replicas (persons); the rows and columns add up to the totals.</p>"
        )
        body = [
            [
                html.escape(region),
                html.escape(sector),
                *(_n(x, True) for x in values),
                _n(sum(values), True),
            ]
            for region, sector, values in dec
        ]
        totals = frozenset(i for i, (_, sector, _) in enumerate(dec) if sector == "all")
        parts.append(_table(["region", "sector", *map(html.escape, kinds), "total"], body, totals))
    if "target_probability" in cmp:
        tp = cmp["target_probability"]
        body = [
            [
                html.escape(str(t)),
                f"{float(tp.sel(target=t, run='base')):.0%}",
                f"{float(tp.sel(target=t, run='variant')):.0%}",
            ]
            for t in tp["target"].values
        ]
        parts.append("<h3>Probability of reaching each target</h3>")
        parts.append(_table(["target", "base", "variant"], body))
    return "\n".join(parts)


def _image(path: Path, alt: str, caption: str, key: str = "") -> str:
    return figure_html(path, alt, caption, key)


def _provenance(ds: xr.Dataset, label: str) -> str:
    items = {
        "scenario": ds.attrs.get("scenario_name", "?"),
        "replicas": ds.sizes.get("replica", "?"),
        "seed": ds.attrs.get("seed", "?"),
        "period": ds.attrs.get("period", "?"),
        "money": ds.attrs.get("money_unit", "?"),
        "scenario sha256": str(ds.attrs.get("scenario_sha256", "?"))[:16] + "...",
        "engine": f"{ds.attrs.get('engine', 'sim')} {ds.attrs.get('engine_version', '?')}",
        "scenario files": ", ".join(json.loads(str(ds.attrs.get("scenario_files", "[]")))),
    }
    rows = "".join(
        f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in items.items()
    )
    return f"<h3>{html.escape(label)}</h3><dl>{rows}</dl>"


def write_report(
    run: str | Path | xr.Dataset,
    out_dir: str | Path,
    *,
    compare_with: str | Path | xr.Dataset | None = None,
    paired: bool = True,
    targets: Sequence[str] = (),
    overwrite: bool = True,
) -> Path:
    """Write the charts of a run as PNG files and one self-contained HTML page.

    Parameters
    ----------
    run
        The run to report (dataset or ``.nc`` path).
    out_dir
        Folder for the PNG files and ``report.html`` (created if needed).
    compare_with
        Another run to compare with: the page then shows the change, ``run``
        minus ``compare_with``, replica by replica.
    paired, targets
        Passed to :func:`sim.analysis.compare.compare`.
    overwrite
        Whether an earlier report in the folder (its ``report.html`` and PNG charts) may
        be replaced. Other files in the folder are never touched, and a ``.png`` there
        that is not a PNG image, or is an input, is refused.

    Returns
    -------
    Path
        The HTML page.

    Raises
    ------
    OutputError
        Before anything is written, if the folder is a run it reads, is not a
        folder, cannot be written, or (without ``overwrite``) holds a report;
        or if a file cannot be written.
    """
    from sim.results.guard import output_failed

    folder = Path(out_dir)
    _check_report_outputs(run, compare_with, folder, overwrite=overwrite)
    try:
        return _write_report(run, folder, compare_with=compare_with, paired=paired, targets=targets)
    except OSError as exc:
        raise output_failed(Path(exc.filename) if exc.filename else folder, exc) from exc


def _check_report_outputs(
    run: str | Path | xr.Dataset,
    compare_with: str | Path | xr.Dataset | None,
    folder: Path,
    *,
    overwrite: bool,
) -> None:
    from sim.results.guard import check_output

    inputs = {
        path: what
        for path, what in ((run, "the run"), (compare_with, "the compared run"))
        if isinstance(path, (str, Path))
    }
    check_output(folder, "folder", inputs=inputs)
    check_output(folder / PAGE, "file", inputs=inputs, overwrite=overwrite)
    # Every chart the report may write is a PNG in the folder: existing ones are replaced
    # only with --overwrite, only if they are PNG images, and never if they are an input.
    if folder.is_dir():
        for chart in sorted(folder.glob("*.png")):
            check_output(chart, "file", inputs=inputs, overwrite=overwrite, format="PNG")


def _write_report(
    run: str | Path | xr.Dataset,
    folder: Path,
    *,
    compare_with: str | Path | xr.Dataset | None,
    paired: bool,
    targets: Sequence[str],
) -> Path:
    from sim.analysis import charts
    from sim.analysis.compare import compare, paired_change

    ds = as_dataset(run)
    check_single_result(ds, "the run")
    scenario_data(ds)  # a damaged embedded scenario is refused before anything is written
    other = as_dataset(compare_with) if compare_with is not None else None
    if other is not None:
        check_single_result(other, "the compared run")
        scenario_data(other)
    pairs = reporting_pairs(ds) if "pair" in ds.coords else []
    folder.mkdir(parents=True, exist_ok=True)
    pngs = charts.run_charts(ds, folder, pairs)
    marked = " Dashed grey lines: the dates of the scenario's policies." if run_policies(ds) else ""
    title = str(ds.attrs.get("title") or ds.attrs.get("scenario_name") or "sim run")
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{ds.sizes.get('replica', '?')} Monte Carlo replicas; money in "
        f"{html.escape(str(ds.attrs.get('money_unit', '')))}.</p>",
        "<h2>The scenario</h2>",
        scenario_html(ds),
    ]
    if other is not None:
        body.append(variant_changes_html(other, ds))
    body += [
        "<h2>Summary</h2>",
        summary_html(ds),
        "<h2>Trade</h2>",
    ]
    for pair in pairs:
        key = f"turnover_{pair}"
        if key in pngs:
            caption = turnover_caption(ds, pair) + marked
            body.append(_image(pngs[key], f"trade turnover {pair}", caption, key))
    body += [
        trade_subsections(ds, pngs, marked),
        value_added_section(ds, pngs, marked),
        welfare_section(ds, pngs, marked),
    ]
    sections = (
        ("Jobs", ("jobs_by_kind", "jobs_by_sector")),
        ("Investment", ("capital_flows", "pipeline")),
    )
    for heading, keys in sections:
        present = [k for k in keys if k in pngs]
        more = (jobs_by_region_section if heading == "Jobs" else capital_by_direction_section)(
            ds, pngs, marked
        )
        if present or more:
            body.append(f"<h2>{heading}</h2>")
            body += [
                _image(pngs[k], k.replace("_", " "), _caption(ds, k) + marked, k) for k in present
            ]
        if heading == "Jobs" and (table := multipliers_html(ds)):
            body.append(table)
        body.append(more)
    if other is not None:
        cmp = compare(other, ds, paired=paired, targets=targets)
        body.append(
            f"<h2>Compared with {html.escape(str(other.attrs.get('scenario_name', 'the other run')))}"
            "</h2>"
        )
        if "trade_turnover_annual" in ds and "trade_turnover_annual" in other:
            draws = paired_change(other, ds, "trade_turnover_annual", paired=paired)
            for pair in pairs:
                path = charts.difference_fan_chart(
                    draws.sel(pair=pair),
                    f"Change in trade turnover {pair}",
                    folder / f"turnover_change_{pair}.png",
                    subtitle=f"{ds.attrs.get('scenario_name', 'run')} minus "
                    f"{other.attrs.get('scenario_name', 'other')}, "
                    + ("replica by replica" if paired else "unpaired"),
                    policies=run_policies(ds, other),
                )
                pngs[f"turnover_change_{pair}"] = path
                caption = CAPTIONS["difference"]
                if run_policies(ds, other):
                    caption += " Dashed grey lines: the dates of the policies of either run."
                if not paired:
                    caption = caption.replace(
                        "replica by replica (common random numbers)",
                        "from independent pairs of replicas (unpaired)",
                    )
                body.append(
                    _image(
                        path, f"change in trade turnover {pair}", caption, f"turnover_change_{pair}"
                    )
                )
        body.append(comparison_html(cmp))
        body.append(_provenance(other, "Compared run"))
    body += ["<h2>Provenance</h2>", _provenance(ds, "This run")]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + f"\n<footer><p><small>Written by sim {html.escape(sim.__version__)}.</small></p>"
        "</footer></body></html>\n"
    )
    from sim.results.write import write_file

    return write_file(folder / PAGE, lambda tmp: tmp.write_text(page, encoding="utf-8"))


__all__ = ["PAGE", "comparison_html", "multipliers_html", "summary_html", "write_report"]

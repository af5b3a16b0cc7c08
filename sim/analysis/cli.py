"""Commands ``sim compare``, ``sim sensitivity``, ``sim report`` and ``sim rerun``.

:func:`register` adds the parsers to the main CLI (``sim/cli.py``); each sets
``handler(args) -> int``. User mistakes raise :class:`~sim.errors.SimError`
subclasses, which the main CLI prints before exiting with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.analysis.errors import TARGET_SYNTAX, AnalysisError

if TYPE_CHECKING:
    import xarray as xr


def _selection(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        dim, eq, labels = item.partition("=")
        chosen = [x.strip() for x in labels.split("+") if x.strip()]
        if not eq or not dim.strip() or not chosen:
            raise AnalysisError(
                f"cannot read --select '{item}'",
                allowed="DIM=LABEL, several labels joined by +",
                hint="write DIM=LABEL, e.g. --select pair=UZ-KZ or --select kind=operation+indirect",
            )
        out.setdefault(dim.strip(), []).extend(chosen)
    return out


def _compare(args: argparse.Namespace) -> int:
    from sim.analysis.compare import compare
    from sim.analysis.compare_format import format_comparison
    from sim.results.guard import check_output
    from sim.results.write import write_netcdf

    inputs = {args.base: "the base run", args.variant: "the variant run"}
    if args.output:  # refused before the comparison, not after it
        check_output(args.output, "file", inputs=inputs, overwrite=args.overwrite, format="NetCDF")
    cmp = compare(args.base, args.variant, paired=not args.unpaired, targets=args.target)
    if not args.quiet:
        print(
            format_comparison(
                cmp,
                years=list(dict.fromkeys(args.year)) or None,
                band=args.band / 100.0,
                all_rows=args.all_rows,
            )
        )
    if args.output:
        path = write_netcdf(cmp, args.output, inputs=inputs, overwrite=args.overwrite)
        if not args.quiet:
            print(f"\nwrote {path}")
    return 0


def _fmt(x: float, digits: int = 2) -> str:
    if not math.isfinite(x):
        return "n/a"
    value = x if round(x, digits) != 0 else 0.0  # no "-0.00"
    return f"{value:,.{digits}f}"


def format_sensitivity(res: xr.Dataset) -> str:
    """A table of the indices at one date (``res`` without a year/time dimension)."""
    sel = json.loads(str(res.attrs.get("selection", "{}")))
    what = str(res.attrs.get("output"))
    if sel:
        what += (
            " ("
            + ", ".join(
                f"{k}={'+'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in sel.items()
            )
            + ")"
        )
    level = f"{float(res.attrs['confidence']):.0%}"
    params = [str(p) for p in res["parameter"].values]
    width = max(len("parameter"), *(len(p) for p in params))
    if "S1" in res:
        lines = [
            f"Sobol' indices of {what} at {res.attrs.get('at')}: the mean over "
            f"{res.attrs.get('replicas_averaged')} replicas at each point, Saltelli n = "
            f"{res.attrs.get('saltelli_n')} ({level} bootstrap intervals)",
            f"{'parameter':<{width}}  {'S1':>6}  {'[interval]':<17}  {'ST':>6}  {'[interval]':<17}",
        ]
        for p in params:
            r = res.sel(parameter=p)
            lines.append(
                f"{p:<{width}}  {_fmt(float(r.S1)):>6}  "
                f"{'[' + _fmt(float(r.S1_low)) + ' - ' + _fmt(float(r.S1_high)) + ']':<17}  "
                f"{_fmt(float(r.ST)):>6}  "
                f"{'[' + _fmt(float(r.ST_low)) + ' - ' + _fmt(float(r.ST_high)) + ']':<17}"
            )
        return "\n".join(line.rstrip() for line in lines)
    units = str(res.attrs.get("units", ""))
    lines = [
        f"Morris elementary effects of {what} at {res.attrs.get('at')}: the mean over "
        f"{res.attrs.get('replicas_averaged')} replicas at each point, "
        f"{res.attrs.get('morris_trajectories')} trajectories; effects in {units} per change of "
        f"the parameter by its whole swept range ({level} bootstrap intervals of mu*)",
        f"{'parameter':<{width}}  {'mu*':>12}  {'[interval]':<27}  {'mu':>12}  {'sigma':>12}",
    ]
    for p in params:
        r = res.sel(parameter=p)
        interval = f"[{_fmt(float(r.mu_star_low), 0)} - {_fmt(float(r.mu_star_high), 0)}]"
        lines.append(
            f"{p:<{width}}  {_fmt(float(r.mu_star), 0):>12}  {interval:<27}  "
            f"{_fmt(float(r.mu), 0):>12}  {_fmt(float(r.sigma), 0):>12}"
        )
    return "\n".join(line.rstrip() for line in lines)


def _sensitivity(args: argparse.Namespace) -> int:
    from sim.analysis import charts
    from sim.analysis.results import is_sweep, open_results, reporting_pairs
    from sim.analysis.sensitivity import check_bootstrap, parse_at, sensitivity
    from sim.results.guard import check_output, output_failed
    from sim.results.write import write_netcdf

    check_bootstrap(args.confidence, args.resamples)
    store = Path(args.store)
    ds = open_results(store)
    if not is_sweep(ds):
        raise AnalysisError(
            f"{store} is not a sweep store (it has no dimension 'point')",
            allowed="a Zarr store written by `sim sweep` with design saltelli or morris",
            hint="run `sim sweep` on a sweep file with design: saltelli or morris and pass "
            "its store; for one run, use `sim compare` or `sim report`",
        )
    if args.output not in ds.data_vars:
        raise AnalysisError(
            f"the store has no output '{args.output}'",
            hint="use one of: "
            + ", ".join(
                sorted(str(v) for v in ds.data_vars if {"year", "time"} & set(map(str, ds[v].dims)))
            ),
        )
    selection: dict[str, Any] = _selection(args.select)
    if "pair" in ds[args.output].dims and "pair" not in selection and "pair" in ds.coords:
        selection["pair"] = [reporting_pairs(ds)[0]]  # summing turnover over pairs means nothing
    axis = "year" if "year" in ds[args.output].dims else "time"
    if args.at is None:
        last = ds[axis].values[-1]
        at: int | str = int(last) if axis == "year" else str(last)[:10]
    else:
        at = parse_at(args.at, axis)
    folder = Path(args.out_dir) if args.out_dir else store.parent / f"{store.stem}_sensitivity"
    chart = "sobol" if str(ds.attrs.get("sweep_design")) == "saltelli" else "morris"
    names = {
        "table": folder / "sensitivity.nc",
        "at": folder / f"sensitivity_{at}.nc",
        "bars": folder / f"{chart}_{at}.png",
        "lines": folder / "sensitivity_over_time.png",
    }
    # Every output checked before the indices are computed: nothing is written on a refusal.
    inputs = {store: "the sweep store"}
    check_output(folder, "folder", inputs=inputs)
    for path in names.values():
        kind = "PNG" if path.suffix == ".png" else "NetCDF"
        check_output(path, "file", inputs=inputs, overwrite=args.overwrite, format=kind)
    common: dict[str, Any] = {
        "selection": selection,
        "confidence": args.confidence,
        "n_resamples": args.resamples,
    }
    over_time = sensitivity(ds, args.output, **common)
    at_date = sensitivity(ds, args.output, at=at, **common)
    label = f"{args.output} " + ", ".join(f"{k}={'+'.join(v)}" for k, v in selection.items())
    current = folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        nc = write_netcdf(over_time, names["table"])
        write_netcdf(at_date, names["at"])
        current = names["bars"]
        if "S1" in at_date:
            bars = charts.sobol_chart(
                at_date, names["bars"], f"Sobol' indices of {label.strip()} in {at}"
            )
        else:
            bars = charts.morris_chart(
                at_date, names["bars"], f"Morris screening of {label.strip()} in {at}"
            )
        what = "Total Sobol' index" if "ST" in over_time else "Morris mu*"
        current = names["lines"]
        lines = charts.sensitivity_time_chart(
            over_time, names["lines"], f"{what} for {label.strip()} over time"
        )
    except OSError as exc:
        raise output_failed(current, exc) from exc
    if not args.quiet:
        print(format_sensitivity(at_date))
        print(f"\nwrote {nc}, {bars.name} and {lines.name} in {folder}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from sim.analysis.report import write_report

    run = Path(args.run)
    if (args.target or args.unpaired) and not args.compare:
        raise AnalysisError(
            "--target and --unpaired apply to a comparison, and no --compare run is given",
            allowed="--target and --unpaired together with --compare OTHER_RUN",
            hint="add --compare OTHER_RUN, or drop --target and --unpaired",
        )
    folder = Path(args.out_dir) if args.out_dir else run.parent / f"{run.stem}_report"
    page = write_report(
        run,
        folder,
        compare_with=args.compare,
        paired=not args.unpaired,
        targets=args.target,
        overwrite=args.overwrite,
    )
    if not args.quiet:
        pngs = sorted(p.name for p in folder.glob("*.png"))
        print(f"wrote {page} ({page.stat().st_size // 1024} KiB, charts embedded)")
        print(f"and {len(pngs)} PNG charts: {', '.join(pngs)}")
    return 0


def _rerun(args: argparse.Namespace) -> int:
    from sim.analysis.rerun import rerun

    result = rerun(args.result, replicas=args.replicas, batch_size=args.batch_size)
    if not args.quiet or not result.identical:
        print(result.format())
    return 0 if result.identical else 1


def _export(args: argparse.Namespace) -> int:
    from sim.analysis.export import export_quantiles, parse_quantiles, write_export
    from sim.analysis.results import check_single_result, open_results
    from sim.results.guard import check_output

    quantiles = parse_quantiles(args.quantiles)
    run = Path(args.run)
    target = Path(args.output) if args.output else run.with_suffix(".quantiles.csv")
    # Refused before the quantiles are computed: never the run, an existing file only if asked.
    check_output(
        target, "file", inputs={run: "the run it exports"}, overwrite=args.overwrite,
        format="CSV table",
    )  # fmt: skip
    ds = open_results(run)
    check_single_result(ds, "the run")
    table = export_quantiles(ds, args.var, quantiles)
    write_export(table, target, run=run, overwrite=args.overwrite)
    if not args.quiet:
        print(f"wrote {target} ({len(table)} rows: {', '.join(args.var)})")
    return 0


def register(subparsers: Any) -> None:
    """Add ``compare``, ``sensitivity``, ``report``, ``rerun`` and ``export`` to the CLI."""
    p = subparsers.add_parser(
        "compare",
        help="change between two runs, replica by replica, with bands and probabilities",
        description="Change from BASE to VARIANT as a distribution: replica k of one minus "
        "replica k of the other (common random numbers). Runs with different seeds, replicas "
        "or time axes are refused unless --unpaired.",
    )
    p.add_argument("base", help="the base run (.nc)")
    p.add_argument("variant", help="the variant run (.nc)")
    p.add_argument(
        "--unpaired",
        action="store_true",
        help="compare runs that cannot be paired (independent draws; wider bands)",
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="TARGET",
        help=f"probability of reaching a target in each run: {TARGET_SYNTAX}",
    )
    p.add_argument(
        "--year",
        type=int,
        action="append",
        default=[],
        help="year to show (repeatable; default: the scenario's report_years)",
    )
    p.add_argument(
        "--band",
        type=float,
        default=90.0,
        choices=[50.0, 90.0],
        help="central band of the change to show, percent (default 90)",
    )
    p.add_argument(
        "--all-rows",
        action="store_true",
        help="show every quantity, also those that do not change (left out by default)",
    )
    p.add_argument("-o", "--output", help="write the comparison dataset to this NetCDF file")
    p.add_argument("--overwrite", action="store_true", help="replace the -o file if it exists")
    p.set_defaults(handler=_compare)

    p = subparsers.add_parser(
        "sensitivity",
        help="Sobol' indices or Morris effects from a sweep store",
        description="Sobol' first-order and total indices (saltelli design) or Morris mu*, "
        "sigma (morris design) of one output, from the mean over replicas at each point; "
        "over time and at one date.",
    )
    p.add_argument("store", help="the Zarr store written by `sim sweep`")
    p.add_argument(
        "--output",
        default="trade_turnover_annual",
        help="output variable (default trade_turnover_annual)",
    )
    p.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="DIM=LABEL",
        help="labels to keep (others summed), e.g. pair=UZ-KZ, kind=operation+indirect; "
        "turnover defaults to the scenario's first reported pair",
    )
    p.add_argument(
        "--at",
        help="year (or date for per-period outputs) of the table and bar chart (default: the last)",
    )
    p.add_argument(
        "--confidence", type=float, default=0.95, help="bootstrap interval level, in (0, 1)"
    )
    p.add_argument("--resamples", type=int, default=999, help="bootstrap resamples, 2 or more")
    p.add_argument("-o", "--out-dir", help="folder for the results (default: STORE_sensitivity)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace results of an earlier run in the folder"
    )
    p.set_defaults(handler=_sensitivity)

    p = subparsers.add_parser(
        "report",
        help="PNG charts and one self-contained HTML page for a run",
        description="Fan chart of trade turnover with observed targets, jobs by kind and "
        "sector, capital flows by sector, the project pipeline; with --compare, the change "
        "(this run minus the other) as a fan chart and tables.",
    )
    p.add_argument("run", help="the run (.nc)")
    p.add_argument("--compare", metavar="OTHER", help="another run: show RUN minus OTHER")
    p.add_argument("--unpaired", action="store_true", help="with --compare: unpaired comparison")
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="TARGET",
        help="with --compare: targets (see sim compare)",
    )
    p.add_argument(
        "-o",
        "--out-dir",
        help="folder for report.html and the PNGs (default: RUN_report next to the run)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an earlier report in the folder"
    )
    p.set_defaults(handler=_report)

    p = subparsers.add_parser(
        "rerun",
        help="rerun a result from its embedded scenario and check the numbers are the same",
        description="Checks the recorded data-file hashes, reruns the embedded scenario with "
        "the recorded seed, replicas and batch size and compares every variable. Exit 0 if "
        "identical, 1 if not, 2 if it cannot rerun (a sweep store or a static counterfactual "
        "is not a run).",
    )
    p.add_argument("result", help="a .nc file (or .zarr store) written by `sim run`")
    p.add_argument("--replicas", type=int, help="rerun only the first N replicas")
    p.add_argument(
        "--batch-size",
        type=int,
        help="replicas simulated together (default: the result's); another size moves the "
        "numbers at the solver's tolerance, so they are then compared within it",
    )
    p.set_defaults(handler=_rerun)

    p = subparsers.add_parser(
        "export",
        help="quantiles of output variables as a tidy CSV table (Excel, Stata)",
        description="One row per variable, label (year, region, pair...) and quantile over "
        "the replicas, with the variable's units.",
    )
    p.add_argument("run", help="a .nc file written by `sim run`")
    p.add_argument(
        "--var", action="append", required=True, metavar="NAME",
        help="output variable (repeatable), e.g. trade_turnover_annual",
    )  # fmt: skip
    p.add_argument(
        "--quantiles", default="5,50,95", help="percents, comma-separated (default 5,50,95)"
    )
    p.add_argument("-o", "--output", help="CSV file (default: RUN.quantiles.csv)")
    p.add_argument("--overwrite", action="store_true", help="replace the CSV file if it exists")
    p.set_defaults(handler=_export)


__all__ = ["format_sensitivity", "register"]

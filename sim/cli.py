"""Command line: ``sim run``, ``sim counterfactual``, ``sim calibrate``, ``sim validate``,
``sim describe``, ``sim inspect``.

User mistakes (any :class:`~sim.errors.SimError`) print their message and exit
with status 2, without a traceback; nothing is written.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
import time
from pathlib import Path

from sim import __version__
from sim.errors import SimError

# The engine (NumPy, xarray, SciPy: a second or more to import) is imported inside main(),
# where a Ctrl-C during start-up meets the same handler as one during the run.

DEFAULT_SCENARIO = "scenarios/uz_kz_khiva_2024.yaml"
COMMAND_MODULES = ("sim.sweep.cli", "sim.analysis.cli", "sim.estimation.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sim", description="Scenario engine for cross-border industrial cooperation."
    )
    parser.add_argument("--version", action="version", version=f"sim {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario and write NetCDF")
    run.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO, help="scenario YAML file")
    run.add_argument("-o", "--output", help="output file (default: output.path of the scenario)")
    run.add_argument("--replicas", type=int, help="override monte_carlo.replicas")
    run.add_argument("--seed", type=int, help="override monte_carlo.seed")
    run.add_argument("--batch-size", type=int, help="replicas simulated together")
    _blas_option(run)
    run.add_argument(
        "--data-root",
        action="append",
        default=[],
        help="another folder data files may be read from",
    )

    validate = sub.add_parser(
        "validate",
        help="check a scenario (or a sweep file) and its data without running it",
        description="Check a scenario file (or a sweep file) and every data file it names "
        "without running it: the extends chain, the schema, the rules between keys and the "
        "tables. Prints 'valid' and exits 0, or prints the first problem (file, line, key, "
        "what is allowed and how to fix it) and exits 2.",
    )
    validate.add_argument("scenario", help="scenario or sweep YAML file")
    validate.add_argument(
        "--data-root",
        action="append",
        default=[],
        help="another folder data files may be read from",
    )
    calibrate = sub.add_parser("calibrate", help="fit free parameters to observed targets")
    calibrate.add_argument("scenario")
    calibrate.add_argument(
        "-o", "--output", required=True, help="calibrated scenario to write (extends the original)"
    )
    calibrate.add_argument(
        "--until", type=int, help="fit on targets up to this year; report the later ones"
    )
    calibrate.add_argument(
        "--no-backtest",
        action="store_true",
        help="skip the backtest (a second fit on the earlier targets) of the fit report",
    )
    calibrate.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the calibrated scenario and its fit report if they exist",
    )
    counterfactual = sub.add_parser(
        "counterfactual",
        help="a static counterfactual: every policy at once, no calendar",
        description="Solve the general equilibrium of the scenario's baseline with every "
        "policy of the scenario in force at once (whatever its date), for every replica of "
        "the uncertain parameters: no growth, no projects, no calendar (as gegravity and "
        "Caliendo-Parro replications do). Writes the changes (trade, welfare, real wages, "
        "employment) as NetCDF or Zarr and prints a summary.",
    )
    counterfactual.add_argument("scenario", help="scenario YAML file")
    counterfactual.add_argument(
        "-o", "--output", help="output file (default: outputs/<name>.counterfactual.nc)"
    )
    counterfactual.add_argument("--replicas", type=int, help="override monte_carlo.replicas")
    counterfactual.add_argument("--seed", type=int, help="override monte_carlo.seed")
    counterfactual.add_argument(
        "--data-root",
        action="append",
        default=[],
        help="another folder data files may be read from",
    )
    _blas_option(counterfactual)
    counterfactual.set_defaults(handler=_counterfactual)
    inspect = sub.add_parser(
        "inspect",
        help="the model's numbers: multipliers, baseline or Leontief inverse",
        description="Print the scenario's Type I and Type II output and employment "
        "multipliers by region:sector (default), its baseline equilibrium (--baseline) or "
        "the Leontief inverse of its input-output table (--leontief), with units; or write "
        "them as a tidy CSV (--csv). Nothing is simulated. In a notebook: sim.inspect "
        "(docs/notebook.md).",
    )
    inspect.add_argument("scenario", help="scenario YAML file")
    shown = inspect.add_mutually_exclusive_group()
    for flag, what in (
        ("--multipliers", "output and employment multipliers by region:sector (default)"),
        ("--baseline", "the baseline: trade, import shares, output, value added, employment"),
        ("--leontief", "the Leontief inverse, rows and columns region:sector"),
    ):
        shown.add_argument(flag, dest="table", action="store_const", const=flag[2:], help=what)
    inspect.add_argument("--csv", metavar="OUT.csv", help="write a tidy CSV instead of printing")
    inspect.add_argument(
        "--overwrite", action="store_true", help="replace the --csv file if it exists"
    )
    inspect.add_argument(
        "--data-root",
        action="append",
        default=[],
        help="another folder data files may be read from",
    )
    inspect.set_defaults(handler=_inspect, table="multipliers")
    describe = sub.add_parser(
        "describe",
        help="print the scenario resolved (extends, defaults)",
        description="Print a scenario as the engine reads it: its extends chain merged, "
        "defaults filled in and shorthands expanded, as YAML. Nothing is run or written.",
    )
    describe.add_argument("scenario", help="scenario YAML file")
    # Commands that live with their subpackage register themselves: each module
    # has register(subparsers), whose parsers set a `handler(args) -> int` default.
    for module in COMMAND_MODULES:
        package = module.rsplit(".", 1)[0]
        try:
            if importlib.util.find_spec(package) and importlib.util.find_spec(module):
                importlib.import_module(module).register(sub)
        except ImportError as exc:
            # An optional dependency missing must not take the core commands down.
            logging.getLogger(__name__).debug("commands of %s unavailable: %s", module, exc)
    return parser


def _blas_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--blas-threads",
        type=int,
        metavar="N",
        help="BLAS threads while simulating (default 1, or SIM_BLAS_THREADS: the engine's "
        "small batched algebra runs fastest on one; docs/performance.md)",
    )


def _set_blas_threads(args: argparse.Namespace) -> None:
    """``--blas-threads N`` sets SIM_BLAS_THREADS, so that sweep workers inherit it."""
    from sim.threads import ENV, ThreadsError

    threads = getattr(args, "blas_threads", None)
    if threads is None:
        return
    if threads < 1:
        raise ThreadsError(
            f"--blas-threads {threads} is not a number of threads\n"
            "  allowed: a whole number >= 1\n"
            "  fix: pass --blas-threads 1 (the default) or the number of cores to give BLAS"
        )
    os.environ[ENV] = str(threads)


def _counterfactual(args: argparse.Namespace) -> int:
    """``sim counterfactual``: load, validate, build, draw, solve, collect, write."""
    from sim.api import load_scenario, prepare
    from sim.counterfactual import counterfactual, default_path
    from sim.results.guard import check_output, scenario_inputs
    from sim.results.stream import is_zarr
    from sim.results.write import write_dataset
    from sim.summary import counterfactual_table

    sc = load_scenario(
        args.scenario,
        replicas=args.replicas,
        seed=args.seed,
        data_roots=[Path(p) for p in args.data_root],
        overrides_from="command line",
    )
    model = prepare(sc)
    path = Path(args.output) if args.output else default_path(model)
    inputs = scenario_inputs(sc)
    # Refused before solving, not after: an earlier output (NetCDF, or a Zarr store that is
    # not a sweep store) is replaced, as by `sim run`; anything else there is refused.
    zarr = is_zarr(path)
    check_output(path, "zarr" if zarr else "file", inputs=inputs, format=None if zarr else "NetCDF")
    ds = counterfactual(model)
    write_dataset(ds, path, inputs=inputs)
    if not args.quiet:
        print(counterfactual_table(ds))
        print(f"\nwrote {path} ({ds.sizes['replica']} replicas)")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    """``sim inspect``: a table of the model's numbers on stdout, or a tidy CSV."""
    from sim.analysis import inspect
    from sim.analysis.export import write_export
    from sim.api import load_scenario, prepare
    from sim.results.guard import check_output, scenario_inputs
    from sim.scenario.validate import missing_run_inputs

    sc = load_scenario(args.scenario, data_roots=[Path(p) for p in args.data_root])
    lacking = [k for k in missing_run_inputs(sc) if k != "economy.growth"]
    if args.table in ("multipliers", "leontief") and lacking:
        # Without a table the multipliers would print as 1 and NaN: numbers of no table.
        raise sc.error(
            f"sim inspect --{args.table} needs {', '.join(lacking)}, which this scenario "
            "does not give",
            lacking[0],
            None,
            allowed="a scenario with an input-output table, wages and employment; "
            "--baseline for a trade-only scenario",
            hint="add input_output.coefficients (or input_output.mrio), economy.wage and "
            "economy.employment, or inspect --baseline",
        )
    target = Path(args.csv) if args.csv else None
    if target is not None:
        # Refused before any work: never over an input, an existing file only if asked.
        check_output(
            target, "file", inputs=scenario_inputs(sc), overwrite=args.overwrite,
            format="CSV table",
        )  # fmt: skip
    model = prepare(sc)
    view = {"multipliers": inspect.multipliers, "baseline": inspect.baseline}
    data = view[args.table](model) if args.table in view else inspect.leontief(model)
    if target is None:
        print(inspect.format_table(data))
        return 0
    table = inspect.tidy(data)
    write_export(table, target, run=Path(args.scenario), overwrite=args.overwrite)
    if not args.quiet:
        print(f"wrote {target} ({len(table)} rows: {args.table} of {sc.name})")
    return 0


#: Top-level keys of a sweep file that no scenario has.
SWEEP_KEYS = ("scenario", "design", "parameters")


def _is_sweep_file(path: Path) -> bool:
    """A sweep file has at least two of its three required keys (scenarios have none).

    Two, not all three: a sweep file missing one of them must be reported as
    a sweep file lacking that key, not as a scenario with unknown keys.
    """
    from sim.scenario.load import load_yaml_document

    try:
        head = load_yaml_document(path).data  # the hardened loader: no dates, no bombs
    except SimError:
        return False  # the scenario loader reports the problem with its file and line
    return isinstance(head, dict) and sum(key in head for key in SWEEP_KEYS) >= 2


def main(argv: list[str] | None = None) -> int:
    """Run the command line; Ctrl-C at any moment (start-up included) exits 130 quietly."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader closed the pipe (`sim compare ... | head`): what it read is complete.
        # Point stdout at /dev/null so that the interpreter's final flush does not fail
        # again (the Python documentation's recipe for SIGPIPE).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Accept -q/-v anywhere (`sim run X -q` as well as `sim -q run X`).
    flags = [a for a in argv if a in ("-q", "--quiet", "-v", "--verbose")]
    argv = flags + [a for a in argv if a not in flags]
    args = _parser().parse_args(argv)
    level = logging.ERROR if args.quiet else logging.DEBUG if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        from sim.api import check_batch_size, load_scenario, prepare, run_to_file
        from sim.progress import ProgressBar
        from sim.scenario.load import dump_yaml
        from sim.scenario.validate import missing_run_inputs
        from sim.summary import summary_table

        _set_blas_threads(args)
        if hasattr(args, "handler"):
            return int(args.handler(args))
        if args.command == "validate":
            if _is_sweep_file(Path(args.scenario)):
                from sim.sweep.plan import make_plan
                from sim.sweep.spec import read_sweep

                plan = make_plan(read_sweep(args.scenario))
                print(
                    f"{args.scenario}: valid sweep ({plan.points} points, {plan.runs} runs, "
                    f"{len(plan.batches)} batches)"
                )
                return 0
            sc = load_scenario(args.scenario, data_roots=[Path(p) for p in args.data_root])
            model = prepare(sc)  # reads and checks the data files too
            # Where `sim run` would write without -o, refused as a run would refuse it.
            from sim.api import check_output_variables, check_run_output, output_path
            from sim.results.guard import check_scenario_output

            target = output_path(sc)
            check_scenario_output(sc, target)
            check_run_output(target, sc)
            if not missing_run_inputs(sc):  # a trade-only scenario is not run by `sim run`
                check_output_variables(model)
            print(
                f"{args.scenario}: valid ({len(sc.region_ids)} regions, {len(sc.sector_ids)} "
                f"sectors, {len(model.projects)} projects, {model.calendar.periods} periods)"
            )
            missing = missing_run_inputs(sc)
            if missing:
                # Valid for what it can do: say what the calendar engine would still need.
                print(
                    f"  trade-only: runs with sim counterfactual; sim run also needs "
                    f"{', '.join(missing)}"
                )
            return 0
        if args.command == "calibrate":
            from sim.calibration import (
                calibrate,
                check_calibrated_output,
                data_outside,
                write_calibrated,
            )
            from sim.calibration_report import format_report

            sc = load_scenario(args.scenario)
            # Refused before the fit, not after minutes of it.
            check_calibrated_output(sc, Path(args.output), overwrite=args.overwrite)
            result = calibrate(sc, until=args.until, backtest=not args.no_backtest)
            out, report = write_calibrated(sc, result, Path(args.output), overwrite=args.overwrite)
            if not args.quiet:
                print(format_report(sc, result))
                print(f"wrote {out} and {report}")
            for warning in result.warnings:
                logging.getLogger("sim.calibration").warning(warning)
            outside = data_outside(sc, out.parent)
            if outside:
                # Data roots are the scenario's own folder tree: an extended base does not
                # open its folder, so the variant needs the original's data folder allowed.
                logging.getLogger("sim.calibration").warning(
                    "%s reads data outside its folder (%s); run it with --data-root %s",
                    out,
                    outside[0],
                    outside[0].parent,
                )
            return 0
        if args.command == "describe":
            print(dump_yaml(load_scenario(args.scenario).data), end="")
            return 0
        if args.scenario == DEFAULT_SCENARIO and not Path(DEFAULT_SCENARIO).is_file():
            raise SimError(
                f"no scenario was given, and the default one ({DEFAULT_SCENARIO}, relative to "
                "the current directory) is not here\n"
                "  allowed: sim run SCENARIO.yaml, or sim run in the repository's root folder\n"
                "  fix: give the scenario file, e.g. sim run path/to/scenario.yaml"
            )
        sc = load_scenario(
            args.scenario,
            replicas=args.replicas,
            seed=args.seed,
            data_roots=[Path(p) for p in args.data_root],
            overrides_from="command line",
        )
        check_batch_size(args.batch_size)
        started = time.perf_counter()
        bar = ProgressBar("replicas", enabled=False if args.quiet else None)
        # Without -o, the scenario's output.path (confined to its folder tree and outputs/).
        ds, path = run_to_file(sc, args.output, batch_size=args.batch_size, progress=bar)
        elapsed = time.perf_counter() - started
        if not args.quiet:
            print(summary_table(ds, sc.data))
            print(f"\nwrote {path} ({ds.sizes['replica']} replicas in {elapsed:.1f} s)")
        return 0
    except SimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

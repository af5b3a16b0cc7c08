"""``sim sweep``: run a parameter sweep into a resumable Zarr store.

Registered by :mod:`sim.cli` through :func:`register`. Exit status: 0 when every
point ran, 1 when some points failed (they are listed and recorded in the
store), 2 for a mistake in the sweep file, its scenario or the options (the
main CLI prints the :class:`~sim.errors.SimError`), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim.errors import SimError


def register(subparsers: Any) -> None:
    """Add the ``sweep`` command to ``sim``'s subparsers."""
    parser = subparsers.add_parser(
        "sweep",
        help="run a parameter sweep into a Zarr store (resumable)",
        description="Run every point of a sweep file (a base scenario, the parameters to vary "
        "and a design) and write one Zarr store. Running the same command again resumes: "
        "only batches without results are computed. See docs/sweeps.md.",
    )
    parser.add_argument("sweep", help="sweep file (YAML)")
    parser.add_argument("-o", "--output", help="Zarr store (default: output of the sweep file)")
    parser.add_argument(
        "--plan", action="store_true",
        help="print points, runs, batches, memory, output size and a time estimate; run nothing",
    )  # fmt: skip
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="local Dask cluster of N processes")
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler")
    where.add_argument("--slurm", action="store_true", help="workers as SLURM jobs")
    slurm = parser.add_argument_group("SLURM (override the sweep file's slurm section)")
    slurm.add_argument("--partition", help="SLURM partition (queue)")
    slurm.add_argument("--cores", type=int, help="cores per job, one worker process each")
    slurm.add_argument("--memory", help="memory per job, e.g. 4GB")
    slurm.add_argument("--walltime", help="time limit per job, e.g. 02:00:00")
    slurm.add_argument("--jobs", type=int, help="number of SLURM jobs")
    slurm.add_argument("--account", help="SLURM account")
    slurm.add_argument(
        "--scheduler-host", help="address the workers reach the client's scheduler at"
    )
    parser.add_argument("--points-per-task", type=int, metavar="N", help="points in one task")
    parser.add_argument("--replica-batch", type=int, metavar="N",
                        help="replicas simulated together within a point")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true",
                        help="start again if the store holds another sweep's results")  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress line")
    parser.set_defaults(handler=run_command)


def _positive(args: argparse.Namespace, name: str) -> None:
    value = getattr(args, name)
    if value is not None and value < 1:
        flag = "--" + name.replace("_", "-")
        raise SimError(f"{flag} must be at least 1 (got {value})\n  fix: pass {flag} 1 or more")


def backend_from(args: argparse.Namespace, sweep: Any) -> Any:
    """The backend the options ask for, SLURM options layered over the sweep file's."""
    from sim.sweep.execute import Backend

    slurm = sweep.slurm
    names = ("partition", "cores", "memory", "walltime", "jobs", "account", "scheduler_host")
    given = ["--" + n.replace("_", "-") for n in names if getattr(args, n) is not None]
    if given and not args.slurm:
        # Without --slurm no SLURM job is started: the options would be ignored in silence.
        raise SimError(
            f"{', '.join(given)} {'sets' if len(given) == 1 else 'set'} SLURM jobs, and the "
            "sweep runs without SLURM\n"
            "  allowed: the SLURM options together with --slurm\n"
            "  fix: add --slurm to run the workers as SLURM jobs, or drop "
            f"{', '.join(given)}"
        )
    for name in names:
        value = getattr(args, name)
        if value is not None:
            setattr(slurm, name, value)
    if args.workers is not None:
        return Backend("local", workers=args.workers, slurm=slurm)
    if args.scheduler is not None:
        return Backend("scheduler", address=args.scheduler, slurm=slurm)
    if args.slurm:
        return Backend("slurm", slurm=slurm)
    return Backend("process", slurm=slurm)


def run_command(args: argparse.Namespace) -> int:
    """Handle ``sim sweep``; return the exit status."""
    from sim.sweep.plan import describe_plan, make_plan, run_trial
    from sim.sweep.run import run_sweep, summarise
    from sim.sweep.spec import read_sweep
    from sim.sweep.store import batches_done

    for name in ("workers", "cores", "jobs", "points_per_task", "replica_batch"):
        _positive(args, name)
    sweep = read_sweep(
        args.sweep,
        output=args.output,
        points_per_task=args.points_per_task,
        replica_batch=args.replica_batch,
    )
    backend = backend_from(args, sweep)
    plan = make_plan(sweep)
    output = Path(sweep.output)
    if args.plan:
        done = batches_done(plan, output)
        print(describe_plan(plan, run_trial(plan), parallel=backend.parallel, done=done,
                            target=str(output)))  # fmt: skip
        return 0
    progress = False if args.no_progress or args.quiet else None
    try:
        outcome = run_sweep(plan, output, backend, overwrite=args.overwrite, progress=progress)
    except KeyboardInterrupt:
        print(
            f"interrupted; finished batches are kept in {output}: run the same command to resume",
            file=sys.stderr,
        )
        return 130
    if not args.quiet or outcome.failures:
        print(summarise(plan, outcome, backend))
    return 1 if outcome.failures else 0


__all__ = ["register", "run_command"]

"""Fill a sweep's store: create or resume it, run what is missing, consolidate, summarise."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import SimError
from sim.sweep.execute import Backend, Progress, run_batches
from sim.sweep.plan import Plan
from sim.sweep.runner import Job
from sim.sweep.store import (
    SWEEP_DIR,
    BatchReport,
    consolidate,
    finished_batches,
    locked_store,
    remove_stale_markers,
)


@dataclass
class Outcome:
    """What a ``sim sweep`` run did and what the store now holds."""

    store: Path
    batches: int
    already_done: int
    computed: int
    seconds: float
    failures: list[tuple[int, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.already_done + self.computed == self.batches


def run_sweep(
    plan: Plan,
    output: Path,
    backend: Backend,
    *,
    overwrite: bool = False,
    progress: bool | None = None,
) -> Outcome:
    """Run every batch of ``plan`` that ``output`` does not hold yet.

    Parameters
    ----------
    plan
        The sweep's plan.
    output
        The Zarr store: created if absent, resumed if it holds this plan.
    backend
        Where the batches run.
    overwrite
        Start again if ``output`` holds another sweep's results.
    progress
        Draw the progress line (default: when stderr is a terminal).

    Raises
    ------
    SimError
        When the store cannot be created, locked or written (a full disk, a
        quota): the message says how many points are finished and kept, and
        running the same sweep again resumes from them.
    """
    started = time.perf_counter()
    with locked_store(plan, output, overwrite=overwrite):
        # A marker that cannot be read counts as unfinished (a warning names it) and goes now.
        reports: dict[int, BatchReport] = finished_batches(output, plan.batches)
        remove_stale_markers(output, reports)
        already = len(reports)
        pending = [i for i in range(len(plan.batches)) if i not in reports]
        done_points = sum(r.stop - r.start for r in reports.values())
        bar = Progress(plan.points, done_points, enabled=progress)
        for report in reports.values():
            bar.failed += len(report.failures)

        def on_done(report: BatchReport) -> None:
            reports[report.index] = report
            bar.update(report)

        try:
            run_batches(
                Job.from_plan(plan, output), pending, backend, on_done, output / SWEEP_DIR / "slurm"
            )
        finally:
            bar.close()
        outcome = Outcome(
            store=output,
            batches=len(plan.batches),
            already_done=already,
            computed=len(reports) - already,
            seconds=time.perf_counter() - started,
            failures=sorted(f for r in reports.values() for f in r.failures),
        )
        if outcome.complete:
            try:
                consolidate(output)
            except OSError as exc:
                raise SimError(
                    f"could not finish the sweep store {output} (its consolidated metadata): "
                    f"{exc}\n"
                    f"  kept: all {plan.points} points are finished and kept, readable now with "
                    f"xarray.open_zarr({str(output)!r}, consolidated=False)\n"
                    "  fix: free space on that filesystem or make it writable (or move the store "
                    "and pass its new path with -o), then run the same `sim sweep` command "
                    "again: it computes nothing and only finishes the store"
                ) from exc
    return outcome


def summarise(plan: Plan, outcome: Outcome, backend: Backend) -> str:
    """The lines printed when a sweep ends: what ran, where, and every failed point."""
    sweep = plan.sweep
    lines = [
        f"sweep {sweep.path}: {plan.points} points x {sweep.replicas} replicas -> {outcome.store}",
        f"  {outcome.computed} of {outcome.batches} batches computed {backend.describe()} in "
        f"{outcome.seconds:.1f} s"
        + (f"; {outcome.already_done} were already done" if outcome.already_done else ""),
    ]
    if outcome.failures:
        lines.append(f"  {len(outcome.failures)} point(s) failed:")
        for point, message in outcome.failures:
            values = ", ".join(
                f"{key}={plan.values[point, j]:.6g}" for j, key in enumerate(sweep.keys)
            )
            first, *rest = message.splitlines() or [""]
            lines.append(f"    point {point} ({values}): {first}")
            lines.extend(f"      {line}" for line in rest)
    else:
        lines.append("  no point failed")
    return "\n".join(lines)


__all__ = ["Outcome", "run_sweep", "summarise"]

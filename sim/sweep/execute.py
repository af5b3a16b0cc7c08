"""Run a plan's pending batches in-process, on a Dask cluster or on SLURM.

Every backend calls the same :func:`~sim.sweep.runner.run_batch` on the same
batches, so they write the same bytes. On Dask, the job (scenario, design,
layout) is one task that every batch depends on: the scheduler keeps one copy
and recomputes it if the worker holding it dies, instead of shipping the
design with each of thousands of tasks.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import sim
from sim.errors import SimError
from sim.sweep.runner import Job, run_batch
from sim.sweep.spec import SlurmOptions
from sim.sweep.store import BatchReport

log = logging.getLogger(__name__)


@dataclass
class Backend:
    """Where batches run.

    Attributes
    ----------
    kind
        ``process`` (this process), ``local`` (a local Dask cluster of
        ``workers`` processes), ``scheduler`` (a running Dask scheduler at
        ``address``) or ``slurm`` (workers submitted as SLURM jobs).
    """

    kind: str = "process"
    workers: int = 1
    address: str | None = None
    slurm: SlurmOptions = field(default_factory=SlurmOptions)

    @property
    def parallel(self) -> int:
        """Workers expected to run batches at once (for estimates only)."""
        if self.kind == "local":
            return self.workers
        if self.kind == "slurm":
            return self.slurm.jobs * self.slurm.cores
        return 1

    def describe(self) -> str:
        return {
            "process": "in this process",
            "local": f"on a local Dask cluster of {self.workers} worker processes",
            "scheduler": f"on the Dask cluster at {self.address}",
            "slurm": f"on SLURM ({self.slurm.jobs} job(s) of {self.slurm.cores} core(s))",
        }[self.kind]


class Progress:
    """One status line on the client: points done of total, failures, rate, time left.

    Drawn only on a terminal; in a pipe or a log file it stays quiet and the
    final summary says what happened.
    """

    def __init__(self, total: int, done: int, *, stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:  # fmt: skip
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = total
        self.done = done
        self.failed = 0
        self.computed = 0
        self.started = time.perf_counter()
        self.draw()

    def update(self, report: BatchReport) -> None:
        points = report.stop - report.start
        self.done += points
        self.failed += len(report.failures)
        self.computed += points
        self.draw()

    def line(self) -> str:
        elapsed = time.perf_counter() - self.started
        rate = self.computed / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        eta = f"{left:.0f} s left" if math.isfinite(left) else "-- s left"
        return (
            f"[{bar}] {self.done}/{self.total} points, {self.failed} failed, "
            f"{rate:.1f} points/s, {eta}"
        )

    def draw(self) -> None:
        if self.enabled:
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def run_in_process(job: Job, pending: list[int], on_done: Callable[[BatchReport], None]) -> None:
    for index in pending:
        on_done(run_batch(job, index))


def _pass_job(job: Job) -> Job:
    """The job as a task result, so Dask keeps one copy and can recompute it."""
    return job


def run_batch_on_worker(job: Job, index: int) -> BatchReport | SimError:
    """:func:`~sim.sweep.runner.run_batch` as a Dask task: a SimError is the task's value.

    A SimError (a full store, a changed data file) is a message for the user,
    which the client raises; raised on the worker, it would also be logged
    there as a failed task, with a traceback, on the client's terminal.
    """
    try:
        return run_batch(job, index)
    except SimError as exc:
        return exc


def run_on_dask(
    client: Any, job: Job, pending: list[int], on_done: Callable[[BatchReport], None]
) -> None:
    """Submit one task per pending batch and report them as they finish."""
    from distributed import as_completed

    tag = job.identity[:12]
    job_future = client.submit(_pass_job, job, key=f"sim-sweep-job-{tag}", pure=False)
    futures = [
        client.submit(
            run_batch_on_worker,
            job_future,
            index,
            key=f"sim-sweep-{tag}-{index}",
            pure=False,
            priority=-index,
        )
        for index in pending
    ]
    for future in as_completed(futures):  # type: ignore[no-untyped-call]
        try:
            report = future.result()
        except Exception as exc:
            client.cancel(futures)
            index = int(str(future.key).rsplit("-", 1)[1])
            raise SimError(
                f"batch {index} could not be run: {type(exc).__name__}: {exc}\n"
                "  finished batches are kept; fix the cause and run the same command again "
                "to resume"
            ) from exc
        # Release the result at once: a dead worker must not make Dask recompute it.
        future.release()
        if isinstance(report, SimError):
            # Written for the user where it happened (a full store says what it keeps).
            client.cancel(futures)
            raise report
        on_done(report)


@contextlib.contextmanager
def dask_client(backend: Backend, log_dir: Path) -> Iterator[Any]:
    """A Dask client for the backend; its cluster (if we made one) closes with it."""
    import distributed  # noqa: F401 - sets its loggers up on import; adjust them after

    # The scheduler runs in this process; its INFO lines would drown the progress line.
    chatty = logging.getLogger("distributed")
    level = chatty.level
    if not log.isEnabledFor(logging.DEBUG):
        chatty.setLevel(logging.WARNING)
    try:
        with _client(backend, log_dir) as client:
            try:
                yield client
            except KeyboardInterrupt:
                # Ctrl-C: the cluster closes while its processes are going away, and every
                # lost connection would be logged with an asyncio traceback (28 KB of them);
                # the CLI prints one "interrupted" line instead.
                _silence_for_shutdown()
                raise
    finally:
        _restore_after_shutdown()
        chatty.setLevel(level)


#: Loggers that report a cluster's connections and tasks going away.
_SHUTDOWN_LOGGERS = ("distributed", "tornado", "asyncio", "dask_jobqueue")
_saved_levels: dict[str, int] = {}
_saved_sigint: list[Any] = []


def _silence_for_shutdown() -> None:
    """Quiet the cluster's loggers, and a second Ctrl-C, while the cluster closes."""
    if _saved_levels:
        return
    for name in _SHUTDOWN_LOGGERS:
        logger = logging.getLogger(name)
        _saved_levels[name] = logger.level
        logger.setLevel(logging.CRITICAL + 1)
    if threading.current_thread() is threading.main_thread():
        _saved_sigint.append(signal.signal(signal.SIGINT, signal.SIG_IGN))


def _restore_after_shutdown() -> None:
    for name, level in _saved_levels.items():
        logging.getLogger(name).setLevel(level)
    _saved_levels.clear()
    if _saved_sigint and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _saved_sigint.pop())


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Start a cluster's worker processes with SIGINT ignored.

    Ctrl-C in a terminal signals the whole process group: workers would each stop on
    their own (with a traceback when it hits one still starting) while the client stops
    the cluster. An ignored signal stays ignored across exec, so the workers started here
    leave Ctrl-C to the client; one pressed while the cluster starts (a second or two)
    is lost, and the next one stops the sweep.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _close_quietly(close: Callable[[], Any], cluster: Any = None) -> None:
    """Close a client or cluster after Ctrl-C: errors of the half-closed cluster are not news."""
    try:
        close()
    except Exception as exc:  # anything a half-closed cluster raises
        log.debug("closing after an interrupt: %s", exc)
    if cluster is not None:
        # distributed closes its clusters again at exit and prints a traceback when one
        # is half closed; this one is done with.
        instances = getattr(type(cluster), "_instances", None)
        if instances is not None:
            instances.discard(cluster)


@contextlib.contextmanager
def _client(backend: Backend, log_dir: Path) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    if backend.kind == "local":
        # One thread per worker: the engine is NumPy-bound and holds the GIL between calls.
        cluster = None
        try:
            with _sigint_ignored():
                cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=backend.workers, threads_per_worker=1, processes=True,
                    # Workers report failures through their batches; their own log would
                    # only add lost-connection errors when the client stops the cluster.
                    dashboard_address=None, silence_logs=logging.CRITICAL,
                )  # fmt: skip
                client = Client(cluster)  # type: ignore[no-untyped-call]
        except BaseException:
            if cluster is not None:
                _close_quietly(cluster.close, cluster)
            raise
        interrupted = False
        try:
            yield client
        except KeyboardInterrupt:
            interrupted = True
            _silence_for_shutdown()
            _close_quietly(client.close)
            _close_quietly(cluster.close, cluster)
            raise
        finally:
            if not interrupted:
                client.close()  # type: ignore[no-untyped-call]
                cluster.close()
    elif backend.kind == "scheduler":
        try:
            client = Client(backend.address, timeout="30s")  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise SimError(
                f"cannot reach the Dask scheduler at {backend.address}: {exc}\n"
                "  fix: check the address (tcp://HOST:PORT) and that the scheduler runs"
            ) from exc
        with client:
            yield client
    else:
        with (
            slurm_cluster(backend.slurm, log_dir) as cluster,
            Client(cluster) as client,  # type: ignore[no-untyped-call]
        ):
            submit_jobs(cluster, backend.slurm.jobs)
            try:
                client.wait_for_workers(1, timeout=backend.slurm.start_timeout)
            except TimeoutError:
                raise SimError(
                    f"no SLURM worker started within {backend.slurm.start_timeout:.0f} s\n"
                    f"  fix: check the jobs with squeue and their logs in {log_dir}; the "
                    "partition, memory and walltime must fit the cluster"
                ) from None
            yield client


@contextlib.contextmanager
def slurm_cluster(options: SlurmOptions, log_dir: Path) -> Iterator[Any]:
    """dask-jobqueue's SLURMCluster: each job runs ``cores`` single-threaded workers."""
    try:
        from dask_jobqueue import SLURMCluster  # type: ignore[attr-defined]
    except ImportError:
        raise SimError("--slurm needs dask-jobqueue\n  fix: pip install dask-jobqueue") from None
    # Workers import the same sim as this client, wherever the job starts.
    root = Path(sim.__file__).resolve().parents[1]
    prologue = [f'export PYTHONPATH="{root}${{PYTHONPATH:+:$PYTHONPATH}}"', *options.prologue]
    log_dir.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {
        "queue": options.partition, "account": options.account, "cores": options.cores,
        "processes": options.cores, "memory": options.memory, "walltime": options.walltime,
        "job_script_prologue": prologue, "job_extra_directives": options.directives,
        "log_directory": str(log_dir), "python": sys.executable, "silence_logs": "error",
    }  # fmt: skip
    if options.scheduler_host:
        kwargs["scheduler_options"] = {"host": options.scheduler_host}
    try:
        cluster = SLURMCluster(**kwargs)
    except (OSError, ValueError) as exc:
        raise SimError(f"could not start the SLURM cluster: {exc}") from exc
    with cluster:
        yield cluster


def submit_jobs(cluster: Any, jobs: int) -> None:
    """Submit ``jobs`` worker jobs and wait for ``sbatch``'s answer; a refusal stops here.

    ``cluster.scale`` submits in the background: a failed ``sbatch`` (no
    SLURM configuration, an unknown partition or account) only shows as a
    tornado "Exception in callback" traceback, and the client would then wait
    ``start_timeout`` for workers that were never submitted. So the jobs are
    added to the cluster's spec and the cluster brought to it in the
    foreground, as SpecCluster does when it starts, and sbatch's error is
    raised here.

    Raises
    ------
    SimError
        If ``sbatch`` cannot be run, fails, or prints no job id: what it said,
        what ``--slurm`` needs, how to fix it. Jobs submitted before the
        failure are cancelled when the cluster closes.
    """
    from distributed.core import Status

    for _ in range(jobs):
        cluster.worker_spec.update(cluster.new_worker_spec())
    try:
        cluster.sync(cluster._correct_state)
    except (OSError, RuntimeError, ValueError) as exc:
        # Closing the cluster cancels the jobs that were submitted. It asserts that every
        # job object still alive is closed or failed, and dask-jobqueue marks neither: so
        # the jobs never submitted are marked failed, and the traceback, whose frames hold
        # every job object, is dropped.
        exc.__traceback__ = None
        for name in [n for n, j in cluster.workers.items() if getattr(j, "job_id", None) is None]:
            cluster.workers[name].status = Status.failed
        raise submission_failed(exc) from None


def submission_failed(exc: BaseException) -> SimError:
    """The three-part error for a refused ``sbatch``, quoting what it printed."""
    text = str(exc)
    said = re.search(r"^stderr:\n(.*)", text, re.MULTILINE | re.DOTALL)
    status = re.search(r"^Exit code: (-?[0-9]+)", text, re.MULTILINE)
    if isinstance(exc, OSError):
        what = f"`sbatch` could not be run: {exc}"
    elif isinstance(exc, RuntimeError) and said and status:
        out = re.search(r"^stdout:\n(.*?)^stderr:", text, re.MULTILINE | re.DOTALL)
        message = said[1].strip() or (out[1].strip() if out else "") or "(it printed nothing)"
        what = f"`sbatch` exited with status {status[1]}:\n" + "\n".join(
            f"    {line}" for line in message.splitlines()
        )
    else:
        what = f"`sbatch` failed: {text.strip()}"
    return SimError(
        f"could not submit the SLURM worker jobs: {what}\n"
        "  allowed: --slurm where `sbatch` can submit jobs (a login node of the cluster, with "
        "its SLURM configuration), to a partition and account that exist, asking for memory "
        "and walltime the partition allows\n"
        "  fix: check that `sinfo` lists the partition and that `sbatch --test-only` accepts "
        "a job of the same size here; correct the slurm section or options; or run on this "
        "machine without --slurm (--workers N). Nothing was computed; the same command resumes "
        "the store"
    )


def run_batches(
    job: Job,
    pending: list[int],
    backend: Backend,
    on_done: Callable[[BatchReport], None],
    log_dir: Path,
) -> None:
    """Run ``pending`` batches on ``backend``, calling ``on_done`` as each one finishes."""
    if not pending:
        return
    if backend.kind == "process":
        run_in_process(job, pending, on_done)
        return
    with dask_client(backend, log_dir) as client:
        run_on_dask(client, job, pending, on_done)


__all__ = ["Backend", "Progress", "run_batches", "submit_jobs"]

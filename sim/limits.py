"""Refuse runs that cannot fit, before anything is allocated.

The estimates are deliberately simple and on the safe side: the output's
arrays (float64, counted from the model's dimensions), the peak while a run
concatenates its batches and labels the dataset (about 2.5 times the output),
and the working arrays of one batch.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

from sim.engine.model import Model
from sim.engine.outputs import static_shapes
from sim.kernels.equilibrium_accounts import DENSE_SPENDING_LIMIT, JACOBIAN_BATCH_ELEMENTS

#: Peak memory of a run relative to its output (batches, concatenation, derived variables).
PEAK_FACTOR = 2.5


def _gib(n: float) -> str:
    """``n`` bytes in the unit that shows them: B, KiB, MiB or GiB (``_gib(512)`` is ``512 B``)."""
    for unit in ("B", "KiB", "MiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"


def output_bytes(model: Model, replicas: int) -> int:
    """Bytes of the output dataset's arrays for ``replicas`` replicas."""
    n_r, n_s, n_p = model.shape
    t = model.calendar.periods
    y = len(set(model.calendar.years.tolist()))
    pairs = n_r * (n_r - 1) // 2
    per_period = (
        n_r * n_r * n_s  # trade
        + pairs  # turnover
        + n_r  # exports
        + 2 * n_r * n_s  # output, price
        + 2 * n_r  # real income and its change
        + n_r * n_r * n_s  # capital flow by project sector
        + 3 * n_r * n_r  # other and total capital flow, investment goods
        + 4 * n_r * n_s  # jobs
        + 3 * n_r * n_s  # value added, employment and its net change
        + 4 * n_r  # tariff revenue, GDP, real wage
        + 2 * n_r * n_r  # migration flow and stock
        + n_r  # wage
        + 6  # projects by stage
        + 1  # solver iterations
    )
    per_year = pairs + n_r * n_r + 7 * n_r + 2  # ... and jobs per direct job (2 accounts)
    # Per replica, not per period: employment multipliers (sectors', projects'), plant
    # productivity.
    per_replica = sum(math.prod(shape) for shape in static_shapes(model).values())
    if model.scenario.data.get("prices"):
        # The *_current twins of the money variables and the price level.
        per_period += (
            n_r * n_r * n_s + pairs + 2 * n_r + 2 * n_r * n_s + 3 * n_r
            + n_r * n_r * n_s + 3 * n_r * n_r + n_r
        )  # fmt: skip
        per_year += pairs + n_r + n_r * n_r
    floats = replicas * (t * per_period + y * per_year + per_replica)
    return 8 * floats + replicas * t * n_p  # project stages are int8


def batch_bytes(model: Model, batch: int) -> int:
    """Working memory of one batch: drawn paths, state and the solver's Jacobian."""
    n_r, n_s, n_p = model.shape
    t = model.calendar.periods
    rs = n_r * n_s
    markets = model.labour_markets.count
    floats = batch * (
        t * (n_r * n_s + n_r * n_r * n_s + n_r * n_r)  # growth, trend and other-investment paths
        + 12 * n_r * n_r * n_s  # cost, state and solver temporaries
        # Newton's Jacobian over the labour markets, and the dense spending system
        + 3 * markets * markets
        + (3 * rs * rs if rs <= DENSE_SPENDING_LIMIT else 0)
        + 17 * n_p  # project state, and the stage events' work list (5 dates per project)
    )
    # The Jacobian's perturbed points are evaluated in chunks of bounded size (about ten
    # arrays of the chunk's points), whatever the batch.
    points = batch * markets * (n_r * rs + (rs * rs if rs <= DENSE_SPENDING_LIMIT else 0))
    return 8 * (floats + 10 * min(points, JACOBIAN_BATCH_ELEMENTS))


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux MemAvailable), if known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(model: Model, replicas: int, batch: int) -> None:
    """Raise a ScenarioError if the run's estimated peak memory exceeds the allowed share."""
    limit = float(model.scenario.data["monte_carlo"]["memory_limit"])
    available = available_memory()
    if available is None:
        return
    out = output_bytes(model, replicas)
    peak = PEAK_FACTOR * out + batch_bytes(model, min(batch, replicas))
    if peak > limit * available:
        raise model.scenario.error(
            f"the run needs about {_gib(peak)} of memory (output {_gib(out)} for {replicas} "
            f"replicas), more than {limit:.0%} of the {_gib(available)} available",
            "monte_carlo.replicas",
            replicas,
            allowed=f"an estimated peak below {_gib(limit * available)}",
            hint="write the run to a file instead (sim run, sim.api.run_to_file), which holds one "
            "batch at a time; or lower monte_carlo.replicas (or --replicas), keep fewer "
            "output.variables, lower monte_carlo.batch_size, or raise monte_carlo.memory_limit",
        )


def check_disk(model: Model, replicas: int, path: Path) -> None:
    """Raise a ScenarioError if the output may not fit on the target's filesystem."""
    folder = Path(path).resolve().parent
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    need = output_bytes(model, replicas)  # uncompressed: an upper bound
    if need > free:
        raise model.scenario.error(
            f"the output may need up to {_gib(need)} but {folder} has {_gib(free)} free",
            "output.path",
            str(path),
            allowed=f"a folder with at least {_gib(need)} free",
            hint="write elsewhere (-o), lower the replicas or keep fewer output.variables",
        )

"""A batch's equilibrium solved in replica parts, side by side in threads.

Replicas are independent economies: the solver never mixes them, so a batch can be
cut into parts solved at the same time. NumPy releases the interpreter lock inside
its loops, so on a machine with two cores two parts take about 0.6 of the time of
one batch (docs/performance.md, "Replica parts"). How many parts a batch is cut into
is the scenario's (``monte_carlo.solver_parts``), never the machine's: a part's
result may differ from the whole batch's at the solver's tolerance (up to 5e-10
relative: convergence and fresh Jacobians are decided for the part), and a rerun on another
machine must give the same numbers. Only the threads that run the parts follow the
machine's cores.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.kernels.equilibrium import EquilibriumSolution

#: Smallest part worth a thread: below it the per-call overheads of NumPy dominate.
PART_MIN = 64
#: Labour markets from which ``solver_parts: 0`` (automatic) solves in two parts: with
#: 200, two parts on two cores took 0.55-0.7 of the time; on the seed (a few markets),
#: where the solve is a small part of a period, 1.1x more (docs/performance.md).
AUTO_MARKETS = 64


def choose_parts(setting: int, markets: int) -> int:
    """Parts for ``monte_carlo.solver_parts`` (0: automatic) and ``markets`` unknowns."""
    if setting > 0:
        return setting
    return 2 if markets >= AUTO_MARKETS else 1


def split_replicas(count: int, parts: int) -> list[slice]:
    """Cut ``count`` replicas into at most ``parts`` contiguous parts of at least
    :data:`PART_MIN` (one part when the batch is smaller than two of them)."""
    used = max(1, min(parts, count // PART_MIN))
    edges = np.linspace(0, count, used + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in pairwise(edges.tolist())]


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class PartSolver:
    """Solves one batch's equilibria part by part, and keeps each part's inverse
    Newton matrices for its next solve.

    Parameters
    ----------
    count : int
        Replicas in the batch.
    parts : int
        ``monte_carlo.solver_parts``.
    threads : int, optional
        Threads that run the parts (default: the available cores, at most the parts).
    """

    def __init__(self, count: int, parts: int, threads: int | None = None) -> None:
        self.count = count
        self.slices = split_replicas(count, parts)
        workers = min(len(self.slices), available_cores() if threads is None else threads)
        self.pool = ThreadPoolExecutor(workers) if workers > 1 else None

    def solve(
        self,
        solve: Callable[..., EquilibriumSolution],
        per_replica: dict[str, Any],
        shared: dict[str, Any],
        inverses: list[NDArray[np.float32]] | None,
        unused: tuple[str, ...] = (),
    ) -> tuple[EquilibriumSolution, list[NDArray[np.float32]]]:
        """``solve(**shared, **per_replica)`` for every part; the merged solution and the
        parts' inverse Newton matrices (each part updates its own in place).

        ``per_replica`` holds arrays with a leading replica axis (or ``None``), cut
        into parts; ``shared`` is passed whole; ``inverses`` are the last solve's.
        ``unused`` names fields of the solution the caller does not read: where a batch
        is solved in parts they are not merged (empty stacks, see :func:`merge_solutions`).
        """

        def run(k: int) -> EquilibriumSolution:
            part = self.slices[k]
            args = {
                name: None if value is None else _part(value, part, self.count)
                for name, value in per_replica.items()
            }
            inverse = None if inverses is None else inverses[k]
            return solve(**shared, **args, inverse_jacobian=inverse, overwrite_inverse=True)

        indices = range(len(self.slices))
        if self.pool is None:
            solutions = [run(k) for k in indices]
        else:
            solutions = list(self.pool.map(run, indices))
        carried = [s.inverse_jacobian.astype(np.float32, copy=False) for s in solutions]
        return merge_solutions(solutions, unused), carried

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def _part(value: Any, part: slice, count: int) -> Any:
    """The part of a per-replica array (leading axis ``count``); others whole."""
    if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == count:
        return value[part]
    return value


def merge_solutions(
    solutions: list[EquilibriumSolution], unused: tuple[str, ...] = ()
) -> EquilibriumSolution:
    """One solution of the parts' replicas, in order (the slowest part's iterations).

    Their inverse Newton matrices, and the fields named in ``unused``, are not merged:
    each is an empty stack (zero replicas, the field's other dimensions). Each part keeps
    its own inverse (PartSolver carries them); copying them would cost 80 MB a period at
    500 replicas and 200 labour markets, and copying the trade shares (N, R, R, S), which
    the engine does not read, 0.16 s a 500-replica batch at 10 x 20.
    """
    if len(solutions) == 1:
        return solutions[0]
    merged: dict[str, Any] = {}
    for field in fields(EquilibriumSolution):
        values = [getattr(s, field.name) for s in solutions]
        if field.name == "iterations":
            merged[field.name] = max(values)
        elif field.name == "inverse_jacobian" or field.name in unused:
            merged[field.name] = np.empty((0, *values[0].shape[1:]), dtype=values[0].dtype)
        else:
            merged[field.name] = np.concatenate(values)
    return EquilibriumSolution(**merged)

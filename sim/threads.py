"""BLAS threads while the engine computes.

The engine's linear algebra is many small, batched operations (per-period solves of a few
dozen unknowns per replica, products with region-sector matrices of a few hundred rows):
a multithreaded BLAS spends more time starting and synchronising its threads than
computing, and on a shared machine its threads compete with other work. Measured (docs/
performance.md, "Threads"): one BLAS thread is as fast on the seed and 3x faster on the
10 x 20 case than two. The engine therefore runs its simulation and counterfactual solves
with one BLAS thread unless told otherwise: ``SIM_BLAS_THREADS`` in the environment, or
``--blas-threads`` on the command line (which sets it, so sweep workers inherit it).
Parallelism across replicas comes from batching, from replica parts solved side by side
in threads (:mod:`sim.engine.parts`) and from sweep workers, not from BLAS.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sim.errors import SimError

#: Environment variable that sets the number of BLAS threads.
ENV = "SIM_BLAS_THREADS"
#: Threads when it is not set (measured; see the module docstring).
DEFAULT = 1


class ThreadsError(SimError):
    """An invalid number of BLAS threads."""


def blas_threads() -> int:
    """The number of BLAS threads to use: ``SIM_BLAS_THREADS``, else :data:`DEFAULT`."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return DEFAULT
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ThreadsError(
            f"{ENV}={text!r} is not a number of threads\n"
            "  allowed: a whole number >= 1\n"
            f"  fix: set {ENV}=1 (the default) or the number of cores to give BLAS, or unset it"
        )
    return value


@contextmanager
def limit_blas(threads: int | None = None) -> Iterator[int]:
    """Run the block with ``threads`` BLAS threads (default :func:`blas_threads`); yields it."""
    from threadpoolctl import threadpool_limits  # imported here: `sim --help` stays light

    count = blas_threads() if threads is None else threads
    with threadpool_limits(limits=count, user_api="blas"):
        yield count

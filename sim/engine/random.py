"""The run's one seeding path: keyed, replica-addressable random streams.

The root seed is split with :class:`numpy.random.SeedSequence` into one stream
per *key* (a project id, a parameter's key path), using the key's hash as the
spawn key, so adding a project or a parameter leaves every other stream
unchanged. Within a stream, replica ``k`` owns a fixed block of a counter-based
Philox generator, reached with :meth:`~numpy.random.Philox.advance`: replica
``k`` gets bitwise the same draws whether it is simulated in a batch of 10 or
of 10,000, and a batch costs one generator per key, not one per replica.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

#: Stream kinds, part of the spawn key so that a parameter and a project
#: sharing a name never share draws.
PARAMETER, PROJECT = 1, 2


def key_hash(key: str) -> int:
    """A stable 32-bit integer for a text key (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "little")


class Streams:
    """Uniform draws for a contiguous range of replicas.

    Parameters
    ----------
    seed : int
        The run's root seed.
    first : int
        Index of the first replica of the batch.
    count : int
        Number of replicas in the batch.
    """

    def __init__(self, seed: int, first: int, count: int) -> None:
        self.seed = int(seed)
        self.first = int(first)
        self.count = int(count)

    def uniforms(self, kind: int, key: str, size: int) -> NDArray[np.float64]:
        """``size`` uniform draws in (0, 1) per replica, shape (count, size)."""
        state = np.random.SeedSequence(self.seed, spawn_key=(kind, key_hash(key)))
        bit_gen = np.random.Philox(key=state.generate_state(2, np.uint64))
        blocks = -(-size // 4)  # Philox yields 4 words per counter step
        bit_gen.advance(self.first * blocks)
        draws = np.random.Generator(bit_gen).random((self.count, 4 * blocks))[:, :size]
        # random() can return exactly 0.0; inverse CDFs need the open interval.
        result: NDArray[np.float64] = np.clip(draws, 1e-16, 1.0 - 1e-16)
        return result

"""Draw a scenario's numeric parameters for a batch of replicas.

A parameter written as a number is the same in every replica; one written as
a distribution is drawn once per replica from the stream keyed by its key path
(:mod:`sim.engine.random`), so its draws do not depend on the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.engine.random import PARAMETER, Streams
from sim.kernels.draws import quantile

FloatArray = NDArray[np.float64]


class Sampler:
    """Turn parameter specifications into per-replica arrays for one batch."""

    def __init__(self, streams: Streams) -> None:
        self.streams = streams
        #: key path -> drawn values, for the record of what each replica used.
        self.drawn: dict[str, FloatArray] = {}

    @property
    def replicas(self) -> int:
        return self.streams.count

    def value(self, spec: Any, key: str) -> FloatArray:
        """Shape (N,): a constant or a per-replica draw."""
        if isinstance(spec, dict):
            params = {k: float(v) for k, v in spec.items() if k != "dist"}
            u = self.streams.uniforms(PARAMETER, key, 1)[:, 0]
            values = quantile(str(spec["dist"]), params, u)
            self.drawn[key] = values
            return values
        return np.full(self.replicas, float(spec))

    def by(self, spec: Any, key: str, ids: Sequence[str]) -> FloatArray:
        """Shape (N, len(ids)) from a number, a distribution or a mapping by id."""
        if isinstance(spec, dict) and "dist" not in spec:
            return np.stack([self.value(spec[i], f"{key}.{i}") for i in ids], axis=1)
        return np.repeat(self.value(spec, key)[:, None], len(ids), axis=1)

    def series(self, spec: Any, key: str, years: NDArray[np.int64]) -> FloatArray:
        """Shape (N, T): the value in force in each period's year.

        A mapping ``year: value`` holds each value from its year until the next
        one; years before the first entry take the first value.
        """
        if not (isinstance(spec, dict) and "dist" not in spec):
            return np.repeat(self.value(spec, key)[:, None], len(years), axis=1)
        keys = sorted(int(y) for y in spec)
        values = np.stack([self.value(spec[str(y)], f"{key}.{y}") for y in keys], axis=1)
        position = np.clip(np.searchsorted(keys, years, side="right") - 1, 0, len(keys) - 1)
        out: FloatArray = values[:, position]
        return out

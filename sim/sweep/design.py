"""Place the points of a sweep: grids, space-filling samples, Saltelli and Morris designs.

Every design first places points in the unit cube ``[0, 1]^d`` (one column per
parameter) and then maps each column onto its parameter: a range linearly, a
distribution through its inverse CDF, a list of values by equal-width bins. The
unit coordinates are kept in the store (``point_unit``) because the
sensitivity measures are defined on them (Morris steps, for instance, are
``delta`` in unit space whatever the parameter's scale).

Point order is part of the store contract (``docs/sweeps.md``):

- ``saltelli``: ``[A; B; AB_0; ...; AB_{d-1}]``, ``n`` rows each, where
  ``AB_i`` is ``A`` with column ``i`` taken from ``B`` -- the layout
  :func:`scipy.stats.sobol_indices` takes as ``func={'f_A', 'f_B', 'f_AB'}``;
- ``morris``: trajectory after trajectory, ``d + 1`` points each, consecutive
  points differing in exactly one parameter by ``delta = p / (2 (p - 1))``.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray
from scipy.stats import qmc

from sim.kernels.draws import quantile
from sim.sweep.spec import Design, Parameter

FloatArray = NDArray[np.float64]
#: Inverse CDFs need the open interval; scrambled points can come within 2**-64 of an edge.
_EDGE = 1e-12


def to_values(param: Parameter, unit: FloatArray) -> FloatArray:
    """Map unit coordinates of one parameter onto its scale."""
    if param.kind == "range":
        return param.low + unit * (param.high - param.low)
    if param.kind == "values":
        values = np.asarray(param.values, dtype=np.float64)
        index = np.minimum((unit * len(values)).astype(np.int64), len(values) - 1)
        return values[index]
    u = np.clip(unit, _EDGE, 1.0 - _EDGE)
    return quantile(param.family, dict(param.params), u)


def grid_levels(param: Parameter) -> tuple[FloatArray, FloatArray]:
    """(unit coordinates, values) of a parameter's grid levels."""
    if param.kind == "values":
        n = len(param.values)
        return (np.arange(n) + 0.5) / n, np.asarray(param.values, dtype=np.float64)
    assert param.levels is not None  # checked when the sweep file was read
    if param.kind == "range":
        unit = np.linspace(0.0, 1.0, param.levels)
    else:
        # Equal-probability levels: the midpoints of `levels` quantile bins.
        unit = (np.arange(param.levels) + 0.5) / param.levels
    return unit, to_values(param, unit)


def grid(params: list[Parameter]) -> tuple[FloatArray, FloatArray]:
    """Full factorial design, the last parameter varying fastest."""
    levels = [grid_levels(p) for p in params]
    index = np.array(list(itertools.product(*(range(len(u)) for u, _ in levels))), dtype=np.int64)
    unit = np.stack([levels[j][0][index[:, j]] for j in range(len(params))], axis=1)
    values = np.stack([levels[j][1][index[:, j]] for j in range(len(params))], axis=1)
    return unit, values


def explicit(params: list[Parameter]) -> tuple[FloatArray, FloatArray]:
    """Points listed value by value; there are no unit coordinates (NaN)."""
    values = np.stack([np.asarray(p.values, dtype=np.float64) for p in params], axis=1)
    return np.full_like(values, np.nan), values


def saltelli_unit(n: int, d: int, seed: int) -> FloatArray:
    """Unit points ``[A; B; AB_0; ...; AB_{d-1}]`` from one scrambled Sobol' sequence in 2d.

    As in :func:`scipy.stats.sobol_indices`: the first d columns of the
    sequence are A, the last d are B.
    """
    both = qmc.Sobol(2 * d, scramble=True, rng=np.random.default_rng(seed)).random(n)
    a, b = both[:, :d], both[:, d:]
    blocks = [a, b]
    for i in range(d):
        ab = a.copy()
        ab[:, i] = b[:, i]
        blocks.append(ab)
    return np.concatenate(blocks, axis=0)


def morris_unit(trajectories: int, d: int, levels: int, seed: int) -> FloatArray:
    """Morris (1991) one-at-a-time trajectories on a ``levels``-level grid.

    Each trajectory starts at a random grid point, then moves every parameter
    once, in random order, by ``delta = p / (2 (p - 1))`` up or down. Work is
    done in integer level indices so that steps are exact.
    """
    rng = np.random.default_rng(seed)
    half = levels // 2  # delta in level indices
    out = []
    for _ in range(trajectories):
        base = rng.integers(0, half, size=d)  # levels from which a step up stays on the grid
        up = rng.random(d) < 0.5
        x = np.where(up, base, base + half)
        points = [x.copy()]
        for i in rng.permutation(d):
            x[i] += half if up[i] else -half
            points.append(x.copy())
        out.append(np.stack(points))
    return np.concatenate(out, axis=0).astype(np.float64) / (levels - 1)


def morris_values(param: Parameter, unit: FloatArray, levels: int) -> FloatArray:
    """Morris grid levels on a parameter's scale.

    A distribution maps level ``j`` to the midpoint of the ``j``-th of
    ``levels`` equal-probability bins, since its 0 and 1 quantiles may be
    infinite; a range maps the unit interval linearly.
    """
    if param.kind == "distribution":
        return to_values(param, (unit * (levels - 1) + 0.5) / levels)
    return to_values(param, unit)


def place_points(design: Design, params: list[Parameter]) -> tuple[FloatArray, FloatArray]:
    """The design's points: ``(unit, values)``, each of shape (points, parameters)."""
    d = len(params)
    if design.kind == "grid":
        return grid(params)
    if design.kind == "list":
        return explicit(params)
    rng = np.random.default_rng(design.seed)
    if design.kind == "morris":
        assert design.trajectories is not None
        unit = morris_unit(design.trajectories, d, design.levels, design.seed)
        values = np.stack(
            [morris_values(p, unit[:, j], design.levels) for j, p in enumerate(params)], axis=1
        )
        return unit, values
    assert design.samples is not None
    if design.kind == "lhs":
        unit = qmc.LatinHypercube(d, rng=rng).random(design.samples)
    elif design.kind == "sobol":
        unit = qmc.Sobol(d, scramble=True, rng=rng).random(design.samples)
    else:
        unit = saltelli_unit(design.samples, d, design.seed)
    values = np.stack([to_values(p, unit[:, j]) for j, p in enumerate(params)], axis=1)
    return unit, values


__all__ = ["morris_unit", "place_points", "saltelli_unit", "to_values"]

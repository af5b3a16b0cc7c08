"""Designs: grids, space-filling samples, the Saltelli layout scipy accepts, Morris steps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.sweep.design import place_points, to_values
from sim.sweep.spec import Design, Parameter


def rng(key: str, low: float, high: float, index: int = 0, levels: int | None = None) -> Parameter:
    return Parameter(key, "range", index, low=low, high=high, levels=levels)


def test_grid_is_the_full_product_last_parameter_fastest() -> None:
    params = [
        rng("a", 0.0, 1.0, levels=3),
        Parameter("b", "values", 1, values=(10.0, 20.0)),
        Parameter("c", "distribution", 2, family="normal", params=(("mean", 0.0), ("sd", 1.0)),
                  levels=2),
    ]  # fmt: skip
    unit, values = place_points(Design("grid"), params)
    assert values.shape == (12, 3)
    assert values[:4].tolist() == [
        [0.0, 10.0, pytest.approx(-0.6744897501960817)],
        [0.0, 10.0, pytest.approx(0.6744897501960817)],
        [0.0, 20.0, pytest.approx(-0.6744897501960817)],
        [0.0, 20.0, pytest.approx(0.6744897501960817)],
    ]  # fmt: skip
    assert sorted(set(values[:, 0])) == [0.0, 0.5, 1.0]
    # Distribution levels are the medians of equal-probability bins: quartiles for two levels.
    assert unit[:2, 2].tolist() == [0.25, 0.75]
    assert len({tuple(row) for row in values}) == 12


def test_list_design_takes_values_position_by_position() -> None:
    params = [Parameter("a", "values", 0, values=(1.0, 2.0)),
              Parameter("b", "values", 1, values=(5.0, 3.0))]  # fmt: skip
    unit, values = place_points(Design("list"), params)
    assert values.tolist() == [[1.0, 5.0], [2.0, 3.0]]
    assert np.isnan(unit).all()


@pytest.mark.parametrize("kind", ["lhs", "sobol"])
def test_space_filling_designs_stratify_each_parameter(kind: str) -> None:
    n = 16
    params = [rng("a", 2.0, 4.0), rng("b", -1.0, 1.0, 1), rng("c", 0.0, 10.0, 2)]
    unit, values = place_points(Design(kind, samples=n, seed=5), params)
    assert unit.shape == values.shape == (n, 3)
    for j in range(3):
        # One point in each of the n equal slices of every parameter's range.
        assert sorted(np.floor(unit[:, j] * n).astype(int).tolist()) == list(range(n))
    assert np.allclose(values[:, 0], 2.0 + 2.0 * unit[:, 0])
    again, _ = place_points(Design(kind, samples=n, seed=5), params)
    other, _ = place_points(Design(kind, samples=n, seed=6), params)
    assert np.array_equal(unit, again) and not np.array_equal(unit, other)


def test_sobol_is_a_net_in_two_dimensions_unlike_lhs() -> None:
    # Scrambled Sobol' points of the first two dimensions fill a 4 x 4 grid one per cell.
    params = [rng("a", 0, 1), rng("b", 0, 1, 1)]
    unit, _ = place_points(Design("sobol", samples=16, seed=1), params)
    cells = {(int(u * 4), int(v * 4)) for u, v in unit}
    assert len(cells) == 16


def test_saltelli_layout_is_what_scipy_sobol_indices_takes() -> None:
    n, d = 256, 3
    params = [rng("x0", 0, 1), rng("x1", 0, 1, 1), rng("x2", 0, 1, 2)]
    _unit, values = place_points(Design("saltelli", samples=n, seed=2), params)
    assert values.shape == (n * (d + 2), d)
    a, b = values[:n], values[n : 2 * n]
    for i in range(d):
        ab = values[(2 + i) * n : (3 + i) * n]
        assert np.array_equal(ab[:, i], b[:, i])
        others = [j for j in range(d) if j != i]
        assert np.array_equal(ab[:, others], a[:, others])
    # y = x0 + 2 x1 on uniforms: first-order indices 1/5, 4/5, 0.
    y = values[:, 0] + 2 * values[:, 1]
    f_a, f_b = y[:n][None], y[n : 2 * n][None]
    f_ab = y[2 * n :].reshape(d, 1, n)
    result = stats.sobol_indices(func={"f_A": f_a, "f_B": f_b, "f_AB": f_ab}, n=n)
    assert np.allclose(result.first_order, [0.2, 0.8, 0.0], atol=0.03)
    assert np.allclose(result.total_order, [0.2, 0.8, 0.0], atol=0.03)


def test_morris_trajectories_move_one_parameter_by_delta_at_a_time() -> None:
    r, d, p = 5, 3, 4
    params = [
        rng("a", 10.0, 20.0),
        rng("b", 0.0, 1.0, 1),
        Parameter("c", "distribution", 2, family="uniform", params=(("high", 3.0), ("low", 1.0))),
    ]
    unit, values = place_points(Design("morris", trajectories=r, levels=p, seed=4), params)
    delta = p / (2 * (p - 1))
    assert unit.shape == (r * (d + 1), d)
    assert set(np.round(unit.ravel() * (p - 1), 9)) <= {0.0, 1.0, 2.0, 3.0}
    for t in range(r):
        traj = unit[t * (d + 1) : (t + 1) * (d + 1)]
        steps = np.diff(traj, axis=0)
        moved = np.abs(steps) > 1e-12
        assert (moved.sum(axis=1) == 1).all()  # one parameter per step
        assert sorted(np.argmax(moved, axis=1).tolist()) == list(range(d))  # each once
        assert np.allclose(np.abs(steps[moved]), delta)
        value_steps = np.abs(np.diff(values[t * (d + 1) : (t + 1) * (d + 1)], axis=0)) > 0
        assert (value_steps.sum(axis=1) == 1).all()
    assert values[:, 0].min() >= 10.0 and values[:, 0].max() <= 20.0
    # A distribution's level j sits at the middle of the j-th of p probability bins.
    assert set(np.round(values[:, 2], 9)) <= {1.25, 1.75, 2.25, 2.75}


def test_values_map_unit_bins_to_list_entries() -> None:
    param = Parameter("a", "values", 0, values=(1.0, 2.0, 4.0))
    unit = np.array([0.0, 0.33, 0.34, 0.99, 1.0])
    assert to_values(param, unit).tolist() == [1.0, 1.0, 2.0, 4.0, 4.0]

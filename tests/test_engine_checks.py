"""sim.engine.checks: a period's outputs are finite and non-negative, or the run stops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import sim.api as api
from sim.engine.checks import check_period
from sim.engine.draw import draw_batch
from sim.engine.outputs import output_buffer, output_shapes
from sim.errors import ConvergenceError, SimError


def _setup(tiny_path: Path) -> tuple[object, object, dict[str, np.ndarray]]:
    model = api.prepare(api.load_scenario(tiny_path, replicas=2))
    batch = draw_batch(model, 0, 2)
    out = {
        name: output_buffer(None, name, (2, model.calendar.periods, *shape), np.float64)
        for name, shape in output_shapes(model).items()
    }
    return model, batch, out


@pytest.mark.parametrize("bad", [-1e-9, np.inf, -np.inf, np.nan])
def test_a_negative_or_non_finite_value_stops_the_run(tiny_path: Path, bad: float) -> None:
    model, batch, out = _setup(tiny_path)
    out["trade"][1, 2, 0, 1, 1] = bad
    with pytest.raises(SimError, match="trade became") as err:
        check_period(model, batch, out, 2)  # type: ignore[arg-type]
    assert "replica 1, origin A, destination B, sector services" in str(err.value)
    check_period(model, batch, out, 1)  # type: ignore[arg-type]  # other periods pass


def test_finite_values_whose_sum_overflows_pass(tiny_path: Path) -> None:
    """The screen sums the values: an overflowing sum of finite ones is not an error."""
    model, batch, out = _setup(tiny_path)
    out["trade"][:, 0] = 1e308
    check_period(model, batch, out, 0)  # type: ignore[arg-type]


def test_a_growth_path_that_does_not_converge_stops_the_run(tiny_path: Path) -> None:
    """With mobile labour the engine solves the path without the scenario's shocks each
    period, against which employment changes are measured: a path that did not converge
    stops the run, named as the path (it used to be read as if it had converged)."""
    data = yaml.safe_load(tiny_path.read_text())
    data["labour"] = {"mobility": "mobile"}
    data["trade"]["max_iterations"] = 1
    with pytest.raises(ConvergenceError, match="of the growth path") as err:
        api.run(data, replicas=2, base_dir=tiny_path.parent)
    assert "after 1 iterations" in str(err.value) and "trade.max_iterations" in str(err.value)

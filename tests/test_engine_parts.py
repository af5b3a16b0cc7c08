"""sim.engine.parts: a batch's equilibrium solved in replica parts, side by side."""

from __future__ import annotations

import copy
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import yaml

from sim import api
from sim.engine import parts
from sim.engine.parts import PART_MIN, choose_parts, merge_solutions, split_replicas
from sim.kernels.equilibrium import (
    build_equilibrium_baseline,
    build_labour_markets,
    solve_equilibrium,
)


@pytest.mark.parametrize(
    ("count", "wanted", "sizes"),
    [
        (500, 2, [250, 250]),
        (501, 2, [250, 251]),
        (500, 3, [167, 166, 167]),
        (100, 2, [100]),  # two parts would be smaller than PART_MIN
        (2 * PART_MIN, 4, [PART_MIN, PART_MIN]),
        (10, 1, [10]),
    ],
)
def test_parts_are_contiguous_and_no_smaller_than_the_minimum(
    count: int, wanted: int, sizes: list[int]
) -> None:
    got = split_replicas(count, wanted)
    assert [s.stop - s.start for s in got] == sizes
    assert got[0].start == 0 and got[-1].stop == count
    assert all(a.stop == b.start for a, b in pairwise(got))


def test_automatic_parts_follow_the_labour_markets_not_the_machine() -> None:
    assert choose_parts(0, 200) == 2
    assert choose_parts(0, 3) == 1
    assert choose_parts(3, 3) == 3  # the scenario's number wins


def test_merged_parts_are_the_replicas_in_order() -> None:
    rng = np.random.default_rng(2)
    regions, sectors, n = 3, 2, 4
    table = rng.uniform(1.0, 10.0, (regions, regions, sectors))
    base = build_equilibrium_baseline(
        table,
        np.zeros((regions, regions, sectors)),
        np.ones((regions, sectors)),
        np.zeros((regions, sectors, sectors)),
    )
    labour = build_labour_markets(sectors, np.ones(regions, bool), np.zeros(regions))
    theta = rng.uniform(3.0, 6.0, (n, sectors))
    cost = rng.uniform(0.8, 1.2, (n, regions, regions, sectors))
    whole = solve_equilibrium(base, theta, labour, cost_change=cost)
    pieces = [
        solve_equilibrium(base, theta[a:b], labour, cost_change=cost[a:b])
        for a, b in ((0, 1), (1, 4))
    ]
    merged = merge_solutions(pieces, unused=("share", "spending"))
    np.testing.assert_allclose(merged.trade, whole.trade, rtol=1e-11)
    # Fields the caller does not read are not copied: empty stacks of the field's shape.
    assert merged.share.shape == (0, regions, regions, sectors)
    assert merged.spending.shape == (0, regions, sectors)
    np.testing.assert_allclose(merge_solutions(pieces).share, whole.share, rtol=1e-11)
    np.testing.assert_array_equal(merged.replica_iterations, whole.replica_iterations)
    assert merged.iterations == max(p.iterations for p in pieces)
    # The parts keep their own inverse Newton matrices; the merged solution has none.
    assert merged.inverse_jacobian.shape == (0, *whole.inverse_jacobian.shape[1:])


def _tiny(tiny_path: Path, parts_setting: int, mobility: str = "sector_specific") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(tiny_path.read_text())
    data["time"]["end"] = "2023-12-31"
    data["labour"] = {"mobility": mobility}
    data["monte_carlo"].update(batch_size=2 * PART_MIN + 2, solver_parts=parts_setting)
    return data


def _run(tiny_path: Path, data: dict[str, Any]) -> xr.Dataset:
    return api.run(copy.deepcopy(data), replicas=2 * PART_MIN + 2, base_dir=tiny_path.parent)


def test_parts_on_one_or_two_threads_give_the_same_bits(
    tiny_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The threads follow the machine's cores, the parts do not: a rerun on a machine
    with one core gives the numbers of one with two, bit for bit."""
    data = _tiny(tiny_path, 2)
    monkeypatch.setattr(parts, "available_cores", lambda: 2)
    two = _run(tiny_path, data)
    monkeypatch.setattr(parts, "available_cores", lambda: 1)
    one = _run(tiny_path, data)
    for name in two.data_vars:
        np.testing.assert_array_equal(one[name].values, two[name].values, err_msg=name)


@pytest.mark.parametrize("mobility", ["sector_specific", "mobile"])
def test_two_parts_agree_with_one_batch(tiny_path: Path, mobility: str) -> None:
    """Replicas are independent economies: solving them in two parts changes results
    only at the solver's tolerance (the inner iterations stop per part). With mobile
    labour each period also solves the growth path, whose parts are merged too."""
    whole = _run(tiny_path, _tiny(tiny_path, 1, mobility))
    split = _run(tiny_path, _tiny(tiny_path, 2, mobility))
    for name in whole.data_vars:
        np.testing.assert_allclose(
            split[name].values, whole[name].values, rtol=1e-9, atol=1e-9, err_msg=name
        )

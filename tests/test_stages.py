"""Tests for sim.kernels.stages: project stage dates and stage codes."""

from __future__ import annotations

import numpy as np
import pytest

from sim.kernels.stages import (
    ABANDONED,
    ANNOUNCED,
    CONSTRUCTION,
    FINANCED,
    OPERATING,
    PLANNED,
    STAGES,
    StageDates,
    draw_stage_dates,
    stage_at,
)

N, P = 4, 3
ANNOUNCED_AT = np.array([0.5, 2.0, 3.25])


def _durations(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.25, 3.0, size=(N, P, 3))


def _draw(
    odds: np.ndarray,
    *,
    known: np.ndarray | None = None,
    durations: np.ndarray | None = None,
    uniforms: np.ndarray | None = None,
    fraction: np.ndarray | None = None,
) -> StageDates:
    return draw_stage_dates(
        ANNOUNCED_AT,
        np.full((P, 3), np.nan) if known is None else known,
        _durations() if durations is None else durations,
        odds,
        np.full((N, P, 3), 0.5) if uniforms is None else uniforms,
        np.full((N, P), 0.4) if fraction is None else fraction,
    )


def test_stage_codes() -> None:
    assert STAGES[PLANNED] == "planned"
    assert STAGES[ANNOUNCED] == "announced"
    assert STAGES[FINANCED] == "financed"
    assert STAGES[CONSTRUCTION] == "construction"
    assert STAGES[OPERATING] == "operating"
    assert STAGES[ABANDONED] == "abandoned"
    assert (PLANNED, OPERATING, ABANDONED) == (0, 4, 5)


def test_certain_transitions_are_cumulative_durations() -> None:
    d = _durations()
    rng = np.random.default_rng(1)
    dates = _draw(np.ones((N, P, 3)), durations=d, uniforms=rng.uniform(0, 1, (N, P, 3)))
    assert dates.entered.shape == (N, P, 4)
    assert dates.abandoned.shape == (N, P)
    expected = np.concatenate(
        [
            np.broadcast_to(ANNOUNCED_AT[None, :, None], (N, P, 1)),
            ANNOUNCED_AT[None, :, None] + d.cumsum(axis=2),
        ],
        axis=2,
    )
    np.testing.assert_allclose(dates.entered, expected, rtol=1e-14)
    assert np.all(np.isinf(dates.abandoned))


@pytest.mark.parametrize("k", [0, 1, 2])
def test_failed_transition_abandons(k: int) -> None:
    d = _durations(2)
    odds = np.ones((N, P, 3))
    odds[:, :, k] = 0.0
    fraction = np.random.default_rng(3).uniform(0, 1, (N, P))
    dates = _draw(odds, durations=d, fraction=fraction)
    start = ANNOUNCED_AT[None, :] + d[:, :, :k].sum(axis=2)  # date of stage k
    np.testing.assert_allclose(dates.entered[:, :, k], start, rtol=1e-14)
    np.testing.assert_allclose(dates.abandoned, start + fraction * d[:, :, k], rtol=1e-14)
    assert np.all(np.isinf(dates.entered[:, :, k + 1 :]))
    assert np.all(np.isfinite(dates.entered[:, :, : k + 1]))


def test_first_failure_wins() -> None:
    """A project failing transitions 1 and 3 is abandoned during financing, once."""
    d = _durations(4)
    odds = np.ones((N, P, 3))
    odds[:, :, 0] = 0.0
    odds[:, :, 2] = 0.0
    dates = _draw(odds, durations=d)
    np.testing.assert_allclose(dates.abandoned, ANNOUNCED_AT[None] + 0.4 * d[:, :, 0])
    assert np.all(np.isinf(dates.entered[:, :, 1:]))


def test_uniform_compared_strictly_with_odds() -> None:
    odds = np.full((N, P, 3), 0.5)
    dates = _draw(odds, uniforms=np.full((N, P, 3), 0.5))  # u == odds fails
    assert np.all(np.isinf(dates.entered[:, :, 1]))
    dates = _draw(odds, uniforms=np.full((N, P, 3), 0.4999))
    assert np.all(np.isfinite(dates.entered))


def test_known_dates_override_draws_and_are_certain() -> None:
    d = _durations(5)
    known = np.full((P, 3), np.nan)
    known[0] = [1.0, 2.5, 4.0]  # project 0 fully known
    known[1, 0] = 7.0  # project 1 financed at 7.0, rest drawn
    odds = np.zeros((N, P, 3))  # every drawn transition fails
    dates = _draw(odds, known=known, durations=d)
    np.testing.assert_array_equal(dates.entered[:, 0, 1:], np.broadcast_to(known[0], (N, 3)))
    assert np.all(np.isinf(dates.abandoned[:, 0]))
    # project 1: the known financing date replaces the draw; construction is drawn from it
    np.testing.assert_array_equal(dates.entered[:, 1, 1], 7.0)
    assert np.all(np.isinf(dates.entered[:, 1, 2:]))
    np.testing.assert_allclose(dates.abandoned[:, 1], 7.0 + 0.4 * d[:, 1, 1])
    # project 2: nothing known, fails financing
    np.testing.assert_allclose(dates.abandoned[:, 2], ANNOUNCED_AT[2] + 0.4 * d[:, 2, 0])


def test_known_date_then_drawn_durations() -> None:
    d = _durations(6)
    known = np.full((P, 3), np.nan)
    known[2, 1] = 10.0  # construction start known for project 2
    dates = _draw(np.ones((N, P, 3)), known=known, durations=d)
    np.testing.assert_allclose(dates.entered[:, 2, 1], ANNOUNCED_AT[2] + d[:, 2, 0])
    np.testing.assert_array_equal(dates.entered[:, 2, 2], 10.0)
    np.testing.assert_allclose(dates.entered[:, 2, 3], 10.0 + d[:, 2, 2])


def test_pass_share_matches_odds_on_uniform_grid() -> None:
    """With a 10x10x10 grid of midpoint uniforms the shares are exact products."""
    m = 10
    grid = (np.arange(m) + 0.5) / m
    u1, u2, u3 = np.meshgrid(grid, grid, grid, indexing="ij")
    n = m**3
    uniforms = np.stack([u1.ravel(), u2.ravel(), u3.ravel()], axis=1)[:, None, :]
    p = np.array([0.7, 0.5, 0.9])
    dates = draw_stage_dates(
        np.array([0.0]),
        np.full((1, 3), np.nan),
        np.ones((n, 1, 3)),
        np.broadcast_to(p, (n, 1, 3)).copy(),
        uniforms,
        np.full((n, 1), 0.5),
    )
    financed = np.isfinite(dates.entered[:, 0, 1]).mean()
    building = np.isfinite(dates.entered[:, 0, 2]).mean()
    operating = np.isfinite(dates.entered[:, 0, 3]).mean()
    assert financed == pytest.approx(0.7)
    assert building == pytest.approx(0.7 * 0.5)
    assert operating == pytest.approx(0.7 * 0.5 * 0.9)
    assert np.isfinite(dates.abandoned).mean() == pytest.approx(1.0 - 0.7 * 0.5 * 0.9)
    # abandonments split by transition: mid-way through the unit durations
    abandoned = dates.abandoned[:, 0]
    assert np.mean(abandoned == 0.5) == pytest.approx(0.3)
    assert np.mean(abandoned == 1.5) == pytest.approx(0.7 * 0.5)
    assert np.mean(abandoned == 2.5) == pytest.approx(0.7 * 0.5 * 0.1)


def test_pass_share_close_to_odds_many_replicas() -> None:
    n = 2000
    uniforms = np.random.default_rng(7).permutation((np.arange(n) + 0.5) / n)
    uniforms = np.broadcast_to(uniforms[:, None, None], (n, 1, 3)).copy()
    odds = np.full((n, 1, 3), 1.0)
    odds[:, :, 0] = 0.37
    dates = draw_stage_dates(
        np.array([1.0]),
        np.full((1, 3), np.nan),
        np.full((n, 1, 3), 0.5),
        odds,
        uniforms,
        np.zeros((n, 1)),
    )
    assert abs(np.isfinite(dates.entered[:, 0, 3]).mean() - 0.37) <= 1.0 / n


def test_stage_at_codes() -> None:
    d = np.ones((1, 2, 3))
    odds = np.ones((1, 2, 3))
    odds[0, 1, 1] = 0.0  # project 1 fails construction start
    dates = draw_stage_dates(
        np.array([1.0, 1.0]),
        np.full((2, 3), np.nan),
        d,
        odds,
        np.full((1, 2, 3), 0.5),
        np.full((1, 2), 0.5),
    )
    # project 0: announced 1, financed 2, construction 3, operating 4
    # project 1: announced 1, financed 2, abandoned 2.5
    expected = {
        0.0: (PLANNED, PLANNED),
        1.0: (ANNOUNCED, ANNOUNCED),
        1.9: (ANNOUNCED, ANNOUNCED),
        2.0: (FINANCED, FINANCED),
        2.5: (FINANCED, ABANDONED),
        3.0: (CONSTRUCTION, ABANDONED),
        4.0: (OPERATING, ABANDONED),
        100.0: (OPERATING, ABANDONED),
    }
    for time, codes in expected.items():
        stage = stage_at(dates, time)
        assert stage.shape == (1, 2)
        assert stage.dtype == np.int8
        assert tuple(stage[0]) == codes, time

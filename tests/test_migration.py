"""Tests for sim.kernels.migration: wage-gap and recruitment driven flows."""

from __future__ import annotations

import numpy as np
import pytest

from sim.kernels.migration import migration_flows

R = 3
BASE_FLOW = np.array([[50.0, 10.0, 20.0], [30.0, 60.0, 5.0], [8.0, 12.0, 70.0]])
BASE_WAGE = np.array([[100.0, 250.0, 400.0], [80.0, 300.0, 500.0]])  # (N=2, R)
N = BASE_WAGE.shape[0]


def _flows(
    wage: np.ndarray | None = None,
    elasticity: np.ndarray | None = None,
    new_jobs: np.ndarray | None = None,
    recruitment: np.ndarray | None = None,
    cap: np.ndarray | None = None,
) -> np.ndarray:
    return migration_flows(
        BASE_FLOW,
        BASE_WAGE.copy() if wage is None else wage,
        BASE_WAGE,
        np.array([1.5, 0.7]) if elasticity is None else elasticity,
        np.zeros((N, R)) if new_jobs is None else new_jobs,
        np.zeros((N, R, R)) if recruitment is None else recruitment,
        np.full((N, R, R), np.inf) if cap is None else cap,
    )


def _off_diagonal(a: np.ndarray) -> np.ndarray:
    out = np.array(a, dtype=float, copy=True)
    out[..., np.arange(R), np.arange(R)] = 0.0
    return out


def test_unchanged_wages_give_base_flows() -> None:
    flows = _flows()
    assert flows.shape == (N, R, R)
    for n in range(N):
        np.testing.assert_allclose(flows[n], _off_diagonal(BASE_FLOW), rtol=1e-14)
    assert np.all(flows[:, np.arange(R), np.arange(R)] == 0.0)


def test_uniform_wage_growth_is_neutral() -> None:
    flows = _flows(wage=1.37 * BASE_WAGE)
    np.testing.assert_allclose(flows, np.broadcast_to(_off_diagonal(BASE_FLOW), (N, R, R)))


def test_destination_wage_rise_scales_inflows_by_elasticity() -> None:
    wage = BASE_WAGE.copy()
    wage[:, 2] *= 1.2  # destination 2 pays 20% more
    elasticity = np.array([1.5, 0.7])
    flows = _flows(wage=wage, elasticity=elasticity)
    for n in range(N):
        for i in (0, 1):
            assert flows[n, i, 2] == pytest.approx(BASE_FLOW[i, 2] * 1.2 ** elasticity[n])
            # the same gap seen from region 2 as origin works the other way
            assert flows[n, 2, i] == pytest.approx(BASE_FLOW[2, i] * 1.2 ** -elasticity[n])
        assert flows[n, 0, 1] == pytest.approx(BASE_FLOW[0, 1])
        assert flows[n, 1, 0] == pytest.approx(BASE_FLOW[1, 0])


def test_relative_gap_uses_both_wages() -> None:
    wage = BASE_WAGE.copy()
    wage[:, 0] *= 0.8  # origin 0 poorer
    wage[:, 1] *= 1.1  # destination 1 richer
    flows = _flows(wage=wage, elasticity=np.array([2.0, 3.0]))
    for n, eps in enumerate((2.0, 3.0)):
        assert flows[n, 0, 1] == pytest.approx(BASE_FLOW[0, 1] * (1.1 / 0.8) ** eps)
        assert flows[n, 1, 0] == pytest.approx(BASE_FLOW[1, 0] * (0.8 / 1.1) ** eps)
        assert flows[n, 2, 0] == pytest.approx(BASE_FLOW[2, 0] * 0.8**eps)


def test_zero_elasticity_ignores_wages() -> None:
    wage = BASE_WAGE * np.array([0.5, 2.0, 3.0])
    flows = _flows(wage=wage, elasticity=np.zeros(N))
    np.testing.assert_allclose(flows, np.broadcast_to(_off_diagonal(BASE_FLOW), (N, R, R)))


def test_recruitment_adds_share_of_positive_new_jobs() -> None:
    shares = np.array([[0.0, 0.1, 0.05], [0.2, 0.0, 0.3], [0.15, 0.25, 0.0]])
    recruitment = np.stack([shares, 0.5 * shares.T])  # (N, R, R): differs by replica
    new_jobs = np.array([[1000.0, -500.0, 200.0], [0.0, 400.0, -1.0]])
    flows = _flows(new_jobs=new_jobs, recruitment=recruitment)
    positive = np.maximum(new_jobs, 0.0)
    for n in range(N):
        for i in range(R):
            for j in range(R):
                recruited = recruitment[n, i, j] * positive[n, j]
                expected = 0.0 if i == j else BASE_FLOW[i, j] + recruited
                assert flows[n, i, j] == pytest.approx(expected)
    # negative new jobs add nothing (and never subtract)
    assert flows[0, 0, 1] == pytest.approx(BASE_FLOW[0, 1])
    assert flows[1, 0, 2] == pytest.approx(BASE_FLOW[0, 2])


def test_cap_binds_on_sum_of_both_channels() -> None:
    recruitment = np.full((N, R, R), 0.1)
    new_jobs = np.full((N, R), 100.0)  # adds 10 to every flow
    cap = np.full((N, R, R), np.inf)
    cap[0, 0, 1] = 15.0  # base 10 + 10 recruited = 20 > 15: binds
    cap[0, 1, 0] = 100.0  # 30 + 10 = 40 < 100: slack
    cap[1, 2, 1] = 0.0  # closed border
    cap[1, 1, 1] = 0.0  # a cap on the diagonal changes nothing
    flows = _flows(new_jobs=new_jobs, recruitment=recruitment, cap=cap)
    assert flows[0, 0, 1] == 15.0
    assert flows[0, 1, 0] == pytest.approx(40.0)
    assert flows[1, 2, 1] == 0.0
    assert flows[1, 0, 1] == pytest.approx(20.0)
    assert flows[1, 1, 1] == 0.0


def test_stocks_follow_flows_and_returns() -> None:
    from sim.kernels.migration import migrant_stocks

    flows = np.full((1, 2, 2), 120.0)
    rate = np.array([[0.0, 0.8], [0.0, 0.0]])
    stock = np.zeros((1, 2, 2))
    for _ in range(400):  # quarters: the stock converges to its steady state
        stock = migrant_stocks(stock, flows / 4, rate, 0.25)
    # Steady state S = F dt / (1 - (1 - r)^dt) per period, about F / -ln(1 - r) per year.
    expected = 30.0 / (1.0 - 0.2**0.25)
    assert stock[0, 0, 1] == pytest.approx(expected, rel=1e-12)
    # Without returns the stock is the sum of the flows.
    assert stock[0, 1, 0] == pytest.approx(400 * 30.0, rel=1e-12)

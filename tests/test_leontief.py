"""Tests for sim.kernels.leontief against published tables and analytic identities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim.errors import NumericalError
from sim.kernels.leontief import (
    closed_leontief_inverse,
    indirect_and_induced_output,
    leontief_inverse,
    mrio_from_national,
    output_multipliers,
    radius_bound,
    satellite_multipliers,
    technical_coefficients,
    type_i_multipliers,
    type_ii_multipliers,
)

REFERENCE = Path(__file__).parent / "data" / "reference"


def _load(name: str) -> dict[str, Any]:
    with (REFERENCE / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _arr(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


@pytest.fixture(scope="module")
def miller_blair() -> dict[str, Any]:
    return _load("io_miller_blair_2x2.yaml")


@pytest.fixture(scope="module")
def eurostat() -> dict[str, Any]:
    data = _load("io_eurostat_de1995.yaml")
    x = _arr(data["total_output"])
    data["L"] = leontief_inverse(technical_coefficients(_arr(data["intermediate_flows"]), x))
    data["gva_coef"] = _arr(data["gross_value_added"]) / x
    data["emp_coef"] = _arr(data["employment"]) / x
    return data


# --- Miller & Blair 2x2 ---------------------------------------------------------------


def test_miller_blair_technical_coefficients(miller_blair: dict[str, Any]) -> None:
    A = technical_coefficients(
        _arr(miller_blair["intermediate_flows"]), _arr(miller_blair["total_output"])
    )
    np.testing.assert_allclose(
        A,
        _arr(miller_blair["expected"]["technical_coefficients"]),
        rtol=0,
        atol=miller_blair["tolerance"],
    )


def test_miller_blair_leontief_inverse_and_multipliers(miller_blair: dict[str, Any]) -> None:
    tol = miller_blair["tolerance"]
    expected = miller_blair["expected"]
    A = technical_coefficients(
        _arr(miller_blair["intermediate_flows"]), _arr(miller_blair["total_output"])
    )
    L = leontief_inverse(A)
    np.testing.assert_allclose(L, _arr(expected["leontief_inverse"]), rtol=0, atol=tol)
    np.testing.assert_allclose(
        output_multipliers(L), _arr(expected["output_multipliers"]), rtol=0, atol=tol
    )


def test_miller_blair_output_for_new_final_demand(miller_blair: dict[str, Any]) -> None:
    case = miller_blair["expected"]["output_for_new_final_demand"]
    A = technical_coefficients(
        _arr(miller_blair["intermediate_flows"]), _arr(miller_blair["total_output"])
    )
    x_new = leontief_inverse(A) @ _arr(case["final_demand"])
    # Published outputs are rounded to cents, so the tolerance is relative here.
    np.testing.assert_allclose(
        x_new, _arr(case["total_output"]), rtol=miller_blair["tolerance"], atol=0
    )


def test_miller_blair_table_reproduces_its_own_output(miller_blair: dict[str, Any]) -> None:
    A = technical_coefficients(
        _arr(miller_blair["intermediate_flows"]), _arr(miller_blair["total_output"])
    )
    x = leontief_inverse(A) @ _arr(miller_blair["final_demand"])
    np.testing.assert_allclose(x, _arr(miller_blair["total_output"]), rtol=1e-12)


# --- Eurostat Germany 1995 ------------------------------------------------------------


def test_eurostat_gva_multipliers(eurostat: dict[str, Any]) -> None:
    np.testing.assert_allclose(
        satellite_multipliers(eurostat["L"], eurostat["gva_coef"]),
        _arr(eurostat["expected"]["gva_multipliers"]),
        rtol=0,
        atol=1e-4,
    )


def test_eurostat_employment_multipliers(eurostat: dict[str, Any]) -> None:
    np.testing.assert_allclose(
        satellite_multipliers(eurostat["L"], eurostat["emp_coef"]),
        _arr(eurostat["expected"]["employment_multipliers"]),
        rtol=0,
        atol=1e-4,
    )


def test_eurostat_type_i_employment_multipliers(eurostat: dict[str, Any]) -> None:
    np.testing.assert_allclose(
        type_i_multipliers(eurostat["L"], eurostat["emp_coef"]),
        _arr(eurostat["expected"]["type_i_employment_multipliers"]),
        rtol=0,
        atol=1e-4,
    )


def test_satellite_multipliers_stack_rows(eurostat: dict[str, Any]) -> None:
    stacked = np.vstack([eurostat["gva_coef"], eurostat["emp_coef"]])
    result = satellite_multipliers(eurostat["L"], stacked)
    assert result.shape == (2, 6)
    np.testing.assert_allclose(result[0], _arr(eurostat["expected"]["gva_multipliers"]), atol=1e-4)
    np.testing.assert_allclose(
        result[1], _arr(eurostat["expected"]["employment_multipliers"]), atol=1e-4
    )


# --- analytic checks -------------------------------------------------------------------


def test_technical_coefficients_zero_output_column_is_zero() -> None:
    Z = _arr([[1.0, 5.0], [2.0, 0.0]])
    x = _arr([10.0, 0.0])
    A = technical_coefficients(Z, x)
    assert np.all(np.isfinite(A))
    np.testing.assert_array_equal(A[:, 1], [0.0, 0.0])
    np.testing.assert_allclose(A[:, 0], [0.1, 0.2])


@pytest.mark.parametrize("a", [0.0, 0.3, 0.75, 0.99])
def test_one_by_one_economy(a: float) -> None:
    L = leontief_inverse(_arr([[a]]))
    assert L.shape == (1, 1)
    assert L[0, 0] == pytest.approx(1.0 / (1.0 - a), rel=1e-12)


def test_type_i_zero_coefficient_gives_zero() -> None:
    L = leontief_inverse(_arr([[0.1, 0.2], [0.3, 0.1]]))
    coef = _arr([0.0, 2.0])
    m = type_i_multipliers(L, coef)
    assert m[0] == 0.0
    assert m[1] == pytest.approx((coef @ L)[1] / 2.0)


def _closure(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    A = rng.uniform(0.0, 1.0, (n, n))
    A *= 0.5 / A.sum(axis=0)
    labour = rng.uniform(0.05, 0.2, (2, n))
    consumption = rng.uniform(0.0, 1.0, (n, 2))
    consumption *= 0.6 / consumption.sum(axis=0)
    return A, labour, consumption


def test_type_ii_at_least_type_i_for_positive_closure() -> None:
    A, labour, consumption = _closure(5, np.random.default_rng(1))
    coef = _arr([0.3, 0.0, 1.2, 0.7, 0.05])
    L = leontief_inverse(A)
    L_star = closed_leontief_inverse(A, labour, consumption)
    assert L_star.shape == (7, 7)
    type_i = type_i_multipliers(L, coef)
    type_ii = type_ii_multipliers(L_star, coef, 5)
    nonzero = coef != 0
    # Positive household spending adds induced output, so the inequality is strict.
    assert np.all(type_ii[nonzero] > type_i[nonzero] + 1e-6)
    assert type_ii[1] == 0.0


def test_closed_inverse_with_zero_labour_income_equals_open() -> None:
    A, labour, consumption = _closure(4, np.random.default_rng(2))
    L_star = closed_leontief_inverse(A, np.zeros_like(labour), consumption)
    np.testing.assert_allclose(L_star[:4, :4], leontief_inverse(A), rtol=1e-12, atol=1e-14)
    # Households still buy, but earn nothing from industry, so their column is C-driven.
    np.testing.assert_allclose(L_star[4:, :4], 0.0, atol=1e-14)


def test_closed_inverse_matches_block_formula() -> None:
    A = _arr([[0.2, 0.1], [0.1, 0.3]])
    W = _arr([[0.3, 0.2]])
    C = _arr([[0.4], [0.5]])
    L_star = closed_leontief_inverse(A, W, C)
    A_star = np.block([[A, C], [W, np.zeros((1, 1))]])
    np.testing.assert_allclose(L_star, np.linalg.inv(np.eye(3) - A_star), rtol=1e-12)
    # 1-D inputs mean one household group.
    np.testing.assert_allclose(closed_leontief_inverse(A, W[0], C[:, 0]), L_star, rtol=1e-14)


def test_mrio_one_region_equals_national() -> None:
    A_nat = np.random.default_rng(3).uniform(0.0, 0.2, (1, 3, 3))
    A = mrio_from_national(A_nat, np.ones((1, 1, 3)))
    np.testing.assert_array_equal(A, A_nat[0])


def test_mrio_sourcing_split_is_reflected() -> None:
    R, S = 2, 2
    A_nat = np.stack([_arr([[0.1, 0.2], [0.3, 0.4]]), _arr([[0.05, 0.15], [0.25, 0.35]])])
    sourcing = np.zeros((R, R, S))
    # Region 0 buys all inputs at home; region 1 buys sector 0 40/60 and sector 1 at home.
    sourcing[0, 0, :] = 1.0
    sourcing[0, 1, 0], sourcing[1, 1, 0] = 0.4, 0.6
    sourcing[1, 1, 1] = 1.0
    A = mrio_from_national(A_nat, sourcing)
    assert A.shape == (4, 4)
    expected = np.zeros((4, 4))
    expected[0:2, 0:2] = A_nat[0]
    expected[0, 2:4] = 0.4 * A_nat[1][0]
    expected[2, 2:4] = 0.6 * A_nat[1][0]
    expected[3, 2:4] = A_nat[1][1]
    np.testing.assert_allclose(A, expected, rtol=0, atol=1e-15)
    # Splitting shares preserves each region's total input use per sector.
    np.testing.assert_allclose(A.reshape(R, S, R * S).sum(axis=0)[:, 2:], A_nat[1])


def test_mrio_rejects_shares_above_one() -> None:
    with pytest.raises(ValueError, match="sum to"):
        mrio_from_national(np.zeros((2, 1, 1)), np.full((2, 2, 1), 0.8))


def test_indirect_and_induced_batch_equals_loop() -> None:
    A, labour, consumption = _closure(4, np.random.default_rng(4))
    L = leontief_inverse(A)
    L_star = closed_leontief_inverse(A, labour, consumption)
    demand = np.random.default_rng(5).uniform(0.0, 100.0, (3, 2, 4))
    indirect, induced = indirect_and_induced_output(L, L_star, demand)
    assert indirect.shape == demand.shape
    assert induced.shape == demand.shape
    for idx in np.ndindex(demand.shape[:-1]):
        d = demand[idx]
        np.testing.assert_allclose(indirect[idx], (L - np.eye(4)) @ d, rtol=1e-12)
        np.testing.assert_allclose(induced[idx], (L_star[:4, :4] - L) @ d, rtol=1e-12)
    # direct + indirect + induced is the Type II total.
    np.testing.assert_allclose(demand + indirect + induced, demand @ L_star[:4, :4].T, rtol=1e-12)
    single_indirect, single_induced = indirect_and_induced_output(L, L_star, demand[1, 0])
    assert single_indirect.shape == (4,)
    np.testing.assert_allclose(single_induced, induced[1, 0], rtol=1e-14)


def test_singular_system_raises() -> None:
    with pytest.raises(NumericalError, match="fix: check that the intermediate inputs"):
        leontief_inverse(_arr([[0.5, 0.5], [0.5, 0.5]]))


def test_inverse_in_place_leaves_a_and_matches_numpy() -> None:
    """The inverse is LAPACK's, computed in place on the transpose of I - A (no copy):
    A is not touched, the result is row-major and equals NumPy's inverse of I - A."""
    rng = np.random.default_rng(3)
    A = rng.random((40, 40)) * (0.9 / 40)  # column sums below 0.9: productive
    A[0, 1] = 0.3  # not symmetric
    kept = A.copy()
    L = leontief_inverse(A)
    np.testing.assert_array_equal(A, kept)
    assert L.flags.c_contiguous
    np.testing.assert_allclose(L, np.linalg.inv(np.eye(40) - A), rtol=1e-13, atol=1e-15)
    assert leontief_inverse(np.zeros((0, 0))).shape == (0, 0)


def test_unit_coefficient_raises() -> None:
    with pytest.raises(NumericalError):
        leontief_inverse(_arr([[1.0]]))


@pytest.mark.parametrize(
    "A",
    [
        [[1.5]],
        [[0.6, 0.7], [0.6, 0.7]],
        [[0.2, 2.0], [0.8, 0.1]],
    ],
)
def test_non_productive_system_raises(A: list[list[float]]) -> None:
    with pytest.raises(NumericalError, match="not productive"):
        leontief_inverse(_arr(A))


def test_non_productive_household_closure_raises() -> None:
    A = _arr([[0.5]])
    # Households earn 0.8 per unit and spend 1.0 per unit income: 0.5 + 0.8 > 1.
    with pytest.raises(NumericalError, match="not productive"):
        closed_leontief_inverse(A, _arr([[0.8]]), _arr([[1.0]]))


@st.composite
def productive_systems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=1, max_value=8))
    raw = draw(hnp.arrays(np.float64, (n, n), elements=st.floats(0.0, 1.0, allow_subnormal=False)))
    column_sums = draw(hnp.arrays(np.float64, (n,), elements=st.floats(0.0, 0.95)))
    totals = raw.sum(axis=0)
    # Normalising before scaling keeps tiny columns from rounding up to a sum of 1.
    shares = np.divide(raw, totals, out=np.zeros_like(raw), where=totals > 0)
    A = shares * column_sums
    d = draw(hnp.arrays(np.float64, (n,), elements=st.floats(0.0, 1000.0)))
    return A, d


@settings(max_examples=200, deadline=None)
@given(productive_systems())
def test_leontief_solution_property(system: tuple[np.ndarray, np.ndarray]) -> None:
    A, d = system
    n = A.shape[0]
    assert np.all(A.sum(axis=0) < 1.0)
    x = leontief_inverse(A) @ d
    assert np.all(x >= d - 1e-10)
    np.testing.assert_allclose((np.eye(n) - A) @ x, d, rtol=0, atol=1e-10)


def test_spectral_radius_check_catches_positive_inverse() -> None:
    # (I - A)^-1 = 1/3 is positive here, so only the spectral radius reveals that the
    # power series sum A^k diverges.
    with pytest.raises(NumericalError, match="spectral radius of A is 2"):
        leontief_inverse(_arr([[-2.0]]))


def test_negative_inverse_entry_raises() -> None:
    # Spectral radius 0, but a negative coefficient makes L[0, 1] = -0.5.
    with pytest.raises(NumericalError, match=r"L\[0, 1\] = -0.5"):
        leontief_inverse(_arr([[0.0, -0.5], [0.0, 0.0]]))


# ---------------------------------------------------------------- productivity without eigenvalues


def test_radius_bound_of_a_known_matrix() -> None:
    # A = [[0.2, 0.9], [0.9, 0.2]]: eigenvalues 1.1 and -0.7, column sums 1.1.
    A = _arr([[0.2, 0.9], [0.9, 0.2]])
    assert radius_bound(A, np.linalg.inv(np.eye(2) - A)) == pytest.approx(1.1)
    # A productive one whose column sums exceed 1: [[0.1, 1.5], [0.1, 0.1]], radius
    # 0.1 + sqrt(0.15) = 0.487; x = L 1 gives the Collatz-Wielandt bound below 1.
    B = _arr([[0.1, 1.5], [0.1, 0.1]])
    bound = radius_bound(B, np.linalg.inv(np.eye(2) - B))
    assert 0.1 + np.sqrt(0.15) - 1e-12 <= bound < 1.0
    assert radius_bound(_arr([[0.0, -0.5], [0.0, 0.0]]), np.eye(2)) == np.inf


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(np.float64, (6, 6), elements=st.floats(0.0, 0.5, allow_subnormal=False)),
    st.floats(0.05, 0.99),
)
def test_radius_bound_is_an_upper_bound_and_below_one_when_productive(
    raw: np.ndarray, radius: float
) -> None:
    # Scale to a chosen spectral radius below 1: the bound must lie in [rho, 1).
    rho = float(np.max(np.abs(np.linalg.eigvals(raw))))
    if rho < 1e-6:
        return
    A = raw * (radius / rho)
    L = np.linalg.inv(np.eye(6) - A)
    bound = radius_bound(A, L)
    assert radius * (1 - 1e-9) <= bound < 1.0


def test_productive_system_is_accepted_without_eigenvalues(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15: eigvals cost 4.5-10x the inverse; a productive system must not need them,
    even where column sums exceed 1."""

    def refuse(_: np.ndarray) -> np.ndarray:
        raise AssertionError("eigvals called for a productive system")

    monkeypatch.setattr(np.linalg, "eigvals", refuse)
    rng = np.random.default_rng(7)
    A = rng.random((40, 40))
    A *= 0.9 / np.max(np.abs(np.linalg.eigh(A @ A.T)[0])) ** 0.5  # spectral norm 0.9
    A[:, 0] = 0.0
    A[1:, 0] = 1.2 / 39  # one column sum of 1.2
    assert A.sum(axis=0).max() > 1.0
    L = leontief_inverse(A)
    np.testing.assert_allclose((np.eye(40) - A) @ L, np.eye(40), atol=1e-12)
    # A non-productive one still reaches the eigenvalues and is refused.
    monkeypatch.undo()
    with pytest.raises(NumericalError, match="not productive"):
        leontief_inverse(A * 3.0)

"""sim.kernels.broyden: Broyden's update of inverse Newton matrices in limited memory."""

from __future__ import annotations

import numpy as np
import pytest

from sim.kernels.broyden import InverseNewton


def _jacobians(n: int, g: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    jac = rng.normal(size=(n, g, g)) + 4.0 * np.eye(g)
    h = (rng.random(g) > 0.3).astype(float)
    return jac, h


def _step(
    newton: InverseNewton,
    rows: np.ndarray,
    moved: np.ndarray,
    old: np.ndarray,
    new: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Update as the solver does: H F at both ends of the step give H y."""
    before = newton.apply(rows, old)
    after = newton.apply(rows, new)
    return newton.update(rows, moved, new - old, after - before, new, after)


@pytest.mark.parametrize("slots", [1, 2, 8])
@pytest.mark.parametrize("pinned", [False, True])
def test_first_method_gives_the_inverse_of_broydens_updated_jacobian(
    slots: int, pinned: bool
) -> None:
    """Sherman-Morrison on H = (J + P)^-1, kept as rank-one terms, gives exactly
    (J' + P)^-1 with J' Broyden's update, after each of several steps, whether the terms
    are folded or not; each step satisfies the secant condition J' s = y, and the
    direction returned is the updated H times the new residuals."""
    rng = np.random.default_rng(3)
    n, g = 5, 6
    jac, h = _jacobians(n, g)
    if not pinned:
        h = np.zeros(g)
    pin = np.outer(h, h)
    newton = InverseNewton(
        np.linalg.inv(jac + pin), pin_vector=h if pinned else None, slots=slots, method="first"
    )
    rows = np.array([0, 2, 3, 4])  # replica 1 never moves and keeps its matrix
    kept = newton.base[1].copy()
    for _ in range(5):  # more steps than slots: the terms are folded on the way
        moved = rng.normal(size=(rows.size, g))
        old, new = rng.normal(size=(rows.size, g)), rng.normal(size=(rows.size, g))
        ok, direction = _step(newton, rows, moved, old, new)
        assert ok.all()
        for k, r in enumerate(rows):
            s, y = moved[k], new[k] - old[k]
            jac[r] = jac[r] + np.outer(y - jac[r] @ s, s) / (s @ s)
            np.testing.assert_allclose(jac[r] @ s, y, atol=1e-10)  # the secant condition
        explicit = np.linalg.inv(jac[rows] + pin)
        np.testing.assert_allclose(
            direction, np.einsum("ngk,nk->ng", explicit, new), rtol=1e-9, atol=1e-11
        )
        # H x and H^T x through the terms agree with the explicit inverse.
        x = rng.normal(size=(rows.size, g))
        np.testing.assert_allclose(
            newton.apply(rows, x), np.einsum("ngk,nk->ng", explicit, x), rtol=1e-9, atol=1e-11
        )
        np.testing.assert_allclose(
            newton.apply_transposed(rows, x),
            np.einsum("ngk,ng->nk", explicit, x),
            rtol=1e-9,
            atol=1e-11,
        )
        np.testing.assert_allclose(newton.pinned[rows], explicit @ h, rtol=1e-9, atol=1e-11)
    folded = newton.fold()
    assert not newton.used.any() and not newton.u.any() and not newton.v.any()
    np.testing.assert_allclose(folded[rows], np.linalg.inv(jac[rows] + pin), rtol=1e-9, atol=1e-11)
    np.testing.assert_array_equal(folded[1], kept)


@pytest.mark.parametrize("slots", [1, 8])
def test_second_method_is_the_least_change_of_the_inverse(slots: int) -> None:
    """Broyden's second update maps y~ = y + P s to s (the secant condition on the
    inverse) and leaves H unchanged on every vector orthogonal to y~; the returned
    direction is the updated H times the new residuals."""
    rng = np.random.default_rng(6)
    n, g = 4, 6
    jac, h = _jacobians(n, g, seed=17)
    pin = np.outer(h, h)
    explicit = np.linalg.inv(jac + pin)
    newton = InverseNewton(explicit.copy(), pin_vector=h, slots=slots)
    rows = np.array([0, 1, 3])
    for _ in range(4):
        moved = rng.normal(size=(rows.size, g))
        old, new = rng.normal(size=(rows.size, g)), rng.normal(size=(rows.size, g))
        ok, direction = _step(newton, rows, moved, old, new)
        assert ok.all()
        x = rng.normal(size=(rows.size, g))
        updated = newton.apply(rows, x)
        for k, r in enumerate(rows):
            ytil = new[k] - old[k] + pin @ moved[k]
            before = explicit[r].copy()
            explicit[r] = before + np.outer(moved[k] - before @ ytil, ytil) / (ytil @ ytil)
            np.testing.assert_allclose(explicit[r] @ ytil, moved[k], atol=1e-10)
            z = x[k] - ytil * (ytil @ x[k]) / (ytil @ ytil)  # orthogonal to y~
            np.testing.assert_allclose(explicit[r] @ z, before @ z, atol=1e-10)
        np.testing.assert_allclose(updated, np.einsum("ngk,nk->ng", explicit[rows], x), atol=1e-10)
        np.testing.assert_allclose(
            direction, np.einsum("ngk,nk->ng", explicit[rows], new), atol=1e-10
        )
        np.testing.assert_allclose(newton.pinned[rows], explicit[rows] @ h, atol=1e-10)
    np.testing.assert_allclose(newton.fold(), explicit, atol=1e-10)


def test_single_precision_matrices_give_the_same_updates_to_their_precision() -> None:
    """Matrices stored in float32 (half the memory traffic) follow the float64 ones to
    float32's precision, and return float64 products."""
    rng = np.random.default_rng(4)
    n, g = 3, 50
    jac, h = _jacobians(n, g, seed=2)
    start = np.linalg.inv(jac + np.outer(h, h))
    double = InverseNewton(start.copy(), pin_vector=h)
    single = InverseNewton(start.astype(np.float32), pin_vector=h)
    rows = np.arange(n)
    for _ in range(4):
        moved = rng.normal(size=(n, g))
        old, new = rng.normal(size=(n, g)), rng.normal(size=(n, g))
        ok64, dir64 = _step(double, rows, moved, old, new)
        ok32, dir32 = _step(single, rows, moved, old, new)
        assert ok64.all() and ok32.all()
        assert dir32.dtype == np.float64
        assert np.abs(dir32 - dir64).max() < 1e-4 * np.abs(dir64).max()
    assert single.fold().dtype == np.float32
    # Random steps are far from secant-consistent (small denominators amplify rounding).
    folded = double.fold()
    assert np.abs(single.base - folded).max() < 1e-3 * np.abs(folded).max()


@pytest.mark.parametrize("count", [1, 3, 6])
def test_products_for_some_replicas_equal_the_gathered_ones(count: int) -> None:
    """A few rows are gathered, many computed with every replica: the same products."""
    rng = np.random.default_rng(11)
    n, g = 8, 4
    base = rng.normal(size=(n, g, g))
    newton = InverseNewton(base.copy())
    rows = np.sort(rng.choice(n, size=count, replace=False))
    x = rng.normal(size=(count, g))
    np.testing.assert_allclose(newton.apply(rows, x), np.einsum("ngk,nk->ng", base[rows], x))
    np.testing.assert_allclose(
        newton.apply_transposed(rows, x), np.einsum("ngk,ng->nk", base[rows], x)
    )


def test_first_update_is_refused_where_it_would_make_newtons_matrix_singular() -> None:
    g = 3
    newton = InverseNewton(np.eye(g)[None].copy(), method="first")
    moved = np.array([[1.0, 0.0, 0.0]])
    # y (P = 0) orthogonal to s: s' H y = 0, the updated matrix would map s to 0.
    change = np.array([[0.0, 1.0, 0.0]])
    new = np.array([[0.5, 0.5, 0.5]])
    ok, direction = newton.update(np.array([0]), moved, change, change, new, new)
    assert not ok[0]
    assert not newton.used.any()
    np.testing.assert_array_equal(direction, new)  # H unchanged: H F = F
    np.testing.assert_array_equal(newton.fold()[0], np.eye(g))


def test_second_update_is_refused_where_the_residuals_did_not_move() -> None:
    g = 3
    newton = InverseNewton(np.eye(g)[None].copy())
    moved = np.array([[1.0, -1.0, 0.0]])
    change = np.zeros((1, g))  # no slope information in the step
    new = np.array([[0.5, 0.5, 0.5]])
    ok, direction = newton.update(np.array([0]), moved, change, change, new, new)
    assert not ok[0]
    assert not newton.used.any()
    np.testing.assert_array_equal(direction, new)
    np.testing.assert_array_equal(newton.fold()[0], np.eye(g))


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="'second' or 'first'"):
        InverseNewton(np.eye(2)[None].copy(), method="good")


def test_replace_drops_a_replicas_terms() -> None:
    """A fresh matrix (a new finite-difference Jacobian) replaces the terms too."""
    rng = np.random.default_rng(5)
    n, g = 3, 4
    jac, h = _jacobians(n, g, seed=9)
    newton = InverseNewton(np.linalg.inv(jac + np.outer(h, h)), pin_vector=h)
    rows = np.arange(n)
    moved = rng.normal(size=(n, g))
    ok, _ = _step(newton, rows, moved, rng.normal(size=(n, g)), rng.normal(size=(n, g)))
    assert ok.all()
    fresh = np.eye(g) * 2.0
    newton.replace(np.array([1]), fresh[None])
    x = rng.normal(size=(1, g))
    np.testing.assert_allclose(newton.apply(np.array([1]), x), 2.0 * x)
    np.testing.assert_allclose(newton.pinned[1], 2.0 * h)
    assert not np.allclose(newton.fold()[0], np.linalg.inv(jac[0] + np.outer(h, h)))
    np.testing.assert_array_equal(newton.base[1], fresh)


@pytest.mark.parametrize("method", ["second", "first"])
def test_a_replicas_matrices_do_not_depend_on_its_batch_to_the_bit(method: str) -> None:
    """Sweeps compare stores byte for byte whatever the batches: a replica's terms are
    folded when its own slots fill (not when another replica's do), so a replica
    updated alone holds exactly the matrix it holds in a batch whose other replicas
    update more often."""
    rng = np.random.default_rng(8)
    n, g, slots = 4, 5, 3
    jac, h = _jacobians(n, g, seed=13)
    start = np.linalg.inv(jac + np.outer(h, h)).astype(np.float32)
    batch = InverseNewton(start.copy(), pin_vector=h, slots=slots, method=method)
    alone = InverseNewton(start[2:3].copy(), pin_vector=h, slots=slots, method=method)
    for k in range(7):
        # Replica 2 moves every other step, the others every step.
        rows = np.arange(n) if k % 2 else np.array([0, 1, 3])
        moved = rng.normal(size=(rows.size, g))
        old, new = rng.normal(size=(rows.size, g)), rng.normal(size=(rows.size, g))
        ok, direction = _step(batch, rows, moved, old, new)
        if k % 2:
            mine = np.flatnonzero(rows == 2)
            ok_alone, direction_alone = _step(
                alone, np.array([0]), moved[mine], old[mine], new[mine]
            )
            np.testing.assert_array_equal(direction_alone, direction[mine])
            np.testing.assert_array_equal(ok_alone, ok[mine])
    np.testing.assert_array_equal(alone.fold()[0], batch.fold()[2])

r"""Inverse Newton matrices of a batch of replicas under Broyden's updates, in limited memory.

A quasi-Newton solver of :math:`F(u) = 0` that keeps :math:`H = M^{-1}`, the inverse
of its Newton matrix :math:`M = J + P` (``P`` a constant symmetric term, such as the
pin of a normalisation), takes steps :math:`s = -\lambda H F` and updates :math:`H`
after each step by a rank-one term :math:`H' = H + u v^\top` that makes it map
:math:`\tilde y = y + Ps` (:math:`y` the change of :math:`F` over the step) to
:math:`s`, the secant condition (Dennis & Schnabel 1996, *Numerical Methods for
Unconstrained Optimization and Nonlinear Equations*, s. 8.1-8.3):

.. math::

    \text{first method ("good"):}\quad
    u = \frac{s - H\tilde y}{s^\top H \tilde y},\ v = H^\top s
    \qquad
    \text{second method ("bad"):}\quad
    u = \frac{s - H\tilde y}{\tilde y^\top \tilde y},\ v = \tilde y .

The first is Broyden's update of :math:`M` carried to its inverse by Sherman and
Morrison; the second is the least change of :math:`H` itself. Both converge
superlinearly near a root. :class:`InverseNewton` keeps the rank-one terms apart from
the dense matrices until :meth:`InverseNewton.fold` (as Kelley 1995, *Iterative
Methods for Linear and Nonlinear Equations*, s. 7.3, stores Broyden's steps), so that
a step reads each replica's (G, G) matrix once for :math:`HF` at the new point (which
gives the next direction and, less the last direction, :math:`Hy`; :math:`HPs` comes
from :math:`Hh`, kept current when ``P`` is a pin :math:`hh^\top`), plus once for
:math:`H^\top s` under the first method, and writes it only when the terms are folded
in, where updating it in place would read and write it at every step. The dense
matrices are most of the memory traffic of a solve with many labour markets (G = 200
on a 10 x 20 case with sector-specific labour).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
MatrixStack = NDArray[np.floating[Any]]  # float32 or float64
IndexArray = NDArray[np.intp]

__all__ = ["InverseNewton"]


class InverseNewton:
    r"""The matrices :math:`H_n = B_n + \sum_k u_{nk} v_{nk}^\top` of N replicas.

    Parameters
    ----------
    base : (N, G, G), float32 or float64
        The replicas' inverse Newton matrices :math:`B`; owned (updated in place). Their
        products are computed in their precision and returned as float64: in float32
        they read half the memory, and a quasi-Newton direction with a relative error of
        about 1e-6 still converges (the residuals are float64; the error of the
        direction is that of an inexact Newton step, Dembo, Eisenstat & Steihaug 1982).
    pin_vector : (G,), optional
        :math:`h` of a pin :math:`P = hh^\top` (default none): the matrices' product with
        it is kept current, so that an update needs no product for :math:`HPs`.
    slots : int
        Rank-one terms kept per replica before they are folded into ``base``.
    method : {"second", "first"}
        Broyden's second ("bad") or first ("good") update (above).
    """

    def __init__(
        self,
        base: MatrixStack,
        pin_vector: FloatArray | None = None,
        slots: int = 8,
        method: str = "second",
    ) -> None:
        if method not in ("second", "first"):
            raise ValueError(f"method must be 'second' or 'first', not {method!r}")
        self.method = method
        n_rep, n_g, _ = base.shape
        self.base = base
        self.pin_vector = np.zeros(n_g) if pin_vector is None else pin_vector
        self.u = np.zeros((n_rep, slots, n_g))
        self.v = np.zeros((n_rep, slots, n_g))
        # Terms in use per replica (unused slots are 0). Every product runs over all the
        # slots and each replica's terms are folded when its own slots are full, so that
        # a replica's arithmetic, to the last bit, does not depend on its batch.
        self.used = np.zeros(n_rep, dtype=np.int64)
        self.pinned = (
            np.zeros((n_rep, n_g))
            if pin_vector is None
            else _product(
                base, np.arange(n_rep), np.broadcast_to(self.pin_vector, (n_rep, n_g)), "ngk,nk->ng"
            )
        )  # H h, (N, G)

    def apply(self, rows: IndexArray, x: FloatArray) -> FloatArray:
        """:math:`H x` for the replicas ``rows``, (M,) int, with ``x`` (M, G): (M, G)."""
        out = _product(self.base, rows, x, "ngk,nk->ng")
        u, v = self.u[rows], self.v[rows]
        out += np.einsum("nm,nmg->ng", np.einsum("nmg,ng->nm", v, x), u)
        return out

    def apply_transposed(self, rows: IndexArray, x: FloatArray) -> FloatArray:
        r""":math:`H^\top x` for the replicas ``rows``: (M, G)."""
        out = _product(self.base, rows, x, "ngk,ng->nk")
        u, v = self.u[rows], self.v[rows]
        out += np.einsum("nm,nmg->ng", np.einsum("nmg,ng->nm", u, x), v)
        return out

    def update(
        self,
        rows: IndexArray,
        moved: FloatArray,
        change: FloatArray,
        applied_change: FloatArray,
        residual: FloatArray,
        applied_residual: FloatArray,
    ) -> tuple[NDArray[np.bool_], FloatArray]:
        r"""Broyden's update of the replicas ``rows`` after a step; their next direction.

        The caller has :math:`HF` at both ends of the step (the direction it took, and
        the product at the new point it needs anyway), so :math:`Hy` is their difference.

        Parameters
        ----------
        rows : (M,) int
            The replicas that moved.
        moved : (M, G)
            :math:`s`, the step in the unknowns.
        change, applied_change : (M, G)
            :math:`y`, the change of the residuals over the step, and :math:`Hy`.
        residual, applied_residual : (M, G)
            The residuals :math:`F` at the new point and :math:`HF`.

        Returns
        -------
        ok : (M,) bool
            Where the update was made; elsewhere it would be ill-defined (first method:
            :math:`s^\top H\tilde y` near 0, the updated matrix near singular; second:
            :math:`\tilde y` near 0 against :math:`s`, a step that did not move the
            residuals) and :math:`H` is left as it was.
        direction : (M, G)
            :math:`H'F`, the updated matrix's product with the new residuals.
        """
        pinned = np.einsum("ng,g->n", moved, self.pin_vector)[:, None]
        h_target = applied_change + self.pinned[rows] * pinned
        if self.method == "first":
            v_all = self.apply_transposed(rows, moved)
            denom = np.einsum("ng,ng->n", moved, h_target)
            scale = np.sqrt((moved**2).sum(axis=1) * (h_target**2).sum(axis=1))
            ok = np.abs(denom) > 1e-12 * scale
        else:
            v_all = change + self.pin_vector[None] * pinned
            denom = np.einsum("ng,ng->n", v_all, v_all)
            ok = np.isfinite(denom) & (denom > 1e-24 * (moved**2).sum(axis=1))
        direction = np.array(applied_residual, dtype=np.float64)
        if not ok.any():
            return ok, direction
        keep = rows[ok]
        self.fold(keep[self.used[keep] == self.u.shape[1]])
        u = (moved[ok] - h_target[ok]) / denom[ok, None]
        v = v_all[ok]
        slot = self.used[keep]
        self.u[keep, slot] = u
        self.v[keep, slot] = v
        self.used[keep] += 1
        direction[ok] += u * np.einsum("ng,ng->n", v, residual[ok])[:, None]
        self.pinned[keep] += u * np.einsum("ng,g->n", v, self.pin_vector)[:, None]
        return ok, direction

    def replace(self, rows: IndexArray, inverse: MatrixStack) -> None:
        """Give the replicas ``rows`` new matrices, (M, G, G), without their terms."""
        self.base[rows] = inverse
        self.u[rows] = 0.0
        self.v[rows] = 0.0
        self.used[rows] = 0
        self.pinned[rows] = _product(
            self.base,
            rows,
            np.broadcast_to(self.pin_vector, (rows.size, self.pinned.shape[1])),
            "ngk,nk->ng",
        )

    def fold(self, rows: IndexArray | None = None) -> MatrixStack:
        """Add the rank-one terms of ``rows`` (default: every replica) into their dense
        matrices; returns the matrices, (N, G, G)."""
        todo = np.flatnonzero(self.used) if rows is None else rows[self.used[rows] > 0]
        # In blocks of replicas: (G, slots) by (slots, G) products into a small buffer (a
        # product of every replica at once would allocate, and first touch, an (N, G, G)
        # temporary). Unused slots are zeros and add nothing: every replica's product
        # runs over all the slots, so its arithmetic does not depend on the others'.
        dtype = self.base.dtype
        block = 32
        term = np.empty((min(block, todo.size), *self.base.shape[1:]), dtype=dtype)
        for lo in range(0, todo.size, block):
            these = todo[lo : lo + block]
            out = term[: these.size]
            left = np.ascontiguousarray(self.u[these].transpose(0, 2, 1), dtype=dtype)
            np.matmul(left, self.v[these].astype(dtype), out=out)
            self.base[these] += out
        self.u[todo] = 0.0
        self.v[todo] = 0.0
        self.used[todo] = 0
        return self.base


def _product(stack: MatrixStack, rows: IndexArray, x: FloatArray, spec: str) -> FloatArray:
    """``einsum(spec, stack[rows], x)`` in the stack's precision, as float64, (M, G).

    Gathering rows copies their matrices (a read and a write of each) before the product
    reads them again, so for more than a third of the replicas the product of every
    replica is cheaper (the others get zeros).
    """
    n_rep = stack.shape[0]
    # C order always: einsum's loop order, hence its rounding, follows the operands' strides.
    x = np.ascontiguousarray(x, dtype=stack.dtype)
    if rows.size == n_rep:
        out = np.einsum(spec, stack, x)
    elif 3 * rows.size < n_rep:
        out = np.einsum(spec, stack[rows], x)
    else:
        full = np.zeros((n_rep, x.shape[1]), dtype=stack.dtype)
        full[rows] = x
        out = np.einsum(spec, stack, full)[rows]
    return np.asarray(out, dtype=np.float64)

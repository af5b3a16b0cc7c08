"""The equilibrium's per-replica inputs and its trade shares (sim.kernels.equilibrium).

:class:`Shocks` holds a counterfactual's shocks in the form an evaluation of the
equilibrium conditions needs; :class:`TradeShares` keeps the trade shares in factors, so
that the evaluation's sums over them are single passes. The equations are in the
docstring of :mod:`sim.kernels.equilibrium`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.kernels.equilibrium_accounts import EquilibriumBaseline

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

__all__ = ["Shocks", "TradeShares"]


@dataclass(frozen=True)
class Shocks:
    """The counterfactual's per-replica inputs in the form the evaluation needs."""

    theta: FloatArray  # (N, S)
    weight: FloatArray  # (N, i, j, s): pi_ijs (kappa_hat tau_hat)^-theta
    # Tariff factors are the same for every replica unless the tariffs are drawn: then
    # (1, i, j, s), which every use broadcasts, so that a batch of perturbed points (the
    # finite-difference Jacobian) does not copy them.
    net: FloatArray  # (N or 1, i, j, s): 1 / (1 + tau')
    levy: FloatArray  # (N or 1, i, j, s): tau' / (1 + tau'), the tariff's part of the price
    taxed: bool  # any tariff at all
    log_productivity: FloatArray  # (N, R, S)
    log_target: FloatArray  # (N, G)
    investment: FloatArray  # (N, i, j, s) real, or (N, 0, 0, 0) when there is none
    invested_in: FloatArray  # (N, j, s): the investment's sum over investors, or (N, 0, 0)

    @classmethod
    def build(
        cls,
        baseline: EquilibriumBaseline,
        theta: FloatArray,
        cost_change: FloatArray | None,
        tariff: FloatArray | None,
        productivity: FloatArray | None,
        real_wage_target: FloatArray | None,
        investment: FloatArray | None = None,
    ) -> Shocks:
        n_rep = theta.shape[0]
        n_r, n_s = baseline.shape
        new_tariff = baseline.tariff[None] if tariff is None else tariff
        factor = (1.0 + new_tariff) / (1.0 + baseline.tariff[None])
        if cost_change is not None:
            factor = factor * cost_change
        weight = baseline.share[None] * factor ** (-theta[:, None, None, :])
        net = 1.0 / (1.0 + new_tariff)
        levy = new_tariff * net
        log_a = (
            np.zeros((n_rep, n_r, n_s))
            if productivity is None
            else np.log(np.broadcast_to(productivity, (n_rep, n_r, n_s)))
        )
        log_target = (
            np.zeros((n_rep, 1))
            if real_wage_target is None
            else np.log(np.broadcast_to(real_wage_target, (n_rep, real_wage_target.shape[-1])))
        )
        invest = (
            np.zeros((n_rep, 0, 0, 0))
            if investment is None or not np.any(investment)
            else np.broadcast_to(investment, (n_rep, n_r, n_r, n_s)).astype(float)
        )
        taxed = bool(np.any(new_tariff))
        return cls(theta, weight, net, levy, taxed, log_a, log_target, invest, invest.sum(axis=1))

    def take(self, rows: BoolArray | NDArray[np.int64]) -> Shocks:
        return Shocks(
            self.theta[rows],
            self.weight[rows],
            _per_replica(self.net, rows),
            _per_replica(self.levy, rows),
            self.taxed,
            self.log_productivity[rows],
            self.log_target[rows],
            self.investment[rows],
            self.invested_in[rows],
        )

    def repeat(self, times: int) -> Shocks:
        def more(a: FloatArray) -> FloatArray:
            return a if a.shape[0] == 1 else np.repeat(a, times, axis=0)

        return Shocks(
            np.repeat(self.theta, times, axis=0),
            np.repeat(self.weight, times, axis=0),
            more(self.net),
            more(self.levy),
            self.taxed,
            np.repeat(self.log_productivity, times, axis=0),
            np.repeat(self.log_target, times, axis=0),
            np.repeat(self.investment, times, axis=0),
            np.repeat(self.invested_in, times, axis=0),
        )

    def sub(self, rows: slice) -> Shocks:
        """The shocks of a contiguous block of replicas (views, no copies)."""
        return Shocks(
            self.theta[rows],
            self.weight[rows],
            self.net if self.net.shape[0] == 1 else self.net[rows],
            self.levy if self.levy.shape[0] == 1 else self.levy[rows],
            self.taxed,
            self.log_productivity[rows],
            self.log_target[rows],
            self.investment[rows],
            self.invested_in[rows],
        )


def _per_replica(a: FloatArray, rows: BoolArray | NDArray[np.int64]) -> FloatArray:
    """``a[rows]``, or ``a`` itself where it is shared by every replica (leading 1)."""
    return a if a.shape[0] == 1 else a[rows]


@dataclass
class TradeShares:
    r"""Trade shares :math:`\pi'_{ijs} = w_{ijs} e_{is} / d_{js}` kept in factors.

    ``weight`` :math:`w` (N, i, j, s) is the shocks' :math:`\pi_{ijs}(\hat\kappa
    \hat\tau)^{-\theta_s}`, ``cost`` :math:`e_{is} = \hat c_{is}^{-\theta_s}` (N, i, s) and
    ``denom`` :math:`d_{js} = \sum_i w_{ijs} e_{is}` (N, j, s). The sums an evaluation
    needs are single passes over ``weight`` (einsum), so the (N, i, j, s) shares are formed
    only for the answer (a product and a division would each write a new array of that
    size, the evaluation's largest cost without input-output linkages).
    """

    weight: FloatArray
    cost: FloatArray
    denom: FloatArray

    def full(self) -> FloatArray:
        r""":math:`\pi'`, (N, i, j, s)."""
        out: FloatArray = self.weight * self.cost[:, :, None, :] * (1.0 / self.denom)[:, None]
        return out

    def sales(self, factor: FloatArray | None, spending: FloatArray) -> FloatArray:
        r""":math:`\sum_j \pi'_{ijs} f_{ijs} E_{js}`, (N, i, s); ``factor`` (N or 1, i, j, s)
        or ``None`` (1), ``spending`` (N, j, s)."""
        per_unit = spending / self.denom
        if factor is None:
            summed = np.einsum("nijs,njs->nis", self.weight, per_unit)
        else:
            wide = np.broadcast_to(factor, self.weight.shape)
            summed = np.einsum("nijs,nijs,njs->nis", self.weight, wide, per_unit)
        out: FloatArray = self.cost * summed
        return out

    def collected(self, factor: FloatArray) -> FloatArray:
        r""":math:`\sum_i \pi'_{ijs} f_{ijs}`, (N, j, s)."""
        wide = np.broadcast_to(factor, self.weight.shape)
        out: FloatArray = np.einsum("nijs,nijs,nis->njs", self.weight, wide, self.cost)
        return out / self.denom

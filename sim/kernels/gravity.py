r"""Multi-sector structural gravity in changes (exact hat algebra).

The model is the multi-sector Armington / structural gravity system of
Anderson & van Wincoop (2003) and Yotov, Piermartini, Monteiro & Larch (2016,
*An Advanced Guide to Trade Policy Analysis*, ch. 2), with a Cobb-Douglas upper
tier across sectors. Each region ``i`` supplies a quantity of each sector's
good; the factory-gate price :math:`p_{is}` clears the market. Written in
changes relative to a baseline (Dekle, Eaton & Kortum 2007), with
:math:`\theta_s = \sigma_s - 1` the trade elasticity and hats denoting
new/baseline ratios:

.. math::

    \pi'_{ijs} = \frac{\pi_{ijs}\,(\hat t_{ijs}\,\hat p_{is})^{-\theta_s}}
                      {\sum_k \pi_{kjs}\,(\hat t_{kjs}\,\hat p_{ks})^{-\theta_s}},
    \qquad
    Y'_{is} = \hat p_{is}\,\hat q_{is}\,Y_{is} = \sum_j \pi'_{ijs}\,\alpha_{js}\,E'_j .

Expenditure follows one of two deficit closures, both scaled so that world
spending equals world income (Walras' law, which makes market clearing exact):

.. math::

    \text{ratio:}\quad E'_j = \phi_j Y'_j\,\frac{\sum_k Y'_k}{\sum_k \phi_k Y'_k},
    \qquad
    \text{additive:}\quad E'_j = Y'_j + D_j\,\frac{\sum_k Y'_k}{\sum_k Y_k},

with :math:`\phi_j = E_j/Y_j` and :math:`D_j = E_j - Y_j` from the baseline.
The price index of sector ``s`` in ``j`` changes by
:math:`\hat P_{js} = (\sum_k \pi_{kjs}(\hat t_{kjs}\hat p_{ks})^{-\theta_s})^{-1/\theta_s}`
and the consumer price index by :math:`\hat P_j = \prod_s \hat P_{js}^{\alpha_{js}}`.

The numeraire is either world output at baseline prices
(:math:`\sum_{is} Y'_{is} = \sum_{is} \hat q_{is} Y_{is}`) or the consumer
price index of one region (:math:`\hat P_r = 1`, as gegravity fixes the
reference importer's inward multilateral resistance).

Everything is vectorised over a leading replica axis ``N``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

CLOSURES = ("ratio", "additive")

#: Largest system (region-sectors) whose Newton step is a dense solve by default.
DENSE_NEWTON_LIMIT = 150


@dataclass(frozen=True)
class GravityBaseline:
    """Baseline quantities derived once from a trade table.

    Attributes
    ----------
    shares : (R, R, S)
        Import shares :math:`\\pi_{ijs} = X_{ijs} / \\sum_k X_{kjs}` (origin, destination, sector).
    output : (R, S)
        Baseline output value :math:`Y_{is} = \\sum_j X_{ijs}`, money per year.
    expenditure : (R,)
        Baseline total expenditure :math:`E_j`, money per year.
    alpha : (R, S)
        Expenditure shares across sectors :math:`\\alpha_{js}`.
    """

    shares: FloatArray
    output: FloatArray
    expenditure: FloatArray
    alpha: FloatArray


@dataclass(frozen=True)
class GravitySolution:
    """An equilibrium for every replica.

    Attributes
    ----------
    price : (N, R, S)
        Factory-gate price changes :math:`\\hat p_{is}`.
    trade : (N, R, R, S)
        Trade flows :math:`X'_{ijs}`, money per year (the baseline's unit).
    output : (N, R, S)
        Output value :math:`Y'_{is}`, money per year.
    expenditure : (N, R)
        Total expenditure :math:`E'_j`, money per year.
    price_index : (N, R)
        Consumer price index change :math:`\\hat P_j`.
    iterations : int
        Trial steps taken by the slowest replica.
    replica_iterations : (N,)
        Trial steps each replica took before it converged.
    residual : (N,)
        Final max relative excess demand per replica.
    converged : (N,)
        Whether each replica met the tolerance.
    """

    price: FloatArray
    trade: FloatArray
    output: FloatArray
    expenditure: FloatArray
    price_index: FloatArray
    iterations: int
    replica_iterations: NDArray[np.int64]
    residual: FloatArray
    converged: NDArray[np.bool_]


def build_gravity_baseline(flows: FloatArray) -> GravityBaseline:
    """Derive shares, output and expenditure from a baseline trade table.

    Parameters
    ----------
    flows : (R, R, S)
        Baseline trade :math:`X_{ijs}` including domestic sales on the diagonal,
        money per year. Must be non-negative, every destination-sector must buy
        something and every region must spend something.

    Returns
    -------
    GravityBaseline
    """
    expenditure_js = flows.sum(axis=0)  # (R, S)
    shares = np.divide(
        flows, expenditure_js[None, :, :], out=np.zeros_like(flows), where=expenditure_js > 0
    )
    expenditure = expenditure_js.sum(axis=1)
    alpha = expenditure_js / expenditure[:, None]
    return GravityBaseline(
        shares=shares, output=flows.sum(axis=1), expenditure=expenditure, alpha=alpha
    )


def cost_weights(cost_change: FloatArray, theta: FloatArray) -> FloatArray:
    r"""Trade-cost factor :math:`\hat t_{ijs}^{-\theta_s}`.

    Parameters
    ----------
    cost_change : (N, R, R, S)
        Trade-cost changes :math:`\hat t_{ijs}` (1 = baseline cost).
    theta : (N, S)
        Trade elasticities :math:`\theta_s = \sigma_s - 1`, positive.

    Returns
    -------
    (N, R, R, S) array
    """
    result: FloatArray = cost_change ** (-theta[:, None, None, :])
    return result


def extrapolate_prices(last: FloatArray, before: FloatArray) -> FloatArray:
    r"""Warm start for the next period: the last two equilibria extrapolated in logs.

    .. math::

        \ln p^{guess}_{is} = \ln p^{(k-1)}_{is}
            + \operatorname{clip}\bigl(\ln p^{(k-1)}_{is} - \ln p^{(k-2)}_{is},\,
              -\ln 2,\, \ln 2\bigr)

    Prices move smoothly between periods (growth, cost trends, ramp-up), so the
    guess is usually much closer than the last period's prices (about one Newton
    iteration fewer per period); after a jump (a policy, a plant starting) the
    clip bounds the overshoot and the line search does the rest.

    Parameters
    ----------
    last, before : (N, R, S)
        Factory-gate prices of the two previous periods, positive.

    Returns
    -------
    (N, R, S) array
    """
    guess: FloatArray = last * np.clip(last / before, 0.5, 2.0)
    return guess


def solve_gravity(
    baseline: GravityBaseline,
    cost_weight: FloatArray,
    theta: FloatArray,
    quantity: FloatArray,
    *,
    closure: str = "ratio",
    numeraire: int | None = None,
    price_guess: FloatArray | None = None,
    tol: float = 1e-12,
    max_iter: int = 5000,
    newton_limit: int = DENSE_NEWTON_LIMIT,
) -> GravitySolution:
    r"""Solve the general equilibrium for every replica.

    Newton's method on log factory-gate prices with the analytic Jacobian of
    log excess demand :math:`F_{is} = \ln D_{is} - \ln Y'_{is}`,

    .. math::

        \frac{\partial D_{is}}{\partial \ln p_{kt}} =
            -\delta_{st}\,\theta_s \Bigl(\delta_{ik} D_{is}
                - \sum_j X'_{ijs}\,\pi'_{kjs}\Bigr)
            + \sum_j \frac{X'_{ijs}}{E'_j}\,\frac{\partial E'_j}{\partial Y'_k}\,Y'_{kt},

    made invertible by adding :math:`\mathbf{1}\mathbf{1}^\top` (demand is
    homogeneous of degree zero, so :math:`J\mathbf{1} = 0`), with a
    backtracking line search on :math:`\lVert F \rVert_2`. Up to
    ``newton_limit`` region-sectors (and for one sector) the step solves the
    dense (RS x RS) system; above it, the same step is computed from the
    Jacobian's structure (block diagonal by sector plus low rank,
    :func:`_structured_newton_move`), whose cost grows as :math:`S R^3` instead
    of :math:`(RS)^3`. The structured step is faster at every size measured but
    less accurate on badly scaled tables (the Woodbury identity), so the dense
    step is kept where it is affordable. A Jacobian is built
    only for replicas that still need a step (accepted and not converged).
    A replica stops moving as soon as it has converged, so its result does not
    depend on which other replicas share the batch.

    Parameters
    ----------
    baseline : GravityBaseline
        Shares, output and expenditure of the baseline year.
    cost_weight : (N, R, R, S)
        :math:`\hat t_{ijs}^{-\theta_s}` from :func:`cost_weights`.
    theta : (N, S)
        Trade elasticities.
    quantity : (N, R, S)
        Supply quantity changes :math:`\hat q_{is}` (growth, new plants), positive.
    closure : {"ratio", "additive"}
        Deficit closure, see the module docstring.
    numeraire : int or None
        Index of the region whose consumer price index is held at 1; ``None``
        holds world output at baseline prices fixed.
    price_guess : (N, R, S), optional
        Warm start, e.g. the previous period's prices.
    tol : float
        Convergence tolerance on the max relative excess demand.
    max_iter : int
        Iteration budget (trial steps).
    newton_limit : int
        Largest number of region-sectors whose Newton step is a dense solve;
        above it the structured step is used (one-sector systems: always dense).
        Both are the same Newton step up to rounding.

    Returns
    -------
    GravitySolution
    """
    if closure not in CLOSURES:
        raise ValueError(f"closure must be one of {CLOSURES}, got {closure!r}")
    pi = baseline.shares
    y0 = baseline.output
    alpha = baseline.alpha
    n_rep = quantity.shape[0]
    n_reg, n_sec = y0.shape
    size = n_reg * n_sec
    phi = baseline.expenditure / y0.sum(axis=1)
    deficit = baseline.expenditure - y0.sum(axis=1)
    world0 = y0.sum()
    neg_theta = -theta[:, None, :]  # (N, 1, S)
    base_weight = pi[None] * cost_weight  # (N, i, j, s): fixed within the solve
    supply_value = y0[None] * quantity  # (N, R, S) at baseline prices
    dense = size <= newton_limit or n_sec == 1

    price = np.ones_like(quantity) if price_guess is None else price_guess.copy()
    # Normalise first: a guess that already clears every market is returned as is.
    price = _normalise(price, base_weight, neg_theta, supply_value, alpha, numeraire, theta)

    def measure(p: FloatArray) -> tuple[FloatArray, ...]:
        """Trade, output, expenditure, sales and log excess demand at prices ``p``."""
        trade, output, expenditure, _ = _evaluate(
            p, base_weight, neg_theta, supply_value, alpha, phi, deficit, world0, closure
        )
        sales = trade.sum(axis=2)  # (N, i, s)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_excess = np.where((output > 0) & (sales > 0), np.log(sales / output), 0.0)
        # A NaN or infinite market is not cleared: an infinite excess keeps its replica
        # unconverged (and its trial steps rejected) instead of passing it as a zero.
        broken = ~(np.isfinite(sales) & np.isfinite(output))
        if broken.any():
            log_excess = np.where(broken, np.inf, log_excess)
        return trade, output, expenditure, sales, log_excess

    def propose(state: tuple[FloatArray, ...], need: NDArray[np.bool_]) -> FloatArray:
        """The Newton move, (n, R, S), for the replicas in ``need`` only.

        A replica that has converged, or whose trial step was rejected, needs no
        new direction: building and factorising its Jacobian would be wasted.
        """
        rows = slice(None) if need.all() else np.flatnonzero(need)
        trade, output, expenditure, sales, log_excess = (a[rows] for a in state)
        theta_n = theta[rows]
        n_need = len(trade)
        if dense:
            jac = _jacobian(
                trade, output, expenditure, sales, theta_n, phi, deficit, world0, closure
            )
            jac = jac.reshape(n_need, size, size)
            jac += 1.0  # + 1 1^T pins the price level
            solved = np.linalg.solve(jac, -log_excess.reshape(n_need, size, 1))
            step: FloatArray = solved.reshape(n_need, n_reg, n_sec).astype(np.float64, copy=False)
        else:
            step = _structured_newton_move(
                trade,
                output,
                expenditure,
                sales,
                log_excess,
                theta_n,
                phi,
                deficit,
                world0,
                closure,
            )
        return step

    def gauge(log_excess: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Max relative excess demand (N,) and squared norm of F (N,)."""
        return np.abs(np.expm1(log_excess)).max(axis=(1, 2)), (log_excess**2).sum(axis=(1, 2))

    state = measure(price)
    residual, norm = gauge(state[4])
    active = residual > tol
    move = np.zeros_like(price)
    if active.any():
        move[active] = propose(state, active)
    length = np.ones(n_rep)
    iterations = 0
    per_replica = np.zeros(n_rep, dtype=np.int64)
    while active.any() and iterations < max_iter:
        iterations += 1
        per_replica += active
        candidate = price * np.exp(length[:, None, None] * move)
        candidate = _normalise(
            candidate, base_weight, neg_theta, supply_value, alpha, numeraire, theta
        )
        state = measure(candidate)
        cand_residual, cand_norm = gauge(state[4])
        better = active & np.isfinite(cand_norm) & (cand_norm < norm)
        price = np.where(better[:, None, None], candidate, price)
        residual = np.where(better, cand_residual, residual)
        norm = np.where(better, cand_norm, norm)
        length = np.where(better, 1.0, np.where(active, 0.5 * length, length))
        # A replica whose step has shrunk to nothing is as close as rounding allows.
        active = (residual > tol) & (length > 1e-10)
        need = better & active
        if need.any():
            move[need] = propose(state, need)
    active = residual > tol
    trade, output, expenditure, price_index = _evaluate(
        price, base_weight, neg_theta, supply_value, alpha, phi, deficit, world0, closure
    )
    return GravitySolution(
        price=price,
        trade=trade,
        output=output,
        expenditure=expenditure,
        price_index=price_index,
        iterations=iterations,
        replica_iterations=per_replica,
        residual=residual,
        converged=~active,
    )


def _jacobian(
    trade: FloatArray,
    output: FloatArray,
    expenditure: FloatArray,
    sales: FloatArray,
    theta: FloatArray,
    phi: FloatArray,
    deficit: FloatArray,
    world0: float,
    closure: str,
) -> FloatArray:
    """d ln(D_is / Y_is) / d ln p_kt, shape (N, i, s, k, t); see :func:`solve_gravity`."""
    n_reg, n_sec = output.shape[1:]
    eye_r = np.eye(n_reg)
    share = trade / trade.sum(axis=1, keepdims=True)  # pi'_{ijs}
    cross = np.einsum("nijs,nkjs->niks", trade, share)
    substitution = -theta[:, None, None, :] * (
        eye_r[None, :, :, None] * sales[:, :, None, :] - cross
    )
    d_exp = _d_expenditure(output, expenditure, phi, deficit, world0, closure)
    via_income = np.einsum("nijs,nj,njk->nisk", trade, 1.0 / expenditure, d_exp)
    # Divide by sales before expanding to (N, i, s, k, t): the big array is written once.
    inv_sales = 1.0 / sales  # (N, i, s)
    via_income *= inv_sales[:, :, :, None]
    substitution *= inv_sales[:, :, None, :]  # (N, i, k, s)
    n_rep = len(output)
    jac = np.empty((n_rep, n_reg, n_sec, n_reg, n_sec))
    np.multiply(via_income[:, :, :, :, None], output[:, None, None, :, :], out=jac)
    # Substitution acts within a sector: add it on the s == t diagonal, a strided view.
    item = jac.itemsize
    size = n_reg * n_sec
    sector_diagonal = np.lib.stride_tricks.as_strided(
        jac,
        shape=(n_rep, n_reg, n_reg, n_sec),
        strides=(size * size * item, n_sec * size * item, n_sec * item, (size + 1) * item),
        writeable=True,
    )
    sector_diagonal += substitution
    diagonal = np.lib.stride_tricks.as_strided(
        jac, shape=(n_rep, size), strides=(size * size * item, (size + 1) * item), writeable=True
    )
    diagonal -= 1.0  # d ln Y_is / d ln p_is = 1
    return jac


def _d_expenditure(
    output: FloatArray,
    expenditure: FloatArray,
    phi: FloatArray,
    deficit: FloatArray,
    world0: float,
    closure: str,
) -> FloatArray:
    """dE'_j / dY'_k under the closure, shape (N, j, k)."""
    n_reg = output.shape[1]
    eye_r = np.eye(n_reg)
    income = output.sum(axis=2)  # (N, R)
    if closure == "ratio":
        world = income.sum(axis=1)
        weighted = (phi[None] * income).sum(axis=1)
        # dE_j/dY_k for E_j = phi_j Y_j W / sum(phi Y)
        d_exp: FloatArray = expenditure[:, :, None] * (
            eye_r[None] / income[:, :, None]
            + 1.0 / world[:, None, None]
            - phi[None, None, :] / weighted[:, None, None]
        )
        return d_exp
    return np.broadcast_to(
        eye_r[None] + deficit[None, :, None] / world0, (len(income), n_reg, n_reg)
    )


def _structured_newton_move(
    trade: FloatArray,
    output: FloatArray,
    expenditure: FloatArray,
    sales: FloatArray,
    log_excess: FloatArray,
    theta: FloatArray,
    phi: FloatArray,
    deficit: FloatArray,
    world0: float,
    closure: str,
) -> FloatArray:
    r"""The Newton step :math:`(J + \mathbf 1\mathbf 1^\top)^{-1}(-F)` without forming J.

    The Jacobian of :func:`_jacobian` is block diagonal by sector (substitution
    between origins, and the own-output term) plus a rank-R income term, and the
    price-level pin adds rank one:

    .. math::

        J + \mathbf 1\mathbf 1^\top = M + U V^\top,\quad
        M_s = \theta_s\,C_s - (1 + \theta_s) I,\quad
        C_{s,ik} = \frac{\sum_j X'_{ijs}\pi'_{kjs}}{D_{is}},\quad
        U = \Bigl[\frac{\sum_j X'_{ijs} \partial E'_j/\partial Y'_k}{E'_j D_{is}},\ \mathbf 1\Bigr],\quad
        V = \bigl[\delta_{kk'} Y'_{k't},\ \mathbf 1\bigr].

    The Woodbury identity then needs S solves of R x R (one per sector and
    replica) and one of (R+1) x (R+1), instead of one (RS) x (RS) solve: the cost
    grows as S R^3 rather than (R S)^3. Returns the move in log prices, (N, R, S).
    """
    n_rep, n_reg, _, n_sec = trade.shape
    # The step is invariant to scaling trade, output, expenditure and sales together
    # (U scales as 1/c and V as c); in units of world output no product can overflow,
    # even with flows near the float64 limit.
    scale = output.sum(axis=(1, 2))  # (N,)
    trade = trade / scale[:, None, None, None]
    output = output / scale[:, None, None]
    expenditure = expenditure / scale[:, None]
    sales = sales / scale[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        column = trade.sum(axis=1, keepdims=True)
        share = np.where(column > 0, trade / column, 0.0)  # pi'_{ijs}; 0 where j buys none
    # cross[n, s, i, k] = sum_j X'_{ijs} pi'_{kjs}: one batched matmul per (replica, sector).
    cross = np.matmul(trade.transpose(0, 3, 1, 2), share.transpose(0, 3, 2, 1))
    inv_sales = (1.0 / sales).transpose(0, 2, 1)  # (N, S, i)
    theta_s = theta[:, :, None, None]  # (N, S, 1, 1)
    blocks = cross * (theta_s * inv_sales[:, :, :, None])  # (N, S, i, k)
    idx = np.arange(n_reg)
    blocks[:, :, idx, idx] -= 1.0 + theta[:, :, None]
    d_exp = _d_expenditure(output, expenditure, phi, deficit, world0, closure)
    # G[n, s, i, k] = sum_j X'_{ijs} / E'_j * dE'_j/dY'_k / D_is
    weighted = trade / expenditure[:, None, :, None]  # (N, i, j, s)
    income = np.matmul(weighted.transpose(0, 3, 1, 2), d_exp[:, None])  # (N, S, i, k)
    rhs = np.empty((n_rep, n_sec, n_reg, n_reg + 2))
    rhs[..., 0] = -log_excess.transpose(0, 2, 1)
    np.multiply(income, inv_sales[:, :, :, None], out=rhs[..., 1 : n_reg + 1])
    rhs[..., n_reg + 1] = 1.0
    solved = np.linalg.solve(blocks, rhs)  # M^-1 [b, U], (N, S, R, R + 2)
    base = solved[..., 0]  # M^-1 b, (N, S, k)
    mu = solved[..., 1:]  # M^-1 U, (N, S, k, R + 1)
    out_t = output.transpose(0, 2, 1)  # (N, S, k): Y'_{kt} as [t, k]
    cap = np.empty((n_rep, n_reg + 1, n_reg + 1))
    cap[:, :n_reg, :] = np.einsum("ntk,ntkc->nkc", out_t, mu)
    cap[:, n_reg, :] = mu.sum(axis=(1, 2))
    cap[:, idx, idx] += 1.0
    cap[:, n_reg, n_reg] += 1.0
    v = np.empty((n_rep, n_reg + 1))
    v[:, :n_reg] = np.einsum("ntk,ntk->nk", out_t, base)
    v[:, n_reg] = base.sum(axis=(1, 2))
    w = np.linalg.solve(cap, v[:, :, None])[:, :, 0]
    move = base - np.einsum("ntkc,nc->ntk", mu, w)
    result: FloatArray = move.transpose(0, 2, 1)
    return result


def _sector_price_index(
    price: FloatArray, base_weight: FloatArray, neg_theta: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return the share numerators (N, i, j, s) and their sums over origins (N, j, s)."""
    numer = base_weight * (price**neg_theta)[:, :, None, :]
    return numer, numer.sum(axis=1)


def _evaluate(
    price: FloatArray,
    base_weight: FloatArray,
    neg_theta: FloatArray,
    supply_value: FloatArray,
    alpha: FloatArray,
    phi: FloatArray,
    deficit: FloatArray,
    world0: float,
    closure: str,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    numer, denom = _sector_price_index(price, base_weight, neg_theta)
    output = supply_value * price  # (N, R, S)
    income = output.sum(axis=2)  # (N, R)
    world = income.sum(axis=1, keepdims=True)  # (N, 1)
    if closure == "ratio":
        spend = phi[None] * income
        expenditure = spend * (world / spend.sum(axis=1, keepdims=True))
    else:
        expenditure = income + deficit[None] * (world / world0)
    demand_js = alpha[None] * expenditure[:, :, None]  # (N, j, s)
    trade = numer / denom[:, None, :, :] * demand_js[:, None, :, :]
    # P_js^hat = denom^(-1/theta); CPI = prod_s P_js^alpha_js
    log_p_js = np.log(denom) / neg_theta  # neg_theta is (N,1,S): broadcasts over j
    price_index = np.exp((alpha[None] * log_p_js).sum(axis=2))
    return trade, output, expenditure, price_index


def _normalise(
    price: FloatArray,
    base_weight: FloatArray,
    neg_theta: FloatArray,
    supply_value: FloatArray,
    alpha: FloatArray,
    numeraire: int | None,
    theta: FloatArray,
) -> FloatArray:
    # Demand is homogeneous of degree zero in prices, so rescaling every price
    # by one factor per replica only picks the unit of account.
    if numeraire is None:
        scale = supply_value.sum(axis=(1, 2)) / (supply_value * price).sum(axis=(1, 2))
    else:
        _, denom = _sector_price_index(price, base_weight, neg_theta)
        log_p = np.log(denom[:, numeraire, :]) / neg_theta[:, 0, :]
        scale = np.exp(-(alpha[numeraire][None] * log_p).sum(axis=1))
    normalised: FloatArray = price * scale[:, None, None]
    return normalised

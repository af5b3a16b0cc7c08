r"""Multi-country, multi-sector general equilibrium with input-output linkages, in changes.

The model of Caliendo & Parro (2015, *Review of Economic Studies* 82(1), "Estimates
of the Trade and Welfare Effects of NAFTA", section 2-3), written in exact hat
algebra (Dekle, Eaton & Kortum 2007) and extended with labour-market closures
(sector-specific labour, and a labour-supply elasticity whose limits are full
employment and a fixed real wage, as GTAP's unemployment closure). Regions
``i, j`` (R), sectors ``s, t`` (S); a hat is a counterfactual over baseline ratio.

**Production.** Region-sector ``(i, s)`` combines labour (value-added share
:math:`\beta_{is}`) and the composite goods of every sector ``t`` (shares
:math:`\gamma_{ist}`, :math:`\beta_{is} + \sum_t \gamma_{ist} = 1`). With a
productivity change :math:`\hat A_{is}` that augments labour (primary-factor
technical change, GTAP's ``afe``; in the Fréchet form of Caliendo & Parro
:math:`\hat T_{is} = \hat A_{is}^{\beta_{is}\theta_s}`), so that real value added at
baseline prices changes by :math:`\hat A_{is}\hat L_{is}` (a gross-output shift
:math:`\hat A` would raise it by about :math:`\hat A^{1/\beta}`: Hulten 1978), the
unit cost and the sector price indices change by

.. math::

    \hat c_{is} = \Bigl(\frac{\hat w_{is}}{\hat A_{is}}\Bigr)^{\beta_{is}}
        \prod_t \hat P_{it}^{\gamma_{ist}},
    \qquad
    \hat P_{js} = \Bigl(\sum_i \pi_{ijs}\,(\hat\kappa_{ijs}\hat\tau_{ijs}
        \hat c_{is})^{-\theta_s}\Bigr)^{-1/\theta_s},
    \qquad
    \pi'_{ijs} = \pi_{ijs}\Bigl(\frac{\hat\kappa_{ijs}\hat\tau_{ijs}\hat c_{is}}
        {\hat P_{js}}\Bigr)^{-\theta_s},

with :math:`\pi_{ijs}` the share of origin ``i`` in ``j``'s spending on ``s``
(valued including tariffs), :math:`\hat\kappa` the change of iceberg costs and
:math:`\hat\tau = (1 + \tau')/(1 + \tau)` that of one plus the ad valorem tariff.

**Expenditure and income.** Spending on ``s`` in ``j`` (tariff inclusive) is
intermediate demand plus final demand with Cobb-Douglas shares
:math:`\alpha_{js}`; gross output is what producers receive net of tariffs;
income is value added plus tariff revenue (rebated to the importer's
households) plus the deficit:

.. math::

    E'_{js} = \sum_t \gamma_{jts}\,Y'_{jt} + \alpha_{js} I'_j,
    \qquad
    Y'_{is} = \sum_j \frac{\pi'_{ijs}}{1 + \tau'_{ijs}} E'_{js},
    \qquad
    I'_j = \sum_s \beta_{js} Y'_{js}
        + \sum_{i,s} \frac{\tau'_{ijs}}{1+\tau'_{ijs}}\pi'_{ijs}E'_{js} + D'_j .

**Investment demand** (project capex while plants are built). Investor ``i`` buys
investment goods :math:`K_{ijs}` (a real quantity, baseline money) in host ``j``: they add
:math:`\sum_i K_{ijs}\hat P_{js}` to :math:`E'_{js}` (sourced through the trade shares
like any spending there) and come out of the investor's income for consumption, so the
host's trade deficit rises by the foreign investors' spending, the capital inflow that
finances it (the transfer of a balance-of-payments account; a project financed at home
only shifts spending from consumption to investment):

.. math::

    E'_{js} = \sum_t \gamma_{jts}\,Y'_{jt} + \alpha_{js} I'_j + \sum_i K_{ijs}\hat P_{js},
    \qquad
    I'_j = V'_j + R'_j + D'_j - \sum_{l,s} K_{jls}\hat P_{ls}.

Deficit closures: ``fixed`` :math:`D'_j = D_j\,V'/V` (a fixed share of world
value added :math:`V`); ``ratio`` holds income over value added at its
baseline ratio :math:`\phi_j = (V_j + D_j)/V_j` rescaled so deficits sum to
zero, :math:`D'_j = V'_j(\phi_j V'/\sum_l \phi_l V'_l - 1)` (with no input-output
linkages and no tariffs this is the expenditure/output ratio of gegravity);
``zero`` :math:`D'_j = 0` (the first solve of Caliendo & Parro, which removes the
baseline's deficits).

**Labour markets.** Value added pays labour: :math:`\hat w_{is}\hat L_{is}V_{is}
= V'_{is}` with :math:`V_{is} = \beta_{is}Y_{is}`. In a region with mobile labour
one wage clears the region's labour market (:math:`\hat w_{is} = \hat w_i`,
:math:`\hat w_i\hat L_i V_i = \sum_s V'_{is}`) and employment moves between
sectors, :math:`\hat L_{is} = V'_{is}/(\hat w_i V_{is})`; with sector-specific
labour each region-sector has its own market. Labour supply answers the real
wage with elasticity :math:`\varepsilon_i`,

.. math::

    \hat L = \Bigl(\frac{\hat w}{\hat P_i\,\bar\omega}\Bigr)^{\varepsilon_i},
    \qquad \hat P_i = \prod_s \hat P_{is}^{\alpha_{is}},

so :math:`\varepsilon_i = 0` is full employment with flexible wages and
:math:`\varepsilon_i = \infty` a fixed real wage :math:`\hat w = \hat P_i\bar\omega`
with employment adjusting (slack labour); :math:`\bar\omega` is the target
real wage change of the market (1: the baseline's).

**Numeraire.** Demand is homogeneous of degree zero in nominal prices, so one
normalisation per replica picks the unit of account: ``None`` holds world
value added at baseline prices, :math:`\sum_{is} V'_{is} = \sum_{is}
V_{is}\hat A_{is}\hat L_{is}`; an integer ``r`` holds region ``r``'s consumer
price index at 1.

**Solution.** The unknowns are the log wage of every labour market with a finite
supply elasticity and the log employment of every market with a fixed real wage.
Given them, the price block is a fixed point (a contraction when no region fixes
its real wage: its modulus is the largest input share), income from the labour
markets is known, and spending solves a linear system (a dense solve up to
``dense_limit`` region-sectors, a contraction iteration above). Newton's method
with a finite-difference Jacobian (all perturbations evaluated as one batch, the
Jacobian reused while the residual falls fast and kept current by Broyden's update,
applied to the inverse of the Newton matrix so that a step costs a matrix-vector
product) and a backtracking line search drives the labour-market residual
:math:`\ln V'^{\mathrm{demand}}_g - \ln(\hat w_g\hat L_g V_g)` to zero.
Everything is vectorised over a leading replica axis ``N``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sim.kernels.equilibrium_accounts import (
    DEFICIT_CLOSURES,
    DENSE_SPENDING_LIMIT,
    EquilibriumBaseline,
    EquilibriumSolution,
    LabourMarkets,
    build_equilibrium_baseline,
    build_labour_markets,
)
from sim.kernels.equilibrium_conditions import _excess, _Shocks, _State, _System

FloatArray = NDArray[np.float64]

__all__ = [
    "DEFICIT_CLOSURES",
    "DENSE_SPENDING_LIMIT",
    "EquilibriumBaseline",
    "EquilibriumSolution",
    "LabourMarkets",
    "baseline_jacobian",
    "build_equilibrium_baseline",
    "build_labour_markets",
    "extrapolate_unknowns",
    "remove_deficits",
    "solve_equilibrium",
    "unknowns_of",
]


def solve_equilibrium(
    baseline: EquilibriumBaseline,
    theta: FloatArray,
    labour: LabourMarkets,
    *,
    cost_change: FloatArray | None = None,
    tariff: FloatArray | None = None,
    productivity: FloatArray | None = None,
    real_wage_target: FloatArray | None = None,
    investment: FloatArray | None = None,
    deficit_closure: str = "fixed",
    numeraire: int | None = None,
    guess: FloatArray | None = None,
    jacobian: FloatArray | None = None,
    inverse_jacobian: FloatArray | None = None,
    tol: float = 1e-12,
    max_iter: int = 100,
    dense_limit: int = DENSE_SPENDING_LIMIT,
) -> EquilibriumSolution:
    r"""Solve the counterfactual equilibrium for every replica.

    Parameters
    ----------
    baseline : EquilibriumBaseline
    theta : (N, S)
        Trade elasticities :math:`\theta_s > 0` (Fréchet dispersion; Armington
        :math:`\sigma_s - 1`).
    labour : LabourMarkets
    cost_change : (N, R, R, S), optional
        :math:`\hat\kappa_{ijs}`, iceberg trade-cost changes (default 1).
    tariff : (N, R, R, S), optional
        Counterfactual tariff rates :math:`\tau'_{ijs}` (default: the baseline's).
    productivity : (N, R, S), optional
        :math:`\hat A_{is}` (default 1).
    real_wage_target : (N, G), optional
        :math:`\bar\omega_g`, the real wage change each labour market's supply
        curve is anchored at (default 1): for a path of equilibria, the real wages
        of the path without the shocks, so that employment answers the shocks only.
    investment : (N, R, R, S), optional
        :math:`K_{ijs}`, investment goods of sector ``s`` bought in host ``j`` and paid
        by investor ``i``, in baseline (constant) money per year: a real quantity,
        spent at the host's sector price :math:`\hat P_{js}` (default none).
    deficit_closure : {"fixed", "ratio", "zero"}
    numeraire : int or None
        Region whose consumer price index is held at 1, or ``None`` for world
        value added at baseline prices.
    guess : (N, G), optional
        Warm start of the unknowns (log wages, or log employment where the
        real wage is fixed), e.g. :attr:`EquilibriumSolution` of a nearby problem
        through :func:`unknowns_of`.
    jacobian : (N, G, G) or (G, G), optional
        Initial Jacobian of the labour-market residuals in the unknowns, e.g. the
        last solution's (through ``inverse_jacobian``, below) or
        :func:`baseline_jacobian`; default: each replica's by finite differences.
        It only changes the path to the solution, not the solution.
    inverse_jacobian : (N, G, G) or (G, G), optional
        The inverse of a previous solve's Newton matrix
        (:attr:`EquilibriumSolution.inverse_jacobian`), used instead of ``jacobian``
        without inverting anything: the warm start of a path of equilibria.
    tol : float
        Largest relative labour-market excess demand accepted.
    max_iter : int
        Newton steps (trial steps of the line search included).
    dense_limit : int
        Largest number of region-sectors whose spending system is solved densely.

    Returns
    -------
    EquilibriumSolution
    """
    if deficit_closure not in DEFICIT_CLOSURES:
        raise ValueError(f"deficit_closure must be one of {DEFICIT_CLOSURES}")
    n_rep = theta.shape[0]
    n_r, n_s = baseline.shape
    shocks = _Shocks.build(
        baseline, theta, cost_change, tariff, productivity, real_wage_target, investment
    )
    system = _System(baseline, labour, deficit_closure, numeraire, n_r * n_s <= dense_limit)
    unknowns = system.normalise(np.zeros((n_rep, labour.count)))
    state = system.evaluate(unknowns, shocks, None)
    size = _norm(state.residual)
    if guess is not None:
        # A warm start is kept only where it is closer than the baseline (an
        # extrapolation across a jump can overshoot badly).
        guessed = system.normalise(np.array(guess, dtype=float))
        guess_state = system.evaluate(guessed, shocks, None)
        guess_size = _norm(guess_state.residual)
        closer = np.flatnonzero(np.isfinite(guess_size) & ~(guess_size > size))
        unknowns[closer] = guessed[closer]
        state.put(closer, guess_state.take(closer))
        size[closer] = guess_size[closer]
    active = _excess(state.residual) > tol
    # Newton's matrix is the Jacobian of the residuals plus the normalisation's pin; the
    # solver keeps its inverse, so that a step is a matrix-vector product and Broyden's
    # update a rank-one one (Sherman-Morrison), O(G^2) a replica instead of an O(G^3)
    # solve: with sector-specific labour G is every region-sector (200 at 10 x 20),
    # where the solves and the update of the Jacobian took 70 % of a period (Issue 15).
    inverse = np.zeros((n_rep, labour.count, labour.count))
    fresh = np.zeros(n_rep, dtype=bool)
    if inverse_jacobian is not None:
        inverse[:] = inverse_jacobian
    elif jacobian is not None:
        # A Jacobian from elsewhere (the last period's, or the baseline's): Broyden's
        # updates adapt it to each replica and a replica whose steps stall gets its own.
        # Finite differences cost G + 1 evaluations per replica, so this makes N replicas
        # cost far less than N solves. A shared (G, G) one is inverted once.
        inverse[:] = np.linalg.inv(np.asarray(jacobian, dtype=float) + system.pin)
    elif active.any():
        inverse[active] = _newton_inverse(system, unknowns, shocks, state, active)
        fresh[active] = True
    length = np.ones(n_rep)
    iterations = 0
    per_replica = np.zeros(n_rep, dtype=np.int64)
    while active.any() and iterations < max_iter:
        iterations += 1
        per_replica += active
        rows = np.flatnonzero(active)
        step = -np.einsum("ngk,nk->ng", _rows(inverse, rows), state.residual[rows])
        trial = system.normalise(unknowns[rows] + length[rows, None] * step)
        trial_state = system.evaluate(trial, shocks.take(active), state.take(active))
        trial_size = _norm(trial_state.residual)
        better = np.isfinite(trial_size) & (trial_size < size[rows])
        good, bad = rows[better], rows[~better]
        # A chord step (an old Jacobian) that did not cut the residual by 4, or a
        # rejected step with an old Jacobian, asks for a fresh Jacobian; a rejected
        # step with a fresh one is retried at half length (backtracking).
        slow = good[(trial_size[better] > 0.25 * size[good]) & ~fresh[good]]
        retry = bad[~fresh[bad]]
        # Broyden's update keeps the chord Jacobian close to the true one (superlinear);
        # one where it would be ill-conditioned asks for a fresh Jacobian instead.
        moved = trial[better] - unknowns[good]
        change = trial_state.residual[better] - state.residual[good]
        unstable = good[~_broyden_update(inverse, good, moved, change, system.pin)]
        unknowns[good] = trial[better]
        state.put(good, trial_state.take(better))
        size[good] = trial_size[better]
        length[good] = 1.0
        length[bad[fresh[bad]]] *= 0.5
        fresh[:] = False
        active = (_excess(state.residual) > tol) & (length > 1e-10)
        refresh = np.zeros(n_rep, dtype=bool)
        refresh[slow] = True
        refresh[retry] = True
        refresh[unstable] = True
        refresh &= active
        if refresh.any():
            inverse[refresh] = _newton_inverse(system, unknowns, shocks, state, refresh)
            fresh[refresh] = True
    return system.solution(unknowns, shocks, state, per_replica, tol, inverse)


def baseline_jacobian(
    baseline: EquilibriumBaseline,
    theta: FloatArray,
    labour: LabourMarkets,
    *,
    deficit_closure: str = "fixed",
    numeraire: int | None = None,
    dense_limit: int = DENSE_SPENDING_LIMIT,
) -> FloatArray:
    """The Jacobian of the labour-market residuals at the baseline, (G, G).

    A starting Jacobian that does not depend on any replica's draws (``theta`` is
    one vector of central values, (S,)), so that passing it to
    :func:`solve_equilibrium` keeps every replica's result independent of its batch.
    """
    n_r, n_s = baseline.shape
    shocks = _Shocks.build(baseline, np.asarray(theta, dtype=float)[None], None, None, None, None)
    system = _System(baseline, labour, deficit_closure, numeraire, n_r * n_s <= dense_limit)
    unknowns = np.zeros((1, labour.count))
    state = system.evaluate(unknowns, shocks, None)
    return system.jacobian(unknowns, shocks, state)[0]


def unknowns_of(solution: EquilibriumSolution, labour: LabourMarkets) -> FloatArray:
    """The solver's unknowns at a solution, (N, G): a warm start for a nearby problem."""
    n_rep = solution.wage.shape[0]
    wage = np.log(solution.wage.reshape(n_rep, -1)[:, labour.first_cell])
    employment = np.log(solution.employment_group)
    fixed = np.isinf(labour.elasticity[labour.region])
    return np.where(fixed[None], employment, wage)


def extrapolate_unknowns(last: FloatArray, before: FloatArray) -> FloatArray:
    r"""Warm start for the next period: the last two solutions' unknowns extrapolated.

    .. math::

        u^{guess} = u^{(k-1)} + \operatorname{clip}(u^{(k-1)} - u^{(k-2)}, -\ln 2, \ln 2)

    Wages and employment move smoothly between periods (growth, cost trends,
    ramp-up); after a jump the clip bounds the overshoot and the line search does
    the rest.

    Parameters
    ----------
    last, before : (N, G)
        Unknowns (log wages or log employment) of the two previous periods.
    """
    guess: FloatArray = last + np.clip(last - before, -np.log(2.0), np.log(2.0))
    return guess


def remove_deficits(
    baseline: EquilibriumBaseline, theta: FloatArray, *, tol: float = 1e-12
) -> EquilibriumBaseline:
    """The baseline without trade deficits: Caliendo & Parro's first solve.

    Solves for zero deficits with mobile labour in full employment and no other
    change, and builds a baseline from the resulting flows (same tariffs and
    technology). Counterfactuals are then measured against this balanced world.

    Parameters
    ----------
    baseline : EquilibriumBaseline
    theta : (S,)
        Trade elasticities.
    """
    n_r, n_s = baseline.shape
    labour = build_labour_markets(n_s, np.ones(n_r, dtype=bool), np.zeros(n_r))
    sol = solve_equilibrium(
        baseline, np.asarray(theta, dtype=float)[None], labour, deficit_closure="zero", tol=tol
    )
    return build_equilibrium_baseline(
        sol.trade[0], baseline.tariff, baseline.va_share, baseline.input_share
    )


def _rows(stack: FloatArray, rows: NDArray[np.intp]) -> FloatArray:
    """``stack[rows]``, without copying the stack when the rows are all of it."""
    return stack if rows.size == stack.shape[0] else stack[rows]


def _newton_inverse(
    system: _System, unknowns: FloatArray, shocks: _Shocks, state: _State, rows: NDArray[np.bool_]
) -> FloatArray:
    """The inverse of the Newton matrix (fresh Jacobian plus pin) of the ``rows`` replicas."""
    jac = system.jacobian(unknowns[rows], shocks.take(rows), state.take(rows))
    return np.asarray(np.linalg.inv(jac + system.pin[None]), dtype=np.float64)


def _broyden_update(
    inverse: FloatArray,
    rows: NDArray[np.intp],
    moved: FloatArray,
    change: FloatArray,
    pin: FloatArray,
) -> NDArray[np.bool_]:
    r"""Broyden's ("good") update of the Jacobian, applied to the inverse Newton matrix.

    The Jacobian's update :math:`J' = J + (y - Js)s^\top / s^\top s` (Broyden 1965)
    is a rank-one update of the Newton matrix :math:`M = J + P` (``P`` the pin), so by
    Sherman and Morrison its inverse :math:`H = M^{-1}` becomes

    .. math::

        H' = H + \frac{(s - H\tilde y)\,s^\top H}{s^\top H \tilde y},
        \qquad \tilde y = y + P s

    (Dennis and Schnabel 1996, *Numerical Methods for Unconstrained Optimization and
    Nonlinear Equations*, s. 8.3): the same iterates as updating :math:`J` and solving.

    Parameters
    ----------
    inverse : (N, G, G)
        :math:`H` of every replica, updated in place at ``rows``.
    rows : (M,) int
        The replicas that moved.
    moved, change : (M, G)
        :math:`s`, the step in the unknowns, and :math:`y`, the change of the residuals.
    pin : (G, G)
        :math:`P`, symmetric.

    Returns
    -------
    (M,) bool
        Where the update was made; elsewhere :math:`s^\top H\tilde y` was too small
        for it (the updated matrix would be near singular) and ``H`` is left as it was.
    """
    block = _rows(inverse, rows)
    target = change + moved @ pin
    h_target = np.einsum("ngk,nk->ng", block, target)
    s_h = np.einsum("ng,ngk->nk", moved, block)
    denom = np.einsum("ng,ng->n", moved, h_target)
    scale = np.sqrt((moved**2).sum(axis=1) * (h_target**2).sum(axis=1))
    ok = np.abs(denom) > 1e-12 * scale
    lhs = (moved - h_target) / np.where(ok, denom, 1.0)[:, None]
    if ok.all() and block is inverse:
        inverse += lhs[:, :, None] * s_h[:, None, :]
    elif ok.any():
        inverse[rows[ok]] = block[ok] + lhs[ok, :, None] * s_h[ok, None, :]
    return ok


def _norm(residual: FloatArray) -> FloatArray:
    return np.sqrt((residual**2).sum(axis=1))

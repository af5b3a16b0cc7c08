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
product: :mod:`sim.kernels.broyden`) and a backtracking line search drives the labour-market residual
:math:`\ln V'^{\mathrm{demand}}_g - \ln(\hat w_g\hat L_g V_g)` to zero.
Everything is vectorised over a leading replica axis ``N``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.errors import ConvergenceError
from sim.kernels.broyden import InverseNewton
from sim.kernels.equilibrium_accounts import (
    DEFICIT_CLOSURES,
    DENSE_SPENDING_LIMIT,
    EquilibriumBaseline,
    EquilibriumSolution,
    LabourMarkets,
    build_equilibrium_baseline,
    build_labour_markets,
)
from sim.kernels.equilibrium_conditions import EquilibriumSystem, SolverState, excess_of
from sim.kernels.equilibrium_shocks import Shocks

FloatArray = NDArray[np.float64]

#: Largest relative excess demand at which a warm start is kept without comparing it with
#: the baseline: a start within 1 % of clearing every market is a good one whatever the
#: baseline's residual.
WARM_START_EXCESS = 0.01

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
    inverse_jacobian: NDArray[np.floating[Any]] | None = None,
    overwrite_inverse: bool = False,
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
        through :func:`unknowns_of`. Kept where its largest relative excess demand is
        within :data:`WARM_START_EXCESS`, elsewhere only where it is closer than the
        baseline.
    jacobian : (N, G, G) or (G, G), optional
        Initial Jacobian of the labour-market residuals in the unknowns, e.g. the
        last solution's (through ``inverse_jacobian``, below) or
        :func:`baseline_jacobian`; default: each replica's by finite differences.
        It only changes the path to the solution, not the solution.
    inverse_jacobian : (N, G, G) or (G, G), optional
        The inverse of a previous solve's Newton matrix
        (:attr:`EquilibriumSolution.inverse_jacobian`), used instead of ``jacobian``
        without inverting anything: the warm start of a path of equilibria.
    overwrite_inverse : bool
        Let the solver update ``inverse_jacobian`` in place (and return it as the
        solution's) instead of copying it: for a caller that passes each solve's matrix
        to the next and nothing else (with G = 200 and 500 replicas, a copy is 160 MB).
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
    shocks = Shocks.build(
        baseline, theta, cost_change, tariff, productivity, real_wage_target, investment
    )
    system = EquilibriumSystem(
        baseline, labour, deficit_closure, numeraire, n_r * n_s <= dense_limit
    )
    start = system.normalise(np.zeros((n_rep, labour.count)))
    if guess is None:
        unknowns = start
        state = system.evaluate(unknowns, shocks, None)
        size = _norm(state.residual)
    else:
        # A warm start within WARM_START_EXCESS of clearing every market is kept; one
        # further off only where it is closer than the baseline (an extrapolation across
        # a jump can overshoot badly). Comparing every replica's would cost an evaluation
        # a solve, a ninth of them on a path of equilibria.
        unknowns = system.normalise(np.array(guess, dtype=float))
        state = system.evaluate(unknowns, shocks, None)
        size = _norm(state.residual)
        doubtful = np.flatnonzero(~(excess_of(state.residual) <= WARM_START_EXCESS))
        if doubtful.size:
            base = system.evaluate(start[doubtful], shocks.take(doubtful), None)
            base_size = _norm(base.residual)
            mine = size[doubtful]
            worse = ~(np.isfinite(mine) & ~(mine > base_size))
            rows = doubtful[worse]
            unknowns[rows] = start[rows]
            state.put(rows, base.take(np.flatnonzero(worse)))
            size[rows] = base_size[worse]
    active = excess_of(state.residual) > tol
    # Newton's matrix is the Jacobian of the residuals plus the normalisation's pin; the
    # solver keeps its inverse, so that a step is a matrix-vector product and Broyden's
    # update a rank-one term, O(G^2) a replica instead of an O(G^3) solve: with
    # sector-specific labour G is every region-sector (200 at 10 x 20), where the solves
    # and the update of the Jacobian took 70 % of a period (Issue 15).
    shape = (n_rep, labour.count, labour.count)
    fresh = np.zeros(n_rep, dtype=bool)
    if inverse_jacobian is not None:
        given = np.asarray(inverse_jacobian)
        owned = (
            overwrite_inverse
            and given.shape == shape
            and given.dtype == np.float32
            and given.flags.c_contiguous
            and given.flags.writeable
        )
        inverse = given if owned else np.empty(shape, dtype=np.float32)
        if not owned:
            inverse[:] = given
    elif jacobian is not None:
        # A Jacobian from elsewhere (the last period's, or the baseline's): Broyden's
        # updates adapt it to each replica and a replica whose steps stall gets its own.
        # Finite differences cost G + 1 evaluations per replica, so this makes N replicas
        # cost far less than N solves. A shared (G, G) one is inverted once.
        inverse = np.empty(shape, dtype=np.float32)
        inverse[:] = np.linalg.inv(np.asarray(jacobian, dtype=float) + system.pin)
    else:
        inverse = np.zeros(shape, dtype=np.float32)
        if active.any():
            inverse[active] = _newton_inverse(system, unknowns, shocks, state, active)
            fresh[active] = True
    # Broyden's updates are kept as rank-one terms (sim.kernels.broyden) and folded into
    # the dense matrices when the solve ends; ``direction`` is H F at each replica's point.
    # The second ("bad") method: it needs no product with H's transpose, one pass over the
    # matrices a step instead of two, and took as many steps as the first here (10 x 20
    # with sector-specific labour, 7.4 a period; the seed, 2.9): 1.21x faster at G = 200.
    newton = InverseNewton(inverse, pin_vector=system.pin_vector, method="second")
    direction = np.zeros((n_rep, labour.count))
    start_rows = np.flatnonzero(active)
    direction[start_rows] = newton.apply(start_rows, state.residual[start_rows])
    length = np.ones(n_rep)
    iterations = 0
    per_replica = np.zeros(n_rep, dtype=np.int64)
    while active.any() and iterations < max_iter:
        iterations += 1
        per_replica += active
        rows = np.flatnonzero(active)
        step = -direction[rows]
        trial = system.normalise(unknowns[rows] + length[rows, None] * step)
        if 7 * rows.size > 3 * n_rep:
            # Most replicas move: evaluate every one (the others at their point) rather
            # than copy the movers' (N, i, j, s) shocks, which costs more than the
            # evaluation's three passes over them when more than 3/7 move.
            if rows.size == n_rep:
                trial_state = system.evaluate(trial, shocks, state)
            else:
                moving = unknowns.copy()
                moving[rows] = trial
                trial_state = system.evaluate(moving, shocks, state).take(rows)
        else:
            trial_state = system.evaluate(trial, shocks.take(rows), state.take(rows))
        trial_size = _norm(trial_state.residual)
        better = np.isfinite(trial_size) & (trial_size < size[rows])
        good, bad = rows[better], rows[~better]
        # A chord step (an old Jacobian) that did not halve the residual, or a rejected
        # step with an old Jacobian, asks for a fresh Jacobian; a rejected step with a
        # fresh one is retried at half length (backtracking). A fresh Jacobian costs G + 1
        # evaluations and a Broyden step one evaluation and one pass over H, so with
        # many labour markets Broyden's steps are the cheaper way on (at 10 x 20 with
        # sector-specific labour, halving instead of quartering: 7.6 steps a period
        # instead of 6.2, one seventh of the Jacobians, 0.88x the time).
        slow = good[(trial_size[better] > 0.5 * size[good]) & ~fresh[good]]
        retry = bad[~fresh[bad]]
        # Broyden's update keeps the chord Jacobian close to the true one (superlinear);
        # one where it would be ill-conditioned asks for a fresh Jacobian instead.
        residual = trial_state.residual[better]
        applied = newton.apply(good, residual)
        ok, direction[good] = newton.update(
            good,
            trial[better] - unknowns[good],
            residual - state.residual[good],
            applied - direction[good],
            residual,
            applied,
        )
        unstable = good[~ok]
        unknowns[good] = trial[better]
        state.put(good, trial_state.take(better))
        size[good] = trial_size[better]
        length[good] = 1.0
        length[bad[fresh[bad]]] *= 0.5
        fresh[:] = False
        active = (excess_of(state.residual) > tol) & (length > 1e-10)
        refresh = np.zeros(n_rep, dtype=bool)
        refresh[slow] = True
        refresh[retry] = True
        refresh[unstable] = True
        refresh &= active
        if refresh.any():
            fresh_rows = np.flatnonzero(refresh)
            newton.replace(fresh_rows, _newton_inverse(system, unknowns, shocks, state, refresh))
            direction[fresh_rows] = newton.apply(fresh_rows, state.residual[fresh_rows])
            fresh[refresh] = True
    return system.solution(unknowns, shocks, state, per_replica, tol, newton.fold())


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
    shocks = Shocks.build(baseline, np.asarray(theta, dtype=float)[None], None, None, None, None)
    system = EquilibriumSystem(
        baseline, labour, deficit_closure, numeraire, n_r * n_s <= dense_limit
    )
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

    Raises
    ------
    ConvergenceError
        If the balanced equilibrium is not found to ``tol``.
    """
    n_r, n_s = baseline.shape
    labour = build_labour_markets(n_s, np.ones(n_r, dtype=bool), np.zeros(n_r))
    sol = solve_equilibrium(
        baseline, np.asarray(theta, dtype=float)[None], labour, deficit_closure="zero", tol=tol
    )
    if not sol.converged.all():
        raise ConvergenceError(
            "the world without trade deficits (Caliendo & Parro's first solve) did not "
            f"converge: max relative excess demand {sol.residual[0]:.3g} after "
            f"{sol.iterations} iterations, allowed: below {tol:g}; fix: look for regions "
            "whose deficit is large against their value added, or keep the deficits "
            "(another deficit closure)"
        )
    return build_equilibrium_baseline(
        sol.trade[0], baseline.tariff, baseline.va_share, baseline.input_share
    )


def _newton_inverse(
    system: EquilibriumSystem,
    unknowns: FloatArray,
    shocks: Shocks,
    state: SolverState,
    rows: NDArray[np.bool_],
) -> FloatArray:
    """The inverse of the Newton matrix (fresh Jacobian plus pin) of the ``rows`` replicas."""
    jac = system.jacobian(unknowns[rows], shocks.take(rows), state.take(rows))
    return np.asarray(np.linalg.inv(jac + system.pin[None]), dtype=np.float64)


def _norm(residual: FloatArray) -> FloatArray:
    return np.sqrt((residual**2).sum(axis=1))

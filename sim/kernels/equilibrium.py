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
productivity change :math:`\hat A_{is}` (a Hicks-neutral shift; in the Fréchet
form of Caliendo & Parro :math:`\hat T_{is} = \hat A_{is}^{\theta_s}`), the
unit cost and the sector price indices change by

.. math::

    \hat c_{is} = \hat A_{is}^{-1}\,\hat w_{is}^{\beta_{is}}
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
Jacobian reused while the residual falls fast) and a backtracking line search
drives the labour-market residual
:math:`\ln V'^{\mathrm{demand}}_g - \ln(\hat w_g\hat L_g V_g)` to zero.
Everything is vectorised over a leading replica axis ``N``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

DEFICIT_CLOSURES = ("fixed", "ratio", "zero")

#: Largest number of region-sectors whose spending system is a dense solve.
DENSE_SPENDING_LIMIT = 300

#: Elements of an (R, R, S) array (plus a dense spending system) times the points
#: evaluated at once in a Jacobian: bounds its working memory (about ten such arrays).
JACOBIAN_BATCH_ELEMENTS = 4_000_000

__all__ = [
    "DEFICIT_CLOSURES",
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


@dataclass(frozen=True)
class EquilibriumBaseline:
    """Baseline levels and shares derived once from the data.

    Money is in one unit per year throughout (the caller's; the kernel never
    converts). Index order: origin ``i``, destination ``j``, sector ``s``; input
    shares are (region, using sector, input sector).

    Attributes
    ----------
    trade : (R, R, S)
        :math:`X_{ijs}`, flows at producer prices (net of tariffs), money per year.
    tariff : (R, R, S)
        Ad valorem tariff rates :math:`\\tau_{ijs}` (0.1 = 10 %).
    share : (R, R, S)
        :math:`\\pi_{ijs}`, origin shares of tariff-inclusive spending; a
        destination-sector that buys nothing gets :math:`\\pi_{jjs} = 1` (its price
        index is then its own unit cost and enters nothing).
    output : (R, S)
        Gross output :math:`Y_{is} = \\sum_j X_{ijs}`, money per year.
    spending : (R, S)
        :math:`E_{js} = \\sum_i (1 + \\tau_{ijs}) X_{ijs}`, money per year.
    va_share : (R, S)
        :math:`\\beta_{is}`, value added over gross output.
    input_share : (R, S, S)
        :math:`\\gamma_{ist}`, input ``t`` per unit of gross output of ``(i, s)``.
    value_added : (R, S)
        :math:`V_{is} = \\beta_{is} Y_{is}`, money per year.
    final_demand : (R, S)
        :math:`F_{js} = E_{js} - \\sum_t \\gamma_{jts} Y_{jt}`, money per year
        (negative entries mean the tables disagree; the caller checks).
    final_share : (R, S)
        :math:`\\alpha_{js} = F_{js} / \\sum_t F_{jt}`.
    tariff_revenue : (R,)
        :math:`\\sum_{i,s} \\tau_{ijs} X_{ijs}`, money per year.
    income : (R,)
        :math:`I_j = \\sum_s F_{js}`, money per year.
    deficit : (R,)
        :math:`D_j = I_j - V_j - R_j`; sums to zero across regions.
    """

    trade: FloatArray
    tariff: FloatArray
    share: FloatArray
    output: FloatArray
    spending: FloatArray
    va_share: FloatArray
    input_share: FloatArray
    value_added: FloatArray
    final_demand: FloatArray
    final_share: FloatArray
    tariff_revenue: FloatArray
    income: FloatArray
    deficit: FloatArray

    @property
    def shape(self) -> tuple[int, int]:
        """(R, S)."""
        r, s = self.output.shape
        return r, s


@dataclass(frozen=True)
class LabourMarkets:
    """How each region's labour market clears.

    Attributes
    ----------
    mobile : (R,) bool
        Labour moves between sectors (one wage per region) or is sector-specific.
    elasticity : (R,)
        Labour-supply elasticity to the real wage: 0 full employment, ``inf`` a
        fixed real wage (employment adjusts).
    group : (R, S) int
        Labour market of each region-sector (``G`` markets in all).
    region : (G,) int
        Region of each market.
    """

    mobile: BoolArray
    elasticity: FloatArray
    group: NDArray[np.int64]
    region: NDArray[np.int64]

    @property
    def count(self) -> int:
        """Number of labour markets ``G``."""
        return len(self.region)

    @property
    def first_cell(self) -> NDArray[np.int64]:
        """(G,) flat region-sector index of each market's first cell."""
        flat = self.group.ravel()
        first = np.zeros(self.count, dtype=np.int64)
        first[flat[::-1]] = np.arange(flat.size)[::-1]
        return first


@dataclass(frozen=True)
class EquilibriumSolution:
    """An equilibrium for every replica; money in the baseline's unit per year.

    Attributes
    ----------
    wage : (N, R, S)
        :math:`\\hat w_{is}` (equal across sectors where labour is mobile).
    employment : (N, R, S)
        :math:`\\hat L_{is}`, employment change by region-sector.
    unit_cost : (N, R, S)
        :math:`\\hat c_{is}`.
    sector_price : (N, R, S)
        :math:`\\hat P_{js}`.
    cpi : (N, R)
        :math:`\\hat P_j = \\prod_s \\hat P_{js}^{\\alpha_{js}}`.
    share : (N, R, R, S)
        :math:`\\pi'_{ijs}`.
    trade : (N, R, R, S)
        :math:`X'_{ijs}` at producer prices (net of tariffs).
    spending : (N, R, S)
        :math:`E'_{js}`, tariff inclusive.
    output : (N, R, S)
        :math:`Y'_{is}`.
    value_added : (N, R, S)
        :math:`V'_{is} = \\beta_{is} Y'_{is}`.
    tariff_revenue, deficit, income : (N, R)
        :math:`R'_j`, :math:`D'_j`, :math:`I'_j`.
    real_income : (N, R)
        :math:`\\hat I_j / \\hat P_j`, the welfare change of the representative household.
    real_wage : (N, R, S)
        :math:`\\hat w_{is} / \\hat P_i`.
    employment_group : (N, G)
        :math:`\\hat L_g`, employment change of each labour market.
    jacobian : (N, G, G)
        The solver's last Jacobian (Broyden-updated): a warm start for a nearby problem.
    iterations : int
        Newton steps of the slowest replica.
    replica_iterations : (N,) int
        Newton steps each replica took.
    residual : (N,)
        Largest labour-market excess demand, relative.
    converged : (N,) bool
    """

    wage: FloatArray
    employment: FloatArray
    unit_cost: FloatArray
    sector_price: FloatArray
    cpi: FloatArray
    share: FloatArray
    trade: FloatArray
    spending: FloatArray
    output: FloatArray
    value_added: FloatArray
    tariff_revenue: FloatArray
    deficit: FloatArray
    income: FloatArray
    real_income: FloatArray
    real_wage: FloatArray
    employment_group: FloatArray
    jacobian: FloatArray
    iterations: int
    replica_iterations: NDArray[np.int64]
    residual: FloatArray
    converged: NDArray[np.bool_]


def build_equilibrium_baseline(
    trade: FloatArray,
    tariff: FloatArray | None = None,
    va_share: FloatArray | None = None,
    input_share: FloatArray | None = None,
) -> EquilibriumBaseline:
    r"""Derive the baseline's shares, income and deficits from the data.

    Final demand is what is left of spending after intermediate use, and
    deficits what is left of income after value added and tariff revenue, so
    the baseline satisfies every accounting identity of the model exactly
    (Caliendo & Parro 2015, section 4.1).

    Parameters
    ----------
    trade : (R, R, S)
        Flows at producer prices including domestic sales, money per year, non-negative.
    tariff : (R, R, S), optional
        Ad valorem tariff rates (default 0).
    va_share : (R, S), optional
        Value added over gross output (default 1: no intermediate inputs).
    input_share : (R, S, S), optional
        Input shares, (region, using sector, input sector); default 0. Rows must
        sum to ``1 - va_share``.

    Returns
    -------
    EquilibriumBaseline
    """
    trade = np.asarray(trade, dtype=np.float64)
    n_r, _, n_s = trade.shape
    tariff = np.zeros_like(trade) if tariff is None else np.asarray(tariff, dtype=np.float64)
    beta = np.ones((n_r, n_s)) if va_share is None else np.asarray(va_share, dtype=np.float64)
    gamma = (
        np.zeros((n_r, n_s, n_s))
        if input_share is None
        else np.asarray(input_share, dtype=np.float64)
    )
    gross = trade * (1.0 + tariff)
    spending = gross.sum(axis=0)  # (j, s)
    share = np.divide(gross, spending[None], out=np.zeros_like(gross), where=spending[None] > 0)
    empty = spending <= 0
    if empty.any():
        j, s = np.nonzero(empty)
        share[j, j, s] = 1.0
    output = trade.sum(axis=1)
    value_added = beta * output
    intermediate = np.einsum("jts,jt->js", gamma, output)
    final_demand = spending - intermediate
    income = final_demand.sum(axis=1)
    final_share = np.divide(
        final_demand, income[:, None], out=np.zeros_like(final_demand), where=income[:, None] > 0
    )
    revenue = (tariff * trade).sum(axis=(0, 2))
    deficit = income - value_added.sum(axis=1) - revenue
    return EquilibriumBaseline(
        trade=trade,
        tariff=tariff,
        share=share,
        output=output,
        spending=spending,
        va_share=beta,
        input_share=gamma,
        value_added=value_added,
        final_demand=final_demand,
        final_share=final_share,
        tariff_revenue=revenue,
        income=income,
        deficit=deficit,
    )


def build_labour_markets(
    n_sectors: int, mobile: BoolArray, elasticity: FloatArray
) -> LabourMarkets:
    """Number the labour markets: one per mobile region, one per sector elsewhere.

    Parameters
    ----------
    n_sectors : int
    mobile : (R,) bool
    elasticity : (R,)
        Labour-supply elasticities, non-negative; ``inf`` for a fixed real wage.
    """
    mobile = np.asarray(mobile, dtype=bool)
    group = np.zeros((len(mobile), n_sectors), dtype=np.int64)
    region: list[int] = []
    for r, moves in enumerate(mobile):
        if moves:
            group[r] = len(region)
            region.append(r)
        else:
            group[r] = np.arange(len(region), len(region) + n_sectors)
            region.extend([r] * n_sectors)
    return LabourMarkets(
        mobile=mobile,
        elasticity=np.asarray(elasticity, dtype=np.float64),
        group=group,
        region=np.array(region, dtype=np.int64),
    )


def solve_equilibrium(
    baseline: EquilibriumBaseline,
    theta: FloatArray,
    labour: LabourMarkets,
    *,
    cost_change: FloatArray | None = None,
    tariff: FloatArray | None = None,
    productivity: FloatArray | None = None,
    real_wage_target: FloatArray | None = None,
    deficit_closure: str = "fixed",
    numeraire: int | None = None,
    guess: FloatArray | None = None,
    jacobian: FloatArray | None = None,
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
        last solution's (:attr:`EquilibriumSolution.jacobian`) or
        :func:`baseline_jacobian`; default: each replica's by finite differences.
        It only changes the path to the solution, not the solution.
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
    shocks = _Shocks.build(baseline, theta, cost_change, tariff, productivity, real_wage_target)
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
    jac = np.zeros((n_rep, labour.count, labour.count))
    fresh = np.zeros(n_rep, dtype=bool)
    if jacobian is not None:
        # A Jacobian from elsewhere (the last period's, or the baseline's): Broyden's
        # updates adapt it to each replica and a replica whose steps stall gets its own.
        # Finite differences cost G + 1 evaluations per replica, so this makes N replicas
        # cost far less than N solves.
        jac[:] = jacobian
    elif active.any():
        jac[active] = system.jacobian(unknowns[active], shocks.take(active), state.take(active))
        fresh[active] = True
    length = np.ones(n_rep)
    iterations = 0
    per_replica = np.zeros(n_rep, dtype=np.int64)
    while active.any() and iterations < max_iter:
        iterations += 1
        per_replica += active
        rows = np.flatnonzero(active)
        step = np.linalg.solve(jac[rows] + system.pin[None], -state.residual[rows][:, :, None])
        trial = system.normalise(unknowns[rows] + length[rows, None] * step[:, :, 0])
        trial_state = system.evaluate(trial, shocks.take(active), state.take(active))
        trial_size = _norm(trial_state.residual)
        better = np.isfinite(trial_size) & (trial_size < size[rows])
        good, bad = rows[better], rows[~better]
        # A chord step (an old Jacobian) that did not cut the residual by 4, or a
        # rejected step with an old Jacobian, asks for a fresh Jacobian; a rejected
        # step with a fresh one is retried at half length (backtracking).
        slow = good[(trial_size[better] > 0.25 * size[good]) & ~fresh[good]]
        retry = bad[~fresh[bad]]
        # Broyden's update keeps the chord Jacobian close to the true one (superlinear).
        moved = trial[better] - unknowns[good]
        change = trial_state.residual[better] - state.residual[good]
        miss = change - np.einsum("ngk,nk->ng", jac[good], moved)
        denom = np.maximum((moved**2).sum(axis=1), 1e-300)
        jac[good] += miss[:, :, None] * moved[:, None, :] / denom[:, None, None]
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
        refresh &= active
        if refresh.any():
            jac[refresh] = system.jacobian(
                unknowns[refresh], shocks.take(refresh), state.take(refresh)
            )
            fresh[refresh] = True
    return system.solution(unknowns, shocks, state, per_replica, tol, jac)


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


def _norm(residual: FloatArray) -> FloatArray:
    return np.sqrt((residual**2).sum(axis=1))


def _excess(residual: FloatArray) -> FloatArray:
    """Largest relative excess demand per replica (inf where not a number)."""
    gap = np.abs(np.expm1(residual)).max(axis=1)
    return np.where(np.isfinite(gap), gap, np.inf)


@dataclass(frozen=True)
class _Shocks:
    """The counterfactual's per-replica inputs in the form the evaluation needs."""

    theta: FloatArray  # (N, S)
    weight: FloatArray  # (N, i, j, s): pi_ijs (kappa_hat tau_hat)^-theta
    net: FloatArray  # (N, i, j, s): 1 / (1 + tau')
    log_productivity: FloatArray  # (N, R, S)
    log_target: FloatArray  # (N, G)

    @classmethod
    def build(
        cls,
        baseline: EquilibriumBaseline,
        theta: FloatArray,
        cost_change: FloatArray | None,
        tariff: FloatArray | None,
        productivity: FloatArray | None,
        real_wage_target: FloatArray | None,
    ) -> _Shocks:
        n_rep = theta.shape[0]
        n_r, n_s = baseline.shape
        new_tariff = baseline.tariff[None] if tariff is None else tariff
        factor = (1.0 + new_tariff) / (1.0 + baseline.tariff[None])
        if cost_change is not None:
            factor = factor * cost_change
        weight = baseline.share[None] * factor ** (-theta[:, None, None, :])
        net = np.broadcast_to(1.0 / (1.0 + new_tariff), weight.shape)
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
        return cls(theta, weight, net, log_a, log_target)

    def take(self, rows: BoolArray | NDArray[np.int64]) -> _Shocks:
        return _Shocks(
            self.theta[rows],
            self.weight[rows],
            self.net[rows],
            self.log_productivity[rows],
            self.log_target[rows],
        )

    def repeat(self, times: int) -> _Shocks:
        return _Shocks(*(np.repeat(a, times, axis=0) for a in self.__dict__.values()))


@dataclass
class _State:
    """What one evaluation leaves: warm starts and the residual."""

    log_price: FloatArray  # (N, R, S) sector price indices
    spending: FloatArray  # (N, R, S)
    residual: FloatArray  # (N, G)

    def take(self, rows: BoolArray | NDArray[np.int64]) -> _State:
        return _State(self.log_price[rows], self.spending[rows], self.residual[rows])

    def put(self, rows: NDArray[np.int64], other: _State) -> None:
        self.log_price[rows] = other.log_price
        self.spending[rows] = other.spending
        self.residual[rows] = other.residual

    def repeat(self, times: int) -> _State:
        return _State(*(np.repeat(a, times, axis=0) for a in self.__dict__.values()))


@dataclass
class _Point:
    """Every quantity of the model at given unknowns (nominal, before the numeraire)."""

    log_wage: FloatArray  # (N, G)
    log_employment: FloatArray  # (N, G)
    log_cost: FloatArray  # (N, R, S)
    log_price: FloatArray  # (N, R, S)
    log_cpi: FloatArray  # (N, R)
    share: FloatArray  # (N, i, j, s)
    spending: FloatArray  # (N, R, S)
    output: FloatArray  # (N, R, S)
    supply: FloatArray  # (N, G) value added the labour markets supply
    revenue: FloatArray  # (N, R)
    deficit: FloatArray  # (N, R)
    income: FloatArray  # (N, R) value added (from the labour markets) + revenue + deficit


class _System:
    """The equilibrium conditions of one baseline and closure, for any replicas."""

    def __init__(
        self,
        baseline: EquilibriumBaseline,
        labour: LabourMarkets,
        deficit_closure: str,
        numeraire: int | None,
        dense: bool,
    ) -> None:
        self.base = baseline
        self.labour = labour
        self.closure = deficit_closure
        self.numeraire = numeraire
        self.dense = dense
        n_r = baseline.shape[0]
        self.group = labour.group.ravel()
        fixed = np.isinf(labour.elasticity[labour.region])
        self.fixed = fixed  # (G,) markets with a fixed real wage: unknown is log employment
        self.finite_elasticity = np.where(fixed, 0.0, labour.elasticity[labour.region])
        self.va_group = np.asarray(
            np.bincount(self.group, weights=baseline.value_added.ravel(), minlength=labour.count),
            dtype=np.float64,
        )
        self.live = self.va_group > 0
        wage_unknown = ~fixed & self.live
        if not wage_unknown.any():
            raise ValueError(
                "at least one labour market with output must have a finite supply elasticity"
            )
        self.wage_unknown = wage_unknown
        h = wage_unknown.astype(float)
        self.pin = np.outer(h, h)
        # Regions' income from their labour markets: (G,) -> (R,) sums.
        self.to_region = np.zeros((labour.count, n_r))
        self.to_region[np.arange(labour.count), labour.region] = 1.0
        va_region = baseline.value_added.sum(axis=1)
        # (V_j + D_j) / V_j, from income net of tariff revenue (no cancellation).
        self.phi = np.divide(
            baseline.income - baseline.tariff_revenue,
            va_region,
            out=np.ones(n_r),
            where=va_region > 0,
        )
        self.world_va = float(va_region.sum())
        # Final demand's (R, S) shares and the input shares as (j, t, s) for spending.
        self.gamma_t = np.ascontiguousarray(baseline.input_share.transpose(0, 2, 1))  # (j, s, t)
        self.has_inputs = bool(baseline.input_share.any())
        # d log c_ks / d log P_kt: input shares, plus the CPI weights where the real wage
        # is fixed (the wage follows the CPI), (R, S, S).
        fixed_cell = self.fixed[self.group].reshape(baseline.shape)
        self.cost_in_prices = baseline.input_share + (
            fixed_cell[:, :, None]
            * baseline.va_share[:, :, None]
            * baseline.final_share[:, None, :]
        )
        # The price block's and the spending system's Newton matrices at the baseline
        # shares, inverted once (the same for every replica).
        rs = baseline.output.size
        if dense and rs > 0:
            at_base = np.einsum("kjs,kst->jskt", baseline.share, self.cost_in_prices)
            self.price_newton = np.linalg.inv(np.eye(rs) - at_base.reshape(rs, rs))
            to_producer = baseline.share / (1.0 + baseline.tariff)
            tax = (baseline.share - to_producer).sum(axis=0)
            spend_base = np.einsum("jst,jkt->jskt", self.gamma_t, to_producer)
            for j in range(n_r):
                spend_base[j, :, j, :] += baseline.final_share[j][:, None] * tax[j][None, :]
            self.spend_newton = np.linalg.inv(np.eye(rs) - spend_base.reshape(rs, rs))
        # Floats of the largest arrays one evaluated point needs (Jacobian batches).
        rs = n_r * baseline.shape[1]
        self.point_size = n_r * rs + (rs * rs if dense and self.has_inputs else 0)

    # -- unknowns --------------------------------------------------------------------------
    def normalise(self, unknowns: FloatArray) -> FloatArray:
        """Remove the price level: mean log wage of the live wage markets is zero."""
        w = self.wage_unknown
        shift = unknowns[:, w].mean(axis=1, keepdims=True)
        out: FloatArray = np.where(~self.fixed[None], unknowns - shift, unknowns)
        return out

    # -- one evaluation -------------------------------------------------------------------
    def evaluate(self, unknowns: FloatArray, shocks: _Shocks, warm: _State | None) -> _State:
        point = self.point(unknowns, shocks, warm)
        return _State(point.log_price, point.spending, self.residual(unknowns, point))

    def residual(self, unknowns: FloatArray, point: _Point) -> FloatArray:
        n_rep = unknowns.shape[0]
        value_added = (self.base.va_share[None] * point.output).reshape(n_rep, -1)
        demand = _group_sum(value_added, self.group, self.labour.count)
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = np.log(demand) - np.log(point.supply)
        # A market without output pins its unknown: its wage follows the others'.
        mean = unknowns[:, self.wage_unknown].mean(axis=1, keepdims=True)
        idle = np.where(self.fixed[None], unknowns, unknowns - mean)
        out: FloatArray = np.where(self.live[None], gap, idle)
        return out

    def point(self, unknowns: FloatArray, shocks: _Shocks, warm: _State | None) -> _Point:
        base = self.base
        n_rep = unknowns.shape[0]
        n_r, n_s = base.shape
        region = self.labour.region
        theta = shocks.theta[:, None, :]  # (N, 1, S)
        log_price = np.zeros((n_rep, n_r, n_s)) if warm is None else warm.log_price.copy()
        alpha = base.final_share
        beta = base.va_share[None]
        any_fixed = bool(self.fixed.any())
        has_inputs = self.has_inputs
        size = n_r * n_s
        newton = self.dense and (has_inputs or any_fixed)
        sweeps, last_change, exact = 0, np.inf, False
        for _ in range(100_000):
            log_cpi = (alpha[None] * log_price).sum(axis=2)
            log_wage = unknowns
            if any_fixed:
                cpi_wage = log_cpi[:, region] + shocks.log_target
                log_wage = np.where(self.fixed[None], cpi_wage, unknowns)
            log_cost = beta * log_wage[:, self.group].reshape(n_rep, n_r, n_s)
            if has_inputs:
                log_cost += np.matmul(base.input_share[None], log_price[:, :, :, None])[..., 0]
            log_cost -= shocks.log_productivity
            numer = shocks.weight * np.exp(-theta * log_cost)[:, :, None, :]
            denom = numer.sum(axis=1)
            new_price = -np.log(denom) / theta
            gap = new_price - log_price
            change = np.abs(gap).max()
            if not (has_inputs or any_fixed) or not change > 1e-14:
                log_price = new_price
                break
            if not newton:
                log_price = new_price  # a contraction: iterate
                continue
            sweeps += 1
            contracting = change < 0.25 * last_change
            last_change = change
            if sweeps <= 2 or (contracting and sweeps <= 40 and not exact):
                # Newton with the baseline's Jacobian (the same for every replica, so
                # its inverse is computed once): fast while the shares move little.
                step = np.matmul(self.price_newton, gap.reshape(n_rep, size, 1))
            else:
                exact = True  # once the shares have moved too far, stay exact
                # Newton: d new_price_js / d log_price_kt =
                # pi'_kjs (gamma_kst + [fixed real wage at (k, s)] beta_ks alpha_kt).
                share = numer / denom[:, None]
                jac = np.einsum("nkjs,kst->njskt", share, self.cost_in_prices)
                jac = np.eye(size)[None] - jac.reshape(n_rep, size, size)
                step = np.linalg.solve(jac, gap.reshape(n_rep, size, 1))
            log_price = log_price + step.reshape(n_rep, n_r, n_s)
        log_cpi = (alpha[None] * log_price).sum(axis=2)
        share = numer / denom[:, None]
        log_employment = np.where(
            self.fixed[None],
            unknowns,
            self.finite_elasticity[None] * (log_wage - log_cpi[:, region] - shocks.log_target),
        )
        supply: FloatArray = np.exp(log_wage + log_employment) * self.va_group[None]
        income_va = supply @ self.to_region  # (N, R)
        deficit, autonomous = self.deficits(income_va)
        spending = self.spend(share, shocks.net, autonomous, warm)
        bought = share * shocks.net * spending[:, None]  # producer prices, (N, i, j, s)
        output = bought.sum(axis=2)
        revenue = (share * spending[:, None]).sum(axis=(1, 3)) - bought.sum(axis=(1, 3))
        return _Point(
            log_wage=log_wage,
            log_employment=log_employment,
            log_cost=log_cost,
            log_price=log_price,
            log_cpi=log_cpi,
            share=share,
            spending=spending,
            output=output,
            supply=supply,
            revenue=revenue,
            deficit=deficit,
            income=autonomous + revenue,
        )

    def deficits(self, income_va: FloatArray) -> tuple[FloatArray, FloatArray]:
        """D'_j under the closure and value added plus D'_j, both (N, R).

        ``income_va`` is the regions' value added (N, R). Under the ratio closure the
        sum is computed as a product, not as a difference, so that a region whose
        deficit nearly cancels its value added keeps its precision.
        """
        world = income_va.sum(axis=1, keepdims=True)
        if self.closure == "fixed":
            deficit: FloatArray = self.base.deficit[None] * world / self.world_va
            return deficit, income_va + deficit
        if self.closure == "zero":
            return np.zeros_like(income_va), income_va
        scale = world / (self.phi[None] * income_va).sum(axis=1, keepdims=True)
        total: FloatArray = income_va * self.phi[None] * scale
        return total - income_va, total

    def spend(
        self, share: FloatArray, net: FloatArray, autonomous: FloatArray, warm: _State | None
    ) -> FloatArray:
        r"""Solve :math:`E = \Gamma(B E) + \alpha(\rho\cdot E + I^{\mathrm{aut}})` for E, (N, R, S).

        ``autonomous`` (N, R) is income that does not depend on spending (value
        added from the labour markets plus the deficit); tariff revenue does.
        """
        base = self.base
        n_rep = share.shape[0]
        n_r, n_s = base.shape
        alpha = base.final_share
        to_producer = share * net  # b_ijs, (N, i, j, s)
        tax = (share - to_producer).sum(axis=1)  # rho_js, (N, j, s)
        rhs = alpha[None] * autonomous[:, :, None]
        if not self.has_inputs:
            # Final demand only: E_js = alpha_js (rho_j . E_j + a_j), so rho_j . E_j has a
            # closed form and E_j = alpha_j a_j / (1 - rho_j . alpha_j).
            closed: FloatArray = rhs / (1.0 - (tax * alpha[None]).sum(axis=2))[:, :, None]
            return closed
        if self.dense:
            size = n_r * n_s
            # Newton with the baseline's matrix (inverted once): E += (I - M_0)^-1 (M E + a - E),
            # a few matrix-vector products while the shares move little; else a dense solve.
            spending = rhs.copy() if warm is None else warm.spending.copy()
            for _ in range(8):
                output = (to_producer * spending[:, None]).sum(axis=2)
                gap = np.matmul(self.gamma_t[None], output[:, :, :, None])[..., 0]
                gap += alpha[None] * ((tax * spending).sum(axis=2) + autonomous)[:, :, None]
                gap -= spending
                if not np.abs(gap).max() > 1e-15 * np.abs(spending).max():
                    return spending
                step = np.matmul(self.spend_newton, gap.reshape(n_rep, size, 1))
                spending = spending + step.reshape(n_rep, n_r, n_s)
            # M[(j, s), (k, t)] = gamma[j, s<-t] b[j, k, t] + delta_jk alpha_js rho_kt
            mat = np.einsum("jst,njkt->njskt", self.gamma_t, to_producer)
            idx = np.arange(n_r)
            mat[:, idx, :, idx, :] += alpha[None, :, :, None].transpose(1, 0, 2, 3) * tax[
                :, :, None, :
            ].transpose(1, 0, 2, 3)
            system = np.eye(size)[None] - mat.reshape(n_rep, size, size)
            solved = np.linalg.solve(system, rhs.reshape(n_rep, size, 1))
            return solved.reshape(n_rep, n_r, n_s)
        spending = rhs.copy() if warm is None else warm.spending.copy()
        for _ in range(100_000):
            output = (to_producer * spending[:, None]).sum(axis=2)  # (N, j, t) as producer
            new = np.einsum("jst,njt->njs", self.gamma_t, output)
            new += alpha[None] * ((tax * spending).sum(axis=2) + autonomous)[:, :, None]
            gap = np.abs(new - spending).max() / max(np.abs(new).max(), 1e-300)
            spending = new
            if not gap > 1e-15:
                break
        return spending

    # -- Newton's Jacobian ------------------------------------------------------------------
    def jacobian(self, unknowns: FloatArray, shocks: _Shocks, state: _State) -> FloatArray:
        """Forward differences, (n, G, G); all perturbed points evaluated in batches."""
        n_rep, n_g = unknowns.shape
        h = 1e-6
        jac = np.empty((n_rep, n_g, n_g))
        chunk = max(1, JACOBIAN_BATCH_ELEMENTS // (self.point_size * n_g))
        for lo in range(0, n_rep, chunk):
            rows = slice(lo, min(lo + chunk, n_rep))
            m = rows.stop - rows.start
            moved = np.repeat(unknowns[rows], n_g, axis=0).reshape(m, n_g, n_g)
            moved[:, np.arange(n_g), np.arange(n_g)] += h
            sub = _State(state.log_price[rows], state.spending[rows], state.residual[rows])
            points = moved.reshape(m * n_g, n_g)
            at = self.point(
                points,
                _Shocks(*(a[rows] for a in shocks.__dict__.values())).repeat(n_g),
                sub.repeat(n_g),
            )
            out = self.residual(points, at).reshape(m, n_g, n_g)  # [replica, moved k, g]
            jac[rows] = ((out - state.residual[rows][:, None, :]) / h).transpose(0, 2, 1)
        return jac

    # -- the answer ------------------------------------------------------------------------
    def solution(
        self,
        unknowns: FloatArray,
        shocks: _Shocks,
        state: _State,
        iterations: NDArray[np.int64],
        tol: float,
        jacobian: FloatArray,
    ) -> EquilibriumSolution:
        base = self.base
        point = self.point(unknowns, shocks, state)
        n_rep = unknowns.shape[0]
        n_r, n_s = base.shape
        value_added = base.va_share[None] * point.output
        wage_group = np.exp(point.log_wage)
        wage = wage_group[:, self.group].reshape(n_rep, n_r, n_s)
        va0 = base.value_added[None]
        with np.errstate(divide="ignore", invalid="ignore"):
            employment = np.where(va0 > 0, value_added / (wage * va0), 1.0)
        employment_group = np.exp(point.log_employment)
        if self.numeraire is None:
            volume = (va0 * np.exp(shocks.log_productivity) * employment).sum(axis=(1, 2))
            scale = volume / value_added.sum(axis=(1, 2))
        else:
            scale = np.exp(-point.log_cpi[:, self.numeraire])
        s1 = scale[:, None]
        s2 = scale[:, None, None]
        s3 = scale[:, None, None, None]
        cpi = np.exp(point.log_cpi) * s1
        income = point.income * s1
        with np.errstate(divide="ignore", invalid="ignore"):
            real_income = np.where(base.income[None] > 0, income / (base.income[None] * cpi), 1.0)
        residual = state.residual
        return EquilibriumSolution(
            wage=wage * s2,
            employment=employment,
            unit_cost=np.exp(point.log_cost) * s2,
            sector_price=np.exp(point.log_price) * s2,
            cpi=cpi,
            share=point.share,
            trade=point.share * shocks.net * point.spending[:, None] * s3,
            spending=point.spending * s2,
            output=point.output * s2,
            value_added=value_added * s2,
            tariff_revenue=point.revenue * s1,
            deficit=point.deficit * s1,
            income=income,
            real_income=real_income,
            real_wage=wage * s2 / cpi[:, :, None],
            employment_group=employment_group,
            jacobian=jacobian,
            iterations=int(iterations.max(initial=0)),
            replica_iterations=iterations,
            residual=_excess(residual),
            converged=_excess(residual) <= tol,
        )


def _group_sum(values: FloatArray, group: NDArray[np.int64], count: int) -> FloatArray:
    """Sum (N, RS) values into (N, G) labour markets."""
    n_rep = values.shape[0]
    cells = (np.arange(n_rep)[:, None] * count + group[None]).ravel()
    total = np.bincount(cells, weights=values.ravel(), minlength=n_rep * count)
    return np.asarray(total, dtype=np.float64).reshape(n_rep, count)

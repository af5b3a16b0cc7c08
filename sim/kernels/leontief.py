"""Leontief input-output kernels: coefficients, inverses, multipliers and MRIO assembly.

All functions are pure: arrays in, arrays out. Tables are multi-regional and
ordered region-major, so the row/column index of region ``r`` and sector ``s``
is ``r * S + s`` for ``S`` sectors; ``n = R * S`` is the number of
region-sector pairs. Monetary flows are in one currency unit throughout (the
kernels never convert), so coefficients are "per currency unit of output".

The open model solves :math:`x = A x + f` for output :math:`x` given final
demand :math:`f`:

.. math::

    x = (I - A)^{-1} f = L f

The closed (Type II) model moves households into the inter-industry matrix so
that the income earned producing :math:`x` is spent again on :math:`x`.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from sim.errors import NumericalError

__all__ = [
    "closed_leontief_inverse",
    "employment_multipliers",
    "indirect_and_induced_output",
    "leontief_inverse",
    "mrio_from_national",
    "output_multipliers",
    "radius_bound",
    "satellite_multipliers",
    "technical_coefficients",
    "type_i_multipliers",
    "type_ii_multipliers",
]

# Rounding in solve() leaves tiny negative entries where the exact inverse has
# zeros; only anything beyond this is evidence of a non-productive system.
_NEGATIVE_TOLERANCE = 1e-12

# Eigenvalue routines return 1 - O(eps) for an exactly unit spectral radius, so
# a strict ``>= 1`` test would let a borderline singular system through.
_SPECTRAL_RADIUS_MARGIN = 1e-12

# Shares are user data that were usually normalised in floating point.
_SHARE_TOLERANCE = 1e-9

_FIX_HINT = (
    "check that the intermediate inputs of every industry do not exceed its output "
    "(each column sum of A, or of Z divided by x, must be below 1), that Z and x are "
    "in the same units and year, and that x includes final demand"
)


def _as_float(array: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(array, dtype=np.float64)


def _square(name: str, array: NDArray[np.float64]) -> NDArray[np.float64]:
    array = _as_float(array)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise ValueError(f"{name} must be a square 2-D array, got shape {array.shape}")
    return array


def _ratio_or_zero(
    numerator: NDArray[np.float64], denominator: NDArray[np.float64]
) -> NDArray[np.float64]:
    # A zero direct coefficient means the industry has no such effect at all;
    # 0 is the useful answer there, where a division would give inf or nan.
    out = np.zeros(np.broadcast_shapes(numerator.shape, denominator.shape), dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def technical_coefficients(Z: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""Technical (direct input) coefficients from intermediate flows and output.

    .. math::

        a_{ij} = \frac{z_{ij}}{x_j}, \qquad a_{ij} = 0 \text{ if } x_j = 0

    Parameters
    ----------
    Z : ndarray of float64, shape (n, n)
        Intermediate flows, currency units: ``Z[i, j]`` is the sale of
        region-sector ``i`` to region-sector ``j``.
    x : ndarray of float64, shape (n,)
        Total output of each region-sector, currency units.

    Returns
    -------
    A : ndarray of float64, shape (n, n)
        Input of ``i`` per currency unit of output of ``j`` (dimensionless).
        Columns of industries with zero output are zero.

    Raises
    ------
    ValueError
        If the shapes do not match.
    """
    Z = _square("Z", Z)
    x = _as_float(x)
    if x.shape != (Z.shape[1],):
        raise ValueError(f"x must have shape ({Z.shape[1]},) to match Z, got {x.shape}")
    return _ratio_or_zero(Z, x[np.newaxis, :])


def leontief_inverse(A: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""Leontief inverse of a productive technical-coefficient matrix.

    .. math::

        L = (I - A)^{-1}, \qquad \rho(A) < 1 \iff L = \sum_{k=0}^{\infty} A^k \ge 0

    Productivity, :math:`\rho(A) < 1`, is proved without an eigen-decomposition
    (which costs several times the inverse, Issue 15): for :math:`A \ge 0` the
    largest column sum bounds :math:`\rho(A)`, and otherwise the computed inverse
    gives a certificate. With :math:`x = L\mathbf{1} > 0`, the Collatz-Wielandt
    bound (Horn & Johnson 2013, Cor. 8.1.29)

    .. math::

        \rho(A) \le \max_i \frac{(Ax)_i}{x_i}

    is below 1 exactly when the system is productive (then :math:`Ax = x - 1`).
    Only where neither bound applies (negative coefficients) or the bound is within
    ``1e-12`` of 1 are the eigenvalues computed, for the message.

    Parameters
    ----------
    A : ndarray of float64, shape (n, n)
        Technical coefficients (dimensionless, currency unit of input per
        currency unit of output).

    Returns
    -------
    L : ndarray of float64, shape (n, n)
        Total (direct plus indirect) output of ``i`` per currency unit of final
        demand for ``j`` (dimensionless).

    Raises
    ------
    NumericalError
        If :math:`I - A` is singular, the spectral radius of ``A`` is at least
        1, or ``L`` has an entry below ``-1e-12`` (the economy is not
        productive: no nonnegative output meets a nonnegative final demand).
    ValueError
        If ``A`` is not square.

    References
    ----------
    Horn, R. A. & Johnson, C. R. (2013). *Matrix Analysis*, 2nd ed., Cambridge
    University Press, ch. 8 (nonnegative matrices: Collatz-Wielandt bounds).
    """
    A = _square("A", A)
    n = A.shape[0]
    if not np.all(np.isfinite(A)):
        raise NumericalError(
            "technical coefficient matrix A contains NaN or infinity; "
            "allowed: finite coefficients; fix: look for industries with zero or missing "
            "output, or " + _FIX_HINT
        )
    L = _inverse_of_identity_minus(A)
    if not np.all(np.isfinite(L)):
        raise NumericalError(
            f"the Leontief inverse of the {n}x{n} system overflowed (I - A is numerically "
            f"singular); fix: {_FIX_HINT}"
        )
    if radius_bound(A, L) >= 1.0 - _SPECTRAL_RADIUS_MARGIN:
        radius = float(np.max(np.abs(np.linalg.eigvals(A)))) if n else 0.0
        if radius >= 1.0 - _SPECTRAL_RADIUS_MARGIN:
            raise NumericalError(
                f"the economy is not productive: the spectral radius of A is {radius:.6g}, "
                f"allowed: below 1; fix: {_FIX_HINT}"
            )
    most_negative = float(L.min()) if n else 0.0
    if most_negative < -_NEGATIVE_TOLERANCE:
        i, j = np.unravel_index(int(np.argmin(L)), L.shape)
        raise NumericalError(
            f"the economy is not productive: Leontief inverse entry L[{i}, {j}] = "
            f"{most_negative:.6g} is negative, allowed: L >= 0; fix: {_FIX_HINT}"
        )
    return L


def _inverse_of_identity_minus(A: NDArray[np.float64]) -> NDArray[np.float64]:
    r""":math:`(I - A)^{-1}` by LAPACK's LU factorisation and its inverse in place.

    LAPACK works on column-major arrays; :math:`(I - A)^{\top}` is formed in one
    column-major buffer, inverted in place (``getrf`` then ``getri`` with its optimal
    workspace), and the result's transpose is :math:`(I - A)^{-1}` as a row-major view.
    An explicit inverse costs 2 n^3 flops, against 8/3 n^3 for a solve against the
    identity (0.89 s against 1.36 s at n = 2,000). Working on the transpose saves
    ``scipy.linalg.inv``'s copy of a row-major argument to column order (51 ms against
    56 ms at n = 1,000, docs/performance.md); the 2-D routines are called directly
    because ``scipy.linalg.inv``'s batched path crashed on a transposed argument
    (scipy 1.17.1).

    Parameters
    ----------
    A : ndarray of float64, shape (n, n)
        Finite technical coefficients.

    Returns
    -------
    L : ndarray of float64, shape (n, n)
        The inverse (C-contiguous).

    Raises
    ------
    NumericalError
        If :math:`I - A` is exactly singular (``getrf`` finds a zero pivot).
    """
    n = A.shape[0]
    if n == 0:
        return np.zeros((0, 0), dtype=np.float64)
    # The transpose of a C-ordered I - A is a Fortran-ordered buffer LAPACK can overwrite.
    work = np.negative(A.T, order="F")
    work[np.diag_indices(n)] += 1.0
    getrf, getri, getri_lwork = scipy.linalg.lapack.get_lapack_funcs(
        ("getrf", "getri", "getri_lwork"), (work,)
    )
    lu, pivots, info = getrf(work, overwrite_a=True)
    if info == 0:
        lwork, info = getri_lwork(n)
        lwork = int(lwork) if info == 0 else n
        lu, info = getri(lu, pivots, lwork=lwork, overwrite_lu=True)
    if info != 0:
        raise NumericalError(
            f"I - A is singular ({n}x{n}: LAPACK found a zero pivot at row {info}), so the "
            f"Leontief inverse does not exist; fix: {_FIX_HINT}"
        )
    return np.ascontiguousarray(lu.T)


def radius_bound(A: NDArray[np.float64], L: NDArray[np.float64]) -> float:
    r"""An upper bound of the spectral radius of ``A`` from its Leontief inverse.

    .. math::

        \rho(A) \le \min\Bigl(\max_j \sum_i a_{ij},\;
        \max_i \frac{(Ax)_i}{x_i}\Bigr), \qquad x = L\mathbf{1},

    both for :math:`A \ge 0` (column sums: the induced 1-norm; the second: Collatz-
    Wielandt, with :math:`x > 0`). Costs :math:`O(n^2)`.

    Parameters
    ----------
    A : ndarray of float64, shape (n, n)
        Technical coefficients.
    L : ndarray of float64, shape (n, n)
        The computed :math:`(I - A)^{-1}`.

    Returns
    -------
    float
        The bound (dimensionless); the column-sum bound alone where
        :math:`L\mathbf{1}` is not positive; ``inf`` where ``A`` has a negative
        coefficient (no bound applies); 0 for an empty system.
    """
    if A.size == 0:
        return 0.0
    if (A < 0).any():
        return float("inf")
    columns = float(A.sum(axis=0).max())
    if columns < 1.0:
        return columns
    x = L.sum(axis=1)
    if not (x > 0).all():
        return columns
    return min(columns, float(((A @ x) / x).max()))


def output_multipliers(L: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""Simple output multipliers: the column sums of the Leontief inverse.

    .. math::

        m_j = \sum_i l_{ij}

    Parameters
    ----------
    L : ndarray of float64, shape (n, n)
        Leontief inverse.

    Returns
    -------
    m : ndarray of float64, shape (n,)
        Total output in the whole system per currency unit of final demand
        for ``j`` (dimensionless).
    """
    return _square("L", L).sum(axis=0)


def satellite_multipliers(
    L: NDArray[np.float64], coefficients: NDArray[np.float64]
) -> NDArray[np.float64]:
    r"""Total satellite effect (jobs, value added, emissions) per unit of final demand.

    .. math::

        m^{e}_{j} = \sum_i e_i \, l_{ij}, \qquad M = E L

    Parameters
    ----------
    L : ndarray of float64, shape (n, n)
        Leontief inverse (or the ``n x n`` block of a closed one).
    coefficients : ndarray of float64, shape (k, n) or (n,)
        Direct satellite intensities per currency unit of output, e.g.
        persons per currency unit or value added per currency unit.

    Returns
    -------
    M : ndarray of float64, shape (k, n) or (n,)
        Economy-wide satellite quantity per currency unit of final demand for
        each ``j``, in the units of ``coefficients``.
    """
    L = _square("L", L)
    coefficients = _as_float(coefficients)
    if coefficients.ndim not in (1, 2) or coefficients.shape[-1] != L.shape[0]:
        raise ValueError(
            f"coefficients must have shape ({L.shape[0]},) or (k, {L.shape[0]}), "
            f"got {coefficients.shape}"
        )
    return coefficients @ L


def type_i_multipliers(
    L: NDArray[np.float64], coefficients: NDArray[np.float64]
) -> NDArray[np.float64]:
    r"""Type I multipliers: total (direct plus indirect) over direct effect.

    .. math::

        m^{I}_{j} = \frac{\sum_i e_i \, l_{ij}}{e_j}, \qquad m^{I}_{j} = 0
        \text{ if } e_j = 0

    Parameters
    ----------
    L : ndarray of float64, shape (n, n)
        Open Leontief inverse.
    coefficients : ndarray of float64, shape (k, n) or (n,)
        Direct satellite intensities per currency unit of output.

    Returns
    -------
    m : ndarray of float64, shape (k, n) or (n,)
        Dimensionless ratio; 0 where the direct coefficient is 0.
    """
    total = satellite_multipliers(L, coefficients)
    return _ratio_or_zero(total, _as_float(coefficients))


def closed_leontief_inverse(
    A: NDArray[np.float64],
    labour_income: NDArray[np.float64],
    consumption: NDArray[np.float64],
) -> NDArray[np.float64]:
    r"""Leontief inverse of the model closed with respect to households (Type II).

    .. math::

        A^{*} = \begin{bmatrix} A & C \\ W & 0 \end{bmatrix}, \qquad
        L^{*} = (I - A^{*})^{-1}

    Parameters
    ----------
    A : ndarray of float64, shape (n, n)
        Technical coefficients.
    labour_income : ndarray of float64, shape (h, n) or (n,)
        ``W[h, j]``: labour income of household group ``h`` per currency unit
        of output of ``j``. A 1-D array is one household group.
    consumption : ndarray of float64, shape (n, h) or (n,)
        ``C[i, h]``: spending on the output of ``i`` per currency unit of
        income of household group ``h``. A 1-D array is one household group.

    Returns
    -------
    L_star : ndarray of float64, shape (n + h, n + h)
        Closed Leontief inverse; the top-left ``n x n`` block gives total
        (direct, indirect and induced) output per currency unit of final demand.

    Raises
    ------
    NumericalError
        If the closed system is not productive (households spend more than
        the economy can produce from their income).
    ValueError
        If the shapes do not match.
    """
    A = _square("A", A)
    n = A.shape[0]
    W = _as_float(labour_income)
    C = _as_float(consumption)
    if W.ndim == 1:
        W = W[np.newaxis, :]
    if C.ndim == 1:
        C = C[:, np.newaxis]
    if W.ndim != 2 or W.shape[1] != n:
        raise ValueError(f"labour_income must have shape (h, {n}), got {W.shape}")
    h = W.shape[0]
    if C.shape != (n, h):
        raise ValueError(
            f"consumption must have shape ({n}, {h}) to match A and labour_income, got {C.shape}"
        )
    A_star = np.zeros((n + h, n + h), dtype=np.float64)
    A_star[:n, :n] = A
    A_star[:n, n:] = C
    A_star[n:, :n] = W
    return leontief_inverse(A_star)


def type_ii_multipliers(
    L_star: NDArray[np.float64], coefficients: NDArray[np.float64], n: int
) -> NDArray[np.float64]:
    r"""Type II multipliers: direct, indirect and induced effect over direct effect.

    .. math::

        m^{II}_{j} = \frac{\sum_{i \le n} e_i \, l^{*}_{ij}}{e_j}, \qquad
        m^{II}_{j} = 0 \text{ if } e_j = 0

    Parameters
    ----------
    L_star : ndarray of float64, shape (n + h, n + h)
        Closed Leontief inverse from :func:`closed_leontief_inverse`.
    coefficients : ndarray of float64, shape (k, n) or (n,)
        Direct satellite intensities per currency unit of output.
    n : int
        Number of region-sector pairs (the household rows and columns follow).

    Returns
    -------
    m : ndarray of float64, shape (k, n) or (n,)
        Dimensionless ratio; 0 where the direct coefficient is 0.
    """
    L_star = _square("L_star", L_star)
    if not 0 < n <= L_star.shape[0]:
        raise ValueError(f"n must be in 1..{L_star.shape[0]}, got {n}")
    return type_i_multipliers(L_star[:n, :n], coefficients)


def employment_multipliers(
    L: NDArray[np.float64],
    L_star: NDArray[np.float64],
    jobs: NDArray[np.float64],
    labour_income: NDArray[np.float64],
    household: NDArray[np.int64],
    direct: NDArray[np.float64] | None = None,
    direct_income: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""Type I and Type II employment multipliers of region-sectors, or of plants in them.

    A unit of output of ``j`` (final demand for ``j``'s sector, or the output of a
    plant in ``j`` that buys ``j``'s inputs, :math:`A_{\cdot j}`) employs :math:`d_j`
    persons directly and pays :math:`u_j` of labour income to household group
    :math:`h(j)`. Its suppliers employ :math:`\sum_i e_i (l_{ij} - \delta_{ij})`
    persons (Type I); the household round adds the jobs of spending the labour income
    of every round (Type II, the closed inverse :math:`L^*` of
    :func:`closed_leontief_inverse`, with :math:`W` its labour-income rows):

    .. math::

        m^{I}_j = \frac{d_j + \sum_i e_i\,(l_{ij} - \delta_{ij})}{d_j},
        \qquad
        m^{II}_j = \frac{d_j + \sum_i e_i\,(l^{*}_{ij} - \delta_{ij})
        + \sum_i e_i\,l^{*}_{i,n+h(j)}\,\bigl(u_j - w_{h(j)j}\bigr)}{d_j}

    With :math:`d_j = e_j` and :math:`u_j = w_{h(j)j}` (the defaults: the
    region-sector's own productivity and wage bill) these are the standard
    multipliers :math:`(eL)_j/e_j` and :math:`(eL^*)_j/e_j` (Miller & Blair 2009,
    ch. 6). The last term of :math:`m^{II}` replaces the sector's wage
    bill by the plant's in the household round, from
    :math:`L^*_{xx} A + L^*_{xh} W = L^*_{xx} - I`.

    Parameters
    ----------
    L : ndarray of float64, shape (n, n)
        Open Leontief inverse.
    L_star : ndarray of float64, shape (n + h, n + h)
        Closed Leontief inverse (households in the last ``h`` rows and columns).
    jobs : ndarray of float64, shape (n,)
        :math:`e`: persons employed per currency unit of output of each region-sector.
    labour_income : ndarray of float64, shape (h, n)
        :math:`W`: labour income of household group ``h`` per currency unit of
        output of ``j`` (the rows that close :math:`L^*`).
    household : ndarray of int, shape (n,)
        :math:`h(j)`: the household group the workers of ``j`` belong to.
    direct : ndarray of float64, shape (..., n), optional
        :math:`d`: persons employed directly per currency unit of output (a plant's
        own workers); default ``jobs``. Leading axes are batch axes (replicas).
    direct_income : ndarray of float64, shape (..., n), optional
        :math:`u`: labour income the direct workers earn per currency unit of
        output; default :math:`w_{h(j)j}`.

    Returns
    -------
    type_i, type_ii : ndarray of float64, shape (..., n)
        Persons employed in the whole system per person employed directly
        (dimensionless); NaN where :math:`d_j = 0` (no direct jobs: undefined).

    References
    ----------
    Miller, R. E. & Blair, P. D. (2009). *Input-Output Analysis: Foundations and
    Extensions*, 2nd ed., Cambridge University Press, ch. 6 (employment
    multipliers, Type I and Type II).
    """
    L = _square("L", L)
    L_star = _square("L_star", L_star)
    n = L.shape[0]
    e = _as_float(jobs)
    W = _as_float(labour_income)
    h = L_star.shape[0] - n
    if e.shape != (n,):
        raise ValueError(f"jobs must have shape ({n},), got {e.shape}")
    if W.shape != (h, n):
        raise ValueError(f"labour_income must have shape ({h}, {n}) to match L_star, got {W.shape}")
    hh = np.asarray(household, dtype=np.int64)
    if hh.shape != (n,) or (n and (hh.min() < 0 or hh.max() >= max(h, 1))):
        raise ValueError(f"household must be {n} indices below {h}, got {hh}")
    d = e if direct is None else _as_float(direct)
    own = W[hh, np.arange(n)] if h else np.zeros(n)  # the sector's wage bill per unit
    u = own if direct_income is None else _as_float(direct_income)
    supply = e @ L - e  # (n,) suppliers' jobs per unit of output
    closed = e @ L_star[:n, :n] - e  # (n,) suppliers' and households' jobs
    # Jobs per unit of labour income of each group, taken at the group paid by j.
    per_income = (e @ L_star[:n, n:])[hh] if h else np.zeros(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        type_i = np.where(d != 0, (d + supply) / d, np.nan)
        type_ii = np.where(d != 0, (d + closed + per_income * (u - own)) / d, np.nan)
    return np.asarray(type_i, dtype=np.float64), np.asarray(type_ii, dtype=np.float64)


def mrio_from_national(
    A_national: NDArray[np.float64], sourcing: NDArray[np.float64]
) -> NDArray[np.float64]:
    r"""Multi-regional coefficients from national technologies and sourcing shares.

    Each destination region keeps its own technology; sourcing shares split each
    input between the regions that supply it (the Chenery-Moses model):

    .. math::

        a_{(i, s), (j, t)} = a^{j}_{s t} \, \sigma_{i j s}

    Parameters
    ----------
    A_national : ndarray of float64, shape (R, S, S)
        ``A_national[j, s, t]``: input of sector ``s`` per currency unit of
        output of sector ``t`` in region ``j`` (dimensionless).
    sourcing : ndarray of float64, shape (R, R, S)
        ``sourcing[i, j, s]``: share of region ``j``'s purchases of sector
        ``s`` supplied by region ``i`` (dimensionless). Shares normally sum to
        1 over ``i``; a sum below 1 is purchases from outside the table
        (imports), which leak out of the system.

    Returns
    -------
    A : ndarray of float64, shape (R * S, R * S)
        Region-major multi-regional technical coefficients.

    Raises
    ------
    ValueError
        If the shapes do not match, a share is negative, or the shares for a
        destination and sector sum to more than 1.
    """
    A_national = _as_float(A_national)
    sourcing = _as_float(sourcing)
    if A_national.ndim != 3 or A_national.shape[1] != A_national.shape[2]:
        raise ValueError(f"A_national must have shape (R, S, S), got {A_national.shape}")
    R, S, _ = A_national.shape
    if sourcing.shape != (R, R, S):
        raise ValueError(
            f"sourcing must have shape ({R}, {R}, {S}) to match A_national, got {sourcing.shape}"
        )
    if np.any(sourcing < 0):
        raise ValueError("sourcing shares must be nonnegative")
    totals = sourcing.sum(axis=0)
    if np.any(totals > 1.0 + _SHARE_TOLERANCE):
        j, s = np.unravel_index(int(np.argmax(totals)), totals.shape)
        raise ValueError(
            f"sourcing shares of region {j}, sector {s} sum to {totals[j, s]:.6g} over "
            "origins; allowed: at most 1"
        )
    # Axis order (i, s_in, j, s_out) makes the reshape region-major on both sides.
    blocks = np.einsum("jab,ija->iajb", A_national, sourcing)
    return blocks.reshape(R * S, R * S)


def indirect_and_induced_output(
    L: NDArray[np.float64], L_star: NDArray[np.float64], demand: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""Split the output triggered by a demand injection into indirect and induced parts.

    .. math::

        x^{\mathrm{ind}} = (L - I)\, d, \qquad
        x^{\mathrm{hh}} = (L^{*}_{[1..n, 1..n]} - L)\, d

    The direct part is ``d`` itself, so ``d + indirect + induced`` is the Type II
    total.

    Parameters
    ----------
    L : ndarray of float64, shape (n, n)
        Open Leontief inverse.
    L_star : ndarray of float64, shape (n + h, n + h)
        Closed Leontief inverse.
    demand : ndarray of float64, shape (..., n)
        Demand injection in currency units: final demand, or the output of a
        new plant treated as exogenous. Leading axes (replicas, years) are
        batch axes.

    Returns
    -------
    indirect : ndarray of float64, shape (..., n)
        Output of suppliers along the supply chain, currency units.
    induced : ndarray of float64, shape (..., n)
        Output from the spending of the extra household income, currency units.
    """
    L = _square("L", L)
    L_star = _square("L_star", L_star)
    n = L.shape[0]
    if L_star.shape[0] < n:
        raise ValueError(f"L_star must be at least {n}x{n}, got {L_star.shape}")
    demand = _as_float(demand)
    if demand.ndim < 1 or demand.shape[-1] != n:
        raise ValueError(f"demand must have shape (..., {n}), got {demand.shape}")
    # Right-multiplying rows by the transpose applies the matrix to every batch row at once.
    indirect = demand @ (L - np.eye(n, dtype=np.float64)).T
    induced = demand @ (L_star[:n, :n] - L).T
    return indirect, induced

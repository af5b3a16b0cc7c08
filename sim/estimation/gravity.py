r"""Structural gravity by Poisson pseudo-maximum likelihood (PPML).

.. math::

    X_{ij} = \exp\bigl(\pi_i + \chi_j + \textstyle\sum_k \beta_k x_{ij,k}\bigr)\,\varepsilon_{ij},

with exporter effects :math:`\pi_i` and importer effects :math:`\chi_j` (by year in a
panel, and pair effects :math:`\mu_{ij}` where asked), estimated by Poisson PML with
zeros kept (Santos Silva & Tenreyro 2006; Yotov, Piermartini, Monteiro & Larch 2016,
*An Advanced Guide to Trade Policy Analysis*, ch. 1). :math:`\beta_k` are the
trade-cost coefficients on :math:`\log t_{ij}^{1-\sigma} = \sum_k \beta_k x_{ij,k}`.
The fit is pyfixest's ``fepois`` (high-dimensional fixed effects); standard errors are
cluster-robust by exporter-importer pair (CRV1, small-sample corrected).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from sim.errors import quote
from sim.estimation.errors import EstimationError
from sim.estimation.read import PanelColumns

#: Name of the pair identifier added to the table (the clusters).
PAIR = "_pair"


@dataclass(frozen=True)
class GravitySpec:
    """What to estimate: covariates, the table's columns and the fixed effects."""

    covariates: tuple[str, ...]
    columns: PanelColumns = field(default_factory=PanelColumns)
    pair_effects: bool = False  # only for a panel

    def fixed_effects(self) -> list[str]:
        """The fixed effects, as pyfixest terms."""
        c = self.columns
        if c.year is None:
            return [c.exporter, c.importer]
        effects = [f"{c.exporter}^{c.year}", f"{c.importer}^{c.year}"]
        return [*effects, PAIR] if self.pair_effects else effects


@dataclass
class GravityEstimate:
    """A PPML gravity fit.

    Attributes
    ----------
    coefficients : pandas.Series
        :math:`\\beta_k` by covariate, log trade per unit of the covariate.
    covariance : pandas.DataFrame
        Their cluster-robust covariance (by pair).
    fitted : pandas.Series
        Fitted trade of every observation used, in the table's unit.
    """

    spec: GravitySpec
    coefficients: pd.Series
    covariance: pd.DataFrame
    fitted: pd.Series
    observations: int
    dropped: int  # rows dropped by the estimator (all-zero fixed-effect groups)
    clusters: int
    deviance: float
    pseudo_r2: float
    converged: bool
    used: pd.DataFrame  # the rows used: keys and trade

    @property
    def standard_errors(self) -> pd.Series:
        return pd.Series(
            np.sqrt(np.diag(self.covariance.to_numpy())), index=self.coefficients.index
        )

    def table(self, level: float = 0.95) -> pd.DataFrame:
        """Coefficients with standard errors, z statistics, p-values and a confidence interval."""
        se = self.standard_errors
        z = self.coefficients / se
        crit = float(special.ndtri(0.5 + level / 2.0))
        return pd.DataFrame(
            {
                "covariate": self.coefficients.index,
                "estimate": self.coefficients.to_numpy(),
                "std_error": se.to_numpy(),
                "z": z.to_numpy(),
                "p_value": 2.0 * special.ndtr(-np.abs(z.to_numpy())),
                f"ci_{round(100 * level)}_low": (self.coefficients - crit * se).to_numpy(),
                f"ci_{round(100 * level)}_high": (self.coefficients + crit * se).to_numpy(),
            }
        )


def check_variation(table: pd.DataFrame, spec: GravitySpec) -> None:
    """Refuse covariates that cannot be estimated, before the fit.

    A covariate with one value throughout, or (with pair effects) one that never
    changes within a pair, has no coefficient to estimate.
    """
    c = spec.columns
    if spec.pair_effects and c.year is None:
        raise EstimationError(
            "pair fixed effects need a panel: no --year column was given",
            allowed="pair effects with a year column (several years per pair)",
            hint="give --year, or drop --pair-effects",
        )
    for name in spec.covariates:
        values = table[name].to_numpy(dtype=float)
        if np.ptp(values) == 0.0:
            raise EstimationError(
                f"covariate {quote(name)} has no variation (every row is {values[0]:g})",
                allowed="covariates that vary across exporter-importer pairs",
                hint=f"drop {name} from --covariates",
            )
        if spec.pair_effects:
            pair = table[c.exporter] + "\x1f" + table[c.importer]
            if (table.groupby(pair)[name].nunique() <= 1).all():
                raise EstimationError(
                    f"covariate {quote(name)} never changes within a pair, so the pair fixed "
                    "effects absorb it",
                    allowed="with --pair-effects, covariates that change over time (a policy, "
                    "an agreement entering into force)",
                    hint=f"drop {name}, or drop --pair-effects to estimate time-invariant costs",
                )


def check_flows(table: pd.DataFrame, spec: GravitySpec) -> None:
    """Refuse a table with too few positive flows to estimate anything, before the fit.

    PPML cannot use the rows of a fixed-effect group (an exporter, an importer, by year
    in a panel, or a pair) whose trade is all zero: the group's effect would be minus
    infinity, and the estimator drops them (separation). What remains must be more rows
    than there are parameters. This is a necessary condition only (the estimator may
    find more separated rows); it is checked here because pyfixest aborts the whole
    process, with no exception to catch, when it is left with no row at all.
    """
    c = spec.columns
    value = table[c.value].to_numpy(dtype=float)
    year = [c.year] if c.year else []
    groups = [[c.exporter, *year], [c.importer, *year]]
    if spec.pair_effects and c.year is not None:
        groups.append([c.exporter, c.importer])
    kept = np.ones(len(table), dtype=bool)
    for keys in groups:
        kept &= table.groupby(keys)[c.value].transform("sum").to_numpy(dtype=float) > 0
    # One level of each fixed effect but the first is not identified (a common constant).
    levels = sum(table.loc[kept, keys].drop_duplicates().shape[0] for keys in groups)
    parameters = len(spec.covariates) + max(levels - len(groups) + 1, 0)
    if int(kept.sum()) <= parameters:
        raise EstimationError(
            f"too few positive trade flows to estimate: {int((value > 0).sum())} of "
            f"{len(table)} rows have positive {quote(c.value)}, which leaves "
            f"{int(kept.sum())} usable rows for {parameters} parameter(s) (the covariates "
            "and the fixed effects of exporters and importers that trade)",
            allowed="more usable rows than parameters: rows whose exporter and importer "
            "(by year in a panel) both have some positive trade",
            hint="check that --value names the trade column, or add exporters, importers "
            "or years with trade",
        )


def estimate_gravity(table: pd.DataFrame, spec: GravitySpec) -> GravityEstimate:
    """Fit structural gravity by PPML with pyfixest.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`sim.estimation.read.load_trade_table`.
    spec : GravitySpec
        Covariates, columns and fixed effects.

    Raises
    ------
    EstimationError
        If there are too few positive flows, a covariate has no variation, is absorbed
        by the fixed effects or collinear with the others, or the fit does not converge.
    """
    import pyfixest as pf  # imported here: it takes a second and is needed only to fit

    check_flows(table, spec)
    check_variation(table, spec)
    c = spec.columns
    data = table.copy()
    data[PAIR] = data[c.exporter] + "\x1f" + data[c.importer]
    formula = f"{c.value} ~ {' + '.join(spec.covariates)} | {' + '.join(spec.fixed_effects())}"
    with warnings.catch_warnings():
        # pyfixest warns about dropped variables and separated rows: both are checked below.
        warnings.simplefilter("ignore")
        try:
            fit: Any = pf.fepois(formula, data=data, vcov={"CRV1": PAIR})
        except Exception as exc:  # pyfixest raises plain exceptions for data it cannot fit
            raise EstimationError(
                f"PPML could not fit {formula}: {exc}",
                hint="check the covariates and that every exporter and importer has trade",
            ) from None
    names = [str(n) for n in fit._coefnames]
    absorbed = [n for n in spec.covariates if n not in names]
    if absorbed:
        raise EstimationError(
            f"covariate {quote(absorbed[0])} is collinear with the fixed effects or the other "
            "covariates and has no coefficient",
            allowed="covariates that vary within exporters and importers (and years)",
            hint=f"drop {absorbed[0]} from --covariates",
        )
    if not bool(fit._convergence):
        raise EstimationError(
            "PPML did not converge",
            hint="check for exporters or importers with almost no trade, or rescale trade",
        )
    beta = pd.Series(np.asarray(fit._beta_hat, dtype=float), index=names)
    vcov = pd.DataFrame(np.asarray(fit._vcov, dtype=float), index=names, columns=names)
    # pyfixest fits a copy of the table indexed 0..n-1 and drops rows in two places that
    # neither attribute covers alone (missing values and singletons in _na_index, rows
    # separated by zero trade in na_index); the index of the data it kept is exactly the
    # rows used, as positions in our table, in the order of its fitted values.
    positions = np.asarray(fit._data.index, dtype=np.intp)
    keys = [c.exporter, c.importer, *([c.year] if c.year else [])]
    used = data.iloc[positions][[*keys, c.value]]
    fitted = pd.Series(np.asarray(fit.predict(type="response"), dtype=float), index=used.index)
    return GravityEstimate(
        spec=spec,
        coefficients=beta,
        covariance=vcov,
        fitted=fitted,
        observations=int(fit._N),
        dropped=len(data) - int(fit._N),
        clusters=int(np.atleast_1d(fit._G)[0]),
        deviance=float(fit.deviance),
        pseudo_r2=float(fit._pseudo_r2),
        converged=True,
        used=used.reset_index(drop=True),
    )


__all__ = [
    "GravityEstimate",
    "GravitySpec",
    "check_flows",
    "check_variation",
    "estimate_gravity",
]

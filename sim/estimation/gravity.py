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
        If a covariate has no variation, is absorbed by the fixed effects or collinear
        with the others, or the fit does not converge.
    """
    import pyfixest as pf  # imported here: it takes a second and is needed only to fit

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
    used_index = data.index.difference(pd.Index(fit._na_index))
    used = data.loc[used_index, [c.exporter, c.importer, *([c.year] if c.year else []), c.value]]
    fitted = pd.Series(np.asarray(fit.predict(type="response"), dtype=float), index=used_index)
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


__all__ = ["GravityEstimate", "GravitySpec", "check_variation", "estimate_gravity"]

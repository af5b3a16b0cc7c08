"""Write an estimation: coefficients, the fit report and a scenario fragment.

The output is one folder, written atomically next to its final place and never over
the data it was estimated from (:mod:`sim.results.guard`):

- ``coefficients.csv``: estimate, standard error, z, p-value, 95 % interval;
- ``fitted_trade.csv``: fitted trade of every pair used (the baseline gegravity
  calibrates to), in the data's unit;
- ``fit.md``: the specification, the fit statistics and the table, for a reader;
- ``gravity.yaml``: a scenario fragment, ``trade_costs.gravity`` with the
  coefficients and their covariance (the engine draws them per replica) and a
  ``trade.baseline`` reading the fitted trade. A scenario takes it with
  ``extends:`` and changes a covariate with a policy of kind ``covariate``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import yaml

from sim.estimation.gravity import GravityEstimate
from sim.results.guard import OutputError, check_not_input, check_output
from sim.results.write import write_file

FITTED = "fitted_trade.csv"
#: The files of an estimation folder: an existing folder holding anything else is not
#: one, and is never written over.
OUTPUT_FILES = {"coefficients.csv", FITTED, "fit.md", "gravity.yaml"}


def fragment(estimate: GravityEstimate, data: Path) -> dict[str, Any]:
    """The scenario fragment: trade costs from the estimate, baseline from the fit."""
    names = list(estimate.coefficients.index)
    cov = (estimate.covariance + estimate.covariance.T) / 2.0  # symmetric to the last digit
    c = estimate.spec.columns
    return {
        "trade": {
            "baseline": {
                "file": FITTED,
                "columns": {
                    "origin": c.exporter,
                    "destination": c.importer,
                    "sector": "",
                    "value": c.value,
                    **({"year": c.year} if c.year else {}),
                },
            },
        },
        "trade_costs": {
            "gravity": {
                "source": f"sim estimate: PPML on {data.name}, "
                + ", ".join(estimate.spec.fixed_effects())
                + " fixed effects, standard errors clustered by pair "
                + f"({estimate.observations} observations)",
                "coefficients": {k: float(estimate.coefficients[k]) for k in names},
                "covariance": {a: {b: float(cov.loc[a, b]) for b in names} for a in names},
            }
        },
    }


def fit_report(estimate: GravityEstimate, data: Path, digest: str) -> str:
    """Markdown: what was estimated on what, the fit statistics and the coefficients."""
    spec = estimate.spec
    table = estimate.table()
    lines = [
        "# Structural gravity, PPML",
        "",
        f"- data: `{data}` (sha256 {digest[:16]})",
        f"- trade: `{spec.columns.value}`; exporter `{spec.columns.exporter}`, importer "
        f"`{spec.columns.importer}`"
        + (f", year `{spec.columns.year}`" if spec.columns.year else ""),
        f"- fixed effects: {', '.join(spec.fixed_effects())}",
        f"- observations used: {estimate.observations} ({estimate.dropped} dropped by the "
        "estimator: all-zero fixed-effect groups)",
        f"- standard errors: clustered by exporter-importer pair ({estimate.clusters} "
        "clusters, CRV1)",
        f"- deviance {estimate.deviance:.6g}; pseudo-R2 {estimate.pseudo_r2:.4f}",
        f"- estimated with pyfixest's fepois on {dt.date.today().isoformat()}",
        "",
        "| covariate | estimate | std. error | z | p-value | 95 % interval |",
        "|---|---|---|---|---|---|",
    ]
    for _, row in table.iterrows():
        lines.append(
            f"| {row['covariate']} | {row['estimate']:.6g} | {row['std_error']:.4g} | "
            f"{row['z']:.2f} | {row['p_value']:.3g} | [{row['ci_95_low']:.4g}, "
            f"{row['ci_95_high']:.4g}] |"
        )
    lines += [
        "",
        "Coefficients are on log trade, log t^(1-sigma) = sum_k b_k x_k: a change dx of a "
        "covariate multiplies t^(1-sigma) by exp(b dx), whatever sigma (docs/estimation.md).",
        "",
    ]
    return "\n".join(lines)


def write_estimate(
    estimate: GravityEstimate, data: Path, target: Path, *, overwrite: bool = False
) -> Path:
    """Write the estimation folder ``target`` atomically (see the module docstring)."""
    check_estimate_folder(target, overwrite=overwrite)
    inputs = {data: "the trade data"}
    # The folder is replaced whole: one holding the data it reads is refused.
    check_not_input(target, inputs, whole=True)
    check_output(target, "folder", inputs=inputs, overwrite=overwrite)
    digest = hashlib.sha256(data.read_bytes()).hexdigest()

    def fill(tmp: Path) -> None:
        estimate.table().to_csv(tmp / "coefficients.csv", index=False)
        fitted = estimate.used.copy()
        fitted[estimate.spec.columns.value] = estimate.fitted.to_numpy()
        fitted.to_csv(tmp / FITTED, index=False)
        (tmp / "fit.md").write_text(fit_report(estimate, data, digest))
        header = (
            f"# Written by sim estimate from {data.name} (sha256 {digest[:16]}).\n"
            "# Use with `extends:` in a scenario; see fit.md and docs/estimation.md.\n"
        )
        text = yaml.safe_dump(fragment(estimate, data), sort_keys=False)
        (tmp / "gravity.yaml").write_text(header + text)

    return write_file(target, fill, directory=True)


def check_estimate_folder(target: Path, *, overwrite: bool) -> None:
    """Refuse an existing folder unless it is an earlier estimation and ``overwrite``."""
    if target.is_symlink():
        raise OutputError(
            f"{target} is a symbolic link: the estimation folder is replaced whole, which "
            "would replace the link, not the folder it points to",
            allowed="a new folder, or an earlier estimation folder (not a link to one)",
            hint="give the folder's own path as -o",
        )
    if not target.exists():
        return
    if not target.is_dir():
        raise OutputError(
            f"{target} exists and is not a folder",
            allowed="a new folder, or an earlier estimation folder with --overwrite",
            hint="choose another -o",
        )
    other = sorted(p.name for p in target.iterdir() if p.name not in OUTPUT_FILES)
    if other:
        raise OutputError(
            f"{target} holds files that are not an estimation's ({', '.join(other[:3])})",
            allowed="a new or empty folder, or an earlier estimation folder with --overwrite",
            hint="choose another -o; the folder is never written over",
        )
    if any(target.iterdir()) and not overwrite:
        raise OutputError(
            f"{target} holds an earlier estimation",
            allowed="a new folder",
            hint="pass --overwrite to replace it, or choose another -o",
        )

"""How well a calibration's targets pin down its parameters (docs/calibration.md).

A fit that meets every target proves little when the targets cannot fail: a target that
only one free parameter moves, and that moves nothing else, is met *by construction*; a
fit with fewer constraining targets than free parameters is *under-identified* (the
fitted values depend on the starting point). This module measures both from the
Jacobian of the targets' model values at the fitted parameters, and gives standard
errors where the targets over-identify the parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: Relative change of a target's model value below which a parameter does not move it.
MOVES = 1e-9


@dataclass
class Identification:
    """The counting and the Jacobian of one fit."""

    parameters: int
    equalities: int  # targets with a value
    active_bounds: int  # bound targets binding at the fit
    inactive_bounds: int  # bound targets met with room: they constrain nothing here
    moves: NDArray[np.bool_]  # (targets, parameters): the parameter moves the target
    by_construction: list[tuple[int, int]] = field(default_factory=list)  # (target, parameter)
    not_identified: list[int] = field(default_factory=list)  # parameters no target moves
    standard_errors: FloatArray | None = None  # (parameters,) where over-identified

    @property
    def degrees_of_freedom(self) -> int:
        """Constraining targets minus free parameters."""
        return self.equalities + self.active_bounds - self.parameters


def check_identification(
    targets: Sequence[Any],
    parameters: Sequence[Any],
    fitted: FloatArray,
    values: Callable[[FloatArray], dict[int, float]],
) -> Identification:
    """Count targets and parameters and differentiate the targets at ``fitted``.

    Parameters
    ----------
    targets
        The fitted targets (:class:`sim.calibration.Target`): ``index``, ``spec``,
        ``residual(value)``.
    parameters
        The free parameters (:class:`sim.calibration.Parameter`): ``lower``, ``upper``.
    fitted : (P,)
        The fitted values.
    values
        Model values of the targets, by target index, for parameter values ``x``: one
        model evaluation per call (P + 1 calls here).
    """
    base = values(fitted)
    n_t, n_p = len(targets), len(parameters)
    level = np.array([base[t.index] for t in targets])
    change = np.zeros((n_t, n_p))  # relative change of each target's model value
    jac = np.zeros((n_t, n_p))  # of the weighted residuals, per unit of the parameter
    res0 = np.array([t.residual(base[t.index]) for t in targets])
    for k, p in enumerate(parameters):
        x = fitted.copy()
        step = 1e-4 * (p.upper - p.lower)
        step = step if x[k] + step <= p.upper else -step
        x[k] += step
        moved = values(x)
        now = np.array([moved[t.index] for t in targets])
        change[:, k] = (now - level) / np.maximum(np.abs(level), 1e-300)
        jac[:, k] = (np.array([t.residual(moved[t.index]) for t in targets]) - res0) / step
    moves = np.abs(change) > MOVES
    is_value = np.array([t.spec.get("value") is not None for t in targets])
    binding = ~is_value & (res0 != 0.0)
    out = Identification(
        parameters=n_p,
        equalities=int(is_value.sum()),
        active_bounds=int(binding.sum()),
        inactive_bounds=int((~is_value & ~binding).sum()),
        moves=moves,
    )
    constraining = is_value | binding
    for i in np.flatnonzero(constraining):
        movers = np.flatnonzero(moves[i])
        if len(movers) == 1:
            k = int(movers[0])
            if np.flatnonzero(moves[constraining, k]).size == 1:
                out.by_construction.append((int(i), k))
    out.not_identified = [k for k in range(n_p) if not moves[constraining, k].any()]
    dof = out.degrees_of_freedom
    if dof > 0 and not out.not_identified:
        j = jac[constraining]
        sigma2 = float(np.sum(res0[constraining] ** 2)) / dof
        try:
            cov = sigma2 * np.linalg.inv(j.T @ j)
            out.standard_errors = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        except np.linalg.LinAlgError:
            out.standard_errors = None
    return out


def identification_warnings(
    ident: Identification, targets: Sequence[Any], parameters: Sequence[Any]
) -> list[str]:
    """The fit's warnings about identification, one line each (the report's section says
    the same at length)."""
    out = []
    if ident.degrees_of_freedom < 0:
        out.append(
            f"under-identified: {ident.parameters} free parameters for "
            f"{ident.equalities + ident.active_bounds} constraining targets; the fitted "
            "values depend on the starting point (add targets or fix parameters)"
        )
    out += [
        f"target {targets[i].label} is met by construction: only {parameters[k].key} moves "
        "it and that parameter moves no other target (not evidence of fit)"
        for i, k in ident.by_construction
    ]
    # A parameter that no fitted target responds to is not identified.
    out += [
        f"parameter {parameters[k].key} is not identified: no fitted target responds to it "
        "(it keeps its initial value)"
        for k in ident.not_identified
    ]
    return out


def identification_lines(
    ident: Identification, targets: Sequence[Any], parameters: Sequence[Any]
) -> list[str]:
    """The report's section on identification, as Markdown lines."""
    dof = ident.degrees_of_freedom
    lines = [
        "## Identification",
        "",
        f"{ident.parameters} free parameters; {ident.equalities} targets with a value, "
        f"{ident.active_bounds} binding bounds and {ident.inactive_bounds} bounds met with "
        f"room (they constrain nothing at this fit): {dof:+d} degrees of freedom "
        f"({ident.equalities + ident.active_bounds} constraining targets minus "
        f"{ident.parameters} parameters).",
        "",
    ]
    if dof < 0:
        lines += [
            "**Under-identified**: fewer constraining targets than free parameters, so "
            "many parameter values meet the targets equally well and the fitted values "
            "depend on the starting point. Add targets (by year, by direction) or fix "
            "parameters.",
            "",
        ]
    for i, k in ident.by_construction:
        lines.append(
            f"- **{targets[i].label}** is met by construction: only "
            f"`{parameters[k].key}` moves it, and that parameter moves no other target. "
            "Meeting it is not evidence that the model fits."
        )
    for k in ident.not_identified:
        lines.append(f"- `{parameters[k].key}` moves no constraining target.")
    if ident.standard_errors is not None:
        lines += ["", "| key | standard error (from the Jacobian and the residuals) |", "|---|---|"]
        lines += [
            f"| `{p.key}` | {se:.3g} |"
            for p, se in zip(parameters, ident.standard_errors, strict=True)
        ]
    elif dof <= 0:
        lines += [
            "",
            "No standard errors: the targets do not over-identify the parameters (the fit "
            "has no residual to measure its error by).",
        ]
    return [*lines, ""]

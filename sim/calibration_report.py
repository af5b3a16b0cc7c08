"""The fit report of ``sim calibrate`` (Markdown): targets, parameters,
identification, the backtest and the warnings (docs/calibration.md)."""

from __future__ import annotations

from sim.calibration import CalibrationResult, holdout_error
from sim.calibration_checks import identification_lines
from sim.scenario.validate import Scenario

# A parameter within this share of its bounds' span of the full fit's value counts
# as "the same": a scenario whose values were fitted on every target is no
# out-of-sample baseline.
SAME_VALUE = 0.01


def format_report(sc: Scenario, result: CalibrationResult) -> str:
    """The fit report as Markdown."""
    name = sc.name
    lines = [
        f"# Calibration of `{name}`",
        "",
        f"Method: {result.method} on the mean of {sc.data['calibration']['replicas']} replicas "
        f"(seed {sc.data['monte_carlo']['seed']}, common random numbers); "
        f"{result.evaluations} model evaluations in {result.seconds:.1f} s; "
        f"cost (half the sum of squared weighted relative residuals) {result.cost:.3g}.",
        "",
    ]
    if result.until is not None:
        lines += [
            f"Backtest: fitted on targets up to {result.until}; later targets are held out.",
            "",
        ]
    lines += [
        "## Targets",
        "",
        "| target | used | observed | model | relative error | source |",
        "|---|---|---|---|---|---|",
    ]
    for t in result.targets:
        used = "fit" if t.index in result.fit_indices else "held out"
        value = result.model_values[t.index]
        rel = t.error(value)
        lines.append(
            f"| {t.label} | {used} | {t.describe()} | {value:,.6g} | {100 * rel:+.2f} % | "
            f"{t.spec['source']} |"
        )
    lines += [
        "",
        "## Parameters",
        "",
        "| key | initial | fitted | lower | upper |",
        "|---|---|---|---|---|",
    ]
    for p, v in zip(result.parameters, result.fitted, strict=True):
        lines.append(f"| `{p.key}` | {p.initial:.6g} | {v:.6g} | {p.lower:.6g} | {p.upper:.6g} |")
    if result.holdout_indices:
        line = (
            "Out-of-sample mean absolute relative error: "
            f"{100 * holdout_error(result, result.model_values):.2f} %"
        )
        if result.initial_values:
            line += (
                f" (the uncalibrated scenario: "
                f"{100 * holdout_error(result, result.initial_values):.2f} %)"
            )
        lines += ["", line + "."]
    if result.identification is not None:
        fit_targets = [t for t in result.targets if t.index in result.fit_indices]
        lines += [""] + identification_lines(result.identification, fit_targets, result.parameters)[
            :-1
        ]
    lines += backtest_lines(result)
    lines += ["", "## Warnings", ""]
    lines += [f"- {w}" for w in result.warnings] or ["- none"]
    return "\n".join(lines) + "\n"


def backtest_lines(result: CalibrationResult) -> list[str]:
    """The report's backtest section: out-of-sample errors of a fit on the earlier targets.

    Each held-out target's relative error is shown three times: with the backtest's
    parameters (out of sample), with the scenario's own values (uncalibrated), and
    with the full fit (in sample), so a reader sees how much the fit's quality owes
    to having seen the target.
    """
    check = result.backtest
    if check is None:
        return ["", "## Backtest", "", result.backtest_note or "No backtest (`--until` fit)."]
    until = check.until
    lines = [
        "",
        f"## Backtest: fitted on the targets up to {until}",
        "",
        f"A second fit ({check.evaluations} evaluations) on the targets up to {until}, "
        "from the scenario's own values; the later targets are held out.",
        "",
        "| held-out target | observed | backtest | out of sample | uncalibrated | full fit |",
        "|---|---|---|---|---|---|",
    ]
    for i in check.holdout_indices:
        t = result.targets[i]
        errors = (t.error(v[i]) for v in (check.model_values, check.initial_values,
                                          result.model_values))  # fmt: skip
        lines.append(
            f"| {t.label} | {t.describe()} | {check.model_values[i]:,.6g} | "
            + " | ".join(f"{100 * e:+.2f} %" for e in errors)
            + " |"
        )
    out = holdout_error(check, check.model_values)
    initial = holdout_error(check, check.initial_values)
    inside = holdout_error(check, result.model_values)
    lines += [
        "",
        f"Mean absolute relative error on the held-out targets: {100 * out:.2f} % out of "
        f"sample, against {100 * initial:.2f} % for the uncalibrated scenario and "
        f"{100 * inside:.2f} % for the full fit (which saw them).",
    ]
    if out > initial:
        lines.append(
            "**The backtest does worse out of sample than the uncalibrated scenario**: "
            "the fit on the earlier targets does not carry to the later ones."
        )
    spans = [p.upper - p.lower for p in result.parameters]
    if all(
        abs(p.initial - v) <= SAME_VALUE * span
        for p, v, span in zip(result.parameters, result.fitted, spans, strict=True)
    ):
        lines.append(
            "The scenario's own values are the full fit's (within 1 % of each bound "
            "span): they were fitted on the held-out targets too, so the uncalibrated "
            "column is not an out-of-sample baseline."
        )
    lines += [
        "",
        "| key | backtest | full fit |",
        "|---|---|---|",
    ]
    for p, b, v in zip(result.parameters, check.fitted, result.fitted, strict=True):
        lines.append(f"| `{p.key}` | {b:.6g} | {v:.6g} |")
    ident = check.identification
    if ident is not None and ident.not_identified:
        names = ", ".join(f"`{result.parameters[k].key}`" for k in ident.not_identified)
        lines += [
            "",
            f"No target up to {until} moves {names}: the backtest keeps the scenario's "
            "value, and a held-out target only these move is no test of the fit.",
        ]
    return lines


__all__ = ["backtest_lines", "format_report"]

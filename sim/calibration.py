"""Fit free scenario parameters to observed targets (``sim calibrate``).

The objective is the vector of weighted relative residuals of the targets,
each computed on the **mean over a fixed set of replicas** (common random
numbers: every evaluation uses the same seed and therefore the same draws).
For parameters that act smoothly (trade-cost paths, growth rates, amounts of
investment) the objective is then a smooth deterministic function and
:func:`scipy.optimize.least_squares` (dogbox: a trust region on the box of the bounds) fits
it with finite differences. Parameters that act through random draws
(completion odds, delays) move discrete events, so the sampled objective is
piecewise constant; use ``method: powell`` (bounded derivative-free Powell on
the sum of squares) for those.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import yaml
from numpy.typing import NDArray
from scipy import optimize

from sim.calibration_checks import (
    Identification,
    check_identification,
    identification_warnings,
)
from sim.engine.model import build_model
from sim.errors import ScenarioError, SimError
from sim.scenario.data import ScenarioData, load_scenario_data
from sim.scenario.keypath import get_path, parse_key, set_path
from sim.scenario.load import LoadedDocument
from sim.scenario.validate import Scenario, quiet_warnings, validate_scenario

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]


@dataclass
class Target:
    """One observed figure."""

    index: int
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        s = self.spec
        if s["id"]:
            return str(s["id"])
        where = {
            "turnover": "-".join(s["regions"]),
            "turnover_growth": f"{'-'.join(s['regions'])} vs {s.get('base_year')}",
            "capital_flow": f"{s.get('origin')}->{s.get('destination')}",
            "trade": f"{s.get('origin')}->{s.get('destination')}",
            "jobs": "+".join(s["regions"]),
            "projects": s["stage"],
        }[s["kind"]]
        return f"{s['kind']} {where} {s['year']}"

    @property
    def year(self) -> int:
        return int(self.spec["year"])

    def residual(self, model_value: float) -> float:
        """Weighted relative residual (zero inside a bound)."""
        s = self.spec
        w = float(s["weight"])
        if s.get("value") is not None:
            ref = float(s["value"])
            return w * (model_value - ref) / (abs(ref) or 1.0)
        if s.get("lower") is not None and model_value < s["lower"]:
            return w * (model_value - s["lower"]) / (abs(s["lower"]) or 1.0)
        if s.get("upper") is not None and model_value > s["upper"]:
            return w * (model_value - s["upper"]) / (abs(s["upper"]) or 1.0)
        return 0.0

    def error(self, model_value: float) -> float:
        """Relative error, unweighted (zero inside a bound): the residual over its weight."""
        return self.residual(model_value) / max(float(self.spec["weight"]), 1e-300)

    def describe(self) -> str:
        s = self.spec
        if s.get("value") is not None:
            return f"{s['value']:,.6g}"
        parts = []
        if s.get("lower") is not None:
            parts.append(f">= {s['lower']:,.6g}")
        if s.get("upper") is not None:
            parts.append(f"<= {s['upper']:,.6g}")
        return " and ".join(parts)


@dataclass
class Parameter:
    """One free parameter: a key path into the scenario and its bounds."""

    key: str
    lower: float
    upper: float
    initial: float


@dataclass
class CalibrationResult:
    """What a fit produced."""

    parameters: list[Parameter]
    fitted: FloatArray
    targets: list[Target]
    model_values: dict[int, float]
    fit_indices: list[int]
    holdout_indices: list[int]
    until: int | None
    method: str
    evaluations: int
    seconds: float
    cost: float
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    identification: Identification | None = None
    # Held-out targets' model values at the initial parameters (a backtest's baseline).
    initial_values: dict[int, float] = field(default_factory=dict)
    # The automatic backtest of a full fit (calibration.backtest), or why there is none.
    backtest: CalibrationResult | None = None
    backtest_note: str = ""
    # Whether the optimizer met its tolerances (not its evaluation budget), and its word.
    optimizer_converged: bool = True
    optimizer_message: str = ""


def _targets_and_parameters(sc: Scenario) -> tuple[list[Target], list[Parameter]]:
    cal = sc.data["calibration"]
    targets = [Target(i, t) for i, t in enumerate(cal["targets"])]
    if not targets:
        raise sc.error(
            "the scenario declares no calibration targets",
            "calibration",
            None,
            allowed="a list under calibration.targets",
            hint="add targets such as {kind: turnover, regions: [A, B], year: 2020, value: 100}",
        )
    for t in targets:
        base = f"calibration.targets[{t.index}]"
        s = t.spec
        if s.get("value") is None and s.get("lower") is None and s.get("upper") is None:
            raise sc.error("a target needs value, lower or upper", base, s, hint="add value: ...")
        if s["kind"] in ("turnover", "turnover_growth") and len(s["regions"]) != 2:
            raise sc.error(
                "a turnover target names a pair of regions", f"{base}.regions", s["regions"],
                allowed="two region ids", hint="write regions: [A, B]",
            )  # fmt: skip
        if s["kind"] == "turnover_growth" and s.get("base_year") is None:
            raise sc.error("turnover_growth needs base_year", base, s, hint="add base_year: YEAR")
        if s["kind"] in ("capital_flow", "trade") and (
            s.get("origin") is None or s.get("destination") is None
        ):
            raise sc.error(f"{s['kind']} needs origin and destination", base, s)
        if (
            s["kind"] in ("turnover", "capital_flow", "trade")
            and s.get("prices") == "current"
            and sc.data["metadata"]["price_basis"] == "constant"
            and not sc.data.get("prices")
        ):
            raise sc.error(
                "a target in current money, but the scenario has no price path to "
                "convert its constant-price money",
                f"{base}.prices",
                s.get("prices", "current"),
                allowed="prices: constant here, or a price path under prices",
                hint="add prices.inflation (and prices.exchange_rate) by region, or write "
                "prices: constant if the figure is in the scenario's constant prices",
            )
    params = []
    first: dict[str, int] = {}
    for i, p in enumerate(cal["parameters"]):
        base = f"calibration.parameters[{i}]"
        if p["key"] in first:
            # Two free values for one number: the last one written would win, and the
            # report would show both as fitted.
            raise sc.error(
                f"'{p['key']}' is a free parameter twice (calibration.parameters"
                f"[{first[p['key']]}] is the first)",
                f"{base}.key",
                p["key"],
                allowed="each key once",
                hint="remove one of them (keep the bounds you mean)",
            )
        first[p["key"]] = i
        try:
            value = get_path(sc.data, p["key"])
        except (KeyError, IndexError, TypeError):
            raise sc.error(
                f"'{p['key']}' is not a key of this scenario", f"{base}.key", p["key"],
                allowed="the path of a number, e.g. trade_costs.trend[0].rate.2017",
                hint="check the path with `sim describe`",
            ) from None  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise sc.error(
                f"'{p['key']}' is not a number (it is {type(value).__name__})", f"{base}.key",
                p["key"], allowed="a number; for a distribution, one of its parameters (.mean)",
            )  # fmt: skip
        if not p["lower"] < p["upper"] or not p["lower"] <= value <= p["upper"]:
            raise sc.error(
                "the bounds must hold the current value", base, p,
                allowed=f"lower < upper and lower <= {value} <= upper",
            )  # fmt: skip
        params.append(Parameter(p["key"], float(p["lower"]), float(p["upper"]), float(value)))
    if not params:
        raise sc.error("no free parameters", "calibration.parameters", [], hint="add parameters")
    return targets, params


def _priced(name: str, spec: dict[str, Any], ds: xr.Dataset) -> str:
    # A growth ratio is compared in the basis it names too: current-money growth
    # includes inflation, constant-money growth does not.
    current = f"{name}_current"
    return current if spec.get("prices") != "constant" and current in ds else name


def model_value(target: Target, ds: xr.Dataset) -> float:
    """The mean over replicas of the target's quantity."""
    s = target.spec
    year = target.year
    if s["kind"] in ("turnover", "turnover_growth"):
        a, b = s["regions"]
        pair = f"{a}-{b}" if f"{a}-{b}" in ds.pair.values else f"{b}-{a}"
        name = _priced("trade_turnover_annual", s, ds)
        series = ds[name].sel(pair=pair).mean("replica")
        value = float(series.sel(year=year))
        if s["kind"] == "turnover_growth":
            value /= float(series.sel(year=s["base_year"]))
        return value
    if s["kind"] == "trade":
        # Exports from origin to destination over the year, all sectors.
        trade = ds[_priced("trade", s, ds)].sel(origin=s["origin"], destination=s["destination"])
        annual = trade.sum("sector").groupby("time.year").sum().sel(year=year)
        return float(annual.mean("replica"))
    if s["kind"] == "capital_flow":
        flow = ds[_priced("capital_flow_annual", s, ds)].sel(
            origin=s["origin"], destination=s["destination"], year=year
        )
        return float(flow.mean("replica"))
    if s["kind"] == "jobs":
        jobs = ds.jobs_annual.sel(year=year, region=s["regions"], kind=s["job_kinds"])
        return float(jobs.sum(("region", "kind")).mean("replica"))
    counts = ds.projects_by_stage.sel(stage=s["stage"]).sel(time=str(year))
    return float(counts.mean())


class Evaluator:
    """Run the scenario with candidate parameter values and measure the targets."""

    def __init__(self, sc: Scenario, tables: ScenarioData, params: list[Parameter],
                 targets: list[Target]) -> None:  # fmt: skip
        self.sc = sc
        self.tables = tables
        self.params = params
        self.targets = targets
        self.evaluations = 0
        last = max(t.year for t in targets)
        first = int(sc.data["time"]["start"][:4])
        if last < first:
            raise sc.error("every target lies before the simulated period", "calibration.targets",
                           last, allowed=f"years from {first}")  # fmt: skip
        self.base = copy.deepcopy(sc.data)
        # Simulating past the last target adds nothing to the objective.
        self.base["time"]["end"] = min(self.base["time"]["end"], f"{last}-12-31")
        self.base["monte_carlo"]["replicas"] = self.base["calibration"]["replicas"]
        self.base["monte_carlo"]["batch_size"] = self.base["calibration"]["replicas"]
        self.base["output"]["variables"] = []
        # Report years and held-out targets may lie past the shortened horizon; the trial
        # runs need neither (the targets are measured from self.targets).
        self.base["output"]["report_years"] = []
        self.base["calibration"]["targets"] = []
        self.base["policies"] = [
            p for p in self.base["policies"] if p["date"] <= self.base["time"]["end"]
        ]

    def scenario_with(self, x: FloatArray) -> dict[str, Any]:
        data = copy.deepcopy(self.base)
        for p, v in zip(self.params, x, strict=True):
            set_path(data, p.key, float(v))
        return data

    def values(self, x: FloatArray) -> dict[int, float]:
        from sim.api import simulate

        self.evaluations += 1
        doc = LoadedDocument(
            data=self.scenario_with(x), origins=self.sc.origins, files=self.sc.files
        )
        # The scenario was checked as written; the horizon cut to the last target would only
        # repeat its warnings about dates after the (shortened) horizon.
        with quiet_warnings():
            sc = validate_scenario(doc, path=self.sc.path, data_root=self.sc.data_root,
                                   extra_roots=self.sc.extra_roots)  # fmt: skip
        ds = simulate(build_model(sc, self.tables))
        return {t.index: model_value(t, ds) for t in self.targets}


def backtest_year(sc: Scenario, targets: list[Target]) -> tuple[int | None, str]:
    """The last year a backtest fits on, or None and the reason there is no backtest.

    ``calibration.backtest_until`` if given (it must leave targets on both sides),
    else the year before the latest target's year when some target lies at or
    before it.
    """
    cal = sc.data["calibration"]
    if not cal["backtest"]:
        return None, "no backtest: calibration.backtest is false"
    years = sorted({t.year for t in targets})
    given = cal.get("backtest_until")
    if given is not None:
        if not years[0] <= given < years[-1]:
            raise sc.error(
                "the backtest year leaves no targets to fit or none to hold out",
                "calibration.backtest_until", given,
                allowed=f"a year from {years[0]} (the first target's) to {years[-1] - 1} "
                "(before the last target's)",
                hint="choose a year inside that range, or remove the key for the default",
            )  # fmt: skip
        return int(given), ""
    year = years[-1] - 1
    if years[0] > year:
        return None, (
            f"no backtest: every target is in {years[-1]}, so none can be held out "
            "(add targets of earlier years)"
        )
    return year, ""


def calibrate(
    sc: Scenario, *, until: int | None = None, backtest: bool = True
) -> CalibrationResult:
    """Fit the scenario's free parameters to its targets (up to ``until`` if given).

    A full fit (no ``until``) is followed by its backtest, a second fit on the
    targets up to :func:`backtest_year` (``result.backtest``), unless
    ``backtest`` or ``calibration.backtest`` is false.
    """
    started = time.perf_counter()
    targets, params = _targets_and_parameters(sc)
    year, note = (None, "")
    if until is None:
        year, note = (
            backtest_year(sc, targets)
            if backtest
            else (None, "no backtest: turned off (`--no-backtest`)")
        )
    fit = [t for t in targets if until is None or t.year <= until]
    holdout = [t for t in targets if until is not None and t.year > until]
    if not fit:
        raise sc.error(f"no targets up to {until}", "calibration.targets", until,
                       hint="choose a later --until year")  # fmt: skip
    tables = load_scenario_data(sc)
    ev = Evaluator(sc, tables, params, fit if until is not None else targets)
    lower = np.array([p.lower for p in params])
    upper = np.array([p.upper for p in params])
    x0 = np.array([p.initial for p in params])

    def residuals(x: FloatArray) -> FloatArray:
        values = ev.values(x)
        return np.array([t.residual(values[t.index]) for t in fit])

    method = sc.data["calibration"]["method"]
    try:
        if method == "least_squares":
            # Stop when the cost changes by less than 1e-6 of itself (steps and gradient
            # 1e-8): the equilibrium is solved to 1e-12 and the Jacobian differenced with
            # steps of 1e-6, so its noise is about 1e-6 of a column; tighter tolerances
            # chase that noise until max_nfev (minutes).
            solution = optimize.least_squares(
                residuals, x0, bounds=(lower, upper), method="dogbox", diff_step=1e-6,
                x_scale=np.maximum(upper - lower, 1e-12), xtol=1e-8, ftol=1e-6, gtol=1e-8,
                max_nfev=200,
            )  # fmt: skip
        else:
            solution = optimize.minimize(
                lambda x: float(np.sum(residuals(x) ** 2)), x0, method="Powell",
                bounds=list(zip(lower, upper, strict=True)),
                options={"xtol": 1e-6, "ftol": 1e-10, "maxfev": 400},
            )  # fmt: skip
        fitted = solution.x
    except SimError as exc:
        raise SimError(f"the calibration stopped: a trial run failed\n{exc}") from exc
    # Final values for every target, the held-out ones included.
    final_ev = Evaluator(sc, tables, params, targets)
    values = final_ev.values(fitted)
    res = np.array([t.residual(values[t.index]) for t in fit])
    result = CalibrationResult(
        parameters=params, fitted=fitted, targets=targets, model_values=values,
        fit_indices=[t.index for t in fit], holdout_indices=[t.index for t in holdout],
        until=until, method=method, evaluations=ev.evaluations + 1,
        seconds=time.perf_counter() - started, cost=float(0.5 * np.sum(res**2)),
        optimizer_converged=bool(solution.success), optimizer_message=str(solution.message),
    )  # fmt: skip
    fit_targets = [t for t in targets if t.index in result.fit_indices]
    result.identification = check_identification(fit_targets, params, fitted, ev.values)
    if holdout:
        result.initial_values = final_ev.values(x0)
        result.evaluations += 1
    result.evaluations += len(params) + 1
    result.warnings = _warnings(sc, result)
    result.data = fitted_scenario_data(sc, params, fitted)
    result.backtest_note = note
    if year is not None:
        check = calibrate(sc, until=year)
        result.backtest = check
        result.evaluations += check.evaluations
        result.warnings += [f"backtest (fitted up to {year}): {w}" for w in check.warnings
                            if w.startswith("out of sample")]  # fmt: skip
        result.seconds = time.perf_counter() - started
    return result


def holdout_error(result: CalibrationResult, values: dict[int, float]) -> float:
    """Mean absolute weighted relative error of the held-out targets at ``values``."""
    errs = [abs(result.targets[i].error(values[i])) for i in result.holdout_indices]
    return float(np.mean(errs))


def _warnings(sc: Scenario, result: CalibrationResult) -> list[str]:
    out = []
    if not result.optimizer_converged:
        out.append(
            f"the optimizer ({result.method}) stopped before meeting its tolerances "
            f"({result.optimizer_message.rstrip('.')}): the parameters may not minimise the "
            "targets' errors; check the fit below, narrow the bounds, or drop targets the "
            "model cannot meet together"
        )
    poor = sc.data["calibration"]["poor_fit"]
    for p, v in zip(result.parameters, result.fitted, strict=True):
        span = p.upper - p.lower
        if min(v - p.lower, p.upper - v) <= 1e-6 * span:
            side = "lower" if v - p.lower <= p.upper - v else "upper"
            out.append(
                f"parameter {p.key} sits on its {side} bound ({v:.6g}): the targets want it "
                "further; widen the bound if that is plausible, or question the targets"
            )
    for t in result.targets:
        if t.index in result.fit_indices:
            r = t.error(result.model_values[t.index])
            if abs(r) > poor:
                out.append(
                    f"poor fit: {t.label} is {result.model_values[t.index]:,.6g} against "
                    f"{t.describe()} ({100 * r:+.1f} %)"
                )
    ident = result.identification
    if ident is not None:
        fit_targets = [t for t in result.targets if t.index in result.fit_indices]
        out += identification_warnings(ident, fit_targets, result.parameters)
    if result.holdout_indices and result.initial_values:
        calibrated = holdout_error(result, result.model_values)
        initial = holdout_error(result, result.initial_values)
        if calibrated > initial:
            out.append(
                f"out of sample the calibrated scenario does worse than the uncalibrated one "
                f"({100 * calibrated:.2f} % against {100 * initial:.2f} % mean absolute "
                "error on the held-out targets)"
            )
    return out


def fitted_scenario_data(
    sc: Scenario, params: list[Parameter], fitted: FloatArray
) -> dict[str, Any]:
    """A variant holding only what changed: whole top-level lists, or single mapping keys.

    Lists are replaced wholesale by ``extends``, so a parameter inside a list
    brings the whole list (with the fitted values) into the variant.
    """
    data = copy.deepcopy(sc.data)
    for p, v in zip(params, fitted, strict=True):
        set_path(data, p.key, float(v))
    variant: dict[str, Any] = {}
    for p in params:
        segs = parse_key(p.key)
        # Cut the path at its first list index: everything from the list down is copied.
        cut = next((i for i, s in enumerate(segs) if isinstance(s, int)), len(segs))
        head = segs[: max(cut, 1)] if cut < len(segs) else segs
        src: Any = data
        dst: Any = variant
        for seg in head[:-1]:
            src = src[seg]
            dst = dst.setdefault(seg, {})
        dst[head[-1]] = copy.deepcopy(src[head[-1]])
    return variant


def _calibrated_paths(out: Path) -> tuple[Path, Path]:
    """The calibrated scenario and its fit report (``NAME.fit.md`` next to it)."""
    return out, out.with_suffix(".fit.md")


def check_calibrated_output(sc: Scenario, out: Path, *, overwrite: bool = False) -> None:
    """Refuse a calibration output that is a file the calibration reads, or is not a new file.

    The calibrated scenario and its report must be none of the scenario's
    files (itself, the bases it extends, its data files), replace only a
    regular file and only with ``overwrite``, and go in a writable folder
    (:func:`sim.results.guard.check_output`).

    Raises
    ------
    OutputError
        Before anything is computed or written.
    """
    from sim.results.guard import check_output, scenario_inputs

    inputs = scenario_inputs(sc)
    for path in _calibrated_paths(Path(out)):
        check_output(path, "file", inputs=inputs, overwrite=overwrite)


def write_calibrated(
    sc: Scenario, result: CalibrationResult, out: Path, *, overwrite: bool = True
) -> tuple[Path, Path]:
    """Write the calibrated variant (extends the original) and the report next to it.

    Both are written atomically (a temporary file renamed); the outputs are
    checked first (:func:`check_calibrated_output`), so a refusal or a failed
    write leaves the previous files, if any, and no partial file.
    """
    from sim.calibration_report import format_report
    from sim.results.write import write_file

    if sc.path is None:
        raise ScenarioError("only a scenario read from a file can be extended by its calibration")
    out = Path(out)
    check_calibrated_output(sc, out, overwrite=overwrite)
    base = os.path.relpath(Path(sc.path).resolve(), out.parent.resolve())
    variant = {
        "extends": base,
        "metadata": {"name": f"{sc.name}_calibrated",
                     "title": f"{sc.data['metadata']['title'] or sc.name} (calibrated)"},
        **result.data,
    }  # fmt: skip
    out, report = _calibrated_paths(out)
    header = (
        f"# Written by `sim calibrate` from {sc.path.name}: fitted values of\n"
        + "".join(f"#   {p.key}\n" for p in result.parameters)
        + f"# Fit report: {report.name}\n"
    )
    text = header + yaml.safe_dump(variant, sort_keys=False, default_flow_style=None, width=100)
    for path, body in ((out, text), (report, format_report(sc, result))):
        write_file(path, partial(Path.write_text, data=body, encoding="utf-8"))
    return out, report


def data_outside(sc: Scenario, folder: Path) -> list[Path]:
    """Data files of ``sc`` outside ``folder``'s tree: a variant written there needs --data-root."""
    from sim.results.guard import DATA_KEYS, scenario_inputs

    root = folder.resolve()
    data = [
        Path(p) for p, what in scenario_inputs(sc).items() if any(key in what for key in DATA_KEYS)
    ]
    return [p for p in data if root not in p.resolve().parents]


__all__ = [
    "CalibrationResult",
    "backtest_year",
    "calibrate",
    "check_calibrated_output",
    "data_outside",
    "write_calibrated",
]

"""Warnings about values that are allowed but look like mistakes (percent for share,
dates outside the horizon), given once per file, key and problem.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from sim.kernels.draws import FAMILIES
from sim.scenario.scenario import Scenario

_log = logging.getLogger(__name__)
#: Warnings already given, by (file, key, problem): a scenario validated again (each
#: calibration evaluation, each sweep point) does not repeat them.
_WARNED: set[tuple[str, str, str]] = set()
#: False while warnings are silenced (:func:`quiet_warnings`).
_WARN: contextvars.ContextVar[bool] = contextvars.ContextVar("sim_scenario_warn", default=True)
#: A growth rate above this (a share per year) looks like a percent (``1.5`` for 1.5 %).
GROWTH_LOOKS_LIKE_PERCENT = 0.5
#: A tariff rate above this (a share) looks like a percent (``8`` for 8 %).
RATE_LOOKS_LIKE_PERCENT = 1.0
#: Keys of growth rates (shares per year), as paths with ``*`` for any one part.
_GROWTH_KEYS = (
    "economy.growth.*",
    "economy.sector_growth.*.*",
    "economy.productivity_growth",
    "economy.labour_force_growth",
)
#: Parameters of a distribution that are values of the quantity (not spreads or shapes).
_LOCATION_PARAMS = ("mean", "median", "low", "mode", "high")


@contextlib.contextmanager
def quiet_warnings() -> Iterator[None]:
    """Silence the scenario warnings (for scenarios rebuilt from one already checked)."""
    token = _WARN.set(False)
    try:
        yield
    finally:
        _WARN.reset(token)


def warn(sc: Scenario, problem: str, key: str, value: Any, *, assumed: str, hint: str) -> None:
    """Log a warning located like an error: file, line, key, value, what was assumed, the fix."""
    file, line = sc.where(key)
    if file is None and sc.files:
        file = sc.files[-1]
    seen = (str(file), key, problem)
    if not _WARN.get() or seen in _WARNED:
        return
    _WARNED.add(seen)
    where = f"{file}:{line}: " if file and line else f"{file}: " if file else ""
    _log.warning(
        "%s%s\n  key: %s = %r\n  assumed: %s\n  fix: %s", where, problem, key, value, assumed, hint
    )


def _numbers(value: Any, path: str) -> Iterator[tuple[str, float]]:
    """Every number of a value, series or distribution, with its key path."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield path, float(value)
    elif isinstance(value, dict) and "dist" in value:
        # The family's own parameters: a normal's low/high are truncation bounds (default
        # the key's bounds), not values the user wrote for the quantity.
        for name in (n for n in FAMILIES.get(value["dist"], ()) if n in _LOCATION_PARAMS):
            if isinstance(value.get(name), (int, float)) and not isinstance(value[name], bool):
                yield f"{path}.{name}", float(value[name])
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")


def _paths(data: Any, pattern: str) -> Iterator[tuple[str, Any]]:
    """(path, value) of every key of ``data`` matching ``pattern`` (``*`` = any one key)."""
    found: list[tuple[str, Any]] = [("", data)]
    for part in pattern.split("."):
        found = [
            (f"{path}.{key}" if path else str(key), child)
            for path, value in found
            if isinstance(value, dict)
            for key, child in value.items()
            if part in ("*", key)
        ]
    yield from found


def check_percent_like(sc: Scenario) -> None:
    """Growth above 0.5 a year or a tariff above 1 was probably written as a percent."""
    for pattern in _GROWTH_KEYS:
        for path, value in _paths(sc.data, pattern):
            for key, number in _numbers(value, path):
                if number > GROWTH_LOOKS_LIKE_PERCENT:
                    warn(sc, f"growth rate {number:g} looks like a percent", key, number,
                         assumed=f"a share per year: {number:g} = {number:.0%} a year",
                         hint=f"write rates as shares: {number / 100:g} for {number:g} %")  # fmt: skip
    for i, other in enumerate(sc.data["investment"]["other"]):
        number = other.get("growth_after")
        if isinstance(number, (int, float)) and number > GROWTH_LOOKS_LIKE_PERCENT:
            warn(sc, f"growth rate {number:g} looks like a percent",
                 f"investment.other[{i}].growth_after", number,
                 assumed=f"a share per year: {number:g} = {number:.0%} a year",
                 hint=f"write rates as shares: {number / 100:g} for {number:g} %")  # fmt: skip
    rates = [
        (f"trade_costs.tariffs[{i}].rate", rule["rate"])
        for i, rule in enumerate(sc.data["trade_costs"]["tariffs"])
    ] + [
        (f"policies[{i}].value", p["value"])
        for i, p in enumerate(sc.data["policies"])
        if p["kind"] == "tariff"
    ]
    for key, number in rates:
        if isinstance(number, (int, float)) and number > RATE_LOOKS_LIKE_PERCENT:
            warn(sc, f"tariff rate {number:g} looks like a percent", key, number,
                 assumed=f"an ad valorem share: {number:g} = {number:.0%} of the price",
                 hint=f"write rates as shares: {number / 100:g} for {number:g} %")  # fmt: skip


def _period_start(start: str, step: str) -> str:
    day = dt.date.fromisoformat(start).replace(day=1)
    month = 1 if step == "year" else (day.month - 1) // 3 * 3 + 1
    return day.replace(month=month).isoformat()


def check_period_start(sc: Scenario) -> None:
    """A time.start inside a period is moved to the period's first day: say so."""
    t = sc.data["time"]
    first = _period_start(t["start"], t["step"])
    if first != t["start"]:
        step = "a year" if t["step"] == "year" else "a quarter"
        warn(sc, f"time.start {t['start']} is not the first day of {step}", "time.start",
             t["start"], assumed=f"the simulation starts on {first}, the first day of its {step} "
             f"(time.step: {t['step']})",
             hint=f"write time.start: {first}, or time.step: quarter for a start within a year"
             if t["step"] == "year" else f"write time.start: {first}")  # fmt: skip


def check_after_horizon(sc: Scenario) -> None:
    """Projects and portfolios announced after time.end never appear in the results."""
    end = sc.data["time"]["end"]
    inv = sc.data["investment"]
    for i, p in enumerate(inv["projects"]):
        if p.get("announced") and p["announced"] > end:
            warn(sc, "project announced after the simulated period",
                 f"investment.projects[{i}].announced", p["announced"],
                 assumed=f"project '{p['id']}' never appears (the simulation ends {end})",
                 hint="move the date before time.end, extend time.end, or remove the project")  # fmt: skip
    for i, g in enumerate(inv["portfolios"]):
        if not g.get("announced"):
            continue
        first, last = g["announced"]
        if last > end:
            part = "all" if first > end else "part"
            warn(sc, f"portfolio announced {'after' if first > end else 'partly after'} the "
                 "simulated period", f"investment.portfolios[{i}].announced", g["announced"],
                 assumed=f"{part} of portfolio '{g['id']}' never appears (the simulation ends "
                 f"{end})", hint="move the announcements before time.end or extend time.end")  # fmt: skip


def _horizon_years(sc: Scenario) -> tuple[int, int]:
    t = sc.data["time"]
    return int(t["start"][:4]), int(t["end"][:4])


def _whole_years(sc: Scenario) -> tuple[int, int]:
    """The first and last calendar years whose every period the run simulates (the last
    may be before the first: no whole year)."""
    t = sc.data["time"]
    first = dt.date.fromisoformat(_period_start(t["start"], t["step"]))
    end = dt.date.fromisoformat(t["end"])
    # The year's last period starts in October (quarters) or January (years).
    last_start = dt.date(end.year, 10 if t["step"] == "quarter" else 1, 1)
    return (
        first.year if first.month == 1 else first.year + 1,
        end.year if end >= last_start else end.year - 1,
    )


#: Calibration targets that are sums over a year (a year simulated in part has none).
_ANNUAL_SUM_TARGETS = ("turnover", "turnover_growth", "trade", "capital_flow")


def check_years_in_horizon(sc: Scenario) -> None:
    """Report years and calibration targets fall inside the simulated years."""
    first, last = _horizon_years(sc)
    allowed = f"years {first} to {last} (time.start to time.end)"
    for i, year in enumerate(sc.data["output"]["report_years"]):
        if not first <= year <= last:
            raise sc.error(
                "report year outside the simulated period",
                f"output.report_years[{i}]",
                year,
                allowed=allowed,
                hint="choose years inside the period, or extend time.start or time.end",
            )
    whole_first, whole_last = _whole_years(sc)
    whole = f"years {whole_first} to {whole_last}, which the run simulates whole"
    for i, year in enumerate(sc.data["output"]["report_years"]):
        if not whole_first <= year <= whole_last:
            warn(sc, f"report year {year} is simulated in part", f"output.report_years[{i}]",
                 year, assumed="its annual sums (trade turnover, capital flows) are shown as "
                 "n/a: part of a year's flow is not the year's",
                 hint=f"report {whole}")  # fmt: skip
    for i, target in enumerate(sc.data["calibration"]["targets"]):
        for name in ("year", "base_year"):
            year = target.get(name)
            if year is not None and not first <= year <= last:
                raise sc.error(
                    f"calibration target {name} outside the simulated period",
                    f"calibration.targets[{i}].{name}",
                    year,
                    allowed=allowed,
                    hint="extend time.start or time.end to include it, or remove the target",
                )
            if (
                year is not None
                and target.get("kind") in _ANNUAL_SUM_TARGETS
                and not whole_first <= year <= whole_last
            ):
                raise sc.error(
                    f"calibration target {name} {year} is a year the run simulates in part "
                    f"(time.start {sc.data['time']['start']}, time.end {sc.data['time']['end']}"
                    "): the model has no annual total for it to compare",
                    f"calibration.targets[{i}].{name}",
                    year,
                    allowed=whole,
                    hint="start the run on 1 January of the year, end it on 31 December, or "
                    "choose another year",
                )

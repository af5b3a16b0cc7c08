"""Validate a loaded scenario document against the schema and fill in defaults.

:func:`validate_scenario` walks the document with the schema tree
(:mod:`sim.scenario.walk`, along :mod:`sim.scenario.schema`), then runs the named
``check_*`` functions for the rules that span several keys (:mod:`sim.scenario.checks`)
and the warnings about values that look like mistakes (:mod:`sim.scenario.hints`); it
returns a :class:`~sim.scenario.scenario.Scenario`. Every problem raises a
:class:`~sim.errors.ScenarioError` naming the file, line, key and value, what
is allowed and how to fix it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.scenario.checks import (
    check_gravity,
    check_ids_unique,
    check_input_output,
    check_investment,
    check_labour,
    check_migration,
    check_output,
    check_policies,
    check_prices,
    check_regions_complete,
    check_shares,
    check_time,
    check_trade,
    region_setting,
)
from sim.scenario.hints import (
    check_after_horizon,
    check_percent_like,
    check_period_start,
    check_years_in_horizon,
    quiet_warnings,
)
from sim.scenario.load import LoadedDocument
from sim.scenario.scenario import Scenario
from sim.scenario.schema import load_schema, split_path
from sim.scenario.walk import Walker

#: What the calendar engine (sim run) needs beyond a trade-only counterfactual, and why.
RUN_INPUTS = {
    "economy.growth": "the growth path (0 for none)",
    "economy.wage": "wages and migration",
    "economy.employment": "jobs and employment in persons",
    "input_output": "indirect and induced jobs (coefficients or mrio)",
    "input_output.investment_mix": "the goods that project capex buys",
}


def missing_run_inputs(sc: Scenario) -> list[str]:
    """Keys :data:`RUN_INPUTS` that the scenario leaves out."""
    econ, io = sc.data["economy"], sc.data["input_output"]
    given = {
        "economy.growth": bool(econ.get("growth")),
        "economy.wage": bool(econ.get("wage")),
        "economy.employment": bool(econ.get("employment")),
        "input_output": "coefficients" in io or "mrio" in io,
        "input_output.investment_mix": bool(io.get("investment_mix"))
        or not (sc.data["investment"].get("projects") or sc.data["investment"].get("portfolios")),
    }
    return [key for key, ok in given.items() if not ok]


def check_run_inputs(sc: Scenario) -> None:
    """The calendar engine needs wages, employment and an input-output table."""
    missing = missing_run_inputs(sc)
    if missing:
        key = missing[0]
        raise sc.error(
            f"sim run needs {', '.join(missing)}, which this scenario does not give "
            f"({key}: {RUN_INPUTS[key]})",
            key,
            None,
            allowed="a trade-only scenario (no wages, employment or input-output table) "
            "with sim counterfactual; a full scenario with sim run",
            hint=f"add {key} (docs/scenarios.md), or run sim counterfactual",
        )


CHECKS: tuple[Callable[[Scenario], None], ...] = (
    check_ids_unique,
    check_time,
    check_prices,
    check_trade,
    check_investment,
    check_input_output,
    check_shares,
    check_regions_complete,
    check_labour,
    check_migration,
    check_gravity,
    check_policies,
    check_output,
    check_years_in_horizon,
    check_percent_like,
    check_period_start,
    check_after_horizon,
)


def validate_value(key: str, value: Any, *, origin: str = "<override>") -> Any:
    """Check one value against the schema's ``key`` as if it were written in a file.

    For values that reach the engine without passing through a scenario
    document (a command-line ``--batch-size``): the same types and bounds as
    in a file, and the same error, located at ``origin``.

    Raises
    ------
    ScenarioError
        If the value is not allowed for ``key``.
    """
    schema = load_schema()
    for part in split_path(key):
        schema = schema.children[part]
    sc = Scenario(data={}, origins={key: (origin, 0)}, files=[], path=None, data_root=Path.cwd())
    return Walker(sc).node(schema, value, key)


def validate_scenario(
    document: LoadedDocument,
    *,
    path: Path | None = None,
    data_root: Path | None = None,
    extra_roots: list[Path] | None = None,
) -> Scenario:
    """Validate a loaded document and return a :class:`Scenario` with defaults filled.

    Raises
    ------
    ScenarioError
        On the first problem found.
    """
    data = copy.deepcopy(document.data)
    data.pop("extends", None)
    root = data_root or (path.parent if path else Path.cwd())
    # Data files are read from the scenario's own folder tree and the folders the user
    # allowed (--data-root), never from wherever an extends base lies: a base elsewhere
    # would otherwise open its whole folder to the scenario. A base inside an allowed
    # folder reads the data next to it, since that data lies inside the folder too.
    sc = Scenario(
        data=data,
        origins=dict(document.origins),
        files=list(document.files),
        path=path,
        data_root=root,
        extra_roots=list(extra_roots or []),
    )
    if sum(key in data for key in ("scenario", "design", "parameters")) >= 2:
        # Its keys would each be "unknown" to a scenario, with the hint to remove them.
        raise sc.error(
            "this is a sweep file (scenario, design, parameters), not a scenario",
            "scenario",
            data.get("scenario"),
            allowed="a scenario file here; a sweep file with `sim sweep` or `sim validate`",
            hint="run `sim sweep` on it (or `sim validate` to check it), or give the "
            "scenario it names",
        )
    Walker(sc).run()
    for check in CHECKS:
        check(sc)
    return sc


__all__ = [
    "CHECKS",
    "RUN_INPUTS",
    "Scenario",
    "check_run_inputs",
    "missing_run_inputs",
    "quiet_warnings",
    "region_setting",
    "validate_scenario",
    "validate_value",
]

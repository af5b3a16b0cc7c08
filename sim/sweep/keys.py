"""Check that a swept key path names a real number of the base scenario.

Validated scenarios hold real-valued settings as ``float`` and whole-number
settings (counts, seeds, iteration budgets) as ``int``; only the former can be
swept, since the latter change shapes or the random streams. A key that does
not exist gets a "did you mean" from the scenario's own numeric key paths.
"""

from __future__ import annotations

import difflib
from typing import Any

from sim.errors import ScenarioError
from sim.scenario.keypath import get_path, parse_key
from sim.scenario.load import LoadedDocument, get_origin
from sim.scenario.validate import Scenario

#: Sections whose numbers do not change what a run computes.
INERT_SECTIONS = ("calibration", "monte_carlo", "output", "metadata")


def error_at(
    doc: LoadedDocument, problem: str, key: str, value: Any = None, **kwargs: Any
) -> ScenarioError:
    """A ScenarioError located at ``key`` of a sweep file (its line, or its parent's)."""
    file, line = get_origin(doc, key)
    return ScenarioError(
        problem, file=file or doc.files[-1], line=line, key=key, value=value, **kwargs
    )


def numeric_paths(data: Any, prefix: str = "") -> list[str]:
    """Every key path of ``data`` whose value is a real number (for "did you mean")."""
    out: list[str] = []
    stack: list[tuple[str, Any]] = [(prefix, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, float):
            out.append(path)
    return sorted(out)


def check_key(sweep_doc: LoadedDocument, key: str, where: str, sc: Scenario) -> None:
    """Raise a sweep-file error at ``where`` unless ``key`` names a real number of ``sc``.

    Validated scenarios hold real-valued settings as ``float`` and whole-number
    settings (counts, seeds, iteration budgets) as ``int``; only the former can
    be swept, since the latter change shapes or the random streams.
    """
    scenario_file = str(sc.path or sc.files[-1])
    example = "trade.elasticity.<sector>, economy.growth.<region>, trade_costs.trend[0].rate.2020"
    segments = parse_key(key)
    if not segments or any(str(s).strip() != str(s) or not str(s) for s in segments):
        raise error_at(sweep_doc, "not a key path", where, key, allowed=f"e.g. {example}")
    if segments[0] in INERT_SECTIONS:
        raise error_at(
            sweep_doc,
            f"'{segments[0]}' settings do not change what a run computes; they cannot be swept",
            where,
            key,
            allowed="a number under economy, trade, trade_costs, investment, input_output, "
            "labour or policies",
            hint="set replicas and seed at the top of the sweep file",
        )
    try:
        value = get_path(sc.data, key)
    except (KeyError, IndexError, TypeError):
        close = difflib.get_close_matches(key, numeric_paths(sc.data), n=1, cutoff=0.6)
        raise error_at(
            sweep_doc,
            f"'{key}' is not a key of the scenario {scenario_file}",
            where,
            key,
            allowed=f"the key path of a number in the resolved scenario, e.g. {example}",
            hint=(f"did you mean '{close[0]}'? " if close else "")
            + f"`sim describe {scenario_file}` prints the resolved scenario",
        ) from None
    if isinstance(value, dict):
        inner = "mean" if "dist" in value else next(iter(value), "<name>")
        what = "a distribution" if "dist" in value else "a mapping"
        raise error_at(
            sweep_doc,
            f"'{key}' is {what}, not a number",
            where,
            key,
            allowed="the key path of a single number",
            hint=f"name one of its numbers, e.g. {key}.{inner}",
        )
    if isinstance(value, list):
        raise error_at(
            sweep_doc, f"'{key}' is a list, not a number", where, key,
            allowed="the key path of a single number", hint=f"add an index, e.g. {key}[0]",
        )  # fmt: skip
    if isinstance(value, int) and not isinstance(value, bool):
        raise error_at(
            sweep_doc,
            f"'{key}' is a whole-number setting (it is {value}); it changes the model's "
            "shape or iteration budget, not a parameter",
            where,
            key,
            allowed="the key path of a real-valued parameter",
            hint="run one sweep per value of this setting",
        )
    if not isinstance(value, float):
        raise error_at(
            sweep_doc,
            f"'{key}' is not a number (it is {type(value).__name__} {value!r})",
            where,
            key,
            allowed="the key path of a real-valued parameter",
        )


__all__ = ["check_key", "error_at", "numeric_paths"]

"""What one scenario changes against another, in words an economist reads.

:func:`scenario_diff` compares two resolved scenarios (the dictionaries
embedded in runs, :func:`sim.analysis.results.scenario_data`) and returns one
line per key path whose value differs, was added or was removed. Lists of
items are matched by their ``id`` (projects, portfolios, targets, regions), else
by their ``description`` (policies), else by position; an added or removed
policy, project or portfolio is described with its dates. Distributions are
written as the scenario states them, e.g. ``uniform 0.25-1.0`` or
``beta(6, 4)``.

The helpers that write values, flows and policies (:func:`describe_value`,
:func:`describe_flows`, :func:`describe_policy`) are shared with the report's
scenario section.

Examples
--------
>>> scenario_diff({"policies": []}, {"policies": [{"date": "2026-01-01",
...     "kind": "border_days", "origin": ["UZ"], "destination": ["KZ"],
...     "symmetric": True, "value": {"dist": "uniform", "low": 0.25, "high": 1.0},
...     "description": "centre opens"}]})
["policies: added 'centre opens' (2026-01-01, border_days UZ<->KZ, uniform 0.25-1.0 days)"]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: Longest rendering of a whole section or list before it is cut with "...".
WIDTH = 160

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: A string written bare inside a list (an id: region, sector, kind).
_WORD = re.compile(r"^[\w.\-]+$")


def format_number(x: float) -> str:
    """A number as short as it reads: ``6`` for 6.0, ``0.25``, ``120,000`` for large ones."""
    if isinstance(x, bool):
        return "true" if x else "false"
    v = float(x)
    if v != v:
        return "n/a"
    if v.is_integer() and abs(v) >= 1e3:
        return f"{v:,.0f}"
    return f"{v:g}"


def _bound(x: float) -> str:
    """A distribution's bound with at least one decimal (``1.0``, ``0.25``)."""
    v = float(x)
    return f"{v:.1f}" if v.is_integer() and abs(v) < 1e4 else format_number(v)


def _span(low: float, high: float) -> str:
    sep = "-" if float(low) >= 0 and float(high) >= 0 else " to "
    return f"{_bound(low)}{sep}{_bound(high)}"


def describe_distribution(d: Mapping[str, Any]) -> str:
    """A distribution of the scenario in words: ``uniform 0.25-1.0``, ``beta(6, 4)``.

    Parameters
    ----------
    d
        A mapping with key ``dist`` (normal, lognormal, uniform, triangular, beta)
        and its parameters, optionally ``low`` and ``high`` (truncation).

    Returns
    -------
    str
        The family and its parameters; a truncation is written after them.
    """
    family = str(d.get("dist"))
    low, high = d.get("low"), d.get("high")
    if family == "lognormal" and low is not None and float(low) <= 0:
        low = None  # a lognormal is positive: a lower bound of zero says nothing
    if family == "uniform" and low is not None and high is not None:
        return f"uniform {_span(low, high)}"
    if family == "triangular" and low is not None and high is not None:
        return f"triangular {_span(low, high)}, mode {format_number(d.get('mode', float('nan')))}"
    params = {"normal": ("mean", "sd"), "lognormal": ("median", "sigma"), "beta": ("a", "b")}
    names = params.get(family)
    if names is None:  # an unknown family: every key, as written
        inner = ", ".join(f"{k} {describe_value(v)}" for k, v in d.items() if k != "dist")
        return f"{family}({inner})"
    if family == "beta":
        inner = ", ".join(format_number(d.get(k, float("nan"))) for k in names)
    else:
        inner = ", ".join(f"{k} {format_number(d.get(k, float('nan')))}" for k in names)
    text = f"{family}({inner})"
    if low is not None and high is not None:
        text += f" within {_span(low, high)}"
    elif low is not None:
        text += f" at least {format_number(low)}"
    elif high is not None:
        text += f" at most {format_number(high)}"
    return text


def is_distribution(value: Any) -> bool:
    """Whether ``value`` is a distribution of the scenario (a mapping with ``dist``)."""
    return isinstance(value, Mapping) and "dist" in value


def _cut(text: str) -> str:
    return text if len(text) <= WIDTH else text[: WIDTH - 3] + "..."


def describe_value(value: Any) -> str:
    """Any scenario value in words: numbers short, dates bare, other strings quoted,
    distributions by family, lists (ids bare) and sections compact (cut past :data:`WIDTH`)."""
    if value is None:
        return "none"
    if isinstance(value, (bool, int, float)):
        return format_number(value)
    if isinstance(value, str):
        return value if _DATE.match(value) else f"'{value}'"
    if is_distribution(value):
        return describe_distribution(value)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{k}: {describe_value(v)}" for k, v in value.items())
        return _cut(f"{{{inner}}}")
    if isinstance(value, Sequence):
        bare = [v if isinstance(v, str) and _WORD.match(v) else describe_value(v) for v in value]
        return _cut("[" + ", ".join(bare) + "]")
    return _cut(str(value))


def _regions(value: Any) -> str:
    if value is None or value == "all":
        return "all"
    if isinstance(value, str):
        return value
    return "+".join(str(v) for v in value) if value else "none"


def describe_flows(origin: Any, destination: Any, symmetric: bool = True) -> str:
    """Flows a rule concerns: ``UZ<->KZ`` (both directions) or ``UZ+KZ->ROW``."""
    arrow = "<->" if symmetric else "->"
    return f"{_regions(origin)}{arrow}{_regions(destination)}"


def policy_value(p: Mapping[str, Any]) -> str:
    """A policy's value with what it sets, by kind: ``uniform 0.25-1.0 days``."""
    v = describe_value(p.get("value"))
    kind = p.get("kind")
    if kind == "border_days":
        return f"{v} days"
    if kind == "trade_cost":
        return f"costs x {v}"
    if kind == "tariff":
        return f"tariff rate {v}"
    if kind == "migration_cap":
        return f"cap {v} persons per year"
    if kind == "covariate":
        return f"{p.get('covariate', 'covariate')} changes by {v}"
    return v


def policy_label(p: Mapping[str, Any]) -> str:
    """A policy's name: its description, else its kind."""
    return str(p.get("description") or p.get("kind") or "policy")


def describe_policy(p: Mapping[str, Any], sectors: Sequence[str] = ()) -> str:
    """A policy in one phrase, with its date, kind, flows, sectors and value.

    Parameters
    ----------
    p
        One item of the scenario's ``policies``.
    sectors
        The scenario's sectors: the policy's sectors are named only where it
        concerns fewer of them.

    Returns
    -------
    str
        E.g. ``'centre opens' (2026-01-01, border_days UZ<->KZ, uniform 0.25-1.0 days)``.
    """
    parts = [
        str(p.get("date", "?")),
        f"{p.get('kind', '?')} "
        + describe_flows(p.get("origin"), p.get("destination"), bool(p.get("symmetric", True))),
    ]
    own: Any = p.get("sectors")
    own_list = isinstance(own, Sequence) and not isinstance(own, str) and bool(own)
    if own_list and (not sectors or set(map(str, own)) != set(sectors)):
        parts.append("sectors " + ", ".join(map(str, own)))
    parts.append(policy_value(p))
    return f"'{policy_label(p)}' ({', '.join(parts)})"


def _describe_project(p: Mapping[str, Any]) -> str:
    where = f"{p.get('sector', '?')} in {p.get('host', '?')}"
    if p.get("investor"):
        where += f" from {p['investor']}"
    capex = describe_value(p.get("capex"))
    dates = [
        f"{k} {p[k]}" for k in ("announced", "financed", "construction", "operating") if p.get(k)
    ]
    return f"'{p.get('id', '?')}' ({', '.join([where, f'capex {capex}', *dates])})"


def _describe_portfolio(p: Mapping[str, Any]) -> str:
    parts = [
        f"{format_number(p.get('count', 0))} projects in {p.get('host', '?')}",
        f"capex {describe_value(p.get('capex_total'))} in all",
    ]
    announced = p.get("announced")
    if isinstance(announced, Sequence) and not isinstance(announced, str) and len(announced) == 2:
        parts.append(f"announced {announced[0]} to {announced[1]}")
    elif announced:
        parts.append(f"announced {announced}")
    if p.get("stage"):
        parts.append(f"stage {p['stage']}")
    return f"'{p.get('id', '?')}' ({', '.join(parts)})"


def describe_target(t: Mapping[str, Any]) -> str:
    """A calibration target: its id, kind, year and observed value or bounds."""
    seen = [
        f"{word}{format_number(t[k])}"
        for k, word in (("value", ""), ("lower", "at least "), ("upper", "at most "))
        if t.get(k) is not None
    ]
    return f"'{t.get('id', '?')}' ({t.get('kind', '?')} {t.get('year', '?')}: {', '.join(seen)})"


def _describe_item(path: str, item: Any, sectors: Sequence[str]) -> str:
    describers: dict[str, Callable[[Mapping[str, Any]], str]] = {
        "policies": lambda p: describe_policy(p, sectors),
        "investment.projects": _describe_project,
        "investment.portfolios": _describe_portfolio,
        "calibration.targets": describe_target,
    }
    if isinstance(item, Mapping):
        if path in describers:
            return describers[path](item)
        if "id" in item:
            rest = {k: v for k, v in item.items() if k != "id"}
            return f"'{item['id']}'" + (f" {describe_value(rest)}" if rest else "")
    return describe_value(item)


def _keyed(items: Sequence[Any]) -> tuple[str, list[str]] | None:
    """The key matching items of a list (``id``, else ``description``) and its values."""
    if not items or not all(isinstance(i, Mapping) for i in items):
        return None
    for key in ("id", "description"):
        keys = [str(i.get(key) or "") for i in items]
        if all(keys) and len(set(keys)) == len(keys):
            return key, keys
    return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _diff(path: str, a: Any, b: Any, sectors: Sequence[str], out: list[str]) -> None:
    if a == b:
        return
    if (
        isinstance(a, Mapping)
        and isinstance(b, Mapping)
        and not is_distribution(a)
        and not is_distribution(b)
    ):
        for k in a:
            if k in b:
                _diff(_join(path, str(k)), a[k], b[k], sectors, out)
            else:
                out.append(f"{_join(path, str(k))}: removed (was {describe_value(a[k])})")
        for k in b:
            if k not in a:
                out.append(f"{_join(path, str(k))}: added {describe_value(b[k])}")
        return
    lists = [isinstance(x, Sequence) and not isinstance(x, str) for x in (a, b)]
    if all(lists) and any(isinstance(i, Mapping) for i in [*a, *b]):
        _diff_items(path, a, b, sectors, out)
        return
    out.append(f"{path}: {describe_value(a)} -> {describe_value(b)}")


def _diff_items(
    path: str, a: Sequence[Any], b: Sequence[Any], sectors: Sequence[str], out: list[str]
) -> None:
    ka, kb = _keyed(a), _keyed(b)
    if ka is not None and kb is not None and ka[0] == kb[0]:
        old = dict(zip(ka[1], a, strict=True))
        new = dict(zip(kb[1], b, strict=True))
        for k, item in old.items():
            if k in new:
                date = f" ({item['date']})" if path == "policies" and item.get("date") else ""
                _diff(f"{path}['{k}'{date}]", item, new[k], sectors, out)
            else:
                out.append(f"{path}: removed {_describe_item(path, item, sectors)}")
        for k, item in new.items():
            if k not in old:
                out.append(f"{path}: added {_describe_item(path, item, sectors)}")
        return
    for i in range(min(len(a), len(b))):
        _diff(f"{path}[{i}]", a[i], b[i], sectors, out)
    for i in range(len(b), len(a)):
        out.append(f"{path}: removed item {i} {_describe_item(path, a[i], sectors)}")
    for i in range(len(a), len(b)):
        out.append(f"{path}: added {_describe_item(path, b[i], sectors)}")


def _sector_ids(data: Mapping[str, Any]) -> list[str]:
    sectors = data.get("sectors") or []
    return [str(s.get("id") if isinstance(s, Mapping) else s) for s in sectors]


def scenario_diff(base: Mapping[str, Any], variant: Mapping[str, Any]) -> list[str]:
    """Every key path whose value differs between two scenarios, in words.

    Parameters
    ----------
    base, variant
        Resolved scenarios (plain dictionaries, as
        :func:`sim.analysis.results.scenario_data` returns them).

    Returns
    -------
    list of str
        One line per changed, added or removed key path, in the order of the
        base's keys and then the variant's new ones: ``path: old -> new``,
        ``path: added ...`` or ``path: removed ...``. Items of lists are
        matched by ``id``, else by ``description``, else by position, and
        named in the path (``policies['centre opens'].value``). Empty when the
        scenarios are equal.

    Examples
    --------
    >>> scenario_diff({"a": {"odds": 0.3}}, {"a": {"odds": {"dist": "beta", "a": 6, "b": 4}}})
    ['a.odds: 0.3 -> beta(6, 4)']
    """
    out: list[str] = []
    _diff("", base, variant, _sector_ids(variant) or _sector_ids(base), out)
    return out


__all__ = [
    "describe_distribution",
    "describe_flows",
    "describe_policy",
    "describe_target",
    "describe_value",
    "format_number",
    "is_distribution",
    "policy_label",
    "policy_value",
    "scenario_diff",
]

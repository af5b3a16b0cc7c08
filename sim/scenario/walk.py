"""Walk a scenario document along the schema: types, ranges, patterns, defaults.

The first pass of :func:`sim.scenario.validate.validate_scenario`: every key is checked
against its row of ``schema.yaml`` (type, unit, range, allowed values) and missing keys
get their defaults. Rules that span several keys are in :mod:`sim.scenario.checks`.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import math
import re
from typing import Any

import numpy as np

from sim.errors import ScenarioError
from sim.kernels.draws import FAMILIES
from sim.scenario.scenario import Scenario
from sim.scenario.schema import LIST_ITEM, PATTERNS, Key, load_schema

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Joins origin and destination in pair labels (``UZ-KZ``), so a region id may not contain it.
PAIR_SEPARATOR = "-"
_REGION_ID_PATH = re.compile(r"^regions\[\d+\]\.id$")
#: Control characters (C0, DEL, C1) other than tab and newline: HDF5 attributes refuse NUL,
#: and none of them belongs in a name, a title or a path.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


#: Keys that earlier versions read, and what replaced them (the fix of an "unknown key").
REMOVED_KEYS = {
    "input_output.labour_income_share": "remove the key: labour income is now jobs times "
    "economy.wage, the same basis for plants and suppliers (docs/model.md s.5)",
}


def _fmt_path(parent: str, child: str) -> str:
    if child.startswith("["):
        return f"{parent}{child}"
    return f"{parent}.{child}" if parent else child


class Walker:
    """Walk the document along the schema, coercing values and filling defaults."""

    def __init__(self, scenario: Scenario) -> None:
        self.sc = scenario
        self.regions: list[str] = []
        self.sectors: list[str] = []

    def fail(self, problem: str, path: str, value: Any = None, **kw: Any) -> ScenarioError:
        return self.sc.error(problem, path, value, **kw)

    # -- entry -------------------------------------------------------------------------------
    def run(self) -> None:
        root = load_schema()
        data = self.sc.data
        for list_key, target in (("regions", self.regions), ("sectors", self.sectors)):
            items = data.get(list_key)
            if isinstance(items, list):
                for i, item in enumerate(items):
                    id_path = f"{list_key}[{i}]"
                    if isinstance(item, dict) and "id" in item:
                        id_path, item_id = f"{id_path}.id", item["id"]
                    else:
                        item_id = item
                    self.refuse_boolean(item_id, list_key[:-1], id_path)
                    if isinstance(item, dict) and isinstance(item.get("id"), str):
                        target.append(item["id"])
                    elif isinstance(item, str):
                        # Shorthand: a bare id.
                        items[i] = {"id": item}
                        target.append(item)
        self.section(root, data, "")

    # -- structure ---------------------------------------------------------------------------
    def section(self, schema: Key, value: dict[str, Any], path: str) -> None:
        for name in list(value):
            if name not in schema.children:
                known = [k for k in schema.children if k not in PATTERNS and k != LIST_ITEM]
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean '{close[0]}'?" if close else "remove the key"
                hint = REMOVED_KEYS.get(_fmt_path(path, name), hint)
                raise self.fail(
                    f"unknown key '{name}'",
                    _fmt_path(path, name),
                    value[name],
                    allowed=", ".join(known) or "no keys",
                    hint=hint,
                    show_value=False,
                )
        for name, child in schema.children.items():
            child_path = _fmt_path(path, name)
            if name not in value or value[name] is None:
                if child.required:
                    raise self.fail(
                        f"required key '{name}' is missing",
                        child_path if name in value else path or child_path,
                        allowed=child.description,
                        hint=f"add '{name}:' under '{path or 'the top level'}'",
                    )
                if child.has_default:
                    value[name] = copy.deepcopy(child.default)
                else:
                    value.pop(name, None)
                    continue
            value[name] = self.node(child, value[name], child_path)

    def node(self, schema: Key, value: Any, path: str) -> Any:
        kind = schema.type
        if kind == "section":
            if not isinstance(value, dict):
                raise self.fail("expected a mapping", path, value, allowed=schema.description)
            self.section(schema, value, path)
            return value
        if kind == "map":
            return self.mapping(schema, value, path)
        if kind == "list":
            if not isinstance(value, list):
                raise self.fail("expected a list", path, value, allowed=schema.description)
            item = schema.children.get(LIST_ITEM)
            if item is not None:
                return [self.node(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
            return value
        if (
            kind in ("number", "fixed", "enum")
            and schema.by
            and isinstance(value, dict)
            and "dist" not in value
        ):
            ids = self.regions if schema.by == "region" else self.sectors
            out = {}
            for key, sub in value.items():
                self.check_id_in(key, ids, schema.by, f"{path}.{key}")
                out[str(key)] = (
                    self.scalar(schema, sub, f"{path}.{key}")
                    if kind == "enum"
                    else self.number(schema, sub, f"{path}.{key}", allow_dist=kind == "number")
                )
            missing = [i for i in ids if i not in out]
            if missing:
                raise self.fail(
                    f"no value for {', '.join(missing)}",
                    path,
                    value,
                    allowed=f"one value per {schema.by}, or a single number for all",
                    hint=f"add {missing[0]}: ...",
                )
            return out
        if kind in ("number", "fixed"):
            return self.number(schema, value, path, allow_dist=kind == "number")
        if kind == "series":
            if isinstance(value, dict) and "dist" not in value:
                out = {}
                written: dict[int, Any] = {}
                for key, sub in value.items():
                    year = self.year(key, f"{path}.{key}")
                    if year in written:
                        # `2024` and '2024 ' (or '+2024') are one year: the later would win.
                        _, first_line = self.sc.where(f"{path}.{written[year]}")
                        raise self.fail(
                            f"year {year} is written twice in this series, as "
                            f"{written[year]!r}{f' (line {first_line})' if first_line else ''} "
                            f"and as {key!r}",
                            f"{path}.{key}",
                            key,
                            allowed="each year once",
                            hint=f"keep one of the two values for {year} and remove the other",
                        )
                    written[year] = key
                    out[str(year)] = self.number(schema, sub, f"{path}.{key}", allow_dist=True)
                if not out:
                    raise self.fail("empty series", path, value, allowed="year: value pairs")
                return dict(sorted(out.items()))
            return self.number(schema, value, path, allow_dist=True)
        return self.scalar(schema, value, path)

    def mapping(self, schema: Key, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail("expected a mapping", path, value, allowed=schema.description)
        child = schema.pattern_child()
        assert child is not None, f"schema: map {schema.path} has no pattern child"
        pattern = child.name
        out: dict[str, Any] = {}
        for key, sub in value.items():
            if pattern in ("<region>", "<sector>"):
                self.refuse_boolean(key, pattern[1:-1], _fmt_path(path, str(key)))
            key = str(key)
            sub_path = _fmt_path(path, key)
            if pattern == "<region>":
                self.check_id_in(key, self.regions, "region", sub_path)
            elif pattern == "<sector>":
                self.check_id_in(key, self.sectors, "sector", sub_path)
            elif pattern == "<name>" and (not key.strip() or "." in key or "[" in key):
                raise self.fail(
                    "invalid name", sub_path, key, allowed="a non-empty name without '.' or '['"
                )
            out[key] = self.node(child, sub, sub_path)
        return out

    # -- leaves ------------------------------------------------------------------------------
    def refuse_boolean(self, value: Any, what: str, path: str) -> None:
        """Refuse an id that YAML 1.1 read as a boolean (``NO`` for Norway, ``on``, ``yes``)."""
        if isinstance(value, bool):
            name = f"a {what} id" if what else "an id"
            raise self.fail(
                f"{name} was read as the boolean {value}: YAML 1.1 reads unquoted "
                "yes/no/on/off/true/false (any case) as booleans",
                path,
                value,
                allowed=f"{name} as text",
                hint="quote the id as it was written, e.g. 'NO' (Norway) rather than NO",
            )

    def check_id_in(self, key: Any, ids: list[str], what: str, path: str) -> None:
        self.refuse_boolean(key, what, path)
        key = str(key)
        if key not in ids:
            same = [i for i in ids if i.casefold() == key.casefold()]
            close = same or difflib.get_close_matches(key, ids, n=1)
            raise self.fail(
                f"unknown {what} '{key}'",
                path,
                key,
                allowed=f"{what}s of this scenario: {', '.join(ids)}",
                hint=f"did you mean '{close[0]}'?" if close else f"declare it under {what}s:",
            )

    def year(self, key: Any, path: str) -> int:
        try:
            year = int(str(key))
        except ValueError:
            raise self.fail("expected a year", path, key, allowed="a year such as 2024") from None
        if not 1900 <= year <= 2200:
            raise self.fail("year out of range", path, key, allowed="1900 to 2200")
        return year

    def number(self, schema: Key, value: Any, path: str, *, allow_dist: bool) -> Any:
        if isinstance(value, dict):
            if not allow_dist:
                raise self.fail(
                    "a distribution is not allowed here",
                    path,
                    value,
                    allowed="a plain number",
                    hint="write a single number",
                )
            return self.distribution(schema, value, path)
        return self.real(schema, value, path)

    def real(self, schema: Key, value: Any, path: str, check_range: bool = True) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(
                "expected a number",
                path,
                value,
                allowed=f"a number{' in ' + schema.allowed_range() if schema.allowed_range() else ''}",
                hint="write the value without quotes or units",
            )
        # Compare integers exactly: float() would round 2**64 - 1 up past the maximum.
        number = value if isinstance(value, int) else float(value)
        if not math.isfinite(number):
            raise self.fail("value is not finite", path, value, allowed="a finite number")
        if check_range:
            low, high = schema.minimum, schema.maximum
            too_low = low is not None and (number < low or (schema.min_exclusive and number == low))
            if too_low or (high is not None and number > high):
                raise self.fail(
                    "value out of range",
                    path,
                    value,
                    allowed=f"{schema.allowed_range()} {schema.unit_text()}".strip(),
                    hint="check the unit of the value",
                )
        return float(number)

    def distribution(self, schema: Key, value: dict[str, Any], path: str) -> dict[str, Any]:
        family = value.get("dist")
        if not isinstance(family, str) or family not in FAMILIES:
            close = difflib.get_close_matches(str(family), list(FAMILIES), n=1)
            raise self.fail(
                f"unknown distribution '{family}'",
                f"{path}.dist",
                family,
                allowed=", ".join(FAMILIES),
                hint=f"did you mean '{close[0]}'?" if close else "write dist: normal, for instance",
            )
        params = FAMILIES[family]
        allowed_keys = {"dist", *params, "low", "high"}
        out: dict[str, Any] = {"dist": family}
        for key, sub in value.items():
            if key == "dist":
                continue
            if key not in allowed_keys:
                close = difflib.get_close_matches(key, sorted(allowed_keys), n=1)
                raise self.fail(
                    f"unknown parameter '{key}' for a {family} distribution",
                    f"{path}.{key}",
                    sub,
                    allowed=", ".join(sorted(allowed_keys - {"dist"})),
                    hint=f"did you mean '{close[0]}'?" if close else "remove it",
                )
            # Location parameters must respect the key's range; scale parameters are positive.
            check = key in ("mean", "median", "mode", "low", "high") and family != "beta"
            out[key] = self.real(schema, sub, f"{path}.{key}", check_range=check)
        for key in params:
            if key not in out:
                raise self.fail(
                    f"a {family} distribution needs '{key}'",
                    path,
                    value,
                    allowed=f"{family}: {', '.join(params)}",
                    hint=f"add {key}:",
                )
        for key in ("sd", "sigma", "a", "b"):
            if key in out and out[key] <= 0:
                raise self.fail(
                    f"'{key}' must be positive",
                    f"{path}.{key}",
                    out[key],
                    allowed="> 0",
                )
        if family == "lognormal" and out["median"] <= 0:
            raise self.fail(
                "'median' must be positive",
                f"{path}.median",
                out["median"],
                allowed="> 0",
            )
        low, high = out.get("low"), out.get("high")
        if low is not None and high is not None and low >= high:
            raise self.fail("'low' must be below 'high'", path, value, allowed="low < high")
        if family == "triangular" and not out["low"] <= out["mode"] <= out["high"]:
            raise self.fail(
                "mode must lie between low and high",
                path,
                value,
                allowed="low <= mode <= high",
            )
        if family in ("normal", "lognormal") and (
            schema.minimum is not None or schema.maximum is not None
        ):
            # Unbounded families are truncated to the key's range so no draw is invalid.
            if schema.minimum is not None and "low" not in out:
                low = float(schema.minimum)
                # An exclusive bound is not a valid draw: start just above it.
                out["low"] = float(np.nextafter(low, np.inf)) if schema.min_exclusive else low
            if schema.maximum is not None and "high" not in out:
                out["high"] = float(schema.maximum)
        if family == "beta":
            low = schema.minimum if schema.minimum is not None else -np.inf
            high = schema.maximum if schema.maximum is not None else np.inf
            if low > 0 or high < 1 or (schema.min_exclusive and low == 0):
                raise self.fail(
                    "a beta distribution draws values in [0, 1], outside this key's range",
                    path,
                    value,
                    allowed=f"a distribution within {schema.allowed_range()}",
                    hint="use a triangular, uniform or truncated normal distribution",
                )
        return out

    def scalar(self, schema: Key, value: Any, path: str) -> Any:
        kind = schema.type
        if kind == "any":
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise self.fail("expected true or false", path, value, allowed="true, false")
            return value
        if kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(
                    "expected a whole number",
                    path,
                    value,
                    allowed="an integer",
                    hint="write a whole number without decimals or quotes (not true or false)",
                )
            low, high = schema.minimum, schema.maximum
            if (low is not None and value < low) or (high is not None and value > high):
                # Whole bounds written out: 1.84467e+19 would not show why 2**64 is refused.
                shown = [
                    "-inf" if low is None else f"{int(low)}",
                    "inf" if high is None else f"{int(high)}",
                ]
                raise self.fail(
                    "value out of range",
                    path,
                    value,
                    allowed=f"a whole number from {shown[0]} to {shown[1]}",
                    hint="give a whole number in that range",
                )
            return value
        if kind == "date":
            return self.date(value, path)
        if kind in ("regions", "sectors"):
            ids = self.regions if kind == "regions" else self.sectors
            what = kind[:-1]
            if value == "all":
                return list(ids)
            items = [value] if isinstance(value, (str, bool)) else value
            if not isinstance(items, list) or not items:
                raise self.fail(f"expected a list of {what} ids or 'all'", path, value)
            for i, item in enumerate(items):
                self.check_id_in(item, ids, what, f"{path}[{i}]" if len(items) > 1 else path)
            return [str(i) for i in items]
        if kind in ("id", "region", "sector"):
            self.refuse_boolean(value, "" if kind == "id" else kind, path)
        if not isinstance(value, str):
            raise self.fail("expected text", path, value, allowed=schema.description)
        control = _CONTROL.search(value)
        if control:
            raise self.fail(
                f"text contains the control character {ord(control.group()):#04x}",
                path,
                value,
                allowed="printable text (tabs and newlines allowed)",
                hint="remove the control character (often a paste from another program)",
            )
        if kind == "enum" and value not in schema.values:
            close = difflib.get_close_matches(value, list(schema.values), n=1)
            raise self.fail(
                f"'{value}' is not an allowed value",
                path,
                value,
                allowed=", ".join(schema.values),
                hint=f"did you mean '{close[0]}'?" if close else None,
            )
        if kind == "id" and not _ID.match(value):
            raise self.fail(
                "invalid identifier",
                path,
                value,
                allowed="a letter, then letters, digits, _ or -",
            )
        if kind == "id" and PAIR_SEPARATOR in value and _REGION_ID_PATH.match(path):
            # Pair labels join two region ids with '-': A + B-C and A-B + C would both be A-B-C.
            raise self.fail(
                f"region id '{value}' contains '{PAIR_SEPARATOR}', which joins the two regions "
                "of a pair label (UZ-KZ)",
                path,
                value,
                allowed="for a region: a letter, then letters, digits or _",
                hint=f"write it as '{value.replace(PAIR_SEPARATOR, '_')}'",
            )
        if kind == "region":
            self.check_id_in(value, self.regions, "region", path)
        if kind == "sector":
            self.check_id_in(value, self.sectors, "sector", path)
        return value

    def date(self, value: Any, path: str) -> str:
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
        if not _DATE.match(text):
            raise self.fail("expected a date", path, value, allowed="YYYY-MM-DD")
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise self.fail(
                "not a calendar date", path, value, allowed="a valid YYYY-MM-DD"
            ) from None
        return text

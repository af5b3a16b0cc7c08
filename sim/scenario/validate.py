"""Validate a loaded scenario document against the schema and fill in defaults.

:func:`validate_scenario` walks the document with the schema tree
(:mod:`sim.scenario.schema`), then runs the named ``check_*`` functions for the
rules that span several keys. Every problem raises a
:class:`~sim.errors.ScenarioError` naming the file, line, key and value, what
is allowed and how to fix it.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import datetime as dt
import difflib
import itertools
import logging
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import ScenarioError
from sim.kernels.draws import FAMILIES
from sim.scenario.files import what_is
from sim.scenario.load import LoadedDocument, get_origin
from sim.scenario.schema import LIST_ITEM, PATTERNS, Key, load_schema, split_path

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Joins origin and destination in pair labels (``UZ-KZ``), so a region id may not contain it.
PAIR_SEPARATOR = "-"
_REGION_ID_PATH = re.compile(r"^regions\[\d+\]\.id$")
#: Control characters (C0, DEL, C1) other than tab and newline: HDF5 attributes refuse NUL,
#: and none of them belongs in a name, a title or a path.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass
class Scenario:
    """A validated scenario with defaults filled in.

    Attributes
    ----------
    data : dict
        The resolved document (``extends:`` merged, defaults filled).
    origins : dict
        Key path -> (file, line) of every value written by the user.
    files : list of str
        The YAML files read, base first.
    path : Path or None
        The scenario file (the last in an ``extends`` chain), if loaded from a file.
    data_root : Path
        Folder tree that data files must lie in.
    """

    data: dict[str, Any]
    origins: dict[str, tuple[str, int]]
    files: list[str]
    path: Path | None
    data_root: Path
    extra_roots: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.data["metadata"]["name"])

    @property
    def region_ids(self) -> list[str]:
        return [r["id"] for r in self.data["regions"]]

    @property
    def sector_ids(self) -> list[str]:
        return [s["id"] for s in self.data["sectors"]]

    def where(self, key: str) -> tuple[str | None, int | None]:
        """File and line where ``key`` (or its nearest written ancestor) was written."""
        return get_origin(
            LoadedDocument(data=self.data, origins=self.origins, files=self.files), key
        )

    def error(self, problem: str, key: str, value: Any = None, **kwargs: Any) -> ScenarioError:
        """Build a ScenarioError located at ``key`` (or at least in the scenario's file)."""
        file, line = self.where(key)
        if file is None and self.files:
            file = self.files[-1]
        # Line 0: a value not written in a file (a dict given to sim.run, a command-line override).
        return ScenarioError(problem, file=file, line=line or None, key=key, value=value, **kwargs)

    def resolve_file(self, key: str, value: str, *, folder: bool = False) -> Path:
        """Resolve a data-file path relative to the file that wrote ``key``, inside allowed roots."""
        file, _ = self.where(key)
        base = Path(file).parent if file and not file.startswith("<") else self.data_root
        target = (base / value).resolve()
        roots = [self.data_root.resolve(), *(r.resolve() for r in self.extra_roots)]
        from_dict = not file or file.startswith("<")
        dict_hint = (
            f"paths in a scenario given as a dict are relative to base_dir ({self.data_root}): "
            "pass base_dir= (the folder of the data files) to sim.run or sim.load_scenario"
        )
        if not any(target == root or root in target.parents for root in roots):
            hint = "move the file next to the scenario, or allow its folder with --data-root"
            # As written (links not followed), is the path in the tree? Then a symbolic
            # link on it is what leads outside.
            written = Path(os.path.normpath((base / value).absolute()))
            link = None
            for part in [written, *written.parents]:
                if part == base.absolute() or part in base.absolute().parents:
                    break
                if part.is_symlink():
                    link = part
                    break
            if link is not None:
                # The path is in the tree as written; a symbolic link on it leads outside.
                hint = (
                    f"{link} is a symbolic link to {link.resolve()}, outside the allowed "
                    f"folders: the link's target is the problem; allow it with --data-root "
                    f"{target.parent}, or copy the data into the scenario's folder"
                )
            if from_dict:
                hint = dict_hint
            elif (
                file
                and not file.startswith("<")
                and Path(file).resolve() != (self.path.resolve() if self.path else None)
            ):
                # Written in an extends base: its folder is not opened by being extended.
                hint = (
                    f"the path is written in {file}, a base this scenario extends; its folder "
                    f"is not an allowed data folder by itself: allow it with --data-root "
                    f"{Path(file).resolve().parent}, or move the data next to the scenario"
                )
            raise self.error(
                "data file lies outside the scenario's folder tree",
                key,
                value,
                allowed="files under " + " or ".join(str(r) for r in dict.fromkeys(roots)),
                hint=hint,
            )
        if not (target.is_dir() if folder else target.is_file()):
            kind = what_is(target)
            wanted = "folder" if folder else "file"
            missing = kind.startswith("not found")
            raise self.error(
                f"data {wanted} not found: {target}"
                if kind == "not found"
                else f"data {wanted} {target} is {kind}",
                key,
                value,
                allowed=f"an existing {'folder' if folder else 'regular file'}, relative to "
                + ("base_dir" if from_dict else "the scenario file's folder"),
                hint=(dict_hint if from_dict else "check the spelling and the folder of the path")
                if missing
                else f"point {key} at {'a folder' if folder else 'a regular file'} "
                f"({target.name} is {kind})",
            )
        return target


#: Keys that earlier versions read, and what replaced them (the fix of an "unknown key").
REMOVED_KEYS = {
    "input_output.labour_income_share": "remove the key: labour income is now jobs times "
    "economy.wage, the same basis for plants and suppliers (docs/model.md s.5)",
}


def _fmt_path(parent: str, child: str) -> str:
    if child.startswith("["):
        return f"{parent}{child}"
    return f"{parent}.{child}" if parent else child


class _Walker:
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
                raise self.fail("expected a whole number", path, value, allowed="an integer")
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


# -- checks spanning several keys ------------------------------------------------------------


def check_ids_unique(sc: Scenario) -> None:
    """Region, sector, project and portfolio ids are unique."""
    for key in ("regions", "sectors"):
        seen: set[str] = set()
        for i, item in enumerate(sc.data[key]):
            if item["id"] in seen:
                raise sc.error(
                    f"duplicate {key[:-1]} id",
                    f"{key}[{i}].id",
                    item["id"],
                    hint="ids must be unique",
                )
            seen.add(item["id"])
    if len(sc.data["regions"]) < 2:
        raise sc.error(
            "at least two regions are needed",
            "regions",
            sc.region_ids,
            hint="add a region (a rest of the world, say)",
        )
    if not sc.data["sectors"]:
        raise sc.error("at least one sector is needed", "sectors", [], hint="add a sector")
    seen = set()
    inv = sc.data["investment"]
    for i, p in enumerate(inv["projects"]):
        if p["id"] in seen:
            raise sc.error(
                "duplicate project id",
                f"investment.projects[{i}].id",
                p["id"],
                hint="ids must be unique",
            )
        seen.add(p["id"])
    for i, g in enumerate(inv["portfolios"]):
        if g["id"] in seen:
            raise sc.error(
                "duplicate portfolio id",
                f"investment.portfolios[{i}].id",
                g["id"],
                hint="ids must be unique",
            )
        seen.add(g["id"])


def check_time(sc: Scenario) -> None:
    """The calendar runs forward; constant prices name their year."""
    t = sc.data["time"]
    if t["end"] <= t["start"]:
        raise sc.error(
            "time.end must be after time.start",
            "time.end",
            t["end"],
            allowed=f"a date after {t['start']}",
        )
    md = sc.data["metadata"]
    if md["price_basis"] == "constant" and md.get("price_base_year") is None:
        raise sc.error(
            "constant prices need a base year",
            "metadata.price_basis",
            "constant",
            hint="add metadata.price_base_year: YEAR",
        )


def check_prices(sc: Scenario) -> None:
    """A price path converts constant-price money: it needs that basis and every region."""
    prices = sc.data.get("prices") or {}
    md = sc.data["metadata"]
    capex_prices = (sc.data.get("investment") or {}).get("capex_prices")
    if capex_prices == "current" and md["price_basis"] == "constant" and not prices:
        raise sc.error(
            "capex in current money needs a price path to convert it to the scenario's "
            "constant prices",
            "investment.capex_prices",
            capex_prices,
            allowed="capex_prices: constant, or a price path under prices",
            hint="add prices.inflation (and prices.exchange_rate) by region",
        )
    if not prices:
        return
    if md["price_basis"] != "constant":
        raise sc.error(
            "a price path converts constant-price money to current money, but the "
            "scenario's money is in current prices",
            "prices",
            sorted(prices),
            allowed="prices with metadata.price_basis: constant and a price_base_year",
            hint="state the tables' year as metadata.price_base_year, set "
            "metadata.price_basis: constant and economy.growth to real growth",
        )
    valuation = prices.get("trade_valuation", "exporter")
    if valuation != "exporter" and valuation not in sc.region_ids:
        raise sc.error(
            f"unknown trade valuation '{valuation}'",
            "prices.trade_valuation",
            valuation,
            allowed="exporter, or one of the regions: " + ", ".join(sc.region_ids),
            hint="write exporter, or the id of the region whose prices set trade prices",
        )
    given = prices.get("inflation") or {}
    missing = [r for r in sc.region_ids if r not in given]
    if missing:
        raise sc.error(
            f"prices.inflation has no value for {', '.join(missing)}",
            "prices.inflation",
            given,
            allowed="one entry per region (0 for a region whose prices do not change)",
            hint=f"add {missing[0]}: RATE",
        )


def check_trade(sc: Scenario) -> None:
    """Elasticities come from one source; the numeraire is 'world' or a region."""
    given = [k for k in ("elasticity", "elasticity_table") if sc.data["trade"].get(k)]
    if len(given) != 1:
        raise sc.error(
            "trade elasticities: give trade.elasticity or trade.elasticity_table"
            + (", not both" if given else ""),
            "trade.elasticity_table" if given else "trade",
            sc.data["trade"].get("elasticity_table") if given else None,
            allowed="trade.elasticity (sigma by sector, numbers or distributions) or "
            "trade.elasticity_table (a CSV of theta by sector)",
            hint="remove one of the two" if given else "add trade.elasticity: {SECTOR: SIGMA}",
        )
    numeraire = sc.data["trade"]["numeraire"]
    if numeraire != "world" and numeraire not in sc.region_ids:
        raise sc.error(
            f"unknown numeraire '{numeraire}'",
            "trade.numeraire",
            numeraire,
            allowed=f"world, {', '.join(sc.region_ids)}",
        )


def _check_pair(sc: Scenario, path: str, a: str, b: str) -> None:
    if a == b:
        raise sc.error(
            "origin and destination must differ",
            path,
            a,
            hint="name two different regions",
        )


def check_investors(sc: Scenario, item: dict[str, Any], base: str) -> None:
    """A project or portfolio names its investor, or investors with shares summing to one."""
    given = [k for k in ("investor", "investors") if k in item]
    if len(given) != 1:
        raise sc.error(
            "both investor and investors are given" if given else "no investor is given",
            f"{base}.{given[0] if given else 'investor'}",
            item.get("investors", item.get("investor")),
            allowed="investor: REGION (one investor pays all the capex), or investors: "
            "{REGION: share, ...} with shares summing to 1",
            hint="keep one of the two keys" if given else "add investor: REGION",
        )
    shares = item.get("investors")
    if shares is not None:
        total = sum(shares.values())
        if not shares or abs(total - 1.0) > 1e-6:
            raise sc.error(
                "investor shares must sum to 1",
                f"{base}.investors",
                shares,
                allowed=f"shares summing to 1 (these sum to {total:g})",
                hint="give each investor region's share of the capex; a single investor "
                "can be written investor: REGION",
            )


def check_investment(sc: Scenario) -> None:
    """Pipelines exist; dates are ordered; sector mixes sum to one."""
    inv = sc.data["investment"]
    pipelines = set(inv["pipelines"]) | {"default"}
    for kind in ("projects", "portfolios"):
        for i, item in enumerate(inv[kind]):
            base = f"investment.{kind}[{i}]"
            if item["pipeline"] not in pipelines:
                close = difflib.get_close_matches(item["pipeline"], sorted(pipelines), n=1)
                raise sc.error(
                    f"unknown pipeline '{item['pipeline']}'",
                    f"{base}.pipeline",
                    item["pipeline"],
                    allowed=", ".join(sorted(pipelines)),
                    hint=f"did you mean '{close[0]}'?"
                    if close
                    else "define it under investment.pipelines",
                )
    for kind in ("projects", "portfolios"):
        for i, item in enumerate(inv[kind]):
            check_investors(sc, item, f"investment.{kind}[{i}]")
    for i, p in enumerate(inv["projects"]):
        dates = [
            (k, p[k]) for k in ("announced", "financed", "construction", "operating") if p.get(k)
        ]
        for (k1, d1), (k2, d2) in itertools.pairwise(dates):
            if d2 < d1:
                raise sc.error(
                    f"'{k2}' date is before '{k1}'",
                    f"investment.projects[{i}].{k2}",
                    d2,
                    allowed=f"on or after {d1}",
                )
    for i, g in enumerate(inv["portfolios"]):
        base = f"investment.portfolios[{i}]"
        total = sum(g["sector_mix"].values())
        if abs(total - 1.0) > 1e-6:
            raise sc.error(
                "sector shares must sum to 1",
                f"{base}.sector_mix",
                g["sector_mix"],
                allowed=f"shares summing to 1 (these sum to {total:g})",
            )
        for key in ("announced", "stage_dates"):
            rng = g.get(key)
            if rng is None:
                if key == "stage_dates" and g["stage"] != "announced":
                    raise sc.error(
                        f"stage '{g['stage']}' needs stage_dates",
                        f"{base}.stage",
                        g["stage"],
                        hint="add stage_dates: [first, last]",
                    )
                continue
            if len(rng) != 2 or rng[1] < rng[0]:
                raise sc.error(
                    f"{key} must be [first, last] in order",
                    f"{base}.{key}",
                    rng,
                    allowed="two dates, first <= last",
                )
        if g.get("stage_dates") and g["stage_dates"][0] < g["announced"][0]:
            raise sc.error(
                "stage_dates start before the announcements",
                f"{base}.stage_dates",
                g["stage_dates"],
                allowed=f"on or after {g['announced'][0]}",
            )
    for i, o in enumerate(inv["other"]):
        _check_pair(sc, f"investment.other[{i}].destination", o["origin"], o["destination"])


def check_input_output(sc: Scenario) -> None:
    """Exactly one input-output source: national coefficients or a multi-regional table."""
    io = sc.data["input_output"]
    has_coef, has_mrio = "coefficients" in io, "mrio" in io
    if not has_coef and not has_mrio and sc.data["trade"]["linkages"]:
        raise sc.error(
            "trade.linkages needs input shares: the scenario gives no input-output table",
            "trade.linkages",
            True,
            allowed="linkages with input_output.coefficients or input_output.mrio, or "
            "linkages: false (a trade-only scenario)",
            hint="add input_output: {coefficients: {file: ...}}, or set trade.linkages: false",
        )
    if has_coef and has_mrio:
        raise sc.error(
            "give either input_output.coefficients or input_output.mrio, not both",
            "input_output",
            None,
            allowed="coefficients: {file: ...} or mrio: {format: pymrio, path: FOLDER}",
            hint="remove one of the two",
        )
    if has_mrio:
        mrio = io["mrio"]
        if "path" not in mrio:
            raise sc.error("input_output.mrio needs path", "input_output.mrio", mrio,
                           hint="add path: FOLDER (pymrio) or path: Z.csv (csv)")  # fmt: skip
        if mrio["format"] == "csv" and "final_demand" not in mrio:
            raise sc.error("a csv table needs final_demand", "input_output.mrio", mrio,
                           hint="add final_demand: Y.csv")  # fmt: skip


def check_shares(sc: Scenario) -> None:
    """Employment shares sum to 1; the investment mix sums to at most 1."""
    for region, shares in sc.data["economy"].get("employment_shares", {}).items():
        total = sum(shares.values())
        if abs(total - 1.0) > 1e-6:
            raise sc.error(
                "employment shares must sum to 1",
                f"economy.employment_shares.{region}",
                shares,
                allowed=f"sum 1 (these sum to {total:g})",
            )
    mix = sc.data["input_output"]["investment_mix"]
    if sum(mix.values()) > 1 + 1e-9:
        raise sc.error(
            "investment mix sums to more than 1",
            "input_output.investment_mix",
            mix,
            allowed="shares summing to at most 1",
        )


def check_regions_complete(sc: Scenario) -> None:
    """Per-region tables cover every region (wage and employment where given)."""
    for key in ("growth", "wage", "employment"):
        given = sc.data["economy"].get(key)
        if given is None:
            continue
        missing = [r for r in sc.region_ids if r not in given]
        if missing:
            raise sc.error(
                f"economy.{key} has no value for {', '.join(missing)}",
                f"economy.{key}",
                given,
                allowed="one entry per region",
                hint=f"add {missing[0]}: ...",
            )


def region_setting(sc: Scenario, value: Any) -> list[Any]:
    """A setting given once for all regions or as a mapping by region, in region order."""
    if isinstance(value, dict):
        return [value[r] for r in sc.region_ids]
    return [value] * len(sc.region_ids)


def check_labour(sc: Scenario) -> None:
    """Some region's labour is scarce: a fixed real wage everywhere has no equilibrium."""
    closure = sc.data["labour"]["closure"]
    if all(c == "fixed_real_wage" for c in region_setting(sc, closure)):
        raise sc.error(
            "every region fixes its real wage, so nothing bounds world employment "
            "(labour is the only factor of production)",
            "labour.closure",
            closure,
            allowed="full_employment or elastic in at least one region",
            hint="give the rest of the world full_employment, e.g. {ROW: full_employment, ...}",
        )
    inv = sc.data["investment"]
    fixed = [
        r for r, c in zip(sc.region_ids, region_setting(sc, closure), strict=True)
        if c == "fixed_real_wage"
    ]  # fmt: skip
    if fixed and (inv["projects"] or inv["portfolios"]):
        warn(
            sc,
            f"{', '.join(fixed)} fix the real wage in a scenario with plants: with labour the "
            "only factor, employment there absorbs the plants' whole productivity gain "
            "(docs/model.md, section 3), which can move it by large amounts",
            "labour.closure",
            closure,
            assumed="the fixed real wage as written",
            hint="use closure: elastic with a supply_elasticity for regions with slack labour",
        )


def check_migration(sc: Scenario) -> None:
    """Migration corridors join two different regions."""
    for i, m in enumerate(sc.data["labour"]["migration"]):
        _check_pair(sc, f"labour.migration[{i}].destination", m["origin"], m["destination"])


def check_covariate_policy(sc: Scenario, p: dict[str, Any], base: str) -> None:
    """A covariate policy names a covariate of trade_costs.gravity; no other kind names one."""
    coefficients = (sc.data["trade_costs"].get("gravity") or {}).get("coefficients", {})
    if p["kind"] != "covariate":
        if "covariate" in p:
            raise sc.error(
                f"a {p['kind']} policy has no covariate",
                f"{base}.covariate",
                p["covariate"],
                allowed="covariate only with kind: covariate",
                hint="remove covariate, or set kind: covariate",
            )
        return
    name = p.get("covariate")
    if name not in coefficients:
        raise sc.error(
            "a covariate policy needs a covariate with an estimated coefficient"
            if name is None
            else f"covariate '{name}' has no coefficient in trade_costs.gravity",
            f"{base}.covariate",
            name,
            allowed=", ".join(coefficients) or "none: trade_costs.gravity gives no coefficients",
            hint="add trade_costs.gravity (sim estimate writes it) and name one of its covariates",
        )


def check_gravity(sc: Scenario) -> None:
    """The covariance (or standard errors) covers exactly the coefficients, symmetric PSD."""
    gravity = sc.data["trade_costs"].get("gravity")
    if not gravity:
        return
    names = list(gravity["coefficients"])
    base = "trade_costs.gravity"
    if "covariance" in gravity and "standard_errors" in gravity:
        raise sc.error(
            "both covariance and standard_errors are given",
            f"{base}.standard_errors",
            gravity["standard_errors"],
            allowed="one of the two",
            hint="keep covariance when the coefficients were estimated jointly",
        )
    for key in ("covariance", "standard_errors"):
        given = gravity.get(key)
        if given is not None and sorted(given) != sorted(names):
            raise sc.error(
                f"{key} does not cover exactly the coefficients",
                f"{base}.{key}",
                sorted(given),
                allowed=", ".join(names),
                hint=f"give {key} for every coefficient and no other",
            )
    cov = gravity.get("covariance")
    if cov is None:
        return
    for name in names:
        if sorted(cov[name]) != sorted(names):
            raise sc.error(
                f"covariance row {name} does not cover exactly the coefficients",
                f"{base}.covariance.{name}",
                sorted(cov[name]),
                allowed=", ".join(names),
            )
    matrix = np.array([[float(cov[a][b]) for b in names] for a in names])
    if not np.allclose(matrix, matrix.T, rtol=1e-9, atol=1e-14) or (
        np.linalg.eigvalsh((matrix + matrix.T) / 2).min() < -1e-12 * max(1.0, np.abs(matrix).max())
    ):
        raise sc.error(
            "the covariance is not a symmetric positive semi-definite matrix",
            f"{base}.covariance",
            names,
            allowed="a covariance matrix (as sim estimate writes it)",
            hint="copy the covariance of the estimation unchanged",
        )


def check_policies(sc: Scenario) -> None:
    """Policies fall inside the simulated period and their values fit their kind."""
    t = sc.data["time"]
    for i, p in enumerate(sc.data["policies"]):
        base = f"policies[{i}]"
        if not t["start"] <= p["date"] <= t["end"]:
            raise sc.error(
                "policy date outside the simulated period",
                f"{base}.date",
                p["date"],
                allowed=f"{t['start']} to {t['end']}",
                hint="move the date inside the period, extend time.start or time.end to "
                "include it, or remove the policy",
            )
        value = p["value"]
        check_covariate_policy(sc, p, base)
        if p["kind"] != "covariate" and isinstance(value, (int, float)) and value < 0:
            raise sc.error(
                "policy value must not be negative",
                f"{base}.value",
                value,
                allowed=">= 0",
            )
        if p["kind"] == "trade_cost" and isinstance(value, (int, float)) and value <= 0:
            raise sc.error(
                "a trade-cost factor must be positive",
                f"{base}.value",
                value,
                allowed="> 0 (1 = unchanged)",
            )


def check_output(sc: Scenario) -> None:
    """Each of ``output.pairs`` is two different regions of the scenario."""
    for i, pair in enumerate(sc.data["output"]["pairs"]):
        path = f"output.pairs[{i}]"
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(r, str) for r in pair)
        ):
            raise sc.error(
                "expected a pair of two region ids",
                path,
                pair,
                allowed=f"[a, b] with a and b among {', '.join(sc.region_ids)}",
                hint=f"write the pair as [{', '.join(sc.region_ids[:2])}]",
            )
        for j, region in enumerate(pair):
            if region not in sc.region_ids:
                close = difflib.get_close_matches(region, sc.region_ids, n=1)
                raise sc.error(
                    f"unknown region '{region}'",
                    f"{path}[{j}]",
                    region,
                    allowed=f"regions of this scenario: {', '.join(sc.region_ids)}",
                    hint=f"did you mean '{close[0]}'?" if close else "declare it under regions:",
                )
        if pair[0] == pair[1]:
            raise sc.error(
                "a pair needs two different regions",
                path,
                pair,
                allowed="[a, b] with a different from b",
                hint="name two different regions (trade within a region is not a pair)",
            )


# -- likely unit mistakes: located warnings (what was assumed) or errors ----------------------

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
    return _Walker(sc).node(schema, value, key)


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
    _Walker(sc).run()
    for check in CHECKS:
        check(sc)
    return sc

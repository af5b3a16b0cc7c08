"""Validate a loaded scenario document against the schema and fill in defaults.

:func:`validate_scenario` walks the document with the schema tree
(:mod:`sim.scenario.schema`), then runs the named ``check_*`` functions for the
rules that span several keys. Every problem raises a
:class:`~sim.errors.ScenarioError` naming the file, line, key and value, what
is allowed and how to fix it.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import ScenarioError
from sim.kernels.draws import FAMILIES
from sim.scenario.load import LoadedDocument, get_origin
from sim.scenario.schema import LIST_ITEM, PATTERNS, Key, load_schema, split_path

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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
        if not any(target == root or root in target.parents for root in roots):
            hint = "move the file next to the scenario, or allow its folder with --data-root"
            if (
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
            raise self.error(
                f"data {'folder' if folder else 'file'} not found: {target}",
                key,
                value,
                allowed="an existing file, relative to the scenario file's folder",
                hint="check the spelling and the folder of the path",
            )
        return target


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
                self.check_id_in(str(key), ids, schema.by, f"{path}.{key}")
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
                for key, sub in value.items():
                    year = self.year(key, f"{path}.{key}")
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
    def check_id_in(self, key: str, ids: list[str], what: str, path: str) -> None:
        if key not in ids:
            close = difflib.get_close_matches(key, ids, n=1)
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
                    allowed=f"{schema.allowed_range()} {schema.unit or ''}".strip(),
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
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not items:
                raise self.fail(f"expected a list of {what} ids or 'all'", path, value)
            for i, item in enumerate(items):
                self.check_id_in(str(item), ids, what, f"{path}[{i}]" if len(items) > 1 else path)
            return [str(i) for i in items]
        if not isinstance(value, str):
            raise self.fail("expected text", path, value, allowed=schema.description)
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


def check_trade(sc: Scenario) -> None:
    """The numeraire is 'world' or a region."""
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
    if has_coef == has_mrio:
        raise sc.error(
            "give either input_output.coefficients or input_output.mrio"
            + (", not both" if has_coef else ""),
            "input_output",
            None,
            allowed="coefficients: {file: ...} or mrio: {format: pymrio, path: FOLDER}",
            hint="remove one of the two" if has_coef else "add one of the two",
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
    """Per-region tables cover every region."""
    for key in ("growth", "wage", "employment"):
        given = sc.data["economy"][key]
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


def check_migration(sc: Scenario) -> None:
    """Migration corridors join two different regions."""
    for i, m in enumerate(sc.data["labour"]["migration"]):
        _check_pair(sc, f"labour.migration[{i}].destination", m["origin"], m["destination"])


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
            )
        value = p["value"]
        if isinstance(value, (int, float)) and value < 0:
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


CHECKS: tuple[Callable[[Scenario], None], ...] = (
    check_ids_unique,
    check_time,
    check_trade,
    check_investment,
    check_input_output,
    check_shares,
    check_regions_complete,
    check_labour,
    check_migration,
    check_policies,
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

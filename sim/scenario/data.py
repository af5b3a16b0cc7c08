"""Read the data tables a scenario references (CSV files), with row-level errors.

Tables are returned as NumPy arrays indexed by the scenario's own region and
sector order, with the sha256 of every file read for the provenance record.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sim.errors import DataFileError, number_problem, quote, shorten
from sim.scenario.files import sha256_file
from sim.scenario.mrio import (
    MRIOTable,
    aggregate,
    check_productive,
    largest_flow_lines,
    parse_money_unit,
    read_csv_matrices,
    read_pymrio_folder,
)
from sim.scenario.validate import Scenario

FloatArray = NDArray[np.float64]


@dataclass
class ScenarioData:
    """The tables of a scenario.

    Attributes
    ----------
    trade : (R, R, S)
        Baseline trade, money per year (origin, destination, sector).
    coefficients : (R, S, S) or None
        National technical coefficients, input per unit of output
        (region, input sector, output sector), when the scenario gives them.
    mrio : MRIOTable or None
        The multi-regional table aggregated onto the scenario's regions and
        sectors, when the scenario gives one instead.
    hashes : dict
        File path -> sha256 hex digest of every data file read.
    """

    trade: FloatArray
    coefficients: FloatArray | None
    hashes: dict[str, str] = field(default_factory=dict)
    mrio: MRIOTable | None = None


def _read_rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV file with their 1-based line numbers, after checking the header."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(
            f"cannot read data file: {exc}", file=str(path), allowed="a UTF-8 CSV file"
        ) from None
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        raise DataFileError(
            f"the header is not valid CSV: {exc}", file=str(path), line=1,
            allowed="comma-separated column names",
        ) from None  # fmt: skip
    except StopIteration:
        raise DataFileError(
            "data file is empty", file=str(path), line=1, allowed=f"a header {','.join(columns)}"
        ) from None
    missing = [c for c in columns if c not in header]
    if missing:
        # The first line is not the header of this table, so the file may be anything (a
        # key, a token): its content is not quoted, only header names close to a missing one.
        close = {
            c: found[0]
            for c in missing
            if (found := difflib.get_close_matches(c, header, n=1, cutoff=0.75))
        }
        hint = "fix the header row"
        if close:
            hint += ": " + ", ".join(
                f"did you mean {c!r} instead of {quote(h)}?" for c, h in close.items()
            )
        raise DataFileError(
            f"missing column(s) {', '.join(missing)} in the header "
            f"(its first line has {len(header)} field{'s' if len(header) != 1 else ''})",
            file=str(path),
            line=1,
            allowed=f"columns {', '.join(columns)}",
            hint=hint,
        )
    first: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name and name in first:
            # zip() below would keep the last of the two columns and drop the first unseen.
            raise DataFileError(
                f"the header names column {quote(name)} twice, at positions {first[name]} "
                f"and {position}",
                file=str(path),
                line=1,
                allowed="each column name once",
                hint="rename or remove one of the two columns",
            )
        first[name] = position
    rows = []
    number = 1
    try:
        for number, cells in enumerate(reader, start=2):
            _check_cells(path, number, header, cells)
            if cells and any(c.strip() for c in cells):
                rows.append((number, {h: c.strip() for h, c in zip(header, cells, strict=True)}))
    except csv.Error as exc:
        raise DataFileError(
            f"the row is not valid CSV: {exc}", file=str(path), line=number + 1,
            allowed="comma-separated fields of ordinary length",
            hint="check for a stray quote or a very long field",
        ) from None  # fmt: skip
    return rows


def _check_cells(path: Path, number: int, header: list[str], cells: list[str]) -> None:
    if cells and any(c.strip() for c in cells) and len(cells) != len(header):
        raise DataFileError(
            f"row has {len(cells)} fields, the header has {len(header)}",
            file=str(path),
            line=number,
            value=",".join(cells),
            hint="check for stray commas or missing fields",
        )


def _number(path: Path, line: int, column: str, text: str, *, minimum: float = 0.0) -> float:
    try:
        value = float(text)
    except ValueError:
        why, fix = number_problem(text)
        raise DataFileError(
            f"column '{column}' is not a number" + (f": {why}" if why else ""),
            file=str(path),
            line=line,
            value=text,
            allowed="a finite number",
            hint=fix,
        ) from None
    if not math.isfinite(value) or value < minimum:
        raise DataFileError(
            f"column '{column}' must be a finite number >= {minimum:g}",
            file=str(path),
            line=line,
            value=text,
            allowed=f"finite, >= {minimum:g}",
            hint="flows cannot be negative",
        )
    return value


def _index(path: Path, line: int, column: str, text: str, ids: list[str], what: str) -> int:
    if text not in ids:
        raise DataFileError(
            f"unknown {what} {quote(text)} in column '{column}'",
            file=str(path),
            line=line,
            value=text,
            allowed=f"{what}s of the scenario: {', '.join(ids)}",
            hint=f"add the {what} to the scenario or fix the row",
        )
    return ids.index(text)


@dataclass(frozen=True)
class TradeLayout:
    """How a long-format trade file maps onto the scenario.

    Attributes
    ----------
    origin, destination, sector, value, year : str
        Column names; ``sector`` may be ``""`` (no sector column).
    select_year : int or None
        Only rows of this year are read (when the file has a year column).
    region_map, sector_map : dict
        Concordances from the file's codes to scenario ids; flows are summed.
    other_region : str or None
        Scenario region for every code neither in region_map nor a scenario id.
    """

    origin: str = "origin"
    destination: str = "destination"
    sector: str = "sector"
    value: str = "value"
    year: str = "year"
    select_year: int | None = None
    region_map: dict[str, str] = field(default_factory=dict)
    sector_map: dict[str, str] = field(default_factory=dict)
    other_region: str | None = None

    @property
    def aggregates(self) -> bool:
        """True when several rows may map to one cell (then they are summed)."""
        return bool(self.region_map or self.sector_map or self.other_region)


def _map_code(
    path: Path, line: int, column: str, code: str, ids: list[str], mapping: dict[str, str],
    other: str | None, what: str,
) -> int:  # fmt: skip
    target = mapping.get(code, code if code in ids else other)
    if target is None:
        return _index(path, line, column, code, ids, what)
    return ids.index(target)


def load_trade_table(
    path: Path, regions: list[str], sectors: list[str], layout: TradeLayout | None = None
) -> FloatArray:
    """Read a long-format baseline trade table into an (R, R, S) array.

    With the default layout every origin x destination x sector combination
    must appear exactly once. With concordances (``layout.aggregates``) rows
    mapped to the same cell are summed and absent cells are zero.
    """
    lay = layout or TradeLayout()
    shape = (len(regions), len(regions), len(sectors))
    table = np.zeros(shape) if lay.aggregates else np.full(shape, np.nan)
    seen: dict[tuple[str, str, str], int] = {}
    required = [lay.origin, lay.destination, *([lay.sector] if lay.sector else []), lay.value]
    rows = _read_rows(path, tuple(required))
    has_year = bool(rows) and lay.year in rows[0][1]
    if has_year and lay.select_year is None:
        years = sorted({r[lay.year] for _, r in rows})
        if len(years) > 1:
            raise DataFileError(
                f"the file holds several years ({', '.join(shorten(y) for y in years[:5])}...) "
                "and no year was chosen",
                file=str(path),
                allowed="one year of data, or trade.baseline.year naming the year to read",
                hint="add trade.baseline.year: YEAR to the scenario",
            )
    if lay.select_year is not None and not has_year:
        raise DataFileError(
            f"trade.baseline.year is set but the file has no '{lay.year}' column",
            file=str(path),
            line=1,
            hint="remove trade.baseline.year or name the year column in trade.baseline.columns",
        )
    if not lay.sector and len(sectors) > 1 and len(set(lay.sector_map.values())) != 1:
        raise DataFileError(
            "the file has no sector column but the scenario has several sectors",
            file=str(path),
            line=1,
            allowed="a sector column, or a scenario with one sector",
            hint="name the sector column in trade.baseline.columns.sector",
        )
    used = 0
    for line, row in rows:
        if has_year and lay.select_year is not None:
            try:
                if int(float(row[lay.year])) != lay.select_year:
                    continue
            except ValueError:
                raise DataFileError(
                    f"column '{lay.year}' is not a year", file=str(path), line=line,
                    value=row[lay.year], allowed="a calendar year such as 2016",
                ) from None  # fmt: skip
        used += 1
        i = _map_code(path, line, lay.origin, row[lay.origin], regions, lay.region_map,
                      lay.other_region, "region")  # fmt: skip
        j = _map_code(path, line, lay.destination, row[lay.destination], regions,
                      lay.region_map, lay.other_region, "region")  # fmt: skip
        if lay.sector:
            s = _map_code(path, line, lay.sector, row[lay.sector], sectors, lay.sector_map,
                          None, "sector")  # fmt: skip
            sector_code = row[lay.sector]
        else:
            s = sectors.index(next(iter(lay.sector_map.values()))) if lay.sector_map else 0
            sector_code = ""
        key = (row[lay.origin], row[lay.destination], sector_code)
        if key in seen:
            raise DataFileError(
                f"duplicate row for {shorten(key[0])} -> {shorten(key[1])}"
                f"{', ' + shorten(key[2]) if key[2] else ''} "
                f"(first on line {seen[key]})",
                file=str(path),
                line=line,
                hint="keep one row per origin, destination and sector",
            )
        seen[key] = line
        value = _number(path, line, lay.value, row[lay.value])
        if lay.aggregates:
            table[i, j, s] += value
        else:
            table[i, j, s] = value
    if used == 0:
        raise DataFileError(
            f"no rows for year {lay.select_year}"
            if lay.select_year
            else "the file has no data rows",
            file=str(path),
            allowed="at least one row of trade",
            hint="check trade.baseline.year and the file",
        )
    missing = np.argwhere(np.isnan(table))
    if missing.size:
        i, j, s = missing[0]
        raise DataFileError(
            f"{len(missing)} origin-destination-sector row(s) missing, first "
            f"{regions[i]} -> {regions[j]}, {sectors[s]}",
            file=str(path),
            allowed="one row for every origin x destination x sector, domestic sales included",
            hint="add the missing rows (write 0 for no trade)",
        )
    expenditure = table.sum(axis=0)
    zero = np.argwhere(expenditure <= 0)
    if zero.size:
        j, s = zero[0]
        raise DataFileError(
            f"{regions[j]} buys nothing of sector {sectors[s]}: the sector's import shares are undefined",
            file=str(path),
            allowed="every destination buys a positive amount of every sector",
            hint="add at least its domestic sales of the sector",
        )
    return table


def load_coefficients_table(path: Path, regions: list[str], sectors: list[str]) -> FloatArray:
    """Read national technical coefficients into an (R, S, S) array (region, input, output).

    A row with region ``*`` applies to every region; rows naming a region override it.
    Pairs not listed are zero.
    """
    table = np.zeros((len(regions), len(sectors), len(sectors)))
    rows = _read_rows(path, ("region", "input", "output", "value"))
    seen: dict[tuple[str, str, str], int] = {}
    for line, row in rows:
        key = (row["region"], row["input"], row["output"])
        if key in seen:
            raise DataFileError(
                f"duplicate row for region {shorten(key[0])}, {shorten(key[1])} -> {shorten(key[2])} "
                f"(first on line {seen[key]})",
                file=str(path),
                line=line,
                hint="keep one row per region, input and output",
            )
        seen[key] = line
    # Wildcards first so that region-specific rows override them.
    for line, row in sorted(rows, key=lambda item: item[1]["region"] != "*"):
        k = _index(path, line, "input", row["input"], sectors, "sector")
        m = _index(path, line, "output", row["output"], sectors, "sector")
        value = _number(path, line, "value", row["value"])
        if value >= 1:
            raise DataFileError(
                "a technical coefficient must be below 1",
                file=str(path),
                line=line,
                value=row["value"],
                allowed="input per unit of output in [0, 1)",
            )
        if row["region"] == "*":
            table[:, k, m] = value
        else:
            table[_index(path, line, "region", row["region"], regions, "region"), k, m] = value
    sums = table.sum(axis=1)
    bad = np.argwhere(sums >= 1)
    if bad.size:
        r, m = bad[0]
        raise DataFileError(
            f"inputs of {regions[r]}/{sectors[m]} add up to {sums[r, m]:.3f} per unit of output",
            file=str(path),
            allowed="column sums below 1 (value added must be positive)",
            hint="scale down that sector's coefficients",
        )
    return table


def load_scenario_data(scenario: Scenario) -> ScenarioData:
    """Read every data file of a scenario."""
    regions, sectors = scenario.region_ids, scenario.sector_ids
    baseline = scenario.data["trade"]["baseline"]
    trade_path = scenario.resolve_file("trade.baseline.file", baseline["file"])
    cols = baseline["columns"]
    layout = TradeLayout(
        origin=cols["origin"],
        destination=cols["destination"],
        sector=cols["sector"],
        value=cols["value"],
        year=cols["year"],
        select_year=baseline.get("year"),
        region_map=dict(baseline["region_map"]),
        sector_map=dict(baseline["sector_map"]),
        other_region=baseline.get("other_regions"),
    )
    hashes = {str(trade_path): sha256_file(trade_path)}
    io = scenario.data["input_output"]
    coefficients = None
    table = None
    if "coefficients" in io:
        coef_path = scenario.resolve_file(
            "input_output.coefficients.file", io["coefficients"]["file"]
        )
        hashes[str(coef_path)] = sha256_file(coef_path)
        coefficients = load_coefficients_table(coef_path, regions, sectors)
    else:
        table = load_mrio(scenario)
        hashes.update(table.files)
    return ScenarioData(
        trade=load_trade_table(trade_path, regions, sectors, layout),
        coefficients=coefficients,
        hashes=hashes,
        mrio=table,
    )


def check_money_unit(scenario: Scenario, table: MRIOTable) -> None:
    """Refuse a table whose stated money unit is not the scenario's (``Mill USD`` for EUR billion).

    Only a unit the table states and that names a currency is checked; the scale
    is compared when every word of the unit is understood (``Mill``, ``M``, ``bn``...).
    """
    if not table.money_unit:
        return
    currency, scale = parse_money_unit(table.money_unit)
    if currency is None:
        return
    meta = scenario.data["metadata"]
    want_currency, want_scale = str(meta["currency"]).strip().upper(), str(meta["money_unit"])
    if currency == want_currency and scale in (None, want_scale):
        return
    key = "metadata.currency" if currency != want_currency else "metadata.money_unit"
    theirs = f"{currency} {scale}" if scale else currency
    where = f"{table.money_unit_file}:{table.money_unit_line}"
    raise scenario.error(
        f"the input-output table's money unit is {quote(table.money_unit)} ({where}), but the "
        f"scenario's money values are in {want_currency} {want_scale}",
        key,
        meta["currency" if key == "metadata.currency" else "money_unit"],
        allowed=f"a table in {want_currency} {want_scale}, the unit metadata.currency and "
        "metadata.money_unit give every money value of the scenario",
        hint=f"convert the table to {want_currency} {want_scale}; or, if the scenario is meant "
        f"to be in {theirs}, set metadata.currency and metadata.money_unit to match and "
        "convert its other money values",
    )


def load_mrio(scenario: Scenario) -> MRIOTable:
    """Read input_output.mrio and aggregate it onto the scenario's regions and sectors."""
    spec = scenario.data["input_output"]["mrio"]
    satellites = [spec["employment"]] if spec.get("employment") else []
    if spec["format"] == "pymrio":
        folder = scenario.resolve_file("input_output.mrio.path", spec["path"], folder=True)
        table = read_pymrio_folder(folder, satellites=satellites)
        check_money_unit(scenario, table)
    else:
        z_file = scenario.resolve_file("input_output.mrio.path", spec["path"])
        y_file = scenario.resolve_file("input_output.mrio.final_demand", spec["final_demand"])
        table = read_csv_matrices(z_file, y_file)
    region_map, sector_map = spec["region_map"] or None, spec["sector_map"] or None
    try:
        aggregated = aggregate(
            table, region_map, sector_map, regions=scenario.region_ids, sectors=scenario.sector_ids
        )
    except DataFileError as exc:
        # Concordance problems belong to the scenario's keys, not to the table.
        key = (
            "input_output.mrio.region_map"
            if "region" in exc.problem
            else "input_output.mrio.sector_map"
        )
        raise scenario.error(exc.problem, key, None, allowed=exc.allowed, hint=exc.hint) from None
    # The engine needs a productive table; refused here, the error can name a file and line.
    check_productive(table, aggregated, region_map, sector_map)
    # Later checks on the aggregated table (the model's closed system) point at Z's rows.
    return dataclasses.replace(
        aggregated,
        z_file=table.z_file,
        z_largest_lines=largest_flow_lines(table, aggregated, region_map, sector_map),
    )

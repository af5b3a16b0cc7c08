"""Long CSV tables with concordances: the row reader and the baseline's optional tables.

Every table a scenario reads from a CSV long file (the trade table of
:mod:`sim.scenario.data`, and the optional tables here: tariff rates, value added,
final demand, deficits) goes through the same machinery: the header is checked, rows
keep their line numbers, a year column selects one year, and the file's region and
sector codes reach the scenario's ids through ``region_map``, ``other_regions`` and
``sector_map`` (:class:`TableLayout`). Errors name the file and line.

What each table means (units, gross or net of tariffs, how rows mapped onto one cell
are combined) is documented in ``docs/data.md``.
"""

from __future__ import annotations

import csv
import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.errors import DataFileError, not_a_number, quote, shorten

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Largest tariff rate a table may give (a share: 10 = 1000 %), as trade_costs.tariffs[].rate.
MAX_TARIFF = 10.0

__all__ = [
    "MAX_TARIFF",
    "ElasticityTable",
    "RegionTable",
    "TableLayout",
    "TariffTable",
    "cell_index",
    "check_sector_column",
    "layout_of",
    "load_elasticity_table",
    "load_region_table",
    "load_tariff_table",
    "map_code",
    "parse_number",
    "read_rows",
    "sector_of",
    "select_year",
]


# ---------------------------------------------------------------- rows and cells


def read_rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
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


def parse_number(
    path: Path,
    line: int,
    column: str,
    text: str,
    *,
    minimum: float = 0.0,
    hint: str = "flows cannot be negative",
) -> float:
    """The number in a cell: finite and at least ``minimum`` (``-inf``: any finite number)."""
    try:
        value = float(text)
    except ValueError:
        raise not_a_number(f"'{column}'", text, str(path), line) from None
    if not math.isfinite(value) or value < minimum:
        bound = f" >= {minimum:g}" if math.isfinite(minimum) else ""
        raise DataFileError(
            f"column '{column}' must be a finite number{bound}",
            file=str(path),
            line=line,
            value=text,
            allowed=f"finite{',' + bound if bound else ''}",
            hint=hint,
        )
    return value


def cell_index(path: Path, line: int, column: str, text: str, ids: list[str], what: str) -> int:
    """Position of ``text`` among the scenario's ``ids``; an unknown code is refused."""
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


def map_code(
    path: Path, line: int, column: str, code: str, ids: list[str], mapping: dict[str, str],
    other: str | None, what: str,
) -> int:  # fmt: skip
    """Scenario position of a file's code: through the concordance, as an id, or ``other``."""
    target = mapping.get(code, code if code in ids else other)
    if target is None:
        return cell_index(path, line, column, code, ids, what)
    return ids.index(target)


# ---------------------------------------------------------------- layouts


@dataclass(frozen=True)
class TableLayout:
    """How a long-format file maps onto the scenario.

    Attributes
    ----------
    origin, destination : str
        Column names of a bilateral table (trade, tariff rates).
    region : str
        Column name of a table by region (value added, final demand, deficits).
    sector : str
        Sector column; ``""`` when the file has none.
    value : str
        Value column (a flow in money per year, or a rate).
    weight : str
        Weight column of a tariff table (used when the file has it).
    year : str
        Year column (used when the file has it).
    select_year : int or None
        Only rows of this year are read (when the file has a year column).
    region_map, sector_map : dict
        Concordances from the file's codes to scenario ids.
    other_region : str or None
        Scenario region for every code neither in region_map nor a scenario id.
    key : str
        The scenario key of the table (``trade.baseline``), for messages.
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
    region: str = "region"
    weight: str = "weight"
    key: str = "trade.baseline"

    @property
    def aggregates(self) -> bool:
        """True when several rows may map to one cell (then they are combined)."""
        return bool(self.region_map or self.sector_map or self.other_region)


def layout_of(spec: dict[str, Any], key: str, value: str = "value") -> TableLayout:
    """The layout of a table section of the scenario (``file``, ``columns``, concordances).

    ``value`` names the role of the value column in ``columns`` (``rate`` for tariffs).
    """
    cols = spec.get("columns") or {}
    return TableLayout(
        origin=cols.get("origin", "origin"),
        destination=cols.get("destination", "destination"),
        region=cols.get("region", "region"),
        sector=cols.get("sector", "sector"),
        value=cols.get(value, value),
        weight=cols.get("weight", "weight"),
        year=cols.get("year", "year"),
        select_year=spec.get("year"),
        region_map=dict(spec.get("region_map") or {}),
        sector_map=dict(spec.get("sector_map") or {}),
        other_region=spec.get("other_regions"),
        key=key,
    )


def select_year(
    path: Path, rows: list[tuple[int, dict[str, str]]], layout: TableLayout
) -> list[tuple[int, dict[str, str]]]:
    """The rows of the year to read; a file with several years needs ``<key>.year``."""
    has_year = bool(rows) and layout.year in rows[0][1]
    if has_year and layout.select_year is None:
        years = sorted({r[layout.year] for _, r in rows})
        if len(years) > 1:
            raise DataFileError(
                f"the file holds several years ({', '.join(shorten(y) for y in years[:5])}...) "
                "and no year was chosen",
                file=str(path),
                allowed=f"one year of data, or {layout.key}.year naming the year to read",
                hint=f"add {layout.key}.year: YEAR to the scenario",
            )
    if layout.select_year is not None and not has_year:
        raise DataFileError(
            f"{layout.key}.year is set but the file has no '{layout.year}' column",
            file=str(path),
            line=1,
            hint=f"remove {layout.key}.year or name the year column in {layout.key}.columns",
        )
    if not has_year or layout.select_year is None:
        return rows
    chosen = []
    for line, row in rows:
        try:
            year = int(float(row[layout.year]))
        except ValueError:
            raise DataFileError(
                f"column '{layout.year}' is not a year", file=str(path), line=line,
                value=row[layout.year], allowed="a calendar year such as 2016",
            ) from None  # fmt: skip
        if year == layout.select_year:
            chosen.append((line, row))
    return chosen


def check_sector_column(path: Path, layout: TableLayout, sectors: list[str]) -> None:
    """Refuse a file without a sector column when the scenario has several sectors."""
    if not layout.sector and len(sectors) > 1 and len(set(layout.sector_map.values())) != 1:
        raise DataFileError(
            "the file has no sector column but the scenario has several sectors",
            file=str(path),
            line=1,
            allowed="a sector column, or a scenario with one sector",
            hint=f"name the sector column in {layout.key}.columns.sector",
        )


def sector_of(
    path: Path, line: int, row: dict[str, str], layout: TableLayout, sectors: list[str]
) -> tuple[int, str]:
    """Scenario sector of a row and its code in the file (``""`` without a sector column)."""
    if layout.sector:
        code = row[layout.sector]
        return map_code(path, line, layout.sector, code, sectors, layout.sector_map, None,
                        "sector"), code  # fmt: skip
    s = sectors.index(next(iter(layout.sector_map.values()))) if layout.sector_map else 0
    return s, ""


def _no_rows(path: Path, layout: TableLayout, what: str) -> DataFileError:
    return DataFileError(
        f"no rows for year {layout.select_year}"
        if layout.select_year
        else "the file has no data rows",
        file=str(path),
        allowed=f"at least one row of {what}",
        hint=f"check {layout.key}.year and the file",
    )


# ---------------------------------------------------------------- tariff rates


@dataclass(frozen=True)
class TariffTable:
    """Baseline ad valorem tariff rates read from a file.

    Attributes
    ----------
    rates : (R, R, S)
        Rate of each origin x destination x sector cell (0.1 = 10 %); 0 where no row maps.
    given : (R, R, S) bool
        Cells some row maps onto.
    lines : (R, R, S) int
        Line of the row with the largest weight of each cell (0: no row).
    file : str
    """

    rates: FloatArray
    given: NDArray[np.bool_]
    lines: IntArray
    file: str


def load_tariff_table(
    path: Path, regions: list[str], sectors: list[str], layout: TableLayout
) -> TariffTable:
    """Read baseline tariff rates (origin, destination, sector, rate) into (R, R, S) arrays.

    Rows mapped onto one cell are averaged: weighted by the weight column when the
    file has one (trade-weighted, with import values as weights; a cell whose weights
    are all zero takes the simple mean of its rows), else a simple mean. Rows whose
    origin and destination fall in one scenario region (trade inside an aggregated
    region) are skipped: the diagonal is domestic sales, which bear no tariff. A row
    with the same code as origin and destination must have rate 0.
    """
    lay = layout
    required = [lay.origin, lay.destination, *([lay.sector] if lay.sector else []), lay.value]
    rows = select_year(path, read_rows(path, tuple(required)), lay)
    if not rows:
        raise _no_rows(path, lay, "tariff rates")
    check_sector_column(path, lay, sectors)
    weighted = bool(lay.weight) and lay.weight in rows[0][1]
    shape = (len(regions), len(regions), len(sectors))
    rate_sum, weight_sum, weighted_sum = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    count = np.zeros(shape, dtype=np.int64)
    lines = np.zeros(shape, dtype=np.int64)
    heaviest = np.full(shape, -1.0)
    seen: dict[tuple[str, str, str], int] = {}
    for line, row in rows:
        origin, destination = row[lay.origin], row[lay.destination]
        i = map_code(path, line, lay.origin, origin, regions, lay.region_map, lay.other_region,
                     "region")  # fmt: skip
        j = map_code(path, line, lay.destination, destination, regions, lay.region_map,
                     lay.other_region, "region")  # fmt: skip
        s, sector_code = sector_of(path, line, row, lay, sectors)
        key = (origin, destination, sector_code)
        if key in seen:
            raise DataFileError(
                f"duplicate row for {shorten(origin)} -> {shorten(destination)}"
                f"{', ' + shorten(sector_code) if sector_code else ''} (first on line {seen[key]})",
                file=str(path),
                line=line,
                hint="keep one row per origin, destination and sector",
            )
        seen[key] = line
        rate = parse_number(path, line, lay.value, row[lay.value],
                            hint="a tariff rate is a share of the value at producer prices, "
                                 "0 or more: write 0.1 for 10 %")  # fmt: skip
        if rate > MAX_TARIFF:
            raise DataFileError(
                f"tariff rate {rate:g} is above {MAX_TARIFF:g} ({MAX_TARIFF:.0%})",
                file=str(path),
                line=line,
                value=row[lay.value],
                allowed=f"an ad valorem rate as a share in [0, {MAX_TARIFF:g}]: 0.1 for 10 %",
                hint="rates in percent must be divided by 100",
            )
        if origin == destination and rate > 0:
            raise DataFileError(
                f"a tariff of {rate:g} on {shorten(origin)}'s sales to itself",
                file=str(path),
                line=line,
                value=row[lay.value],
                allowed="rate 0 for domestic sales (or no row)",
                hint="remove the row, or check the origin and destination columns",
            )
        weight = 1.0
        if weighted:
            weight = parse_number(
                path, line, lay.weight, row[lay.weight], hint="weights are trade values, 0 or more"
            )
        if i == j:
            continue  # trade inside one scenario region: domestic sales, no tariff
        rate_sum[i, j, s] += rate
        count[i, j, s] += 1
        weighted_sum[i, j, s] += weight * rate
        weight_sum[i, j, s] += weight
        if weight > heaviest[i, j, s]:
            heaviest[i, j, s], lines[i, j, s] = weight, line
    given = count > 0
    mean = np.divide(rate_sum, count, out=np.zeros(shape), where=given)
    rates = np.divide(weighted_sum, weight_sum, out=mean, where=weight_sum > 0)
    return TariffTable(rates=rates, given=given, lines=lines, file=str(path))


# ---------------------------------------------------------------- tables by region (and sector)


@dataclass(frozen=True)
class RegionTable:
    """Money per year by region and sector (or by region) read from a file.

    Attributes
    ----------
    values : (R, S), or (R,) for a table without sectors
        Sum of the rows mapped onto each cell.
    lines : same shape, int
        Line of the row with the largest absolute value of each cell (0: no row).
    file : str
    """

    values: FloatArray
    lines: IntArray
    file: str


def load_region_table(
    path: Path,
    regions: list[str],
    sectors: list[str],
    layout: TableLayout,
    *,
    what: str,
    by_sector: bool = True,
    signed: bool = False,
) -> RegionTable:
    """Read a table by region and sector (region, sector, value) into an (R, S) array.

    With the default layout every region (x sector) must appear exactly once; with
    concordances rows mapped onto one cell are summed and absent cells are zero.
    ``by_sector=False`` reads a table by region only (R,); ``signed`` allows negative
    values (deficits).
    """
    lay = layout
    by_sector = by_sector and bool(lay.sector)
    required = [lay.region, *([lay.sector] if by_sector else []), lay.value]
    rows = select_year(path, read_rows(path, tuple(required)), lay)
    if not rows:
        raise _no_rows(path, lay, what)
    shape: tuple[int, ...] = (len(regions), len(sectors)) if by_sector else (len(regions),)
    if by_sector:
        check_sector_column(path, lay, sectors)
    values = np.zeros(shape)
    lines = np.zeros(shape, dtype=np.int64)
    largest = np.full(shape, -1.0)
    seen: dict[tuple[str, str], int] = {}
    for line, row in rows:
        code = row[lay.region]
        r = map_code(path, line, lay.region, code, regions, lay.region_map, lay.other_region,
                     "region")  # fmt: skip
        cell: tuple[int, ...] = (r,)
        sector_code = ""
        if by_sector:
            s, sector_code = sector_of(path, line, row, lay, sectors)
            cell = (r, s)
        key = (code, sector_code)
        if key in seen:
            raise DataFileError(
                f"duplicate row for {shorten(code)}{', ' + shorten(sector_code) if sector_code else ''} "
                f"(first on line {seen[key]})",
                file=str(path),
                line=line,
                hint="keep one row per region" + (" and sector" if by_sector else ""),
            )
        seen[key] = line
        value = parse_number(
            path, line, lay.value, row[lay.value],
            minimum=-math.inf if signed else 0.0,
            hint=f"{what} cannot be negative" if not signed else "a finite number",
        )  # fmt: skip
        values[cell] += value
        if abs(value) > largest[cell]:
            largest[cell], lines[cell] = abs(value), line
    if not lay.aggregates and (lines == 0).any():
        missing = np.argwhere(lines == 0)
        first = missing[0]
        name = regions[first[0]] + (f", {sectors[first[1]]}" if by_sector else "")
        raise DataFileError(
            f"{len(missing)} row(s) missing, first {name}",
            file=str(path),
            allowed=f"one row for every region{' x sector' if by_sector else ''} of the scenario",
            hint="add the missing rows (write 0 for none)",
        )
    return RegionTable(values=values, lines=lines, file=str(path))


# ---------------------------------------------------------------- trade elasticities


@dataclass
class ElasticityTable:
    """Trade elasticities by scenario sector read from a file.

    Attributes
    ----------
    theta : (S,)
        Mean of the rows mapped onto each sector (theta > 0, unitless).
    se : (S,) or None
        Mean of their standard errors, when the file has an ``se`` column.
    file : str
    """

    theta: FloatArray
    se: FloatArray | None
    file: str


def load_elasticity_table(
    path: Path, sectors: list[str], columns: dict[str, str], sector_map: dict[str, str]
) -> ElasticityTable:
    """Read ``sector, theta[, se]`` rows into (S,) arrays; every sector needs a row."""
    sector_col = columns.get("sector", "sector")
    theta_col = columns.get("theta", "theta")
    se_col = columns.get("se", "se")
    rows = read_rows(path, (sector_col, theta_col))
    if not rows:
        raise DataFileError(
            "the file has no data rows", file=str(path),
            allowed="one row per sector: sector, theta[, se]", hint="add the rows",
        )  # fmt: skip
    has_se = se_col in rows[0][1]
    total = np.zeros(len(sectors))
    total_se = np.zeros(len(sectors))
    count = np.zeros(len(sectors))
    seen: dict[str, int] = {}
    for line, row in rows:
        code = row[sector_col]
        if code in seen:
            raise DataFileError(
                f"duplicate row for sector {shorten(code)} (first on line {seen[code]})",
                file=str(path), line=line, hint="keep one row per sector",
            )  # fmt: skip
        seen[code] = line
        s = map_code(path, line, sector_col, code, sectors, sector_map, None, "sector")
        theta = parse_number(path, line, theta_col, row[theta_col],
                             hint="theta is a positive trade elasticity")  # fmt: skip
        if not theta > 0:
            raise DataFileError(
                "a trade elasticity must be positive", file=str(path), line=line,
                value=row[theta_col], allowed="theta > 0 (sigma = theta + 1 > 1)",
            )  # fmt: skip
        total[s] += theta
        if has_se:
            total_se[s] += parse_number(path, line, se_col, row[se_col],
                                        hint="a standard error is not negative")  # fmt: skip
        count[s] += 1
    missing = np.flatnonzero(count == 0)
    if missing.size:
        raise DataFileError(
            f"no row for sector {sectors[missing[0]]}",
            file=str(path),
            allowed="a row for every sector of the scenario (directly or through sector_map)",
            hint=f"add a row for {sectors[missing[0]]}",
        )
    return ElasticityTable(
        theta=total / count, se=total_se / count if has_se else None, file=str(path)
    )

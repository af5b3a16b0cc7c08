"""Read the data tables a scenario references (CSV files), with row-level errors.

Tables are returned as NumPy arrays indexed by the scenario's own region and
sector order, with the sha256 of every file read for the provenance record.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sim.errors import DataFileError
from sim.scenario.validate import Scenario

FloatArray = NDArray[np.float64]


@dataclass
class ScenarioData:
    """The tables of a scenario.

    Attributes
    ----------
    trade : (R, R, S)
        Baseline trade, money per year (origin, destination, sector).
    coefficients : (R, S, S)
        National technical coefficients, input per unit of output
        (region, input sector, output sector).
    hashes : dict
        File path -> sha256 hex digest of every data file read.
    """

    trade: FloatArray
    coefficients: FloatArray
    hashes: dict[str, str] = field(default_factory=dict)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    except StopIteration:
        raise DataFileError(
            "data file is empty", file=str(path), line=1, allowed=f"a header {','.join(columns)}"
        ) from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataFileError(
            f"missing column(s) {', '.join(missing)}",
            file=str(path),
            line=1,
            value=",".join(header),
            allowed=f"columns {', '.join(columns)}",
            hint="fix the header row",
        )
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise DataFileError(
                f"row has {len(cells)} fields, the header has {len(header)}",
                file=str(path),
                line=number,
                value=",".join(cells),
                hint="check for stray commas or missing fields",
            )
        rows.append((number, {h: c.strip() for h, c in zip(header, cells, strict=True)}))
    return rows


def _number(path: Path, line: int, column: str, text: str, *, minimum: float = 0.0) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataFileError(
            f"column '{column}' is not a number",
            file=str(path),
            line=line,
            value=text,
            allowed="a finite number",
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
            f"unknown {what} '{text}' in column '{column}'",
            file=str(path),
            line=line,
            value=text,
            allowed=f"{what}s of the scenario: {', '.join(ids)}",
            hint=f"add the {what} to the scenario or fix the row",
        )
    return ids.index(text)


def load_trade_table(path: Path, regions: list[str], sectors: list[str]) -> FloatArray:
    """Read a long-format baseline trade table into an (R, R, S) array.

    Every origin x destination x sector combination must appear exactly once.
    """
    shape = (len(regions), len(regions), len(sectors))
    table = np.full(shape, np.nan)
    seen: dict[tuple[int, int, int], int] = {}
    for line, row in _read_rows(path, ("origin", "destination", "sector", "value")):
        i = _index(path, line, "origin", row["origin"], regions, "region")
        j = _index(path, line, "destination", row["destination"], regions, "region")
        s = _index(path, line, "sector", row["sector"], sectors, "sector")
        if (i, j, s) in seen:
            raise DataFileError(
                f"duplicate row for {row['origin']} -> {row['destination']}, {row['sector']} "
                f"(first on line {seen[(i, j, s)]})",
                file=str(path),
                line=line,
                hint="keep one row per origin, destination and sector",
            )
        seen[(i, j, s)] = line
        table[i, j, s] = _number(path, line, "value", row["value"])
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
    trade_path = scenario.resolve_file(
        "trade.baseline.file", scenario.data["trade"]["baseline"]["file"]
    )
    coef_path = scenario.resolve_file(
        "input_output.coefficients.file", scenario.data["input_output"]["coefficients"]["file"]
    )
    hashes = {str(p): sha256_file(p) for p in (trade_path, coef_path)}
    return ScenarioData(
        trade=load_trade_table(trade_path, regions, sectors),
        coefficients=load_coefficients_table(coef_path, regions, sectors),
        hashes=hashes,
    )

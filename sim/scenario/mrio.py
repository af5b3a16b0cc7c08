"""Read multi-regional input-output (MRIO) tables and aggregate them.

Two on-disk layouts are understood:

* a folder written by pymrio's ``IOSystem.save_all()`` in its text format
  (:func:`read_pymrio_folder`); pymrio itself is not needed to read it;
* plain CSV matrices labelled ``region:sector`` (:func:`read_csv_matrices`).

Both give an :class:`MRIOTable` whose arrays are ordered region-major, like the
kernels in :mod:`sim.kernels.leontief` expect: the index of region ``r`` and
sector ``s`` is ``r * S + s``. :func:`aggregate` maps a table onto coarser (or
reordered) regions and sectors with a concordance.

Every problem with the data is a :class:`~sim.errors.DataFileError` naming the
file and the 1-based line of the offending row, header lines included.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from sim.errors import DataFileError, NumericalError, number_problem, quote
from sim.kernels import leontief
from sim.scenario.files import sha256_file, what_is

__all__ = [
    "MRIOTable",
    "aggregate",
    "check_productive",
    "read_csv_matrices",
    "read_pymrio_folder",
]

FloatArray = NDArray[np.float64]
Label = tuple[str, ...]

# x.txt is written with 12 significant digits (pymrio's default float format),
# so a faithful file agrees with Z and Y to ~1e-12; 1e-6 leaves room for tables
# built elsewhere and still catches a wrong or stale x.
BALANCE_TOLERANCE = 1e-6

# pymrio's loader reads every text table with a tab, whatever the file suffix
# (save_all(table_format="csv") writes tab-separated ``Z.csv``).
_PYMRIO_SEPARATOR = "\t"
_TEXT_SUFFIXES = (".txt", ".tsv", ".csv")

# Header rows of a pymrio matrix: region and sector (or final-demand category).
_PYMRIO_MATRIX_HEADER_ROWS = 2

# Long lists of satellites (EXIOBASE has over a thousand) would bury the message.
_MAX_LISTED = 30

_NO_FILES: Mapping[str, Path] = MappingProxyType({})


@dataclass
class MRIOTable:
    """A multi-regional input-output table in region-major order.

    With ``R`` regions and ``S`` sectors, ``n = R * S`` and the row or column
    of region ``r`` and sector ``s`` is ``r * S + s``. Monetary arrays are in
    the table's own currency unit (never converted).

    Attributes
    ----------
    regions : list of str, length R
        Region labels, in output order.
    sectors : list of str, length S
        Sector labels, in output order.
    Z : ndarray of float64, shape (n, n)
        Intermediate flows, currency units: ``Z[i, j]`` is the sale of
        region-sector ``i`` to region-sector ``j``.
    final_demand : ndarray of float64, shape (n,)
        Total final demand for each region-sector (all final-demand columns
        summed), currency units.
    x : ndarray of float64, shape (n,)
        Total output, ``Z.sum(1) + final_demand``, currency units.
    satellites : dict of str to ndarray of float64, shape (n,)
        Satellite account rows (value added, employment, emissions) keyed
        ``"extension/row"``, e.g. ``"factor_inputs/Value Added"``, in the
        units of :attr:`units`.
    units : dict of str to str
        Satellite name -> unit as given by the table; satellites without a
        unit in the source are absent.
    files : dict of str to str
        Path -> sha256 hex digest of every file read.
    z_file, y_file : str
        The files Z and Y were read from (empty for a table built in memory
        or aggregated), so that later checks can point at them.
    z_lines, y_lines : list of int
        1-based line of every row of Z and Y in those files (empty likewise).
    z_largest_lines : (n, n) int array
        For an aggregated table, the line in ``z_file`` of the source row holding
        the largest flow summed into each cell (0 where unknown); empty otherwise.
        Lets a check on the aggregated table point at the row of Z to look at.
    money_unit, money_unit_file, money_unit_line
        The money unit the table states for Z's rows (pymrio's ``unit.txt``, for
        example ``Mill USD``), the file and the line of its first row; empty (and
        0) when the table states none.
    """

    regions: list[str]
    sectors: list[str]
    Z: FloatArray
    final_demand: FloatArray
    x: FloatArray
    satellites: dict[str, FloatArray] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    z_file: str = ""
    y_file: str = ""
    z_lines: list[int] = field(default_factory=list)
    y_lines: list[int] = field(default_factory=list)
    z_largest_lines: NDArray[np.int64] = field(
        default_factory=lambda: np.zeros((0, 0), dtype=np.int64)
    )
    money_unit: str = ""
    money_unit_file: str = ""
    money_unit_line: int = 0

    def __post_init__(self) -> None:
        n = len(self.regions) * len(self.sectors)
        if self.Z.shape != (n, n):
            raise ValueError(f"Z must have shape ({n}, {n}) for the labels, got {self.Z.shape}")
        for name, array in (("final_demand", self.final_demand), ("x", self.x)):
            if array.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {array.shape}")
        for name, row in self.satellites.items():
            if row.shape != (n,):
                raise ValueError(f"satellite {name!r} must have shape ({n},), got {row.shape}")

    @property
    def labels(self) -> list[str]:
        """``"region:sector"`` label of every row and column, region-major (length n)."""
        return [f"{r}:{s}" for r in self.regions for s in self.sectors]


@dataclass
class _Table:
    """A labelled table as read from a file, with the line of every row.

    ``values`` holds the numbers of a numeric table, ``text`` the cells of a
    text one (unit files); the other is empty.
    """

    path: Path
    columns: list[Label]
    column_lines: list[int]
    rows: list[Label] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    values: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    text: list[list[str]] = field(default_factory=list)


def _show(label: Label) -> str:
    return ":".join(label)


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f", ... ({len(names) - _MAX_LISTED} more)"
    return shown


def _hash(path: Path, files: dict[str, str]) -> None:
    try:
        files[str(path)] = sha256_file(path)
    except OSError as exc:
        raise DataFileError(
            f"cannot read data file: {exc.strerror or exc}", file=str(path)
        ) from None


def _records(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Rows of a delimited text file with the 1-based line number each starts on.

    A cell that spans lines (a quote opened and not closed on its line) is
    refused at the line where the quote opens: labels and numbers never hold
    a line break, and the reader would otherwise swallow the rest of the file
    into one cell and report a row far below the culprit.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            end = 0
            for cells in reader:
                # line_num is the line a record ends on; it starts after the previous one.
                start, end = end + 1, reader.line_num
                if end > start and any("\n" in c or "\r" in c for c in cells):
                    raise DataFileError(
                        f"a quote opened on this line is not closed before line {end}",
                        file=str(path),
                        line=start,
                        allowed="cells on one line; quotes in pairs",
                        hint="remove the stray quote character",
                    )
                yield start, cells
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"data file is not UTF-8 text: {exc.reason}", file=str(path), allowed="UTF-8 text"
        ) from None
    except OSError as exc:
        raise DataFileError(
            f"cannot read data file: {exc.strerror or exc}", file=str(path)
        ) from None
    except csv.Error as exc:
        raise DataFileError(f"malformed delimited text: {exc}", file=str(path)) from None


def _numbers(path: Path, line: int, cells: list[str], columns: list[Label]) -> FloatArray:
    """One row of numbers, or an error naming the first bad cell."""
    try:
        row = np.array(cells, dtype=np.float64)
    except ValueError:
        # The vectorised conversion does not say which cell failed; find it.
        for cell, column in zip(cells, columns, strict=True):
            try:
                float(cell)
            except ValueError:
                why, fix = number_problem(cell)
                raise DataFileError(
                    f"column {quote(_show(column))} is not a number" + (f": {why}" if why else ""),
                    file=str(path),
                    line=line,
                    value=cell,
                    allowed="a finite number",
                    hint=fix,
                ) from None
        raise
    if not np.all(np.isfinite(row)):
        j = int(np.argmin(np.isfinite(row)))
        raise DataFileError(
            f"column {quote(_show(columns[j]))} is not a finite number",
            file=str(path),
            line=line,
            value=cells[j],
            allowed="a finite number",
            hint="write 0 for no flow; missing data cannot be left as NaN",
        )
    return row


def _collect(table: _Table, rows: list[FloatArray]) -> None:
    table.values = np.vstack(rows) if rows else np.zeros((0, len(table.columns)))


def _read_pymrio_text(path: Path, *, index_cols: int, header_rows: int, numeric: bool) -> _Table:
    """Read one table that pymrio wrote with ``DataFrame.to_csv(sep="\\t")``.

    The first ``header_rows`` lines hold one column-index level each after
    ``index_cols`` cells (the level's name, then blanks); pandas then adds a
    line of index names (values blank) when the index is named, which pymrio's
    ``nr_header`` does not count. Each data line is ``index_cols`` label cells
    followed by the values.
    """
    header: list[list[str]] = []
    table = _Table(path=path, columns=[], column_lines=[])
    rows: list[FloatArray] = []
    width = 0
    for line, cells in _records(path, _PYMRIO_SEPARATOR):
        if line <= header_rows:
            if len(cells) <= index_cols:
                raise DataFileError(
                    f"header line has {len(cells)} cell(s), expected {index_cols} index "
                    "cell(s) followed by column labels",
                    file=str(path),
                    line=line,
                    hint="the file does not look like a table written by pymrio's save_all()",
                )
            header.append(cells[index_cols:])
            if line == header_rows:
                width = len(header[0])
                for number, level in enumerate(header, start=1):
                    if len(level) != width:
                        raise DataFileError(
                            f"header line has {len(level)} column labels, line 1 has {width}",
                            file=str(path),
                            line=number,
                        )
                table.columns = [tuple(level[j] for level in header) for j in range(width)]
                table.column_lines = list(range(1, header_rows + 1))
            continue
        if not cells or all(not c.strip() for c in cells):
            continue
        if line == header_rows + 1 and all(not c.strip() for c in cells[index_cols:]):
            continue  # pandas' line of index names
        if len(cells) != index_cols + width:
            raise DataFileError(
                f"row has {len(cells) - index_cols} value(s), the header has {width} column(s)",
                file=str(path),
                line=line,
                value=_PYMRIO_SEPARATOR.join(cells[:index_cols]),
                hint="check for missing or extra cells on this line",
            )
        table.rows.append(tuple(cells[:index_cols]))
        table.lines.append(line)
        if numeric:
            rows.append(_numbers(path, line, cells[index_cols:], table.columns))
        else:
            table.text.append(cells[index_cols:])
    if len(header) < header_rows:
        raise DataFileError(
            f"file has {len(header)} header line(s), expected {header_rows}",
            file=str(path),
            hint="the file does not look like a table written by pymrio's save_all()",
        )
    if numeric:
        _collect(table, rows)
    return table


def _infer_index_cols(path: Path) -> int:
    """Number of index columns of a pymrio matrix written without file_parameters.json.

    The first header line is the column level's name (or blank), blanks up
    to the last index column, then the column labels.
    """
    for _, cells in _records(path, _PYMRIO_SEPARATOR):
        for j in range(1, len(cells)):
            if cells[j].strip():
                return j
        break
    raise DataFileError(
        "cannot find the column labels on the first line",
        file=str(path),
        line=1,
        hint="add the file_parameters.json that pymrio's save_all() writes",
    )


@dataclass
class _Entry:
    path: Path
    index_cols: int | None
    header_rows: int


def _file_parameters(folder: Path, files: dict[str, str]) -> dict[str, _Entry]:
    """The file table of a pymrio folder: name -> file, index columns, header rows."""
    para = folder / "file_parameters.json"
    if not para.is_file():
        return {}
    _hash(para, files)
    try:
        content = json.loads(para.read_text(encoding="utf-8"))
        entries = content["files"]
        result = {}
        for key, entry in entries.items():
            result[str(key)] = _Entry(
                path=folder / str(entry["name"]),
                index_cols=int(entry["nr_index_col"]),
                header_rows=int(entry["nr_header"]),
            )
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(f"cannot read file parameters: {exc}", file=str(para)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataFileError(
            f"file parameters lack or misstate an entry ({exc!r})",
            file=str(para),
            allowed='{"files": {"Z": {"name": ..., "nr_index_col": ..., "nr_header": ...}, ...}}',
            hint="write the folder again with pymrio's save_all()",
        ) from None
    return result


def _pymrio_entry(
    folder: Path, params: Mapping[str, _Entry], key: str, header_rows: int, *, required: bool
) -> _Entry | None:
    entry = params.get(key, _Entry(folder / f"{key}.txt", None, header_rows))
    if entry.path.suffix.lower() not in _TEXT_SUFFIXES:
        raise DataFileError(
            f"table {key} is stored as '{entry.path.suffix}', only pymrio's text format is read",
            file=str(entry.path),
            allowed=", ".join(_TEXT_SUFFIXES),
            hint='save the system with save_all(path, table_format="txt")',
        )
    if not entry.path.is_file():
        kind = what_is(entry.path)
        if not required and kind == "not found":
            return None
        raise DataFileError(
            f"missing table {key}: file not found"
            if kind == "not found"
            else f"table {key} is {kind}, not a regular file",
            file=str(entry.path),
            hint=f"pass a folder written by pymrio's save_all() (it must contain {key}); "
            "run calc_all() first if the system holds coefficients only",
        )
    return entry


def _read_pymrio_matrix(entry: _Entry, files: dict[str, str], *, numeric: bool = True) -> _Table:
    index_cols = entry.index_cols or _infer_index_cols(entry.path)
    _hash(entry.path, files)
    return _read_pymrio_text(
        entry.path, index_cols=index_cols, header_rows=entry.header_rows, numeric=numeric
    )


def _require_index_cols(table: _Table, count: int, what: str) -> None:
    width = len(table.rows[0]) if table.rows else count
    if width != count:
        raise DataFileError(
            f"{what} has {width} index column(s), expected {count} (region, sector)",
            file=str(table.path),
            line=table.lines[0],
            value=_show(table.rows[0]),
        )


def _check_rows(table: _Table, expected: list[Label], what: str) -> None:
    """The rows of ``table`` must be ``expected``, in order."""
    for k, label in enumerate(table.rows):
        if k >= len(expected):
            raise DataFileError(
                f"{what} has more rows than Z ({len(table.rows)} against {len(expected)})",
                file=str(table.path),
                line=table.lines[k],
                value=_show(label),
                hint="remove the extra row",
            )
        if label != expected[k]:
            raise DataFileError(
                f"row {k + 1} of {what} is {quote(_show(label))}, expected {quote(_show(expected[k]))}",
                file=str(table.path),
                line=table.lines[k],
                value=_show(label),
                allowed="the rows of Z, in the same order",
                hint="add the missing row or reorder the rows like Z",
            )
    if len(table.rows) < len(expected):
        raise DataFileError(
            f"{what} has {len(table.rows)} rows, Z has {len(expected)}: "
            f"row {quote(_show(expected[len(table.rows)]))} is missing",
            file=str(table.path),
            line=table.lines[-1] + 1 if table.lines else None,
            allowed="the rows of Z, in the same order",
        )


def _check_columns(table: _Table, expected: list[Label], what: str) -> None:
    """The columns of ``table`` must be ``expected``, in order."""
    for j, label in enumerate(table.columns):
        if j >= len(expected) or label != expected[j]:
            # Point at the header line of the first level that differs.
            level = 0
            if j < len(expected):
                pairs = zip(label, expected[j], strict=False)
                level = next((i for i, (a, b) in enumerate(pairs) if a != b), 0)
            detail = (
                f"is {quote(_show(label))}, expected {quote(_show(expected[j]))}"
                if j < len(expected)
                else f"{quote(_show(label))} is one more than the {len(expected)} rows of Z"
            )
            raise DataFileError(
                f"column {j + 1} of {what} {detail}",
                file=str(table.path),
                line=table.column_lines[min(level, len(table.column_lines) - 1)],
                value=_show(label),
                allowed="one column per row of Z, in the same order (Z must be square)",
            )
    if len(table.columns) < len(expected):
        raise DataFileError(
            f"{what} has {len(table.columns)} columns, Z has {len(expected)} rows: "
            f"column {quote(_show(expected[len(table.columns)]))} is missing",
            file=str(table.path),
            line=table.column_lines[0],
            allowed="one column per row of Z, in the same order (Z must be square)",
        )


def _majority_grid(rows: list[Label]) -> tuple[list[str], list[str]] | None:
    """The region-major grid most rows follow, or None when no majority decides.

    The number of sectors is the most common number of rows per region; each
    block of that many rows takes its most common region, each position in the
    blocks its most common sector. One mistyped label then stands out at its
    own row, where taking labels in order of first appearance would let a typo
    in an early row set the expectation and blame the correct rows after it.
    """
    per_region = Counter(Counter(label[0] for label in rows).values())
    size = per_region.most_common(1)[0][0] if rows else 0
    if not size or len(rows) % size:
        return None
    blocks = len(rows) // size
    regions = [
        Counter(label[0] for label in rows[b * size : (b + 1) * size]).most_common(1)[0][0]
        for b in range(blocks)
    ]
    sectors = [
        Counter(rows[b * size + p][1] for b in range(blocks)).most_common(1)[0][0]
        for p in range(size)
    ]
    if len(set(regions)) != blocks or len(set(sectors)) != size:
        return None
    return regions, sectors


def _grid(table: _Table) -> tuple[list[str], list[str]]:
    """Regions and sectors of Z's rows, which must be a complete region-major grid."""
    majority = _majority_grid(table.rows)
    if majority is not None:
        regions, sectors = majority
    else:
        regions = list(dict.fromkeys(label[0] for label in table.rows))
        sectors = list(dict.fromkeys(label[1] for label in table.rows))
    size = len(sectors)
    for k in range(max(len(table.rows), len(regions) * size)):
        expected = (regions[k // size], sectors[k % size])
        if k >= len(table.rows):
            raise DataFileError(
                f"Z has no row for {quote(_show(expected))}: the rows must cover every "
                "region x sector pair",
                file=str(table.path),
                line=table.lines[-1] + 1,
                allowed=f"{len(regions)} regions x {size} sectors = {len(regions) * size} rows",
            )
        if table.rows[k] != expected:
            raise DataFileError(
                f"row {k + 1} of Z is {quote(_show(table.rows[k]))}, expected {quote(_show(expected))}",
                file=str(table.path),
                line=table.lines[k],
                value=_show(table.rows[k]),
                allowed="every sector once per region, regions in blocks (region-major order), "
                "sectors in the same order in every region",
                hint="add the missing row, remove the duplicate or reorder the rows",
            )
    return regions, sectors


def _check_z(z: _Table) -> tuple[list[str], list[str]]:
    """Check that Z is a square, nonnegative region-major grid; its regions and sectors."""
    if not z.rows:
        raise DataFileError("Z has no data rows", file=str(z.path))
    # A repeated row is reported where it repeats; the checks of shape and order below
    # would only see its effect, at the end of the table or at a later row.
    first: dict[Label, int] = {}
    for k, label in enumerate(z.rows):
        if label in first:
            raise DataFileError(
                f"row {k + 1} of Z repeats {quote(_show(label))} (first on line "
                f"{z.lines[first[label]]})",
                file=str(z.path),
                line=z.lines[k],
                value=_show(label),
                allowed="every region:sector row once",
                hint="remove one of the two rows, or fix the label of this one",
            )
        first[label] = k
    if len(z.rows) > len(z.columns):
        k = len(z.columns)
        raise DataFileError(
            f"Z is not square: row {k + 1} is beyond the {k} columns of the header",
            file=str(z.path),
            line=z.lines[k],
            value=_show(z.rows[k]),
            allowed="one row per column",
        )
    regions, sectors = _grid(z)
    _check_columns(z, z.rows, "Z")
    negative = np.argwhere(z.values < 0)
    if negative.size:
        i, j = negative[0]
        raise DataFileError(
            f"negative intermediate flow from {quote(_show(z.rows[i]))} to {quote(_show(z.columns[j]))}",
            file=str(z.path),
            line=z.lines[i],
            value=float(z.values[i, j]),
            allowed="flows >= 0",
            hint="intermediate flows cannot be negative; book subsidies or corrections "
            "in final demand or value added",
        )
    return regions, sectors


def _assemble(
    z: _Table,
    grid: tuple[list[str], list[str]],
    y: _Table,
    x_table: _Table | None,
    satellites: dict[str, FloatArray],
    units: dict[str, str],
    files: dict[str, str],
) -> MRIOTable:
    """Check Y and x against Z (and its ``grid`` from _check_z) and build the table."""
    regions, sectors = grid
    _check_rows(y, z.rows, "Y")
    if y.values.shape[1] == 0:
        raise DataFileError(
            "Y has no final-demand columns", file=str(y.path), line=y.column_lines[0]
        )
    final_demand = y.values.sum(axis=1)
    x = z.values.sum(axis=1) + final_demand
    if np.any(x < 0):
        i = int(np.argmin(x))
        raise DataFileError(
            f"total output of {quote(_show(z.rows[i]))} is negative (Z row sum + final demand)",
            file=str(y.path),
            line=y.lines[i],
            value=float(x[i]),
            allowed="total output >= 0",
            hint="check the signs of the final-demand columns (inventory changes, exports)",
        )
    if x_table is not None:
        _check_rows(x_table, z.rows, "x")
        if x_table.values.shape[1] != 1:
            raise DataFileError(
                f"x has {x_table.values.shape[1]} value columns, expected 1",
                file=str(x_table.path),
                line=x_table.column_lines[0],
            )
        given = x_table.values[:, 0]
        gap = np.abs(given - x)
        scale = np.maximum(np.abs(given), np.abs(x))
        bad = np.flatnonzero(gap > BALANCE_TOLERANCE * scale)
        if bad.size:
            i = int(bad[0])
            raise DataFileError(
                f"the table does not balance: total output of {quote(_show(z.rows[i]))} is "
                f"{given[i]:.12g} but Z row sum + final demand is {x[i]:.12g} "
                f"(relative difference {gap[i] / scale[i]:.3g})",
                file=str(x_table.path),
                line=x_table.lines[i],
                value=float(given[i]),
                allowed=f"x = Z.sum(1) + Y.sum(1) within {BALANCE_TOLERANCE:g} relative",
                hint="recompute x from Z and Y, or check that Y holds every final-demand "
                "column and that all files are from the same table",
            )
    return MRIOTable(
        regions=regions,
        sectors=sectors,
        Z=z.values,
        final_demand=final_demand,
        x=x,
        satellites=satellites,
        units=units,
        files=files,
        z_file=str(z.path),
        y_file=str(y.path),
        z_lines=list(z.lines),
        y_lines=list(y.lines),
    )


def _extension_folders(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and ((p / "file_parameters.json").is_file() or (p / "F.txt").is_file())
    )


def _satellite_rows(table: _Table, extension: str) -> dict[str, int]:
    names: dict[str, int] = {}
    for k, label in enumerate(table.rows):
        name = f"{extension}/{_show(label)}"
        if name in names:
            raise DataFileError(
                f"satellite {quote(name)} appears twice (first on line {table.lines[names[name]]})",
                file=str(table.path),
                line=table.lines[k],
                value=_show(label),
                hint="give every satellite row a distinct label",
            )
        names[name] = k
    return names


def _unknown_satellite(folder: Path, name: str) -> DataFileError:
    available: list[str] = []
    for ext in _extension_folders(folder):
        params = _file_parameters(ext, {})
        entry = _pymrio_entry(ext, params, "F", _PYMRIO_MATRIX_HEADER_ROWS, required=False)
        if entry is not None:
            table = _read_pymrio_matrix(entry, {}, numeric=False)
            available.extend(_satellite_rows(table, ext.name))
    close = difflib.get_close_matches(name, available, n=3)
    hint = (
        f"did you mean {' or '.join(repr(c) for c in close)}?"
        if close
        else "name satellites 'extension folder/row label', index levels of the row joined by ':'"
    )
    return DataFileError(
        f"unknown satellite '{name}'",
        file=str(folder),
        value=name,
        allowed=_listing(available) if available else "none: the folder has no extensions",
        hint=hint,
    )


def _read_extension(
    folder: Path, extension: str, names: list[str], files: dict[str, str]
) -> tuple[_Table, dict[str, int], dict[str, str]]:
    """An extension's F table, its satellite rows by name, and their units."""
    ext_folder = folder / extension
    params = _file_parameters(ext_folder, files)
    entry = _pymrio_entry(ext_folder, params, "F", _PYMRIO_MATRIX_HEADER_ROWS, required=True)
    assert entry is not None
    table = _read_pymrio_matrix(entry, files)
    rows = _satellite_rows(table, extension)
    for name in names:
        if name not in rows:
            raise _unknown_satellite(folder, name)
    units: dict[str, str] = {}
    unit_entry = _pymrio_entry(ext_folder, params, "unit", 1, required=False)
    if unit_entry is not None:
        if unit_entry.index_cols is None:
            unit_entry.index_cols = len(table.rows[0]) if table.rows else 1
        unit_table = _read_pymrio_matrix(unit_entry, files, numeric=False)
        for label, cells in zip(unit_table.rows, unit_table.text, strict=True):
            if cells:
                units[f"{extension}/{_show(label)}"] = cells[0].strip()
    return table, rows, units


def read_pymrio_folder(path: Path, *, satellites: Sequence[str] = ()) -> MRIOTable:
    """Read a folder written by pymrio's ``IOSystem.save_all()`` in text format.

    The folder holds ``Z.txt`` and ``Y.txt``, optionally ``x.txt`` and
    ``file_parameters.json`` (which names the files and gives their number of
    index columns and header rows), and one subfolder per extension with
    ``F.txt`` and ``unit.txt``. Tables are tab-separated with multi-level
    labels: ``index`` columns (region, sector) on the left, one header line per
    column level (region, then sector or final-demand category), and a line of
    index names that pandas adds below them. Without ``file_parameters.json``
    the files are taken to be ``Z.txt``, ``Y.txt``... with two header lines
    (one for ``x.txt`` and ``unit.txt``), the index columns counted from the
    first line. Direct final-demand satellites (``F_Y``) are not read.

    Parameters
    ----------
    path : Path
        The folder.
    satellites : sequence of str
        Satellite rows to read, named ``"extension folder/row label"``, e.g.
        ``"factor_inputs/Value Added"``; a row with several index levels joins
        them with ``:``, e.g. ``"emissions/emission_type1:air"``.

    Returns
    -------
    MRIOTable
        Regions and sectors in the order of Z's rows; ``final_demand`` sums all
        columns of Y; ``x`` is ``Z.sum(1) + final_demand``; satellites are the
        rows of ``F`` (shape (n,), units from the extension's ``unit.txt``).

    Raises
    ------
    DataFileError
        If a file is missing or not in pymrio's text format, a cell is not a
        finite number, Z has a negative entry, Z is not square or its rows are
        not a complete region-major grid, the rows of Y, x or the columns of F
        do not follow Z, total output is negative, ``x.txt`` differs from
        ``Z.sum(1) + Y.sum(1)`` by more than 1e-6 relative, or a satellite is
        unknown (the message lists the available ones).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataFileError(
            "not a folder" if folder.exists() else "folder not found",
            file=str(folder),
            hint="pass the folder written by pymrio's IOSystem.save_all()",
        )
    files: dict[str, str] = {}
    params = _file_parameters(folder, files)
    header = _PYMRIO_MATRIX_HEADER_ROWS
    z_entry = _pymrio_entry(folder, params, "Z", header, required=True)
    y_entry = _pymrio_entry(folder, params, "Y", header, required=True)
    x_entry = _pymrio_entry(folder, params, "x", 1, required=False)
    assert z_entry is not None and y_entry is not None
    z = _read_pymrio_matrix(z_entry, files)
    _require_index_cols(z, 2, "Z")
    grid = _check_z(z)
    money_unit = _read_money_unit(folder, params, files)
    y = _read_pymrio_matrix(y_entry, files)
    _require_index_cols(y, 2, "Y")
    x_table = None
    if x_entry is not None:
        x_table = _read_pymrio_matrix(x_entry, files)

    wanted: dict[str, list[str]] = {}
    for name in satellites:
        extension, sep, _ = name.partition("/")
        if not sep or not (folder / extension).is_dir():
            raise _unknown_satellite(folder, name)
        wanted.setdefault(extension, []).append(name)
    rows: dict[str, FloatArray] = {}
    units: dict[str, str] = {}
    for extension, names in wanted.items():
        table, index, ext_units = _read_extension(folder, extension, names, files)
        _check_columns(table, z.rows, f"{extension}/F")
        for name in names:
            rows[name] = table.values[index[name]]
            if name in ext_units:
                units[name] = ext_units[name]
    # Keep the caller's order, which the dict of extensions above loses.
    ordered = {name: rows[name] for name in satellites}
    assembled = _assemble(z, grid, y, x_table, ordered, units, files)
    if money_unit is not None:
        assembled.money_unit, assembled.money_unit_file, assembled.money_unit_line = money_unit
    return assembled


def _read_money_unit(
    folder: Path, params: dict[str, _Entry], files: dict[str, str]
) -> tuple[str, str, int] | None:
    """The money unit pymrio's ``unit.txt`` states for Z's rows: (unit, file, line), or None.

    Raises DataFileError if the rows state different units.
    """
    entry = _pymrio_entry(folder, params, "unit", 1, required=False)
    if entry is None:
        return None
    if entry.index_cols is None:
        entry.index_cols = 2  # region, sector
    table = _read_pymrio_matrix(entry, files, numeric=False)
    stated = [
        (cells[0].strip(), line)
        for cells, line in zip(table.text, table.lines, strict=True)
        if cells and cells[0].strip()
    ]
    if not stated:
        return None
    first, first_line = stated[0]
    for unit, line in stated[1:]:
        if unit != first:
            raise DataFileError(
                f"the rows of the table state different money units: {quote(first)} on line "
                f"{first_line} and {quote(unit)}",
                file=str(entry.path),
                line=line,
                allowed="one money unit for every row of Z",
                hint="convert the table to one unit (pymrio: IOSystem.unit and the matrices)",
                show_value=False,
            )
    return first, str(entry.path), first_line


#: Words of a money unit that give its scale, lower case.
_SCALE_WORDS = {
    "one": "one", "1": "one", "units": "one",
    "thousand": "thousand", "thousands": "thousand", "k": "thousand", "th": "thousand",
    "tsd": "thousand", "1000": "thousand", "1e3": "thousand",
    "million": "million", "millions": "million", "mill": "million", "mio": "million",
    "mn": "million", "m": "million", "mln": "million", "1e6": "million",
    "billion": "billion", "billions": "billion", "bill": "billion", "bn": "billion",
    "b": "billion", "bln": "billion", "mrd": "billion", "1e9": "billion",
}  # fmt: skip


def parse_money_unit(text: str) -> tuple[str | None, str | None]:
    """``(currency, scale)`` of a table's money unit such as ``Mill USD`` or ``M.EUR``.

    ``currency`` is an upper-case ISO 4217 code, or None when the text names
    none (then the unit says nothing to check); ``scale`` is one of ``one``,
    ``thousand``, ``million`` or ``billion`` (``one`` when only the currency is
    given), or None when a word of the text is not understood.
    """
    currency: str | None = None
    scales: set[str] = set()
    understood = True
    for token in (t for t in re.split(r"[\s._/,()\-]+", text.strip()) if t):
        word = token.lower()
        if len(token) == 3 and token.isalpha() and token.isupper() and currency is None:
            currency = token
        elif word in _SCALE_WORDS:
            scales.add(_SCALE_WORDS[word])
        elif len(token) == 4 and token[1:].isalpha() and token[1:].isupper() and currency is None:
            # MEUR, kUSD, BUSD: a scale letter glued to the currency
            prefix = _SCALE_WORDS.get(token[0].lower())
            if prefix is None:
                understood = False
            else:
                currency = token[1:]
                scales.add(prefix)
        else:
            understood = False
    if len(scales) > 1 or not understood:
        return currency, None
    return currency, scales.pop() if scales else "one"


def _read_csv(path: Path, what: str, *, unit_column: bool = False) -> _Table:
    """A CSV table: a header row of column labels, then one label and the values per row.

    With ``unit_column``, a second column headed ``unit`` holds each row's unit
    in ``text``.
    """
    table = _Table(path=path, columns=[], column_lines=[1])
    rows: list[FloatArray] = []
    width = 0
    units_here = False
    for line, cells in _records(path, ","):
        cells = [c.strip() for c in cells]
        if line == 1:
            units_here = unit_column and len(cells) > 1 and cells[1].lower() == "unit"
            first = 2 if units_here else 1
            table.columns = [(c,) for c in cells[first:]]
            width = len(table.columns)
            if width == 0:
                raise DataFileError(
                    f"{what} has no value columns",
                    file=str(path),
                    line=1,
                    allowed="a header row: a corner cell, then one label per column",
                )
            continue
        if not cells or all(not c for c in cells):
            continue
        first = 2 if units_here else 1
        if len(cells) != first + width:
            raise DataFileError(
                f"row has {len(cells) - first} value(s), the header has {width} column(s)",
                file=str(path),
                line=line,
                value=cells[0],
                hint="check for stray commas or missing cells",
            )
        table.rows.append((cells[0],))
        table.lines.append(line)
        if units_here:
            table.text.append([cells[1]])
        rows.append(_numbers(path, line, cells[first:], table.columns))
    if not table.columns:
        raise DataFileError(f"{what} file is empty", file=str(path), line=1)
    _collect(table, rows)
    return table


def _split_label(path: Path, line: int, text: str) -> Label:
    region, sep, sector = text.partition(":")
    if not sep or not region.strip() or not sector.strip():
        raise DataFileError(
            f"label {quote(text)} is not 'region:sector'",
            file=str(path),
            line=line,
            value=text,
            allowed="region and sector joined by ':', e.g. 'KZ:agriculture'",
        )
    return (region.strip(), sector.strip())


def _split_rows(table: _Table) -> None:
    table.rows = [
        _split_label(table.path, line, label[0])
        for line, label in zip(table.lines, table.rows, strict=True)
    ]


def _split_columns(table: _Table) -> None:
    table.columns = [_split_label(table.path, 1, label[0]) for label in table.columns]


def read_csv_matrices(
    z_file: Path,
    y_file: Path,
    *,
    satellite_files: Mapping[str, Path] = _NO_FILES,
    x_file: Path | None = None,
) -> MRIOTable:
    """Read an MRIO table from plain CSV matrices.

    Every row and column of Z is labelled ``region:sector``; the rows must
    cover every region x sector pair in region-major order (all sectors of the
    first region, in one sector order, then the next region).

    Parameters
    ----------
    z_file : Path
        Intermediate flows, currency units: a header row (a corner cell, then
        the ``region:sector`` label of every column) and one row per
        region-sector (the label, then its sales to every column). Must be
        square, with the columns in the order of the rows.
    y_file : Path
        Final demand: a header row (a corner cell, then one or more
        final-demand column names) and the rows of Z in the same order.
        Columns are summed; entries may be negative (inventory changes).
    satellite_files : mapping of str to Path
        Extension name -> file of satellite accounts: a header row (a corner
        cell, optionally ``unit``, then the column labels of Z) and one row per
        satellite (its name, its unit if the header has ``unit``, then one
        value per column of Z). Satellites are named ``"extension/row name"``.
    x_file : Path, optional
        Total output, to check the table's balance: a header row and the rows
        of Z with one value each.

    Returns
    -------
    MRIOTable
        Regions and sectors in the order of Z's rows; ``x`` is
        ``Z.sum(1) + final_demand``.

    Raises
    ------
    DataFileError
        If a file is missing, a label is not ``region:sector``, a cell is not a
        finite number, Z has a negative entry, Z is not square or its rows are
        not a complete region-major grid, the rows of Y or x or the columns of
        a satellite file do not follow Z, total output is negative, or ``x``
        differs from ``Z.sum(1) + Y.sum(1)`` by more than 1e-6 relative.
    """
    files: dict[str, str] = {}
    paths = [Path(z_file), Path(y_file), *(Path(p) for p in satellite_files.values())]
    if x_file is not None:
        paths.append(Path(x_file))
    for path in paths:
        if not path.is_file():
            kind = what_is(path)
            raise DataFileError(
                "data file not found" if kind == "not found" else f"data file is {kind}",
                file=str(path),
                allowed="a regular file (a CSV table)",
                hint="check the spelling and the folder of the path"
                if kind == "not found"
                else "point the key at the CSV file itself",
            )
        _hash(path, files)

    z = _read_csv(Path(z_file), "Z")
    _split_columns(z)
    _split_rows(z)
    grid = _check_z(z)
    y = _read_csv(Path(y_file), "Y")
    _split_rows(y)
    x_table = None
    if x_file is not None:
        x_table = _read_csv(Path(x_file), "x")
        _split_rows(x_table)

    satellites: dict[str, FloatArray] = {}
    units: dict[str, str] = {}
    for extension, sat_path in satellite_files.items():
        table = _read_csv(Path(sat_path), "satellite", unit_column=True)
        _split_columns(table)
        _check_columns(table, z.rows, "the satellite file")
        for k, (label, line) in enumerate(zip(table.rows, table.lines, strict=True)):
            name = f"{extension}/{label[0]}"
            if name in satellites:
                raise DataFileError(
                    f"satellite {quote(name)} appears twice",
                    file=str(table.path),
                    line=line,
                    value=label[0],
                    hint="give every satellite row a distinct name",
                )
            satellites[name] = table.values[k]
            if table.text and table.text[k][0]:
                units[name] = table.text[k][0]
    return _assemble(z, grid, y, x_table, satellites, units, files)


def _concordance(
    labels: list[str],
    mapping: Mapping[str, str] | None,
    order: Sequence[str] | None,
    what: str,
) -> tuple[NDArray[np.intp], list[str]]:
    """Target index of every source label, and the target labels in output order."""
    if mapping is None:
        mapping = {label: label for label in labels}
    for label in labels:
        if label not in mapping:
            raise DataFileError(
                f"{what} {quote(label)} of the table is not mapped to a target {what}",
                value=label,
                allowed=f"a target for every {what} of the table: {_listing(labels)}",
                hint=f"add '{label}' to the {what} map",
            )
    produced = list(dict.fromkeys(mapping[label] for label in labels))
    if order is None:
        targets = produced
    else:
        targets = list(order)
        duplicates = [t for t in dict.fromkeys(targets) if targets.count(t) > 1]
        if duplicates:
            raise DataFileError(
                f"target {what} '{duplicates[0]}' is listed twice in the target order",
                value=duplicates[0],
                hint=f"list every target {what} once",
            )
        missing = [t for t in produced if t not in targets]
        if missing:
            raise DataFileError(
                f"target {what} '{missing[0]}' of the map is not in the target order",
                value=missing[0],
                allowed=_listing(targets),
                hint=f"add '{missing[0]}' to the target {what}s or fix the map",
            )
        unused = [t for t in targets if t not in produced]
        if unused:
            # A target nothing maps to would be an all-zero block, almost
            # always a typo in the map.
            raise DataFileError(
                f"no {what} of the table maps to target {what} '{unused[0]}'",
                value=unused[0],
                allowed=f"targets of the map: {_listing(produced)}",
                hint=f"map at least one {what} to '{unused[0]}' or remove it from the order",
            )
    position = {t: k for k, t in enumerate(targets)}
    return np.array([position[mapping[label]] for label in labels], dtype=np.intp), targets


def _sum_groups(array: FloatArray, target: NDArray[np.intp], size: int, axis: int) -> FloatArray:
    """Sum the slices of ``array`` along ``axis`` that share a target index."""
    order = np.argsort(target, kind="stable")
    counts = np.bincount(target, minlength=size)
    # reduceat would copy a neighbour into an empty group instead of a zero;
    # _concordance guarantees that every target has a source.
    assert np.all(counts > 0)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return np.add.reduceat(np.take(array, order, axis=axis), starts, axis=axis)


def aggregate(
    table: MRIOTable,
    region_map: Mapping[str, str] | None,
    sector_map: Mapping[str, str] | None,
    *,
    regions: Sequence[str] | None = None,
    sectors: Sequence[str] | None = None,
) -> MRIOTable:
    """Map a table onto target regions and sectors by summing flows.

    Parameters
    ----------
    table : MRIOTable
        The source table (``n = R * S`` rows).
    region_map, sector_map : mapping of str to str, or None
        Concordance: source label -> target label. Several sources may share a
        target; keys that are not labels of the table are ignored. ``None``
        keeps the labels as they are.
    regions, sectors : sequence of str, optional
        Target labels in output order, each once; every target of the map must
        be listed and every listed one must receive a source. Default: order
        of first appearance in the map's values, following the table's order.

    Returns
    -------
    MRIOTable
        ``n' = R' * S'`` rows, region-major. ``Z``, ``final_demand``, ``x``
        and the satellites are sums over the source rows (and columns) that
        map to each target, in the same units; ``units`` and ``files`` are
        copied.

    Raises
    ------
    DataFileError
        If a region or sector of the table is not mapped (the message names
        it), or the target order lists a target twice, lacks a target of the
        map, or lists a target that nothing maps to.
    """
    r_index, new_regions = _concordance(table.regions, region_map, regions, "region")
    s_index, new_sectors = _concordance(table.sectors, sector_map, sectors, "sector")
    size = len(new_regions) * len(new_sectors)
    target = (r_index[:, np.newaxis] * len(new_sectors) + s_index[np.newaxis, :]).ravel()
    Z = _sum_groups(_sum_groups(table.Z, target, size, 0), target, size, 1)
    return MRIOTable(
        regions=new_regions,
        sectors=new_sectors,
        Z=Z,
        final_demand=_sum_groups(table.final_demand, target, size, 0),
        x=_sum_groups(table.x, target, size, 0),
        satellites={
            name: _sum_groups(row, target, size, 0) for name, row in table.satellites.items()
        },
        units=dict(table.units),
        files=dict(table.files),
    )


def check_productive(
    source: MRIOTable,
    table: MRIOTable,
    region_map: Mapping[str, str] | None,
    sector_map: Mapping[str, str] | None,
) -> None:
    """Refuse an aggregated table that is not productive, at the final demand to blame.

    The engine inverts ``I - A`` of the aggregated table, ``A = Z / x``, which
    needs the spectral radius of ``A`` below 1; otherwise it stops with a
    :class:`~sim.errors.NumericalError` that names neither file nor row. With
    ``x = Z.sum(1) + y``, ``A x = Z.sum(1) <= x`` wherever final demand ``y``
    is nonnegative, so the radius can reach 1 only through a negative final
    demand (output below intermediate sales) or zero final demand on a block
    of industries that sell only to each other: the row of Y is what to fix.
    When every column of ``A`` sums to less than 1 the radius is below 1 and
    nothing more is computed; otherwise the engine's own test decides.

    Parameters
    ----------
    source
        The table as read (its ``y_file`` and ``y_lines`` set).
    table
        ``source`` aggregated by :func:`aggregate` with these maps.
    region_map, sector_map
        The maps given to :func:`aggregate` (``None``: labels kept).

    Raises
    ------
    DataFileError
        At the line of Y with the lowest final demand among the industries of
        the aggregated column whose inputs are largest relative to its output.
    """
    inputs = table.Z.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(table.x > 0, inputs / table.x, np.where(inputs > 0, np.inf, 0.0))
    if not ratio.size or float(ratio.max()) < 1.0 - 1e-9:
        return  # the spectral radius is at most the largest column sum
    try:
        leontief.leontief_inverse(leontief.technical_coefficients(table.Z, table.x))
    except NumericalError as exc:
        problem = str(exc).split(", allowed:", 1)[0].split("; fix:", 1)[0]
    else:
        return
    worst = int(np.argmax(ratio))
    size = len(table.sectors)
    target = [
        table.regions.index(region_map.get(r, r) if region_map else r) * size
        + table.sectors.index(sector_map.get(s, s) if sector_map else s)
        for r in source.regions
        for s in source.sectors
    ]
    members = [k for k, t in enumerate(target) if t == worst]
    k = min(members, key=lambda m: float(source.final_demand[m]))
    raise DataFileError(
        f"{problem} once aggregated onto the scenario's regions and sectors: the "
        f"intermediate inputs of {table.labels[worst]} are {ratio[worst]:.4g} times its output "
        f"(intermediate sales plus final demand), and the final demand of "
        f"'{source.labels[k]}' is {float(source.final_demand[k]):.6g}",
        file=source.y_file or None,
        line=source.y_lines[k] if source.y_lines else None,
        value=float(source.final_demand[k]),
        allowed="final demand that leaves every industry's output above its intermediate inputs",
        hint="check the signs and units of this row's final-demand columns, and that Z and Y "
        "are from the same table and year",
    )


def largest_flow_lines(
    source: MRIOTable,
    table: MRIOTable,
    region_map: Mapping[str, str] | None,
    sector_map: Mapping[str, str] | None,
) -> NDArray[np.int64]:
    """For each cell of the aggregated ``table``, the line of ``source``'s Z row with the
    largest flow summed into it (0 where the source has no line numbers).

    Parameters
    ----------
    source
        The table as read (``z_lines`` set).
    table
        ``source`` aggregated by :func:`aggregate` with these maps.
    region_map, sector_map
        The maps given to :func:`aggregate` (``None``: labels kept).

    Returns
    -------
    (n, n) int array, n the aggregated table's region-sectors.
    """
    n = len(table.regions) * len(table.sectors)
    lines = np.zeros((n, n), dtype=np.int64)
    if not source.z_lines:
        return lines
    size = len(table.sectors)
    target = np.array(
        [
            table.regions.index(region_map.get(r, r) if region_map else r) * size
            + table.sectors.index(sector_map.get(s, s) if sector_map else s)
            for r in source.regions
            for s in source.sectors
        ]
    )
    source_lines = np.asarray(source.z_lines, dtype=np.int64)
    for col in range(n):
        # The largest flow of each source row into this aggregated column.
        into = np.abs(source.Z[:, target == col]).max(axis=1, initial=0.0)
        for row in range(n):
            members = np.flatnonzero(target == row)
            if members.size:
                lines[row, col] = source_lines[members[np.argmax(into[members])]]
    return lines

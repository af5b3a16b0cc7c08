"""Labelled text matrices as pymrio writes them and as CSV files hold them: reading
rows with their line numbers, checking labels against the expected grid."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from sim.errors import DataFileError, not_a_number, quote
from sim.scenario.files import sha256_file
from sim.scenario.mrio.table import FloatArray, Label

# pymrio's loader reads every text table with a tab, whatever the file suffix
# (save_all(table_format="csv") writes tab-separated ``Z.csv``).
_PYMRIO_SEPARATOR = "\t"
TEXT_SUFFIXES = (".txt", ".tsv", ".csv")

# Header rows of a pymrio matrix: region and sector (or final-demand category).
PYMRIO_MATRIX_HEADER_ROWS = 2

# Long lists of satellites (EXIOBASE has over a thousand) would bury the message.
_MAX_LISTED = 30

NO_FILES: Mapping[str, Path] = MappingProxyType({})


@dataclass
class TextTable:
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


def show_label(label: Label) -> str:
    return ":".join(label)


def listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f", ... ({len(names) - _MAX_LISTED} more)"
    return shown


def record_hash(path: Path, files: dict[str, str]) -> None:
    try:
        files[str(path)] = sha256_file(path)
    except OSError as exc:
        raise DataFileError(
            f"cannot read data file: {exc.strerror or exc}", file=str(path)
        ) from None


def read_records(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
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


def parse_numbers(path: Path, line: int, cells: list[str], columns: list[Label]) -> FloatArray:
    """One row of numbers, or an error naming the first bad cell."""
    try:
        row = np.array(cells, dtype=np.float64)
    except ValueError:
        # The vectorised conversion does not say which cell failed; find it.
        for cell, column in zip(cells, columns, strict=True):
            try:
                float(cell)
            except ValueError:
                raise not_a_number(quote(show_label(column)), cell, str(path), line) from None
        raise
    if not np.all(np.isfinite(row)):
        j = int(np.argmin(np.isfinite(row)))
        raise DataFileError(
            f"column {quote(show_label(columns[j]))} is not a finite number",
            file=str(path),
            line=line,
            value=cells[j],
            allowed="a finite number",
            hint="write 0 for no flow; missing data cannot be left as NaN",
        )
    return row


def stack_values(table: TextTable, rows: list[FloatArray]) -> None:
    table.values = np.vstack(rows) if rows else np.zeros((0, len(table.columns)))


def read_pymrio_text(path: Path, *, index_cols: int, header_rows: int, numeric: bool) -> TextTable:
    """Read one table that pymrio wrote with ``DataFrame.to_csv(sep="\\t")``.

    The first ``header_rows`` lines hold one column-index level each after
    ``index_cols`` cells (the level's name, then blanks); pandas then adds a
    line of index names (values blank) when the index is named, which pymrio's
    ``nr_header`` does not count. Each data line is ``index_cols`` label cells
    followed by the values.
    """
    header: list[list[str]] = []
    table = TextTable(path=path, columns=[], column_lines=[])
    rows: list[FloatArray] = []
    width = 0
    for line, cells in read_records(path, _PYMRIO_SEPARATOR):
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
            rows.append(parse_numbers(path, line, cells[index_cols:], table.columns))
        else:
            table.text.append(cells[index_cols:])
    if len(header) < header_rows:
        raise DataFileError(
            f"file has {len(header)} header line(s), expected {header_rows}",
            file=str(path),
            hint="the file does not look like a table written by pymrio's save_all()",
        )
    if numeric:
        stack_values(table, rows)
    return table


def infer_index_cols(path: Path) -> int:
    """Number of index columns of a pymrio matrix written without file_parameters.json.

    The first header line is the column level's name (or blank), blanks up
    to the last index column, then the column labels.
    """
    for _, cells in read_records(path, _PYMRIO_SEPARATOR):
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


def require_index_cols(table: TextTable, count: int, what: str) -> None:
    width = len(table.rows[0]) if table.rows else count
    if width != count:
        raise DataFileError(
            f"{what} has {width} index column(s), expected {count} (region, sector)",
            file=str(table.path),
            line=table.lines[0],
            value=show_label(table.rows[0]),
        )


def check_rows(table: TextTable, expected: list[Label], what: str) -> None:
    """The rows of ``table`` must be ``expected``, in order."""
    for k, label in enumerate(table.rows):
        if k >= len(expected):
            raise DataFileError(
                f"{what} has more rows than Z ({len(table.rows)} against {len(expected)})",
                file=str(table.path),
                line=table.lines[k],
                value=show_label(label),
                hint="remove the extra row",
            )
        if label != expected[k]:
            raise DataFileError(
                f"row {k + 1} of {what} is {quote(show_label(label))}, expected {quote(show_label(expected[k]))}",
                file=str(table.path),
                line=table.lines[k],
                value=show_label(label),
                allowed="the rows of Z, in the same order",
                hint="add the missing row or reorder the rows like Z",
            )
    if len(table.rows) < len(expected):
        raise DataFileError(
            f"{what} has {len(table.rows)} rows, Z has {len(expected)}: "
            f"row {quote(show_label(expected[len(table.rows)]))} is missing",
            file=str(table.path),
            line=table.lines[-1] + 1 if table.lines else None,
            allowed="the rows of Z, in the same order",
        )


def check_columns(table: TextTable, expected: list[Label], what: str) -> None:
    """The columns of ``table`` must be ``expected``, in order."""
    for j, label in enumerate(table.columns):
        if j >= len(expected) or label != expected[j]:
            # Point at the header line of the first level that differs.
            level = 0
            if j < len(expected):
                pairs = zip(label, expected[j], strict=False)
                level = next((i for i, (a, b) in enumerate(pairs) if a != b), 0)
            detail = (
                f"is {quote(show_label(label))}, expected {quote(show_label(expected[j]))}"
                if j < len(expected)
                else f"{quote(show_label(label))} is one more than the {len(expected)} rows of Z"
            )
            raise DataFileError(
                f"column {j + 1} of {what} {detail}",
                file=str(table.path),
                line=table.column_lines[min(level, len(table.column_lines) - 1)],
                value=show_label(label),
                allowed="one column per row of Z, in the same order (Z must be square)",
            )
    if len(table.columns) < len(expected):
        raise DataFileError(
            f"{what} has {len(table.columns)} columns, Z has {len(expected)} rows: "
            f"column {quote(show_label(expected[len(table.columns)]))} is missing",
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


def _grid(table: TextTable) -> tuple[list[str], list[str]]:
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
                f"Z has no row for {quote(show_label(expected))}: the rows must cover every "
                "region x sector pair",
                file=str(table.path),
                line=table.lines[-1] + 1,
                allowed=f"{len(regions)} regions x {size} sectors = {len(regions) * size} rows",
            )
        if table.rows[k] != expected:
            raise DataFileError(
                f"row {k + 1} of Z is {quote(show_label(table.rows[k]))}, expected {quote(show_label(expected))}",
                file=str(table.path),
                line=table.lines[k],
                value=show_label(table.rows[k]),
                allowed="every sector once per region, regions in blocks (region-major order), "
                "sectors in the same order in every region",
                hint="add the missing row, remove the duplicate or reorder the rows",
            )
    return regions, sectors


def check_z(z: TextTable) -> tuple[list[str], list[str]]:
    """Check that Z is a square, nonnegative region-major grid; its regions and sectors."""
    if not z.rows:
        raise DataFileError("Z has no data rows", file=str(z.path))
    # A repeated row is reported where it repeats; the checks of shape and order below
    # would only see its effect, at the end of the table or at a later row.
    first: dict[Label, int] = {}
    for k, label in enumerate(z.rows):
        if label in first:
            raise DataFileError(
                f"row {k + 1} of Z repeats {quote(show_label(label))} (first on line "
                f"{z.lines[first[label]]})",
                file=str(z.path),
                line=z.lines[k],
                value=show_label(label),
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
            value=show_label(z.rows[k]),
            allowed="one row per column",
        )
    regions, sectors = _grid(z)
    check_columns(z, z.rows, "Z")
    negative = np.argwhere(z.values < 0)
    if negative.size:
        i, j = negative[0]
        raise DataFileError(
            f"negative intermediate flow from {quote(show_label(z.rows[i]))} to {quote(show_label(z.columns[j]))}",
            file=str(z.path),
            line=z.lines[i],
            value=float(z.values[i, j]),
            allowed="flows >= 0",
            hint="intermediate flows cannot be negative; book subsidies or corrections "
            "in final demand or value added",
        )
    return regions, sectors

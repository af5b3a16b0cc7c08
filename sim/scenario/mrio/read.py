"""Read an MRIO table: a folder written by pymrio's ``save_all()`` (text format), or plain
CSV matrices labelled ``region:sector``."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import DataFileError, quote
from sim.scenario.files import what_is
from sim.scenario.mrio.table import BALANCE_TOLERANCE, FloatArray, Label, MRIOTable
from sim.scenario.mrio.text import (
    NO_FILES,
    PYMRIO_MATRIX_HEADER_ROWS,
    TEXT_SUFFIXES,
    TextTable,
    check_columns,
    check_rows,
    check_z,
    infer_index_cols,
    listing,
    parse_numbers,
    read_pymrio_text,
    read_records,
    record_hash,
    require_index_cols,
    show_label,
    stack_values,
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
    record_hash(para, files)
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
    if entry.path.suffix.lower() not in TEXT_SUFFIXES:
        raise DataFileError(
            f"table {key} is stored as '{entry.path.suffix}', only pymrio's text format is read",
            file=str(entry.path),
            allowed=", ".join(TEXT_SUFFIXES),
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


def _read_pymrio_matrix(entry: _Entry, files: dict[str, str], *, numeric: bool = True) -> TextTable:
    index_cols = entry.index_cols or infer_index_cols(entry.path)
    record_hash(entry.path, files)
    return read_pymrio_text(
        entry.path, index_cols=index_cols, header_rows=entry.header_rows, numeric=numeric
    )


def _assemble(
    z: TextTable,
    grid: tuple[list[str], list[str]],
    y: TextTable,
    x_table: TextTable | None,
    satellites: dict[str, FloatArray],
    units: dict[str, str],
    files: dict[str, str],
) -> MRIOTable:
    """Check Y and x against Z (and its ``grid`` from check_z) and build the table."""
    regions, sectors = grid
    check_rows(y, z.rows, "Y")
    if y.values.shape[1] == 0:
        raise DataFileError(
            "Y has no final-demand columns", file=str(y.path), line=y.column_lines[0]
        )
    final_demand = y.values.sum(axis=1)
    x = z.values.sum(axis=1) + final_demand
    if np.any(x < 0):
        i = int(np.argmin(x))
        raise DataFileError(
            f"total output of {quote(show_label(z.rows[i]))} is negative (Z row sum + final demand)",
            file=str(y.path),
            line=y.lines[i],
            value=float(x[i]),
            allowed="total output >= 0",
            hint="check the signs of the final-demand columns (inventory changes, exports)",
        )
    if x_table is not None:
        check_rows(x_table, z.rows, "x")
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
                f"the table does not balance: total output of {quote(show_label(z.rows[i]))} is "
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


def _satellite_rows(table: TextTable, extension: str) -> dict[str, int]:
    names: dict[str, int] = {}
    for k, label in enumerate(table.rows):
        name = f"{extension}/{show_label(label)}"
        if name in names:
            raise DataFileError(
                f"satellite {quote(name)} appears twice (first on line {table.lines[names[name]]})",
                file=str(table.path),
                line=table.lines[k],
                value=show_label(label),
                hint="give every satellite row a distinct label",
            )
        names[name] = k
    return names


def _unknown_satellite(folder: Path, name: str) -> DataFileError:
    available: list[str] = []
    for ext in _extension_folders(folder):
        params = _file_parameters(ext, {})
        entry = _pymrio_entry(ext, params, "F", PYMRIO_MATRIX_HEADER_ROWS, required=False)
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
        allowed=listing(available) if available else "none: the folder has no extensions",
        hint=hint,
    )


def _read_extension(
    folder: Path, extension: str, names: list[str], files: dict[str, str]
) -> tuple[TextTable, dict[str, int], dict[str, str]]:
    """An extension's F table, its satellite rows by name, and their units."""
    ext_folder = folder / extension
    params = _file_parameters(ext_folder, files)
    entry = _pymrio_entry(ext_folder, params, "F", PYMRIO_MATRIX_HEADER_ROWS, required=True)
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
                units[f"{extension}/{show_label(label)}"] = cells[0].strip()
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
    header = PYMRIO_MATRIX_HEADER_ROWS
    z_entry = _pymrio_entry(folder, params, "Z", header, required=True)
    y_entry = _pymrio_entry(folder, params, "Y", header, required=True)
    x_entry = _pymrio_entry(folder, params, "x", 1, required=False)
    assert z_entry is not None and y_entry is not None
    z = _read_pymrio_matrix(z_entry, files)
    require_index_cols(z, 2, "Z")
    grid = check_z(z)
    money_unit = _read_money_unit(folder, params, files)
    y = _read_pymrio_matrix(y_entry, files)
    require_index_cols(y, 2, "Y")
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
        check_columns(table, z.rows, f"{extension}/F")
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


def _read_csv(path: Path, what: str, *, unit_column: bool = False) -> TextTable:
    """A CSV table: a header row of column labels, then one label and the values per row.

    With ``unit_column``, a second column headed ``unit`` holds each row's unit
    in ``text``.
    """
    table = TextTable(path=path, columns=[], column_lines=[1])
    rows: list[FloatArray] = []
    width = 0
    units_here = False
    for line, cells in read_records(path, ","):
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
        rows.append(parse_numbers(path, line, cells[first:], table.columns))
    if not table.columns:
        raise DataFileError(f"{what} file is empty", file=str(path), line=1)
    stack_values(table, rows)
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


def _split_rows(table: TextTable) -> None:
    table.rows = [
        _split_label(table.path, line, label[0])
        for line, label in zip(table.lines, table.rows, strict=True)
    ]


def _split_columns(table: TextTable) -> None:
    table.columns = [_split_label(table.path, 1, label[0]) for label in table.columns]


def read_csv_matrices(
    z_file: Path,
    y_file: Path,
    *,
    satellite_files: Mapping[str, Path] = NO_FILES,
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
        record_hash(path, files)

    z = _read_csv(Path(z_file), "Z")
    _split_columns(z)
    _split_rows(z)
    grid = check_z(z)
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
        check_columns(table, z.rows, "the satellite file")
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

"""Read a long trade table for estimation and check it before any fit.

One row per exporter, importer (and year, for a panel) with the trade value and
the gravity covariates, as in the gegravity sample, CEPII/BACI extracts or
ITPD-E-style tables: the layout ``trade.baseline`` reads. Checks name the file,
the column and the first offending row (1-based, counting the header as row 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import quote
from sim.estimation.errors import EstimationError


@dataclass(frozen=True)
class PanelColumns:
    """Column names of a trade table (the defaults are the gegravity sample's)."""

    exporter: str = "exporter"
    importer: str = "importer"
    value: str = "trade"
    year: str | None = None  # None: a cross-section


def load_trade_table(
    path: str | Path, columns: PanelColumns, covariates: Sequence[str]
) -> pd.DataFrame:
    """Read ``path`` (CSV) and return the columns the estimation needs, checked.

    Raises
    ------
    EstimationError
        If the file cannot be read, has no rows, a column is missing, a value is not a
        finite number, trade is negative or zero throughout, or an exporter-importer(-year)
        row is repeated.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise EstimationError(
            f"{path}: no such file",
            hint="give the path of a CSV trade table (one row per exporter and importer)",
        ) from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise EstimationError(
            f"{path}: cannot be read as CSV ({type(exc).__name__})",
            allowed="a comma-separated table with a header row",
            hint="export the table as CSV",
        ) from None
    keys = [columns.exporter, columns.importer] + ([columns.year] if columns.year else [])
    needed = [*keys, columns.value, *covariates]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise EstimationError(
            f"{path}: no column {quote(missing[0])}",
            allowed=f"the file's columns: {', '.join(map(str, table.columns))}",
            hint="name the columns with --exporter, --importer, --value, --year and --covariates",
        )
    if table.empty:
        # Checked here, not left to the fit: numpy's reductions fail on an empty column.
        raise EstimationError(
            f"{path}: the table has no rows, only a header",
            allowed="one row per " + ", ".join(keys) + " with its trade and covariates",
            hint="check that the file is the complete export of the trade table",
        )
    for name in (columns.value, *covariates):
        values = pd.to_numeric(table[name], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            row = int(np.argmax(bad))
            raise EstimationError(
                f"{path}, row {row + 2}, column {quote(name)}: "
                f"{quote(table[name].iloc[row])} is not a finite number",
                allowed="numbers (a point for decimals, no separators or units)",
                hint="fix or drop the row",
            )
        table[name] = values.astype(float)
    negative = table[columns.value] < 0
    if negative.any():
        row = int(np.argmax(negative.to_numpy()))
        raise EstimationError(
            f"{path}, row {row + 2}: trade {table[columns.value].iloc[row]:g} is negative",
            allowed="trade values >= 0 (zeros are kept: PPML uses them)",
            hint="check the trade column",
        )
    if not (table[columns.value] > 0).any():
        # Refused before the fit: pyfixest's demeaning aborts the whole process (a Rust
        # panic, not an exception) once separation has dropped every row.
        raise EstimationError(
            f"{path}, column {quote(columns.value)}: every trade value is 0",
            allowed="a table with positive trade flows (zeros are kept beside them)",
            hint=f"check that --value names the trade column (it is {columns.value})",
        )
    repeated = table.duplicated(keys)
    if repeated.any():
        row = int(np.argmax(repeated.to_numpy()))
        raise EstimationError(
            f"{path}, row {row + 2}: {', '.join(str(table[k].iloc[row]) for k in keys)} "
            "appears twice",
            allowed="one row per " + ", ".join(keys),
            hint="sum or drop the repeated rows",
        )
    for key in keys:
        table[key] = table[key].astype(str)
    return table[needed].reset_index(drop=True)

"""Quantiles of a run's output variables as a tidy table (CSV), for Excel or Stata users.

One row per variable, label combination (year or period, region, pair, ...) and
quantile over the replicas, with the variable's units; written atomically, never
over the run it reads (:mod:`sim.results.guard`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from sim.analysis.results import check_quantity
from sim.errors import SimError
from sim.results.guard import check_output
from sim.results.write import write_file

__all__ = ["export_quantiles", "parse_quantiles", "write_export"]


def parse_quantiles(text: str) -> list[float]:
    """``"5,50,95"`` (percent) as ``[0.05, 0.5, 0.95]``; refuses anything outside 0-100."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SimError(
            f"--quantiles {text!r} is not a list of numbers\n"
            "  allowed: percents from 0 to 100, separated by commas\n"
            "  fix: write for example --quantiles 5,50,95"
        ) from None
    if not values or any(not 0.0 <= v <= 100.0 for v in values):
        raise SimError(
            f"--quantiles {text!r}: each quantile must lie in 0-100 (percent)\n"
            "  allowed: percents from 0 to 100, separated by commas\n"
            "  fix: write for example --quantiles 5,50,95"
        )
    # A quantile asked twice would repeat its rows.
    return [v / 100.0 for v in dict.fromkeys(values)]


def export_quantiles(
    ds: xr.Dataset, variables: Sequence[str], quantiles: Sequence[float]
) -> pd.DataFrame:
    """A long table: variable, its labels, quantile (percent), value, units.

    Parameters
    ----------
    ds
        A run (leading dimension ``replica``).
    variables
        Names of variables with a ``replica`` dimension.
    quantiles
        Shares in [0, 1], e.g. ``[0.05, 0.5, 0.95]``.
    """
    frames = []
    for name in dict.fromkeys(variables):  # a variable asked twice, once
        if name not in ds.data_vars or "replica" not in ds[name].dims:
            allowed = sorted(str(v) for v in ds.data_vars if "replica" in ds[v].dims)
            raise SimError(
                f"--var {name!r} is not an output variable of this run\n"
                f"  allowed: {', '.join(allowed)}\n"
                "  fix: see docs/outputs.md for what each variable holds"
            )
        var = ds[name]
        check_quantity(var)
        with warnings.catch_warnings():
            # Labels without a value in any replica (a ratio without its denominator) are
            # NaN in the table, not a warning.
            warnings.simplefilter("ignore", RuntimeWarning)
            q = var.quantile(list(quantiles), dim="replica")
        frame = q.to_dataframe(name="value").reset_index()
        frame["quantile"] = np.round(100.0 * frame["quantile"], 10)
        frame.insert(0, "variable", name)
        frame["units"] = str(var.attrs.get("units", ""))
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    # Label columns that only some variables have are empty for the others.
    first = ["variable", "quantile", "value", "units"]
    return table[[*first[:1], *[c for c in table.columns if c not in first], *first[1:]]]


def write_export(table: pd.DataFrame, target: Path, *, run: Path, overwrite: bool = False) -> Path:
    """Write ``table`` as CSV to ``target`` atomically; never over ``run`` or a non-file,
    over an existing file only with ``overwrite``."""
    check_output(
        target, "file", inputs={run: "the run it exports"}, overwrite=overwrite, format="CSV table"
    )
    return write_file(target, lambda tmp: table.to_csv(tmp, index=False))

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

from sim.scenario.mrio.aggregate import aggregate, check_productive, largest_flow_lines
from sim.scenario.mrio.read import parse_money_unit, read_csv_matrices, read_pymrio_folder
from sim.scenario.mrio.table import BALANCE_TOLERANCE, MRIOTable

__all__ = [
    "BALANCE_TOLERANCE",
    "MRIOTable",
    "aggregate",
    "check_productive",
    "largest_flow_lines",
    "parse_money_unit",
    "read_csv_matrices",
    "read_pymrio_folder",
]

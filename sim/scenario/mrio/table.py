"""The multi-regional input-output table in region-major order (:class:`MRIOTable`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
Label = tuple[str, ...]

# x.txt is written with 12 significant digits (pymrio's default float format),
# so a faithful file agrees with Z and Y to ~1e-12; 1e-6 leaves room for tables
# built elsewhere and still catches a wrong or stale x.
BALANCE_TOLERANCE = 1e-6


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

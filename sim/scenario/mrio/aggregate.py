"""Aggregate an MRIO table onto coarser or reordered regions and sectors, check that
it is productive, and list its largest flows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from sim.errors import DataFileError, NumericalError, quote
from sim.kernels import leontief
from sim.scenario.mrio.table import FloatArray, MRIOTable
from sim.scenario.mrio.text import listing


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
                allowed=f"a target for every {what} of the table: {listing(labels)}",
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
                allowed=listing(targets),
                hint=f"add '{missing[0]}' to the target {what}s or fix the map",
            )
        unused = [t for t in targets if t not in produced]
        if unused:
            # A target nothing maps to would be an all-zero block, almost
            # always a typo in the map.
            raise DataFileError(
                f"no {what} of the table maps to target {what} '{unused[0]}'",
                value=unused[0],
                allowed=f"targets of the map: {listing(produced)}",
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

"""Read the data tables a scenario references (CSV files), with row-level errors.

Tables are returned as NumPy arrays indexed by the scenario's own region and
sector order, with the sha256 of every file read for the provenance record.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.errors import DataFileError, quote, shorten
from sim.scenario.files import sha256_file
from sim.scenario.mrio import (
    MRIOTable,
    aggregate,
    check_productive,
    largest_flow_lines,
    parse_money_unit,
    read_csv_matrices,
    read_pymrio_folder,
)
from sim.scenario.tables import (
    ElasticityTable,
    RegionTable,
    TableLayout,
    TariffTable,
    cell_index,
    check_sector_column,
    layout_of,
    load_elasticity_table,
    load_region_table,
    load_tariff_table,
    map_code,
    parse_number,
    read_rows,
    sector_of,
    select_year,
)
from sim.scenario.validate import Scenario

FloatArray = NDArray[np.float64]


#: The trade table's layout is the general one of every long table (sim.scenario.tables).
TradeLayout = TableLayout


@dataclass
class ScenarioData:
    """The tables of a scenario.

    Attributes
    ----------
    trade : (R, R, S)
        Baseline trade, money per year (origin, destination, sector).
    coefficients : (R, S, S) or None
        National technical coefficients, input per unit of output
        (region, input sector, output sector), when the scenario gives them.
    mrio : MRIOTable or None
        The multi-regional table aggregated onto the scenario's regions and
        sectors, when the scenario gives one instead.
    hashes : dict
        File path -> sha256 hex digest of every data file read.
    tariff : TariffTable or None
        Baseline tariff rates (``trade_costs.tariff_table``), (R, R, S).
    value_added, final_demand : RegionTable or None
        Money per year by region and sector (``economy.value_added``,
        ``economy.final_demand``), (R, S).
    deficits : RegionTable or None
        Money per year by region (``economy.deficits``), (R,).
    elasticity : ElasticityTable or None
        Trade elasticities by sector (``trade.elasticity_table``), (S,).
    """

    trade: FloatArray
    coefficients: FloatArray | None
    hashes: dict[str, str] = field(default_factory=dict)
    mrio: MRIOTable | None = None
    tariff: TariffTable | None = None
    value_added: RegionTable | None = None
    final_demand: RegionTable | None = None
    deficits: RegionTable | None = None
    elasticity: ElasticityTable | None = None


def load_trade_table(
    path: Path, regions: list[str], sectors: list[str], layout: TableLayout | None = None
) -> FloatArray:
    """Read a long-format baseline trade table into an (R, R, S) array.

    With the default layout every origin x destination x sector combination
    must appear exactly once. With concordances (``layout.aggregates``) rows
    mapped to the same cell are summed and absent cells are zero.
    """
    lay = layout or TableLayout()
    shape = (len(regions), len(regions), len(sectors))
    table = np.zeros(shape) if lay.aggregates else np.full(shape, np.nan)
    seen: dict[tuple[str, str, str], int] = {}
    required = [lay.origin, lay.destination, *([lay.sector] if lay.sector else []), lay.value]
    rows = read_rows(path, tuple(required))
    check_sector_column(path, lay, sectors)
    rows = select_year(path, rows, lay)
    for line, row in rows:
        i = map_code(path, line, lay.origin, row[lay.origin], regions, lay.region_map,
                     lay.other_region, "region")  # fmt: skip
        j = map_code(path, line, lay.destination, row[lay.destination], regions,
                     lay.region_map, lay.other_region, "region")  # fmt: skip
        s, sector_code = sector_of(path, line, row, lay, sectors)
        key = (row[lay.origin], row[lay.destination], sector_code)
        if key in seen:
            raise DataFileError(
                f"duplicate row for {shorten(key[0])} -> {shorten(key[1])}"
                f"{', ' + shorten(key[2]) if key[2] else ''} "
                f"(first on line {seen[key]})",
                file=str(path),
                line=line,
                hint="keep one row per origin, destination and sector",
            )
        seen[key] = line
        value = parse_number(path, line, lay.value, row[lay.value])
        if lay.aggregates:
            table[i, j, s] += value
        else:
            table[i, j, s] = value
    if not rows:
        raise DataFileError(
            f"no rows for year {lay.select_year}"
            if lay.select_year
            else "the file has no data rows",
            file=str(path),
            allowed="at least one row of trade",
            hint=f"check {lay.key}.year and the file",
        )
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
    rows = read_rows(path, ("region", "input", "output", "value"))
    seen: dict[tuple[str, str, str], int] = {}
    for line, row in rows:
        key = (row["region"], row["input"], row["output"])
        if key in seen:
            raise DataFileError(
                f"duplicate row for region {shorten(key[0])}, {shorten(key[1])} -> {shorten(key[2])} "
                f"(first on line {seen[key]})",
                file=str(path),
                line=line,
                hint="keep one row per region, input and output",
            )
        seen[key] = line
    # Wildcards first so that region-specific rows override them.
    for line, row in sorted(rows, key=lambda item: item[1]["region"] != "*"):
        k = cell_index(path, line, "input", row["input"], sectors, "sector")
        m = cell_index(path, line, "output", row["output"], sectors, "sector")
        value = parse_number(path, line, "value", row["value"])
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
            table[cell_index(path, line, "region", row["region"], regions, "region"), k, m] = value
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
    baseline = scenario.data["trade"]["baseline"]
    trade_path = scenario.resolve_file("trade.baseline.file", baseline["file"])
    layout = layout_of(baseline, "trade.baseline")
    hashes = {str(trade_path): sha256_file(trade_path)}
    io = scenario.data["input_output"]
    coefficients = None
    table = None
    if "coefficients" in io:
        coef_path = scenario.resolve_file(
            "input_output.coefficients.file", io["coefficients"]["file"]
        )
        hashes[str(coef_path)] = sha256_file(coef_path)
        coefficients = load_coefficients_table(coef_path, regions, sectors)
    elif "mrio" in io:
        table = load_mrio(scenario)
        hashes.update(table.files)
    data = ScenarioData(
        trade=load_trade_table(trade_path, regions, sectors, layout),
        coefficients=coefficients,
        hashes=hashes,
        mrio=table,
    )
    load_baseline_tables(scenario, data)
    return data


def load_baseline_tables(scenario: Scenario, data: ScenarioData) -> None:
    """Read the optional tables of the baseline into ``data`` (docs/data.md), files hashed.

    ``trade_costs.tariff_table``, ``economy.value_added``, ``economy.final_demand`` and
    ``economy.deficits``, each a long CSV table with the trade table's concordance keys.
    """
    regions, sectors = scenario.region_ids, scenario.sector_ids

    def path_of(key: str) -> tuple[Path, dict[str, Any]] | None:
        section, name = key.split(".")
        spec = scenario.data.get(section, {}).get(name)
        if not spec:
            return None
        path = scenario.resolve_file(f"{key}.file", spec["file"])
        data.hashes[str(path)] = sha256_file(path)
        return path, spec

    if found := path_of("trade_costs.tariff_table"):
        layout = layout_of(found[1], "trade_costs.tariff_table", value="rate")
        data.tariff = load_tariff_table(found[0], regions, sectors, layout)
    if found := path_of("economy.value_added"):
        data.value_added = load_region_table(
            found[0], regions, sectors, layout_of(found[1], "economy.value_added"),
            what="value added",
        )  # fmt: skip
    if found := path_of("economy.final_demand"):
        data.final_demand = load_region_table(
            found[0], regions, sectors, layout_of(found[1], "economy.final_demand"),
            what="final demand",
        )  # fmt: skip
    if found := path_of("trade.elasticity_table"):
        spec = found[1]
        data.elasticity = load_elasticity_table(
            found[0], sectors, dict(spec.get("columns") or {}), dict(spec.get("sector_map") or {})
        )
    if found := path_of("economy.deficits"):
        data.deficits = load_region_table(
            found[0], regions, sectors, layout_of(found[1], "economy.deficits"),
            what="deficits", by_sector=False, signed=True,
        )  # fmt: skip


def check_money_unit(scenario: Scenario, table: MRIOTable) -> None:
    """Refuse a table whose stated money unit is not the scenario's (``Mill USD`` for EUR billion).

    Only a unit the table states and that names a currency is checked; the scale
    is compared when every word of the unit is understood (``Mill``, ``M``, ``bn``...).
    """
    if not table.money_unit:
        return
    currency, scale = parse_money_unit(table.money_unit)
    if currency is None:
        return
    meta = scenario.data["metadata"]
    want_currency, want_scale = str(meta["currency"]).strip().upper(), str(meta["money_unit"])
    if currency == want_currency and scale in (None, want_scale):
        return
    key = "metadata.currency" if currency != want_currency else "metadata.money_unit"
    theirs = f"{currency} {scale}" if scale else currency
    where = f"{table.money_unit_file}:{table.money_unit_line}"
    raise scenario.error(
        f"the input-output table's money unit is {quote(table.money_unit)} ({where}), but the "
        f"scenario's money values are in {want_currency} {want_scale}",
        key,
        meta["currency" if key == "metadata.currency" else "money_unit"],
        allowed=f"a table in {want_currency} {want_scale}, the unit metadata.currency and "
        "metadata.money_unit give every money value of the scenario",
        hint=f"convert the table to {want_currency} {want_scale}; or, if the scenario is meant "
        f"to be in {theirs}, set metadata.currency and metadata.money_unit to match and "
        "convert its other money values",
    )


def load_mrio(scenario: Scenario) -> MRIOTable:
    """Read input_output.mrio and aggregate it onto the scenario's regions and sectors."""
    spec = scenario.data["input_output"]["mrio"]
    satellites = [spec["employment"]] if spec.get("employment") else []
    if spec["format"] == "pymrio":
        folder = scenario.resolve_file("input_output.mrio.path", spec["path"], folder=True)
        table = read_pymrio_folder(folder, satellites=satellites)
        check_money_unit(scenario, table)
    else:
        z_file = scenario.resolve_file("input_output.mrio.path", spec["path"])
        y_file = scenario.resolve_file("input_output.mrio.final_demand", spec["final_demand"])
        table = read_csv_matrices(z_file, y_file)
    region_map, sector_map = spec["region_map"] or None, spec["sector_map"] or None
    try:
        aggregated = aggregate(
            table, region_map, sector_map, regions=scenario.region_ids, sectors=scenario.sector_ids
        )
    except DataFileError as exc:
        # Concordance problems belong to the scenario's keys, not to the table.
        key = (
            "input_output.mrio.region_map"
            if "region" in exc.problem
            else "input_output.mrio.sector_map"
        )
        raise scenario.error(exc.problem, key, None, allowed=exc.allowed, hint=exc.hint) from None
    # The engine needs a productive table; refused here, the error can name a file and line.
    check_productive(table, aggregated, region_map, sector_map)
    # Later checks on the aggregated table (the model's closed system) point at Z's rows.
    return dataclasses.replace(
        aggregated,
        z_file=table.z_file,
        z_largest_lines=largest_flow_lines(table, aggregated, region_map, sector_map),
    )

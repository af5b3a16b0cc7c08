"""Tests for sim.scenario.mrio: pymrio folders, CSV matrices and aggregation.

pymrio is a test-only dependency: it writes the folders read here and gives
the reference Leontief inverse and multipliers. The pymrio tests are skipped
where it is not installed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.errors import DataFileError
from sim.kernels.leontief import (
    leontief_inverse,
    output_multipliers,
    satellite_multipliers,
    technical_coefficients,
)
from sim.scenario.mrio import (
    MRIOTable,
    aggregate,
    check_productive,
    read_csv_matrices,
    read_pymrio_folder,
)

VALUE_ADDED = "factor_inputs/Value Added"
AIR = "emissions/emission_type1:air"
WATER = "emissions/emission_type2:water"
SATELLITES = [VALUE_ADDED, AIR, WATER]

# pymrio's test system: 6 regions x 8 sectors. Z.txt has three header lines
# (region, sector, then pandas' line of index names), so the row of region r
# (0-based) and sector s is on line 4 + 8 r + s.
REGIONS = [f"reg{k}" for k in range(1, 7)]
SECTORS = [
    "food",
    "mining",
    "manufactoring",
    "electricity",
    "construction",
    "trade",
    "transport",
    "other",
]


def z_line(region: int, sector: int) -> int:
    return 4 + 8 * region + sector


# --- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def pymrio_flows(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """pymrio's test system saved with flows only (no x.txt), and the system after calc_all."""
    pymrio = pytest.importorskip("pymrio")
    folder = tmp_path_factory.mktemp("pymrio") / "flows"
    io = pymrio.load_test()
    io.save_all(folder)
    io.calc_all()
    return folder, io


@pytest.fixture(scope="module")
def pymrio_full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pymrio's test system saved after calc_all (x.txt, A.txt, L.txt, M.txt... present)."""
    pymrio = pytest.importorskip("pymrio")
    folder = tmp_path_factory.mktemp("pymrio") / "full"
    io = pymrio.load_test()
    io.calc_all()
    io.save_all(folder)
    return folder


@pytest.fixture
def flows_copy(pymrio_flows: tuple[Path, Any], tmp_path: Path) -> Path:
    """A writable copy of the flows-only folder."""
    return Path(shutil.copytree(pymrio_flows[0], tmp_path / "copy"))


@pytest.fixture
def full_copy(pymrio_full: Path, tmp_path: Path) -> Path:
    """A writable copy of the folder saved after calc_all."""
    return Path(shutil.copytree(pymrio_full, tmp_path / "copy"))


def set_cell(path: Path, line: int, column: int, text: str) -> str:
    """Overwrite cell ``column`` (0-based, index cells included) of a tab-separated line."""
    lines = path.read_text(encoding="utf-8").split("\n")
    cells = lines[line - 1].split("\t")
    old = cells[column]
    cells[column] = text
    lines[line - 1] = "\t".join(cells)
    path.write_text("\n".join(lines), encoding="utf-8")
    return old


def drop_line(path: Path, line: int) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    del lines[line - 1]
    path.write_text("\n".join(lines), encoding="utf-8")


# --- 1. round trip against pymrio -----------------------------------------------


def test_round_trip_matches_pymrio(pymrio_flows: tuple[Path, Any]) -> None:
    folder, io = pymrio_flows
    assert not (folder / "x.txt").exists()
    table = read_pymrio_folder(folder, satellites=SATELLITES)

    assert table.regions == REGIONS == list(io.get_regions())
    assert table.sectors == SECTORS == list(io.get_sectors())
    assert table.labels[9] == "reg2:mining"
    # The test system's numbers have fewer than the 12 digits pymrio writes.
    np.testing.assert_allclose(table.Z, io.Z.to_numpy(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(table.final_demand, io.Y.sum(axis=1).to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(table.x, io.x.to_numpy()[:, 0], rtol=1e-12)
    np.testing.assert_array_equal(table.x, table.Z.sum(axis=1) + table.final_demand)

    A = technical_coefficients(table.Z, table.x)
    L = leontief_inverse(A)
    np.testing.assert_allclose(A, io.A.to_numpy(), rtol=1e-9, atol=0)
    np.testing.assert_allclose(L, io.L.to_numpy(), rtol=1e-9, atol=0)
    np.testing.assert_allclose(
        output_multipliers(L), io.L.sum(axis=0).to_numpy(), rtol=1e-9, atol=0
    )

    F = np.vstack([table.satellites[name] for name in SATELLITES])
    reference_F = np.vstack([io.factor_inputs.F.to_numpy(), io.emissions.F.to_numpy()])
    np.testing.assert_allclose(F, reference_F, rtol=1e-12, atol=0)
    S = F / table.x
    np.testing.assert_allclose(
        S, np.vstack([io.factor_inputs.S.to_numpy(), io.emissions.S.to_numpy()]), rtol=1e-9
    )
    M = satellite_multipliers(L, S)
    np.testing.assert_allclose(M[0], io.factor_inputs.M.loc["Value Added"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(M[1:], io.emissions.M.to_numpy(), rtol=1e-9, atol=0)

    assert list(table.satellites) == SATELLITES
    assert table.units == {VALUE_ADDED: "Mill USD", AIR: "kg", WATER: "kg"}
    z_file = folder / "Z.txt"
    assert table.files[str(z_file)] == hashlib.sha256(z_file.read_bytes()).hexdigest()
    assert str(folder / "emissions" / "F.txt") in table.files
    # F_Y and the unused population table are not read, so not recorded.
    assert str(folder / "emissions" / "F_Y.txt") not in table.files


def test_satellites_are_optional_and_kept_in_request_order(
    pymrio_flows: tuple[Path, Any],
) -> None:
    folder, _ = pymrio_flows
    bare = read_pymrio_folder(folder)
    assert bare.satellites == {} and bare.units == {}
    assert not any("emissions" in path for path in bare.files)
    table = read_pymrio_folder(folder, satellites=[WATER, VALUE_ADDED])
    assert list(table.satellites) == [WATER, VALUE_ADDED]


def test_folder_saved_after_calc_all_reads_the_same(
    pymrio_flows: tuple[Path, Any], pymrio_full: Path
) -> None:
    flows = read_pymrio_folder(pymrio_flows[0], satellites=[VALUE_ADDED])
    full = read_pymrio_folder(pymrio_full, satellites=[VALUE_ADDED])
    assert str(pymrio_full / "x.txt") in full.files
    np.testing.assert_array_equal(full.Z, flows.Z)
    np.testing.assert_array_equal(full.x, flows.x)
    np.testing.assert_array_equal(full.satellites[VALUE_ADDED], flows.satellites[VALUE_ADDED])


def test_folder_without_file_parameters_is_read_with_pymrio_defaults(
    pymrio_flows: tuple[Path, Any], flows_copy: Path
) -> None:
    for para in flows_copy.rglob("file_parameters.json"):
        para.unlink()
    table = read_pymrio_folder(flows_copy, satellites=SATELLITES)
    reference = read_pymrio_folder(pymrio_flows[0], satellites=SATELLITES)
    np.testing.assert_array_equal(table.Z, reference.Z)
    np.testing.assert_array_equal(table.final_demand, reference.final_demand)
    for name in SATELLITES:
        np.testing.assert_array_equal(table.satellites[name], reference.satellites[name])
    assert table.units == reference.units


def test_engine_does_not_import_pymrio() -> None:
    code = "import sys, sim.scenario.mrio; assert 'pymrio' not in sys.modules, 'pymrio imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


# --- 2. aggregation -------------------------------------------------------------

REGION_MAP = {"reg1": "West", "reg2": "West", "reg3": "West"} | {
    r: "East" for r in ("reg4", "reg5", "reg6")
}
SECTOR_MAP = {
    "food": "primary",
    "mining": "primary",
    "manufactoring": "secondary",
    "electricity": "secondary",
    "construction": "secondary",
    "trade": "tertiary",
    "transport": "tertiary",
    "other": "tertiary",
}


@pytest.fixture(scope="module")
def pymrio_table(pymrio_flows: tuple[Path, Any]) -> MRIOTable:
    return read_pymrio_folder(pymrio_flows[0], satellites=SATELLITES)


def block_sum(frame: Any, rows: tuple[list[str], list[str]], cols: Any = None) -> float:
    """Sum of a pymrio frame over (regions, sectors) rows and optionally columns."""
    index = frame.index
    mask = index.get_level_values(0).isin(rows[0]) & index.get_level_values(1).isin(rows[1])
    if cols is None:
        return float(frame.to_numpy()[mask].sum())
    columns = frame.columns
    col_mask = columns.get_level_values(0).isin(cols[0]) & columns.get_level_values(1).isin(cols[1])
    return float(frame.to_numpy()[np.ix_(mask, col_mask)].sum())


def test_aggregate_sums_flows(pymrio_table: MRIOTable, pymrio_flows: tuple[Path, Any]) -> None:
    _, io = pymrio_flows
    agg = aggregate(pymrio_table, REGION_MAP, SECTOR_MAP)
    assert agg.regions == ["West", "East"]
    assert agg.sectors == ["primary", "secondary", "tertiary"]
    assert agg.Z.shape == (6, 6)
    assert agg.labels == [f"{r}:{s}" for r in agg.regions for s in agg.sectors]

    for new, old in ((agg.Z, pymrio_table.Z), (agg.final_demand, pymrio_table.final_demand)):
        assert new.sum() == pytest.approx(old.sum(), rel=1e-12)
    np.testing.assert_allclose(agg.x, agg.Z.sum(axis=1) + agg.final_demand, rtol=1e-12)
    for name in SATELLITES:
        assert agg.satellites[name].sum() == pytest.approx(
            pymrio_table.satellites[name].sum(), rel=1e-12
        )
    assert agg.units == pymrio_table.units

    west, east = ["reg1", "reg2", "reg3"], ["reg4", "reg5", "reg6"]
    primary, secondary = ["food", "mining"], ["manufactoring", "electricity", "construction"]
    tertiary = ["trade", "transport", "other"]
    # Sales of West's primary sectors to East's tertiary ones: row 0, column 3 * 1 + 2.
    expected = block_sum(io.Z, (west, primary), (east, tertiary))
    assert agg.Z[0, 5] == pytest.approx(expected, rel=1e-12)
    assert agg.Z[4, 1] == pytest.approx(
        block_sum(io.Z, (east, secondary), (west, secondary)), rel=1e-12
    )
    assert agg.final_demand[2] == pytest.approx(
        block_sum(io.Y, (west, tertiary), (REGIONS, list(io.get_Y_categories()))), rel=1e-12
    )
    F = io.factor_inputs.F.T
    assert agg.satellites[VALUE_ADDED][3] == pytest.approx(block_sum(F, (east, primary)), rel=1e-12)


def test_aggregate_follows_the_target_order(pymrio_table: MRIOTable) -> None:
    first = aggregate(pymrio_table, REGION_MAP, SECTOR_MAP)
    swapped = aggregate(
        pymrio_table,
        REGION_MAP,
        SECTOR_MAP,
        regions=["East", "West"],
        sectors=["tertiary", "primary", "secondary"],
    )
    assert swapped.regions == ["East", "West"]
    assert swapped.sectors == ["tertiary", "primary", "secondary"]
    # swapped index k holds first's label perm[k].
    perm = [first.labels.index(label) for label in swapped.labels]
    np.testing.assert_array_equal(swapped.Z, first.Z[np.ix_(perm, perm)])
    np.testing.assert_array_equal(swapped.x, first.x[perm])
    np.testing.assert_array_equal(swapped.satellites[AIR], first.satellites[AIR][perm])


def test_aggregate_identity(pymrio_table: MRIOTable) -> None:
    same = aggregate(pymrio_table, None, None)
    assert same.regions == pymrio_table.regions and same.sectors == pymrio_table.sectors
    np.testing.assert_array_equal(same.Z, pymrio_table.Z)
    np.testing.assert_array_equal(same.final_demand, pymrio_table.final_demand)
    np.testing.assert_array_equal(same.x, pymrio_table.x)
    for name in SATELLITES:
        np.testing.assert_array_equal(same.satellites[name], pymrio_table.satellites[name])
    regions_only = aggregate(pymrio_table, REGION_MAP, None)
    assert regions_only.sectors == SECTORS and regions_only.Z.shape == (16, 16)


def test_aggregate_one_sided_sector_merge_by_hand() -> None:
    Z = np.arange(16, dtype=np.float64).reshape(4, 4)
    fd = np.array([1.0, 2.0, 3.0, 4.0])
    table = MRIOTable(
        regions=["A", "B"],
        sectors=["s", "t"],
        Z=Z,
        final_demand=fd,
        x=Z.sum(axis=1) + fd,
        satellites={"jobs/all": np.array([10.0, 20.0, 30.0, 40.0])},
    )
    agg = aggregate(table, None, {"s": "all", "t": "all"})
    # Rows/columns (A:s, A:t) -> A:all and (B:s, B:t) -> B:all.
    np.testing.assert_array_equal(
        agg.Z, [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]]
    )
    np.testing.assert_array_equal(agg.final_demand, [3.0, 7.0])
    np.testing.assert_array_equal(agg.satellites["jobs/all"], [30.0, 70.0])


def test_aggregate_errors(pymrio_table: MRIOTable) -> None:
    partial = {k: v for k, v in REGION_MAP.items() if k != "reg6"}
    with pytest.raises(DataFileError, match="region 'reg6' of the table is not mapped"):
        aggregate(pymrio_table, partial, SECTOR_MAP)
    partial_sectors = {k: v for k, v in SECTOR_MAP.items() if k != "trade"}
    with pytest.raises(DataFileError, match="sector 'trade'"):
        aggregate(pymrio_table, None, partial_sectors)
    with pytest.raises(DataFileError, match="'West' of the map is not in the target order"):
        aggregate(pymrio_table, REGION_MAP, None, regions=["East"])
    with pytest.raises(DataFileError, match="maps to target region 'North'"):
        aggregate(pymrio_table, REGION_MAP, None, regions=["East", "West", "North"])
    with pytest.raises(DataFileError, match="listed twice"):
        aggregate(pymrio_table, REGION_MAP, None, regions=["East", "West", "East"])


# --- 3. CSV matrices ------------------------------------------------------------

LABELS = ["KZ:agri", "KZ:manu", "UZ:agri", "UZ:manu"]
Z_SMALL = [[10, 20, 5, 1], [15, 30, 2, 8], [3, 1, 12, 18], [2, 6, 9, 25]]
Y_SMALL = [[50, 4], [40, 10], [30, 0], [60, -2]]


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    lines = [",".join(header)] + [",".join(str(c) for c in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def small(tmp_path: Path) -> dict[str, Path]:
    """A 2-region x 2-sector table as CSV files: Z, Y, x and a labour satellite file."""
    x = np.sum(Z_SMALL, axis=1) + np.sum(Y_SMALL, axis=1)
    return {
        "z": write_csv(
            tmp_path / "Z.csv",
            ["from/to", *LABELS],
            [[label, *row] for label, row in zip(LABELS, Z_SMALL, strict=True)],
        ),
        "y": write_csv(
            tmp_path / "Y.csv",
            ["label", "households", "exports"],
            [[label, *row] for label, row in zip(LABELS, Y_SMALL, strict=True)],
        ),
        "x": write_csv(
            tmp_path / "x.csv",
            ["label", "output"],
            [[label, v] for label, v in zip(LABELS, x, strict=True)],
        ),
        "jobs": write_csv(
            tmp_path / "jobs.csv",
            ["name", "unit", *LABELS],
            [["employment", "persons", 100, 50, 80, 40], ["wages", "", 1, 2, 3, 4]],
        ),
    }


def read_small(small: dict[str, Path], **overrides: Path) -> MRIOTable:
    files = small | overrides
    return read_csv_matrices(
        files["z"], files["y"], satellite_files={"labour": files["jobs"]}, x_file=files["x"]
    )


def test_csv_matrices(small: dict[str, Path]) -> None:
    table = read_small(small)
    assert table.regions == ["KZ", "UZ"]
    assert table.sectors == ["agri", "manu"]
    np.testing.assert_array_equal(table.Z, np.array(Z_SMALL, dtype=np.float64))
    np.testing.assert_array_equal(table.final_demand, [54, 50, 30, 58])
    np.testing.assert_array_equal(table.x, [90, 105, 64, 100])
    assert list(table.satellites) == ["labour/employment", "labour/wages"]
    np.testing.assert_array_equal(table.satellites["labour/employment"], [100, 50, 80, 40])
    # An empty unit cell means no unit.
    assert table.units == {"labour/employment": "persons"}
    assert set(table.files) == {str(p) for p in small.values()}
    # x is optional.
    without_x = read_csv_matrices(small["z"], small["y"])
    np.testing.assert_array_equal(without_x.x, table.x)
    assert without_x.satellites == {}


def test_csv_satellite_file_without_unit_column(small: dict[str, Path], tmp_path: Path) -> None:
    jobs = write_csv(tmp_path / "va.csv", ["name", *LABELS], [["value added", 1, 2, 3, 4]])
    table = read_csv_matrices(small["z"], small["y"], satellite_files={"factor": jobs})
    np.testing.assert_array_equal(table.satellites["factor/value added"], [1, 2, 3, 4])
    assert table.units == {}


def rewrite(path: Path, line: int, new: str) -> Path:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[line - 1] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def raises_at(small: dict[str, Path], file: Path, line: int | None, match: str) -> DataFileError:
    with pytest.raises(DataFileError, match=match) as info:
        read_small(small)
    assert info.value.file == str(file)
    assert info.value.line == line
    return info.value


def test_csv_negative_flow(small: dict[str, Path]) -> None:
    rewrite(small["z"], 3, "KZ:manu,15,-30,2,8")
    error = raises_at(
        small, small["z"], 3, "negative intermediate flow from 'KZ:manu' to 'KZ:manu'"
    )
    assert error.value == -30.0


def test_csv_non_number(small: dict[str, Path]) -> None:
    rewrite(small["z"], 4, "UZ:agri,3,1,abc,18")
    error = raises_at(small, small["z"], 4, "column 'UZ:agri' is not a number")
    assert error.value == "abc"
    rewrite(small["z"], 4, "UZ:agri,3,1,nan,18")
    raises_at(small, small["z"], 4, "not a finite number")


def test_csv_bad_labels(small: dict[str, Path]) -> None:
    rewrite(small["z"], 2, "KZagri,10,20,5,1")
    raises_at(small, small["z"], 2, "label 'KZagri' is not 'region:sector'")
    rewrite(small["z"], 2, "KZ:agri,10,20,5,1")
    rewrite(small["z"], 1, "from/to,KZ:agri,KZ:manu,UZ:agri,UZ:")
    raises_at(small, small["z"], 1, "label 'UZ:' is not 'region:sector'")


def test_csv_rows_must_be_a_region_major_grid(small: dict[str, Path]) -> None:
    lines = small["z"].read_text(encoding="utf-8").splitlines()
    lines[2], lines[3] = lines[3], lines[2]
    small["z"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    raises_at(small, small["z"], 3, "row 2 of Z is 'UZ:agri', expected 'KZ:manu'")


def test_csv_columns_must_follow_rows(small: dict[str, Path]) -> None:
    rewrite(small["z"], 1, "from/to,KZ:agri,UZ:agri,KZ:manu,UZ:manu")
    raises_at(small, small["z"], 1, "column 2 of Z is 'UZ:agri', expected 'KZ:manu'")


def test_csv_shape_mismatches(small: dict[str, Path], tmp_path: Path) -> None:
    # Y lacks the last row: reported just after Y's last line.
    y_short = write_csv(tmp_path / "Y3.csv", ["label", "hh"], [[label, 1] for label in LABELS[:3]])
    with pytest.raises(DataFileError, match="row 'UZ:manu' is missing") as info:
        read_small(small, y=y_short)
    assert (info.value.file, info.value.line) == (str(y_short), 5)
    # Y skips a row in the middle: reported on the row that is out of place.
    y_gap = write_csv(
        tmp_path / "Ygap.csv",
        ["label", "hh"],
        [[label, 1] for label in LABELS if label != "KZ:manu"],
    )
    with pytest.raises(DataFileError, match="row 2 of Y is 'UZ:agri', expected 'KZ:manu'") as info:
        read_small(small, y=y_gap)
    assert info.value.line == 3
    # Z with one row too many is not square.
    with small["z"].open("a", encoding="utf-8") as handle:
        handle.write("UZ:mine,1,1,1,1\n")
    raises_at(small, small["z"], 6, "Z is not square")


def test_csv_row_with_missing_cell(small: dict[str, Path]) -> None:
    rewrite(small["y"], 3, "KZ:manu,40")
    raises_at(small, small["y"], 3, "row has 1 value")


def test_csv_unbalanced_x(small: dict[str, Path]) -> None:
    rewrite(small["x"], 4, "UZ:agri,65")
    error = raises_at(small, small["x"], 4, "does not balance: total output of 'UZ:agri' is 65")
    assert error.value == 65.0
    # Within the tolerance (1e-6 relative) the given x is accepted.
    rewrite(small["x"], 4, "UZ:agri,64.00001")
    read_small(small)


def test_csv_satellite_columns_must_follow_z(small: dict[str, Path]) -> None:
    rewrite(small["jobs"], 1, "name,unit,KZ:agri,KZ:manu,UZ:manu,UZ:agri")
    raises_at(small, small["jobs"], 1, "column 3 of the satellite file is 'UZ:manu'")


def test_csv_negative_total_output(small: dict[str, Path]) -> None:
    rewrite(small["y"], 4, "UZ:agri,30,-100")
    raises_at(small, small["y"], 4, "total output of 'UZ:agri' is negative")


def test_csv_missing_file(small: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataFileError, match="not found") as info:
        read_csv_matrices(small["z"], missing)
    assert info.value.file == str(missing)


# --- 4. errors from pymrio folders ---------------------------------------------


def test_pymrio_missing_z(flows_copy: Path) -> None:
    (flows_copy / "Z.txt").unlink()
    with pytest.raises(DataFileError, match="missing table Z") as info:
        read_pymrio_folder(flows_copy)
    assert info.value.file == str(flows_copy / "Z.txt")


def test_pymrio_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="folder not found"):
        read_pymrio_folder(tmp_path / "absent")


def test_pymrio_corrupted_cell(flows_copy: Path) -> None:
    z_file = flows_copy / "Z.txt"
    line = z_line(1, 0)
    assert line == 12
    # Cell 5 is the fourth value column, reg1:electricity.
    set_cell(z_file, line, 5, "abc")
    with pytest.raises(DataFileError, match="column 'reg1:electricity' is not a number") as info:
        read_pymrio_folder(flows_copy)
    assert (info.value.file, info.value.line, info.value.value) == (str(z_file), 12, "abc")


def test_pymrio_negative_flow(flows_copy: Path) -> None:
    z_file = flows_copy / "Z.txt"
    line = z_line(2, 5)
    assert z_file.read_text(encoding="utf-8").split("\n")[line - 1].startswith("reg3\ttrade\t")
    set_cell(z_file, line, 2 + 8 * 5 + 7, "-1.5")
    with pytest.raises(DataFileError, match="from 'reg3:trade' to 'reg6:other'") as info:
        read_pymrio_folder(flows_copy)
    assert info.value.line == 25


def test_pymrio_y_missing_row(flows_copy: Path) -> None:
    y_file = flows_copy / "Y.txt"
    drop_line(y_file, z_line(3, 0))
    with pytest.raises(
        DataFileError, match="row 25 of Y is 'reg4:mining', expected 'reg4:food'"
    ) as info:
        read_pymrio_folder(flows_copy)
    assert (info.value.file, info.value.line) == (str(y_file), z_line(3, 0))


def test_pymrio_z_not_square(flows_copy: Path) -> None:
    z_file = flows_copy / "Z.txt"
    lines = z_file.read_text(encoding="utf-8").split("\n")
    z_file.write_text(
        "\n".join(line.rsplit("\t", 1)[0] if line else line for line in lines), encoding="utf-8"
    )
    # Every row now has 47 values under 47 column labels; the 48th row is one too many.
    with pytest.raises(DataFileError, match="Z is not square: row 48 is beyond the 47") as info:
        read_pymrio_folder(flows_copy)
    assert (info.value.file, info.value.line) == (str(z_file), z_line(5, 7))


def test_pymrio_rows_out_of_order(flows_copy: Path) -> None:
    z_file = flows_copy / "Z.txt"
    lines = z_file.read_text(encoding="utf-8").split("\n")
    a, b = z_line(0, 7) - 1, z_line(1, 0) - 1
    lines[a], lines[b] = lines[b], lines[a]
    z_file.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DataFileError, match="row 8 of Z is 'reg2:food'") as info:
        read_pymrio_folder(flows_copy)
    assert info.value.line == 11


def test_pymrio_unbalanced_x(full_copy: Path) -> None:
    x_file = full_copy / "x.txt"
    # x.txt has a single header line, so reg1:mining is on line 3.
    old = set_cell(x_file, 3, 2, "48760")
    assert old == "48751.9424578"
    with pytest.raises(
        DataFileError, match="does not balance: total output of 'reg1:mining'"
    ) as info:
        read_pymrio_folder(full_copy)
    assert (info.value.file, info.value.line) == (str(x_file), 3)


def test_pymrio_unknown_satellite_lists_the_available_ones(pymrio_flows: tuple[Path, Any]) -> None:
    folder, _ = pymrio_flows
    for name in ("emissions/CO2", "employment/total", "Value Added"):
        with pytest.raises(DataFileError, match="unknown satellite") as info:
            read_pymrio_folder(folder, satellites=[name])
        assert info.value.allowed is not None
        for available in SATELLITES:
            assert available in info.value.allowed
    with pytest.raises(DataFileError, match="did you mean 'factor_inputs/Value Added'"):
        read_pymrio_folder(folder, satellites=["factor_inputs/Value added"])


def test_pymrio_satellite_columns_must_follow_z(flows_copy: Path) -> None:
    f_file = flows_copy / "emissions" / "F.txt"
    # Header line 2 holds the sectors: rename the first column's sector.
    set_cell(f_file, 2, 2, "fish")
    with pytest.raises(DataFileError, match="column 1 of emissions/F is 'reg1:fish'") as info:
        read_pymrio_folder(flows_copy, satellites=[AIR])
    assert (info.value.file, info.value.line) == (str(f_file), 2)


def test_pymrio_binary_formats_are_refused(flows_copy: Path) -> None:
    para = flows_copy / "file_parameters.json"
    content = json.loads(para.read_text(encoding="utf-8"))
    content["files"]["Z"]["name"] = "Z.parquet"
    para.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(DataFileError, match="only pymrio's text format") as info:
        read_pymrio_folder(flows_copy)
    assert info.value.hint is not None and 'table_format="txt"' in info.value.hint


# --- productivity of the aggregated table -------------------------------------


def _two_sector_table(tmp_path: Path, final_demand: tuple[float, float]) -> MRIOTable:
    """R:a and R:b selling 10 to each other, with the given final demand."""
    (tmp_path / "Z.csv").write_text(",R:a,R:b\nR:a,0,10\nR:b,10,0\n")
    (tmp_path / "Y.csv").write_text(
        ",final\n" + "".join(f"R:{s},{v}\n" for s, v in zip("ab", final_demand, strict=True))
    )
    return read_csv_matrices(tmp_path / "Z.csv", tmp_path / "Y.csv")


@pytest.mark.parametrize(
    ("final_demand", "blamed", "line"),
    [((-5.0, -4.0), "R:a", 2), ((-4.0, -5.0), "R:b", 3), ((0.0, 0.0), "R:a", 2)],
)
def test_unproductive_table_is_refused_at_its_final_demand(
    tmp_path: Path, final_demand: tuple[float, float], blamed: str, line: int
) -> None:
    """Output below intermediate sales (negative final demand) or industries selling only to
    each other (zero final demand) leave I - A without a nonnegative inverse; the engine
    stopped with a NumericalError naming no file. The row of Y is what to fix: the one of
    the industry whose inputs are largest relative to its output."""
    table = _two_sector_table(tmp_path, final_demand)
    with pytest.raises(DataFileError) as info:
        check_productive(table, aggregate(table, None, None), None, None)
    err = info.value
    assert (err.file, err.line) == (str(tmp_path / "Y.csv"), line)
    assert "once aggregated onto the scenario's regions and sectors" in err.problem
    assert f"the final demand of '{blamed}' is {final_demand['ab'.index(blamed[-1])]:g}" in (
        err.problem
    )
    assert err.hint and "final-demand columns" in err.hint


def test_productive_table_passes_without_an_inverse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Column sums of A below 1 prove productivity: no inverse is computed for the check."""
    import sim.kernels.leontief as leontief

    table = _two_sector_table(tmp_path, (1.0, 2.0))
    monkeypatch.setattr(leontief, "leontief_inverse", lambda a: pytest.fail("inverse computed"))
    check_productive(table, aggregate(table, None, None), None, None)

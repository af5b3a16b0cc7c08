"""Tests for sim.scenario.data: CSV tables, row-level errors and the data-file sandbox."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from sim.api import load_scenario, prepare
from sim.errors import DataFileError, ScenarioError
from sim.scenario.data import (
    load_coefficients_table,
    load_scenario_data,
    load_trade_table,
)

REGIONS = ["A", "B", "C"]
SECTORS = ["goods", "services"]


def edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


# ---------------------------------------------------------------- happy path


def test_tiny_tables(tiny_path: Path) -> None:
    data = load_scenario_data(load_scenario(tiny_path))
    assert data.trade.shape == (3, 3, 2)
    assert data.trade[1, 0, 0] == 50.0  # B -> A goods
    assert data.trade[0, 1, 1] == 10.0  # A -> B services
    assert data.trade[2, 2, 1] == 8000.0
    assert data.trade.sum() == pytest.approx(16147.0)
    assert data.coefficients.shape == (3, 2, 2)
    # Wildcard rows apply to every region; the B row overrides goods -> goods.
    assert data.coefficients[:, 0, 0].tolist() == [0.30, 0.35, 0.30]
    assert data.coefficients[:, 1, 0].tolist() == [0.20, 0.20, 0.20]
    assert data.coefficients[:, 0, 1].tolist() == [0.10, 0.10, 0.10]
    folder = tiny_path.parent.resolve()
    assert data.hashes == {
        str(folder / name): hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in ("trade.csv", "coefficients.csv")
    }


def test_region_order_follows_arguments(tiny_path: Path) -> None:
    table = load_trade_table(tiny_path.parent / "trade.csv", ["C", "B", "A"], SECTORS[::-1])
    assert table[1, 2, 1] == 50.0  # B -> A goods
    assert table[0, 0, 0] == 8000.0  # C -> C services


def test_wildcard_after_specific_row_still_overridden(tmp_path: Path) -> None:
    path = tmp_path / "coef.csv"
    path.write_text(
        "region,input,output,value\nB,goods,goods,0.35\n*,goods,goods,0.30\n", encoding="utf-8"
    )
    table = load_coefficients_table(path, REGIONS, SECTORS)
    assert table[:, 0, 0].tolist() == [0.30, 0.35, 0.30]
    assert table[:, 1, :].sum() == 0.0  # pairs not listed are zero


def test_bom_and_blank_lines_and_spaces(tiny_dir: Path) -> None:
    path = tiny_dir / "trade.csv"
    text = path.read_text(encoding="utf-8").replace("B,A,goods,50", "\n B , A , goods , 50 ")
    path.write_text("\ufeff" + text, encoding="utf-8")
    assert load_trade_table(path, REGIONS, SECTORS)[1, 0, 0] == 50.0


# ---------------------------------------------------------------- trade table errors

# (old, new, text identifying the bad line or None when no line applies, message fragments)
TRADE_ERRORS = [
    pytest.param(
        "origin,destination,sector,value",
        "origin,destination,sector,val",
        "origin,destination",
        ["missing column(s) value", "allowed: columns origin, destination, sector, value"],
        id="missing-column",
    ),
    pytest.param(
        "B,A,goods,50",
        "X,A,goods,50",
        "X,A,goods",
        ["unknown region 'X' in column 'origin'", "allowed: regions of the scenario: A, B, C"],
        id="unknown-origin",
    ),
    pytest.param(
        "B,A,goods,50",
        "B,Y,goods,50",
        "B,Y,goods",
        ["unknown region 'Y' in column 'destination'", "allowed: regions"],
        id="unknown-destination",
    ),
    pytest.param(
        "B,A,goods,50",
        "B,A,food,50",
        "B,A,food",
        ["unknown sector 'food' in column 'sector'", "allowed: sectors of the scenario"],
        id="unknown-sector",
    ),
    pytest.param(
        "B,A,goods,50",
        "B,A,goods,-50",
        "B,A,goods",
        ["column 'value' must be a finite number >= 0", "allowed: finite, >= 0"],
        id="negative-flow",
    ),
    pytest.param(
        "B,A,goods,50",
        "B,A,goods,fifty",
        "B,A,goods",
        ["column 'value' is not a number", "allowed: a finite number"],
        id="not-a-number",
    ),
    pytest.param(
        "B,A,goods,50",
        "B,A,goods,nan",
        "B,A,goods",
        ["must be a finite number", "allowed: finite"],
        id="nan",
    ),
    pytest.param(
        "B,A,goods,50",
        "B,A,goods,inf",
        "B,A,goods",
        ["must be a finite number", "allowed: finite"],
        id="inf",
    ),
    pytest.param(
        "B,A,goods,50",
        "A,A,goods,50",
        "A,A,goods,50",
        ["duplicate row for A -> A, goods (first on line 2)", "one row per origin"],
        id="duplicate-row",
    ),
    pytest.param(
        "B,A,goods,50",
        "B,A,goods,50,extra",
        "B,A,goods",
        ["row has 5 fields, the header has 4", "stray commas"],
        id="extra-field",
    ),
    pytest.param(
        "C,B,services,7\n",
        "",
        None,
        ["1 origin-destination-sector row(s) missing, first C -> B, services", "allowed:"],
        id="missing-combination",
    ),
    pytest.param(
        "A,C,services,8\n",
        "A,C,services,0\n",
        None,
        [],  # not an error: zero trade is fine where the destination buys elsewhere
        id="zero-flow-is-fine",
    ),
]


@pytest.mark.parametrize(("old", "new", "needle", "fragments"), TRADE_ERRORS)
def test_trade_table_errors(
    tiny_dir: Path, old: str, new: str, needle: str | None, fragments: list[str]
) -> None:
    path = edit(tiny_dir / "trade.csv", old, new)
    if not fragments:
        load_trade_table(path, REGIONS, SECTORS)
        return
    with pytest.raises(DataFileError) as info:
        load_trade_table(path, REGIONS, SECTORS)
    err = info.value
    assert err.file == str(path)
    assert err.line == (line_of(path, needle) if needle else None)
    message = str(err)
    assert message.startswith(f"{path}:{err.line}: " if needle else f"{path}: ")
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in\n{message}"


def test_row_numbers_count_blank_lines(tiny_dir: Path) -> None:
    path = edit(tiny_dir / "trade.csv", "B,A,goods,50", "\n\nB,A,goods,-50")
    with pytest.raises(DataFileError) as info:
        load_trade_table(path, REGIONS, SECTORS)
    assert info.value.line == line_of(path, "B,A,goods,-50") == 7


def test_several_missing_combinations_counted(tiny_dir: Path) -> None:
    path = tiny_dir / "trade.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-3]), encoding="utf-8")  # drop the last three rows
    with pytest.raises(DataFileError) as info:
        load_trade_table(path, REGIONS, SECTORS)
    assert "3 origin-destination-sector row(s) missing, first C -> A, services" in str(info.value)


def test_destination_buying_nothing(tiny_dir: Path) -> None:
    path = tiny_dir / "trade.csv"
    for row in ("A,C,services,8", "B,C,services,6", "C,C,services,8000"):
        edit(path, row + "\n", row.rsplit(",", 1)[0] + ",0\n")
    with pytest.raises(DataFileError) as info:
        load_trade_table(path, REGIONS, SECTORS)
    assert "C buys nothing of sector services" in str(info.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "trade.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_trade_table(path, REGIONS, SECTORS)
    assert info.value.line == 1
    assert "data file is empty" in str(info.value)


def test_data_file_error_is_a_scenario_error_with_row(tiny_dir: Path) -> None:
    path = edit(tiny_dir / "trade.csv", "B,A,goods,50", "B,Q,goods,50")
    sc = load_scenario(tiny_dir / "tiny.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario_data(sc)
    err = info.value
    assert isinstance(err, DataFileError)
    assert Path(err.file or "").name == "trade.csv"
    assert err.line == line_of(path, "B,Q,goods") == 5
    assert "unknown region 'Q'" in str(err)


def test_prepare_reports_data_errors(tiny_dir: Path) -> None:
    edit(tiny_dir / "coefficients.csv", "*,goods,goods,0.30", "*,goods,goods,1.2")
    with pytest.raises(DataFileError) as info:
        prepare(load_scenario(tiny_dir / "tiny.yaml"))
    assert Path(info.value.file or "").name == "coefficients.csv"
    assert info.value.line == 2


@pytest.mark.parametrize("bad", ["fifty", "-50"])
def test_data_error_message_shows_bad_value(tiny_dir: Path, bad: str) -> None:
    path = edit(tiny_dir / "trade.csv", "B,A,goods,50", f"B,A,goods,{bad}")
    with pytest.raises(DataFileError) as info:
        load_trade_table(path, REGIONS, SECTORS)
    assert info.value.value == bad
    assert bad in str(info.value)


# ---------------------------------------------------------------- coefficient table errors

COEF_ERRORS = [
    pytest.param(
        "*,goods,goods,0.30",
        "*,goods,goods,1.0",
        "*,goods,goods",
        ["a technical coefficient must be below 1", "allowed: input per unit of output in [0, 1)"],
        id="coefficient-equal-one",
    ),
    pytest.param(
        "B,goods,goods,0.35",
        "B,goods,goods,1.5",
        "B,goods,goods",
        ["a technical coefficient must be below 1"],
        id="coefficient-above-one",
    ),
    pytest.param(
        "B,goods,goods,0.35",
        "B,goods,goods,-0.1",
        "B,goods,goods",
        ["column 'value' must be a finite number >= 0"],
        id="negative-coefficient",
    ),
    pytest.param(
        "B,goods,goods,0.35",
        "X,goods,goods,0.35",
        "X,goods,goods",
        ["unknown region 'X' in column 'region'"],
        id="unknown-region",
    ),
    pytest.param(
        "B,goods,goods,0.35",
        "B,goods,fuel,0.35",
        "B,goods,fuel",
        ["unknown sector 'fuel' in column 'output'"],
        id="unknown-sector",
    ),
    pytest.param(
        "region,input,output,value",
        "region,input,output,coefficient",
        "region,input",
        ["missing column(s) value"],
        id="missing-column",
    ),
    pytest.param(
        "B,goods,goods,0.35",
        "B,goods,goods,0.85",
        None,
        ["inputs of B/goods add up to 1.050 per unit of output", "column sums below 1"],
        id="column-sum-one-or-more",
    ),
]


@pytest.mark.parametrize(("old", "new", "needle", "fragments"), COEF_ERRORS)
def test_coefficient_table_errors(
    tiny_dir: Path, old: str, new: str, needle: str | None, fragments: list[str]
) -> None:
    path = edit(tiny_dir / "coefficients.csv", old, new)
    with pytest.raises(DataFileError) as info:
        load_coefficients_table(path, REGIONS, SECTORS)
    err = info.value
    assert err.file == str(path)
    assert err.line == (line_of(path, needle) if needle else None)
    for fragment in fragments:
        assert fragment in str(err), f"{fragment!r} not in\n{err}"


# ---------------------------------------------------------------- where data files may lie


def test_data_file_outside_folder_refused(tiny_dir: Path) -> None:
    outside = tiny_dir.parent / "outside.csv"
    outside.write_bytes((tiny_dir / "trade.csv").read_bytes())
    scenario = edit(tiny_dir / "tiny.yaml", "{file: trade.csv}", "{file: ../outside.csv}")
    sc = load_scenario(scenario)  # validation itself does not read files
    with pytest.raises(ScenarioError) as info:
        load_scenario_data(sc)
    err = info.value
    assert err.key == "trade.baseline.file"
    assert Path(err.file or "").name == "tiny.yaml"
    assert err.line == line_of(scenario, "outside.csv") == 20
    assert "outside the scenario's folder tree" in str(err)
    assert "'../outside.csv'" in str(err)
    assert "allowed: files under" in str(err)
    # An extra data root lets the same file be read.
    sc = load_scenario(scenario, data_roots=[tiny_dir.parent])
    assert load_scenario_data(sc).trade[1, 0, 0] == 50.0


def test_absolute_path_outside_refused(tiny_dir: Path) -> None:
    outside = tiny_dir.parent / "elsewhere" / "coef.csv"
    outside.parent.mkdir()
    outside.write_bytes((tiny_dir / "coefficients.csv").read_bytes())
    scenario = edit(tiny_dir / "tiny.yaml", "{file: coefficients.csv}", f"{{file: '{outside}'}}")
    with pytest.raises(ScenarioError) as info:
        load_scenario_data(load_scenario(scenario))
    assert info.value.key == "input_output.coefficients.file"
    assert info.value.line == line_of(scenario, "coef.csv")
    assert "outside the scenario's folder tree" in str(info.value)


def test_symlink_pointing_outside_refused(tiny_dir: Path) -> None:
    outside = tiny_dir.parent / "outside.csv"
    outside.write_bytes((tiny_dir / "trade.csv").read_bytes())
    os.symlink(outside, tiny_dir / "link.csv")
    scenario = edit(tiny_dir / "tiny.yaml", "{file: trade.csv}", "{file: link.csv}")
    with pytest.raises(ScenarioError) as info:
        load_scenario_data(load_scenario(scenario))
    assert "outside the scenario's folder tree" in str(info.value)


def test_subfolder_of_scenario_allowed(tiny_dir: Path) -> None:
    (tiny_dir / "data").mkdir()
    (tiny_dir / "trade.csv").rename(tiny_dir / "data" / "trade.csv")
    scenario = edit(tiny_dir / "tiny.yaml", "{file: trade.csv}", "{file: data/trade.csv}")
    data = load_scenario_data(load_scenario(scenario))
    assert data.trade.shape == (3, 3, 2)


def test_missing_data_file(tiny_dir: Path) -> None:
    scenario = edit(tiny_dir / "tiny.yaml", "{file: trade.csv}", "{file: trade_2016.csv}")
    with pytest.raises(ScenarioError) as info:
        load_scenario_data(load_scenario(scenario))
    err = info.value
    assert err.key == "trade.baseline.file"
    assert err.line == 20
    assert "data file not found" in str(err)
    assert "'trade_2016.csv'" in str(err)


def test_base_data_files_resolve_next_to_base(tiny_dir: Path) -> None:
    # A variant in the same folder: data paths written in the base stay relative to it.
    variant = tiny_dir / "variant.yaml"
    variant.write_text("extends: tiny.yaml\ntrade:\n  closure: additive\n", encoding="utf-8")
    assert load_scenario_data(load_scenario(variant)).trade[1, 0, 0] == 50.0


def test_variant_in_subfolder_reads_base_data(tiny_dir: Path) -> None:
    # The base lies above the variant's folder: extending it does not open its folder
    # (issue 13), so its data is read once that folder is allowed with --data-root.
    (tiny_dir / "variants").mkdir()
    variant = tiny_dir / "variants" / "v.yaml"
    variant.write_text("extends: ../tiny.yaml\ntrade:\n  closure: additive\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="outside the scenario's folder tree") as info:
        load_scenario_data(load_scenario(variant))
    assert f"allow it with --data-root {tiny_dir.resolve()}" in str(info.value)
    sc = load_scenario(variant, data_roots=[tiny_dir])
    assert load_scenario_data(sc).trade[1, 0, 0] == 50.0

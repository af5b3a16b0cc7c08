"""Messages a new user meets must say what happened and how to fix it (issue 13, "Clear
messages" and "Small things a new user hit").

Each case was a message that misled (an id read as a boolean reported as "expected a
mapping", a folder reported as "not found", "0.00 GiB"), an error without a ``fix:``
line, a table in the wrong money unit accepted silently, a summary wider than a
terminal, or a command without a description. Every refusal is checked for its three
parts (what, allowed, fix).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import yaml

import sim.api as api
import sim.limits as limits
from sim.cli import main
from sim.errors import ScenarioError
from sim.results.write import remove_stale_temporaries, temporary_path, write_netcdf
from sim.scenario.load import load_yaml_document
from sim.summary import WIDTH, summary_table
from tests.reliability_record import record

AREA = "clear messages"
TINY_DIR = Path(__file__).parent / "data" / "tiny"


def tiny_copy(tmp_path: Path) -> Path:
    target = tmp_path / "tiny"
    shutil.copytree(TINY_DIR, target)
    return target / "tiny.yaml"


def edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def three_parts(message: str) -> None:
    assert "allowed:" in message and "fix:" in message, message
    assert "Traceback" not in message, message


# ---------------------------------------------------------------- ids YAML reads as booleans


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("regions: [A, B, C]", "regions: [A, B, NO]", "regions[2]"),
        ("regions: [A, B, C]", "regions: [A, B, {id: off}]", "regions[2].id"),
        ("sectors: [goods, services]", "sectors: [goods, on]", "sectors[1]"),
        ("sectors: [goods, services]", "sectors: [goods, Yes]", "sectors[1]"),
        ("{origin: A, destination: B, days: 2}", "{origin: A, destination: no, days: 2}",
         "trade_costs.border_days[0].destination"),
    ],
    ids=["region NO", "region id off", "sector on", "sector Yes", "reference no"],
)  # fmt: skip
def test_id_read_as_a_boolean_says_so_and_to_quote_it(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    """Regression: a region or sector id that YAML 1.1 reads as a boolean (`NO` for Norway,
    `on`, `yes`) was refused as "expected a mapping ... regions[2] = False"."""
    path = edit(tiny_copy(tmp_path), old, new)
    code, _, err = run_cli(["validate", str(path)])
    assert code == 2
    assert "read as the boolean" in err and "quote" in err, err
    assert f"key: {key} =" in err and "expected a mapping" not in err, err
    three_parts(err)
    word = re.findall(r"\b(NO|off|on|Yes|no)\b", new)[-1]
    record(AREA, f"id YAML 1.1 reads as a boolean: {key} written as {word}",
           "ScenarioError: read as a boolean, quote it")  # fmt: skip


# ---------------------------------------------------------------- data paths that are not files


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_data_file_that_is_a_folder_or_a_pipe_says_what_it_is(tmp_path: Path, kind: str) -> None:
    """Regression: a data file that is a directory or a FIFO was reported as "not found"."""
    path = tiny_copy(tmp_path)
    trade = path.parent / "trade.csv"
    trade.unlink()
    if kind == "folder":
        trade.mkdir()
    else:
        os.mkfifo(trade)
    code, _, err = run_cli(["validate", str(path)])
    assert code == 2
    assert "not found" not in err, err
    assert ("is a folder" if kind == "folder" else "is a named pipe (FIFO)") in err, err
    three_parts(err)
    record(AREA, f"trade.baseline.file is a {kind}", "ScenarioError saying what the path is")


# ---------------------------------------------------------------- sizes


def test_sizes_are_shown_in_a_unit_that_shows_them() -> None:
    assert limits._gib(1000) == "1000 B"
    assert limits._gib(1536) == "1.50 KiB"
    assert limits._gib(3.5 * 2**20) == "3.50 MiB"
    assert limits._gib(2 * 2**30) == "2.00 GiB"


def test_disk_refusal_gives_sizes_that_are_not_zero(
    tiny_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the disk-space refusal read "may need up to 0.00 GiB but ... has 0.00 GiB
    free"."""

    class Usage:
        free = 1000

    monkeypatch.setattr(limits.shutil, "disk_usage", lambda _: Usage())
    sc = api.load_scenario(tiny_path, replicas=4)
    with pytest.raises(ScenarioError) as err:
        api.run_to_file(sc, tmp_path / "o.nc")
    message = str(err.value)
    assert "0.00 GiB" not in message and "has 1000 B free" in message, message
    assert re.search(r"may need up to [0-9.]+ (KiB|MiB)", message), message
    three_parts(message)
    record(AREA, "output larger than the free disk space (1000 B free)",
           "ScenarioError with sizes in B/KiB/MiB")  # fmt: skip


# ---------------------------------------------------------------- large documents


def test_large_document_without_aliases_names_the_size_limit(tmp_path: Path) -> None:
    """Regression: a 12 MB scenario with no aliases (600,000 keys) was refused as "YAML alias
    expansion refused ... reduce the nesting of aliases"."""
    path = tmp_path / "big.yaml"
    path.write_text("name: big\ntable:\n" + "".join(f"  k{i}: {i}\n" for i in range(600)))
    with pytest.raises(ScenarioError) as err:
        load_yaml_document(path, max_nodes=1000)
    message = str(err.value)
    assert "more than 1000 nodes" in message and "no aliases" in message, message
    assert "alias expansion" not in message and "nesting of aliases" not in message, message
    three_parts(message)
    aliased = tmp_path / "aliased.yaml"
    aliased.write_text(
        "a: &a [" + ", ".join(["x"] * 40) + "]\nb: [" + ", ".join(["*a"] * 40) + "]\n"
    )
    with pytest.raises(ScenarioError, match="alias expansion refused"):
        load_yaml_document(aliased, max_nodes=1000)
    record(AREA, "document over the node limit without aliases",
           "ScenarioError naming the size limit, not aliases")  # fmt: skip


# ---------------------------------------------------------------- long output names


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_output_name_at_the_file_system_limit_is_written(tmp_path: Path) -> None:
    """Regression: an output name up to the file system's limit was refused because the
    temporary name is about 30 characters longer."""
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    ds = xr.Dataset({"a": ("x", np.arange(3.0))})
    for name in ("n" * (limit - 3) + ".nc", "é" * ((limit - 3) // 2) + ".nc"):
        target = tmp_path / name
        assert len(os.fsencode(target.name)) <= limit
        write_netcdf(ds, target)
        with xr.open_dataset(target, engine="h5netcdf") as back:
            assert back["a"].values.tolist() == [0.0, 1.0, 2.0]
        assert os.listdir(tmp_path) == [name]  # no temporary left
        # A dead writer's temporary of the long name is still recognised and removed.
        mine = temporary_path(target, directory=False)
        assert len(os.fsencode(mine.name)) <= limit
        dead = mine.with_name(mine.name.replace(f".{os.getpid()}-", f".{_dead_pid()}-", 1))
        mine.rename(dead)
        assert remove_stale_temporaries(target) == [dead]
        assert not dead.exists()
        target.unlink()
    record(AREA, "output name of the file system's maximum length (ASCII and UTF-8)",
           "written; a dead writer's temporary removed")  # fmt: skip


def test_sim_run_writes_an_output_name_of_maximum_length(tiny_path: Path, tmp_path: Path) -> None:
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    target = tmp_path / ("r" * (limit - 3) + ".nc")
    code, _, err = run_cli(["run", str(tiny_path), "-o", str(target), "--replicas", "2"])
    assert code == 0, err
    assert os.listdir(tmp_path) == [target.name]


# ---------------------------------------------------------------- errors without a fix line


def test_policy_date_outside_the_horizon_says_how_to_fix(tmp_path: Path) -> None:
    """Regression: a policy date outside the horizon was refused without a `fix:` line."""
    path = edit(tiny_copy(tmp_path), "{date: 2023-01-01", "{date: 2035-01-01")
    code, _, err = run_cli(["validate", str(path)])
    assert code == 2 and "policy date outside the simulated period" in err, err
    three_parts(err)
    record(AREA, "policy date after the horizon", "ScenarioError with a fix")


@pytest.mark.parametrize(
    ("cell", "why"),
    [('"441,000.0"', "thousands separator"), ('"0,5"', "decimal comma"), ("abc", "")],
)
def test_csv_number_with_separators_says_so(tmp_path: Path, cell: str, why: str) -> None:
    """Regression: a CSV value "441,000.0" was refused as not a number without saying that
    the thousands separator is the problem, and without a `fix:` line."""
    path = tiny_copy(tmp_path)
    edit(path.parent / "trade.csv", "A,A,goods,800\n", f"A,A,goods,{cell}\n")
    code, _, err = run_cli(["validate", str(path)])
    assert code == 2 and "is not a number" in err, err
    assert why in err and "trade.csv:2" in err, err
    three_parts(err)
    record(AREA, f"trade table value {cell}", "DataFileError saying what is wrong, with a fix")


def test_unknown_region_in_another_case_suggests_the_declared_one(tmp_path: Path) -> None:
    """Regression: `unknown region 'zw'` gave no "did you mean 'ZW'"."""
    path = edit(tiny_copy(tmp_path), "growth: {A: 0.03", "growth: {a: 0.03")
    code, _, err = run_cli(["validate", str(path)])
    assert code == 2 and "unknown region 'a'" in err and "did you mean 'A'?" in err, err
    three_parts(err)
    record(AREA, "region id in another case ('a' for 'A')", "ScenarioError: did you mean 'A'?")


def test_range_of_a_unitless_value_says_unitless(tmp_path: Path) -> None:
    """Regression: the allowed range of a share was printed as `[0, 1] 1` (unit '1')."""
    path = edit(tiny_copy(tmp_path), "investment_mix: {goods: 0.5", "investment_mix: {goods: 1.5")
    code, _, err = run_cli(["validate", str(path)])
    assert code == 2 and "allowed: [0, 1] unitless" in err, err
    three_parts(err)
    record(AREA, "share out of its range [0, 1]", "ScenarioError: allowed [0, 1] unitless")


def test_dict_without_base_dir_mentions_base_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a dict given to `sim.run` without `base_dir` was refused as "data file not
    found" without mentioning `base_dir`."""
    data = yaml.safe_load((TINY_DIR / "tiny.yaml").read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as err:
        api.run(data, replicas=2)
    message = str(err.value)
    # (tmp_path's name holds the test's name, so look at the hint, not the whole message)
    assert "data file not found" in message and "base_dir=" in (err.value.hint or ""), message
    three_parts(message)
    ds = api.run(data, replicas=2, base_dir=TINY_DIR)  # and base_dir= is the fix
    assert ds.sizes["replica"] == 2
    record(AREA, "scenario dict given to sim.run without base_dir", "ScenarioError naming base_dir")


# ---------------------------------------------------------------- money unit of an MRIO table


def test_parse_money_unit() -> None:
    from sim.scenario.mrio import parse_money_unit

    assert parse_money_unit("Mill USD") == ("USD", "million")
    assert parse_money_unit("M.EUR") == ("EUR", "million")
    assert parse_money_unit("bn EUR") == ("EUR", "billion")
    assert parse_money_unit("kEUR") == ("EUR", "thousand")
    assert parse_money_unit("EUR") == ("EUR", "one")
    assert parse_money_unit("undef") == (None, None)
    assert parse_money_unit("million US dollars")[0] is None


@pytest.mark.parametrize(
    ("currency", "money_unit", "key"),
    [("EUR", "billion", "metadata.currency"), ("USD", "billion", "metadata.money_unit")],
)
def test_mrio_table_in_another_money_unit_is_refused(
    tmp_path: Path, currency: str, money_unit: str, key: str
) -> None:
    """Regression: an EUR-billion scenario silently accepted a pymrio table whose unit says
    "Mill USD"."""
    pytest.importorskip("pymrio", reason="pymrio (a test dependency) is not installed")
    from tests.test_scenario_mrio import build

    scenario, _ = build(tmp_path)
    scenario["metadata"].update(currency=currency, money_unit=money_unit)
    path = tmp_path / "mrio.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    code, _, err = run_cli(["run", str(path), "-o", str(tmp_path / "out.nc"), "--replicas", "2"])
    assert code == 2, err
    assert "'Mill USD'" in err and f"{currency} {money_unit}" in err, err
    assert str(tmp_path / "mrio" / "unit.txt") in err and f"key: {key} =" in err, err
    three_parts(err)
    assert not (tmp_path / "out.nc").exists()
    record(AREA, f"pymrio table in Mill USD, scenario in {currency} {money_unit}",
           "ScenarioError naming both units; nothing written")  # fmt: skip


# ---------------------------------------------------------------- the run summary


def _summary_fits(text: str) -> None:
    wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not wide, "\n".join(wide)


def test_run_summary_fits_100_columns(tiny_path: Path, tmp_path: Path) -> None:
    """Regression: the `sim run` summary was 248 characters wide and wrapped; values of a
    million overflowed their column."""
    code, out, err = run_cli(["run", str(tiny_path), "-o", str(tmp_path / "o.nc"),
                              "--replicas", "3"])  # fmt: skip
    assert code == 0, err
    assert "trade turnover A-B" in out
    _summary_fits(out)
    with xr.open_dataset(tmp_path / "o.nc", engine="h5netcdf") as ds:
        data: dict[str, Any] = {"output": {"report_years": [2020, 2021, 2022, 2024, 2026, 2027]}}
        for scale in (1e6, 1e12):
            big = ds.load().copy()
            big["trade_turnover_annual"] = big["trade_turnover_annual"] * scale
            text = summary_table(big, data)
            _summary_fits(text)
            value = float(np.median(big["trade_turnover_annual"].sel(pair="A-B", year=2027)))
            # The median stands alone in its column, not run into its neighbours.
            assert re.search(rf"\s2027\s+{re.escape(f'{value:,.0f}')}\s", text), text
    record(AREA, "sim run summary, 6 years, values up to 1e14", "fits 100 columns")


# ---------------------------------------------------------------- help


@pytest.mark.parametrize(
    ("command", "words"),
    [("validate", "Check a scenario file"), ("describe", "Print a scenario as the engine reads")],
)
def test_commands_have_a_description(command: str, words: str) -> None:
    """Regression: `sim validate -h` and `sim describe -h` had no description."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main([command, "-h"])
    assert exit_.value.code == 0
    assert words in out.getvalue(), out.getvalue()
    record(AREA, f"sim {command} -h", "usage with a description")

"""Silently wrong results and crashes found by trying the engine as new users would (issue 13).

Each test reproduces one defect and checks the fix: where the right behaviour is a
refusal, a three-part message (what, allowed, fix), exit status 2, no traceback and
nothing written; otherwise the command now works. Cases through the command line run
``sim.cli.main`` in-process, except Ctrl-C, which needs a process of its own.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sim.cli import main
from sim.errors import ScenarioError, SimError
from sim.scenario.load import MAX_EXTENDS_DEPTH, load_scenario_document
from tests.reliability_record import record

REPO = Path(__file__).resolve().parents[1]
TINY_DIR = REPO / "tests" / "data" / "tiny"
AREA = "silently wrong results and crashes"

#: 10^9 nodes once expanded, 10 lines of text.
BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


# ---------------------------------------------------------------- helpers


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def assert_refused(code: int, err: str, *needles: str) -> None:
    """Exit 2, a three-part message (what, allowed, fix) containing ``needles``, no traceback."""
    assert code == 2, err
    assert err.startswith("error: "), err
    assert "\n  allowed: " in err and "\n  fix: " in err, err
    assert "Traceback" not in err, err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err}"


def tiny_copy(tmp_path: Path) -> Path:
    target = tmp_path / "tiny"
    shutil.copytree(TINY_DIR, target)
    return target / "tiny.yaml"


def edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def refused_everywhere(scenario: Path, *needles: str) -> str:
    """``sim validate`` and ``sim run -o`` both refuse ``scenario``; the run writes nothing."""
    code, _, err = run_cli(["validate", str(scenario)])
    assert_refused(code, err, *needles)
    out = scenario.parent / "out"
    out.mkdir()
    code, _, err_run = run_cli(["run", str(scenario), "--replicas", "2", "-o", str(out / "x.nc")])
    assert_refused(code, err_run, *needles)
    assert list(out.iterdir()) == []
    return err


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of the tiny scenario, 4 replicas (read-only use)."""
    folder = tmp_path_factory.mktemp("run")
    path = folder / "tiny.nc"
    code, _, err = run_cli(["run", str(TINY_DIR / "tiny.yaml"), "--replicas", "4", "-o", str(path)])
    assert code == 0, err
    return path


# ---------------------------------------------------------------- pair labels


@pytest.mark.parametrize(
    ("old", "new", "region"),
    [
        ("regions: [A, B, C]", "regions: [A, B, C-1]", "C-1"),
        ("regions: [A, B, C]", "regions: [A, B, {id: C-1, name: Sea}]", "C-1"),
    ],
    ids=["shorthand", "mapping"],
)
def test_region_id_with_the_pair_separator_is_refused(
    tmp_path: Path, old: str, new: str, region: str
) -> None:
    """Regression: pair labels join two region ids with '-', and region ids could contain
    '-': regions A, A-B, B-C, C gave two pairs labelled A-B-C, and a region A-1 made the
    summary, `sim report` and `sim compare --target` fail with KeyError after the output was
    written. A region id with '-' is now refused at validation, suggesting '_'."""
    scenario = edit(tiny_copy(tmp_path), old, new)
    err = refused_everywhere(scenario, f"region id '{region}'", "'C_1'", "regions[2].id")
    assert f"{scenario}:12:" in err
    record(AREA, "region id containing '-', the pair-label separator", "refused at validation")


def test_project_and_portfolio_ids_may_still_contain_a_hyphen(tmp_path: Path) -> None:
    # Only region ids make pair labels; the tiny scenario's projects are plant-a, plant-b.
    scenario = tiny_copy(tmp_path)
    assert "plant-a" in scenario.read_text()
    code, _, err = run_cli(["validate", str(scenario)])
    assert code == 0, err


# ---------------------------------------------------------------- CSV headers


@pytest.mark.parametrize(
    ("file", "header", "positions"),
    [
        ("trade.csv", "origin,destination,sector,value", "positions 4 and 5"),
        ("coefficients.csv", "region,input,output,value", "positions 4 and 5"),
    ],
)
def test_csv_header_naming_a_column_twice_is_refused(
    tmp_path: Path, file: str, header: str, positions: str
) -> None:
    """Regression: a CSV whose header named the same column twice (`value,value`) was
    accepted and the last of the two columns used. Refused, naming both positions."""
    scenario = tiny_copy(tmp_path)
    table = scenario.parent / file
    lines = table.read_text(encoding="utf-8").splitlines()
    assert lines[0] == header
    table.write_text(
        "\n".join([lines[0] + ",value", *(line + ",0" for line in lines[1:])]) + "\n",
        encoding="utf-8",
    )
    err = refused_everywhere(scenario, "column 'value' twice", positions)
    assert f"{table}:1:" in err
    record(AREA, f"CSV header naming a column twice ({file})", "refused naming both positions")


# ---------------------------------------------------------------- series years


@pytest.mark.parametrize("spelling", ["'2024 '", "'+2024'", "' 2024'"])
def test_series_year_written_twice_in_different_forms_is_refused(
    tmp_path: Path, spelling: str
) -> None:
    """Regression: a series whose year was written twice in different text forms (`2024`
    and `'2024 '` or `'+2024'`) was accepted and the later value won, although the loader
    refuses `2024` twice. Refused, naming both spellings and the first one's line."""
    scenario = edit(
        tiny_copy(tmp_path),
        "B: {2020: 0.05, 2024: 0.02}",
        f"B: {{2020: 0.05, 2024: 0.02,\n           {spelling}: 0.04}}",
    )
    shown = spelling.strip("'")
    refused_everywhere(scenario, "year 2024 is written twice", "'2024'", repr(shown), "line 15")
    record(AREA, f"series year written as 2024 and {spelling}", "refused naming both")


# ---------------------------------------------------------------- compare --year


def test_compare_year_past_the_horizon_is_refused(tiny_run: Path, tmp_path: Path) -> None:
    """Regression: `sim compare --year 2045` past the horizon was silently dropped (the
    table showed the other years). Refused with the years the runs have; nothing written."""
    out = tmp_path / "cmp.nc"
    argv = ["compare", str(tiny_run), str(tiny_run), "--year", "2045", "-o", str(out)]
    code, _, err = run_cli(argv)
    assert_refused(code, err, "year 2045", "2020-2027")
    assert not out.exists()
    code, stdout, err = run_cli(["compare", str(tiny_run), str(tiny_run), "--year", "2027"])
    assert code == 0, err
    assert "2027" in stdout
    record(AREA, "sim compare --year past the horizon", "refused with the horizon's years")


# ---------------------------------------------------------------- rerun of a subset


def _perturbed(monkeypatch: pytest.MonkeyPatch, relative: float) -> None:
    """Make the rerun's simulation differ from the original by ``relative`` in jobs."""
    import sim.api

    simulate = sim.api.simulate

    def noisy(*args: object, **kwargs: object) -> xr.Dataset:
        ds = simulate(*args, **kwargs)  # type: ignore[arg-type]
        return ds.assign(jobs=ds["jobs"] * (1 + relative))

    monkeypatch.setattr(sim.api, "simulate", noisy)


def test_subset_rerun_compares_with_a_stated_tolerance(
    tiny_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: `sim rerun X.nc --replicas 20` (a subset, simulated in other batches)
    reported DIFFERENT because of 2.9e-11-person rounding differences. A subset rerun now
    compares within a stated relative tolerance (1e-9); a full rerun stays bit for bit."""
    from sim.analysis.rerun import SUBSET_RTOL, rerun

    assert SUBSET_RTOL == 1e-9
    _perturbed(monkeypatch, 1e-13)  # rounding noise, far below the tolerance
    code, out, err = run_cli(["rerun", str(tiny_run), "--replicas", "2"])
    assert code == 0, out + err
    assert "identical: the rerun of 2 replicas" in out
    assert "relative tolerance of 1e-09" in out
    full = rerun(tiny_run)  # all replicas: bit for bit, so the same noise is a difference
    assert not full.identical and full.rtol == 0.0
    assert "bit for bit" in full.format() and any("jobs" in d for d in full.differences)
    _perturbed(monkeypatch, 1e-6)  # a real difference is still one in a subset
    code, out, _ = run_cli(["rerun", str(tiny_run), "--replicas", "2"])
    assert code == 1 and "DIFFERENT" in out and "jobs:" in out
    record(AREA, "sim rerun --replicas (subset) with rounding noise", "identical within 1e-9")


# ---------------------------------------------------------------- no projects


def test_run_without_projects_writes_netcdf(tmp_path: Path) -> None:
    """Regression: `sim run -o X.nc` on a scenario with no projects failed with
    `ValueError: All chunk dimensions must be positive` (a `project` dimension of length 0
    given a chunk of 0). The run now writes the file, with an empty `project` dimension."""
    scenario = tiny_copy(tmp_path)
    text = scenario.read_text(encoding="utf-8")
    text = re.sub(r"  projects:\n(?:    .*\n|       .*\n)*", "", text)
    text = re.sub(r"  portfolios:\n(?:    .*\n|       .*\n)*", "", text)
    assert "projects" not in text and "portfolios" not in text
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path / "x.nc"
    argv = ["run", str(scenario), "--replicas", "4", "--batch-size", "2", "-o", str(out)]
    code, _, err = run_cli(argv)
    assert code == 0, err
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.sizes["project"] == 0 and ds.sizes["replica"] == 4
    record(AREA, "sim run -o X.nc on a scenario without projects", "written")


# ---------------------------------------------------------------- output.pairs


@pytest.mark.parametrize(
    ("pairs", "needle"),
    [
        ("[[A, Z]]", "unknown region 'Z'"),
        ("[[A, A]]", "two different regions"),
        ("[[A]]", "a pair of two region ids"),
        ("[A-B]", "a pair of two region ids"),
    ],
)
def test_bad_output_pairs_are_refused_at_validation(
    tmp_path: Path, pairs: str, needle: str
) -> None:
    """Regression: a bad `output.pairs` (an undeclared region, or a pair of one region)
    passed `sim validate`, then `sim run` wrote the file and crashed with KeyError or
    ValueError. Validated with the rest of the scenario."""
    scenario = tiny_copy(tmp_path)
    scenario.write_text(
        scenario.read_text(encoding="utf-8") + f"output:\n  pairs: {pairs}\n", encoding="utf-8"
    )
    refused_everywhere(scenario, needle, "output.pairs[0]")
    record(AREA, f"output.pairs: {pairs}", "refused at validation")


# ---------------------------------------------------------------- control characters


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ('  title: "a\\0b"', "0x00"),
        ('  description: "x\\x07y"', "0x07"),
        ('  title: "\\e[31mred"', "0x1b"),
    ],
)
def test_control_characters_in_text_are_refused(tmp_path: Path, line: str, code: str) -> None:
    """Regression: `metadata.title: "a\\0b"` validated and simulated, then h5py refused
    the attribute (traceback) while `sim validate` said valid. Control characters in text
    (which goes into the output's attributes) are refused at validation."""
    scenario = edit(tiny_copy(tmp_path), "  name: tiny\n", f"  name: tiny\n{line}\n")
    refused_everywhere(scenario, f"control character {code}", "metadata.")
    record(AREA, f"control character {code} in metadata text", "refused at validation")


def test_tabs_and_newlines_in_text_are_still_accepted(tmp_path: Path) -> None:
    scenario = edit(
        tiny_copy(tmp_path), "  name: tiny\n", '  name: tiny\n  description: "a\\tb\\nc"\n'
    )
    code, _, err = run_cli(["validate", str(scenario)])
    assert code == 0, err


# ---------------------------------------------------------------- extends depth


def test_a_very_long_extends_chain_is_refused(tmp_path: Path) -> None:
    """Regression: an `extends` chain 1,500 files deep failed with RecursionError. The
    chain is bounded (64 files) with a located error."""
    scenario = tiny_copy(tmp_path)
    folder = scenario.parent
    depth = 1500
    for i in range(depth):
        target = f"s{i + 1}.yaml" if i + 1 < depth else "tiny.yaml"
        (folder / f"s{i}.yaml").write_text(f"extends: {target}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=f"more than {MAX_EXTENDS_DEPTH} files deep") as info:
        load_scenario_document(folder / "s0.yaml")
    assert info.value.key == "extends" and info.value.line == 1
    code, _, err = run_cli(["validate", str(folder / "s0.yaml")])
    assert_refused(code, err, f"at most {MAX_EXTENDS_DEPTH} files")
    # A chain within the bound still loads.
    (folder / f"s{MAX_EXTENDS_DEPTH - 2}.yaml").write_text("extends: tiny.yaml\n", "utf-8")
    code, _, err = run_cli(["validate", str(folder / "s0.yaml")])
    assert code == 0, err
    record(AREA, f"extends chain {depth} files deep", "refused at the bound, located")


# ---------------------------------------------------------------- disk full in HDF5

HDF5_FULL = (
    "Unable to synchronously flush file (file write failed: time = Thu Jan  1 00:00:00 2026, "
    "filename = 'x.nc', file descriptor = 7, errno = 28, error message = 'No space left on "
    "device', buf = 0x1, total write size = 4096, bytes this sub-write = 4096, bytes actually "
    "written = 18446744073709551615, offset = 0)"
)


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_disk_full_while_closing_netcdf_is_the_disk_full_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a full disk while a NetCDF file was closed made h5py raise RuntimeError
    ("file write failed ... No space left on device"), which the writers did not map to
    their disk-full message (only OSError): a traceback. Mapped; the previous file is kept."""
    from sim.results import stream, write

    out = tmp_path / "x.nc"
    xr.Dataset({"v": ("x", [0.0])}).to_netcdf(out, engine="h5netcdf")  # an earlier output
    previous = out.read_bytes()

    def full(*args: object, **kwargs: object) -> None:
        raise RuntimeError(HDF5_FULL)

    monkeypatch.setattr(stream.NetcdfBatchWriter, "close", full)
    argv = ["run", str(TINY_DIR / "tiny.yaml"), "--replicas", "2", "-o", str(out)]
    code, _, err = run_cli(argv)
    assert code == 2, err
    assert "the filesystem is full" in err and "Traceback" not in err
    assert out.read_bytes() == previous and _temporaries(tmp_path) == []

    monkeypatch.setattr(write, "dump_netcdf", full)
    with pytest.raises(SimError, match="the filesystem is full"):
        write.write_netcdf(xr.Dataset({"v": ("x", [1.0])}), out)
    assert out.read_bytes() == previous and _temporaries(tmp_path) == []

    def bug(*args: object, **kwargs: object) -> None:
        raise RuntimeError("not an I/O error")

    monkeypatch.setattr(write, "dump_netcdf", bug)
    with pytest.raises(RuntimeError, match="not an I/O error"):  # a bug stays a bug
        write.write_netcdf(xr.Dataset({"v": ("x", [1.0])}), out)
    record(AREA, "disk full while HDF5 closes the file (RuntimeError)", "disk-full message")


# ---------------------------------------------------------------- embedded scenario


DAMAGED = {
    "invalid-yaml": ("scenario_yaml", "metadata: [unclosed\n", "YAML syntax error"),
    "python-tag": ("scenario_yaml", "metadata: !!python/object/apply:os.system ['true']\n", "tag"),
    "alias-bomb": ("scenario_yaml", BILLION_LAUGHS, "alias expansion refused"),
    "sha-not-json": ("data_files_sha256", "{not json", "not JSON"),
    "sha-not-object": ("data_files_sha256", "[1, 2]", "JSON object"),
}


@pytest.mark.parametrize(
    ("command", "case"),
    [
        (command, case)
        for command in ("rerun", "report", "compare")
        for case in DAMAGED
        if command == "rerun" or DAMAGED[case][0] == "scenario_yaml"  # only rerun reads hashes
    ],
)
def test_damaged_embedded_scenario_is_refused(
    tiny_run: Path, tmp_path: Path, command: str, case: str
) -> None:
    """Regression: `sim rerun` and `sim report` on a result whose embedded scenario_yaml was
    not valid YAML, carried a `!!python/...` tag or an alias bomb (MemoryError after 2.5 GB),
    or whose data_files_sha256 was not JSON: tracebacks. The embedded scenario goes through
    the files' hardened loader with the same limits; a three-part error."""
    attribute, text, needle = DAMAGED[case]
    damaged = tmp_path / "damaged.nc"
    with xr.open_dataset(tiny_run, engine="h5netcdf") as ds:
        ds = ds.load()
    ds.attrs[attribute] = text
    ds.to_netcdf(damaged, engine="h5netcdf")
    out = tmp_path / "out"
    argv = {
        "rerun": ["rerun", str(damaged)],
        "report": ["report", str(damaged), "-o", str(out)],
        "compare": ["compare", str(tiny_run), str(damaged), "-o", str(out)],
    }[command]
    started = time.perf_counter()
    code, _, err = run_cli(argv)
    assert_refused(code, err, f"{attribute} cannot be read", needle, "sim run")
    assert time.perf_counter() - started < 20
    assert not out.exists()
    record(AREA, f"sim {command} on a result whose {attribute} is damaged ({needle})",
           "three-part error, nothing written")  # fmt: skip


# ---------------------------------------------------------------- Ctrl-C at start-up


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX")
@pytest.mark.parametrize("delay", [0.2, 0.6])
def test_ctrl_c_during_start_up_is_the_clean_interrupted_message(
    tmp_path: Path, delay: float
) -> None:
    """Regression: Ctrl-C (SIGINT) during `sim run` start-up (importing NumPy, xarray,
    SciPy) printed a KeyboardInterrupt traceback and exited -2 instead of the clean
    "interrupted" message. The handler now covers start-up."""
    out = tmp_path / "x.nc"
    # "ready" once the interpreter has started (site and .pth files are not sim's to guard).
    command = "import sys; print('ready', flush=True); from sim.cli import main; sys.exit(main())"
    argv = [sys.executable, "-c", command, "run", str(TINY_DIR / "tiny.yaml"), "-o", str(out)]
    proc = subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    assert proc.returncode == 130, (proc.returncode, err)
    assert "interrupted" in err
    assert not out.exists()
    record(AREA, f"SIGINT {delay} s after `sim run` starts", "interrupted message, exit 130")


# ---------------------------------------------------------------- extreme trade tables


def _trade_values(scenario: Path, international: str | None, everything: str | None) -> None:
    table = scenario.parent / "trade.csv"
    lines = table.read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if everything is not None:
            cells[3] = everything
        elif international is not None and cells[0] != cells[1]:
            cells[3] = international
        out.append(",".join(cells))
    table.write_text("\n".join(out) + "\n", encoding="utf-8")


def _domestic_projects_only(scenario: Path) -> None:
    """Every project and portfolio of the tiny scenario hosted by its investor."""
    text = scenario.read_text(encoding="utf-8")
    text = text.replace("host: B, investor: A", "host: A, investor: A")
    text = text.replace("host: A, investor: B", "host: B, investor: B")
    scenario.write_text(text, encoding="utf-8")


def test_near_closed_economies_run(tmp_path: Path) -> None:
    """Regression: every international flow 1e-300 (near-closed economies) stopped the run
    with `numpy.linalg.LinAlgError: Singular matrix`. The general equilibrium runs it
    (with projects financed at home: a foreign investor's capex needs trade, below)."""
    scenario = tiny_copy(tmp_path)
    _trade_values(scenario, "1e-300", None)
    _domestic_projects_only(scenario)
    out = tmp_path / "x.nc"
    code, _, err = run_cli(["run", str(scenario), "--replicas", "2", "-o", str(out)])
    assert code == 0, err
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        # Still closed: the price levels of regions that do not trade are undetermined
        # (any ratio clears), so the flows need not stay at 1e-300; they stay below what
        # double precision can add to domestic sales.
        across = ds.trade.sel(origin="A", destination="B").sum("sector")
        home = ds.trade.sel(origin="A", destination="A").sum("sector")
        assert float((across / home).max()) < 1e-16
        assert np.isfinite(ds.real_income.values).all()
    record(AREA, "every international trade flow 1e-300", "valid run")


def test_foreign_capex_between_near_closed_economies_is_a_clear_error(tmp_path: Path) -> None:
    """Capex paid by a foreign investor is a transfer the host's trade deficit must carry;
    with no trade between them there is no equilibrium, and the run says why."""
    scenario = tiny_copy(tmp_path)
    _trade_values(scenario, "1e-300", None)
    out = tmp_path / "x.nc"
    code, _, err = run_cli(["run", str(scenario), "--replicas", "2", "-o", str(out)])
    assert code == 2 and "Traceback" not in err, err
    assert "has no equilibrium" in err and "cannot run the trade surplus" in err, err
    assert re.search(r"exports [0-9.e-]+ a year", err), err
    assert not out.exists()
    record(AREA, "foreign capex between near-closed economies",
           "located error: no equilibrium without trade to carry the transfer")  # fmt: skip


def test_capex_larger_than_the_investor_can_pay_names_the_investor_and_projects(
    tmp_path: Path,
) -> None:
    """Regression: capex that an investor pays in one short construction, half its value
    added, stopped the run with a solver residual or a negative trade flow (found by the
    invariants test). The run now refuses the period, naming the investor, its outlay against its
    value added and exports, and the projects that make it up."""
    scenario = tiny_copy(tmp_path)
    edit(
        scenario,
        "  portfolios:\n",
        "    - {id: big-plant, sector: goods, host: A, investor: B, capex: 2000,\n"
        "       announced: 2020-01-01, financed: 2020-01-01, construction: 2021-01-01,\n"
        "       operating: 2021-04-01}\n"
        "  portfolios:\n",
    )
    out = tmp_path / "x.nc"
    code, _, err = run_cli(["run", str(scenario), "--replicas", "2", "-o", str(out)])
    assert code == 2 and "Traceback" not in err, err
    first = err.splitlines()[0]
    assert "the capex that B pays for in the period starting 2021-01-01" in first, err
    share = re.search(r"is (\d+)% of B's value added", first)
    assert share is not None and int(share.group(1)) > 100, first
    assert "big-plant: 100% of 2,000 over 1 year;" in err, err
    assert "allowed:" in err and "fix:" in err
    assert not out.exists()
    record(AREA, "capex larger than its investor can pay",
           "located error naming the investor, its outlay against value added, the projects")  # fmt: skip


def test_overflowing_trade_table_names_the_file_and_the_overflow(tmp_path: Path) -> None:
    """Regression: every trade value 1e308 (row sums overflow to infinity) was refused with
    a message that blamed the input-output coefficients (or the solver's convergence) and
    never named the trade file or the overflow."""
    scenario = tiny_copy(tmp_path)
    _trade_values(scenario, None, "1e308")
    refused_everywhere(scenario, "trade.csv", "overflow")
    record(AREA, "every trade value 1e308", "ScenarioError naming the trade file and the overflow")


# ---------------------------------------------------------------- plants operating at the start


def test_a_plant_operating_before_the_horizon_operates_from_the_first_period(
    tmp_path: Path,
) -> None:
    """Regression: a plant declared `operating` with dates before the horizon showed as under
    construction through the first period (capex disbursed, construction jobs, no operation
    jobs). It now operates from the first period, with no capex inside the horizon."""
    scenario = tiny_copy(tmp_path)
    edit(
        scenario,
        "financed: 2020-09-01, construction: 2021-01-01, operating: 2022-01-01}",
        "financed: 2017-09-01, construction: 2018-01-01, operating: 2019-01-01}",
    )
    edit(scenario, "announced: 2020-06-01,\n", "announced: 2017-06-01,\n")
    out = tmp_path / "x.nc"
    code, _, err = run_cli(["run", str(scenario), "--replicas", "2", "-o", str(out)])
    assert code == 0, err
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        first = ds.isel(time=0)
        stage = first.project_stage.sel(project="plant-b").values
        assert (stage == 4).all()  # operating
        jobs = first.jobs.sel(region="A", sector="services")
        assert (jobs.sel(kind="operation").values > 0).all()
        assert (jobs.sel(kind="construction").values == 0).all()
        capex = first.capital_flow_projects.sel(origin="B", destination="A", sector="services")
        assert (capex.values == 0).all()
    record(AREA, "a plant operating before the horizon", "operating from the first period")


def test_a_symlinked_data_folder_says_the_link_target_is_the_problem(tmp_path: Path) -> None:
    """Regression: a symlinked data folder was refused with an offer of --data-root that did
    not say whether the link's target was the problem."""
    scenario = tiny_copy(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("trade.csv", "coefficients.csv"):
        (scenario.parent / name).rename(elsewhere / name)
    (scenario.parent / "data").symlink_to(elsewhere, target_is_directory=True)
    edit(scenario, "file: trade.csv", "file: data/trade.csv")
    edit(scenario, "file: coefficients.csv", "file: data/coefficients.csv")
    code, _, err = run_cli(["validate", str(scenario)])
    assert_refused(code, err, "is a symbolic link to", "the link's target is the problem")
    assert f"--data-root {elsewhere.resolve()}" in err
    record(
        AREA,
        "a data folder that is a symbolic link out of the tree",
        "ScenarioError naming the link",
    )

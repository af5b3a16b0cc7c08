"""Tests for sim.cli: exit codes, error messages without tracebacks, nothing written on error."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr
import yaml

from sim.cli import main

REPO = Path(__file__).resolve().parents[1]


def edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def bad_scenario(tiny_dir: Path) -> Path:
    """The tiny scenario with an out-of-range odds on line 34."""
    return edit(tiny_dir / "tiny.yaml", "odds_financing: 0.6", "odds_financing: 1.6")


def test_run_bad_scenario_exits_2_and_writes_nothing(
    tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = bad_scenario(tiny_dir)
    out_dir = tmp_path / "results"
    out_dir.mkdir()
    target = out_dir / "out.nc"
    code = main(["run", str(scenario), "-o", str(target), "--replicas", "2"])
    captured = capsys.readouterr()
    assert code == 2
    assert f"{scenario}:34: value out of range" in captured.err
    assert "investment.pipelines.slow.odds_financing = 1.6" in captured.err
    assert "allowed: [0, 1] probability" in captured.err
    assert captured.err.startswith("error: ")
    assert "Traceback" not in captured.err + captured.out
    assert captured.out == ""
    assert not target.exists()
    assert list(out_dir.iterdir()) == []


def test_run_data_error_exits_2_and_creates_no_folder(
    tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The scenario validates; the CSV fails while the model is being built.
    edit(tiny_dir / "trade.csv", "B,A,goods,50", "B,A,goods,-50")
    target = tmp_path / "new_folder" / "out.nc"
    code = main(["run", str(tiny_dir / "tiny.yaml"), "-o", str(target)])
    captured = capsys.readouterr()
    assert code == 2
    assert "trade.csv:5: column 'value' must be a finite number >= 0" in captured.err
    assert "Traceback" not in captured.err
    assert not target.parent.exists()


def test_run_write_failure_leaves_no_temporary_file(
    tiny_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The target is a folder: a file output does not replace it (refused before the run,
    # where the final rename used to fail after the file was written).
    target = tmp_path / "taken"
    target.mkdir()
    code = main(["run", str(tiny_path), "-o", str(target), "--replicas", "2"])
    captured = capsys.readouterr()
    assert code == 2
    assert f"will not write the output {target}: it exists and is a folder" in captured.err
    assert "Traceback" not in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert list(target.iterdir()) == []


def test_bad_replicas_override_exits_2(
    tiny_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.nc"
    code = main(["run", str(tiny_path), "-o", str(target), "--replicas", "0"])
    assert code == 2
    assert "monte_carlo.replicas = 0" in capsys.readouterr().err
    assert not target.exists()


def test_validate_tiny(tiny_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tiny_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{tiny_path}: valid (3 regions, 2 sectors")
    assert captured.err == ""


def test_validate_bad_scenario(tiny_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = edit(tiny_dir / "tiny.yaml", "  step: year", "  step: yeer")
    assert main(["validate", str(scenario)]) == 2
    captured = capsys.readouterr()
    assert f"{scenario}:11: 'yeer' is not an allowed value" in captured.err
    assert "key: time.step" in captured.err
    assert "did you mean 'year'?" in captured.err
    assert "valid" not in captured.out


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["validate", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: scenario file not found" in err
    assert "Traceback" not in err


def test_validate_checks_data_files(tiny_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tiny_dir / "trade.csv").unlink()
    code = main(["validate", str(tiny_dir / "tiny.yaml")])
    captured = capsys.readouterr()
    assert code == 2
    assert "data file not found" in captured.err


def test_describe_prints_resolved_yaml(tiny_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["describe", str(tiny_path)]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert data["metadata"]["name"] == "tiny"
    # Defaults filled in.
    assert data["trade"]["closure"] == "ratio"
    assert data["trade"]["balance_rule"] == "report"
    assert data["labour"]["displacement"] == 0.0
    assert data["output"]["path"] == "outputs/{name}.nc"
    assert data["investment"]["pipelines"]["slow"]["to_construction"] == 0.5
    # Values as written, dates as text, shorthand expanded.
    assert data["monte_carlo"] == {
        "replicas": 8,
        "seed": 7,
        "batch_size": 8,
        "solver_parts": 0,
        "memory_limit": 0.8,
    }
    assert data["time"]["start"] == "2020-01-01"
    assert data["regions"][0] == {"id": "A", "name": ""}
    assert data["trade"]["elasticity"]["goods"]["low"] == pytest.approx(1.0, abs=1e-12)


def test_describe_resolves_extends(tiny_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    variant = tiny_dir / "variant.yaml"
    variant.write_text("extends: tiny.yaml\nmonte_carlo:\n  replicas: 2\n", encoding="utf-8")
    assert main(["describe", str(variant)]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert "extends" not in data
    assert data["monte_carlo"]["replicas"] == 2
    assert data["monte_carlo"]["seed"] == 7
    assert data["metadata"]["name"] == "tiny"


def test_run_writes_netcdf(
    tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"
    target = out_dir / "out.nc"
    code = main(["run", str(tiny_dir / "tiny.yaml"), "-o", str(target), "--replicas", "3"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert target.is_file()
    assert [p.name for p in out_dir.iterdir()] == ["out.nc"]  # no temporary left
    with xr.open_dataset(target, engine="h5netcdf") as ds:
        assert ds.sizes["replica"] == 3
        assert ds.attrs["scenario_name"] == "tiny"
        assert int(ds.attrs["seed"]) == 7
        assert "trade_turnover_annual" in ds
    assert "Scenario tiny: 3 replicas, seed 7" in captured.out
    assert "trade turnover A-B" in captured.out
    assert f"wrote {target} (3 replicas" in captured.out


def test_run_seed_override_and_quiet(
    tiny_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "q.nc"
    args = ["-q", "run", str(tiny_path), "-o", str(target), "--replicas", "2", "--seed", "5"]
    assert main(args) == 0
    assert capsys.readouterr().out == ""
    with xr.open_dataset(target, engine="h5netcdf") as ds:
        assert int(ds.attrs["seed"]) == 5
        assert ds.sizes["replica"] == 2


def test_output_file_mode_follows_umask(tiny_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "shared.nc"
    old = os.umask(0o022)
    try:
        assert main(["-q", "run", str(tiny_path), "-o", str(target), "--replicas", "1"]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_data_root_option_allows_outside_file(
    tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.move(tiny_dir / "trade.csv", shared / "trade.csv")
    scenario = edit(tiny_dir / "tiny.yaml", "{file: trade.csv}", "{file: ../shared/trade.csv}")
    target = tmp_path / "o.nc"
    base = ["-q", "run", str(scenario), "-o", str(target), "--replicas", "1"]
    assert main(base) == 2
    assert "outside the scenario's folder tree" in capsys.readouterr().err
    assert not target.exists()
    assert main([*base, "--data-root", str(shared)]) == 0
    assert target.is_file()
    capsys.readouterr()
    assert main(["validate", str(scenario)]) == 2
    assert "outside the scenario's folder tree" in capsys.readouterr().err
    assert main(["validate", str(scenario), "--data-root", str(shared)]) == 0


def test_module_entry_point_exit_code(tiny_dir: Path) -> None:
    scenario = bad_scenario(tiny_dir)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "sim.cli", "validate", str(scenario)],
        capture_output=True,
        text=True,
        cwd=tiny_dir,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert f"{scenario}:34: value out of range" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_closed_pipe_ends_the_command_quietly() -> None:
    """`sim describe X | head -1`: the reader closes the pipe; no traceback, exit 0."""
    import subprocess
    import sys
    from pathlib import Path

    tiny = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"
    child = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "describe", str(tiny)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # before the command writes anything
    errors = child.stderr.read().decode()
    assert child.wait(timeout=120) == 0, errors
    assert "Traceback" not in errors and "BrokenPipeError" not in errors


def test_run_without_a_scenario_away_from_the_repository_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: `sim run` alone in another folder said the default scenario's path was
    not found, without saying that no scenario was given."""
    monkeypatch.chdir(tmp_path)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "no scenario was given, and the default one" in err and "fix: give the scenario" in err
    assert list(tmp_path.iterdir()) == []

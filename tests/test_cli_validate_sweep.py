"""`sim validate` recognises sweep files and checks them without running."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli import main

from .conftest import REPO


def test_validate_the_documented_sweep(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(REPO / "sweeps" / "khiva_lhs.yaml")]) == 0
    assert "valid sweep (32 points, 640 runs" in capsys.readouterr().out


def test_validate_a_bad_sweep_names_key_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = tmp_path / "bad.yaml"
    sweep.write_text(
        f"scenario: {REPO / 'scenarios' / 'uz_kz_khiva_2024.yaml'}\n"
        "design: {kind: lhs, samples: 4}\n"
        "parameters:\n"
        "  - key: trade.elasticty.machinery.mean\n"
        "    range: [3, 8]\n"
    )
    assert main(["validate", str(sweep)]) == 2
    err = capsys.readouterr().err
    assert f"{sweep}:4" in err and "trade.elasticty" in err and "Traceback" not in err


def test_slurm_options_without_slurm_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: --jobs, --partition... without --slurm were ignored in silence."""
    sweep = REPO / "sweeps" / "khiva_lhs.yaml"
    code = main(["sweep", str(sweep), "-o", str(tmp_path / "s.zarr"), "--jobs", "2",
                 "--partition", "debug"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--partition, --jobs set SLURM jobs" in err and "fix: add --slurm" in err
    assert not (tmp_path / "s.zarr").exists()

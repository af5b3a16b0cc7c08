"""Mistakes that used to pass without a word (issue 13: "Obvious unit mistakes pass
silently", a misspelt key under ``!delete``, a docs snippet that fails, charts cut off,
Ctrl-C during a Dask sweep).

Each likely mistake now gets a warning located like an error (file, line, key, value,
what was assumed, the fix) or a three-part error (what, allowed, fix) with exit status 2
and no traceback.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
from pathlib import Path

import pytest

from sim.cli import main
from tests.reliability_record import record

AREA = "unit mistakes and other silent slips"
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


def line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# ---------------------------------------------------------------- percents and dates: warnings

WARNED = [
    ("B: {2020: 0.05, 2024: 0.02}", "B: {2020: 0.05, 2021: 1.5, 2024: 0.02}",
     "economy.growth.B.2021", "looks like a percent", "growth written as a percent"),
    ("A: 0.03, B", "A: {dist: normal, mean: 1.8, sd: 0.1}, B",
     "economy.growth.A.mean", "looks like a percent", "growth mean written as a percent"),
    ("  border_days:\n", "  tariffs:\n    - {origin: A, destination: B, rate: 8}\n  border_days:\n",
     "trade_costs.tariffs[0].rate", "looks like a percent", "tariff of 8 meaning 8 %"),
    ("kind: border_days, origin: A, destination: B, value: 0.5",
     "kind: tariff, origin: A, destination: B, value: 12",
     "policies[0].value", "looks like a percent", "tariff policy of 12 meaning 12 %"),
    ("capex: 50, announced: 2020-03-01", "capex: 50, announced: 2031-03-01",
     "investment.projects[0].announced", "after the simulated period",
     "project announced after the horizon"),
    ("announced: [2020-01-01, 2021-06-30]", "announced: [2029-01-01, 2030-06-30]",
     "investment.portfolios[0].announced", "after the simulated period",
     "portfolio announced after the horizon"),
    ("start: 2020-01-01", "start: 2020-07-01", "time.start", "2020-01-01",
     "time.start mid-year with step: year"),
    ("start: 2020-01-01\n  end: 2027-12-31\n  step: year",
     "start: 2020-02-15\n  end: 2027-12-31\n  step: quarter", "time.start", "2020-01-01",
     "time.start mid-quarter with step: quarter"),
]  # fmt: skip


#: Text on the line each warning must name.
NEEDLES = dict(zip([w[-1] for w in WARNED], ["2021: 1.5", "mean: 1.8", "rate: 8", "value: 12",
               "2031-03-01", "2029-01-01", "2020-07-01", "2020-02-15"], strict=True))  # fmt: skip


@pytest.mark.parametrize(("old", "new", "key", "says", "case"), WARNED, ids=[w[-1] for w in WARNED])
def test_likely_unit_mistake_gets_a_located_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, old: str, new: str, key: str, says: str,
    case: str,
) -> None:  # fmt: skip
    """Regression: obvious unit mistakes passed silently: growth written as a percent
    (`2021: 1.5`, inside the allowed range, multiplied turnover by 1,700), a tariff of `8`
    meaning 8 %, projects or portfolios announced after the horizon, `time.start:
    2020-07-01` moved to 1 January (or to the quarter's first day) without a word."""
    path = edit(tiny_copy(tmp_path), old, new)
    with caplog.at_level(logging.WARNING):
        code, _, err = run_cli(["validate", str(path)])
    assert code == 0, err
    found = [w for w in warnings_of(caplog) if f"key: {key} = " in w]
    assert found, warnings_of(caplog)
    message = found[0]
    assert message.startswith(f"{path}:{line_of(path, NEEDLES[case])}: "), message
    assert says in message and "assumed:" in message and "fix:" in message, message
    record(AREA, case, "located warning saying what was assumed")


def test_warning_gives_the_line_of_the_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = edit(tiny_copy(tmp_path), "start: 2020-01-01", "start: 2020-07-01")
    with caplog.at_level(logging.WARNING):
        assert run_cli(["validate", str(path)])[0] == 0
    (message,) = [w for w in warnings_of(caplog) if "time.start" in w]
    assert message.startswith(f"{path}:{line_of(path, 'start: 2020-07-01')}: "), message
    assert "the simulation starts on 2020-01-01" in message, message


def test_sensible_values_give_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = edit(tiny_copy(tmp_path), "start: 2020-01-01\n  end: 2027-12-31\n  step: year",
                "start: 2020-04-01\n  end: 2027-12-31\n  step: quarter")  # fmt: skip
    edit(path, "B: {2020: 0.05, 2024: 0.02}", "B: {2020: 0.5, 2024: -0.6}")
    edit(path, "  border_days:\n", "  tariffs:\n    - {rate: 1.0}\n  border_days:\n")
    with caplog.at_level(logging.WARNING):
        assert run_cli(["validate", str(path)])[0] == 0
    assert not [w for w in warnings_of(caplog) if "sim.scenario" in w or "key:" in w]


# ---------------------------------------------------------------- years outside the horizon: errors

REFUSED = [
    ("monte_carlo:", "output:\n  report_years: [2024, 2035]\nmonte_carlo:",
     "output.report_years[1]", "report year in 2035 past the horizon"),
    ("monte_carlo:", "output:\n  report_years: [2019]\nmonte_carlo:",
     "output.report_years[0]", "report year before the horizon"),
    ("monte_carlo:", "calibration:\n  targets:\n    - {kind: turnover, regions: [A, B], "
     "year: 2031, value: 10}\nmonte_carlo:", "calibration.targets[0].year",
     "calibration target after the horizon"),
    ("monte_carlo:", "calibration:\n  targets:\n    - {kind: turnover_growth, regions: [A, B], "
     "year: 2025, base_year: 2010, value: 1.5}\nmonte_carlo:",
     "calibration.targets[0].base_year", "calibration base year before the horizon"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "key", "case"), REFUSED, ids=[r[-1] for r in REFUSED])
def test_years_outside_the_horizon_are_refused(
    tmp_path: Path, old: str, new: str, key: str, case: str
) -> None:
    """Regression: calibration targets and `output.report_years` outside the simulated
    period were accepted (the summary dropped the years, calibration failed later)."""
    path = edit(tiny_copy(tmp_path), old, new)
    code, _, err = run_cli(["validate", str(path)])
    assert code == 2, err
    assert "outside the simulated period" in err and f"key: {key} = " in err, err
    assert "2020 to 2027" in err, err
    three_parts(err)
    record(AREA, case, "ScenarioError at the year, exit 2")


# ---------------------------------------------------------------- !delete of a key the base lacks


@pytest.mark.parametrize(
    ("variant", "key"),
    [
        ("trade_costs:\n  tarifs: !delete\n", "trade_costs.tarifs"),
        ("labor: !delete\n", "labor"),
        ("extra:\n  x: !delete\n", "extra.x"),
    ],
    ids=["misspelt nested key", "misspelt top-level key", "key under a new mapping"],
)
def test_delete_of_a_key_the_base_lacks_is_refused(tmp_path: Path, variant: str, key: str) -> None:
    """Regression: a misspelt key under `!delete` (`tarifs: !delete`) deleted nothing, without
    a word."""
    base = tiny_copy(tmp_path)
    path = base.parent / "variant.yaml"
    path.write_text("extends: tiny.yaml\n" + variant, encoding="utf-8")
    code, _, err = run_cli(["validate", str(path)])
    assert code == 2, err
    assert "!delete names a key the base does not have" in err, err
    assert f"{path}:{len(variant.splitlines()) + 1}:" in err and f"key: {key}" in err, err
    three_parts(err)
    record(AREA, f"!delete of a key the base lacks: {key}", "ScenarioError at the !delete, exit 2")


def test_delete_suggests_the_close_key(tmp_path: Path) -> None:
    path = tiny_copy(tmp_path).parent / "variant.yaml"
    path.write_text("extends: tiny.yaml\nlabor: !delete\n", encoding="utf-8")
    code, _, err = run_cli(["validate", str(path)])
    assert code == 2 and "did you mean 'labour'?" in err, err


def test_delete_of_an_inherited_key_still_works(tmp_path: Path) -> None:
    path = tiny_copy(tmp_path).parent / "variant.yaml"
    path.write_text("extends: tiny.yaml\npolicies: !delete\n", encoding="utf-8")
    code, out, err = run_cli(["describe", str(path)])
    assert code == 0, err
    assert "border crossing" not in out

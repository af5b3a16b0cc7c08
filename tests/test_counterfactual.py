"""The static counterfactual (sim.counterfactual, `sim counterfactual`)."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from sim import api
from sim.errors import ConvergenceError, ScenarioError
from sim.scenario.load import load_scenario_document


def _static(tiny_path: Path) -> dict[str, Any]:
    """The tiny scenario with growth, projects and migration off: policies alone."""
    data: dict[str, Any] = copy.deepcopy(load_scenario_document(tiny_path).data)
    data["economy"]["growth"] = {"A": 0.0, "B": 0.0, "C": 0.0}
    data["investment"] = {}
    data["trade"]["linkages"] = True
    data["trade"]["tolerance"] = 1e-13
    data["labour"] = {"mobility": "mobile", "closure": {"A": "elastic", "B": "elastic",
                                                        "C": "full_employment"}}  # fmt: skip
    data["policies"][0]["date"] = "2022-01-01"
    return data


def test_it_is_the_engine_once_every_policy_is_in_force(tiny_path: Path) -> None:
    data = _static(tiny_path)
    static = api.counterfactual(data, replicas=4, base_dir=tiny_path.parent)
    run = api.run(data, replicas=4, base_dir=tiny_path.parent)
    after = run.trade.sel(time="2023-01-01").values  # a year: flows per year
    np.testing.assert_allclose(static.trade.values, after, rtol=1e-10)
    persons = run.employment.sel(time="2023-01-01") - run.employment.isel(time=0)
    np.testing.assert_allclose(static.employment_change.values, persons.values, atol=1e-6)
    # The border cut between A and B raises their welfare and their mutual trade.
    assert (static.real_income_change.sel(region=["A", "B"]).values > 0).all()
    assert (
        static.trade_turnover.sel(pair="A-B") > static.trade_turnover_baseline.sel(pair="A-B")
    ).all()


def test_an_equilibrium_that_does_not_converge_is_refused(tiny_path: Path) -> None:
    """A replica whose counterfactual did not converge stops the command, named, as a
    period of `sim run` does (its numbers used to be written as if it had converged)."""
    data = _static(tiny_path)
    data["trade"]["max_iterations"] = 1
    with pytest.raises(ConvergenceError, match=r"did not converge \(replica 0\)") as err:
        api.counterfactual(data, replicas=2, base_dir=tiny_path.parent)
    assert "after 1 iterations" in str(err.value)
    assert "fix: raise trade.max_iterations" in str(err.value)


def test_without_policies_nothing_changes(tiny_path: Path) -> None:
    data = _static(tiny_path)
    data["policies"] = []
    ds = api.counterfactual(data, replicas=3, base_dir=tiny_path.parent)
    np.testing.assert_allclose(ds.trade_change.values, 0.0, atol=1e-9)
    np.testing.assert_allclose(ds.real_income_change.values, 0.0, atol=1e-9)
    np.testing.assert_allclose(ds.employment_change.values, 0.0, atol=1e-6)
    assert ds.attrs["policies"] == "none"
    for name in WELFARE_PARTS:
        np.testing.assert_allclose(ds[name].values, 0.0, atol=1e-9)
    for name, var in ds.data_vars.items():
        assert var.attrs.get("units") and var.attrs.get("long_name"), name


#: The parts of the welfare change that add up to ``real_income_change``.
WELFARE_PARTS = (
    "welfare_terms_of_trade_total",
    "welfare_volume_of_trade_total",
    "welfare_technical_efficiency_total",
    "welfare_employment",
    "welfare_deficit",
    "welfare_residual",
)


def test_the_welfare_change_is_split_into_its_caliendo_parro_parts(tiny_path: Path) -> None:
    # A and B tax each other's goods at 8 %; the policies cut that to 2 % and the border
    # days between them (iceberg costs). The parts add up to the welfare change exactly,
    # the residual (second order) is small against it, and each part sits on the flows
    # its shock touches.
    data = _static(tiny_path)
    data["trade_costs"]["tariffs"] = [
        {"origin": "A", "destination": "B", "symmetric": True, "rate": 0.08}
    ]
    data["policies"].append({"date": "2022-01-01", "kind": "tariff", "origin": "A",
                             "destination": "B", "symmetric": True, "value": 0.02,
                             "description": "tariff cut"})  # fmt: skip
    ds = api.counterfactual(data, replicas=4, base_dir=tiny_path.parent)
    total = sum(ds[name] for name in WELFARE_PARTS)
    np.testing.assert_allclose(total.values, ds.real_income_change.values, atol=1e-12)
    for name in ("terms_of_trade", "volume_of_trade", "technical_efficiency"):
        by_flow = ds[f"welfare_{name}"].sum(("partner", "sector"))
        np.testing.assert_allclose(by_flow.values, ds[f"welfare_{name}_total"].values, atol=1e-14)
    gains = ds.real_income_change.sel(region=["A", "B"])
    assert (gains > 0.5).all()
    assert (abs(ds.welfare_residual.sel(region=["A", "B"])) < 0.1 * gains).all()
    for part in ("welfare_volume_of_trade", "welfare_technical_efficiency"):
        flows = ds[part].sum("sector")
        # Only A's imports from B and B's from A carry a tariff and a border cut.
        assert (flows.sel(region="A", partner="B") > 0).all()
        assert (flows.sel(region="B", partner="A") > 0).all()
        assert (flows.sel(region="C") == 0).all() and (flows.sel(partner="C") == 0).all()
    for name, var in ds.data_vars.items():
        if str(name).startswith("welfare_"):
            assert var.attrs["units"] == "percent of baseline income", name


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *args], cwd=cwd, capture_output=True, text=True
    )


def test_the_command_writes_and_summarises(tiny_path: Path, tmp_path: Path) -> None:
    work = tmp_path / "tiny"
    shutil.copytree(tiny_path.parent, work)
    done = _cli("counterfactual", "tiny.yaml", "--replicas", "3", "-o", "cf.nc", cwd=work)
    assert done.returncode == 0, done.stderr
    assert "A-B: turnover (%)" in done.stdout and "wrote cf.nc" in done.stdout
    assert "A:   terms of trade (pp)" in done.stdout
    ds = xr.open_dataset(work / "cf.nc")
    assert ds.sizes["replica"] == 3 and "real_income_change" in ds
    ds.close()
    # An output is never an input: refused before anything is solved, exit 2.
    before = (work / "tiny.yaml").read_bytes()
    refused = _cli("counterfactual", "tiny.yaml", "-o", "trade.csv", cwd=work)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert (work / "tiny.yaml").read_bytes() == before


TRADE_ONLY = Path(__file__).parent / "data" / "trade_only" / "trade_only.yaml"


def test_a_trade_only_scenario_needs_no_wages_employment_or_io_table() -> None:
    """A trade table, elasticities and a policy are enough for a static counterfactual."""
    ds = api.counterfactual(TRADE_ONLY)
    assert "employment_change" not in ds  # no persons given: none reported
    np.testing.assert_allclose(ds.employment_change_percent.values, 0.0, atol=1e-9)
    # B cuts its goods tariff on A and C: more goods from both into B.
    change = ds.trade_change.sel(destination="B", sector="goods")
    assert (change.sel(origin=["A", "C"]) > 0).all()
    assert float(ds.welfare_volume_of_trade_total.sel(region="B").isel(replica=0)) > 0


def test_sim_run_refuses_a_trade_only_scenario_and_says_what_is_missing(tmp_path: Path) -> None:
    proc = _cli("run", str(TRADE_ONLY), "-o", str(tmp_path / "x.nc"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "sim run needs economy.growth, economy.wage, economy.employment, input_output" in (
        proc.stderr
    )
    assert "sim counterfactual" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.nc").exists()
    valid = _cli("validate", str(TRADE_ONLY), cwd=tmp_path)
    assert valid.returncode == 0 and "trade-only: runs with sim counterfactual" in valid.stdout


def test_linkages_without_an_input_output_table_are_refused() -> None:
    data: dict[str, Any] = copy.deepcopy(load_scenario_document(TRADE_ONLY).data)
    data["trade"]["linkages"] = True
    with pytest.raises(ScenarioError, match=r"trade\.linkages needs input shares"):
        api.load_scenario(data, base_dir=TRADE_ONLY.parent)

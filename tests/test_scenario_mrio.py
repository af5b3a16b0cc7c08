"""A scenario whose input-output table is pymrio's test system, read through the engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim.api as api
from sim.kernels.leontief import leontief_inverse

pymrio = pytest.importorskip("pymrio", reason="pymrio (a test dependency) is not installed")

REGIONS = {"reg1": "N", "reg2": "N", "reg3": "S", "reg4": "S", "reg5": "W", "reg6": "W"}
SECTORS = {"food": "agri", "mining": "ind", "manufactoring": "ind", "electricity": "ind",
           "construction": "serv", "trade": "serv", "transport": "serv", "other": "serv"}  # fmt: skip


def build(tmp: Path) -> tuple[dict[str, Any], Any]:
    io = pymrio.load_test()
    io.save_all(tmp / "mrio")
    # Baseline trade consistent with the table: sales of (region, sector) to each
    # region, intermediate plus final use, aggregated onto the scenario.
    rows = []
    flows: dict[tuple[str, str, str], float] = {}
    for (r_o, s_o), row in io.Z.iterrows():
        for (r_d, _), v in row.items():
            key = (REGIONS[r_o], REGIONS[r_d], SECTORS[s_o])
            flows[key] = flows.get(key, 0.0) + float(v)
    for (r_o, s_o), row in io.Y.iterrows():
        for (r_d, _), v in row.items():
            key = (REGIONS[r_o], REGIONS[r_d], SECTORS[s_o])
            flows[key] = flows.get(key, 0.0) + max(float(v), 0.0)
    for (o, d, s), v in sorted(flows.items()):
        rows.append(f"{o},{d},{s},{v}")
    (tmp / "trade.csv").write_text("origin,destination,sector,value\n" + "\n".join(rows) + "\n")
    scenario = {
        "metadata": {"name": "mrio_test", "currency": "USD", "money_unit": "million"},
        "time": {"start": "2020-01-01", "end": "2023-12-31", "step": "year"},
        "regions": ["N", "S", "W"],
        "sectors": ["agri", "ind", "serv"],
        "economy": {
            "growth": {"N": 0.02, "S": 0.03, "W": 0.01},
            "wage": {"N": 3000, "S": 800, "W": 1500},
            "employment": {"N": 1e6, "S": 2e6, "W": 1.5e6},
        },
        "trade": {"baseline": {"file": "trade.csv"}, "elasticity": 5.0},
        "investment": {
            "jobs_per_capex": 4.0,
            "output_per_capex": 0.5,
            "projects": [
                {
                    "id": "p1",
                    "sector": "ind",
                    "host": "S",
                    "investor": "N",
                    "capex": 500,
                    "announced": "2020-01-01",
                    "construction": "2020-06-01",
                    "operating": "2021-06-01",
                }
            ],
        },
        "input_output": {
            "mrio": {
                "format": "pymrio",
                "path": "mrio",
                # Copies: a test that edits the scenario's maps must not edit the module's
                # (test_clear_messages builds a scenario after the one that deletes reg6).
                "region_map": dict(REGIONS),
                "sector_map": dict(SECTORS),
                "employment": "factor_inputs/Value Added",
                "employment_scale": 0.01,
            },
            "investment_mix": {"ind": 0.6, "serv": 0.2},
        },
        "monte_carlo": {"replicas": 2, "seed": 1},
    }
    return scenario, io


def test_engine_leontief_matches_aggregated_pymrio(tmp_path: Path) -> None:
    scenario, io = build(tmp_path)
    model = api.prepare(api.load_scenario(scenario, base_dir=tmp_path))
    # Independent aggregation with pandas.
    reg = io.Z.index.get_level_values(0).map(REGIONS)
    sec = io.Z.index.get_level_values(1).map(SECTORS)
    z = io.Z.groupby([reg, sec]).sum().T.groupby([reg, sec]).sum().T
    y = io.Y.sum(axis=1).groupby([reg, sec]).sum()
    order = [(r, s) for r in ["N", "S", "W"] for s in ["agri", "ind", "serv"]]
    z = z.loc[order, order].to_numpy()
    x = z.sum(axis=1) + y.loc[order].to_numpy()
    expected = leontief_inverse(z / x[None, :])
    np.testing.assert_allclose(model.leontief, expected, rtol=1e-9)
    va = io.factor_inputs.F.loc["Value Added"].groupby([reg, sec]).sum().loc[order].to_numpy()
    np.testing.assert_allclose(model.employment_coef.reshape(-1), va * 0.01 / x, rtol=1e-12)


def test_run_with_mrio_produces_indirect_jobs(tmp_path: Path) -> None:
    scenario, _ = build(tmp_path)
    ds = api.run(scenario, base_dir=tmp_path)
    indirect = ds.jobs.sel(kind="indirect").sum(("region", "sector"))
    assert float(indirect.sel(time="2022-01-01").min()) > 0
    # A plant in S buys inputs from N and W too: supplier jobs cross the border.
    cross = ds.jobs.sel(kind="indirect", region=["N", "W"]).sum(("region", "sector"))
    assert float(cross.sel(time="2022-01-01").min()) > 0


def test_unmapped_table_region_is_a_scenario_error(tmp_path: Path) -> None:
    scenario, _ = build(tmp_path)
    del scenario["input_output"]["mrio"]["region_map"]["reg6"]
    with pytest.raises(api.ScenarioError) as err:
        api.prepare(api.load_scenario(scenario, base_dir=tmp_path))
    assert "reg6" in str(err.value)
    assert err.value.key == "input_output.mrio.region_map"


@pytest.mark.parametrize("name", ["io_miller_blair_2x2.yaml", "io_eurostat_de1995.yaml"])
def test_reference_tables_through_the_csv_reader(name: str, tmp_path: Path) -> None:
    """The published IO cases, written as CSV matrices and read by the engine's reader."""
    import yaml

    from sim.kernels.leontief import output_multipliers, technical_coefficients
    from sim.scenario.mrio import read_csv_matrices

    ref = yaml.safe_load((Path(__file__).parent / "data" / "reference" / name).read_text())
    labels = [f"R:{s}" for s in ref["sectors"]]
    z = np.array(ref["intermediate_flows"], dtype=float)
    x = np.array(ref["total_output"], dtype=float)
    y = x - z.sum(axis=1)
    (tmp_path / "Z.csv").write_text(
        "," + ",".join(labels) + "\n"
        + "\n".join(f"{lab}," + ",".join(map(str, row)) for lab, row in zip(labels, z, strict=True))
        + "\n"
    )  # fmt: skip
    (tmp_path / "Y.csv").write_text(
        ",final\n" + "\n".join(f"{lab},{v}" for lab, v in zip(labels, y, strict=True)) + "\n"
    )
    table = read_csv_matrices(tmp_path / "Z.csv", tmp_path / "Y.csv")
    leontief = leontief_inverse(technical_coefficients(table.Z, table.x))
    tol = ref["tolerance"]
    expected = ref["expected"]
    if "leontief_inverse" in expected:
        np.testing.assert_allclose(leontief, expected["leontief_inverse"], atol=tol)
        np.testing.assert_allclose(
            output_multipliers(leontief), expected["output_multipliers"], atol=tol
        )
    if "gva_multipliers" in expected:
        gva = np.array(ref["gross_value_added"]) / table.x
        np.testing.assert_allclose(gva @ leontief, expected["gva_multipliers"], atol=tol)
        emp = np.array(ref["employment"]) / table.x
        np.testing.assert_allclose(emp @ leontief, expected["employment_multipliers"], atol=tol)

"""The notebook API for the model's numbers (``sim.inspect``) and ``sim inspect`` (issue 16).

* The published input-output cases through the API: Miller & Blair's Leontief inverse,
  technical coefficients and output multipliers, and Eurostat's Type I employment
  multipliers and jobs per unit of final demand, from a scenario that reads their tables;
* every variable labelled, with units and a long name; the baseline's identities;
* the multipliers agree with the run's and with the matrices; a run's implied multipliers
  are the medians of its own variables; the counterfactual is sim.api's;
* ``sim inspect`` prints a region:sector table, writes a tidy CSV, refuses to overwrite;
* every ```python block of docs/notebook.md runs.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

import sim
import sim.api as api
from sim.analysis import inspect
from sim.analysis.errors import AnalysisError
from sim.cli import main

from .conftest import DATA, REPO, TINY

REFERENCE = DATA / "reference"
REGIONS = ["DE", "RW"]
MATRIX_DIMS = {"cell_from", "cell_to"}
LABEL_DIMS = {"region", "sector", "origin", "destination", *MATRIX_DIMS}


def reference_scenario(name: str, folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A scenario reading a published input-output table, and the published figures.

    Two regions (the schema asks for two) with the same table and no trade between them:
    the MRIO is block diagonal, so each region's block of L is the published inverse. The
    trade table's domestic sales are the table's total output and employment is spread by
    the published persons, so the jobs per unit of output are the table's.
    """
    ref = yaml.safe_load((REFERENCE / name).read_text(encoding="utf-8"))
    sectors = list(ref["sectors"])
    n = len(sectors)
    z = np.array(ref["intermediate_flows"], dtype=float)
    x = np.array(ref["total_output"], dtype=float)
    block = np.kron(np.eye(2), z)
    labels = [f"{r}:{s}" for r in REGIONS for s in sectors]
    final = np.tile(x - z.sum(axis=1), 2)
    (folder / "Z.csv").write_text(
        "," + ",".join(labels) + "\n"
        + "".join(f"{lab}," + ",".join(str(float(v)) for v in row) + "\n"
                  for lab, row in zip(labels, block, strict=True)),
        encoding="utf-8",
    )  # fmt: skip
    (folder / "Y.csv").write_text(
        ",final\n" + "".join(f"{lab},{float(v)}\n" for lab, v in zip(labels, final, strict=True)),
        encoding="utf-8",
    )
    rows = [f"{o},{d},{s},{float(v) if o == d else 0.0}"
            for o in REGIONS for d in REGIONS for s, v in zip(sectors, x, strict=True)]  # fmt: skip
    (folder / "trade.csv").write_text(
        "origin,destination,sector,value\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    persons = 1000.0 * np.array(ref.get("employment", np.ones(n)), dtype=float)
    scenario = {
        "metadata": {
            "name": "reference",
            "currency": "EUR",
            "money_unit": "million",
            "price_basis": "constant",
            "price_base_year": 1995,
        },
        "time": {"start": "2020-01-01", "end": "2021-12-31", "step": "year"},
        "regions": REGIONS,
        "sectors": sectors,
        "economy": {
            "employment": {r: float(persons.sum()) for r in REGIONS},
            "employment_shares": {
                r: dict(zip(sectors, (persons / persons.sum()).tolist(), strict=True))
                for r in REGIONS
            },
        },
        "trade": {"baseline": {"file": "trade.csv"}, "elasticity": 5.0},
        "input_output": {"mrio": {"format": "csv", "path": "Z.csv", "final_demand": "Y.csv"}},
    }
    return scenario, ref


def block(matrix: xr.DataArray, row: str, column: str) -> np.ndarray:
    """The (row region, column region) block of a (cell_from, cell_to) matrix."""
    picked = matrix.where(matrix.region_from == row, drop=True)
    return picked.where(picked.region_to == column, drop=True).to_numpy()


# ---------------------------------------------------------------- published values


def test_miller_blair_leontief_inverse_through_the_api(tmp_path: Path) -> None:
    scenario, ref = reference_scenario("io_miller_blair_2x2.yaml", tmp_path)
    model = inspect.load(scenario, base_dir=tmp_path)
    expected, tol = ref["expected"], ref["tolerance"]
    inverse = inspect.leontief(model)
    assert inverse.dims == ("cell_from", "cell_to")
    assert list(inverse.cell_from.values) == [f"{r}:{s}" for r in REGIONS for s in ref["sectors"]]
    for region in REGIONS:
        np.testing.assert_allclose(
            block(inverse, region, region), expected["leontief_inverse"], atol=tol
        )
    np.testing.assert_array_equal(block(inverse, "DE", "RW"), 0.0)
    coefficients = inspect.leontief(model, matrix="coefficients")
    np.testing.assert_allclose(
        block(coefficients, "DE", "DE"), expected["technical_coefficients"], atol=1e-12
    )
    out = inspect.multipliers(model).output_multiplier_type1
    np.testing.assert_allclose(
        out.sel(region="DE").to_numpy(), expected["output_multipliers"], atol=tol
    )
    # x' = L f' for the published new final demand, through the labelled matrix.
    new = expected["output_for_new_final_demand"]
    demand = xr.DataArray(new["final_demand"], dims="cell_to").assign_coords(
        cell_to=inverse.cell_to[:2]
    )
    output = (inverse.sel(cell_to=demand.cell_to) * demand).sum("cell_to")
    np.testing.assert_allclose(output.to_numpy()[:2], new["total_output"], atol=0.01)


def test_eurostat_employment_multipliers_through_the_api(tmp_path: Path) -> None:
    scenario, ref = reference_scenario("io_eurostat_de1995.yaml", tmp_path)
    result = inspect.multipliers(scenario, base_dir=tmp_path)
    expected, tol = ref["expected"], ref["tolerance"]
    for region in REGIONS:
        np.testing.assert_allclose(
            result.employment_multiplier_type1.sel(region=region).to_numpy(),
            expected["type_i_employment_multipliers"],
            atol=tol,
        )
        # Thousand persons per EUR million in the manual; persons here.
        np.testing.assert_allclose(
            result.jobs_per_final_demand_type1.sel(region=region).to_numpy() / 1000.0,
            expected["employment_multipliers"],
            atol=tol,
        )
    assert result.jobs_per_final_demand_type1.attrs["units"] == (
        "persons per EUR million of final demand a year (constant 1995 prices)"
    )
    # No wages in the scenario: no household round, Type II is Type I.
    np.testing.assert_allclose(
        result.employment_multiplier_type2, result.employment_multiplier_type1, rtol=1e-12
    )


# ---------------------------------------------------------------- labels and units


@pytest.fixture(scope="module")
def tiny_model() -> api.Model:
    return inspect.load(TINY)


@pytest.fixture(scope="module")
def tiny_run() -> xr.Dataset:
    return api.run(TINY, replicas=5)


def check_labelled(data: xr.Dataset, model: api.Model) -> None:
    money = "USD million per year (constant 2020 prices)"
    assert data.data_vars
    for name, var in data.data_vars.items():
        assert str(var.attrs.get("units", "")).strip(), name
        assert str(var.attrs.get("long_name", "")).strip(), name
        assert set(var.dims) <= LABEL_DIMS | {"replica", "pair", "partner", "parameter"}, name
        if var.attrs["units"].startswith("USD"):
            assert var.attrs["units"] == money, name
    for dim in ("region", "origin", "destination", "partner"):
        if dim in data.dims:
            assert list(data[dim].values) == model.regions
    if "sector" in data.dims:
        assert list(data.sector.values) == model.sectors


def test_every_variable_is_labelled_with_units(tiny_model: api.Model) -> None:
    for data in (
        inspect.baseline(tiny_model),
        inspect.multipliers(tiny_model),
        inspect.counterfactual(tiny_model, replicas=2),
        *(inspect.leontief(tiny_model, matrix=m).to_dataset() for m in inspect.MATRICES),
    ):
        check_labelled(data, tiny_model)
    assert inspect.baseline(tiny_model).attrs["money_unit"] == "USD million (constant 2020 prices)"
    cells = [f"{r}:{s}" for r in tiny_model.regions for s in tiny_model.sectors]
    matrix = inspect.leontief(tiny_model)
    assert list(matrix.cell_from.values) == cells
    assert list(matrix.cell_to.values) == cells
    assert list(matrix.sector_to.values) == [c.split(":")[1] for c in cells]


def test_baseline_shares_and_identities(tiny_model: api.Model) -> None:
    base = inspect.baseline(tiny_model)
    np.testing.assert_allclose(base.import_share.sum("origin"), 1.0, rtol=1e-12)
    # pi_ijs E_js / (1 + tau_ijs) is the trade table; output is its row sum.
    np.testing.assert_allclose(
        base.import_share * base.spending.rename(region="destination") / (1 + base.tariff),
        base.trade,
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        base.trade.sum("destination").rename(origin="region"), base.output, rtol=1e-12
    )
    stated = yaml.safe_load(TINY.read_text(encoding="utf-8"))["economy"]["employment"]
    np.testing.assert_allclose(
        base.employment.sum("sector"), [stated[r] for r in tiny_model.regions], rtol=1e-12
    )
    np.testing.assert_allclose(base.jobs_per_output * base.output, base.employment, rtol=1e-12)
    assert abs(float(base.deficit.sum())) < 1e-9 * float(base.expenditure.sum())


def test_multipliers_agree_with_the_matrices_and_the_run(
    tiny_model: api.Model, tiny_run: xr.Dataset
) -> None:
    result = inspect.multipliers(tiny_model)
    shape = (len(tiny_model.regions), len(tiny_model.sectors))
    for kind, matrix in (("type1", "inverse"), ("type2", "closed")):
        columns = inspect.leontief(tiny_model, matrix=matrix).sum("cell_from").to_numpy()
        np.testing.assert_allclose(
            result[f"output_multiplier_{kind}"], columns.reshape(shape), rtol=1e-12
        )
        # The run reports the same sector multipliers in every replica.
        np.testing.assert_allclose(
            result[f"employment_multiplier_{kind}"],
            tiny_run[f"employment_multiplier_{kind}"].isel(replica=0),
            rtol=1e-12,
        )
        np.testing.assert_allclose(
            result[f"jobs_per_final_demand_{kind}"],
            result[f"employment_multiplier_{kind}"] * result.jobs_per_output,
            rtol=1e-12,
        )
    assert (result.employment_multiplier_type2 > result.employment_multiplier_type1).all()
    hosts = np.isfinite(result.plant_multiplier_type1)
    assert bool(hosts.any()) and not bool(hosts.all())


def test_technical_coefficients_are_the_scenarios(tiny_model: api.Model) -> None:
    """Recovered from the inverse: the national coefficients sourced by trade shares, so
    each column summed over the supplying regions is the buyer's national coefficient."""
    a = inspect.leontief(tiny_model, matrix="coefficients")
    regions, sectors = tiny_model.regions, tiny_model.sectors
    national = np.zeros((len(regions), len(sectors), len(sectors)))  # buyer, input, output
    table = pd.read_csv(TINY.parent / "coefficients.csv")
    for row in sorted(table.itertuples(), key=lambda r: r.region != "*"):  # "*" first
        buyers = range(len(regions)) if row.region == "*" else [regions.index(row.region)]
        for r in buyers:
            national[r, sectors.index(row.input), sectors.index(row.output)] = row.value
    summed = a.groupby("sector_from").sum().sel(sector_from=sectors)  # (input, cell_to)
    for r, region in enumerate(regions):
        for o, output in enumerate(sectors):
            column = summed.sel(cell_to=f"{region}:{output}").to_numpy()
            np.testing.assert_allclose(column, national[r, :, o], rtol=1e-9)
    assert national[1, 0, 0] != national[0, 0, 0]  # B's own row overrides the default


def test_unknown_matrix_is_refused_in_three_parts(tiny_model: api.Model) -> None:
    with pytest.raises(AnalysisError) as err:
        inspect.leontief(tiny_model, matrix="inverted")
    text = str(err.value)
    assert "'inverted'" in text and "allowed: 'inverse'" in text and "fix:" in text


# ---------------------------------------------------------------- runs and counterfactuals


def test_run_multipliers_are_the_medians_of_the_run(tiny_run: xr.Dataset, tmp_path: Path) -> None:
    result = inspect.run_multipliers(tiny_run)
    assert set(result.data_vars) == set(inspect.RUN_MULTIPLIERS)
    assert result.attrs["replicas"] == 5
    for name in inspect.RUN_MULTIPLIERS:
        values = tiny_run[name].to_numpy()
        expected = np.full(values.shape[1:], np.nan)
        finite = ~np.isnan(values).all(axis=0)  # NaN in every replica: no plants there
        expected[finite] = np.nanmedian(values[:, finite], axis=0)
        np.testing.assert_allclose(result[name].to_numpy(), expected, rtol=1e-12)
        assert result[name].dims == tiny_run[name].dims[1:]
        assert result[name].attrs["units"] == tiny_run[name].attrs["units"]
        assert result[name].attrs["long_name"].startswith("median over replicas")
    # The plants' implied productivity differs between projects.
    assert result.plant_productivity.to_numpy().std() > 0
    path = tmp_path / "tiny.nc"
    api.run_to_file(api.load_scenario(TINY, replicas=5), path)
    xr.testing.assert_allclose(inspect.run_multipliers(path), result)


def test_run_multipliers_of_a_run_without_them_is_refused(tiny_run: xr.Dataset) -> None:
    with pytest.raises(AnalysisError) as err:
        inspect.run_multipliers(tiny_run[["trade"]])
    text = str(err.value)
    assert "none of the implied multipliers" in text and "allowed:" in text and "fix:" in text


def test_counterfactual_is_sim_api_counterfactual(tiny_model: api.Model) -> None:
    ours = inspect.counterfactual(TINY, replicas=2)
    theirs = api.counterfactual(TINY, replicas=2)
    xr.testing.assert_allclose(ours, theirs)
    from_model = inspect.counterfactual(inspect.load(TINY, replicas=2))
    xr.testing.assert_allclose(from_model, theirs)
    assert from_model.sizes["replica"] == 2


# ---------------------------------------------------------------- the command line


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_cli_prints_multipliers_by_region_sector_with_units() -> None:
    code, out, _ = cli(["inspect", str(TINY), "--multipliers"])
    assert code == 0
    assert re.search(r"^B:goods\s+\d", out, re.MULTILINE), out
    assert "region:sector" in out
    assert "employment_multiplier_type1 [1]" in out
    assert "[persons per USD million of final demand a year (constant 2020 prices)]" in out
    default = cli(["inspect", str(TINY)])
    assert default == (0, out, "")


def test_cli_prints_baseline_and_leontief() -> None:
    code, out, _ = cli(["inspect", str(TINY), "--baseline"])
    assert code == 0 and "A:B:goods" in out and "import_share [1]" in out
    code, out, _ = cli(["inspect", str(TINY), "--leontief"])
    assert code == 0 and "cell_from \\ cell_to" in out and "C:services" in out


def test_cli_refuses_two_tables() -> None:
    with pytest.raises(SystemExit) as exc, contextlib.redirect_stderr(io.StringIO()):
        main(["inspect", str(TINY), "--baseline", "--leontief"])
    assert exc.value.code == 2


def test_cli_writes_a_tidy_csv_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "multipliers.csv"
    code, out, _ = cli(["inspect", str(TINY), "--csv", str(target)])
    assert code == 0 and "wrote" in out
    table = pd.read_csv(target)
    assert list(table.columns) == ["variable", "region", "sector", "value", "units"]
    expected = inspect.multipliers(TINY)
    row = table[(table.variable == "employment_multiplier_type1") & (table.region == "B")
                & (table.sector == "goods")]  # fmt: skip
    assert float(row.value.iloc[0]) == pytest.approx(
        float(expected.employment_multiplier_type1.sel(region="B", sector="goods")), rel=1e-12
    )
    before = target.read_bytes()
    code, _, err = cli(["inspect", str(TINY), "--leontief", "--csv", str(target)])
    assert code == 2
    assert "exists" in err and "allowed:" in err and "--overwrite" in err
    assert target.read_bytes() == before
    code, _, _ = cli(["inspect", str(TINY), "--leontief", "--csv", str(target), "--overwrite"])
    assert code == 0
    matrix = pd.read_csv(target)
    n = len(inspect.leontief(TINY).cell_from)
    assert len(matrix) == n * n
    assert {"cell_from", "cell_to", "region_from", "sector_to"} <= set(matrix.columns)
    assert not [p for p in tmp_path.iterdir() if p.name != target.name]  # no temporaries


def test_cli_never_writes_over_an_input(tiny_dir: Path) -> None:
    scenario = tiny_dir / "tiny.yaml"
    for victim in (scenario, tiny_dir / "trade.csv"):
        before = victim.read_bytes()
        code, _, err = cli(["inspect", str(scenario), "--csv", str(victim), "--overwrite"])
        assert code == 2 and "which this command reads" in err
        assert victim.read_bytes() == before


def test_cli_bad_scenario_exits_2(tmp_path: Path) -> None:
    code, out, err = cli(["inspect", str(tmp_path / "missing.yaml")])
    assert code == 2 and out == "" and err.startswith("error:")


# ---------------------------------------------------------------- lazy import and docs


def test_sim_inspect_is_the_module_loaded_on_first_use() -> None:
    assert sim.inspect is inspect
    code = (
        "import sys, sim\n"
        "before = 'numpy' in sys.modules\n"
        "names = [n for n in ('baseline', 'leontief', 'multipliers', 'run_multipliers',"
        " 'counterfactual') if callable(getattr(sim.inspect, n))]\n"
        "print(before, 'numpy' in sys.modules, len(names))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "5"]


NOTEBOOK = REPO / "docs" / "notebook.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_readme_links_the_notebook_page() -> None:
    assert "(docs/notebook.md)" in (REPO / "README.md").read_text(encoding="utf-8")


def test_notebook_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _BLOCK.findall(NOTEBOOK.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    monkeypatch.chdir(REPO)
    for k, code in enumerate(blocks):
        namespace: dict[str, Any] = {"__name__": "__notebook__"}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, f"docs/notebook.md block {k + 1}", "exec"), namespace)


def test_multipliers_of_a_scenario_without_a_table_are_refused(capsys) -> None:
    """Regression: a trade-only scenario printed output multipliers of 1 and NaN
    employment multipliers, numbers of no table; its baseline is still shown."""
    from sim.cli import main

    trade_only = Path(__file__).parent / "data" / "trade_only" / "trade_only.yaml"
    for flag in ("--multipliers", "--leontief"):
        assert main(["inspect", str(trade_only), flag]) == 2
        err = capsys.readouterr().err
        assert "needs economy.wage, economy.employment, input_output" in err
        assert "--baseline for a trade-only scenario" in err
    assert main(["inspect", str(trade_only), "--baseline"]) == 0

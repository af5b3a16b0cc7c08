"""The baseline's optional tables (docs/data.md): tariff rates, value added, final demand, deficits.

Each is a CSV long table read with the trade table's concordances; the tariff table
must give exactly the equilibrium of the equivalent trade_costs.tariffs rules, the
value-added table sets the value-added shares of a baseline that still clears, and
the final-demand and deficit tables are compared with the trade table (the gaps are
reported, the trade table is kept).
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim import api
from sim.engine import production
from sim.errors import DataFileError, ScenarioError
from sim.kernels.equilibrium import solve_equilibrium
from sim.scenario.load import load_scenario_document
from sim.scenario.tables import TableLayout, load_region_table, load_tariff_table

DATA = Path(__file__).parent / "data"
TABLES = DATA / "tables"
REGIONS = ["A", "B", "C"]
SECTORS = ["goods", "services"]
#: The fine tariff file's codes onto the tiny scenario (every other country is C).
HS = TableLayout(
    origin="exporter", destination="importer", sector="hs2", value="ad_valorem",
    weight="import_value", select_year=2020, region_map={"KAZ": "A", "UZB": "B"},
    other_region="C", sector_map={"01": "goods", "27": "goods", "85": "goods", "99": "services"},
    key="trade_costs.tariff_table",
)  # fmt: skip
# The tiny trade table's sums: output (row sums) and spending (column sums, no tariffs).
OUTPUT = np.array([[900.0, 918.0], [580.0, 618.0], [5115.0, 8016.0]])


def tiny(tiny_path: Path, **tables: Any) -> dict[str, Any]:
    """The tiny scenario with its data paths relative to tests/data (base_dir=DATA)."""
    doc: dict[str, Any] = copy.deepcopy(load_scenario_document(tiny_path).data)
    doc["trade"]["baseline"]["file"] = "tiny/trade.csv"
    doc["input_output"]["coefficients"]["file"] = "tiny/coefficients.csv"
    for key, value in tables.items():
        section, name = key.split("__")
        doc[section][name] = value
    return doc


def model_of(doc: dict[str, Any], base: Path = DATA) -> Any:
    return api.prepare(api.load_scenario(doc, base_dir=base))


# ---------------------------------------------------------------- reading, concordances


def test_tariff_rows_are_trade_weighted_through_the_concordances() -> None:
    table = load_tariff_table(TABLES / "tariffs_hs.csv", REGIONS, SECTORS, HS)
    a, b, c = range(3)
    # KAZ -> UZB: HS 01 (0.10, weight 30) and HS 27 (0.00, weight 60); 2019 row ignored.
    assert table.rates[a, b, 0] == pytest.approx((0.10 * 30 + 0.0 * 60) / 90, rel=1e-15)
    assert table.rates[a, b, 1] == 0.05
    # DEU and CHN are both C: (0.08 x 50 + 0.12 x 150) / 200.
    assert table.rates[c, a, 0] == pytest.approx(0.11, rel=1e-15)
    # UZB -> KAZ: every weight is zero, so the simple mean.
    assert table.rates[b, a, 0] == pytest.approx(0.15, rel=1e-15)
    # DEU -> FRA lands on C's diagonal (domestic sales) and KAZ -> KAZ is domestic: skipped.
    assert not table.given[c, c].any() and not table.given[a, a].any()
    assert table.rates[c, c, 0] == 0.0
    assert table.given.sum() == 4 and table.rates[~table.given].sum() == 0.0
    assert table.lines[c, a, 0] == 10  # the heaviest row of the cell (CHN, weight 150)


def test_without_a_weight_column_rows_are_a_simple_mean() -> None:
    layout = TableLayout(**{**HS.__dict__, "weight": "no_such_column"})
    table = load_tariff_table(TABLES / "tariffs_hs.csv", REGIONS, SECTORS, layout)
    assert table.rates[0, 1, 0] == pytest.approx(0.05, rel=1e-15)
    assert table.rates[2, 0, 0] == pytest.approx(0.10, rel=1e-15)


def test_region_tables_sum_through_the_concordances_and_pick_the_year() -> None:
    layout = TableLayout(
        region="country", sector="product", select_year=2020,
        region_map={"KAZ": "A", "UZB": "B"}, other_region="C",
        sector_map={"01": "goods", "27": "goods", "99": "services"}, key="economy.final_demand",
    )  # fmt: skip
    table = load_region_table(
        TABLES / "final_demand_countries.csv", REGIONS, SECTORS, layout, what="final demand"
    )
    np.testing.assert_array_equal(table.values, [[150, 400], [80, 300], [3000, 4000]])
    assert table.lines[0, 0] == 2  # KAZ 01 (100) is the largest row of A/goods
    assert table.lines[2, 0] == 8  # CHN 01 (2000), not DEU 01 (1000)


def test_deficits_are_signed_and_by_region() -> None:
    table = load_region_table(
        TABLES / "deficits.csv", REGIONS, SECTORS, TableLayout(key="economy.deficits"),
        what="deficits", by_sector=False, signed=True,
    )  # fmt: skip
    np.testing.assert_array_equal(table.values, [23, 40, -63])


# ---------------------------------------------------------------- refusals, with file and line


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("A,B,goods,-0.1", "must be a finite number >= 0"),
        ("A,B,goods,15", "above 10"),
        ("A,Z,goods,0.1", "unknown region 'Z'"),
        ("A,B,food,0.1", "unknown sector 'food'"),
        ("A,A,goods,0.1", "sales to itself"),
        ("C,A,services,0.2", "duplicate row"),
    ],
)
def test_bad_tariff_rows_are_refused_at_their_line(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path, "t.csv", f"origin,destination,sector,rate\nC,A,services,0.2\n{row}\n")
    with pytest.raises(DataFileError, match=message) as err:
        load_tariff_table(path, REGIONS, SECTORS, TableLayout(value="rate"))
    assert err.value.file == str(path) and err.value.line == 3


def test_bad_region_rows_are_refused_at_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, "va.csv", "region,sector,value\nA,goods,1\nA,services,-2\n")
    with pytest.raises(DataFileError, match="cannot be negative") as err:
        load_region_table(path, REGIONS, SECTORS, TableLayout(), what="value added")
    assert err.value.line == 3
    path = write(tmp_path, "va.csv", "region,sector,value\nA,goods,1\nKZ,goods,2\n")
    with pytest.raises(DataFileError, match="unknown region 'KZ'") as err:
        load_region_table(path, REGIONS, SECTORS, TableLayout(), what="value added")
    assert err.value.line == 3
    # Without a concordance every region x sector must be there.
    path = write(tmp_path, "va.csv", "region,sector,value\nA,goods,1\n")
    with pytest.raises(DataFileError, match=r"5 row\(s\) missing, first A, services"):
        load_region_table(path, REGIONS, SECTORS, TableLayout(), what="value added")


def test_value_added_above_output_is_refused_at_its_line(tiny_path: Path, tmp_path: Path) -> None:
    text = (TABLES / "value_added.csv").read_text().replace("B,services,370.8", "B,services,700")
    write(tmp_path, "va.csv", text)
    shutil.copytree(DATA / "tiny", tmp_path / "tiny")
    doc = tiny(tiny_path, economy__value_added={"file": "va.csv"})
    doc["trade"]["linkages"] = True
    with pytest.raises(DataFileError, match="above its gross output 618") as err:
        model_of(doc, tmp_path)
    assert err.value.file == str(tmp_path / "va.csv") and err.value.line == 5


def test_value_added_without_linkages_is_refused(tiny_path: Path) -> None:
    doc = tiny(tiny_path, economy__value_added={"file": "tables/value_added.csv"})
    with pytest.raises(ScenarioError, match="without input-output linkages") as err:
        model_of(doc)
    assert err.value.key == "economy.value_added.file"


# ---------------------------------------------------------------- the engine


def test_a_tariff_table_gives_the_equilibrium_of_the_same_rules(tiny_path: Path) -> None:
    cut = {"date": "2023-01-01", "kind": "tariff", "origin": "A", "destination": "B",
           "sectors": ["goods"], "value": 0.0, "description": "A-B goods tariff cut"}  # fmt: skip
    rules = [
        {"origin": "A", "destination": "B", "sectors": ["goods"], "rate": 0.30},
        {"origin": "B", "destination": "A", "sectors": ["goods"], "rate": 0.05},
        {"origin": "C", "destination": "A", "sectors": ["services"], "rate": 0.20},
        {"origin": "C", "destination": "B", "sectors": ["goods"], "rate": 0.08},
    ]
    by_rules = tiny(tiny_path)
    by_rules["trade"]["linkages"] = True
    by_rules["policies"].append(cut)
    by_rules["trade_costs"]["tariffs"] = rules
    by_table = copy.deepcopy(by_rules)
    by_table["trade_costs"]["tariffs"] = []
    by_table["trade_costs"]["tariff_table"] = {"file": "tables/tariffs_tiny.csv"}
    # A rule overrides the cells it names: the table's A -> B goods 0.30 becomes 0.1 ...
    overridden = copy.deepcopy(by_table)
    overridden["trade_costs"]["tariffs"] = [dict(rules[0], rate=0.1)]
    lower = copy.deepcopy(by_rules)
    lower["trade_costs"]["tariffs"][0]["rate"] = 0.1

    runs = [api.run(d, replicas=2, base_dir=DATA) for d in (by_rules, by_table, overridden, lower)]
    # The rates are in force from the first period (A and B import at a tariff).
    assert float(runs[0].tariff_revenue.isel(time=0).sel(region=["A", "B"]).min()) > 0
    for a, b in ((runs[0], runs[1]), (runs[3], runs[2])):
        for name, variable in a.data_vars.items():
            np.testing.assert_array_equal(variable.values, b[name].values, err_msg=name)
    # ... and the equilibria differ where the rates do.
    assert not np.array_equal(runs[0].trade.values, runs[3].trade.values)


def test_a_value_added_table_sets_beta_and_the_baseline_clears(tiny_path: Path) -> None:
    doc = tiny(tiny_path, economy__value_added={"file": "tables/value_added.csv"})
    doc["trade"]["linkages"] = True
    model = model_of(doc)
    plain = model_of({**doc, "economy": {k: v for k, v in doc["economy"].items()
                                         if k != "value_added"}})  # fmt: skip
    base = model.baseline
    stated = np.array([[360, 642.6], [261, 370.8], [2557.5, 5210.4]])
    np.testing.assert_allclose(base.output, OUTPUT, rtol=1e-15)
    np.testing.assert_allclose(base.va_share, stated / OUTPUT, rtol=1e-13)
    assert not np.allclose(plain.baseline.va_share, base.va_share, rtol=1e-3)
    # The input shares keep the input-output table's proportions and sum to 1 - beta.
    np.testing.assert_allclose(base.input_share.sum(axis=2), 1.0 - base.va_share, rtol=1e-13)
    proportions = plain.baseline.input_share / plain.baseline.input_share.sum(2, keepdims=True)
    np.testing.assert_allclose(
        base.input_share / base.input_share.sum(2, keepdims=True), proportions, rtol=1e-13
    )
    np.testing.assert_allclose(base.value_added, stated, rtol=1e-13)
    assert (base.final_demand > 0).all() and not model.balance_report
    # A zero-shock solve returns the baseline: every market clears at the data.
    sol = solve_equilibrium(
        base, np.array([[4.0, 3.0]]), model.labour_markets,
        deficit_closure=model.deficit_closure, tol=1e-13,
    )  # fmt: skip
    assert sol.converged.all() and sol.residual.max() < 1e-10
    np.testing.assert_allclose(sol.wage[0], 1.0, rtol=1e-10)
    np.testing.assert_allclose(sol.trade[0], base.trade, rtol=1e-10)
    np.testing.assert_allclose(sol.output[0], sol.trade[0].sum(axis=1), rtol=1e-12)
    goods = np.einsum("jts,jt->js", base.input_share, sol.output[0])
    demand = goods + base.final_share * sol.income[0][:, None]
    np.testing.assert_allclose(sol.spending[0], demand, rtol=1e-10)
    np.testing.assert_allclose(sol.value_added[0], stated, rtol=1e-10)


def test_where_value_added_leaves_too_much_input_the_rule_scales_it(
    tiny_path: Path, tmp_path: Path
) -> None:
    # C buys 5070 of goods; with value added at 5 % of output in C, its inputs of
    # goods would be 0.57 x 5115 + 0.95 x 0.1/0.35 x 8016 = 5206: more than it buys.
    write(tmp_path, "va.csv", "region,sector,value\nA,goods,450\nA,services,642.6\n"
          "B,goods,261\nB,services,370.8\nC,goods,255.75\nC,services,400.8\n")  # fmt: skip
    shutil.copytree(DATA / "tiny", tmp_path / "tiny")
    doc = tiny(tiny_path, economy__value_added={"file": "va.csv"})
    doc["trade"]["linkages"] = True
    report = model_of(doc, tmp_path).balance_report
    used = 0.57 * 5115 + 0.95 * 0.1 / 0.35 * 8016
    assert report["C.goods.intermediate_use_gap"] == pytest.approx(used / 5070 - 1, rel=1e-12)
    assert report["C.goods.value_added_gap"] > 0 and report["C.services.value_added_gap"] > 0
    assert set(report) == {
        "C.goods.intermediate_use_gap", "C.goods.value_added_gap", "C.services.value_added_gap"
    }  # fmt: skip


def test_the_imbalance_report_names_the_cell_and_the_gap(
    tiny_path: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(production, "_REPORTED_GAPS", set())  # warnings are once per process
    doc = tiny(tiny_path)
    doc["trade"]["linkages"] = True
    base = model_of(doc).baseline
    # Final demand as the trade table implies (spending less intermediate use), but
    # 150 more for B's services: the tables now disagree there by 150 / 617.
    final = base.final_demand.copy()
    final[1, 1] += 150.0
    rows = [
        f"{r},{s},{float(final[i, k])!r}"
        for i, r in enumerate(REGIONS)
        for k, s in enumerate(SECTORS)
    ]
    path = write(tmp_path, "fd.csv", "region,sector,value\n" + "\n".join(rows) + "\n")
    write(tmp_path, "deficits.csv", (TABLES / "deficits.csv").read_text())
    shutil.copytree(DATA / "tiny", tmp_path / "tiny")
    doc["economy"]["final_demand"] = {"file": "fd.csv"}
    doc["economy"]["deficits"] = {"file": "deficits.csv"}
    with caplog.at_level(logging.WARNING, logger="sim.engine.production"):
        model = model_of(doc, tmp_path)
        ds = api.counterfactual(doc, replicas=2, base_dir=tmp_path)
    assert model.balance_report == json.loads(ds.attrs["baseline_balance"])
    gaps = model.balance_report
    assert gaps["B.services.final_demand_gap"] == pytest.approx(150.0 / 617.0, rel=1e-9)
    # The other cells agree (to rounding), so they are not reported.
    assert [k for k in gaps if k.endswith("final_demand_gap")] == ["B.services.final_demand_gap"]
    # Deficits: the trade table implies A 23, B 24, C -47; the table says 23, 40, -63.
    assert gaps["B.deficit_gap"] == pytest.approx(16.0 / 1222.0, rel=1e-12)
    assert gaps["C.deficit_gap"] == pytest.approx(-16.0 / 13084.0, rel=1e-12)
    assert "A.deficit_gap" not in gaps
    # The log names the cell, the file and line of the table, and the gap (above 1 %).
    warned = [r.getMessage() for r in caplog.records]
    assert any("B spends 617 on services" in m and f"{path}:5" in m and "+24.31%" in m
               for m in warned)  # fmt: skip
    assert any("B's deficit is 40" in m and "24 in the trade table" in m for m in warned)
    assert not any("C's deficit" in m for m in warned)  # 0.12 % is within the tolerance
    # The rule: the trade table is kept, so the baseline is the one without the tables.
    np.testing.assert_array_equal(model.baseline.final_demand, base.final_demand)
    np.testing.assert_array_equal(model.baseline.deficit, base.deficit)


@pytest.mark.parametrize(
    ("section", "name", "file"),
    [
        ("trade_costs", "tariff_table", "tariffs_tiny.csv"),
        ("economy", "deficits", "deficits.csv"),
    ],
)
def test_a_run_never_writes_over_a_table_it_reads(
    tiny_path: Path, tmp_path: Path, section: str, name: str, file: str
) -> None:
    """The new tables are inputs like the trade table: `sim run -o TABLE` is refused."""
    from sim.errors import SimError
    from sim.results.guard import DATA_KEYS

    assert f"{section}.{name}.file" in DATA_KEYS
    folder = tmp_path / "s"
    shutil.copytree(tiny_path.parent, folder)
    table = folder / file
    shutil.copy(TABLES / file, table)
    doc: dict[str, Any] = copy.deepcopy(load_scenario_document(tiny_path).data)
    doc[section][name] = {"file": file}
    before = table.read_bytes()
    sc = api.load_scenario(doc, base_dir=folder)
    with pytest.raises(SimError, match="reads"):
        api.run_to_file(sc, table)
    assert table.read_bytes() == before


# ---------------------------------------------------------------- trade elasticities


def _with_theta_table(tiny_path: Path, folder: Path, text: str, **columns: Any) -> dict[str, Any]:
    shutil.copytree(tiny_path.parent, folder)
    (folder / "theta.csv").write_text(text, encoding="utf-8")
    doc: dict[str, Any] = copy.deepcopy(load_scenario_document(tiny_path).data)
    del doc["trade"]["elasticity"]
    doc["trade"]["elasticity_table"] = {"file": "theta.csv", **columns}
    return doc


def test_an_elasticity_table_is_the_same_as_trade_elasticity(
    tiny_path: Path, tmp_path: Path
) -> None:
    """theta by sector from a CSV: sigma = theta + 1, the same run as the YAML values."""
    folder = tmp_path / "s"
    doc = _with_theta_table(tiny_path, folder, "sector,theta\ngoods,4.0\nservices,3.0\n")
    same: dict[str, Any] = copy.deepcopy(load_scenario_document(tiny_path).data)
    same["trade"]["elasticity"] = {"goods": 5.0, "services": 4.0}
    a = api.run(doc, replicas=2, base_dir=folder)
    b = api.run(same, replicas=2, base_dir=tiny_path.parent)
    np.testing.assert_array_equal(a.trade.values, b.trade.values)


def test_standard_errors_become_draws_and_codes_are_averaged(
    tiny_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "s"
    text = "code,estimate,stderr\n01,3.0,0.5\n02,5.0,0.5\n99,2.0,0.0\n"
    doc = _with_theta_table(
        tiny_path, folder, text,
        columns={"sector": "code", "theta": "estimate", "se": "stderr"},
        sector_map={"01": "goods", "02": "goods", "99": "services"},
    )  # fmt: skip
    ds = api.run(doc, replicas=400, base_dir=folder)
    draws = ds.parameter_draws.sel(parameter="trade.elasticity.goods").values
    # goods: the mean of 3 and 5 plus one, sd the mean standard error.
    assert abs(draws.mean() - 5.0) < 0.1 and abs(draws.std() - 0.5) < 0.1
    assert draws.min() > 1.01
    assert "trade.elasticity.services" not in ds.parameter.values  # se 0: a fixed value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sector,theta\ngoods,0\nservices,3\n", "must be positive"),
        ("sector,theta\ngoods,4\n", "no row for sector services"),
        ("sector,theta\ngoods,4\ngoods,5\nservices,3\n", "duplicate row"),
    ],
)
def test_bad_elasticity_tables_are_refused(
    tiny_path: Path, tmp_path: Path, text: str, message: str
) -> None:
    folder = tmp_path / "s"
    doc = _with_theta_table(tiny_path, folder, text)
    with pytest.raises(DataFileError, match=message) as err:
        api.prepare(api.load_scenario(doc, base_dir=folder))
    assert err.value.file and err.value.file.endswith("theta.csv")


def test_elasticities_come_from_one_source(tiny_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "s"
    doc = _with_theta_table(tiny_path, folder, "sector,theta\ngoods,4\nservices,3\n")
    doc["trade"]["elasticity"] = 5.0
    with pytest.raises(ScenarioError, match="not both"):
        api.load_scenario(doc, base_dir=folder)
    del doc["trade"]["elasticity"], doc["trade"]["elasticity_table"]
    with pytest.raises(ScenarioError, match=r"give trade\.elasticity or trade\.elasticity_table"):
        api.load_scenario(doc, base_dir=folder)

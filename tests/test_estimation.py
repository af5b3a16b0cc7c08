"""sim estimate: PPML structural gravity, from a trade table to a general-equilibrium run.

1. On the gegravity sample (tests/data/reference), the coefficients that gegravity
   documents (../shared/reference/README.md) to 1e-5 relative, and standard errors
   clustered by pair as an independent statsmodels GLM (Poisson with dummies) gives them.
2. On synthetic data drawn from known coefficients, the estimates recover them.
3. What cannot be estimated is refused with a clear error, before or after the fit.
4. The pipeline: estimate on the sample, then the Canada-Japan agreement as a change of
   the pta covariate in `sim counterfactual`, within 0.3 percentage points of gegravity's
   bilateral results; with the covariance, the coefficients are drawn per replica.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmarks.gegravity import scenario as canada_japan
from sim import api
from sim.cli import main
from sim.engine.draw import draw_batch
from sim.estimation.errors import EstimationError
from sim.estimation.gravity import GravitySpec, estimate_gravity
from sim.estimation.read import PanelColumns, load_trade_table
from sim.estimation.write import write_estimate

REFERENCE = Path(__file__).parent / "data" / "reference"
SAMPLE = REFERENCE / "gegravity_sample_2006.csv"
COVARIATES = ("lndist", "contiguity", "common_language", "pta", "international")
# gegravity 0.3's PPML coefficients on its sample (reproduced by gme 1.3.1).
GEGRAVITY = {
    "lndist": -0.3898623,
    "contiguity": 0.891577,
    "common_language": 0.0326249,
    "pta": 0.4711383,
    "international": -3.412584,
}


@pytest.fixture(scope="module")
def sample_estimate():  # type: ignore[no-untyped-def]
    table = load_trade_table(SAMPLE, PanelColumns(), COVARIATES)
    return table, estimate_gravity(table, GravitySpec(COVARIATES))


def test_the_sample_gives_gegravitys_coefficients(sample_estimate) -> None:  # type: ignore[no-untyped-def]
    _, est = sample_estimate
    for name, value in GEGRAVITY.items():
        assert est.coefficients[name] == pytest.approx(value, rel=1e-5), name
    assert est.observations == 900 and est.clusters == 900
    assert 0.9 < est.pseudo_r2 < 1.0


def test_standard_errors_match_an_independent_glm(sample_estimate) -> None:  # type: ignore[no-untyped-def]
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    table, est = sample_estimate
    data = table.copy()
    data["pair"] = pd.factorize(data.exporter + "_" + data.importer)[0]
    glm = smf.glm(
        "trade ~ " + " + ".join(COVARIATES) + " + C(exporter) + C(importer)",
        data=data,
        family=sm.families.Poisson(),
    ).fit(cov_type="cluster", cov_kwds={"groups": data["pair"].to_numpy()})
    for name in COVARIATES:
        assert est.coefficients[name] == pytest.approx(glm.params[name], rel=1e-6)
        assert est.standard_errors[name] == pytest.approx(glm.bse[name], rel=1e-5), name


def synthetic(seed: int, n: int = 40) -> tuple[pd.DataFrame, dict[str, float]]:
    """Poisson trade from exporter and importer effects and two covariates."""
    rng = np.random.default_rng(seed)
    names = [f"c{i:02d}" for i in range(n)]
    truth = {"lndist": -0.8, "border": -1.5}
    pos = rng.uniform(0, 10, size=(n, 2))
    exp_fe = rng.normal(8.0, 1.0, n)
    imp_fe = rng.normal(0.0, 1.0, n)
    rows = []
    for i in range(n):
        for j in range(n):
            dist = np.log(1.0 + np.hypot(*(pos[i] - pos[j])))
            border = float(i != j)
            mean = np.exp(exp_fe[i] + imp_fe[j] + truth["lndist"] * dist + truth["border"] * border)
            rows.append((names[i], names[j], float(rng.poisson(mean)), dist, border))
    table = pd.DataFrame(rows, columns=["exporter", "importer", "trade", "lndist", "border"])
    return table, truth


def test_synthetic_coefficients_are_recovered_within_their_errors(tmp_path: Path) -> None:
    table, truth = synthetic(seed=11)
    path = tmp_path / "synthetic.csv"
    table.to_csv(path, index=False)
    est = estimate_gravity(
        load_trade_table(path, PanelColumns(), tuple(truth)), GravitySpec(tuple(truth))
    )
    for name, value in truth.items():
        assert abs(est.coefficients[name] - value) < 3.0 * est.standard_errors[name], name
        assert est.standard_errors[name] < 0.1  # informative: 1,600 observations


def test_a_covariate_without_variation_is_refused(tmp_path: Path) -> None:
    table, _ = synthetic(seed=3, n=8)
    table["same"] = 1.0
    with pytest.raises(EstimationError, match="'same' has no variation") as err:
        estimate_gravity(table, GravitySpec(("lndist", "same")))
    assert "drop same from --covariates" in str(err.value)


def test_a_covariate_absorbed_by_the_fixed_effects_is_refused() -> None:
    table, _ = synthetic(seed=3, n=8)
    table["exporter_size"] = table["exporter"].str[1:].astype(float)  # constant per exporter
    with pytest.raises(EstimationError, match="'exporter_size' is collinear"):
        estimate_gravity(table, GravitySpec(("lndist", "exporter_size")))


def test_pair_effects_need_a_panel() -> None:
    table, _ = synthetic(seed=3, n=8)
    with pytest.raises(EstimationError, match="pair fixed effects need a panel"):
        estimate_gravity(table, GravitySpec(("lndist",), pair_effects=True))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.drop(columns="pta"), "no column 'pta'"),
        (
            lambda t: t.assign(trade=t.trade.where(t.index != 4, -1.0)),
            "row 6: trade -1 is negative",
        ),
        (lambda t: pd.concat([t, t.iloc[[2]]]), "appears twice"),
        (lambda t: t.assign(lndist=t.lndist.astype(object).where(t.index != 0, "far")), "row 2"),
    ],
)
def test_bad_tables_name_the_row_or_column(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.csv"
    edit(pd.read_csv(SAMPLE)).to_csv(path, index=False)
    with pytest.raises(EstimationError, match=message):
        load_trade_table(path, PanelColumns(), COVARIATES)


def test_an_exporter_without_exports_is_dropped_and_the_rest_fitted() -> None:
    """An exporter whose trade is all zero is separated: pyfixest drops its 30 rows, and
    the fitted trade lines up with the rows used (it crashed on a length mismatch)."""
    table = load_trade_table(SAMPLE, PanelColumns(), COVARIATES)
    silent = table.exporter.iloc[0]
    table.loc[table.exporter == silent, "trade"] = 0.0
    est = estimate_gravity(table, GravitySpec(COVARIATES))
    assert est.dropped == 30 and est.observations == 870 == len(est.used) == len(est.fitted)
    assert silent not in set(est.used.exporter)
    # With exporter and importer effects, PPML's fitted trade sums to the observed trade of
    # every exporter and importer: true only if each fitted value is on its own row.
    fitted = est.used.assign(fitted=est.fitted.to_numpy())
    for side in ("exporter", "importer"):
        sums = fitted.groupby(side)[["trade", "fitted"]].sum()
        np.testing.assert_allclose(sums.fitted, sums.trade, rtol=1e-5)


def test_a_zero_one_column_as_trade_is_fitted_on_the_rows_it_can_use(tmp_path: Path) -> None:
    """--value pta on seven countries (49 rows): most exporters have no agreement, so
    their rows are separated; the fit writes the rows it used (it crashed)."""
    sample = pd.read_csv(SAMPLE)
    seven = sorted(sample.exporter.unique())[:7]
    path = tmp_path / "seven.csv"
    sample[sample.exporter.isin(seven) & sample.importer.isin(seven)].to_csv(path, index=False)
    out = tmp_path / "est"
    assert main(["-q", "estimate", str(path), "--covariates", "lndist", "--value", "pta",
                 "-o", str(out)]) == 0  # fmt: skip
    fitted = pd.read_csv(out / "fitted_trade.csv")
    assert 0 < len(fitted) < 49 and np.isfinite(fitted.pta).all()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.assign(trade=0.0), "column 'trade': every trade value is 0"),
        (lambda t: t.iloc[:0], "the table has no rows, only a header"),
    ],
)
def test_a_table_with_nothing_to_estimate_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit,  # type: ignore[no-untyped-def]
    message: str,
) -> None:
    """All trade zero aborted the process (a Rust panic in pyfixest); a header alone
    crashed on an empty reduction. Both are refused, naming the file."""
    path = tmp_path / "nothing.csv"
    edit(pd.read_csv(SAMPLE)).to_csv(path, index=False)
    out = tmp_path / "est"
    assert main(["-q", "estimate", str(path), "--covariates", "lndist", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{path}" in err and message in err and "allowed:" in err and "fix:" in err
    assert not out.exists()


def test_too_few_positive_flows_are_refused_before_the_fit() -> None:
    """Two positive flows leave four usable rows for four parameters: nothing to estimate
    (and no positive flow at all would abort the process inside pyfixest)."""
    table, _ = synthetic(seed=3, n=8)
    table["trade"] = 0.0
    table.loc[[0, 9], "trade"] = 5.0  # c00 -> c00 and c01 -> c01
    with pytest.raises(EstimationError, match="2 of 64 rows have positive 'trade'") as err:
        estimate_gravity(table, GravitySpec(("lndist",)))
    assert "4 usable rows for 4 parameter(s)" in str(err.value)
    with pytest.raises(EstimationError, match="0 of 64 rows"):
        estimate_gravity(table.assign(trade=0.0), GravitySpec(("lndist",)))


def estimate_cli(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", "estimate", str(SAMPLE), "--covariates",
         ",".join(COVARIATES), "-o", str(out), *extra],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_command_writes_the_folder_and_never_over_other_files(tmp_path: Path) -> None:
    out = tmp_path / "est"
    done = estimate_cli(out)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "coefficients.csv", "fit.md", "fitted_trade.csv", "gravity.yaml",
    ]  # fmt: skip
    table = pd.read_csv(out / "coefficients.csv")
    assert table.set_index("covariate").loc["pta", "estimate"] == pytest.approx(0.4711383, rel=1e-5)
    again = estimate_cli(out)
    assert again.returncode != 0 and "--overwrite" in again.stderr
    assert estimate_cli(out, "--overwrite").returncode == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    refused = estimate_cli(mine, "--overwrite")
    assert refused.returncode != 0 and "never written over" in refused.stderr
    assert (mine / "notes.txt").read_text() == "keep me"


def percent_changes(ds) -> pd.Series:  # type: ignore[no-untyped-def]
    base = ds.trade_baseline.sum("sector")
    if "replica" in base.dims:
        base = base.isel(replica=0)
    change = (ds.trade.sum("sector") / base - 1.0) * 100.0
    return change.median("replica").to_series()


def test_from_a_panel_to_a_general_equilibrium_counterfactual(
    tmp_path: Path,
    sample_estimate,  # type: ignore[no-untyped-def]
) -> None:
    _, est = sample_estimate
    folder = write_estimate(est, SAMPLE, tmp_path / "est")
    # At the point estimates (the fragment without its covariance): gegravity's results.
    fragment = yaml.safe_load((folder / "gravity.yaml").read_text())
    fragment["trade_costs"]["gravity"].pop("covariance")
    (folder / "point.yaml").write_text(yaml.safe_dump(fragment))
    ds = api.counterfactual(api.load_scenario(canada_japan(tmp_path, 1, "est/point.yaml")))
    mine = percent_changes(ds)
    published = pd.read_csv(REFERENCE / "gegravity_canjpn_bilateral.csv").set_index(
        ["exporter", "importer"]
    )["trade change (percent)"]
    mine.index = mine.index.set_names(["exporter", "importer"])
    gap = (mine.reindex(published.index) - published).abs()
    assert gap.max() < 0.3, gap.sort_values().tail(3)
    assert mine.loc[("CAN", "JPN")] == pytest.approx(62.44, abs=0.3)

    # With the covariance, every replica draws the coefficients: the change is a band.
    model = api.prepare(api.load_scenario(canada_japan(tmp_path, 400)))
    batch = draw_batch(model, 0, 400)
    drawn = np.column_stack(
        [batch.drawn[f"trade_costs.gravity.coefficients.{k}"] for k in COVARIATES]
    )
    cov = est.covariance.loc[list(COVARIATES), list(COVARIATES)].to_numpy()
    error = np.abs(drawn.mean(axis=0) - est.coefficients[list(COVARIATES)].to_numpy())
    assert (error < 3.5 * np.sqrt(np.diag(cov) / 400)).all()  # the mean, within 3.5 s.e.
    np.testing.assert_allclose(np.cov(drawn.T).diagonal(), np.diag(cov), rtol=0.2)
    corr = np.corrcoef(drawn.T)[0, 4]  # lndist and international, strongly correlated
    assert corr == pytest.approx(cov[0, 4] / np.sqrt(cov[0, 0] * cov[4, 4]), abs=0.1)
    assert batch.policy_values[0] == pytest.approx(drawn[:, 3])  # pta's coefficient x 1


# ------------------------------------------------------- the scenario side: checks of inputs
TRADE_ONLY = Path(__file__).parent / "data" / "trade_only" / "trade_only.yaml"


def trade_only(**gravity: object) -> dict[str, object]:
    doc = yaml.safe_load(TRADE_ONLY.read_text())
    if gravity:
        doc["trade_costs"]["gravity"] = gravity
    doc["policies"] = [
        {"date": "2022-01-01", "kind": "covariate", "covariate": "pta", "value": 1,
         "origin": "A", "destination": "B"},
    ]  # fmt: skip
    return doc


@pytest.mark.parametrize(
    ("gravity", "message", "key"),
    [
        ({}, "'pta' has no coefficient", "policies[0].covariate"),
        ({"coefficients": {"fta": 0.4}}, "allowed: fta", "policies[0].covariate"),
        (
            {"coefficients": {"pta": 0.4, "lndist": -0.8},
             "covariance": {"pta": {"pta": 0.01, "lndist": 0.0}}},
            "does not cover exactly the coefficients",
            "trade_costs.gravity.covariance",
        ),
        (
            {"coefficients": {"pta": 0.4, "lndist": -0.8},
             "covariance": {"pta": {"pta": 0.01, "lndist": 0.5},
                            "lndist": {"pta": 0.5, "lndist": 0.01}}},
            "not a symmetric positive semi-definite",
            "trade_costs.gravity.covariance",
        ),
        (
            {"coefficients": {"pta": 0.4}, "standard_errors": {"pta": 0.1},
             "covariance": {"pta": {"pta": 0.01}}},
            "both covariance and standard_errors",
            "trade_costs.gravity.standard_errors",
        ),
    ],
)  # fmt: skip
def test_gravity_inputs_are_checked(gravity: dict[str, object], message: str, key: str) -> None:
    from sim.errors import ScenarioError

    with pytest.raises(ScenarioError) as err:
        api.load_scenario(trade_only(**gravity), base_dir=TRADE_ONLY.parent)
    assert message in str(err.value) and key in str(err.value)


def test_a_covariate_change_is_exp_of_its_coefficient_on_the_cost_weight() -> None:
    """At the point estimate, pta = 1 for A->B is a trade_cost policy of factor
    exp(-0.4 / theta) by sector: the two runs are identical."""
    covariate = api.counterfactual(
        api.load_scenario(trade_only(coefficients={"pta": 0.4}), base_dir=TRADE_ONLY.parent)
    )
    doc = trade_only()
    doc["policies"] = [
        {"date": "2022-01-01", "kind": "trade_cost", "value": float(np.exp(-0.4 / 4.0)),
         "origin": "A", "destination": "B", "sectors": ["goods"]},
        {"date": "2022-01-01", "kind": "trade_cost", "value": float(np.exp(-0.4 / 3.0)),
         "origin": "A", "destination": "B", "sectors": ["services"]},
    ]  # fmt: skip
    factor = api.counterfactual(api.load_scenario(doc, base_dir=TRADE_ONLY.parent))
    np.testing.assert_allclose(covariate.trade.values, factor.trade.values, rtol=1e-10)
    assert float(covariate.trade_change.sel(origin="A", destination="B").min()) > 0


def test_the_engine_applies_a_covariate_policy_at_its_date() -> None:
    """sim run: the tiny scenario's border policy replaced by pta = 1 for A->B in 2023, and
    the same as a trade_cost policy with the equivalent factors: identical runs."""
    tiny = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"
    doc = yaml.safe_load(tiny.read_text())
    doc["trade"]["elasticity"] = {"goods": 5.0, "services": 4.0}
    doc["trade_costs"]["gravity"] = {"coefficients": {"pta": 0.3}}
    doc["policies"] = [{"date": "2023-01-01", "kind": "covariate", "covariate": "pta",
                        "value": 1, "origin": "A", "destination": "B"}]  # fmt: skip
    covariate = api.run(doc, replicas=2, base_dir=tiny.parent)
    doc["policies"] = [
        {
            "date": "2023-01-01",
            "kind": "trade_cost",
            "value": float(np.exp(-0.3 / theta)),
            "origin": "A",
            "destination": "B",
            "sectors": [sector],
        }
        for sector, theta in (("goods", 4.0), ("services", 3.0))
    ]
    factor = api.run(doc, replicas=2, base_dir=tiny.parent)
    np.testing.assert_allclose(covariate.trade.values, factor.trade.values, rtol=1e-9)
    before = covariate.trade.sel(origin="A", destination="B").isel(time=2)
    after = covariate.trade.sel(origin="A", destination="B").isel(time=3)
    assert float((after / before).min()) > 1.05  # the agreement raises A's sales to B

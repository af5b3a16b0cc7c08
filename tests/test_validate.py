"""Tests for sim.scenario.validate: schema walk, defaults, cross-key checks and error messages.

Bad inputs are made by editing the text of a copy of the tiny scenario, so the
line of the bad value is known; each error must name the file, that line, the
dotted key, the value, what is allowed and (where there is one) a suggestion.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.api import load_scenario
from sim.errors import ScenarioError
from sim.scenario.load import dump_yaml, load_scenario_document
from sim.scenario.validate import validate_scenario


def edit(folder: Path, old: str, new: str, name: str = "tiny.yaml") -> Path:
    """Replace the single occurrence of ``old`` in ``folder/name`` by ``new``."""
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {name}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    """1-based number of the only line of ``path`` containing ``needle``."""
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def load_error(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value


def check_located(err: ScenarioError, path: Path, key: str, line: int) -> None:
    assert err.key == key, str(err)
    assert err.file is not None and Path(err.file).name == path.name, str(err)
    assert err.line == line, str(err)
    assert str(err).startswith(f"{err.file}:{line}: "), str(err)


# ---------------------------------------------------------------- happy path


def test_tiny_scenario_validates(tiny_path: Path) -> None:
    sc = load_scenario(tiny_path)
    assert sc.name == "tiny"
    assert sc.region_ids == ["A", "B", "C"]
    assert sc.sector_ids == ["goods", "services"]
    assert sc.path == tiny_path
    assert sc.files == [str(tiny_path)]
    assert sc.data_root == tiny_path.parent
    # Values written by the user are kept as written.
    assert sc.data["economy"]["growth"] == {"A": 0.03, "B": {"2020": 0.05, "2024": 0.02}, "C": 0.02}
    assert sc.data["trade"]["elasticity"]["services"] == 4.0
    assert sc.data["time"] == {"start": "2020-01-01", "end": "2027-12-31", "step": "year"}


def test_defaults_are_filled(tiny_path: Path) -> None:
    data = load_scenario(tiny_path).data
    assert data["trade"]["closure"] == "ratio"
    assert data["trade"]["balance_rule"] == "report"
    assert data["trade"]["numeraire"] == "world"
    assert data["trade"]["max_iterations"] == 20000
    assert data["metadata"]["title"] == ""
    assert data["input_output"]["induced"] is True
    assert data["input_output"]["multiplier_warning"]["notes"] == {}  # type1, type2: tiny's
    assert data["labour"]["displacement"] == 0.0
    assert "cap" not in data["labour"]["migration"][0]  # optional without default: absent
    assert data["output"]["path"] == "outputs/{name}.nc"
    # Defaults inside list items and named maps.
    assert data["investment"]["projects"][1]["pipeline"] == "default"
    slow = data["investment"]["pipelines"]["slow"]
    assert slow["to_construction"] == 0.5
    assert slow["abandon_point"] == 0.5
    assert slow["construction"] == 1.5  # written value wins over the default 2.0
    assert data["policies"][0]["symmetric"] is True
    # Region shorthand and "all" expand.
    assert data["regions"] == [{"id": r, "name": ""} for r in "ABC"]
    rule = data["trade_costs"]["border_days"][0]
    assert rule["sectors"] == ["goods", "services"]
    assert rule["origin"] == ["A"]
    assert data["trade_costs"]["tariffs"] == []


def test_batch_size_default(tiny_dir: Path) -> None:
    path = edit(tiny_dir, "  batch_size: 8\n", "")
    mc = load_scenario(path).data["monte_carlo"]
    assert mc == {
        "replicas": 8,
        "seed": 7,
        "batch_size": 1000,
        "solver_parts": 0,
        "memory_limit": 0.8,
    }


def test_unbounded_distribution_truncated_to_key_range(tiny_path: Path) -> None:
    data = load_scenario(tiny_path).data
    # trade.elasticity is in (1, 50]: a normal without low/high gets both, the low one
    # just above the exclusive minimum (1 itself is not a valid elasticity).
    goods = data["trade"]["elasticity"]["goods"]
    assert goods == {"dist": "normal", "mean": 5.0, "sd": 0.5, "low": goods["low"], "high": 50.0}
    assert 1.0 < goods["low"] <= 1.0 + 1e-12
    # to_financing has min 0 and no max: only low is added.
    assert data["investment"]["pipelines"]["slow"]["to_financing"] == {
        "dist": "lognormal",
        "median": 1.0,
        "sigma": 0.4,
        "low": 0.0,
    }
    # Bounded families keep their own low/high.
    assert data["trade_costs"]["cost_per_border_day"] == {
        "dist": "uniform",
        "low": 0.005,
        "high": 0.02,
    }


def test_explicit_truncation_bound_is_kept(tiny_dir: Path) -> None:
    path = edit(tiny_dir, "mean: 5.0, sd: 0.5}", "mean: 5.0, sd: 0.5, low: 3}")
    goods = load_scenario(path).data["trade"]["elasticity"]["goods"]
    assert goods["low"] == 3.0
    assert goods["high"] == 50.0


def test_validation_does_not_modify_the_document(tiny_path: Path) -> None:
    doc = load_scenario_document(tiny_path)
    before = repr(doc.data)
    validate_scenario(doc, path=tiny_path, data_root=tiny_path.parent)
    assert repr(doc.data) == before
    assert "closure" not in doc.data["trade"]


def test_scenario_from_dict(tiny_path: Path) -> None:
    data = load_scenario_document(tiny_path).data
    sc = load_scenario(data, base_dir=tiny_path.parent)
    assert sc.data == load_scenario(tiny_path).data
    data["time"]["step"] = "month"
    with pytest.raises(ScenarioError) as info:
        load_scenario(data, base_dir=tiny_path.parent)
    assert info.value.key == "time.step"
    assert info.value.line is None


def test_replicas_and_seed_overrides(tiny_path: Path) -> None:
    sc = load_scenario(tiny_path, replicas=3, seed=11)
    assert sc.data["monte_carlo"]["replicas"] == 3
    assert sc.data["monte_carlo"]["seed"] == 11
    with pytest.raises(ScenarioError) as info:
        load_scenario(tiny_path, replicas=0)
    assert info.value.key == "monte_carlo.replicas"
    with pytest.raises(ScenarioError) as info:
        load_scenario(tiny_path, seed=-1)
    assert info.value.key == "monte_carlo.seed"


# ---------------------------------------------------------------- one mistake each

# (old text, new text, expected key, text identifying the bad line, message fragments)
MISTAKES = [
    pytest.param(
        "  growth: {",
        "  grwoth: {",
        "economy.grwoth",
        "grwoth",
        [
            "unknown key 'grwoth'",
            "allowed: output, expenditure, value_added",
            "did you mean 'growth'?",
        ],
        id="misspelt-nested-key",
    ),
    pytest.param(
        "policies:\n",
        "polices:\n",
        "polices",
        "polices:",
        ["unknown key 'polices'", "allowed: extends, metadata", "did you mean 'policies'?"],
        id="misspelt-top-level-key",
    ),
    pytest.param(
        "time:\n",
        "frobnicate: 1\ntime:\n",
        "frobnicate",
        "frobnicate",
        ["unknown key 'frobnicate'", "allowed: extends, metadata", "fix: remove the key"],
        id="unknown-top-level-key",
    ),
    pytest.param(
        "  baseline: {file: trade.csv}\n",
        "  baseline: {file: trade.csv}\n  flux_capacitor: 1\n",
        "trade.flux_capacitor",
        "flux_capacitor",
        ["unknown key 'flux_capacitor'", "allowed: baseline, balance_rule", "remove the key"],
        id="unknown-nested-key",
    ),
    pytest.param(
        "{id: plant-a, sector: goods,",
        "{id: plant-a, sectr: goods,",
        "investment.projects[0].sectr",
        "plant-a",
        ["unknown key 'sectr'", "allowed: id, sector, host", "did you mean 'sector'?"],
        id="misspelt-key-in-list-item",
    ),
    pytest.param(
        "  start: 2020-01-01\n",
        "  start:\n",
        "time.start",
        "start:",
        ["required key 'start' is missing", "allowed: First day", "add 'start:'"],
        id="required-key-empty",
    ),
    pytest.param(
        "  start: 2020-01-01\n",
        "",
        "time",
        "time:",
        ["required key 'start' is missing", "allowed: First day", "add 'start:' under 'time'"],
        id="required-key-missing",
    ),
    pytest.param(
        "capex: 50, announced",
        "announced",
        "investment.projects[0]",
        "plant-a",
        ["required key 'capex' is missing", "allowed: Capital expenditure"],
        id="required-key-missing-in-list-item",
    ),
    pytest.param(
        "  growth: {A: 0.03, B: {2020: 0.05, 2024: 0.02}, C: 0.02}",
        "  growth: {A: 0.03, B: {2020: 0.05, 2024: 0.02}}",
        "economy.growth",
        "  growth: {",
        ["economy.growth has no value for C", "allowed: one entry per region", "add C: ..."],
        id="region-missing-from-table",
    ),
    pytest.param(
        "jobs_per_capex: 5.0",
        "jobs_per_capex: five",
        "investment.jobs_per_capex",
        "jobs_per_capex: five",
        ["expected a number", "= 'five'", "allowed: a number in [0, inf)"],
        id="text-for-number",
    ),
    pytest.param(
        "jobs_per_capex: 5.0",
        "jobs_per_capex: '5.0'",
        "investment.jobs_per_capex",
        "jobs_per_capex: '5.0'",
        ["expected a number", "= '5.0'", "allowed: a number", "without quotes"],
        id="quoted-number",
    ),
    pytest.param(
        "  replicas: 8",
        "  replicas: 8.5",
        "monte_carlo.replicas",
        "replicas:",
        ["expected a whole number", "= 8.5", "allowed: an integer"],
        id="float-for-integer",
    ),
    pytest.param(
        "odds_financing: 0.6",
        "odds_financing: 1.6",
        "investment.pipelines.slow.odds_financing",
        "odds_financing",
        ["value out of range", "= 1.6", "allowed: [0, 1] probability"],
        id="out-of-range",
    ),
    pytest.param(
        "services: 4.0}",
        "services: 1.0}",
        "trade.elasticity.services",
        "services: 1.0}",
        ["value out of range", "= 1.0", "allowed: (1, 50]"],
        id="exclusive-minimum",
    ),
    pytest.param(
        "B: {2020: 0.05, 2024: 0.02}",
        "B: {2020: 0.05, 2024: 5.0}",
        "economy.growth.B.2024",
        "  growth: {",
        ["value out of range", "= 5.0", "allowed: [-0.9, 2] 1 per year"],
        id="out-of-range-in-series",
    ),
    pytest.param(
        "B: {2020: 0.05, 2024: 0.02}",
        "B: {2020: 0.05, 24: 0.02}",
        "economy.growth.B.24",
        "  growth: {",
        ["year out of range", "allowed: 1900 to 2200"],
        id="series-year-out-of-range",
    ),
    pytest.param(
        "odds_financing: 0.6",
        "odds_financing: .nan",
        "investment.pipelines.slow.odds_financing",
        "odds_financing",
        ["value is not finite", "= nan", "allowed: a finite number"],
        id="nan",
    ),
    pytest.param(
        "construction_jobs_per_capex: 10",
        "construction_jobs_per_capex: .inf",
        "investment.construction_jobs_per_capex",
        "construction_jobs_per_capex",
        ["value is not finite", "= inf", "allowed: a finite number"],
        id="inf",
    ),
    pytest.param(
        "productivity_growth: 0.02",
        "productivity_growth: -.inf",
        "economy.productivity_growth",
        "productivity_growth",
        ["value is not finite", "= -inf", "allowed: a finite number"],
        id="minus-inf",
    ),
    pytest.param(
        "C: 0.02}",
        "CC: 0.02}",
        "economy.growth.CC",
        "  growth: {",
        ["unknown region 'CC'", "allowed: regions of this scenario: A, B, C", "did you mean 'C'?"],
        id="unknown-region-map-key",
    ),
    pytest.param(
        "wage: {A: 500, B: 300, C: 2000}",
        "wage: {A: 500, B: 300, C: 2000, Zed: 1}",
        "economy.wage.Zed",
        "wage:",
        ["unknown region 'Zed'", "allowed: regions of this scenario", "declare it under regions:"],
        id="unknown-region-map-key-no-suggestion",
    ),
    pytest.param(
        "sector: goods, host: B, investor: A, capex: 50",
        "sector: goods, host: BB, investor: A, capex: 50",
        "investment.projects[0].host",
        "plant-a",
        ["unknown region 'BB'", "= 'BB'", "allowed: regions of this scenario", "did you mean 'B'?"],
        id="unknown-region-value",
    ),
    pytest.param(
        "{origin: A, destination: B, days: 2}",
        "{origin: A, destination: BB, days: 2}",
        "trade_costs.border_days[0].destination",
        "days: 2",
        ["unknown region 'BB'", "allowed: regions of this scenario", "did you mean 'B'?"],
        id="unknown-region-in-regions-field",
    ),
    pytest.param(
        "{id: plant-a, sector: goods,",
        "{id: plant-a, sector: food,",
        "investment.projects[0].sector",
        "plant-a",
        ["unknown sector 'food'", "= 'food'", "allowed: sectors of this scenario: goods, services"],
        id="unknown-sector-value",
    ),
    pytest.param(
        "investment_mix: {goods: 0.5, services: 0.3}",
        "investment_mix: {goods: 0.5, servces: 0.3}",
        "input_output.investment_mix.servces",
        "investment_mix",
        ["unknown sector 'servces'", "allowed: sectors of this scenario", "'services'?"],
        id="unknown-sector-map-key",
    ),
    pytest.param(
        "  step: year",
        "  step: yeer",
        "time.step",
        "step:",
        ["'yeer' is not an allowed value", "= 'yeer'", "allowed: quarter, year", "'year'?"],
        id="bad-enum",
    ),
    pytest.param(
        "  money_unit: million",
        "  money_unit: milion",
        "metadata.money_unit",
        "money_unit",
        ["'milion' is not an allowed value", "allowed: one, thousand", "did you mean 'million'?"],
        id="bad-enum-metadata",
    ),
    pytest.param(
        "  start: 2020-01-01",
        "  start: 2020-13-01",
        "time.start",
        "start:",
        ["not a calendar date", "= '2020-13-01'", "allowed: a valid YYYY-MM-DD"],
        id="impossible-date",
    ),
    pytest.param(
        "  start: 2020-01-01",
        "  start: 01/01/2020",
        "time.start",
        "start:",
        ["expected a date", "= '01/01/2020'", "allowed: YYYY-MM-DD"],
        id="date-format",
    ),
    pytest.param(
        "  end: 2027-12-31",
        "  end: 2019-12-31",
        "time.end",
        "end:",
        ["time.end must be after time.start", "= '2019-12-31'", "allowed: a date after 2020-01"],
        id="end-before-start",
    ),
    pytest.param(
        "financed: 2020-09-01",
        "financed: 2020-02-01",
        "investment.projects[1].financed",
        "financed:",
        ["'financed' date is before 'announced'", "= '2020-02-01'", "allowed: on or after"],
        id="project-dates-out-of-order",
    ),
    pytest.param(
        "{dist: normal, mean: 5.0, sd: 0.5}",
        "{dist: normul, mean: 5.0, sd: 0.5}",
        "trade.elasticity.goods.dist",
        "elasticity",
        ["unknown distribution 'normul'", "allowed: normal, lognormal", "did you mean 'normal'?"],
        id="unknown-distribution",
    ),
    pytest.param(
        "{dist: normal, mean: 5.0, sd: 0.5}",
        "{dist: normal, mean: 5.0}",
        "trade.elasticity.goods",
        "elasticity",
        ["a normal distribution needs 'sd'", "allowed: normal: mean, sd", "add sd:"],
        id="distribution-missing-parameter",
    ),
    pytest.param(
        "{dist: normal, mean: 5.0, sd: 0.5}",
        "{dist: normal, mean: 5.0, sd: -0.5}",
        "trade.elasticity.goods.sd",
        "elasticity",
        ["'sd' must be positive", "= -0.5", "allowed: > 0"],
        id="distribution-negative-sd",
    ),
    pytest.param(
        "{dist: normal, mean: 5.0, sd: 0.5}",
        "{dist: normal, mean: 5.0, sdd: 0.5}",
        "trade.elasticity.goods.sdd",
        "elasticity",
        ["unknown parameter 'sdd' for a normal distribution", "allowed:", "did you mean 'sd'?"],
        id="distribution-unknown-parameter",
    ),
    pytest.param(
        "{dist: normal, mean: 5.0, sd: 0.5}",
        "{dist: normal, mean: 60, sd: 0.5}",
        "trade.elasticity.goods.mean",
        "elasticity",
        ["value out of range", "= 60", "allowed: (1, 50]"],
        id="distribution-location-out-of-range",
    ),
    pytest.param(
        "{dist: uniform, low: 0.005, high: 0.02}",
        "{dist: uniform, low: 0.02, high: 0.005}",
        "trade_costs.cost_per_border_day",
        "cost_per_border_day",
        ["'low' must be below 'high'", "allowed: low < high"],
        id="distribution-low-above-high",
    ),
    pytest.param(
        "id: plant-b",
        "id: plant-a",
        "investment.projects[1].id",
        "plant-a, sector: services",
        ["duplicate project id", "= 'plant-a'", "ids must be unique"],
        id="duplicate-project-id",
    ),
    pytest.param(
        "regions: [A, B, C]",
        "regions: [A, B, C, B]",
        "regions[3].id",
        "regions:",
        ["duplicate region id", "= 'B'", "ids must be unique"],
        id="duplicate-region-id",
    ),
    pytest.param(
        "sector_mix: {goods: 1.0}",
        "sector_mix: {goods: 0.6}",
        "investment.portfolios[0].sector_mix",
        "sector_mix",
        ["sector shares must sum to 1", "'goods': 0.6", "allowed: shares summing to 1", "0.6)"],
        id="sector-mix-sum",
    ),
    pytest.param(
        "announced: 2020-03-01, pipeline: slow}",
        "announced: 2020-03-01, pipeline: slwo}",
        "investment.projects[0].pipeline",
        "plant-a",
        ["unknown pipeline 'slwo'", "= 'slwo'", "allowed: default, slow", "did you mean 'slow'?"],
        id="unknown-pipeline",
    ),
    pytest.param(
        "{date: 2023-01-01,",
        "{date: 2030-01-01,",
        "policies[0].date",
        "2030-01-01",
        ["policy date outside the simulated period", "= '2030-01-01'", "2020-01-01 to 2027-12-31"],
        id="policy-date-outside-period",
    ),
    pytest.param(
        "kind: border_days,",
        "kind: border_day,",
        "policies[0].kind",
        "border_day,",
        ["'border_day' is not an allowed value", "allowed: border_days", "'border_days'?"],
        id="policy-kind",
    ),
    pytest.param(
        "investment_mix: {goods: 0.5, services: 0.3}",
        "investment_mix: {goods: 0.8, services: 0.3}",
        "input_output.investment_mix",
        "investment_mix",
        ["investment mix sums to more than 1", "allowed: shares summing to at most 1"],
        id="investment-mix-above-one",
    ),
    pytest.param(
        "{origin: B, destination: A, flow: 1000",
        "{origin: B, destination: B, flow: 1000",
        "labour.migration[0].destination",
        "flow: 1000",
        ["origin and destination must differ", "= 'B'"],
        id="migration-same-region",
    ),
    pytest.param(
        "    - {origin: B, destination: A, flow: 1000, recruitment: 0.1}\n",
        "    - {origin: B, destination: A, flow: 1000, recruitment: 0.1}\n"
        "    - {origin: B, destination: A, flow: 500, return_rate: 0.5}\n",
        "labour.migration[1].origin",
        "flow: 500",
        [
            "corridor B -> A has a second entry",
            "labour.migration[0], line 53",
            "one entry per origin and destination",
            "merge the entries",
        ],
        id="migration-corridor-twice",
    ),
    pytest.param(
        "  price_base_year: 2020\n",
        "",
        "metadata.price_basis",
        "price_basis",
        ["constant prices need a base year", "add metadata.price_base_year"],
        id="constant-prices-without-year",
    ),
]


@pytest.mark.parametrize(("old", "new", "key", "needle", "fragments"), MISTAKES)
def test_mistake_is_reported_with_location(
    tiny_dir: Path, old: str, new: str, key: str, needle: str, fragments: list[str]
) -> None:
    path = edit(tiny_dir, old, new)
    err = load_error(path)
    check_located(err, path, key, line_of(path, needle))
    message = str(err)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in\n{message}"
    assert "Traceback" not in message


def test_distribution_inside_series_is_accepted(tiny_dir: Path) -> None:
    path = edit(tiny_dir, "B: {2020: 0.05,", "B: {2020: {dist: normal, mean: 0.05, sd: 0.01},")
    b = load_scenario(path).data["economy"]["growth"]["B"]
    # Truncated to the growth range [-0.9, 2].
    assert b["2020"] == {"dist": "normal", "mean": 0.05, "sd": 0.01, "low": -0.9, "high": 2.0}
    assert b["2024"] == 0.02


def test_unknown_key_message_names_key_path(tiny_dir: Path) -> None:
    path = edit(tiny_dir, "  growth: {", "  grwoth: {")
    err = load_error(path)
    assert "key: economy.grwoth" in str(err)
    assert err.hint == "did you mean 'growth'?"
    assert "growth" in (err.allowed or "")


def test_first_error_wins_in_file_order(tiny_dir: Path) -> None:
    # Two mistakes: the earlier section (time) is reported first.
    edit(tiny_dir, "  step: year", "  step: yeer")
    path = edit(tiny_dir, "odds_financing: 0.6", "odds_financing: 1.6")
    assert load_error(path).key == "time.step"


# ---------------------------------------------------------------- loader errors through the API


def test_duplicate_yaml_key(tiny_dir: Path) -> None:
    path = edit(tiny_dir, "  name: tiny\n", "  name: tiny\n  name: other\n")
    err = load_error(path)
    check_located(err, path, "metadata.name", line_of(path, "name: other"))
    assert "appears twice (lines 3 and 4)" in str(err)


def test_python_tag_refused_and_not_executed(tiny_dir: Path) -> None:
    marker = tiny_dir / "pwned"
    path = edit(
        tiny_dir,
        "  name: tiny\n",
        f"  name: !!python/object/apply:os.system ['touch {marker}']\n",
    )
    err = load_error(path)
    check_located(err, path, "metadata.name", line_of(path, "python/object"))
    assert "unknown YAML tag !!python/object/apply:os.system" in str(err)
    assert "allowed:" in str(err)
    assert not marker.exists()


def test_extends_missing_file(tiny_dir: Path) -> None:
    path = edit(tiny_dir, "metadata:\n", "extends: base_missing.yaml\nmetadata:\n")
    err = load_error(path)
    check_located(err, path, "extends", line_of(path, "extends:"))
    assert "does not exist" in str(err)
    assert "base_missing.yaml" in str(err)


def test_error_in_variant_points_at_variant(tiny_dir: Path) -> None:
    variant = tiny_dir / "variant.yaml"
    variant.write_text("extends: tiny.yaml\ntrade:\n  closure: ratoi\n", encoding="utf-8")
    err = load_error(variant)
    check_located(err, variant, "trade.closure", 3)
    assert "did you mean 'ratio'?" in str(err)


def test_error_in_inherited_value_points_at_base(tiny_dir: Path) -> None:
    base = edit(tiny_dir, "  step: year", "  step: yeer")
    variant = tiny_dir / "variant.yaml"
    variant.write_text("extends: tiny.yaml\ntrade:\n  closure: additive\n", encoding="utf-8")
    err = load_error(variant)
    check_located(err, base, "time.step", line_of(base, "step:"))


def test_variant_overrides_validate(tiny_dir: Path) -> None:
    variant = tiny_dir / "variant.yaml"
    variant.write_text(
        "extends: tiny.yaml\ntrade:\n  closure: additive\nmonte_carlo:\n  replicas: 2\n",
        encoding="utf-8",
    )
    sc = load_scenario(variant)
    assert sc.data["trade"]["closure"] == "additive"
    assert sc.data["monte_carlo"] == {
        "replicas": 2,
        "seed": 7,
        "batch_size": 8,
        "solver_parts": 0,
        "memory_limit": 0.8,
    }
    assert sc.files == [str(tiny_dir / "tiny.yaml"), str(variant)]


# ---------------------------------------------------------------- regressions
# Each was a bug found while writing these tests (see the report); fixed since.


def test_missing_top_level_section_names_the_file(tiny_dir: Path) -> None:
    path = tiny_dir / "tiny.yaml"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:1] + lines[7:]), encoding="utf-8")  # drop metadata (2-7)
    err = load_error(path)
    assert err.key == "metadata"
    assert "required key 'metadata' is missing" in str(err)
    assert err.file == str(path)
    assert str(err).startswith(f"{path}: required key 'metadata' is missing")


def test_largest_allowed_seed_accepted(tiny_dir: Path) -> None:
    path = edit(tiny_dir, "  seed: 7", "  seed: 18446744073709551615")
    assert load_scenario(path).data["monte_carlo"]["seed"] == 2**64 - 1


def test_seed_above_max_refused(tiny_dir: Path) -> None:
    path = edit(tiny_dir, "  seed: 7", "  seed: 18446744073709551616")
    err = load_error(path)
    check_located(err, path, "monte_carlo.seed", line_of(path, "seed:"))
    assert "value out of range" in str(err)


def test_beta_outside_key_range_refused(tiny_dir: Path) -> None:
    path = edit(tiny_dir, "services: 4.0}", "services: {dist: beta, a: 2, b: 2}}")
    err = load_error(path)
    check_located(err, path, "trade.elasticity.services", line_of(path, "services: {dist: beta"))
    assert "beta" in str(err)
    assert "allowed:" in str(err)
    assert "(1, 50]" in str(err)


def test_beta_inside_key_range_accepted(tiny_dir: Path) -> None:
    path = edit(tiny_dir, "odds_financing: 0.6", "odds_financing: {dist: beta, a: 6, b: 4}")
    odds = load_scenario(path).data["investment"]["pipelines"]["slow"]["odds_financing"]
    assert odds == {"dist": "beta", "a": 6.0, "b": 4.0}


def test_resolved_scenario_validates_again(tiny_dir: Path) -> None:
    first = load_scenario(tiny_dir / "tiny.yaml")
    resolved = tiny_dir / "resolved.yaml"
    resolved.write_text(dump_yaml(first.data), encoding="utf-8")
    assert load_scenario(resolved).data == first.data


def test_resolved_scenario_validates_again_without_exclusive_bound(tiny_dir: Path) -> None:
    # Control for the test above: with an explicit low the round trip is exact.
    path = edit(tiny_dir, "mean: 5.0, sd: 0.5}", "mean: 5.0, sd: 0.5, low: 1.5}")
    first = load_scenario(path)
    resolved = tiny_dir / "resolved.yaml"
    resolved.write_text(dump_yaml(first.data), encoding="utf-8")
    assert load_scenario(resolved).data == first.data


def test_a_removed_key_says_what_replaced_it(tiny_path: Path, tmp_path: Path) -> None:
    text = tiny_path.read_text(encoding="utf-8").replace(
        "  investment_mix:", "  labour_income_share: 0.25\n  investment_mix:"
    )
    path = tmp_path / "old.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert "unknown key 'labour_income_share'" in message
    assert "labour income is now jobs times economy.wage" in message


@pytest.mark.parametrize("value", ["8.5", "true", "'8'"])
def test_a_whole_number_written_otherwise_says_how_to_fix_it(tiny_dir: Path, value: str) -> None:
    """Regression: replicas: 8.5 or seed: true said what was wrong and allowed, but not
    how to fix it."""
    path = edit(tiny_dir, "  replicas: 8\n", f"  replicas: {value}\n")
    err = load_error(path)
    assert err.key == "monte_carlo.replicas"
    assert err.hint == "write a whole number without decimals or quotes (not true or false)"

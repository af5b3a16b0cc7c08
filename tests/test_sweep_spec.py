"""Sweep files: what they accept, and errors that name file, line, key, what is allowed, a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli import main
from sim.errors import ScenarioError
from sim.sweep.plan import make_plan
from sim.sweep.spec import read_sweep
from tests.test_sweep_support import REPO, TINY


def write(tmp_path: Path, body: str) -> Path:
    """A sweep file over the tiny scenario; ``body`` starts on line 2."""
    path = tmp_path / "sweep.yaml"
    path.write_text(f"scenario: {TINY}\n{body}", encoding="utf-8")
    return path


def error_of(path: Path) -> ScenarioError:
    """The error reading and planning the sweep raise."""
    with pytest.raises(ScenarioError) as info:
        make_plan(read_sweep(path))
    return info.value


LHS = "design: {kind: lhs, samples: 8}\nparameters:\n"


def test_reads_a_valid_file_with_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, LHS + "  - {key: trade.elasticity.services, range: [3, 5]}\n")
    sweep = read_sweep(path)
    assert sweep.keys == ["trade.elasticity.services"]
    assert (sweep.design.kind, sweep.design.samples, sweep.design.seed) == ("lhs", 8, 0)
    # Replicas, seed and the replica batch come from the scenario (8, 7, 8).
    assert (sweep.replicas, sweep.seed, sweep.replica_batch) == (8, 7, 8)
    assert sweep.output == Path("outputs/sweep.zarr")
    assert sweep.points_per_task is None
    assert sweep.scenario.path == TINY.resolve()


def test_overrides_replicas_seed_and_batch(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        LHS + "  - {key: trade.elasticity.services, range: [3, 5]}\n"
        "replicas: 3\nseed: 11\nbatch: {points: 5, replicas: 2}\noutput: outputs/here.zarr\n",
    )
    sweep = read_sweep(path)
    assert (sweep.replicas, sweep.seed, sweep.replica_batch, sweep.points_per_task) == (
        3, 11, 2, 5,
    )  # fmt: skip
    mc = sweep.scenario.data["monte_carlo"]
    assert (mc["replicas"], mc["seed"], mc["batch_size"]) == (3, 11, 2)
    assert sweep.output == Path("outputs/here.zarr")


def test_an_output_from_the_file_stays_in_its_tree_or_outputs(tmp_path: Path) -> None:
    """Regression: a received sweep file's output could name any store on the machine
    (a scenario's output.path could not)."""
    outside = tmp_path.parent / "elsewhere" / "evil.zarr"
    path = write(tmp_path, LHS + "  - {key: trade.elasticity.services, range: [3, 5]}\n"
                 f"output: {outside}\n")  # fmt: skip
    err = error_of(path)
    assert err.key == "output" and "outside the sweep file's folder tree" in str(err)
    inside = write(tmp_path, LHS + "  - {key: trade.elasticity.services, range: [3, 5]}\n"
                   f"output: {tmp_path / 'store.zarr'}\n")  # fmt: skip
    assert read_sweep(inside).output == tmp_path / "store.zarr"
    assert read_sweep(path, output=str(outside)).output == outside  # -o is the user's own


def test_unknown_top_level_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, "design: grid\nparameter:\n  - {key: x, values: [1]}\n")
    err = error_of(path)
    assert (err.file, err.line, err.key) == (str(path), 3, "parameter")
    assert "unknown key 'parameter'" in str(err)
    assert err.hint == "did you mean 'parameters'?"
    assert "parameters" in (err.allowed or "")


def test_key_missing_from_the_scenario_suggests_a_close_key(tmp_path: Path) -> None:
    path = write(tmp_path, LHS + "  - key: trade.elasticity.service\n    range: [3, 5]\n")
    err = error_of(path)
    assert (err.file, err.line, err.key) == (str(path), 4, "parameters[0].key")
    assert f"'trade.elasticity.service' is not a key of the scenario {TINY.resolve()}" in str(err)
    assert "did you mean 'trade.elasticity.services'?" in (err.hint or "")
    assert "sim describe" in (err.hint or "")
    assert "key path of a number" in (err.allowed or "")


@pytest.mark.parametrize(
    ("key", "problem", "hint"),
    [
        (
            "trade.elasticity.goods",
            "is a distribution, not a number",
            "trade.elasticity.goods.mean",
        ),
        ("economy.wage", "is a mapping, not a number", "economy.wage.A"),
        ("trade_costs.border_days", "is a list, not a number", "trade_costs.border_days[0]"),
        ("trade.max_iterations", "is a whole-number setting", "one sweep per value"),
        ("monte_carlo.replicas", "do not change what a run computes", "replicas and seed"),
    ],
)
def test_key_must_name_a_real_number(tmp_path: Path, key: str, problem: str, hint: str) -> None:
    path = write(tmp_path, LHS + f"  - key: {key}\n    range: [3, 5]\n")
    err = error_of(path)
    assert (err.line, err.key) == (4, "parameters[0].key")
    assert problem in err.problem
    assert hint in (err.hint or "")


def test_design_value_outside_the_keys_range_points_at_the_range(tmp_path: Path) -> None:
    # economy.growth.A allows [-0.9, 2]; the design reaches -0.95.
    path = write(tmp_path, LHS + "  - key: economy.growth.A\n    range: [-0.95, 0.1]\n")
    err = error_of(path)
    assert (err.file, err.line, err.key) == (str(path), 5, "parameters[0].range")
    assert "sets economy.growth.A to -0.9" in err.problem and "value out of range" in err.problem
    assert err.allowed == "[-0.9, 2] 1 per year"
    assert err.hint == "narrow the range of this parameter"


def test_cross_key_conflicts_are_left_to_the_points(tmp_path: Path) -> None:
    # low above the scenario's high is refused by a rule across keys: a point failure, not a
    # sweep-file error (another point may be valid).
    path = write(
        tmp_path,
        "design: list\nparameters:\n  - key: trade_costs.cost_per_border_day.low\n"
        "    values: [0.005, 0.03]\n",
    )
    plan = make_plan(read_sweep(path))
    assert plan.values[:, 0].tolist() == [0.005, 0.03]


@pytest.mark.parametrize(
    ("body", "line", "key", "problem", "fix"),
    [
        ("design: {kind: saltelli, samples: 100}\nparameters:\n  - {key: trade.elasticity.services, range: [3, 5]}\n",
         2, "design.samples", "power of two", "use 64 or 128"),
        ("design: {kind: morris, trajectories: 4, levels: 5}\nparameters:\n  - {key: trade.elasticity.services, range: [3, 5]}\n",
         2, "design.levels", "levels must be even", "use 6"),
        ("design: grid\nparameters:\n  - {key: trade.elasticity.services, range: [3, 5]}\n",
         4, "parameters[0]", "a grid needs the number of levels", "add levels: 5"),
        ("design: {kind: lhs}\nparameters:\n  - {key: trade.elasticity.services, range: [3, 5]}\n",
         2, "design", "needs 'samples'", "add samples"),
        ("design: {kind: lhs, samples: 4}\nparameters:\n  - {key: trade.elasticity.services, range: [5, 3]}\n",
         4, "parameters[0].range", "from low to high", "write [3.0, 5.0]"),
        ("design: {kind: sobel, samples: 4}\nparameters: []\n",
         2, "design.kind", "unknown design 'sobel'", "did you mean 'sobol'?"),
        ("design: {kind: morris, trajectories: 2}\nparameters:\n  - {key: economy.growth.A, values: [0.01, 0.02]}\n",
         4, "parameters[0].values", "a morris design cannot take values", "continuous scale"),
        ("design: {kind: lhs, samples: 4}\nparameters:\n  - key: trade.elasticity.services\n    distribution: {dist: normal, mean: 4}\n",
         5, "parameters[0].distribution", "needs 'sd'", "add sd:"),
        ("design: list\nparameters:\n  - {key: trade.elasticity.services, values: [3, 4]}\n  - {key: economy.growth.A, values: [0.01]}\n",
         5, "parameters[1].values", "one value per point", "position i"),
        ("design: {kind: lhs, samples: 4}\nparameters:\n  - {key: economy.growth.A, range: [0, 0.1]}\n  - {key: economy.growth.A, range: [0, 0.2]}\n",
         5, "parameters[1].key", "varied twice", "remove one"),
    ],
)  # fmt: skip
def test_design_errors(
    tmp_path: Path, body: str, line: int, key: str, problem: str, fix: str
) -> None:
    path = write(tmp_path, body)
    err = error_of(path)
    assert (err.file, err.line, err.key) == (str(path), line, key)
    assert problem in err.problem
    assert fix in (err.hint or "")
    assert err.allowed


def test_missing_base_scenario(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "scenario: nowhere.yaml\ndesign: list\nparameters:\n  - {key: x.y, values: [1]}\n",
        encoding="utf-8",
    )
    err = error_of(path)
    assert (err.line, err.key) == (1, "scenario")
    assert f"base scenario not found: {tmp_path / 'nowhere.yaml'}" in err.problem


def test_cli_reports_a_bad_sweep_file_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, LHS + "  - key: trade.elasticity.service\n    range: [3, 5]\n")
    out = tmp_path / "out.zarr"
    code = main(["sweep", str(path), "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith(f"error: {path}:4: 'trade.elasticity.service' is not a key")
    assert "key: parameters[0].key = 'trade.elasticity.service'" in captured.err
    assert "Traceback" not in captured.err
    assert not out.exists()


def test_cli_refuses_nonpositive_options(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sweep", str(TINY), "--workers", "0"])
    assert code == 2
    assert "--workers must be at least 1 (got 0)" in capsys.readouterr().err


def test_the_documented_sweep_file_plans(tmp_path: Path) -> None:
    docs = (REPO / "docs" / "sweeps.md").read_text(encoding="utf-8")
    block = docs.split("```yaml\n# sweeps/khiva_lhs.yaml\n", 1)[1].split("```", 1)[0]
    seed = REPO / "scenarios" / "uz_kz_khiva_2024.yaml"
    assert "scenario: ../scenarios/uz_kz_khiva_2024.yaml" in block
    path = tmp_path / "khiva_lhs.yaml"
    path.write_text(block.replace("../scenarios/uz_kz_khiva_2024.yaml", str(seed)))
    plan = make_plan(read_sweep(path))
    assert (plan.points, plan.sweep.replicas, len(plan.batches)) == (32, 20, 16)
    assert plan.sweep.slurm.jobs == 2 and plan.sweep.slurm.memory == "2GB"


def test_a_scenario_given_as_a_sweep_file_and_back_is_named(tmp_path: Path) -> None:
    """Regression: each file's top-level keys were 'unknown' to the other, with the hint
    to remove them."""
    with pytest.raises(ScenarioError, match="this is a scenario, not a sweep file") as err:
        read_sweep(TINY)
    assert err.value.key == "metadata" and "sim run" in (err.value.hint or "")
    path = write(tmp_path, LHS + "  - {key: trade.elasticity.services, range: [3, 5]}\n")
    from sim import api

    with pytest.raises(ScenarioError, match="this is a sweep file") as err:
        api.load_scenario(path)
    assert err.value.key == "scenario" and "sim sweep" in (err.value.hint or "")

"""In-process sweeps: the store contract, values, failures, batch sizes, plan, resume."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import sim
from sim.api import load_scenario, prepare, simulate
from sim.cli import main
from sim.sweep import make_plan, read_sweep
from sim.sweep.plan import scenario_at
from sim.sweep.store import locked_store
from tests.test_sweep_support import (
    SWEEPS,
    TINY,
    assert_same_store,
    markers,
    store_files,
)

LHS = SWEEPS / "tiny_lhs.yaml"
FAILING = SWEEPS / "tiny_failing.yaml"
KEYS = ["trade.elasticity.services", "economy.growth.A", "trade_costs.border_days[0].days"]


def sweep(*args: str) -> int:
    return main(["sweep", *args, "--no-progress"])


@pytest.fixture(scope="module")
def lhs_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LHS sweep run in-process once for the module (read-only use)."""
    out = tmp_path_factory.mktemp("lhs") / "lhs.zarr"
    assert sweep(str(LHS), "-o", str(out)) == 0
    return out


def test_store_layout_is_the_contract(lhs_store: Path) -> None:
    ds = xr.open_zarr(lhs_store)
    run_vars = [v for v in ds.data_vars if not str(v).startswith("point_")]
    assert "trade" in run_vars and "parameter_draws" in run_vars
    for name in run_vars:
        assert ds[name].dims[:2] == ("point", "replica"), name
    assert ds.trade.dims == ("point", "replica", "time", "origin", "destination", "sector")
    assert ds.point.values.tolist() == list(range(12))
    assert ds.replica.values.tolist() == list(range(6))
    for key in KEYS:
        assert ds[key].dims == ("point",)
    # The swept values are the design: three strata of the list, ranges respected.
    assert set(ds[KEYS[2]].values) <= {1.0, 2.0, 4.0}
    assert ((ds[KEYS[0]] >= 3.0) & (ds[KEYS[0]] <= 6.0)).all()
    assert ds.point_unit.dims == ("point", "sweep_parameter")
    assert ds.sweep_parameter.values.tolist() == KEYS
    assert not ds.point_failed.values.any()
    assert (ds.point_error.values == "").all()
    attrs = ds.attrs
    assert attrs["sweep_design"] == "lhs"
    assert json.loads(attrs["sweep_parameters"]) == KEYS
    assert attrs["sweep_yaml"] == LHS.read_text(encoding="utf-8")
    assert attrs["engine_version"] == sim.__version__
    assert attrs["replicas"] == 6 and attrs["seed"] == 7
    assert attrs["scenario_yaml"].startswith("metadata:\n  name: tiny")
    hashes = json.loads(attrs["data_files_sha256"])
    trade_csv = TINY.parent / "trade.csv"
    assert hashes[str(trade_csv)] == hashlib.sha256(trade_csv.read_bytes()).hexdigest()
    assert ds.trade.attrs["units"].startswith("USD million per year")
    assert "simpy_events" not in attrs


def test_each_point_holds_its_own_run_with_common_random_numbers(lhs_store: Path) -> None:
    ds = xr.open_zarr(lhs_store)
    base = load_scenario(TINY, replicas=6)
    for point in (0, 7):
        values = [float(ds[key][point]) for key in KEYS]
        direct = simulate(prepare(scenario_at(base, KEYS, values)), batch_size=6)
        for name in direct.data_vars:
            np.testing.assert_array_equal(ds[name].isel(point=point).values, direct[name].values)
    # A parameter the sweep does not touch draws the same numbers at every point.
    draws = ds.parameter_draws.sel(parameter="trade_costs.cost_per_border_day").values
    assert (draws == draws[:1]).all() and len(set(draws[0])) == 6
    # ... so points differ because of the swept values, not noise.
    turnover = ds.trade_turnover.isel(time=-1).values
    assert not np.array_equal(turnover[0], turnover[1])


def test_failing_point_is_recorded_and_the_sweep_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "failing.zarr"
    code = sweep(str(FAILING), "-o", str(out))
    printed = capsys.readouterr().out
    assert code == 1
    assert "1 point(s) failed:" in printed
    assert (
        "point 1 (trade_costs.cost_per_border_day.low=0.03, "
        "trade_costs.cost_per_border_day.high=0.02): "
    ) in printed
    assert "'low' must be below 'high'" in printed
    ds = xr.open_zarr(out)
    assert ds.point_failed.values.tolist() == [False, True, False]
    assert "'low' must be below 'high'" in str(ds.point_error.values[1])
    assert ds.point_error.values[0] == "" and ds.point_error.values[2] == ""
    assert np.isnan(ds.trade.isel(point=1).values).all()
    assert (ds.project_stage.isel(point=1).values == -1).all()
    assert np.isfinite(ds.trade.isel(point=[0, 2]).values).all()
    # Running it again computes nothing and reports the same failure.
    assert sweep(str(FAILING), "-o", str(out)) == 1
    again = capsys.readouterr().out
    assert "0 of 2 batches computed" in again and "point 1 (" in again


def test_points_per_task_changes_nothing_replica_batch_within_1e10(
    tmp_path: Path, lhs_store: Path
) -> None:
    ref = xr.open_zarr(lhs_store)
    one = tmp_path / "one.zarr"
    assert sweep(str(LHS), "-o", str(one), "--points-per-task", "1") == 0
    small = tmp_path / "small.zarr"
    assert sweep(str(LHS), "-o", str(small), "--replica-batch", "4") == 0
    by_point, by_replica = xr.open_zarr(one), xr.open_zarr(small)
    assert by_point.attrs["sweep_points_per_task"] == 1
    assert by_point.trade.encoding["chunks"][0] == 1 and ref.trade.encoding["chunks"][0] == 3
    for name in ref.data_vars:
        want = ref[name].values
        np.testing.assert_array_equal(by_point[name].values, want)
        got = by_replica[name].values
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)
        else:
            np.testing.assert_array_equal(got, want)


def test_plan_prints_the_plan_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "planned.zarr"
    assert main(["sweep", str(LHS), "-o", str(out), "--plan", "--workers", "2"]) == 0
    text = capsys.readouterr().out
    for expected in (
        "lhs design (12 samples, seed 3)",
        "points            12",
        "runs              72",
        "tasks             4 batches of 3 point(s), 6 replicas simulated together",
        "memory per task   ~",
        f"uncompressed -> {out}",
        "trial             1 point x 6 replicas in",
        "with 2 worker(s)",
    ):
        assert expected in text, expected
    assert not out.exists()


def test_missing_batches_are_computed_again_and_nothing_else(
    tmp_path: Path, lhs_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "resumed.zarr"
    shutil.copytree(lhs_store, out)
    # As if batches 1 and 3 had never finished: no marker, no chunks, not consolidated.
    for index in (1, 3):
        (out / ".sweep" / "done" / f"{index:06d}.json").unlink()
        chunks = [*out.glob(f"*/{index}"), *out.glob(f"*/{index}.*")]
        # One chunk per run variable; Zarr skips chunks that hold only the fill value
        # (point_failed all False, point_error all empty).
        assert len(chunks) >= 20
        for chunk in chunks:
            chunk.unlink()
    (out / ".zmetadata").unlink()
    kept = markers(out)
    assert sweep(str(LHS), "-o", str(out)) == 0
    printed = capsys.readouterr().out
    assert "2 of 4 batches computed in this process" in printed
    assert "2 were already done" in printed
    assert {k: v for k, v in markers(out).items() if k in kept} == kept
    assert_same_store(out, lhs_store)


def test_store_of_another_sweep_is_refused_then_overwritten(
    tmp_path: Path, lhs_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "taken.zarr"
    shutil.copytree(lhs_store, out)
    before = store_files(out)
    assert sweep(str(FAILING), "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert f"{out} holds another sweep's results" in err and "--overwrite" in err
    assert store_files(out) == before
    assert sweep(str(FAILING), "-o", str(out), "--overwrite") == 1
    assert xr.open_zarr(out).attrs["sweep_design"] == "list"


def test_a_folder_that_is_not_a_store_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert sweep(str(FAILING), "-o", str(out), "--overwrite") == 2
    assert "exists and is not a sweep store" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "keep me"


def test_a_second_client_on_the_same_store_is_refused(
    tmp_path: Path, lhs_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "busy.zarr"
    shutil.copytree(lhs_store, out)
    with locked_store(make_plan(read_sweep(LHS)), out) as resumed:
        assert resumed
        assert sweep(str(LHS), "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: another `sim sweep` is filling {out}"), err
    assert "  allowed: one `sim sweep` client per store at a time" in err
    assert "  fix: wait for it to finish" in err


def test_saltelli_and_morris_stores_carry_what_the_analysis_needs(tmp_path: Path) -> None:
    body = (
        f"scenario: {TINY}\nreplicas: 2\nparameters:\n"
        "  - {key: trade.elasticity.services, range: [3, 6]}\n"
        "  - {key: economy.growth.A, range: [0.0, 0.05]}\n"
    )
    salt, morris = tmp_path / "salt.yaml", tmp_path / "morris.yaml"
    salt.write_text(body + "design: {kind: saltelli, samples: 4, seed: 1}\n")
    morris.write_text(body + "design: {kind: morris, trajectories: 2, levels: 4}\n")
    assert sweep(str(salt), "-o", str(tmp_path / "s.zarr")) == 0
    assert sweep(str(morris), "-o", str(tmp_path / "m.zarr")) == 0
    s, m = xr.open_zarr(tmp_path / "s.zarr"), xr.open_zarr(tmp_path / "m.zarr")
    assert (s.attrs["sweep_design"], s.attrs["saltelli_n"], s.sizes["point"]) == ("saltelli", 4, 16)
    n = s.attrs["saltelli_n"]
    services = s["trade.elasticity.services"].values
    assert np.array_equal(services[2 * n : 3 * n], services[n : 2 * n])  # AB_0 takes B's column 0
    y = s.trade_turnover.isel(time=-1, pair=0).mean("replica").values
    result = stats.sobol_indices(
        func={"f_A": y[None, :n], "f_B": y[None, n : 2 * n],
              "f_AB": y[2 * n :].reshape(2, 1, n)}, n=n,
    )  # fmt: skip
    assert result.first_order.shape == (2,)
    assert (m.attrs["sweep_design"], m.attrs["morris_trajectories"], m.attrs["morris_levels"]) == (
        "morris", 2, 4,
    )  # fmt: skip
    assert m.sizes["point"] == 2 * 3
    steps = np.abs(np.diff(m.point_unit.values[:3], axis=0)) > 0
    assert (steps.sum(axis=1) == 1).all()


def test_progress_line_on_a_terminal_and_silence_elsewhere() -> None:
    import io

    from sim.sweep.execute import Progress
    from sim.sweep.store import BatchReport

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen, pipe = Terminal(), io.StringIO()
    for stream in (screen, pipe):
        bar = Progress(12, 3, stream=stream)
        bar.update(BatchReport(1, 3, 6, ((4, "boom"),)))
        bar.close()
    last = screen.getvalue().split("\r")[-1]
    assert "6/12 points, 1 failed" in last and "points/s" in last and "s left" in last
    assert "[############------------]" in last
    assert pipe.getvalue() == ""


def test_a_bug_in_one_point_is_recorded_with_its_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sim.sweep.runner as runner

    real = runner.run_point

    def flaky(job: runner.Job, tables: object, point: int, count: int | None = None) -> xr.Dataset:
        if point == 4:
            raise ZeroDivisionError("division by zero in a kernel")
        return real(job, tables, point, count)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "run_point", flaky)
    out = tmp_path / "bug.zarr"
    assert sweep(str(LHS), "-o", str(out)) == 1
    assert "point 4 (" in capsys.readouterr().out
    ds = xr.open_zarr(out)
    assert ds.point_failed.values.nonzero()[0].tolist() == [4]
    assert ds.point_error.values[4] == "ZeroDivisionError: division by zero in a kernel"
    assert np.isfinite(ds.trade.isel(point=5).values).all()

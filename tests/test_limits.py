"""Runs that cannot fit are refused before they allocate; progress reporting."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import sim.api as api
import sim.limits as limits
from sim.cli import main
from sim.progress import ProgressBar


def test_output_estimate_matches_the_dataset(tiny_path: Path) -> None:
    sc = api.load_scenario(tiny_path, replicas=6)
    model = api.prepare(sc)
    ds = api.simulate(model)
    actual = sum(v.nbytes for k, v in ds.data_vars.items() if k != "parameter_draws")
    estimate = limits.output_bytes(model, 6)
    assert 0.9 * actual <= estimate <= 1.3 * actual


def test_run_in_memory_too_large_for_memory_is_refused(
    tiny_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "available_memory", lambda: 10 * 2**20)  # 10 MiB
    with pytest.raises(api.ScenarioError) as err:
        api.run(tiny_path, replicas=100000)
    message = str(err.value)
    assert err.value.key == "monte_carlo.replicas"
    assert "monte_carlo.replicas = 100000" in message and "GiB" in message
    assert "raise monte_carlo.memory_limit" in message and "write the run to a file" in message


def test_run_whose_single_replica_exceeds_memory_is_refused(
    tiny_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Files are written batch by batch; a run is refused only when one replica cannot fit.
    monkeypatch.setattr(limits, "available_memory", lambda: 1024)
    monkeypatch.setattr(api, "available_memory", lambda: 1024)
    out = tmp_path / "big.nc"
    code = main(["run", str(tiny_path), "-o", str(out), "--replicas", "100000"])
    err = capsys.readouterr().err
    assert code == 2
    assert "monte_carlo.replicas = 1" in err and "of memory" in err
    assert "raise monte_carlo.memory_limit" in err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_file_run_larger_than_memory_streams_in_small_batches(
    tiny_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sc = api.load_scenario(tiny_path, replicas=5)
    model = api.prepare(sc)
    one = limits.PEAK_FACTOR * limits.output_bytes(model, 1) + limits.batch_bytes(model, 1)
    # Memory for the whole run in one batch is refused in memory, streamed to a file.
    monkeypatch.setattr(limits, "available_memory", lambda: int(one / 0.8) + 1)
    monkeypatch.setattr(api, "available_memory", lambda: int(one / 0.8) + 1)
    with pytest.raises(api.ScenarioError):
        api.simulate(model)
    ds, path = api.run_to_file(sc, tmp_path / "run.nc")
    assert ds.sizes["replica"] == 5 and path.exists()
    ds.close()


def test_output_too_large_for_disk_is_refused(
    tiny_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Usage:
        free = 1000

    monkeypatch.setattr(limits.shutil, "disk_usage", lambda _: Usage())
    sc = api.load_scenario(tiny_path, replicas=4)
    with pytest.raises(api.ScenarioError, match="free") as err:
        api.run_to_file(sc, tmp_path / "o.nc")
    assert err.value.key == "output.path"
    assert not (tmp_path / "o.nc").exists()


def test_progress_reports_every_replica(tiny_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    model = api.prepare(api.load_scenario(tiny_path, replicas=5))
    api.simulate(model, batch_size=2, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (5, 5)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_progress_bar_draws_only_on_a_terminal() -> None:
    quiet = io.StringIO()
    ProgressBar("replicas", stream=quiet)(5, 10)
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    bar = ProgressBar("replicas", stream=loud, enabled=True)
    bar(10, 10)
    assert "10/10 replicas" in loud.getvalue() and loud.getvalue().endswith("\n")


def test_nan_stops_the_run_naming_variable_time_replica_and_draws(
    tiny_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import numpy as np

    import sim.engine.simulate as simulate

    real = simulate.migration_flows

    def broken(*args: object) -> np.ndarray:
        flows = real(*args)  # type: ignore[arg-type]
        if flows.shape[0] > 1:
            flows[1, 1, 0] = np.nan  # replica 1, B -> A
        return flows

    monkeypatch.setattr(simulate, "migration_flows", broken)
    out = tmp_path / "o.nc"
    assert main(["run", str(tiny_path), "-o", str(out), "--replicas", "3"]) == 2
    err = capsys.readouterr().err
    assert "migration became nan in the period starting 2020-01-01" in err
    assert "replica 1, origin B, destination A" in err
    assert "trade.elasticity.goods = " in err  # the replica's draws are shown
    assert "Traceback" not in err and not out.exists()


def test_zarr_streams_in_batches_sized_from_memory(
    tiny_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    import xarray as xr

    sc = api.load_scenario(tiny_path, replicas=7)
    whole = api.simulate(api.prepare(sc))
    model = api.prepare(sc)
    one = limits.PEAK_FACTOR * limits.output_bytes(model, 2) + limits.batch_bytes(model, 2)
    # Memory for about two replicas at a time: the store is written in small batches.
    monkeypatch.setattr(api, "available_memory", lambda: int(one / 0.8) + 1)
    assert api.fit_batch_size(model, 1000) == 2
    seen: list[int] = []
    _, path = api.run_to_file(sc, tmp_path / "run.zarr", progress=lambda d, t: seen.append(d))
    assert seen[-1] == 7
    back = xr.open_zarr(path)
    assert back.attrs["replicas"] == 7 and back.sizes["replica"] == 7
    np.testing.assert_array_equal(back.replica.values, np.arange(7))
    for name in ("trade", "jobs", "capital_flow_annual", "project_stage"):
        np.testing.assert_allclose(back[name].values, whole[name].values, rtol=1e-10, atol=1e-12)
    assert back.trade.encoding["chunks"][0] == 2

"""sim.threads: the engine runs its batched algebra with one BLAS thread unless told.

Behaviour only (no timing: docs/performance.md measures it): the default, the override
by SIM_BLAS_THREADS and --blas-threads, the refusal of a bad value, and that the limit
holds inside a simulation and is lifted after it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from threadpoolctl import threadpool_info

import sim.api as api
import sim.engine.simulate as simulate_module
from sim.threads import ENV, ThreadsError, blas_threads, limit_blas

TINY = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"


def blas_counts() -> list[int]:
    return [int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]


def test_the_default_is_one_thread_and_the_environment_overrides_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert blas_threads() == 1
    monkeypatch.setenv(ENV, "3")
    assert blas_threads() == 3
    for bad in ("0", "-2", "two"):
        monkeypatch.setenv(ENV, bad)
        with pytest.raises(ThreadsError, match="not a number of threads") as err:
            blas_threads()
        assert "allowed: a whole number >= 1" in str(err.value)


def test_the_limit_holds_while_simulating_and_is_lifted_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not blas_counts():
        pytest.skip("no BLAS library that threadpoolctl can see")
    monkeypatch.delenv(ENV, raising=False)
    before = blas_counts()
    seen: list[list[int]] = []
    original = simulate_module.BatchSimulation.step

    def spy(self: object, k: int) -> None:
        seen.append(blas_counts())
        original(self, k)  # type: ignore[arg-type]

    monkeypatch.setattr(simulate_module.BatchSimulation, "step", spy)
    api.run(str(TINY), replicas=2)
    assert seen and all(counts == [1] * len(counts) for counts in seen)
    assert blas_counts() == before
    with limit_blas(2) as count:
        assert count == 2 and all(c <= 2 for c in blas_counts())


def test_the_command_line_sets_the_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.cli import main

    monkeypatch.setenv(ENV, "1")  # restored after the test: main() sets it for the process
    assert main(["run", str(TINY), "--replicas", "1", "--blas-threads", "2", "-q",
                 "-o", str(tmp_path / "run.nc")]) == 0  # fmt: skip
    import os

    assert os.environ[ENV] == "2"
    capsys.readouterr()
    assert main(["run", str(TINY), "--blas-threads", "0", "-o", str(tmp_path / "x.nc")]) == 2
    assert not (tmp_path / "x.nc").exists()
    # The option is named, not the environment variable it sets (regression).
    assert "error: --blas-threads 0 is not a number of threads" in capsys.readouterr().err

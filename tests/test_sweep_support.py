"""Helpers shared by the sweep tests (no tests here): sweep files, store comparison, the CLI.

Stores are compared file by file, byte for byte: the Zarr arrays, their
metadata, the consolidated metadata and the batch markers. Only what a backend
adds on purpose is left out (SLURM job logs) along with the client's lock file.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SWEEPS = Path(__file__).parent / "data" / "sweep"
TINY = Path(__file__).parent / "data" / "tiny" / "tiny.yaml"
GRID = SWEEPS / "tiny_grid.yaml"
#: Paths inside a store that are not results.
NOT_RESULTS = (".sweep/slurm/", ".sweep/lock")


def store_files(store: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file of a store that holds results or metadata."""
    out = {}
    for path in sorted(store.rglob("*")):
        rel = path.relative_to(store).as_posix()
        if path.is_file() and not rel.startswith(NOT_RESULTS):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def assert_same_store(got: Path, want: Path) -> None:
    """Every file of the two stores is byte for byte the same."""
    a, b = store_files(got), store_files(want)
    assert sorted(a) == sorted(b), sorted(set(a) ^ set(b))[:10]
    differ = [k for k in a if a[k] != b[k]]
    assert not differ, f"{len(differ)} files differ, e.g. {differ[:5]}"
    assert any(k.endswith(".zmetadata") for k in a) and len(a) > 50


def markers(store: Path) -> dict[str, tuple[int, int]]:
    """Batch marker -> (inode, mtime in ns): a rewritten marker changes both."""
    folder = store / ".sweep" / "done"
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.json")}


def sweep_command(*args: str) -> list[str]:
    """``sim sweep ARGS`` in a fresh interpreter that imports this checkout's sim."""
    return [sys.executable, "-m", "sim.cli", "sweep", *args]


def sweep_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def start_sweep(*args: str, **env: str) -> subprocess.Popen[str]:
    """Start ``sim sweep`` in its own session, so the test can kill it and what it started."""
    return subprocess.Popen(
        sweep_command(*args), cwd=REPO, env=sweep_env(**env), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def run_sweep_cli(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        sweep_command(*args), cwd=REPO, env=sweep_env(**env), capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


def wait_for_markers(store: Path, count: int, proc: subprocess.Popen[str], timeout: float) -> int:
    """Wait until ``count`` batches of ``store`` are done; return how many are."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = len(markers(store)) if (store / ".sweep" / "done").is_dir() else 0
        if done >= count:
            return done
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the sweep ended early ({proc.returncode}):\n{out}\n{err}")
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} batches done after {timeout} s")


def session_processes(session: int) -> list[int]:
    """Live processes of a session (what a killed sweep left behind)."""
    import psutil  # type: ignore[import-untyped]

    out = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getsid(proc.pid) == session and proc.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(proc.pid)
        except (ProcessLookupError, PermissionError):
            continue
    return out


def wait_session_gone(session: int, timeout: float = 20) -> None:
    """Wait for every process of a killed sweep to end (Dask workers exit with their client)."""
    deadline = time.monotonic() + timeout
    while session_processes(session) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = session_processes(session)
    for pid in left:  # only processes this test started, in the session it created
        os.kill(pid, 9)
    assert not left, f"processes {left} outlived their killed client"

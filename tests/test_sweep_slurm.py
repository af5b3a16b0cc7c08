"""A sweep on a real single-node SLURM cluster that the fixture starts and stops.

Needs Debian's slurm-wlm and munge (``bash .ci/setup_slurm.sh`` installs them)
and root, to start ``munged``, ``slurmctld`` and ``slurmd``; the test is
skipped with the reason otherwise. Settings known to work on a 2-core machine:
proctrack/linuxproc, task/none, select/cons_tres with CR_Core_Memory, the node
named by ``hostname -s`` with CPUs=2, and the Dask scheduler on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.cli import main
from tests.test_sweep_support import SWEEPS, assert_same_store, run_sweep_cli

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def slurm_conf(folder: Path, host: str) -> str:
    return f"""\
ClusterName=simtest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={folder}/munge.socket
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
InactiveLimit=0
MinJobAge=30
KillWait=5
Waittime=0
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 RealMemory=3000 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A one-node SLURM cluster on this machine; yields the environment that reaches it."""
    missing = [name for name in DAEMONS if shutil.which(name) is None]
    # CI installs SLURM (.ci/run calls .ci/setup_slurm.sh) and must run this test, not skip it.
    give_up = pytest.fail if os.environ.get("CI") == "true" else pytest.skip
    if missing:
        give_up(
            f"SLURM is not installed ({', '.join(missing)} not found); "
            "`bash .ci/setup_slurm.sh` installs slurm-wlm and munge"
        )
    if os.geteuid() != 0:
        give_up("starting slurmd and munged needs root")
    folder = tmp_path_factory.mktemp("slurm")
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    host = socket.gethostname().split(".")[0]
    conf = folder / "slurm.conf"
    conf.write_text(slurm_conf(folder, host), encoding="utf-8")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    key = folder / "munge.key"
    subprocess.run(["mungekey", "--create", f"--keyfile={key}", "--force"], check=True)
    key.chmod(0o600)
    # munged forks into the background and writes its pid file; --force accepts /tmp's modes.
    subprocess.run(
        ["munged", "--force", f"--key-file={key}", f"--socket={folder}/munge.socket",
         f"--pid-file={folder}/munged.pid", f"--log-file={folder}/munged.log",
         f"--seed-file={folder}/munged.seed"],
        check=True,
    )  # fmt: skip
    daemons: list[subprocess.Popen[bytes]] = []
    try:
        for command in (
            ["slurmctld", "-D", "-i", "-f", str(conf)],
            ["slurmd", "-D", "-f", str(conf)],
        ):
            log = (folder / f"{command[0]}.out").open("wb")
            daemons.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True))  # fmt: skip
            time.sleep(0.5)
        deadline = time.monotonic() + 30
        state = ""
        while time.monotonic() < deadline:
            probe = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True,
                                   text=True, check=False)  # fmt: skip
            state = probe.stdout.strip()
            if state == "idle":
                break
            time.sleep(0.3)
        else:
            logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in folder.glob("*.log"))
            pytest.fail(f"the SLURM node did not come up (state {state!r}):\n{logs}")
        yield env
    finally:
        subprocess.run(["scancel", "--full", "--user", "root"], env=env, check=False)
        for proc in reversed(daemons):
            stop(proc)
        pid_file = folder / "munged.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


def test_sweep_on_slurm_matches_the_in_process_store(slurm: dict[str, str], tmp_path: Path) -> None:
    sweep = SWEEPS / "tiny_lhs.yaml"
    reference = tmp_path / "reference.zarr"
    assert main(["sweep", str(sweep), "-o", str(reference), "--no-progress"]) == 0
    out = tmp_path / "slurm.zarr"
    started = time.monotonic()
    result = run_sweep_cli(
        str(sweep), "-o", str(out), "--slurm", "--jobs", "2", "--cores", "1",
        "--memory", "1GB", "--walltime", "00:10:00", "--scheduler-host", "127.0.0.1",
        "--no-progress", timeout=180, SLURM_CONF=slurm["SLURM_CONF"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "4 of 4 batches computed on SLURM (2 job(s) of 1 core(s))" in result.stdout
    assert time.monotonic() - started < 120
    # The batches ran in SLURM jobs: their workers registered with the client's scheduler.
    logs = [p.read_text(errors="replace") for p in (out / ".sweep" / "slurm").glob("*.err")]
    assert logs and any("Registered to:" in log for log in logs)
    assert_same_store(out, reference)
    queue = subprocess.run(["squeue", "-h"], env=slurm, capture_output=True, text=True, check=True)
    assert queue.stdout.strip() == "", "the client left SLURM jobs behind"

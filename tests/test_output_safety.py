"""Outputs that must not be written, and command-line arguments that must be refused (issue 13).

Every writer (``sim run``, ``sim calibrate``, ``sim compare -o``, ``sim report``,
``sim sensitivity``) goes through :mod:`sim.results.guard` before it writes:
an output is never a file the command reads (however it is spelt), replaces
only its own kind of output, and goes in a writable folder; an ``output.path``
from a scenario stays in the scenario's folder tree or ``outputs/``. Data
files are read only from the scenario's tree and ``--data-root`` folders, and
an error quotes a data file only when it is a table, and only 40 characters.
Command-line values (``--seed``, ``--replicas``, ``--batch-size``,
``--confidence``, ``--resamples``, ``--at``) get the same validation as values
in a file. Every refusal: a three-part message (what, allowed, fix), exit
status 2, no traceback, nothing written.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import xarray as xr

from sim import api
from sim.cli import main
from sim.errors import ScenarioError
from tests.reliability_record import record

REPO = Path(__file__).resolve().parents[1]
TINY_DIR = REPO / "tests" / "data" / "tiny"
AREA = "outputs, writers and command-line arguments"


# ---------------------------------------------------------------- helpers


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def assert_refused(code: int, err: str, *needles: str) -> None:
    """Exit 2, a three-part message (what, allowed, fix) containing ``needles``, no traceback."""
    assert code == 2, err
    assert err.startswith("error: "), err
    assert "\n  allowed: " in err and "\n  fix: " in err, err
    assert "Traceback" not in err, err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err}"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256 (what must survive a refusal)."""
    return {
        str(p.relative_to(folder)): digest(p) if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


def tiny_copy(tmp_path: Path, name: str = "tiny") -> Path:
    target = tmp_path / name
    shutil.copytree(TINY_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("runs")
    sc = api.load_scenario(TINY_DIR / "tiny.yaml", replicas=4)
    _, base = api.run_to_file(sc, folder / "base.nc")
    _, variant = api.run_to_file(api.load_scenario(sc, seed=7), folder / "variant.nc")
    return base, variant


@pytest.fixture(scope="module")
def saltelli_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.test_analysis_sensitivity import ishigami, saltelli_points, store

    x = saltelli_points(64)
    path = tmp_path_factory.mktemp("sweep") / "saltelli.zarr"
    return store(x, ishigami(x), {"sweep_design": "saltelli", "saltelli_n": 64}, path)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[list[str]]:
    """Make ``folder`` read-only for a ``sim`` command; yield the argv prefix that runs it.

    As another user, chmod is enough and the command runs in-process (the
    prefix is empty). As root, permissions do not stop writes, so the command
    runs in a user and mount namespace where ``folder`` is bind-mounted
    read-only (``unshare -rm``); skipped where the kernel does not allow that.
    """
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield []
        finally:
            folder.chmod(stat.S_IMODE(mode))
        return
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to make a folder read-only for root")
    mount = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1"'
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", mount, "sh", str(folder)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a read-only folder here: {probe.stderr.strip()}")
    yield ["unshare", "-rm", "sh", "-c", mount + ' && shift && exec "$@"', "sh", str(folder)]


def run_maybe_in_namespace(prefix: list[str], argv: list[str]) -> tuple[int, str]:
    if not prefix:
        code, _, err = run_cli(argv)
        return code, err
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "sim.cli", *argv],
        capture_output=True, text=True, timeout=300, check=False, cwd=REPO,
    )  # fmt: skip
    return done.returncode, done.stderr


# ---------------------------------------------------------------- 1. an output is never an input


@pytest.mark.parametrize(
    "spelling", ["same path", "./relative", "symlink", "hard link", "a base it extends",
                 "trade data file", "coefficients data file", "output.path in the scenario"],
)  # fmt: skip
def test_run_never_writes_over_a_file_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    """Regression: `sim run -o X` where X was the run's own scenario file, a base it extends
    or one of its data files overwrote the input with NetCDF (exit 0)."""
    folder = tiny_copy(tmp_path)
    variant = folder / "variant.yaml"
    variant.write_text("extends: tiny.yaml\nmonte_carlo: {replicas: 2}\n", encoding="utf-8")
    monkeypatch.chdir(folder)
    targets = {
        "same path": (str(variant), variant, "is the scenario file"),
        "./relative": ("./variant.yaml", variant, "is the scenario file"),
        "a base it extends": (str(folder / "tiny.yaml"), folder / "tiny.yaml",
                              "is a scenario file it extends"),
        "trade data file": ("trade.csv", folder / "trade.csv",
                            "is the data file named by trade.baseline.file"),
        "coefficients data file": ("../tiny/coefficients.csv", folder / "coefficients.csv",
                                   "named by input_output.coefficients.file"),
    }  # fmt: skip
    argv = ["run", str(variant)]
    if spelling == "symlink":
        (folder / "link.nc").symlink_to(folder / "trade.csv")
        target, victim, needle = "link.nc", folder / "trade.csv", "is the data file"
    elif spelling == "hard link":
        os.link(folder / "coefficients.csv", folder / "hard.nc")
        target, victim, needle = "hard.nc", folder / "coefficients.csv", "is the data file"
    elif spelling == "output.path in the scenario":
        variant.write_text(
            "extends: tiny.yaml\nmonte_carlo: {replicas: 2}\noutput: {path: variant.yaml}\n",
            encoding="utf-8",
        )
        target, victim, needle = "", variant, "is the scenario file"
    else:
        target, victim, needle = targets[spelling]
    if target:
        argv += ["-o", target]
    before = tree(folder)
    code, _, err = run_cli(argv)
    assert_refused(code, err, needle, "which this command reads")
    assert tree(folder) == before, f"{victim} or its folder changed"
    record(AREA, f"sim run -o an input: {spelling}", "refused, exit 2; the input unchanged")


def test_calibrate_never_writes_over_its_scenario(tmp_path: Path) -> None:
    """Regression: `sim calibrate S.yaml -o S.yaml` overwrote the scenario with a variant that
    extends itself."""
    from tests.test_calibration import tiny_with_calibration

    folder = tiny_copy(tmp_path)
    scenario = tiny_with_calibration(folder, truth=-0.05)
    before = tree(folder)
    for target in (scenario, folder / "trade.csv", Path(os.path.relpath(scenario))):
        code, _, err = run_cli(["calibrate", str(scenario), "-o", str(target)])
        assert_refused(code, err, "which this command reads")
        assert tree(folder) == before
    record(AREA, "sim calibrate S.yaml -o S.yaml (or one of its data files)",
           "refused before the fit, exit 2; nothing written")  # fmt: skip


def test_compare_never_writes_over_a_run_it_compares(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    """Regression: `sim compare a.nc b.nc -o a.nc` overwrote the base run."""
    base, variant = two_runs
    before = digest(base), digest(variant)
    link = tmp_path / "alias.nc"
    link.symlink_to(variant)
    for target, needle in ((base, "is the base run"), (link, "is the variant run")):
        code, _, err = run_cli(["compare", str(base), str(variant), "-o", str(target)])
        assert_refused(code, err, needle)
    assert (digest(base), digest(variant)) == before
    record(AREA, "sim compare a.nc b.nc -o a.nc (or a symlink to b.nc)",
           "refused, exit 2; both runs unchanged")  # fmt: skip


def test_report_and_sensitivity_never_write_into_their_input(
    two_runs: tuple[Path, Path], saltelli_store: Path
) -> None:
    """Regression: `sim report RUN -o RUN` and `sim sensitivity STORE -o STORE` wrote into (or
    over) their own input."""
    base, _ = two_runs
    before = digest(base)
    code, _, err = run_cli(["report", str(base), "-o", str(base)])
    assert_refused(code, err, "is the run")
    assert digest(base) == before
    stored = tree(saltelli_store)
    for out in (saltelli_store, saltelli_store / "sensitivity"):
        code, _, err = run_cli(["sensitivity", str(saltelli_store), "-o", str(out)])
        assert_refused(code, err, "the sweep store")
        assert tree(saltelli_store) == stored
    record(AREA, "sim report RUN -o RUN; sim sensitivity STORE -o STORE (or inside it)",
           "refused, exit 2; the input unchanged")  # fmt: skip


# ---------------------------------------------------------------- 2. only its own kind replaced


def test_run_does_not_replace_a_folder_that_is_not_a_zarr_store(tmp_path: Path) -> None:
    """Regression: `sim run -o x.zarr` where x.zarr was a folder of other files deleted the
    folder and everything in it."""
    target = tmp_path / "thesis.zarr"
    (target / "chapters").mkdir(parents=True)
    (target / "chapters" / "one.tex").write_text("\\chapter{One}\n", encoding="utf-8")
    (target / "notes.txt").write_text("keep me\n", encoding="utf-8")
    before = tree(target)
    code, _, err = run_cli(["run", str(TINY_DIR / "tiny.yaml"), "-o", str(target),
                            "--replicas", "2"])  # fmt: skip
    assert_refused(code, err, "a folder that is not a Zarr store", "chapters, notes.txt")
    assert tree(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.zarr"]
    record(AREA, "sim run -o x.zarr, an existing folder of other files",
           "refused, exit 2; the folder and its files unchanged")  # fmt: skip


def test_run_does_not_replace_a_sweep_store(tmp_path: Path) -> None:
    """Regression: `sim run -o S.zarr` where S.zarr was a finished sweep store replaced the
    sweep by a single run."""
    from sim.sweep.store import is_sweep_store

    target = tmp_path / "sweep.zarr"
    xr.Dataset({"x": ("point", [1.0, 2.0])}, attrs={"sweep_sha256": "0" * 64}).to_zarr(
        target, zarr_format=2, consolidated=True
    )
    (target / ".sweep" / "done").mkdir(parents=True)
    (target / ".sweep" / "done" / "000000.json").write_text("{}", encoding="utf-8")
    assert is_sweep_store(target)  # marked as sim/sweep/store.py marks its stores
    before = tree(target)
    code, _, err = run_cli(["run", str(TINY_DIR / "tiny.yaml"), "-o", str(target),
                            "--replicas", "2"])  # fmt: skip
    assert_refused(code, err, "holds a sweep store", "sim sweep --overwrite")
    assert tree(target) == before
    record(AREA, "sim run -o a finished sweep store", "refused, exit 2; the store unchanged")


def _make_node(path: Path, kind: str) -> socket.socket | None:
    if kind == "character device":
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a copy of /dev/null
        except PermissionError:
            pytest.skip("creating a device node needs root (CAP_MKNOD)")
    elif kind == "block device":
        try:
            os.mknod(path, stat.S_IFBLK | 0o600, os.makedev(7, 0))  # loop0, never opened
        except PermissionError:
            pytest.skip("creating a device node needs root (CAP_MKNOD)")
    elif kind == "named pipe":
        os.mkfifo(path)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(path.name)  # relative: the full path may exceed the 108-byte limit
        return server
    elif kind == "folder":
        path.mkdir()
    elif kind == "regular file as a Zarr store":
        path.write_text("not a store\n", encoding="utf-8")
    return None


@pytest.mark.parametrize(
    "kind",
    ["character device", "block device", "named pipe", "socket", "folder",
     "regular file as a Zarr store"],
)  # fmt: skip
def test_run_refuses_anything_but_a_regular_file_or_a_zarr_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Regression: as root, `sim run -o` a character device (a copy of /dev/null) or a named
    pipe replaced the node with a regular file."""
    monkeypatch.chdir(tmp_path)
    name = "out.zarr" if kind == "regular file as a Zarr store" else "out.nc"
    target = tmp_path / name
    server = _make_node(target, kind)
    try:
        mode = os.lstat(target).st_mode
        code, _, err = run_cli(["run", str(TINY_DIR / "tiny.yaml"), "-o", name,
                                "--replicas", "2"])  # fmt: skip
        assert_refused(code, err, "will not write")
        assert os.lstat(target).st_mode == mode, "the node was replaced"
        assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    finally:
        if server is not None:
            server.close()
    record(AREA, f"sim run -o a {kind}", "refused, exit 2; the node unchanged")


def test_other_writers_replace_their_own_outputs_only_with_overwrite(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    """`sim compare -o` and `sim report` replace an earlier output only with --overwrite;
    `sim run` replaces its own earlier output by default (documented in README.md)."""
    base, variant = two_runs
    out = tmp_path / "cmp.nc"
    argv = ["-q", "compare", str(base), str(variant), "-o", str(out)]
    assert run_cli(argv)[0] == 0
    first = digest(out)
    code, _, err = run_cli(argv)
    assert_refused(code, err, f"the output {out} exists", "--overwrite")
    assert digest(out) == first
    assert run_cli([*argv, "--overwrite"])[0] == 0
    folder = tmp_path / "report"
    assert run_cli(["-q", "report", str(base), "-o", str(folder)])[0] == 0
    page = digest(folder / "report.html")
    code, _, err = run_cli(["-q", "report", str(base), "-o", str(folder)])
    assert_refused(code, err, "report.html exists", "--overwrite")
    assert digest(folder / "report.html") == page
    assert run_cli(["-q", "report", str(base), "-o", str(folder), "--overwrite"])[0] == 0
    run = tmp_path / "run.nc"
    for _ in range(2):  # the default of sim run: its own earlier output is replaced
        code, _, err = run_cli(["-q", "run", str(TINY_DIR / "tiny.yaml"), "-o", str(run),
                                "--replicas", "2"])  # fmt: skip
        assert code == 0, err
    record(AREA, "sim compare -o / sim report onto their own earlier output",
           "refused without --overwrite, replaced with it; sim run replaces by default")  # fmt: skip


# ---------------------------------------------------------------- 3. security


def test_output_path_from_a_scenario_stays_in_its_tree_or_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a scenario from someone else could write anywhere: `output.path:
    ../home/.bashrc` replaced that file with NetCDF on a plain `sim run a.yaml`, and an
    absolute output.path naming an existing store elsewhere replaced it."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    folder = tiny_copy(work, "received")
    home = tmp_path / "home"
    home.mkdir()
    bashrc = home / ".bashrc"
    bashrc.write_text("export PATH=$HOME/bin:$PATH\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere" / "old.zarr"
    api.run_to_file(api.load_scenario(TINY_DIR / "tiny.yaml", replicas=2), elsewhere)
    stored = tree(elsewhere)
    scenario = folder / "tiny.yaml"
    for path in ("../home/.bashrc", str(elsewhere)):
        edit(scenario, "monte_carlo:\n", f"output: {{path: '{path}'}}\nmonte_carlo:\n")
        code, _, err = run_cli(["run", str(scenario), "--replicas", "2"])
        assert_refused(code, err, f"{scenario}:", "output.path would write", "-o")
        edit(scenario, f"output: {{path: '{path}'}}\nmonte_carlo:\n", "monte_carlo:\n")
    assert bashrc.read_text(encoding="utf-8") == "export PATH=$HOME/bin:$PATH\n"
    assert tree(elsewhere) == stored
    # Allowed: under outputs/ of the current directory, inside the scenario's tree, or -o.
    for path in ("outputs/{name}.nc", str(folder / "results" / "run.nc")):
        edit(scenario, "monte_carlo:\n", f"output: {{path: '{path}'}}\nmonte_carlo:\n")
        code, _, err = run_cli(["-q", "run", str(scenario), "--replicas", "2"])
        assert code == 0, err
        edit(scenario, f"output: {{path: '{path}'}}\nmonte_carlo:\n", "monte_carlo:\n")
    assert (work / "outputs" / "tiny.nc").is_file()
    assert (folder / "results" / "run.nc").is_file()
    code, _, err = run_cli(["-q", "run", str(scenario), "--replicas", "2",
                            "-o", str(home / "chosen.nc")])  # fmt: skip
    assert code == 0, err
    record(AREA, "output.path from a scenario outside its tree and outputs/ (../home/.bashrc, "
           "an absolute store elsewhere)", "ScenarioError at output.path, exit 2; nothing "
           "replaced; outputs/, the tree and -o allowed")  # fmt: skip


def test_an_extends_base_elsewhere_does_not_open_its_folder(tmp_path: Path) -> None:
    """Regression: every folder of an `extends:` base became an allowed data root, so a
    scenario could read any file next to any base it named."""
    secrets = tmp_path / "secrets"
    shutil.copytree(TINY_DIR, secrets)  # a folder holding a YAML file and private tables
    mine = tmp_path / "mine"
    mine.mkdir()
    variant = mine / "v.yaml"
    variant.write_text(
        f"extends: {secrets / 'tiny.yaml'}\ntrade:\n  baseline: {{file: ../secrets/trade.csv}}\n",
        encoding="utf-8",
    )
    code, _, err = run_cli(["validate", str(variant)])
    assert_refused(code, err, f"{variant}:3: data file lies outside the scenario's folder tree")
    # The base's own data paths are refused too, with the folder to allow named.
    variant.write_text(f"extends: {secrets / 'tiny.yaml'}\n", encoding="utf-8")
    code, _, err = run_cli(["validate", str(variant)])
    assert_refused(code, err, f"allow it with --data-root {secrets.resolve()}")
    assert run_cli(["validate", str(variant), "--data-root", str(secrets)])[0] == 0
    record(AREA, "variant reads files next to an extends base elsewhere",
           "refused unless that folder is given with --data-root")  # fmt: skip


@pytest.mark.parametrize("name", ["secret.env", "secret.csv", "id_rsa"])
def test_a_data_error_does_not_echo_a_file_that_is_not_a_table(tmp_path: Path, name: str) -> None:
    """Regression: an error on a data file printed the offending line's content, so a path
    pointed at a secret file echoed its first line (`value: 'TOKEN=...'`)."""
    folder = tiny_copy(tmp_path)
    secret = folder / name
    secret.write_text("TOKEN=ghp_0123456789abcdef\npassword=hunter2\n", encoding="utf-8")
    edit(folder / "tiny.yaml", "{file: trade.csv}", f"{{file: {name}}}")
    code, _, err = run_cli(["validate", str(folder / "tiny.yaml")])
    assert_refused(code, err, f"{secret}:1: missing column(s) origin, destination")
    assert "TOKEN" not in err and "ghp_" not in err and "hunter2" not in err, err
    record(AREA, f"data error on a file that is not a table ({name})",
           "located error; no content of the file quoted")  # fmt: skip


def test_values_quoted_from_a_table_are_cut_short(tmp_path: Path) -> None:
    """Regression: a value quoted from a data table was printed whole (up to 80 characters in
    the value line and without limit in the message)."""
    folder = tiny_copy(tmp_path)
    long_id = "Q" * 300
    edit(folder / "trade.csv", "B,A,goods,50", f"{long_id},A,goods,50")
    code, _, err = run_cli(["validate", str(folder / "tiny.yaml")])
    assert code == 2 and "Traceback" not in err, err
    assert "unknown region 'QQQ" in err, err
    assert "Q" * 41 not in err, err
    record(AREA, "a 300-character cell in a table", "quoted, cut to 40 characters")


# ---------------------------------------------------------------- 4. read-only folders, files


def test_calibrate_into_a_read_only_folder(tmp_path: Path) -> None:
    """Regression: `sim calibrate -o` into a read-only folder fitted, then stopped with a
    PermissionError traceback (exit 1)."""
    from tests.test_calibration import tiny_with_calibration

    folder = tiny_copy(tmp_path)
    scenario = tiny_with_calibration(folder, truth=-0.05)
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked) as prefix:
        code, err = run_maybe_in_namespace(
            prefix, ["calibrate", str(scenario), "-o", str(locked / "fitted.yaml")]
        )
    assert_refused(code, err, f"cannot write {locked / 'fitted.yaml'}", "read-only")
    assert list(locked.iterdir()) == []
    record(AREA, "sim calibrate -o into a read-only folder",
           "refused before the fit, exit 2; nothing written")  # fmt: skip


def test_report_and_sensitivity_into_a_read_only_folder(
    two_runs: tuple[Path, Path], saltelli_store: Path, tmp_path: Path
) -> None:
    """Regression: `sim report -o` and `sim sensitivity -o` into a read-only folder stopped
    with a PermissionError traceback."""
    base, _ = two_runs
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked) as prefix:
        code, err = run_maybe_in_namespace(prefix, ["report", str(base), "-o", str(locked)])
        assert_refused(code, err, f"the folder {locked} is", "read-only")
        code, err = run_maybe_in_namespace(
            prefix, ["sensitivity", str(saltelli_store), "-o", str(locked / "sens")]
        )
        assert_refused(code, err, f"the folder {locked} is", "read-only")
    assert list(locked.iterdir()) == []
    record(AREA, "sim report -o / sim sensitivity -o into a read-only folder",
           "refused, exit 2; nothing written")  # fmt: skip


def test_report_and_sensitivity_onto_an_existing_file(
    two_runs: tuple[Path, Path], saltelli_store: Path, tmp_path: Path
) -> None:
    """Regression: `sim report -o FILE` and `sim sensitivity -o FILE` where FILE was an existing
    regular file stopped with a FileExistsError traceback."""
    base, _ = two_runs
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n", encoding="utf-8")
    for argv in (["report", str(base)], ["sensitivity", str(saltelli_store)]):
        code, _, err = run_cli([*argv, "-o", str(notes)])
        assert_refused(code, err, f"will not write into {notes}: it exists and is a regular file")
    assert notes.read_text(encoding="utf-8") == "my notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    record(AREA, "sim report -o / sim sensitivity -o an existing regular file",
           "refused, exit 2; the file unchanged")  # fmt: skip


def test_a_run_replaces_only_a_netcdf_file(tmp_path: Path) -> None:
    """Regression: "its own kind" of file was any regular file, so `sim run` and `sim
    counterfactual` (which replace their earlier output by default) turned a scenario, a
    table or notes named as the output into HDF5, including a path a received
    scenario's output.path named inside its own tree."""
    work = tiny_copy(tmp_path)
    scenario = work / "tiny.yaml"
    for name, text in (("notes.md", "# my notes\n"), ("keep.csv", "a,b\n1,2\n")):
        target = work / name
        target.write_text(text, encoding="utf-8")
        for command in ("run", "counterfactual"):
            code, _, err = run_cli(["-q", command, str(scenario), "--replicas", "2",
                                    "-o", str(target)])  # fmt: skip
            assert_refused(code, err, f"will not write the output {target}",
                           "is not a NetCDF file")  # fmt: skip
        assert target.read_text(encoding="utf-8") == text
    received = work / "received.yaml"
    received.write_text(scenario.read_text(encoding="utf-8")
                        + f"output:\n  path: {work / 'notes.md'}\n", encoding="utf-8")  # fmt: skip
    code, _, err = run_cli(["-q", "run", str(received), "--replicas", "2"])
    assert_refused(code, err, "is not a NetCDF file")
    assert (work / "notes.md").read_text(encoding="utf-8") == "# my notes\n"
    # Its own earlier output, or an empty file, is replaced as before.
    (work / "empty.nc").touch()
    for target in (work / "empty.nc", work / "cf.nc", work / "cf.nc"):
        code, _, err = run_cli(["-q", "counterfactual", str(scenario), "--replicas", "2",
                                "-o", str(target)])  # fmt: skip
        assert code == 0, err
    record(AREA, "sim run / sim counterfactual -o a scenario, table or notes (also through "
           "output.path)", "refused, exit 2: only an empty or NetCDF file is replaced")  # fmt: skip


def test_report_never_writes_through_a_link_nor_over_files_it_did_not_write(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    """Regression: `sim report` wrote its charts and page in place, through symlinks (a
    chart named like a link to the run turned the run into a PNG), and replaced files
    named like its charts without --overwrite."""
    run = tmp_path / "run.nc"
    shutil.copy(two_runs[0], run)
    kept = digest(run)
    folder = tmp_path / "rep"
    folder.mkdir()
    (folder / "jobs_by_kind.png").symlink_to(run)
    for extra in ([], ["--overwrite"]):
        code, _, err = run_cli(["-q", "report", str(run), "-o", str(folder), *extra])
        assert_refused(code, err, str(folder / "jobs_by_kind.png"))
        assert digest(run) == kept and sorted(p.name for p in folder.iterdir()) == [
            "jobs_by_kind.png"
        ]
    figures = tmp_path / "figures"
    figures.mkdir()
    mine = figures / "pipeline_by_stage.png"
    picture = b"\x89PNG\r\n\x1a\n my own figure"
    mine.write_bytes(picture)
    code, _, err = run_cli(["-q", "report", str(run), "-o", str(figures)])
    assert_refused(code, err, f"the output {mine} exists", "--overwrite")
    assert mine.read_bytes() == picture and not (figures / "report.html").exists()
    notes = figures / "pipeline_by_stage.png"
    notes.write_text("my notes, misnamed\n", encoding="utf-8")
    for extra in ([], ["--overwrite"]):
        code, _, err = run_cli(["-q", "report", str(run), "-o", str(figures), *extra])
        assert_refused(code, err, "is not a PNG file")
    assert notes.read_text(encoding="utf-8") == "my notes, misnamed\n"
    # A page named by a link: the link is replaced by the page, what it named is kept.
    page_folder = tmp_path / "rep2"
    page_folder.mkdir()
    document = tmp_path / "mydoc.html"
    document.write_text("<p>mine</p>\n", encoding="utf-8")
    (page_folder / "report.html").symlink_to(document)
    code, _, err = run_cli(["-q", "report", str(run), "-o", str(page_folder), "--overwrite"])
    assert code == 0, err
    assert document.read_text(encoding="utf-8") == "<p>mine</p>\n"
    assert not (page_folder / "report.html").is_symlink()
    assert digest(run) == kept
    record(AREA, "sim report into a folder holding a link to the run, or the user's files, "
           "named like its charts", "refused before any chart; a page link is replaced, "
           "not written through")  # fmt: skip


def test_sensitivity_never_writes_a_chart_through_a_link(
    saltelli_store: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "sens"
    folder.mkdir()
    keep = tmp_path / "keep_sweep.yaml"
    keep.write_text("sweep: mine\n", encoding="utf-8")
    (folder / "sensitivity_over_time.png").symlink_to(keep)
    code, _, err = run_cli(["sensitivity", str(saltelli_store), "-o", str(folder), "--overwrite"])
    assert_refused(code, err, "is not a PNG file")
    assert keep.read_text(encoding="utf-8") == "sweep: mine\n"
    record(AREA, "sim sensitivity --overwrite with a chart name linked to another file",
           "refused, exit 2; the file unchanged")  # fmt: skip


def test_export_replaces_only_its_own_table_and_only_with_overwrite(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    """Regression: `sim export` had no --overwrite and replaced any regular file (a
    scenario, a run) with its CSV, and `inspect --csv --overwrite` did too."""
    table = tmp_path / "table.csv"
    argv = ["-q", "export", str(two_runs[0]), "--var", "trade_turnover_annual", "-o", str(table)]
    assert run_cli(argv)[0] == 0
    first = table.read_text(encoding="utf-8")
    code, _, err = run_cli(argv)
    assert_refused(code, err, f"the output {table} exists", "--overwrite")
    assert run_cli([*argv, "--overwrite"])[0] == 0
    assert table.read_text(encoding="utf-8") == first
    work = tiny_copy(tmp_path)
    notes = tmp_path / "notes.csv"
    notes.write_text("my,notes\n", encoding="utf-8")
    run_copy = tmp_path / "run.nc"
    shutil.copy(two_runs[1], run_copy)
    for target in (notes, work / "tiny.yaml", run_copy):
        kept = digest(target)
        argv[-1] = str(target)
        code, _, err = run_cli([*argv, "--overwrite"])
        assert_refused(code, err, "is not a CSV table file")
        code, _, err = run_cli(["-q", "inspect", str(work / "tiny.yaml"), "--csv", str(target),
                                "--overwrite"])  # fmt: skip
        assert_refused(code, err)  # the scenario is also the command's input
        assert digest(target) == kept
    record(AREA, "sim export / sim inspect --csv (--overwrite) onto a scenario, a run or "
           "the user's own CSV", "refused, exit 2: only an earlier table is replaced, "
           "with --overwrite")  # fmt: skip


def test_validate_refuses_what_run_would_refuse_about_its_output(tmp_path: Path) -> None:
    """Regression: `sim validate` said "valid" for a scenario whose output.path `sim run`
    then refused (outside the scenario's tree, or naming the user's notes)."""
    work = tiny_copy(tmp_path)
    text = (work / "tiny.yaml").read_text(encoding="utf-8")
    for path, needle in ((tmp_path.parent / "elsewhere.nc", "outside the scenario's folder"),
                         (work / "notes.md", "is not a NetCDF file")):  # fmt: skip
        (work / "notes.md").write_text("# notes\n", encoding="utf-8")
        scenario = work / "v.yaml"
        scenario.write_text(text + f"output:\n  path: {path}\n", encoding="utf-8")
        code, _, err = run_cli(["validate", str(scenario)])
        assert code == 2 and needle in err, err
    record(AREA, "sim validate of a scenario whose output.path sim run refuses",
           "refused, exit 2, as sim run would")  # fmt: skip


def test_estimate_never_replaces_a_folder_holding_its_data(tmp_path: Path) -> None:
    """Regression: `sim estimate DATA -o FOLDER --overwrite` with DATA inside FOLDER
    replaced the folder, data included; a link as -o ended in a traceback."""
    folder = tmp_path / "est"
    folder.mkdir()
    data = folder / "fitted_trade.csv"
    shutil.copy(REPO / "tests" / "data" / "reference" / "gegravity_sample_2006.csv", data)
    kept = digest(data)
    argv = ["-q", "estimate", str(data), "--covariates", "lndist,contiguity", "--value",
            "trade", "-o", str(folder), "--overwrite"]  # fmt: skip
    code, _, err = run_cli(argv)
    assert_refused(code, err, "holding the trade data")
    assert digest(data) == kept
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    argv[-2] = str(tmp_path / "link")
    argv[2] = str(tmp_path / "data.csv")
    shutil.copy(data, argv[2])
    code, _, err = run_cli(argv)
    assert_refused(code, err, "is a symbolic link")
    record(AREA, "sim estimate --overwrite into the folder of its data, or into a link",
           "refused, exit 2; the data unchanged")  # fmt: skip


# ---------------------------------------------------------------- 5. sensitivity arguments


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--confidence", "2"], "the confidence level 2.0 is not a probability"),
        (["--confidence", "95"], "--confidence 0.95"),
        (["--confidence", "nan"], "is not a probability"),
        (["--resamples", "0"], "cannot draw 0 bootstrap resamples"),
        (["--resamples", "-5"], "cannot draw -5 bootstrap resamples"),
        (["--at", "notayear"], "--at 'notayear' is not a year"),
        (["--at", "../../x"], "is not a year"),
    ],
    ids=["confidence-2", "confidence-95", "confidence-nan", "resamples-0", "resamples-minus-5",
         "at-notayear", "at-path"],
)  # fmt: skip
def test_sensitivity_arguments_are_validated(
    saltelli_store: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    """Regression: `sim sensitivity --confidence 2`, `--resamples 0` or `-5`, `--at notayear`
    stopped with ValueError tracebacks from scipy or int()."""
    out = tmp_path / "sens"
    code, _, err = run_cli(["sensitivity", str(saltelli_store), "-o", str(out), *args])
    assert_refused(code, err, needle)
    assert not out.exists()
    record(AREA, f"sim sensitivity {' '.join(args)}", "refused with what is allowed, exit 2")


# ---------------------------------------------------------------- 6. command-line overrides


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--seed", str(2**64), "allowed: a whole number from 0 to 18446744073709551615"),
        ("--seed", str(10**30), "monte_carlo.seed = 1000000000000000000000000000000"),
        ("--seed", "-1", "monte_carlo.seed = -1"),
        ("--replicas", str(10**30), "allowed: a whole number from 1 to 10000000"),
        ("--batch-size", "0", "monte_carlo.batch_size = 0"),
        ("--batch-size", "-3", "monte_carlo.batch_size = -3"),
    ],
)  # fmt: skip
def test_command_line_overrides_get_the_schema_bounds(
    tmp_path: Path, option: str, value: str, needle: str
) -> None:
    """Regression: `--seed 18446744073709551616` (or 10**30) skipped the schema's bounds: the
    whole run was simulated, then writing the seed attribute failed with a TypeError traceback;
    `--batch-size 0` or `-3` was silently replaced."""
    target = tmp_path / "out.nc"
    code, _, err = run_cli(["run", str(TINY_DIR / "tiny.yaml"), "-o", str(target),
                            option, value])  # fmt: skip
    assert_refused(code, err, "command line: value out of range", needle)
    assert list(tmp_path.iterdir()) == []
    record(AREA, f"sim run {option} {value if len(value) < 12 else value[:8] + '...'}",
           "refused before the run with the schema's bounds, exit 2")  # fmt: skip


def test_api_overrides_are_validated_like_the_file() -> None:
    with pytest.raises(ScenarioError, match="value out of range") as info:
        api.load_scenario(TINY_DIR / "tiny.yaml", seed=2**64)
    assert info.value.key == "monte_carlo.seed"
    with pytest.raises(ScenarioError, match="expected a whole number"):
        api.load_scenario(TINY_DIR / "tiny.yaml", replicas=2.5)  # type: ignore[arg-type]
    sc = api.load_scenario(TINY_DIR / "tiny.yaml", replicas=3, seed=2**64 - 1)
    assert sc.data["monte_carlo"]["seed"] == 2**64 - 1
    assert json.dumps(sc.data["monte_carlo"]["replicas"]) == "3"

"""What a new user met beyond the scenario checks (issue 13, "Small things a new user hit"
and "Tracebacks and crashes"): documentation snippets that fail, chart text cut off and
Morris points hiding each other, and Ctrl-C during a Dask sweep printing pages of asyncio
tracebacks.

Every ```python block of README.md and docs/*.md runs here, in a folder holding the
outputs the documents' commands would have written (made small: few replicas, a sweep of
4 points), unless the line before the block says ``<!-- not run: REASON -->``; such a
block is reported as skipped with its reason.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sim.analysis import charts
from sim.cli import main
from tests.reliability_record import record

AREA = "documentation snippets, charts and Ctrl-C"
REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
_NOT_RUN = re.compile(r"<!--\s*not run:\s*(.*?)\s*-->\s*$")
#: Changes made to the snippets so that they run quickly here (same code, fewer replicas).
QUICKER = {"replicas=500": "replicas=8"}


def python_blocks() -> list[tuple[str, int, str, str]]:
    """(document, line, code, reason not to run it or "") of every ```python block."""
    blocks = []
    for doc in DOCUMENTS:
        text = doc.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            skip = _NOT_RUN.search(before)
            name = str(doc.relative_to(REPO))
            blocks.append((name, line, match.group(1), skip.group(1) if skip else ""))
    return blocks


BLOCKS = python_blocks()


def cli(argv: list[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    assert code == 0, err.getvalue()


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder with the outputs the documents' commands write, made small."""
    work = tmp_path_factory.mktemp("docs")
    (work / "scenarios").symlink_to(REPO / "scenarios")
    out = work / "outputs"
    out.mkdir()
    for scenario, name in (
        ("uz_kz_khiva_2024.yaml", "baseline.nc"),
        ("uz_kz_industrial_programme.yaml", "programme.nc"),
    ):
        cli(["run", str(REPO / "scenarios" / scenario), "--replicas", "8", "-o", str(out / name),
             "-q"])  # fmt: skip
    sweep = work / "khiva_lhs_small.yaml"
    sweep.write_text(
        f"scenario: {REPO / 'scenarios' / 'uz_kz_khiva_2024.yaml'}\n"
        "design: {kind: lhs, samples: 4, seed: 1}\n"
        "parameters:\n"
        "  - key: trade.elasticity.machinery.mean\n"
        "    range: [3.0, 8.0]\n"
        "replicas: 2\n"
        "batch: {points: 4}\n",
        encoding="utf-8",
    )
    cli(["sweep", str(sweep), "-o", str(out / "khiva_lhs.zarr"), "--no-progress", "-q"])
    return work


@pytest.mark.parametrize(
    ("document", "line", "code", "skip"), BLOCKS, ids=[f"{b[0]}:{b[1]}" for b in BLOCKS]
)
def test_documentation_snippet_runs(
    outputs: Path, monkeypatch: pytest.MonkeyPatch, document: str, line: int, code: str, skip: str
) -> None:
    """Regression: docs/sweeps.md's `turnover.groupby(ds[...] > 5.5).mean()` on
    `xr.open_zarr` failed with current xarray ("Please pass `labels` to UniqueGrouper when
    grouping by a chunked array"), and no test ran the documents' code."""
    if skip:
        pytest.skip(f"{document}:{line} is marked not run: {skip}")
    for old, new in QUICKER.items():
        code = code.replace(old, new)
    monkeypatch.chdir(outputs)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, f"{document}:{line}", "exec"), {"__name__": "__doc_snippet__"})
    record(AREA, f"```python block of {document} at line {line}", "runs")


def test_the_documents_have_python_blocks() -> None:
    names = {b[0] for b in BLOCKS}
    assert {"README.md", "docs/sweeps.md", "docs/tutorial.md"} <= names, names


# ---------------------------------------------------------------- charts


def sobol_result(n: int = 4) -> xr.Dataset:
    names = [f"trade_costs.trend[0].rate.{2017 + i}" for i in range(n)]
    data = {k: ("parameter", np.linspace(0.1, 0.5, n)) for k in ("S1", "ST")}
    for k in ("S1", "ST"):
        data[f"{k}_low"] = ("parameter", np.linspace(0.05, 0.4, n))
        data[f"{k}_high"] = ("parameter", np.linspace(0.2, 0.7, n))
    return xr.Dataset(data, coords={"parameter": names}, attrs={"confidence": 0.95, "units": "1"})


def morris_result() -> xr.Dataset:
    names = [f"investment.pipelines.slow.odds_financing.{i}" for i in range(4)]
    mu, sigma = np.array([0.0, 0.0, 5000.0, 12000.0]), np.array([0.0, 0.0, 3000.0, 15000.0])
    return xr.Dataset(
        {"mu_star": ("parameter", mu), "sigma": ("parameter", sigma),
         "mu_star_low": ("parameter", 0.8 * mu), "mu_star_high": ("parameter", 1.2 * mu)},
        coords={"parameter": names},
        attrs={"confidence": 0.95, "units": "USD million per year (current prices)"},
    )  # fmt: skip


#: The title `sim sensitivity` gives a chart for a selection of pairs and sectors.
LABEL = "trade_turnover_annual pair=UZ-KZ+KZ-UZ, sector=textile+chemicals+machinery"
FIGURES = {
    "sobol": lambda: charts.sobol_figure(sobol_result(), f"Sobol' indices of {LABEL} in 2030"),
    "morris": lambda: charts.morris_figure(morris_result(), f"Morris screening of {LABEL} in 2030"),
    "over time": lambda: charts.sensitivity_time_figure(
        sobol_result().expand_dims(year=[2025, 2030]).transpose("parameter", "year"),
        f"Total Sobol' index for {LABEL} over time",
    ),
}


@pytest.mark.parametrize("kind", list(FIGURES))
def test_chart_text_lies_inside_the_canvas(kind: str) -> None:
    """Regression: the Sobol' chart's title and the Morris chart's y-label were cut off in
    the saved PNG (constrained layout moves the axes but never wraps a long title or
    label)."""
    fig = FIGURES[kind]()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    fig.draw(renderer)
    tight = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)
    canvas = fig.bbox
    assert tight.x0 >= canvas.x0 - 0.5 and tight.y0 >= canvas.y0 - 0.5, (tight, canvas)
    assert tight.x1 <= canvas.x1 + 0.5 and tight.y1 <= canvas.y1 + 0.5, (tight, canvas)
    record(AREA, f"{kind} chart with a long title and unit", "all text inside the canvas")


def test_saved_chart_keeps_its_title(tmp_path: Path) -> None:
    path = charts.sobol_chart(sobol_result(), tmp_path / "s.png", f"Sobol' indices of {LABEL}")
    assert path.stat().st_size > 0


def test_morris_points_at_the_origin_are_all_visible() -> None:
    """Regression: two Morris points at the origin (parameters without effect) were drawn on
    top of each other, so the chart showed one."""
    fig = FIGURES["morris"]()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    fig.draw(renderer)
    ax = fig.axes[0]
    labels = [t for t in ax.texts if "odds_financing" in t.get_text()]
    assert len(labels) == 4
    boxes = [t.get_window_extent(renderer) for t in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), "two point labels overlap"
    # The two points at the origin: rings of different sizes, the larger one hollow.
    sizes = [line.get_markersize() for line in ax.lines if len(line.get_xdata()) == 1]
    origin = [s for line, s in zip(ax.lines, sizes, strict=False) if line.get_xdata()[0] == 0]
    assert len(set(sizes[:2])) == 2, sizes
    assert origin
    # Points at the origin are not cut in half by the axes.
    assert ax.get_xlim()[0] < 0 and ax.get_ylim()[0] < 0
    record(AREA, "Morris chart with two points at the origin", "both points and labels visible")


# ---------------------------------------------------------------- Ctrl-C during a Dask sweep


@contextlib.contextmanager
def started(argv: list[str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_ctrl_c_during_a_dask_sweep_is_clean(tmp_path: Path) -> None:
    """Regression: Ctrl-C (SIGINT) during a sweep on a local Dask cluster printed 28 KB of
    asyncio tracebacks instead of the clean "interrupted" message and exit status 130."""
    pytest.importorskip("distributed")
    sweep = REPO / "tests" / "data" / "sweep" / "tiny_lhs.yaml"
    store = tmp_path / "lhs.zarr"
    argv = [sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main())",
            "sweep", str(sweep), "-o", str(store), "--workers", "1",
            "--no-progress"]  # fmt: skip
    with started(argv, tmp_path) as proc:
        # Interrupt once the cluster is up and computing: its first batch is done. (Ctrl-C
        # while the cluster starts its workers is ignored, so that they do not get it.)
        done = store / ".sweep" / "done"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (done.is_dir() and any(done.iterdir())):
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        if proc.poll() is not None:
            pytest.skip("the sweep finished before it could be interrupted")
        if not (done.is_dir() and any(done.iterdir())):
            pytest.skip("the local Dask cluster took over 60 s to compute a batch here")
        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("the sweep did not stop within 60 s of SIGINT")
    if proc.returncode == 0 and "interrupted" not in err:
        pytest.skip("the sweep finished before the interrupt arrived")
    assert proc.returncode == 130, (proc.returncode, err[-3000:])
    assert "interrupted" in err, err[-3000:]
    assert "Traceback" not in err and "asyncio" not in err, err[-3000:]
    assert len(err) < 2000, err[-3000:]
    record(AREA, "SIGINT during `sim sweep --workers 1` (local Dask cluster)",
           "interrupted message, exit 130, no traceback")  # fmt: skip


# ---------------------------------------------------------------- the one-node SLURM guide


def test_sweeps_md_tells_how_to_start_a_one_node_slurm_cluster() -> None:
    """Regression: `.ci/setup_slurm.sh` installed SLURM, but no guide said how to start a
    one-node cluster (only the test fixture knew)."""
    from tests.test_sweep_slurm import slurm_conf

    text = (REPO / "docs" / "sweeps.md").read_text(encoding="utf-8")
    guide = text.split("### A one-node SLURM cluster on this machine", 1)[1].split("\n## ", 1)[0]
    # Every setting of the fixture's configuration is in the guide's (values may differ).
    for line in slurm_conf(Path("/x"), "host").splitlines():
        assert f"\n{line.split('=', 1)[0]}=" in guide, line
    for step in ("setup_slurm.sh", "mungekey", "munged", "slurmctld", "slurmd", "sinfo",
                 "SLURM_CONF", "--slurm", "scancel"):  # fmt: skip
        assert step in guide, step
    record(
        AREA, "docs/sweeps.md: starting a one-node SLURM cluster", "documented, fixture's settings"
    )

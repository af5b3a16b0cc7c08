"""`sim --help` starts without loading the numerical stack (issue: start-up cost)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "xarray", "scipy", "matplotlib", "dask", "simpy")


def test_the_cli_parser_loads_no_numerical_library() -> None:
    code = (
        "import sys, sim.cli\n"
        "sim.cli._parser()\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_help_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sim.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("run", "validate", "counterfactual", "sweep", "compare", "report", "export"):
        assert command in out.stdout


def test_a_counterfactual_does_not_import_scipy_stats(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """scipy.stats costs 0.7-0.9 s to import; drawing and untruncated means use the special
    functions and closed forms it uses itself (bit for bit, tests/test_draws.py), so a run
    without truncated distributions never loads it (a truncated one's mean still does)."""
    from pathlib import Path

    scenario = Path(__file__).parent / "data" / "trade_only" / "trade_only.yaml"
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from sim import api\n"
        "from sim.counterfactual import counterfactual\n"
        "from sim.results.write import write_dataset\n"
        f"sc = api.load_scenario({str(scenario)!r}, replicas=3)\n"
        f"write_dataset(counterfactual(api.prepare(sc)), Path({str(tmp_path / 'x.nc')!r}))\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout


def test_the_seed_draws_and_simulates_without_scipy_stats() -> None:
    """The seed has truncated normals (elasticities) and betas: their means and draws go
    through closed forms and scipy.special (bit for bit, tests/test_draws.py), so
    ``sim run`` on it does not pay for importing scipy.stats (Issue 15)."""
    from pathlib import Path

    seed = Path(__file__).parents[1] / "scenarios" / "uz_kz_khiva_2024.yaml"
    code = (
        "import sys, logging\n"
        "logging.disable(logging.WARNING)\n"
        "from sim import api\n"
        f"model = api.prepare(api.load_scenario({str(seed)!r}, replicas=2))\n"
        "api.simulate(model, first=0, count=2)\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout

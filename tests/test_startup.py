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

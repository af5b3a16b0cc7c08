"""A static counterfactual as a whole process: ``sim counterfactual`` against gegravity.

The Canada-Japan experiment of gegravity 0.3 on its 2006 sample (30 countries, sigma 5,
reference importer DEU, ``pta = 1`` between Canada and Japan), from the same PPML
coefficients on both sides:

* ``sim``: ``sim estimate`` writes the coefficients as a scenario fragment once (not
  timed); each timed process is ``sim counterfactual`` of a scenario that extends it,
  with 1 and with 1,000 replicas (the coefficients drawn per replica from their
  estimated covariance);
* gegravity: a script that builds its ``BaselineData`` and ``OneSectorGE`` from the
  same coefficients (``CostCoeffs``) and simulates the experiment; it runs under this
  interpreter where gegravity imports (the test extra installs it, as a benchmark-only
  peer that ``sim`` never imports) or under ``--gegravity-python``, and is skipped with
  a message where there is neither. The suite's small mode (CI) runs it too
  (``benchmarks.peers``).

Each process runs ``--rounds`` times, interleaved; the script prints the CPU time (user
plus system, from ``resource.getrusage`` of the children) and the wall time, best and
median, and the ratios the performance issue asks for: gegravity's CPU over sim's, and
1,000 replicas' wall time over one replica's.

Usage::

    python3 -m benchmarks.gegravity [--rounds 5] [--gegravity-python /path/to/python]
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "reference" / "gegravity_sample_2006.csv"
COVARIATES = ["lndist", "contiguity", "common_language", "pta", "international"]
#: The three processes, as named in the output.
ONE = "sim counterfactual, 1 replica"
MANY = "sim counterfactual, 1,000 replicas"
GEGRAVITY = "gegravity 0.3 script"

GEGRAVITY_SCRIPT = """
import sys
import pandas as pd
import gegravity as ge

data = pd.read_csv(sys.argv[1])
data["year"] = data["year"].astype(str)
coefficients = pd.read_csv(sys.argv[2])
baseline = ge.BaselineData(data, imp_var_name="importer", exp_var_name="exporter",
                           year_var_name="year", trade_var_name="trade",
                           expend_var_name="E", output_var_name="Y")
model = ge.OneSectorGE(baseline, year="2006", reference_importer="DEU", sigma=5,
                       cost_variables=list(coefficients["variable"]),
                       cost_coeff_values=ge.CostCoeffs(coefficients, identifier_col="variable",
                                                       coeff_col="coefficient"),
                       quiet=True)
model.build_baseline(omr_rescale=100)
experiment = model.baseline_data.copy()
for a, b in (("CAN", "JPN"), ("JPN", "CAN")):
    experiment.loc[(experiment["exporter"] == a) & (experiment["importer"] == b), "pta"] = 1
model.define_experiment(experiment)
model.simulate()
print(model.bilateral_trade_results.shape)
"""


def scenario(folder: Path, replicas: int, fragment: str = "est/gravity.yaml") -> Path:
    """The experiment as a scenario in ``folder`` that extends ``fragment`` (relative to it),
    a fragment `sim estimate` wrote: pta = 1 both ways (tests/test_estimation.py uses it too).
    """
    regions = sorted({line.split(",")[0] for line in SAMPLE.read_text().splitlines()[1:]})
    doc = {
        "extends": fragment,
        "metadata": {"name": "canada_japan", "currency": "USD", "money_unit": "million",
                     "price_basis": "constant", "price_base_year": 2006},
        "time": {"start": "2006-01-01", "end": "2006-12-31", "step": "year"},
        "regions": regions,
        "sectors": ["all"],
        "economy": {},
        "trade": {"elasticity": 5.0, "closure": "ratio", "numeraire": "DEU"},
        "policies": [{"date": "2006-01-01", "kind": "covariate", "covariate": "pta",
                      "value": 1, "origin": "CAN", "destination": "JPN", "symmetric": True}],
        "monte_carlo": {"replicas": replicas, "seed": 5},
    }  # fmt: skip
    path = folder / f"canada_japan_{replicas}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def timed(command: list[str]) -> tuple[float, float]:
    """CPU seconds (user + system) and wall seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def gegravity_python() -> str | None:
    """This interpreter where gegravity imports (the test extra installs it), else None."""
    return sys.executable if importlib.util.find_spec("gegravity") is not None else None


def measure(rounds: int, python: str | None = None) -> dict[str, Any]:
    """``sim counterfactual`` (1 and 1,000 replicas) and, with ``python``, gegravity's
    script, each a fresh process, interleaved, ``rounds`` times.

    Returns the CPU and wall seconds of every run by case, and the ratios the issue asks
    for: ``replicas_over_one`` (1,000 replicas' best wall time over one replica's) and,
    with gegravity, ``gegravity_over_sim`` (gegravity's best CPU time over sim's, one
    replica). ``sim`` runs as ``python -m sim.cli`` under this interpreter, so that no
    script directory need be on ``PATH``.
    """
    sim = [sys.executable, "-m", "sim.cli"]
    with tempfile.TemporaryDirectory(prefix="sim-bench-gegravity-") as tmp:
        folder = Path(tmp)
        subprocess.run(
            [*sim, "estimate", str(SAMPLE), "--covariates", ",".join(COVARIATES),
             "--value", "trade", "-o", str(folder / "est")],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        fragment = yaml.safe_load((folder / "est" / "gravity.yaml").read_text())
        coefficients = fragment["trade_costs"]["gravity"]["coefficients"]
        table = folder / "coefficients.csv"
        table.write_text(
            "variable,coefficient\n" + "".join(f"{k},{v!r}\n" for k, v in coefficients.items())
        )
        cases = {
            ONE: [*sim, "counterfactual", str(scenario(folder, 1)), "-o", str(folder / "one.nc"),
                  "-q"],
            MANY: [*sim, "counterfactual", str(scenario(folder, 1000)), "-o",
                   str(folder / "many.nc"), "-q"],
        }  # fmt: skip
        if python:
            script = folder / "gegravity_canjpn.py"
            script.write_text(GEGRAVITY_SCRIPT)
            cases[GEGRAVITY] = [python, str(script), str(SAMPLE), str(table)]
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(rounds):
            for name, command in cases.items():
                for out in ("one.nc", "many.nc"):
                    (folder / out).unlink(missing_ok=True)
                times[name].append(timed(command))
    result: dict[str, Any] = {"rounds": rounds, "runs": times}
    result["replicas_over_one"] = min(w for _, w in times[MANY]) / min(w for _, w in times[ONE])
    if GEGRAVITY in times:
        ours = min(c for c, _ in times[ONE])
        result["gegravity_over_sim"] = min(c for c, _ in times[GEGRAVITY]) / ours
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--gegravity-python",
        default=None,
        help="an interpreter where gegravity imports (default: this one, if it does)",
    )
    args = parser.parse_args()
    python = args.gegravity_python or gegravity_python()
    if python is None:
        print("gegravity: not installed here and no --gegravity-python given; its script is "
              "not run", file=sys.stderr)  # fmt: skip
    result = measure(args.rounds, python)
    for name, runs in result["runs"].items():
        cpu = [c for c, _ in runs]
        wall = [w for _, w in runs]
        print(
            f"{name:36s} CPU {min(cpu):6.2f} s (median {statistics.median(cpu):.2f}), "
            f"wall {min(wall):6.2f} s (median {statistics.median(wall):.2f})"
        )
    print(f"1,000 replicas over 1, wall: {result['replicas_over_one']:.2f}")
    if "gegravity_over_sim" in result:
        print(f"gegravity CPU over sim CPU (1 replica): {result['gegravity_over_sim']:.2f}")


if __name__ == "__main__":
    main()

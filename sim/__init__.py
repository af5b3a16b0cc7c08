"""sim: a scenario engine for cross-border industrial cooperation.

Load a YAML scenario, simulate trade, capital flows and jobs for many
Monte Carlo replicas at once, and get an :class:`xarray.Dataset` back::

    import sim
    ds = sim.run("scenarios/uz_kz_khiva_2024.yaml", replicas=500)
"""

from __future__ import annotations

__version__ = "0.1.0"

# Imported after __version__: sim.results reads it while sim is initialising.
from sim.analysis.compare import compare
from sim.analysis.results import open_results
from sim.api import load_scenario, run
from sim.errors import ScenarioError, SimError

__all__ = [
    "ScenarioError",
    "SimError",
    "__version__",
    "compare",
    "load_scenario",
    "open_results",
    "run",
]

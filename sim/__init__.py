"""sim: a scenario engine for cross-border industrial cooperation.

Load a YAML scenario, simulate trade, capital flows and jobs for many
Monte Carlo replicas at once, and get an :class:`xarray.Dataset` back::

    import sim
    ds = sim.run("scenarios/uz_kz_khiva_2024.yaml", replicas=500)
"""

from __future__ import annotations

__version__ = "0.1.0"

# Imported after __version__: sim.results reads it while sim is initialising.
from typing import TYPE_CHECKING

from sim.lazy import attribute_loader

if TYPE_CHECKING:
    from sim.analysis import inspect as inspect
    from sim.analysis.compare import compare
    from sim.analysis.results import open_results
    from sim.api import counterfactual, load_scenario, run
    from sim.errors import ScenarioError, SimError

#: Imported on first use, so that `sim` (and the CLI's start-up) does not load NumPy,
#: xarray and SciPy before it needs them.
_LAZY = {
    "compare": "sim.analysis.compare",
    "counterfactual": "sim.api",
    "open_results": "sim.analysis.results",
    "load_scenario": "sim.api",
    "run": "sim.api",
    "ScenarioError": "sim.errors",
    "SimError": "sim.errors",
}
#: Modules exposed under another name, imported on first use too: ``sim.inspect``.
_LAZY_MODULES = {"inspect": "sim.analysis.inspect"}


__getattr__ = attribute_loader(__name__, _LAZY, modules=_LAZY_MODULES, cache=globals())


__all__ = [
    "ScenarioError",
    "SimError",
    "__version__",
    "compare",
    "counterfactual",
    "inspect",
    "load_scenario",
    "open_results",
    "run",
]

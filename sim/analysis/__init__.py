"""The economist's workflow on top of runs and sweeps.

Open results (:func:`open_results`), compare two runs replica by replica
(:func:`compare`), compute Sobol' and Morris sensitivity indices from a sweep
store (:func:`sensitivity`), draw charts and a self-contained HTML report
(:func:`write_report`) and rerun a result from its embedded scenario
(:func:`rerun`).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from sim.lazy import attribute_loader

if TYPE_CHECKING:
    from sim.analysis.compare import compare, jobs_decomposition
    from sim.analysis.compare_format import format_comparison
    from sim.analysis.errors import AnalysisError, PairingError, RerunError, TargetError
    from sim.analysis.report import write_report
    from sim.analysis.rerun import rerun
    from sim.analysis.results import (
        capital_flow,
        jobs_by_kind,
        jobs_by_sector,
        open_results,
        quantiles,
        turnover,
    )
    from sim.analysis.sensitivity import sensitivity

#: Imported on first use, so that the CLI can register its commands (sim.analysis.cli)
#: without loading xarray, SciPy and matplotlib.
_LAZY = {
    "compare": "sim.analysis.compare",
    "format_comparison": "sim.analysis.compare_format",
    "jobs_decomposition": "sim.analysis.compare",
    "AnalysisError": "sim.analysis.errors",
    "PairingError": "sim.analysis.errors",
    "RerunError": "sim.analysis.errors",
    "TargetError": "sim.analysis.errors",
    "write_report": "sim.analysis.report",
    "rerun": "sim.analysis.rerun",
    "capital_flow": "sim.analysis.results",
    "jobs_by_kind": "sim.analysis.results",
    "jobs_by_sector": "sim.analysis.results",
    "open_results": "sim.analysis.results",
    "quantiles": "sim.analysis.results",
    "turnover": "sim.analysis.results",
    "sensitivity": "sim.analysis.sensitivity",
}


__getattr__ = attribute_loader(__name__, _LAZY)


#: Functions named like their submodule: importing the submodule sets the package's
#: attribute to the module, so these names are resolved on every access instead.
_SHADOWED = frozenset({"compare", "rerun", "sensitivity"})


class _Package(types.ModuleType):
    def __getattribute__(self, name: str) -> Any:
        if name in _SHADOWED:
            return getattr(importlib.import_module(_LAZY[name]), name)
        return super().__getattribute__(name)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "AnalysisError",
    "PairingError",
    "RerunError",
    "TargetError",
    "capital_flow",
    "compare",
    "format_comparison",
    "jobs_by_kind",
    "jobs_by_sector",
    "jobs_decomposition",
    "open_results",
    "quantiles",
    "rerun",
    "sensitivity",
    "turnover",
    "write_report",
]

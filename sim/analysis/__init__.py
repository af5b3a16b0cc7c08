"""The economist's workflow on top of runs and sweeps.

Open results (:func:`open_results`), compare two runs replica by replica
(:func:`compare`), compute Sobol' and Morris sensitivity indices from a sweep
store (:func:`sensitivity`), draw charts and a self-contained HTML report
(:func:`write_report`) and rerun a result from its embedded scenario
(:func:`rerun`).
"""

from __future__ import annotations

from sim.analysis.compare import compare, format_comparison, jobs_decomposition
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

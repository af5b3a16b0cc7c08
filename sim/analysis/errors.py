"""Errors raised by the analysis commands (all :class:`~sim.errors.SimError`, so the CLI exits 2)."""

from __future__ import annotations

from sim.errors import SimError


class AnalysisError(SimError):
    """A result, sweep store or request cannot be analysed as asked.

    Parameters
    ----------
    problem
        What is wrong, in one sentence.
    hint
        How to fix it.
    """

    def __init__(self, problem: str, hint: str | None = None) -> None:
        self.problem = problem
        self.hint = hint
        super().__init__(problem if hint is None else f"{problem}\n  fix: {hint}")


class PairingError(AnalysisError):
    """Two runs cannot be compared replica by replica (common random numbers)."""


class TargetError(AnalysisError):
    """A target such as ``trade_turnover_annual:UZ-KZ:2030>=10000`` cannot be read or applied."""


class RerunError(AnalysisError):
    """A result cannot be rerun: data files changed or missing, or no embedded scenario."""

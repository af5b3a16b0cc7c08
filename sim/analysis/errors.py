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
    allowed
        What would be accepted.
    """

    def __init__(
        self, problem: str, hint: str | None = None, *, allowed: str | None = None
    ) -> None:
        self.problem = problem
        self.hint = hint
        self.allowed = allowed
        text = problem
        if allowed is not None:
            text += f"\n  allowed: {allowed}"
        if hint is not None:
            text += f"\n  fix: {hint}"
        super().__init__(text)


class PairingError(AnalysisError):
    """Two runs cannot be compared replica by replica (common random numbers)."""


class TargetError(AnalysisError):
    """A target such as ``trade_turnover_annual:UZ-KZ:2030>=10000`` cannot be read or applied."""


class RerunError(AnalysisError):
    """A result cannot be rerun: data files changed or missing, or no embedded scenario."""


#: How a target is written (sim compare --target, sim report --target).
TARGET_SYNTAX = (
    "VARIABLE[:SELECTION]:WHEN OP VALUE, e.g. 'trade_turnover_annual:UZ-KZ:2030>=10000', "
    "'jobs_annual:region=UZ,kind=operation+indirect:2030>=5000', "
    "'capital_flow_annual:origin=KZ,destination=UZ:2030>=300' or 'jobs_annual:2035>=20000'; "
    "WHEN is a year for *_annual variables or a date (YYYY-MM-DD, the period containing it) for "
    "per-period ones; OP is one of >=, >, <=, <; dimensions not selected are summed"
)

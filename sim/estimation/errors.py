"""The estimation's error: what is wrong with the data or the request, and how to fix it."""

from __future__ import annotations

from sim.errors import SimError


class EstimationError(SimError):
    """Trade data or an estimation request that cannot be estimated as asked.

    Parameters
    ----------
    problem
        What is wrong, in one sentence (with the file, row or column where known).
    allowed
        What would be accepted.
    hint
        How to fix it.
    """

    def __init__(
        self, problem: str, *, allowed: str | None = None, hint: str | None = None
    ) -> None:
        self.problem = problem
        text = problem
        if allowed is not None:
            text += f"\n  allowed: {allowed}"
        if hint is not None:
            text += f"\n  fix: {hint}"
        super().__init__(text)

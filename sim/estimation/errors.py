"""The estimation's error: what is wrong with the data or the request, and how to fix it."""

from __future__ import annotations

from sim.analysis.errors import AnalysisError


class EstimationError(AnalysisError):
    """Trade data or an estimation request that cannot be estimated as asked.

    The message has the project's three parts (:class:`~sim.analysis.errors.AnalysisError`):
    what is wrong (with the file, row or column where known), what is allowed, how to fix it.
    """

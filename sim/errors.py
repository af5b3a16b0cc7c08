"""The package's exception hierarchy.

Every error raised on purpose by ``sim`` derives from :class:`SimError`, so a
caller (the CLI, a sweep worker) can tell a user mistake from a bug with one
``except`` clause. Messages have three parts: what is wrong (with the file,
line, key and value where known), what is allowed, and how to fix it.
"""

from __future__ import annotations

from typing import Any


class SimError(Exception):
    """Root of every error that ``sim`` raises deliberately."""


def _format_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ScenarioError(SimError):
    """A scenario (or a data file it references) is invalid.

    Parameters
    ----------
    problem
        What is wrong, in one sentence.
    file, line
        Where the offending value was written (``line`` is 1-based).
    key
        Dotted key path of the offending value, e.g. ``economy.growth.KZ``.
    value
        The offending value, if any.
    allowed
        What would be accepted.
    hint
        How to fix it (a "did you mean" suggestion, for instance).
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        value: Any = None,
        allowed: str | None = None,
        hint: str | None = None,
        show_value: bool = True,
    ) -> None:
        self.problem = problem
        self.file = file
        self.line = line
        self.key = key
        self.value = value
        self.allowed = allowed
        self.hint = hint
        self.show_value = show_value
        super().__init__(self.format())

    def format(self) -> str:
        where = ""
        if self.file is not None:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        parts = [f"{where}{self.problem}"]
        if self.key is not None:
            detail = f"  key: {self.key}"
            if self.show_value and self.value is not None:
                detail += f" = {_format_value(self.value)}"
            parts.append(detail)
        elif self.show_value and self.value is not None:
            parts.append(f"  value: {_format_value(self.value)}")
        if self.allowed:
            parts.append(f"  allowed: {self.allowed}")
        if self.hint:
            parts.append(f"  fix: {self.hint}")
        return "\n".join(parts)


class DataFileError(ScenarioError):
    """A CSV or other data file referenced by a scenario is invalid (``line`` is the row)."""


class ConvergenceError(SimError):
    """A numerical solver did not converge within its iteration budget."""


class NumericalError(SimError):
    """A NaN, infinity or negative flow appeared during a run."""

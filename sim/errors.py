"""The package's exception hierarchy.

Every error raised on purpose by ``sim`` derives from :class:`SimError`, so a
caller (the CLI, a sweep worker) can tell a user mistake from a bug with one
``except`` clause. Messages have three parts: what is wrong (with the file,
line, key and value where known), what is allowed, and how to fix it.
"""

from __future__ import annotations

import re
from typing import Any


class SimError(Exception):
    """Root of every error that ``sim`` raises deliberately."""


def _format_value(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: Characters of a data file's content quoted in an error, at most.
QUOTE_LIMIT = 40
#: Suffixes of the tables a scenario reads (CSV, pymrio's tab-separated text).
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".tab")


def shorten(text: object, limit: int = QUOTE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters for a message (``...`` marks a cut).

    Content of data files goes into messages only through this, :func:`quote`
    or a :class:`DataFileError` value (cut the same way), so that an error
    never prints more than a few words of a file.
    """
    shown = str(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def quote(text: object, limit: int = QUOTE_LIMIT) -> str:
    """:func:`shorten`, in single quotes."""
    return f"'{shorten(text, limit)}'"


_THOUSANDS = re.compile(r"[+-]?\d{1,3}([,' ]\d{3})+(\.\d*)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")


def number_problem(text: str) -> tuple[str, str]:
    """Why ``text`` (a cell that is not a number) was refused, and how to write it.

    Returns ``(why, fix)``: ``why`` is empty unless the text is a number written
    with a thousands separator (``441,000.0``) or a decimal comma (``0,5``).
    """
    # The fixes show fixed examples, never the text: it may come from a file that is not a table.
    shown = text.strip()
    if _THOUSANDS.fullmatch(shown):
        return (
            "it has a thousands separator",
            "remove the thousands separators: write 441000.0, not 441,000.0",
        )
    if _DECIMAL_COMMA.fullmatch(shown):
        return "it has a decimal comma", "write a point for decimals: 0.5, not 0,5"
    return "", "write a plain number such as 1250.5 (a point for decimals, no separators or units)"


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

    #: Characters of the value shown, at most.
    value_limit = 80

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
                detail += f" = {_format_value(self.value, self.value_limit)}"
            parts.append(detail)
        elif self.show_value and self.value is not None:
            parts.append(f"  value: {_format_value(self.value, self.value_limit)}")
        if self.allowed:
            parts.append(f"  allowed: {self.allowed}")
        if self.hint:
            parts.append(f"  fix: {self.hint}")
        return "\n".join(parts)


class DataFileError(ScenarioError):
    """A CSV or other data file referenced by a scenario is invalid (``line`` is the row).

    The value is content of the file: it is shown cut to :data:`QUOTE_LIMIT`
    characters, and only when the file is a table by its name
    (:data:`TABLE_SUFFIXES`), so that a path pointed at some other file (a key,
    a token, a configuration) does not print its content.
    """

    value_limit = QUOTE_LIMIT

    def __init__(self, problem: str, **kwargs: Any) -> None:
        file = kwargs.get("file")
        if file is not None and not str(file).lower().endswith(TABLE_SUFFIXES):
            kwargs["show_value"] = False
        super().__init__(problem, **kwargs)


def not_a_number(column: str, text: str, file: str, line: int | None) -> DataFileError:
    """The error for a table cell of ``column`` (already quoted) that is not a number,
    saying why (:func:`number_problem`) and how to write it."""
    why, fix = number_problem(text)
    return DataFileError(
        f"column {column} is not a number" + (f": {why}" if why else ""),
        file=file,
        line=line,
        value=text,
        allowed="a finite number",
        hint=fix,
    )


class ConvergenceError(SimError):
    """A numerical solver did not converge within its iteration budget."""


class NumericalError(SimError):
    """A NaN, infinity or negative flow appeared during a run."""

"""Record what the reliability tests tried, for docs/reliability.md.

When the environment variable ``SIM_RELIABILITY_RECORD`` names a file, every
call of :func:`record` appends one JSON line to it: the area (bad YAML, bad
CSV, hostile input, invariants, faults), the case tried, what happened and how
many times. Without the variable nothing is written, so ordinary test runs are
unaffected. ``python -m tests.make_reliability_doc`` runs the reliability
tests with the variable set and renders the table from the file.

Appending one short line per call is safe when several processes record into
the same file (``O_APPEND`` writes of a few hundred bytes are not interleaved).
"""

from __future__ import annotations

import json
import os

ENV = "SIM_RELIABILITY_RECORD"


def enabled() -> bool:
    """True when records are being collected."""
    return bool(os.environ.get(ENV))


def record(area: str, case: str, outcome: str, count: int = 1, subject: str = "") -> None:
    """Append ``count`` tries of ``case`` in ``area`` that ended in ``outcome``.

    Parameters
    ----------
    area
        Group of the table, e.g. ``"bad YAML (mutations of scenario files)"``.
    case
        The fault or input, e.g. ``"uz_kz_khiva_2024.yaml: NaN written as .nan"``.
    outcome
        What happened, from a small fixed vocabulary per test, e.g.
        ``"ScenarioError at the mutated key and line"`` or ``"valid run"``.
    count
        Number of tries this line stands for.
    subject
        The file the case was applied to, if the area covers several
        (``"uz_kz_khiva_2024.yaml"``); the document adds a table by subject.
    """
    path = os.environ.get(ENV)
    if not path:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    line = json.dumps(
        {
            "area": area,
            "case": case,
            "outcome": outcome,
            "count": int(count),
            "subject": subject,
            "test": test,
        },
        ensure_ascii=False,
    )
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")

"""docs/reliability.md is generated from a run of the reliability tests; is it up to date?

The page cannot be checked against a fresh run here (that takes minutes), but
what it must list can: every reliability test file, every area the tests
record into, every bug fixed (a test whose docstring starts "Regression:") and
every open one (a strict xfail). A test file, area or bug added without
running ``python -m tests.make_reliability_doc`` fails here.
"""

from __future__ import annotations

import importlib
from typing import Any

from tests import make_reliability_doc as doc

PAGE = doc.OUTPUT.read_text(encoding="utf-8")


def test_every_reliability_test_file_is_on_the_page() -> None:
    for name in doc.TEST_FILES:
        assert f"| `{name}` |" in PAGE, f"{name}: run python -m tests.make_reliability_doc"


def test_every_area_has_its_section() -> None:
    for area in doc.AREAS:
        heading = f"## {area[0].upper()}{area[1:]}\n\n{doc.AREAS[area]}\n"
        assert heading in PAGE, f"{area}: run python -m tests.make_reliability_doc"


def test_every_fixed_bug_is_listed() -> None:
    fixed = doc.regression_tests()
    assert fixed
    for test, _ in fixed:
        assert f"| `{test.split('::')[1]}` |" in PAGE, f"{test}: regenerate the page"


def _xfails() -> list[str]:
    names = []
    for file in doc.TEST_FILES:
        module = importlib.import_module(file.removesuffix(".py").replace("/", "."))
        for attr, obj in vars(module).items():
            marks: list[Any] = getattr(obj, "pytestmark", []) if attr.startswith("test_") else []
            if any(m.name == "xfail" and m.kwargs.get("strict") for m in marks):
                names.append(attr)
    return names


def test_every_open_bug_is_listed() -> None:
    open_bugs = PAGE.split("## Open bugs", 1)[1].split("\n## ", 1)[0]
    xfails = _xfails()
    for test in xfails:
        assert f"| `{test}` |" in open_bugs, f"{test}: regenerate the page"
    if not xfails:
        assert "None: no strict xfail is left" in open_bugs, "regenerate the page"

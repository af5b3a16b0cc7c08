"""Tests for sim.scenario.schema: the schema table itself and the generated reference page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sim.api import load_scenario
from sim.scenario import docs
from sim.scenario.load import load_scenario_document
from sim.scenario.schema import (
    LIST_ITEM,
    PATTERNS,
    TYPES,
    Key,
    iter_keys,
    load_schema,
    render_schema_markdown,
    split_path,
)

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "scenarios.md"
SEED = REPO / "scenarios" / "uz_kz_khiva_2024.yaml"
NUMERIC = ("number", "fixed", "integer", "series")
KEYS = iter_keys()


def test_reference_page_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render_schema_markdown(), (
        "docs/scenarios.md is stale: regenerate it with `python -m sim.scenario.docs`"
    )


def test_docs_command_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "scenarios.md"
    assert docs.main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_schema_markdown()
    assert f"wrote {target}" in capsys.readouterr().out


def test_page_lists_every_key_and_section() -> None:
    page = render_schema_markdown()
    for key in KEYS:
        assert f"| `{key.path}` |" in page, key.path
    for section in load_schema().children:
        assert f"## `{section}`" in page


def test_schema_is_not_trivial() -> None:
    top = set(load_schema().children)
    assert {"metadata", "time", "regions", "sectors", "economy", "trade", "investment"} <= top
    assert len(KEYS) > 100
    assert len({k.path for k in KEYS}) == len(KEYS), "duplicate key paths"


@pytest.mark.parametrize("key", KEYS, ids=lambda k: k.path)
def test_key_has_description_and_valid_type(key: Key) -> None:
    assert key.description.strip(), f"{key.path} has no description"
    assert key.type in TYPES
    assert split_path(key.path)[-1] == key.name


@pytest.mark.parametrize("key", KEYS, ids=lambda k: k.path)
def test_key_structure_is_consistent(key: Key) -> None:
    if key.type == "map":
        assert key.pattern_child() is not None, f"map {key.path} has no pattern child"
    if key.type == "list":
        assert LIST_ITEM in key.children, f"list {key.path} has no [] child"
    if key.children:
        assert key.type in ("section", "map", "list"), f"{key.path} ({key.type}) has children"
    if key.type == "section":
        assert not any(c in PATTERNS or c == LIST_ITEM for c in key.children), key.path
    if key.by is not None:
        assert key.by in ("region", "sector") and key.type in ("number", "fixed", "enum"), key.path
    assert not (key.required and key.has_default), f"{key.path} is required and has a default"
    if key.minimum is not None or key.maximum is not None:
        assert key.type in NUMERIC, f"{key.path} ({key.type}) has a range"
    if key.minimum is not None and key.maximum is not None:
        assert key.minimum < key.maximum, key.path
    if key.min_exclusive:
        assert key.minimum is not None, key.path


ENUMS = [k for k in KEYS if k.type == "enum"]


@pytest.mark.parametrize("key", ENUMS, ids=lambda k: k.path)
def test_enum_has_values_and_valid_default(key: Key) -> None:
    assert len(key.values) >= 2, f"{key.path} has too few values"
    assert len(set(key.values)) == len(key.values)
    assert all(isinstance(v, str) and v for v in key.values)
    if key.has_default:
        assert key.default in key.values, f"{key.path}: default {key.default!r} not allowed"


def in_range(key: Key, value: float) -> bool:
    if key.minimum is not None and (
        value < key.minimum or (key.min_exclusive and value == key.minimum)
    ):
        return False
    return key.maximum is None or value <= key.maximum


NUMBER_DEFAULTS = [k for k in KEYS if k.type in NUMERIC and k.has_default]


def test_there_are_number_defaults() -> None:
    assert len(NUMBER_DEFAULTS) > 20


@pytest.mark.parametrize("key", NUMBER_DEFAULTS, ids=lambda k: k.path)
def test_number_default_inside_range(key: Key) -> None:
    default = key.default
    assert isinstance(default, (int, float)) and not isinstance(default, bool), key.path
    if key.type == "integer":
        assert isinstance(default, int), f"{key.path}: integer default {default!r}"
    assert in_range(key, default), f"{key.path}: default {default} outside {key.allowed_range()}"


def test_in_range_helper() -> None:
    elasticity = load_schema().children["trade"].children["elasticity"]
    assert not in_range(elasticity, 1.0)
    assert in_range(elasticity, 1.5)
    assert not in_range(elasticity, 51)


def test_allowed_range_text() -> None:
    trade = load_schema().children["trade"].children
    assert trade["elasticity"].allowed_range() == "(1, 50]"
    assert trade["balance_tolerance"].allowed_range() == "[0, inf)"
    assert trade["closure"].allowed_range() == ""


def test_split_path() -> None:
    assert split_path("investment.projects[].capex") == ["investment", "projects", "[]", "capex"]
    assert split_path("economy.growth.<region>") == ["economy", "growth", "<region>"]


def test_split_path_nested_lists() -> None:
    assert split_path("a[][]") == ["a", "[]", "[]"]


def unknown_paths(schema: Key, value: Any, path: str) -> list[str]:
    """Paths in ``value`` that the schema does not describe (sections, maps and lists)."""
    out: list[str] = []
    if schema.type == "section" and isinstance(value, dict):
        for name, sub in value.items():
            child = schema.children.get(name)
            sub_path = f"{path}.{name}" if path else name
            if child is None:
                out.append(sub_path)
            else:
                out += unknown_paths(child, sub, sub_path)
    elif schema.type == "map" and isinstance(value, dict):
        child = schema.pattern_child()
        assert child is not None
        for name, sub in value.items():
            out += unknown_paths(child, sub, f"{path}.{name}")
    elif schema.type == "list" and isinstance(value, list):
        item = schema.children[LIST_ITEM]
        for i, sub in enumerate(value):
            out += unknown_paths(item, sub, f"{path}[{i}]")
    return out


def test_seed_scenario_keys_are_all_known() -> None:
    doc = load_scenario_document(SEED)
    assert unknown_paths(load_schema(), doc.data, "") == []
    # And the whole scenario validates (which implies the above).
    sc = load_scenario(SEED)
    assert sc.name == "uz_kz_khiva_2024"
    assert len(sc.region_ids) >= 2


def test_unknown_paths_helper_finds_a_stray_key() -> None:
    doc = {"trade": {"closure": "ratio", "clossure": 1}, "regions": [{"id": "A", "nme": ""}]}
    assert unknown_paths(load_schema(), doc, "") == ["trade.clossure", "regions[0].nme"]

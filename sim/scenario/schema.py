"""The scenario schema, read from ``schema.yaml`` (the schema is data).

The table drives validation (:mod:`sim.scenario.validate`), the defaults and the
generated reference ``docs/scenarios.md`` (:func:`render_schema_markdown`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

#: Segments of a key path that stand for user-chosen names.
PATTERNS = ("<region>", "<sector>", "<year>", "<name>")
LIST_ITEM = "[]"
TYPES = (
    "section", "map", "list", "number", "fixed", "integer", "string", "id", "date", "bool",
    "enum", "region", "sector", "regions", "sectors", "file", "series", "any",
)  # fmt: skip


@dataclass
class Key:
    """One row of the schema table, placed in a tree by its path."""

    path: str
    type: str
    description: str = ""
    unit: str | None = None
    default: Any = None
    has_default: bool = False
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    min_exclusive: bool = False
    values: tuple[str, ...] = ()
    by: str | None = None
    children: dict[str, Key] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return split_path(self.path)[-1] if self.path else ""

    def pattern_child(self) -> Key | None:
        """The child that matches user-chosen names or list items, if any."""
        for segment in (*PATTERNS, LIST_ITEM):
            if segment in self.children:
                return self.children[segment]
        return None

    def unit_text(self) -> str:
        """The unit for a message: ``unitless`` for ``1`` (a ratio or share), else as written."""
        return "unitless" if self.unit == "1" else self.unit or ""

    def allowed_range(self) -> str:
        """Human-readable range, e.g. ``(1, 50]``."""
        if self.minimum is None and self.maximum is None:
            return ""
        low = "-inf" if self.minimum is None else f"{self.minimum:g}"
        high = "inf" if self.maximum is None else f"{self.maximum:g}"
        left = "(" if self.min_exclusive or self.minimum is None else "["
        return f"{left}{low}, {high}]" if self.maximum is not None else f"{left}{low}, inf)"


def split_path(path: str) -> list[str]:
    """Split ``a.b[].c`` into ``['a', 'b', '[]', 'c']`` (``a[][]`` into ``['a', '[]', '[]']``)."""
    out: list[str] = []
    for part in path.split("."):
        name = part
        items = 0
        while name.endswith(LIST_ITEM):
            name = name[: -len(LIST_ITEM)]
            items += 1
        if name:
            out.append(name)
        out.extend([LIST_ITEM] * items)
    return out


def _make_key(row: dict[str, Any]) -> Key:
    kind = row["type"]
    if kind not in TYPES:
        raise ValueError(f"schema.yaml: key {row['key']!r} has unknown type {kind!r}")
    return Key(
        path=row["key"],
        type=kind,
        description=row.get("description", ""),
        unit=row.get("unit"),
        default=row.get("default"),
        has_default="default" in row,
        required=bool(row.get("required", False)),
        minimum=row.get("min"),
        maximum=row.get("max"),
        min_exclusive=bool(row.get("min_exclusive", False)),
        values=tuple(row.get("values", ())),
        by=row.get("by"),
    )


@lru_cache(maxsize=1)
def load_schema() -> Key:
    """Read ``schema.yaml`` into a tree of :class:`Key`; the root is an unnamed section."""
    text = resources.files("sim.scenario").joinpath("schema.yaml").read_text(encoding="utf-8")
    # libyaml's loader where PyYAML has it: 0.26 s of every command's start-up in Python's
    # (Issue 15); the same rows.
    rows = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    root = Key(path="", type="section", description="A scenario file.")
    for row in rows:
        key = _make_key(row)
        node = root
        segments = split_path(key.path)
        for segment in segments[:-1]:
            if segment not in node.children:
                raise ValueError(f"schema.yaml: {key.path!r} listed before its parent")
            node = node.children[segment]
        node.children[segments[-1]] = key
    return root


def iter_keys(node: Key | None = None) -> list[Key]:
    """All keys in schema order, depth first."""
    node = node or load_schema()
    out: list[Key] = []
    for child in node.children.values():
        out.append(child)
        out.extend(iter_keys(child))
    return out


def _type_label(key: Key) -> str:
    if key.type == "enum":
        label = "enum: " + " \\| ".join(key.values)
        return label + (f" (or map by {key.by})" if key.by else "")
    label = key.type
    if key.type == "number":
        label = "number or distribution"
    if key.by:
        label += f" (or map by {key.by})"
    return label


def render_schema_markdown() -> str:
    """Render the reference of every scenario key as Markdown (``docs/scenarios.md``)."""
    lines = [
        "# Scenario keys",
        "",
        "Generated from `sim/scenario/schema.yaml` by `python -m sim.scenario.docs`; "
        "do not edit by hand (a test fails when this page is stale).",
        "",
        "Patterns in key paths: `<region>` and `<sector>` are the scenario's own ids, "
        "`<year>` a calendar year, `<name>` any identifier, `[]` the items of a list. "
        "'money' is the scenario's currency unit (`metadata.currency`, `metadata.money_unit`) "
        "in its price basis.",
        "",
        "A *number or distribution* may be written as a plain number or as a mapping drawn "
        "once per replica: `{dist: normal, mean: M, sd: S}`, `{dist: lognormal, median: M, "
        "sigma: S}`, `{dist: uniform, low: A, high: B}`, `{dist: triangular, low: A, mode: M, "
        "high: B}`, `{dist: beta, a: A, b: B}`; normal, lognormal and beta also take `low` "
        "and `high` to truncate. A *series* is a number or a mapping `year: value`.",
        "",
    ]
    for section in load_schema().children.values():
        lines += [f"## `{section.path}`", "", section.description, ""]
        lines += [
            "| key | type | unit | default | range | description |",
            "|---|---|---|---|---|---|",
        ]
        for key in [section, *iter_keys(section)]:
            if key.required:
                default = "**required**"
            elif key.has_default:
                default = f"`{yaml.safe_dump(key.default, default_flow_style=True).strip()}`"
                default = default.replace("\n...", "").replace("|", "\\|")
            else:
                default = ""
            desc = key.description.replace("|", "\\|").replace("\n", " ")
            lines.append(
                f"| `{key.path}` | {_type_label(key)} | {key.unit or ''} | {default} | "
                f"{key.allowed_range()} | {desc} |"
            )
        lines.append("")
    return "\n".join(lines)

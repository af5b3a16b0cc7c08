"""YAML nodes to plain Python, each value with the file and line it was written on.

The conversion of :mod:`sim.scenario.load`: a node tree composed by a safe loader is
turned into dicts, lists and scalars by hand, which refuses duplicate keys, unknown tags
and alias bombs and records the origin of every key path (:class:`LoadedDocument`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sim.errors import ScenarioError

DELETE_TAG = "!delete"
REPLACE_TAG = "!replace"

_STD = "tag:yaml.org,2002:"
_STR = _STD + "str"
_INT = _STD + "int"
_FLOAT = _STD + "float"
_BOOL = _STD + "bool"
_NULL = _STD + "null"
_TIMESTAMP = _STD + "timestamp"
_VALUE = _STD + "value"
_MERGE = _STD + "merge"
_MAP = _STD + "map"
_SEQ = _STD + "seq"

DICT_ORIGIN = ("<dict>", 0)

_ALLOWED_TAGS = (
    "plain strings, numbers, booleans, null, mappings and lists; "
    "the tags !delete and !replace; the standard !!str, !!int, !!float, !!bool, !!null"
)

Origin = tuple[str, int]


try:
    # libyaml's parser is several times faster than the pure-Python one on large
    # scenarios; both compose the same node tree with the same marks.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class ScenarioLoader(_BaseLoader):
    """Safe loader that reads ``1e6`` and ``1.5e3`` as floats.

    YAML 1.1 (and so PyYAML) requires a dot and a signed exponent in a float,
    which turns ``1e6`` into the string "1e6" -- a silent surprise in a numeric
    model where such values are common. YAML 1.2 reads them as numbers, and so
    do we.
    """


class ExplainingLoader(yaml.SafeLoader):
    """Pure-Python twin of :class:`ScenarioLoader`, run only to describe a syntax error.

    libyaml's messages leave out the offending character or alias name
    ("found character that cannot start any token"); PyYAML's own parser names
    them, which is worth a second parse on the rare failing file.
    """


for _loader_class in (ScenarioLoader, ExplainingLoader):
    _loader_class.add_implicit_resolver(
        _FLOAT,
        re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
        list("-+.0123456789"),
    )


class _Delete:
    """Marker for a ``!delete`` value; compared by identity with the one instance below."""

    def __repr__(self) -> str:
        return "<!delete>"


DELETE = _Delete()


@dataclass
class ReplaceMarker:
    """A ``!replace`` mapping: overrides the base's mapping instead of merging into it."""

    mapping: dict[str, Any]


@dataclass
class LoadedDocument:
    """A scenario document converted to plain Python, with the origin of every value.

    Attributes
    ----------
    data
        The document as plain ``dict``/``list``/``str``/``int``/``float``/``bool``/``None``.
        Dates stay the strings they were written as.
    origins
        Dotted key path (``economy.growth.KZ``, ``projects.list[3].id``) to the
        ``(file, 1-based line)`` where that key or list item was written.
    files
        Every YAML file that was read, bases before the files extending them.
    """

    data: dict[str, Any]
    origins: dict[str, Origin] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- paths


def join_key(prefix: str, key: object) -> str:
    return str(key) if not prefix else f"{prefix}.{key}"


def join_index(prefix: str, index: int) -> str:
    return f"{prefix}[{index}]"


def parent_of(path: str) -> str | None:
    """Path of the node containing ``path``, or None for a top-level key."""
    if path.endswith("]"):
        bracket = path.rfind("[")
        if bracket > 0:
            return path[:bracket]
    dot = path.rfind(".")
    return path[:dot] if dot > 0 else None


def walk_paths(data: dict[str, Any]) -> list[str]:
    """Every key path in ``data``, parents before children.

    Iterative rather than recursive: resolved documents can be large, and the
    walk must not be the thing that hits Python's recursion limit.
    """
    paths: list[str] = []
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        prefix, value = stack.pop()
        children: list[tuple[str, Any]] = []
        if isinstance(value, dict):
            children = [(join_key(prefix, k), v) for k, v in value.items()]
        elif isinstance(value, list):
            children = [(join_index(prefix, i), v) for i, v in enumerate(value)]
        paths.extend(p for p, _ in children)
        stack.extend(reversed(children))
    return paths


def collect_origins(data: dict[str, Any], layers: list[dict[str, Origin]]) -> dict[str, Origin]:
    """Origins for every path of ``data``, taken from the first layer that has the path.

    ``layers`` runs from the most derived document to its bases. Merging never
    moves a value to another path, so a path the variant wrote comes from the
    variant and any other path present in the result was inherited; stale
    origins (deleted or replaced base subtrees) drop out because the walk only
    visits what survived.
    """
    origins: dict[str, Origin] = {}
    for path in walk_paths(data):
        for layer in layers:
            found = layer.get(path)
            if found is not None:
                origins[path] = found
                break
    return origins


# ---------------------------------------------------------------- conversion


def node_line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag


def check_node_count(root: Node, file: str, max_nodes: int) -> None:
    """Refuse documents whose alias expansion exceeds ``max_nodes``, before expanding anything.

    The composed tree shares one node object per anchor, so it stays small even
    for a "billion laughs" document; the expanded size of each distinct node is
    computed once (memoised by identity), which makes the check linear in the
    text rather than in the expansion. Merge keys are counted as if every
    merged key survived, an upper bound that is close enough in practice.
    """
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    aliased = False  # a node was reached twice: only an alias (*name) shares a node

    def size(node: Node) -> int:
        nonlocal aliased
        ident = id(node)
        known = sizes.get(ident)
        if known is not None:
            aliased = True
            return known
        if ident in in_progress:
            raise ScenarioError(
                "an alias refers to the node that contains it; the document would be infinite",
                file=file,
                line=node_line(node),
                hint="point the alias (*name) at an anchor (&name) defined outside itself",
            )
        in_progress.add(ident)
        total = 1
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                total += size(key_node) + size(value_node)
        elif isinstance(node, SequenceNode):
            for item in node.value:
                total += size(item)
        in_progress.discard(ident)
        sizes[ident] = total
        if total > max_nodes and not aliased:
            raise ScenarioError(
                f"document has more than {max_nodes} nodes (keys, values and list items; "
                "it uses no aliases): the limit on a scenario's size",
                file=file,
                line=node_line(node),
                allowed=f"at most {max_nodes} nodes",
                hint="move large tables into CSV data files (e.g. trade.baseline.file), "
                "or raise max_nodes if the document is really meant to be this large",
            )
        if total > max_nodes:
            raise ScenarioError(
                f"document expands to more than {max_nodes} nodes once its aliases (*name) "
                "are followed; YAML alias expansion refused",
                file=file,
                line=node_line(node),
                allowed=f"at most {max_nodes} nodes after expanding aliases",
                hint="reduce the nesting of aliases (*name), or raise max_nodes "
                "if the document is really meant to be this large",
            )
        return total

    size(root)


class Converter:
    """Turns a composed node tree into plain Python and records each path's origin."""

    def __init__(self, file: str, loader: ScenarioLoader) -> None:
        self.file = file
        # The loader's construct_yaml_* methods are the reference parsers for
        # YAML 1.1 scalars (hex ints, sexagesimal, .nan); reuse them rather
        # than re-implementing the edge cases.
        self.loader = loader
        self.origins: dict[str, Origin] = {}

    def error(self, problem: str, node: Node, path: str, **kwargs: Any) -> ScenarioError:
        return ScenarioError(
            problem, file=self.file, line=node_line(node), key=path or None, **kwargs
        )

    def unknown_tag(self, node: Node, path: str) -> ScenarioError:
        return self.error(
            f"unknown YAML tag {_show_tag(node.tag)}; nothing in a scenario is evaluated as code",
            node,
            path,
            allowed=_ALLOWED_TAGS,
            hint="remove the tag and write the value as plain data",
        )

    def convert(self, node: Node, path: str) -> Any:
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            return self.sequence(node, path)
        if isinstance(node, MappingNode):
            return self.mapping(node, path)
        raise self.unknown_tag(node, path)  # pragma: no cover - composer yields only these

    def scalar(self, node: ScalarNode, path: str) -> Any:
        tag = node.tag
        if tag == DELETE_TAG:
            return DELETE
        if tag == REPLACE_TAG:
            raise self.error(
                "!replace applies to a mapping; a scalar always replaces the base's value",
                node,
                path,
                value=node.value,
                hint="remove the !replace tag",
            )
        if tag in (_STR, _TIMESTAMP, _VALUE):
            # Timestamps stay as written: the model compares dates as ISO
            # strings, and datetime objects would not survive dump/reload.
            return node.value
        if tag == _NULL:
            return None
        try:
            if tag == _INT:
                return self.loader.construct_yaml_int(node)
            if tag == _FLOAT:
                return self.loader.construct_yaml_float(node)
            if tag == _BOOL:
                return self.loader.construct_yaml_bool(node)
        except (ValueError, KeyError):
            raise self.error(
                f"cannot read {node.value!r} as {_show_tag(tag)}",
                node,
                path,
                value=node.value,
                hint="fix the value or remove the explicit tag",
            ) from None
        raise self.unknown_tag(node, path)

    def sequence(self, node: SequenceNode, path: str) -> list[Any]:
        if node.tag != _SEQ:
            if node.tag == REPLACE_TAG:
                raise self.error(
                    "!replace applies to a mapping; a list always replaces the base's list",
                    node,
                    path,
                    hint="remove the !replace tag",
                )
            raise self.unknown_tag(node, path)
        out: list[Any] = []
        for index, item in enumerate(node.value):
            item_path = join_index(path, index)
            self.origins[item_path] = (self.file, node_line(item))
            value = self.convert(item, item_path)
            if value is DELETE:
                raise self.error(
                    "!delete cannot be used on a list item; lists are replaced as a whole",
                    item,
                    item_path,
                    hint="write the complete list without the item",
                )
            out.append(value)
        return out

    def mapping(self, node: MappingNode, path: str) -> dict[str, Any] | ReplaceMarker:
        if node.tag not in (_MAP, REPLACE_TAG):
            raise self.unknown_tag(node, path)
        out: dict[str, Any] = {}
        for key, key_node, value_node in self.entries(node, path):
            key_path = join_key(path, key)
            self.origins[key_path] = (self.file, node_line(key_node))
            out[key] = self.convert(value_node, key_path)
        return ReplaceMarker(out) if node.tag == REPLACE_TAG else out

    def entries(self, node: MappingNode, path: str) -> list[tuple[str, Node, Node]]:
        """Key/value nodes of a mapping with ``<<`` merge keys flattened, duplicates refused.

        Explicit keys win over merged ones, and among several merge sources the
        first listed wins -- the YAML merge-key rules.
        """
        explicit: dict[str, tuple[Node, Node]] = {}
        merged: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                for source in self.merge_sources(value_node, path):
                    for key, k_node, v_node in self.entries(source, path):
                        merged.setdefault(key, (k_node, v_node))
                continue
            key = self.key(key_node, path)
            previous = explicit.get(key)
            if previous is not None:
                raise self.error(
                    f"key {key!r} appears twice (lines {node_line(previous[0])} and {node_line(key_node)})",
                    key_node,
                    join_key(path, key),
                    hint="remove one of them; YAML would silently keep only the last",
                )
            explicit[key] = (key_node, value_node)
        combined = dict(merged)
        combined.update(explicit)
        return [(key, k_node, v_node) for key, (k_node, v_node) in combined.items()]

    def merge_sources(self, node: Node, path: str) -> list[MappingNode]:
        candidates = node.value if isinstance(node, SequenceNode) else [node]
        sources: list[MappingNode] = []
        for candidate in candidates:
            if not isinstance(candidate, MappingNode) or candidate.tag != _MAP:
                raise self.error(
                    "a merge key (<<) must refer to a mapping or a list of mappings",
                    candidate,
                    path,
                    hint="write `<<: *anchor` where &anchor names a plain mapping",
                )
            sources.append(candidate)
        return sources

    def key(self, node: Node, path: str) -> str:
        if not isinstance(node, ScalarNode):
            raise self.error(
                "a mapping key must be a plain value, not a list or mapping",
                node,
                path,
                allowed="text or numbers as keys",
                hint="quote the key or restructure the mapping",
            )
        tag = node.tag
        if tag in (_STR, _VALUE):
            return str(node.value)
        if tag == _INT:
            # Years written as keys (`2016: 0.05`) are the common case; the
            # model looks them up as strings.
            return str(self.scalar(node, path))
        if tag in (_BOOL, _FLOAT, _TIMESTAMP):
            # Keep the text: YAML 1.1 would make country code NO the key False.
            return str(node.value)
        if tag == _NULL:
            raise self.error(
                f"a mapping key is null ({node.value or 'empty'})",
                node,
                path,
                hint="write a name before the colon, or quote it ('null': ...)",
            )
        if tag in (DELETE_TAG, REPLACE_TAG):
            raise self.error(
                f"{tag} belongs on the value, not on the key",
                node,
                path,
                hint=f"write `key: {tag}`" if tag == DELETE_TAG else "write `key: !replace {...}`",
            )
        raise self.unknown_tag(node, path)

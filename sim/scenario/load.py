"""Load YAML scenario files safely, remembering where every value was written.

Scenario files are user input, so nothing in them may be evaluated as code:
the node tree is built with :func:`yaml.compose` and a ``SafeLoader``, and the
conversion to Python objects is done here by hand. Doing it by hand is also
what gives every node a file and line (for error messages that point at the
offending line), and what lets us refuse duplicate keys, unknown tags and
alias bombs instead of silently accepting them as PyYAML does.

A scenario may build on another one with ``extends: base.yaml``. The base is
loaded recursively and the variant is deep-merged onto it; two tags adjust the
merge: ``!delete`` removes a key inherited from the base, and ``!replace`` on a
mapping replaces the base's mapping instead of merging into it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sim.errors import ScenarioError

__all__ = [
    "DELETE_TAG",
    "REPLACE_TAG",
    "LoadedDocument",
    "dump_yaml",
    "get_origin",
    "load_scenario_document",
    "load_yaml_document",
    "load_yaml_text",
    "resolve_extends_dict",
]

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

_DICT_ORIGIN = ("<dict>", 0)

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


class _ScenarioLoader(_BaseLoader):
    """Safe loader that reads ``1e6`` and ``1.5e3`` as floats.

    YAML 1.1 (and so PyYAML) requires a dot and a signed exponent in a float,
    which turns ``1e6`` into the string "1e6" -- a silent surprise in a numeric
    model where such values are common. YAML 1.2 reads them as numbers, and so
    do we.
    """


class _ExplainingLoader(yaml.SafeLoader):
    """Pure-Python twin of :class:`_ScenarioLoader`, run only to describe a syntax error.

    libyaml's messages leave out the offending character or alias name
    ("found character that cannot start any token"); PyYAML's own parser names
    them, which is worth a second parse on the rare failing file.
    """


for _loader_class in (_ScenarioLoader, _ExplainingLoader):
    _loader_class.add_implicit_resolver(
        _FLOAT,
        re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
        list("-+.0123456789"),
    )


class _Delete:
    """Marker for a ``!delete`` value; compared by identity with the one instance below."""

    def __repr__(self) -> str:
        return "<!delete>"


_DELETE = _Delete()


@dataclass
class _Replace:
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


def _child_path(prefix: str, key: object) -> str:
    return str(key) if not prefix else f"{prefix}.{key}"


def _item_path(prefix: str, index: int) -> str:
    return f"{prefix}[{index}]"


def _parent_path(path: str) -> str | None:
    """Path of the node containing ``path``, or None for a top-level key."""
    if path.endswith("]"):
        bracket = path.rfind("[")
        if bracket > 0:
            return path[:bracket]
    dot = path.rfind(".")
    return path[:dot] if dot > 0 else None


def _walk_paths(data: dict[str, Any]) -> list[str]:
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
            children = [(_child_path(prefix, k), v) for k, v in value.items()]
        elif isinstance(value, list):
            children = [(_item_path(prefix, i), v) for i, v in enumerate(value)]
        paths.extend(p for p, _ in children)
        stack.extend(reversed(children))
    return paths


def _collect_origins(data: dict[str, Any], layers: list[dict[str, Origin]]) -> dict[str, Origin]:
    """Origins for every path of ``data``, taken from the first layer that has the path.

    ``layers`` runs from the most derived document to its bases. Merging never
    moves a value to another path, so a path the variant wrote comes from the
    variant and any other path present in the result was inherited; stale
    origins (deleted or replaced base subtrees) drop out because the walk only
    visits what survived.
    """
    origins: dict[str, Origin] = {}
    for path in _walk_paths(data):
        for layer in layers:
            found = layer.get(path)
            if found is not None:
                origins[path] = found
                break
    return origins


# ---------------------------------------------------------------- conversion


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag


def _check_size(root: Node, file: str, max_nodes: int) -> None:
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
                line=_line(node),
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
                line=_line(node),
                allowed=f"at most {max_nodes} nodes",
                hint="move large tables into CSV data files (e.g. trade.baseline.file), "
                "or raise max_nodes if the document is really meant to be this large",
            )
        if total > max_nodes:
            raise ScenarioError(
                f"document expands to more than {max_nodes} nodes once its aliases (*name) "
                "are followed; YAML alias expansion refused",
                file=file,
                line=_line(node),
                allowed=f"at most {max_nodes} nodes after expanding aliases",
                hint="reduce the nesting of aliases (*name), or raise max_nodes "
                "if the document is really meant to be this large",
            )
        return total

    size(root)


class _Converter:
    """Turns a composed node tree into plain Python and records each path's origin."""

    def __init__(self, file: str, loader: _ScenarioLoader) -> None:
        self.file = file
        # The loader's construct_yaml_* methods are the reference parsers for
        # YAML 1.1 scalars (hex ints, sexagesimal, .nan); reuse them rather
        # than re-implementing the edge cases.
        self.loader = loader
        self.origins: dict[str, Origin] = {}

    def error(self, problem: str, node: Node, path: str, **kwargs: Any) -> ScenarioError:
        return ScenarioError(problem, file=self.file, line=_line(node), key=path or None, **kwargs)

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
            return _DELETE
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
            item_path = _item_path(path, index)
            self.origins[item_path] = (self.file, _line(item))
            value = self.convert(item, item_path)
            if value is _DELETE:
                raise self.error(
                    "!delete cannot be used on a list item; lists are replaced as a whole",
                    item,
                    item_path,
                    hint="write the complete list without the item",
                )
            out.append(value)
        return out

    def mapping(self, node: MappingNode, path: str) -> dict[str, Any] | _Replace:
        if node.tag not in (_MAP, REPLACE_TAG):
            raise self.unknown_tag(node, path)
        out: dict[str, Any] = {}
        for key, key_node, value_node in self.entries(node, path):
            key_path = _child_path(path, key)
            self.origins[key_path] = (self.file, _line(key_node))
            out[key] = self.convert(value_node, key_path)
        return _Replace(out) if node.tag == REPLACE_TAG else out

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
                    f"key {key!r} appears twice (lines {_line(previous[0])} and {_line(key_node)})",
                    key_node,
                    _child_path(path, key),
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


# ---------------------------------------------------------------- reading one file


def _read_text(path: Path, *, cited_by: tuple[str, int] | None = None) -> str:
    file = str(path)
    if path.exists() and not path.is_file():
        # A folder, a named pipe or a device: reading could block or never end.
        raise ScenarioError(
            "cannot read the path: it is not a regular file",
            file=file,
            allowed="a YAML file",
            hint="name the scenario file itself",
        )
    try:
        # utf-8-sig: files saved by some Windows editors start with a BOM.
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(
            "scenario file not found",
            file=file,
            hint="check the path; relative paths are resolved against the current directory",
        ) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"file is not valid UTF-8 text (byte {exc.start})",
            file=file,
            hint="save the file as UTF-8",
        ) from None
    except OSError as exc:
        raise ScenarioError(
            f"cannot read file: {exc.strerror or exc}",
            file=file,
            hint="check that the path names a readable file, not a folder",
        ) from None


#: Deepest nesting accepted. Scenarios nest about ten levels; libyaml composes in C
#: recursion, so a document nested tens of thousands of levels deep would overflow
#: the C stack (a crash, not an exception) before Python could catch anything.
MAX_DEPTH = 200


def _check_depth(text: str, file: str) -> None:
    # Brackets are counted everywhere, quotes and comments included: an over-count
    # can only refuse a document with hundreds of brackets in its strings.
    depth = deepest = 0
    line = deepest_line = 1
    for char in text:
        if char == "\n":
            line += 1
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest, deepest_line = depth, line
        elif char in "]}":
            depth = max(depth - 1, 0)
    # Block nesting: indentation plus compact markers ("- - - 1" nests three lists).
    block = 0
    for number, row in enumerate(text.splitlines(), start=1):
        rest = row.lstrip(" ")
        level = len(row) - len(rest)
        while rest.startswith(("- ", "? ", "-\t")) or rest in ("-", "?"):
            level += 2
            rest = rest[2:].lstrip(" \t")
        if level > block:
            block = level
            if block > 2 * MAX_DEPTH:
                deepest_line = number
                break
    if deepest > MAX_DEPTH or block > 2 * MAX_DEPTH:
        raise ScenarioError(
            f"the document nests deeper than {MAX_DEPTH} levels",
            file=file,
            line=deepest_line,
            allowed=f"at most {MAX_DEPTH} levels of nested lists and mappings",
            hint="a scenario nests a handful of levels; check the file is the one intended",
        )


def _compose(text: str, file: str) -> tuple[Node | None, _ScenarioLoader]:
    _check_depth(text, file)
    try:
        loader = _ScenarioLoader(text)
    except yaml.YAMLError as exc:  # the reader refuses control characters up front
        raise _syntax_error(text, file, exc) from None
    try:
        return loader.get_single_node(), loader
    except yaml.YAMLError as exc:
        raise _syntax_error(text, file, exc) from None
    finally:
        loader.dispose()


def _syntax_error(text: str, file: str, exc: yaml.YAMLError) -> ScenarioError:
    if not issubclass(_ScenarioLoader, yaml.SafeLoader):
        try:
            explainer = _ExplainingLoader(text)
        except yaml.YAMLError as better:  # the reader refuses control characters up front
            return _syntax_error_message(better, file, text)
        try:
            explainer.get_single_node()
        except yaml.YAMLError as better:
            exc = better
        except RecursionError:
            pass  # keep libyaml's message
        finally:
            explainer.dispose()
    return _syntax_error_message(exc, file, text)


def _syntax_error_message(exc: yaml.YAMLError, file: str, text: str | None = None) -> ScenarioError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        # The context ("while scanning a quoted scalar") frames the problem.
        problem = ", ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        return ScenarioError(
            f"YAML syntax error: {problem}",
            file=file,
            line=None if mark is None else int(mark.line) + 1,
            hint="check indentation (spaces, not tabs), colons after keys, "
            "and quoting of values that contain ':' or '#'",
        )
    if isinstance(exc, yaml.reader.ReaderError) and text is not None:
        # The reader names a character position; the user needs its line.
        return ScenarioError(
            f"the file contains a character YAML does not allow ({int(exc.character):#04x})",
            file=file,
            line=text.count("\n", 0, exc.position) + 1,
            allowed="printable characters, tabs and newlines",
            hint="remove the control character (often a paste from another program)",
        )
    return ScenarioError(
        f"YAML error: {exc}",
        file=file,
        hint="make sure the file is plain UTF-8 YAML text without control characters",
    )


def _load_raw(path: Path, max_nodes: int) -> tuple[dict[str, Any] | _Replace, dict[str, Origin]]:
    """Convert one file, keeping ``!delete``/``!replace`` markers for the merge."""
    return _load_raw_text(_read_text(path), str(path), max_nodes)


def _load_raw_text(
    text: str, file: str, max_nodes: int
) -> tuple[dict[str, Any] | _Replace, dict[str, Origin]]:
    """Convert the text of one document (``file`` names it in errors)."""
    try:
        root, loader = _compose(text, file)
        if root is None:
            raise ScenarioError(
                "scenario file is empty",
                file=file,
                line=1,
                hint="a scenario is a YAML mapping of keys to values, e.g. `name: baseline`",
            )
        if not isinstance(root, MappingNode):
            raise ScenarioError(
                "the top level of a scenario file must be a mapping of keys to values",
                file=file,
                line=_line(root),
                hint="start the file with `key: value` lines, not a list or a single value",
            )
        _check_size(root, file, max_nodes)
        converter = _Converter(file, loader)
        data = converter.mapping(root, "")
    except RecursionError:
        raise ScenarioError(
            "document is nested too deeply to read",
            file=file,
            hint="flatten the structure; scenarios need only a few levels of nesting",
        ) from None
    return data, converter.origins


def _strip(value: Any) -> Any:
    """Copy ``value`` with the merge markers resolved: deletions dropped, replacements unwrapped."""
    if isinstance(value, _Replace):
        value = value.mapping
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if v is not _DELETE}
    if isinstance(value, list):
        return [_strip(item) for item in value]
    return value


def load_yaml_document(path: str | Path, *, max_nodes: int = 1_000_000) -> LoadedDocument:
    """Load one YAML file as plain data with line numbers, without resolving ``extends``.

    Parameters
    ----------
    path
        The YAML file.
    max_nodes
        Most nodes the document may expand to once aliases are followed.

    Returns
    -------
    LoadedDocument
        The data (an ``extends`` key, if any, is kept; ``!delete`` keys are
        dropped since there is no base to delete from), origins and ``[path]``.

    Raises
    ------
    ScenarioError
        If the file is missing, unreadable, not valid YAML, not a mapping, uses
        an unknown tag, repeats a key, or expands beyond ``max_nodes``.
    """
    path = Path(path)
    raw, origins = _load_raw(path, max_nodes)
    data = _strip(raw)
    return LoadedDocument(data, _collect_origins(data, [origins]), [str(path)])


def load_yaml_text(text: str, file: str, *, max_nodes: int = 1_000_000) -> LoadedDocument:
    """:func:`load_yaml_document` for text that is not a file of its own.

    For a scenario embedded in a result (attribute ``scenario_yaml``): the same
    hardened loader and limits as a file (no code tags, no alias bombs, bounded
    nesting), with ``file`` (e.g. ``"run.nc, attribute scenario_yaml"``) naming
    the text in errors.
    """
    raw, origins = _load_raw_text(text, file, max_nodes)
    data = _strip(raw)
    return LoadedDocument(data, _collect_origins(data, [origins]), [file])


# ---------------------------------------------------------------- extends


def _merge(
    base: dict[str, Any],
    variant: dict[str, Any],
    origins: dict[str, Origin] | None = None,
    prefix: str = "",
) -> dict[str, Any]:
    """Deep-merge ``variant`` onto ``base``: mappings merge, everything else replaces.

    With ``origins`` (the variant's), a ``!delete`` naming a key the base does not
    have is refused: a misspelt key (``tarifs: !delete``) would otherwise delete
    nothing without a word.
    """
    out = dict(base)
    for key, value in variant.items():
        path = _child_path(prefix, key)
        if value is _DELETE:
            if origins is not None and key not in out:
                _refuse_delete(path, out, origins)
            out.pop(key, None)
        elif isinstance(value, _Replace):
            out[key] = _strip(value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, origins, path)
        else:
            if origins is not None and isinstance(value, dict):
                # A mapping replacing a value that is not a mapping (or adding a new key):
                # a !delete inside it has nothing to delete.
                _deletes_in(value, path, origins)
            out[key] = _strip(value)
    return out


def _deletes_in(value: dict[str, Any], prefix: str, origins: dict[str, Origin]) -> None:
    for key, child in value.items():
        path = _child_path(prefix, key)
        if child is _DELETE:
            _refuse_delete(path, {}, origins)
        elif isinstance(child, dict):
            _deletes_in(child, path, origins)


def _refuse_delete(path: str, siblings: dict[str, Any], origins: dict[str, Origin]) -> None:
    file, line = origins.get(path, _DICT_ORIGIN)
    key = path.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(key, [str(k) for k in siblings], n=1)
    parent = _parent_path(path)
    where = f"under {parent}" if parent else "at the top level"
    raise ScenarioError(
        f"!delete names a key the base does not have, so it would delete nothing: {path}",
        file=file,
        line=line or None,
        key=path,
        allowed=f"a key the base scenario has {where}: "
        + (", ".join(str(k) for k in list(siblings)[:20]) if siblings else "(none)")
        + (", ..." if len(siblings) > 20 else ""),
        hint=f"did you mean '{close[0]}'?"
        if close
        else "check the spelling of the key, or remove the !delete line",
    )


def _extends_targets(
    value: Any, origins: dict[str, Origin], where: Origin
) -> list[tuple[str, Origin]]:
    """The base file names of an ``extends`` value, each with the place it was written."""
    is_list = isinstance(value, list)
    items = value if is_list else [value]
    targets: list[tuple[str, Origin]] = []
    for index, item in enumerate(items):
        item_where = origins.get(_item_path("extends", index), where) if is_list else where
        if not isinstance(item, str) or not item.strip():
            raise ScenarioError(
                "extends must name a scenario file",
                file=item_where[0],
                line=item_where[1] or None,
                key="extends",
                value=item,
                allowed="a file path, or a list of file paths, relative to this file's folder",
                hint="write `extends: base.yaml`",
            )
        targets.append((item, item_where))
    return targets


#: Most files in one chain of ``extends`` (a scenario, its base, the base's base, ...).
MAX_EXTENDS_DEPTH = 64


def _resolve(
    data: dict[str, Any] | _Replace,
    origins: dict[str, Origin],
    base_dir: Path,
    chain: list[tuple[Path, str]],
    max_nodes: int,
) -> LoadedDocument:
    """Apply ``data`` (one document, markers intact) onto its resolved bases."""
    replace_all = isinstance(data, _Replace)
    mapping = dict(data.mapping if isinstance(data, _Replace) else data)
    if "extends" not in mapping:
        stripped = _strip(mapping)
        return LoadedDocument(stripped, _collect_origins(stripped, [origins]), [])
    extends_value = mapping.pop("extends")
    where = origins.get("extends", _DICT_ORIGIN)
    seen = {resolved for resolved, _ in chain}

    merged: dict[str, Any] = {}
    layers: list[dict[str, Origin]] = []
    files: list[str] = []
    for name, (cite_file, cite_line) in _extends_targets(extends_value, origins, where):
        base_path = base_dir / name
        resolved = base_path.resolve()
        if resolved in seen:
            shown = " -> ".join([shown for _, shown in chain] + [str(base_path)])
            raise ScenarioError(
                f"extends cycle: {shown}",
                file=cite_file,
                line=cite_line or None,
                key="extends",
                value=name,
                hint="a scenario cannot (directly or indirectly) extend itself; "
                "remove one of the extends in the loop",
            )
        if len(chain) >= MAX_EXTENDS_DEPTH:
            raise ScenarioError(
                f"the extends chain is more than {MAX_EXTENDS_DEPTH} files deep "
                f"(from {chain[0][1]} to {base_path})",
                file=cite_file,
                line=cite_line or None,
                key="extends",
                value=name,
                allowed=f"at most {MAX_EXTENDS_DEPTH} files in a chain of extends",
                hint="merge some of the bases into one file",
            )
        if not base_path.is_file():
            raise ScenarioError(
                f"extends names a file that does not exist: {base_path}",
                file=cite_file,
                line=cite_line or None,
                key="extends",
                value=name,
                hint=f"paths in extends are relative to the folder {base_dir}",
            )
        raw, raw_origins = _load_raw(base_path, max_nodes)
        base = _resolve(
            raw, raw_origins, base_path.parent, [*chain, (resolved, str(base_path))], max_nodes
        )
        # Several bases are layered in order, each fully resolved first.
        merged = _merge(merged, base.data)
        layers.insert(0, base.origins)
        # A file reached twice through different bases (a diamond) is listed once.
        files.extend(f for f in [*base.files, str(base_path)] if f not in files)

    result = _strip(mapping) if replace_all else _merge(merged, mapping, origins)
    return LoadedDocument(result, _collect_origins(result, [origins, *layers]), files)


def load_scenario_document(path: str | Path, *, max_nodes: int = 1_000_000) -> LoadedDocument:
    """Load a scenario file with ``extends`` resolved recursively.

    Parameters
    ----------
    path
        The scenario file.
    max_nodes
        Most nodes any one file may expand to once aliases are followed.

    Returns
    -------
    LoadedDocument
        The deep-merged data without the ``extends`` key, the origin of every
        value (the variant's line for what it sets, the base's for what it
        inherits), and every file read, bases first.

    Raises
    ------
    ScenarioError
        For any problem :func:`load_yaml_document` reports, a missing base
        file, a non-path ``extends`` value, or an ``extends`` cycle.

    Notes
    -----
    Mappings merge key by key; lists and scalars in the variant replace the
    base's wholesale. ``key: !delete`` removes an inherited key and
    ``key: !replace {...}`` replaces an inherited mapping instead of merging.
    With ``extends: [a.yaml, b.yaml]`` each base is resolved on its own and
    they are layered in order (``b`` onto ``a``), then the file itself.
    """
    path = Path(path)
    raw, origins = _load_raw(path, max_nodes)
    doc = _resolve(raw, origins, path.parent, [(path.resolve(), str(path))], max_nodes)
    doc.files.append(str(path))
    return doc


def resolve_extends_dict(
    data: dict[str, Any], base_dir: Path, *, max_nodes: int = 1_000_000
) -> LoadedDocument:
    """Resolve ``extends`` for a scenario given as a Python dict.

    Parameters
    ----------
    data
        The scenario; an ``extends`` entry names file(s) relative to ``base_dir``.
        Not modified.
    base_dir
        Folder that relative ``extends`` paths start from.
    max_nodes
        Most nodes any one base file may expand to.

    Returns
    -------
    LoadedDocument
        Merged data; values set by ``data`` have the origin ``("<dict>", 0)``,
        and ``files`` lists only the base files.

    Raises
    ------
    ScenarioError
        As :func:`load_scenario_document`.
    """
    origins = {path: _DICT_ORIGIN for path in _walk_paths(data)}
    return _resolve(data, origins, Path(base_dir), [], max_nodes)


# ---------------------------------------------------------------- output and queries


def dump_yaml(data: dict[str, Any]) -> str:
    """Deterministic YAML text of a resolved scenario, kept with results as provenance.

    Key order is preserved (not sorted) so the text reads like the source files.
    """
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def get_origin(doc: LoadedDocument, path: str) -> tuple[str | None, int | None]:
    """Where ``path`` was written, or else its nearest ancestor that has an origin.

    Parameters
    ----------
    doc
        A loaded document.
    path
        Dotted key path, e.g. ``economy.growth.KZ`` or ``projects.list[3].id``.

    Returns
    -------
    tuple
        ``(file, line)``, or ``(None, None)`` if neither the path nor any
        ancestor is known (a key the user never wrote, for instance).
    """
    current: str | None = path
    while current:
        found = doc.origins.get(current)
        if found is not None:
            return found
        current = _parent_path(current)
    return None, None

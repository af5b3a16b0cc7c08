"""Reading one YAML file or text safely: size and depth limits, syntax errors that point
at the line, the document with the origin of every value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

from sim.errors import ScenarioError
from sim.scenario.yaml_nodes import (
    DELETE,
    Converter,
    ExplainingLoader,
    LoadedDocument,
    Origin,
    ReplaceMarker,
    ScenarioLoader,
    check_node_count,
    collect_origins,
    node_line,
)


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


def _compose(text: str, file: str) -> tuple[Node | None, ScenarioLoader]:
    _check_depth(text, file)
    try:
        loader = ScenarioLoader(text)
    except yaml.YAMLError as exc:  # the reader refuses control characters up front
        raise _syntax_error(text, file, exc) from None
    try:
        return loader.get_single_node(), loader
    except yaml.YAMLError as exc:
        raise _syntax_error(text, file, exc) from None
    finally:
        loader.dispose()


def _syntax_error(text: str, file: str, exc: yaml.YAMLError) -> ScenarioError:
    if not issubclass(ScenarioLoader, yaml.SafeLoader):
        try:
            explainer = ExplainingLoader(text)
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


def load_raw(
    path: Path, max_nodes: int
) -> tuple[dict[str, Any] | ReplaceMarker, dict[str, Origin]]:
    """Convert one file, keeping ``!delete``/``!replace`` markers for the merge."""
    return _load_raw_text(_read_text(path), str(path), max_nodes)


def _load_raw_text(
    text: str, file: str, max_nodes: int
) -> tuple[dict[str, Any] | ReplaceMarker, dict[str, Origin]]:
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
                line=node_line(root),
                hint="start the file with `key: value` lines, not a list or a single value",
            )
        check_node_count(root, file, max_nodes)
        converter = Converter(file, loader)
        data = converter.mapping(root, "")
    except RecursionError:
        raise ScenarioError(
            "document is nested too deeply to read",
            file=file,
            hint="flatten the structure; scenarios need only a few levels of nesting",
        ) from None
    return data, converter.origins


def resolve_markers(value: Any) -> Any:
    """Copy ``value`` with the merge markers resolved: deletions dropped, replacements unwrapped."""
    if isinstance(value, ReplaceMarker):
        value = value.mapping
    if isinstance(value, dict):
        return {k: resolve_markers(v) for k, v in value.items() if v is not DELETE}
    if isinstance(value, list):
        return [resolve_markers(item) for item in value]
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
    raw, origins = load_raw(path, max_nodes)
    data = resolve_markers(raw)
    return LoadedDocument(data, collect_origins(data, [origins]), [str(path)])


def load_yaml_text(text: str, file: str, *, max_nodes: int = 1_000_000) -> LoadedDocument:
    """:func:`load_yaml_document` for text that is not a file of its own.

    For a scenario embedded in a result (attribute ``scenario_yaml``): the same
    hardened loader and limits as a file (no code tags, no alias bombs, bounded
    nesting), with ``file`` (e.g. ``"run.nc, attribute scenario_yaml"``) naming
    the text in errors.
    """
    raw, origins = _load_raw_text(text, file, max_nodes)
    data = resolve_markers(raw)
    return LoadedDocument(data, collect_origins(data, [origins]), [file])

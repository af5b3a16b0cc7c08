"""``extends:``: a scenario built on another one, deep-merged onto its base.

Bases are loaded recursively (:mod:`sim.scenario.yaml_read`); ``!delete`` removes an
inherited key and ``!replace`` replaces an inherited mapping instead of merging into it.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.scenario.yaml_nodes import (
    DELETE,
    DICT_ORIGIN,
    LoadedDocument,
    Origin,
    ReplaceMarker,
    collect_origins,
    join_index,
    join_key,
    parent_of,
    walk_paths,
)
from sim.scenario.yaml_read import load_raw, resolve_markers


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
        path = join_key(prefix, key)
        if value is DELETE:
            if origins is not None and key not in out:
                _refuse_delete(path, out, origins)
            out.pop(key, None)
        elif isinstance(value, ReplaceMarker):
            out[key] = resolve_markers(value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, origins, path)
        else:
            if origins is not None and isinstance(value, dict):
                # A mapping replacing a value that is not a mapping (or adding a new key):
                # a !delete inside it has nothing to delete.
                _deletes_in(value, path, origins)
            out[key] = resolve_markers(value)
    return out


def _deletes_in(value: dict[str, Any], prefix: str, origins: dict[str, Origin]) -> None:
    for key, child in value.items():
        path = join_key(prefix, key)
        if child is DELETE:
            _refuse_delete(path, {}, origins)
        elif isinstance(child, dict):
            _deletes_in(child, path, origins)


def _refuse_delete(path: str, siblings: dict[str, Any], origins: dict[str, Origin]) -> None:
    file, line = origins.get(path, DICT_ORIGIN)
    key = path.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(key, [str(k) for k in siblings], n=1)
    parent = parent_of(path)
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
        item_where = origins.get(join_index("extends", index), where) if is_list else where
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
    data: dict[str, Any] | ReplaceMarker,
    origins: dict[str, Origin],
    base_dir: Path,
    chain: list[tuple[Path, str]],
    max_nodes: int,
) -> LoadedDocument:
    """Apply ``data`` (one document, markers intact) onto its resolved bases."""
    replace_all = isinstance(data, ReplaceMarker)
    mapping = dict(data.mapping if isinstance(data, ReplaceMarker) else data)
    if "extends" not in mapping:
        stripped = resolve_markers(mapping)
        return LoadedDocument(stripped, collect_origins(stripped, [origins]), [])
    extends_value = mapping.pop("extends")
    where = origins.get("extends", DICT_ORIGIN)
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
        raw, raw_origins = load_raw(base_path, max_nodes)
        base = _resolve(
            raw, raw_origins, base_path.parent, [*chain, (resolved, str(base_path))], max_nodes
        )
        # Several bases are layered in order, each fully resolved first.
        merged = _merge(merged, base.data)
        layers.insert(0, base.origins)
        # A file reached twice through different bases (a diamond) is listed once.
        files.extend(f for f in [*base.files, str(base_path)] if f not in files)

    result = resolve_markers(mapping) if replace_all else _merge(merged, mapping, origins)
    return LoadedDocument(result, collect_origins(result, [origins, *layers]), files)


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
    raw, origins = load_raw(path, max_nodes)
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
    origins = {path: DICT_ORIGIN for path in walk_paths(data)}
    return _resolve(data, origins, Path(base_dir), [], max_nodes)

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

from typing import Any

import yaml

from sim.scenario.extends import MAX_EXTENDS_DEPTH, load_scenario_document, resolve_extends_dict
from sim.scenario.yaml_nodes import DELETE_TAG, REPLACE_TAG, LoadedDocument, parent_of
from sim.scenario.yaml_read import MAX_DEPTH, load_yaml_document, load_yaml_text

__all__ = [
    "DELETE_TAG",
    "MAX_DEPTH",
    "MAX_EXTENDS_DEPTH",
    "REPLACE_TAG",
    "LoadedDocument",
    "dump_yaml",
    "get_origin",
    "load_scenario_document",
    "load_yaml_document",
    "load_yaml_text",
    "resolve_extends_dict",
]


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
        current = parent_of(current)
    return None, None

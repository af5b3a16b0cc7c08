"""Paths of values inside a scenario: ``trade_costs.trend[0].rate.2017``.

The calibration's free parameters and a sweep's swept keys name a number of the scenario
this way: dotted mapping keys, list positions in brackets.
"""

from __future__ import annotations

import re
from typing import Any

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_key(key: str) -> list[str | int]:
    """``a.b[0].c`` -> ``['a', 'b', 0, 'c']``."""
    out: list[str | int] = []
    for part in key.split("."):
        for match in _SEGMENT.finditer(part):
            name, index = match.groups()
            out.append(int(index) if index is not None else name)
    return out


def get_path(data: Any, key: str) -> Any:
    node = data
    for seg in parse_key(key):
        node = node[seg]
    return node


def set_path(data: Any, key: str, value: Any) -> None:
    segs = parse_key(key)
    node = data
    for seg in segs[:-1]:
        node = node[seg]
    node[segs[-1]] = value


__all__ = ["get_path", "parse_key", "set_path"]

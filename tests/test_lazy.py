"""sim.lazy: package attributes imported on first use."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sim.lazy import attribute_loader


def test_names_modules_and_the_cache() -> None:
    cache: dict[str, Any] = {}
    load = attribute_loader("pkg", {"dumps": "json"}, modules={"codec": "json"}, cache=cache)
    assert load("dumps") is json.dumps
    assert load("codec") is json
    assert cache == {"dumps": json.dumps, "codec": json}


def test_without_a_cache_nothing_is_stored_and_unknown_names_are_refused() -> None:
    load = attribute_loader("pkg", {"dumps": "json"})
    assert load("dumps") is json.dumps
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'loads'"):
        load("loads")


def test_the_packages_resolve_their_names() -> None:
    import sim
    import sim.analysis
    import sim.sweep

    assert sim.run.__module__ == "sim.api"
    assert sim.inspect.__name__ == "sim.analysis.inspect"
    # A function named like its submodule stays the function after the import.
    assert callable(sim.analysis.compare) and sim.analysis.compare.__name__ == "compare"
    assert sim.sweep.read_sweep.__module__ == "sim.sweep.spec"
    with pytest.raises(AttributeError, match=r"sim\.analysis"):
        _ = sim.analysis.no_such_function

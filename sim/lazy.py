"""Package attributes imported on first use (PEP 562).

``sim``, ``sim.analysis`` and ``sim.sweep`` name their functions at the top but load
the modules that define them only when one is used, so that importing a package (and
the CLI's start-up, ``sim --help``) does not load NumPy, xarray, SciPy or matplotlib
before it needs them (tests/test_startup.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any


def attribute_loader(
    package: str,
    names: Mapping[str, str],
    *,
    modules: Mapping[str, str] | None = None,
    cache: MutableMapping[str, Any] | None = None,
) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``.

    Parameters
    ----------
    package : str
        The package's name, for the error of an unknown attribute.
    names : mapping
        Attribute -> module that defines an attribute of that name.
    modules : mapping, optional
        Attribute -> module exposed under that name (``sim.inspect``).
    cache : mutable mapping, optional
        The package's ``globals()``: a loaded attribute is stored there, so the next
        access does not call ``__getattr__``. Leave it out where a submodule of the same
        name as a function would replace the function on import (``sim.analysis``).
    """
    exposed = dict(modules or {})

    def __getattr__(name: str) -> Any:
        if name in exposed:
            value: Any = importlib.import_module(exposed[name])
        elif name in names:
            value = getattr(importlib.import_module(names[name]), name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if cache is not None:
            cache[name] = value
        return value

    return __getattr__


__all__ = ["attribute_loader"]

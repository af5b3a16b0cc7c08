"""sim: a scenario engine for cross-border industrial cooperation.

Load a YAML scenario, simulate trade, capital flows and jobs for many
Monte Carlo replicas at once, and get an :class:`xarray.Dataset` back.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

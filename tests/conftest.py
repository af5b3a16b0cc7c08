"""Shared fixtures: a tiny scenario (3 regions, 2 sectors, 8 yearly periods)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny" / "tiny.yaml"
REPO = Path(__file__).resolve().parents[1]
SEED_SCENARIO = REPO / "scenarios" / "uz_kz_khiva_2024.yaml"


@pytest.fixture
def tiny_path() -> Path:
    """Path of the tiny scenario shipped with the tests (read-only use)."""
    return TINY


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    """A writable copy of the tiny scenario's folder."""
    target = tmp_path / "tiny"
    shutil.copytree(TINY.parent, target)
    return target

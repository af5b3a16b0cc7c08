"""Tests for sim.engine.random: keyed, replica-addressable uniform streams."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from sim.engine.random import PARAMETER, PROJECT, Streams, key_hash

SEED = 20240611


def test_key_hash_definition() -> None:
    for key in ("", "project/khiva_textile", "trade.theta", "ünïcode/ключ"):
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        assert key_hash(key) == int.from_bytes(digest[:4], "little")
        assert 0 <= key_hash(key) < 2**32


def test_key_hash_stable_values() -> None:
    # sha256(b"") = e3b0c442 98fc1c14 ...; its first four bytes read little-endian
    assert hashlib.sha256(b"").hexdigest().startswith("e3b0c442")
    assert key_hash("") == 0x42C4B0E3 == 1120186595
    assert key_hash("project/khiva_textile") == 3726907659
    assert key_hash("a") != key_hash("b")


@pytest.mark.parametrize("size", [1, 3, 4, 5, 9])
def test_replica_draws_independent_of_batch(size: int) -> None:
    full = Streams(SEED, 0, 100).uniforms(PROJECT, "p1", size)
    assert full.shape == (100, size)
    for k in (0, 1, 2, 17, 50, 93, 99):
        alone = Streams(SEED, k, 1).uniforms(PROJECT, "p1", size)
        assert np.array_equal(alone[0], full[k])
        if k + 7 <= 100:
            block = Streams(SEED, k, 7).uniforms(PROJECT, "p1", size)
            assert np.array_equal(block, full[k : k + 7])
    # batches tile the full run
    pieces = [Streams(SEED, first, 25).uniforms(PROJECT, "p1", size) for first in range(0, 100, 25)]
    assert np.array_equal(np.concatenate(pieces), full)


def test_replicas_draw_distinct_values() -> None:
    draws = Streams(SEED, 0, 50).uniforms(PARAMETER, "x", 6)
    assert np.unique(draws).size == draws.size


def test_values_in_open_unit_interval_and_uniform() -> None:
    draws = Streams(SEED, 0, 400).uniforms(PARAMETER, "theta", 25)
    assert draws.dtype == np.float64
    assert np.all((draws > 0.0) & (draws < 1.0))
    assert draws.mean() == pytest.approx(0.5, abs=0.01)  # 10,000 draws: sd of mean ~0.003
    counts = np.histogram(draws, bins=10, range=(0, 1))[0]
    assert counts.min() > 900 and counts.max() < 1100


def test_keys_kinds_and_seeds_separate_streams() -> None:
    base = Streams(SEED, 0, 20).uniforms(PROJECT, "a", 5)
    assert not np.array_equal(base, Streams(SEED, 0, 20).uniforms(PROJECT, "b", 5))
    assert not np.array_equal(base, Streams(SEED, 0, 20).uniforms(PARAMETER, "a", 5))
    assert not np.array_equal(base, Streams(SEED + 1, 0, 20).uniforms(PROJECT, "a", 5))
    # no element-wise coincidences either
    assert not np.any(base == Streams(SEED, 0, 20).uniforms(PROJECT, "b", 5))


def test_reproducible() -> None:
    a = Streams(SEED, 3, 4).uniforms(PROJECT, "a", 5)
    b = Streams(SEED, 3, 4).uniforms(PROJECT, "a", 5)
    assert np.array_equal(a, b)


def test_other_keys_do_not_shift_a_stream() -> None:
    """Drawing another key first (or drawing more of it) leaves a key's stream unchanged."""
    streams = Streams(SEED, 0, 10)
    before = streams.uniforms(PROJECT, "a", 3)
    streams.uniforms(PROJECT, "new_project", 1000)
    assert np.array_equal(streams.uniforms(PROJECT, "a", 3), before)


def test_shorter_size_is_prefix_within_a_block() -> None:
    """Sizes that share the 4-word block count give prefix-consistent draws."""
    five = Streams(SEED, 0, 10).uniforms(PROJECT, "a", 5)
    eight = Streams(SEED, 0, 10).uniforms(PROJECT, "a", 8)
    assert np.array_equal(eight[:, :5], five)


def test_exact_zero_and_one_are_clipped_into_open_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generator.random() may return exactly 0.0; inverse CDFs need u strictly inside (0, 1)."""

    class Extremes:
        def __init__(self, bit_gen: object) -> None:
            pass

        def random(self, shape: tuple[int, int]) -> np.ndarray:
            out = np.zeros(shape)
            out[:, 1::2] = 1.0
            return out

    monkeypatch.setattr(np.random, "Generator", Extremes)
    draws = Streams(SEED, 0, 3).uniforms(PROJECT, "a", 4)
    assert np.all((draws > 0.0) & (draws < 1.0))
    assert np.all(draws[:, 0::2] <= 1e-15) and np.all(draws[:, 1::2] >= 1.0 - 1e-15)

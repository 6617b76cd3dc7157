"""Helpers for lockstep determinism: seeded randomness and world checksums.

Lockstep replicas must compute bit-identical worlds. The rules: integer (fixed-point)
positions and velocities, one seeded :class:`numpy.random.Generator` per match, stable
iteration order (spawn order; despawn compacts stably), and a checksum over the
canonical bytes of every column so a divergence is caught on the frame it happens.
"""

from __future__ import annotations

import hashlib

import numpy as np

from server.core.world import World


def match_rng(seed: int, match_index: int = 0) -> np.random.Generator:
    """The match's random generator: PCG64 seeded from ``(seed, match_index)``."""
    return np.random.Generator(np.random.PCG64([seed, match_index]))


def world_checksum(world: World) -> int:
    """A 64-bit checksum of the world's state (every column, little-endian, name order).

    Identical across runs and processes for identical worlds; costs one pass over the
    live bytes (about 1 ms per 100k entities with the arena's columns).
    """
    h = hashlib.blake2b(digest_size=8)
    h.update(world.count.to_bytes(8, "little"))
    for name, col in world.canonical_columns():
        if name == "entity":
            continue  # handle/generation bookkeeping, not game state
        h.update(name.encode())
        h.update(np.ascontiguousarray(col).astype(col.dtype.newbyteorder("<")).tobytes())
    return int.from_bytes(h.digest(), "little")

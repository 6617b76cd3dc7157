"""The library's integer helpers: trig table, isqrt, net-id look-up, contacts."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from server.core.simulation import Simulation
from server.core.systems.library.common import (
    COS_TABLE,
    SIN_TABLE,
    TRIG_MARGIN,
    TRIG_ONE,
    direction,
    first_per_group,
    isqrt,
    slots_of_netids,
)
from server.core.systems.registry import TickContext

Builder = Callable[..., Simulation]


def test_trig_table_is_far_from_rounding_boundaries() -> None:
    """Any libm within 1e-6 of the true value rounds every entry the same way."""
    raw = np.arange(4096) * (2 * math.pi / 4096)
    for fn in (np.cos, np.sin):
        scaled = fn(raw) * TRIG_ONE
        frac = np.abs(scaled - np.floor(scaled) - 0.5)
        assert frac.min() > TRIG_MARGIN
    assert COS_TABLE[0] == TRIG_ONE
    assert SIN_TABLE[1024] == TRIG_ONE
    assert COS_TABLE[2048] == -TRIG_ONE
    assert SIN_TABLE[3072] == -TRIG_ONE


def test_direction_reads_binary_angles() -> None:
    """0 = +x, a quarter turn (16384) = +y; the low 4 bits are ignored."""
    ux, uy = direction(np.array([0, 16384, 32768, 49152, 15], dtype=np.uint16))
    assert ux.tolist() == [TRIG_ONE, 0, -TRIG_ONE, 0, TRIG_ONE]
    assert uy.tolist() == [0, TRIG_ONE, 0, -TRIG_ONE, 0]


def test_isqrt_is_exact() -> None:
    """floor(sqrt(n)) exactly, including perfect squares and their neighbours."""
    rng = np.random.default_rng(1)
    n = np.concatenate(
        [rng.integers(0, 2**52, 2000), np.arange(0, 2000), (np.arange(1, 500) * 10**6) ** 2 - 1]
    ).astype(np.int64)
    assert isqrt(n).tolist() == [math.isqrt(int(v)) for v in n]


def test_slots_of_netids_after_despawns(build: Builder, spawn: Callable[..., list[int]]) -> None:
    """Net ids map to current slots; departed and unknown ids are -1."""
    sim = build({}, {"player": ["position"]}, [])
    eids = spawn(sim, "player", position_x=[1, 2, 3, 4])
    sim.step()
    sim.queue_despawn(eids[1])  # type: ignore[arg-type]
    sim.step()
    assert sim.world.netids.tolist() == [1, 3, 4]
    slots = slots_of_netids(sim.world, np.array([4, 2, 1, 99, 3]))
    assert slots.tolist() == [2, -1, 0, -1, 1]


def test_first_per_group_breaks_ties_by_keys() -> None:
    """Per group the row with the smallest keys, groups ascending."""
    groups = np.array([2, 1, 2, 1, 2])
    dist = np.array([5, 3, 5, 3, 9])
    slot = np.array([8, 7, 6, 9, 1])
    rows = first_per_group(groups, dist, slot)
    assert rows.tolist() == [1, 2]


def test_tick_context_index_none_gives_no_contacts(build: Builder) -> None:
    """Before the first index rebuild a contact system sees nothing (no crash)."""
    from server.core.systems.library.common import contacts

    sim = build({}, {"player": ["position", "collider"]}, [])
    ctx = TickContext(1, 20, sim.definition, sim.processor.commands, sim.rng)
    everyone = np.ones(0, dtype=bool)
    a, b, d2 = contacts(sim.world, ctx, everyone, everyone, 1.0)
    assert len(a) == len(b) == len(d2) == 0

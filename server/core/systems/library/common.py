"""Shared integer helpers of the built-in systems: net-id look-up, trig, contacts.

Nothing here loops over entities in Python. The trig table and :func:`isqrt` are exact
enough that a second implementation (the browser's JavaScript replica) can agree bit for
bit: the table is ``round(cos(2*pi*i/4096) * 16384)`` and every entry is at least
:data:`TRIG_MARGIN` away from a rounding boundary (tested), and :func:`isqrt` is the exact
integer square root.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.systems.registry import TickContext
from server.core.world import World

ANGLE_BITS = 12
"""Directions are resolved to 4096 per turn: a uint16 binary angle ``a`` uses ``a >> 4``."""
TRIG_ONE = 1 << 14
"""Fixed-point 1.0 of the trig table (16384)."""
TRIG_MARGIN = 1e-6
"""Every table entry's distance from a .5 rounding boundary exceeds this (see tests)."""

_TURN = 1 << ANGLE_BITS
_RAW = np.arange(_TURN, dtype=np.float64) * (2.0 * np.pi / _TURN)
COS_TABLE: NDArray[np.int64] = np.rint(np.cos(_RAW) * TRIG_ONE).astype(np.int64)
"""``COS_TABLE[i]`` = cos(i / 4096 turn) in units of 1/16384."""
SIN_TABLE: NDArray[np.int64] = np.rint(np.sin(_RAW) * TRIG_ONE).astype(np.int64)
"""``SIN_TABLE[i]`` = sin(i / 4096 turn) in units of 1/16384 (toward +y)."""
del _RAW


def direction(angle: NDArray[Any]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Unit vectors (x, y) in 1/16384 for uint16 binary angles (65536 per turn, 0 = +x)."""
    idx = (np.asarray(angle).astype(np.int64) & 0xFFFF) >> (16 - ANGLE_BITS)
    return COS_TABLE[idx], SIN_TABLE[idx]


def isqrt(n: NDArray[np.int64]) -> NDArray[np.int64]:
    """Exact ``floor(sqrt(n))`` of non-negative int64 values (below 2**62).

    The float64 square root is correctly rounded (IEEE 754), then corrected by one
    where it rounded across an integer, so the result is exact and platform-independent.
    """
    n = np.asarray(n, dtype=np.int64)
    r = np.floor(np.sqrt(n.astype(np.float64))).astype(np.int64)
    r -= (r * r > n).astype(np.int64)
    r += ((r + 1) * (r + 1) <= n).astype(np.int64)
    return r


def seconds_to_ticks(seconds: float, tick_rate_hz: int) -> int:
    """``round(seconds * tick_rate_hz)``, at least 1 for a positive duration, 0 for 0."""
    if seconds <= 0:
        return 0
    return max(1, round(seconds * tick_rate_hz))


def units_to_subunits(ctx: TickContext, units: float) -> int:
    """World units to the world's integer subunits (rounded)."""
    return round(units * ctx.definition.world.subunits_per_unit)


def slots_of_netids(world: World, netids: NDArray[Any]) -> NDArray[np.int64]:
    """Dense slot of each net id, or -1 where no live entity has it.

    Relies on the world's invariant that ``world.netids`` ascends by slot (entities are
    appended with increasing ids and despawn compacts stably), so this is one binary
    search per id.
    """
    ids = np.asarray(netids).astype(np.int64)
    live = world.netids.astype(np.int64)
    if len(live) == 0 or len(ids) == 0:
        return np.full(len(ids), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(live, ids), len(live) - 1)
    return np.where(live[pos] == ids, pos, -1).astype(np.int64)


def radii(world: World, default_units: float, ctx: TickContext) -> NDArray[np.int64]:
    """Collider radius per slot in subunits; 0 (or no collider) means ``default_units``."""
    default_r = units_to_subunits(ctx, default_units)
    if not world.has_component("collider"):
        return np.full(world.count, default_r, dtype=np.int64)
    r = world.col("collider.radius").astype(np.int64)
    return np.where(r > 0, r, default_r)


def contacts(
    world: World,
    ctx: TickContext,
    left: NDArray[np.bool_],
    right: NDArray[np.bool_],
    default_radius_units: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Touching ``(a, b, d2)``: a in ``left``, b in ``right``, a != b, sorted by (a, b).

    Touching means centre distance <= the sum of both radii (:func:`radii`), tested in
    integers; ``d2`` is the squared distance in subunits. Candidates come from the
    spatial index, which is only valid after the ``validate`` phase (no index: no pairs).
    A pair where both entities are in both masks appears in both orientations.
    """
    empty = np.zeros(0, dtype=np.int64)
    index = ctx.index
    if index is None or world.count < 2 or not left.any() or not right.any():
        return empty, empty, empty
    r = radii(world, default_radius_units, ctx)
    scale = ctx.definition.world.subunits_per_unit
    reach_units = (2 * int(r[left | right].max()) + 2) / scale
    p, q = index.candidate_pairs(reach_units)
    if len(p) == 0:
        return empty, empty, empty
    p = p.astype(np.int64)
    q = q.astype(np.int64)
    fwd = left[p] & right[q]
    back = left[q] & right[p]
    a = np.concatenate([p[fwd], q[back]])
    b = np.concatenate([q[fwd], p[back]])
    px = world.col("position.x").astype(np.int64)
    py = world.col("position.y").astype(np.int64)
    dx = px[a] - px[b]
    dy = py[a] - py[b]
    d2 = dx * dx + dy * dy
    reach = r[a] + r[b]
    hit = d2 <= reach * reach
    a, b, d2 = a[hit], b[hit], d2[hit]
    order = np.lexsort((b, a))
    return a[order], b[order], d2[order]


def first_per_group(groups: NDArray[np.int64], *keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """Indices of the first row of each group when rows are sorted by ``keys`` in a group.

    ``keys`` are tie-breakers in priority order (e.g. distance, then slot); the result
    picks, for each distinct value of ``groups``, the row with the smallest keys.
    """
    if len(groups) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((*reversed(keys), groups))
    first = np.ones(len(order), dtype=bool)
    first[1:] = groups[order][1:] != groups[order][:-1]
    return order[first].astype(np.int64)


def add_clipped(col: NDArray[Any], slots: NDArray[np.int64], delta: NDArray[Any] | int) -> None:
    """``col[slots] += delta`` with repeated slots summed, clipped to the column's dtype."""
    if len(slots) == 0:
        return
    acc = np.zeros(len(col), dtype=np.int64)
    np.add.at(acc, slots, np.broadcast_to(np.asarray(delta, dtype=np.int64), slots.shape))
    touched = np.unique(slots)
    info = np.iinfo(col.dtype) if col.dtype.kind in "iu" else None
    value = col[touched].astype(np.int64) + acc[touched]
    if info is not None:
        value = np.clip(value, info.min, info.max)
    col[touched] = value


def field_mask(world: World, key: str) -> NDArray[np.bool_]:
    """Entities whose component of ``"component.field"`` is present."""
    return world.mask(key.split(".", 1)[0])


def archetype_values(ctx: TickContext, archetype: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` restricted to the fields whose component ``archetype`` has."""
    comps = set(ctx.definition.archetype(archetype).components)
    return {k: v for k, v in values.items() if k.split(".", 1)[0] in comps}

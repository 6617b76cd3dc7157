"""The "it" flag of tag games: ``tag_transfer``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from server.core.systems.library.common import contacts, first_per_group, seconds_to_ticks
from server.core.systems.registry import ParamSpec, TickContext, system
from server.core.world import World


@system(
    "tag_transfer",
    requires=("tag", "position"),
    params={
        "radius_units": ParamSpec(float, 2.0, 0.0, 1000.0, "radius where collider.radius is 0"),
        "delay_s": ParamSpec(float, 1.0, 0.0, 3600.0, "a new 'it' cannot tag for this long"),
        "min_players": ParamSpec(int, 2, 1, 1_000_000, "fewest taggable entities to pick an 'it'"),
    },
    phases=("post_update",),
)
def tag_transfer(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Pass ``tag.it`` from an "it" entity to the entity it touches.

    Components: ``tag.it`` (bool), ``tag.ready_at`` (int32 tick). When no entity is
    "it" and at least ``min_players`` have ``tag``, one is chosen with ``ctx.rng``.
    Each tick, every "it" entity whose ``ready_at`` has come and that touches others
    (radii as in :func:`~server.core.systems.library.common.contacts`) passes the flag
    to the nearest (ties: the lowest slot); the new "it" gets ``ready_at = tick +
    delay`` (no tag-backs, no instant chains). Emits ``tagged`` (``target``: the new
    "it", ``by``: the previous one, 0 for a random pick).
    """
    m = world.mask("tag", "position")
    n = int(m.sum())
    if n == 0:
        return
    it = world.col("tag.it")
    ready_at = world.col("tag.ready_at")
    delay = seconds_to_ticks(float(params["delay_s"]), ctx.tick_rate_hz)
    netids = world.netids.astype(np.int64)
    if not (it & m).any():
        if n < int(params["min_players"]):
            return
        chosen = np.flatnonzero(m)[int(ctx.rng.integers(0, n))]
        it[chosen] = True
        ready_at[chosen] = ctx.tick + delay
        ctx.emit("tagged", target=netids[[chosen]], by=0)
        return
    taggers = m & it & (ready_at <= ctx.tick)
    a, b, d2 = contacts(world, ctx, taggers, m & ~it, float(params["radius_units"]))
    if len(a) == 0:
        return
    pick = first_per_group(a, d2, b)
    a, b = a[pick], b[pick]
    once = first_per_group(b, a)
    a, b = a[once], b[once]
    it[a] = False
    it[b] = True
    ready_at[b] = ctx.tick + delay
    ctx.emit("tagged", target=netids[b], by=netids[a])

"""Entities that expire: after a number of ticks, or when they leave the world."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from server.core.systems.library.common import units_to_subunits
from server.core.systems.registry import ParamSpec, TickContext, system
from server.core.world import World


@system(
    "lifetime",
    requires=("lifetime",),
    params={
        "ticks": ParamSpec(int, 30, 1, 1_000_000, "ticks an entity lives (age at despawn)"),
    },
)
def lifetime(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Age every entity with ``lifetime`` by one tick; despawn those older than ``ticks``.

    Component ``lifetime.age`` (any integer dtype, ticks; spawn it at 0). An entity
    exists at the end of exactly ``ticks`` ticks (counting the tick it spawned in when
    it spawned before this system ran), then the despawn is applied.
    """
    m = world.mask("lifetime")
    if not m.any():
        return
    age = world.col("lifetime.age")
    age[m] += 1
    expired = m & (age > int(params["ticks"]))
    if expired.any():
        ctx.commands.despawn(world.col("entity")[expired])


@system(
    "despawn_outside",
    requires=("position",),
    params={
        "component": ParamSpec(str, "lifetime", doc="only entities with this component"),
        "margin_units": ParamSpec(float, 0.0, 0.0, 1e6, "distance allowed past the edge"),
    },
    phases=("update", "validate", "post_update"),
)
def despawn_outside(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Despawn entities with ``component`` whose position left the world (plus margin).

    Run it before ``bounce_at_edges`` in the same phase so projectiles vanish at the
    edge instead of bouncing (the despawn is applied when the phase ends).
    """
    m = world.mask(str(params["component"]), "position")
    if not m.any():
        return
    w = ctx.definition.world
    margin = units_to_subunits(ctx, float(params["margin_units"]))
    px = world.col("position.x").astype(np.int64)
    py = world.col("position.y").astype(np.int64)
    xmax = units_to_subunits(ctx, w.width_units) + margin
    ymax = units_to_subunits(ctx, w.height_units) + margin
    out = m & ((px < -margin) | (py < -margin) | (px > xmax) | (py > ymax))
    if out.any():
        ctx.commands.despawn(world.col("entity")[out])

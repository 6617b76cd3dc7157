"""Commanded units (real-time strategy): squads, rally points, steering, separation.

A player entity is its squad's rally point: ``rally_to_input`` moves it to the target its
player sends, ``follow_owner`` steers every unit toward its owner's position and
``separate`` pushes overlapping units apart, so a squad spreads around the rally point
instead of stacking on it. All integer; lockstep-safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from server.core.systems.library.common import (
    TRIG_ONE,
    contacts,
    direction,
    isqrt,
    slots_of_netids,
    units_to_subunits,
)
from server.core.systems.registry import ParamSpec, TickContext, system
from server.core.world import World


@system(
    "spawn_squad",
    requires=("squad", "position"),
    params={
        "archetype": ParamSpec(str, "unit", doc="archetype of the units (with owner.netid)"),
        "count": ParamSpec(int, 5, 1, 1000, "units per player"),
        "spread_units": ParamSpec(float, 10.0, 0.0, 1e5, "ring radius around the player"),
    },
    phases=("pre_update", "update"),
)
def spawn_squad(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Give each new ``squad`` entity ``count`` units; despawn units whose owner is gone.

    New: ``squad.spawned`` is 0 (it is set to 1). Units are placed on a ring of
    ``spread_units`` around the owner (equal angles, integer trig), with ``owner.netid``
    = the owner's net id and zero velocity. Orphans: entities of ``archetype`` whose
    ``owner.netid`` names no live entity (their player left).
    """
    archetype = str(params["archetype"])
    kind = ctx.definition.archetype(archetype).kind_id
    units = world.col("kind") == kind
    if units.any():
        owners = world.col("owner.netid")[units]
        orphan = slots_of_netids(world, owners) < 0
        if orphan.any():
            ctx.commands.despawn(world.col("entity")[units][orphan])
    m = world.mask("squad", "position") & (world.col("squad.spawned") == 0)
    players = np.flatnonzero(m)
    if len(players) == 0:
        return
    world.col("squad.spawned")[players] = 1
    count = int(params["count"])
    spread = units_to_subunits(ctx, float(params["spread_units"]))
    angles = (np.arange(count, dtype=np.int64) * 65536) // count
    ux, uy = direction(angles)
    w = ctx.definition.world
    xmax = units_to_subunits(ctx, w.width_units)
    ymax = units_to_subunits(ctx, w.height_units)
    px = np.repeat(world.col("position.x")[players].astype(np.int64), count)
    py = np.repeat(world.col("position.y")[players].astype(np.int64), count)
    values = {
        "position.x": np.clip(px + np.tile((ux * spread) // TRIG_ONE, len(players)), 0, xmax),
        "position.y": np.clip(py + np.tile((uy * spread) // TRIG_ONE, len(players)), 0, ymax),
        "owner.netid": np.repeat(world.netids[players].astype(np.int64), count),
    }
    ctx.commands.spawn_many(archetype, count * len(players), values)


@system(
    "rally_to_input",
    requires=("input", "position"),
    params={
        "x_field": ParamSpec(str, "input.target_x", doc="int input: target x in world units"),
        "y_field": ParamSpec(str, "input.target_y", doc="int input: target y in world units"),
    },
    phases=("input", "pre_update"),
)
def rally_to_input(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Move each input entity to its target (world units, clamped to the world).

    A target of (0, 0) means "no order yet" and leaves the entity where it is.
    """
    m = world.mask("input", "position")
    tx = world.col(str(params["x_field"])).astype(np.int64)
    ty = world.col(str(params["y_field"])).astype(np.int64)
    ordered = m & ((tx != 0) | (ty != 0))
    if not ordered.any():
        return
    w = ctx.definition.world
    scale = w.subunits_per_unit
    xmax = units_to_subunits(ctx, w.width_units)
    ymax = units_to_subunits(ctx, w.height_units)
    world.col("position.x")[ordered] = np.clip(tx[ordered] * scale, 0, xmax)
    world.col("position.y")[ordered] = np.clip(ty[ordered] * scale, 0, ymax)


@system(
    "follow_owner",
    requires=("owner", "position", "velocity"),
    params={
        "speed_units_per_s": ParamSpec(float, 40.0, 0.0, 100_000.0, "steering speed"),
        "arrive_units": ParamSpec(float, 2.0, 0.0, 1e5, "stop within this distance"),
    },
    phases=("pre_update", "update"),
)
def follow_owner(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Set each owned entity's velocity toward its owner's position.

    ``v = d * speed // |d|`` (integer, ``|d|`` by :func:`isqrt`), zero within
    ``arrive_units`` or when the owner is gone.
    """
    m = world.mask("owner", "position", "velocity")
    if not m.any():
        return
    idx = np.flatnonzero(m)
    owner = slots_of_netids(world, world.col("owner.netid")[idx])
    px = world.col("position.x").astype(np.int64)
    py = world.col("position.y").astype(np.int64)
    ok = owner >= 0
    safe = np.where(ok, owner, idx)
    dx = np.where(ok, px[safe] - px[idx], 0)
    dy = np.where(ok, py[safe] - py[idx], 0)
    dist = isqrt(dx * dx + dy * dy)
    arrive = units_to_subunits(ctx, float(params["arrive_units"]))
    go = dist > max(arrive, 0)
    speed = units_to_subunits(ctx, float(params["speed_units_per_s"]))
    den = np.maximum(dist, 1)
    world.col("velocity.x")[idx] = np.where(go, (dx * speed) // den, 0)
    world.col("velocity.y")[idx] = np.where(go, (dy * speed) // den, 0)


@system(
    "separate",
    requires=("position", "collider"),
    params={
        "component": ParamSpec(str, "collider", doc="only entities with this component"),
        "radius_units": ParamSpec(float, 2.0, 0.0, 1000.0, "radius where collider.radius is 0"),
        "strength": ParamSpec(float, 0.5, 0.0, 1.0, "share of an overlap resolved per tick"),
    },
    phases=("post_update",),
)
def separate(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Push overlapping entities apart along the line between their centres.

    For a pair at distance ``d`` with radii summing to ``reach > d``, each moves
    ``max(1, (reach - d) * s // 512)`` subunits away from the other, ``s =
    round(strength * 256)``; coincident centres separate along x (lower slot to -x).
    Pushes add up over pairs and positions stay in the world. Runs on the index from
    ``validate``, so the index the sync layer reads is a tick's push behind.
    """
    m = world.mask(str(params["component"]), "position", "collider")
    a, b, d2 = contacts(world, ctx, m, m, float(params["radius_units"]))
    keep = a < b
    a, b, d2 = a[keep], b[keep], d2[keep]
    if len(a) == 0:
        return
    scale = ctx.definition.world.subunits_per_unit
    default_r = round(float(params["radius_units"]) * scale)
    r = world.col("collider.radius").astype(np.int64)
    r = np.where(r > 0, r, default_r)
    d = isqrt(d2)
    overlap = r[a] + r[b] - d
    s = round(float(params["strength"]) * 256)
    push = np.maximum(1, (overlap * s) // 512)
    px = world.col("position.x")
    py = world.col("position.y")
    dx = px[b].astype(np.int64) - px[a]
    dy = py[b].astype(np.int64) - py[a]
    den = np.maximum(d, 1)
    ux = np.where(d > 0, (dx * push) // den, push)
    uy = np.where(d > 0, (dy * push) // den, 0)
    mx = np.zeros(world.count, dtype=np.int64)
    my = np.zeros(world.count, dtype=np.int64)
    np.add.at(mx, a, -ux)
    np.add.at(mx, b, ux)
    np.add.at(my, a, -uy)
    np.add.at(my, b, uy)
    w = ctx.definition.world
    moved = np.unique(np.concatenate([a, b]))
    px[moved] = np.clip(px[moved] + mx[moved], 0, round(w.width_units * scale))
    py[moved] = np.clip(py[moved] + my[moved], 0, round(w.height_units * scale))

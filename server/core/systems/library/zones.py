"""Areas of the world that trigger events or score: ``zones``.

One pipeline step is one zone (list the system several times for several zones; give
each its own ``id``). Shape: a circle of ``radius_units`` around ``(x_units, y_units)``,
or, with radius 0, the ``width_units x height_units`` rectangle centred there.
Inclusion is an integer test on the fixed-point positions (edges inclusive).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.systems.library.common import (
    add_clipped,
    seconds_to_ticks,
    slots_of_netids,
    units_to_subunits,
)
from server.core.systems.registry import ParamSpec, TickContext, system
from server.core.world import World

MODES = ("event", "score", "capture")


def inside_zone(world: World, ctx: TickContext, params: Mapping[str, Any]) -> NDArray[np.bool_]:
    """Per slot: whether the entity's position lies in the zone ``params`` describe."""
    cx = units_to_subunits(ctx, float(params["x_units"]))
    cy = units_to_subunits(ctx, float(params["y_units"]))
    dx = world.col("position.x").astype(np.int64) - cx
    dy = world.col("position.y").astype(np.int64) - cy
    r = units_to_subunits(ctx, float(params["radius_units"]))
    if r > 0:
        result: NDArray[np.bool_] = dx * dx + dy * dy <= r * r
        return result
    hw = units_to_subunits(ctx, float(params["width_units"]) / 2)
    hh = units_to_subunits(ctx, float(params["height_units"]) / 2)
    result = (np.abs(dx) <= hw) & (np.abs(dy) <= hh)
    return result


@system(
    "zones",
    requires=("position",),
    params={
        "id": ParamSpec(int, 0, 0, 31, "the zone's number in events and zone.inside bits"),
        "mode": ParamSpec(str, "score", doc="event | score | capture"),
        "x_units": ParamSpec(float, None, 0.0, 1e6, "centre x"),
        "y_units": ParamSpec(float, None, 0.0, 1e6, "centre y"),
        "radius_units": ParamSpec(float, 0.0, 0.0, 1e6, "circle radius (0: a rectangle)"),
        "width_units": ParamSpec(float, 0.0, 0.0, 1e6, "rectangle width"),
        "height_units": ParamSpec(float, 0.0, 0.0, 1e6, "rectangle height"),
        "who": ParamSpec(str, "position", doc="only entities with this component count"),
        "every_s": ParamSpec(float, 1.0, 0.001, 3600.0, "seconds between awards"),
        "points": ParamSpec(int, 1, -1_000_000, 1_000_000, "points per award"),
        "score_field": ParamSpec(str, "score.points", doc="the column awarded"),
        "credit_field": ParamSpec(str, "", doc="net-id column naming who is credited"),
    },
)
def zones(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Events or points for the entities (with component ``who``) inside one zone.

    ``mode = "event"``: emits ``zone_entered`` / ``zone_left`` (``zone``, ``who``) when an
    entity crosses the edge; bit ``id`` of its ``zone.inside`` (uint32) remembers it.
    ``"score"``: every ``every_s``, each entity inside gets ``points`` in ``score_field``.
    ``"capture"``: every ``every_s``, whoever has strictly the most entities inside
    gets ``points`` and the event ``zone_scored`` (``zone``, ``by``, ``count``).
    With ``credit_field`` (e.g. ``owner.netid``) an entity counts for, and points go
    to, the entity whose net id is in that column (a unit scores for its player).
    """
    mode = str(params["mode"])
    if mode not in MODES:
        raise ValueError(f"zones: mode must be one of {', '.join(MODES)}, got {mode!r}")
    who = world.mask(str(params["who"]), "position")
    inside = who & inside_zone(world, ctx, params)
    zone = int(params["id"])
    netids = world.netids.astype(np.int64)
    if mode == "event":
        bit = np.uint32(1 << zone)
        m = who & world.mask("zone")
        flags = world.col("zone.inside")
        was = (flags & bit) != 0
        entered = m & inside & ~was
        left = m & ~inside & was
        flags[entered] |= bit
        flags[left] &= ~bit
        ctx.emit("zone_entered", zone=zone, who=netids[entered])
        ctx.emit("zone_left", zone=zone, who=netids[left])
        return
    every = seconds_to_ticks(float(params["every_s"]), ctx.tick_rate_hz)
    if ctx.tick % every != 0 or not inside.any():
        return
    credit_key = str(params["credit_field"])
    credited = world.col(credit_key)[inside].astype(np.int64) if credit_key else netids[inside]
    key = str(params["score_field"])
    has = world.mask(key.split(".", 1)[0])
    points = int(params["points"])
    if mode == "score":
        slots = slots_of_netids(world, credited)
        slots = slots[slots >= 0]
        add_clipped(world.col(key), slots[has[slots]], points)
        return
    ids, counts = np.unique(credited, return_counts=True)
    best = counts.max()
    if int((counts == best).sum()) != 1:
        return
    winner = ids[counts == best]
    slots = slots_of_netids(world, winner)
    slots = slots[slots >= 0]
    add_clipped(world.col(key), slots[has[slots]], points)
    ctx.emit("zone_scored", zone=zone, by=winner, count=int(best))

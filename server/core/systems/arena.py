"""The arena systems: inputs to velocity, movement, edge bounce, collision.

Positions are int32 fixed-point subunits, velocities int32 subunits per second
(``world.subunits_per_unit`` subunits per world unit). All arithmetic is integer so
every lockstep replica computes the same bits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from server.core.systems.registry import ParamSpec, TickContext, system
from server.core.world import World

INPUT_SCALE = 127
"""Inputs are quantized on receipt to -127..127 (see docs/protocol.md, ``input``)."""


@system(
    "apply_inputs",
    requires=("input", "velocity"),
    params={
        "speed_units_per_s": ParamSpec(float, 80.0, 0.0, 10_000.0, "full-stick speed"),
    },
    phases=("input", "pre_update"),
    batch_writes=("velocity.x", "velocity.y"),
)
def apply_inputs(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Set each player's velocity from its stick input (-127..127 per axis)."""
    m = world.mask("input", "velocity")
    if not m.any():
        return
    speed = int(params["speed_units_per_s"] * ctx.definition.world.subunits_per_unit)
    ix = world.col("input.x")[m].astype(np.int64)
    iy = world.col("input.y")[m].astype(np.int64)
    world.col("velocity.x")[m] = (ix * speed) // INPUT_SCALE
    world.col("velocity.y")[m] = (iy * speed) // INPUT_SCALE


@system(
    "move",
    requires=("position", "velocity"),
    phases=("update",),
    batch_writes=("position.x", "position.y"),
)
def move(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Advance positions by one tick of velocity: ``p += v // tick_rate_hz`` (integer)."""
    px = world.col("position.x")
    py = world.col("position.y")
    vx = world.col("velocity.x")
    vy = world.col("velocity.y")
    rate = ctx.tick_rate_hz
    # Entities without velocity have zero velocity columns, so no mask is needed.
    np.add(px, vx // rate, out=px, casting="unsafe")
    np.add(py, vy // rate, out=py, casting="unsafe")


@system(
    "bounce_at_edges",
    requires=("position", "velocity"),
    phases=("validate", "update"),
    batch_writes=("position.x", "position.y", "velocity.x", "velocity.y"),
)
def bounce_at_edges(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Reflect entities that left ``[0, width] x [0, height]`` back in and flip their velocity."""
    w = ctx.definition.world
    for axis, limit_units in (("x", w.width_units), ("y", w.height_units)):
        limit = int(limit_units * w.subunits_per_unit)
        p = world.col(f"position.{axis}")
        v = world.col(f"velocity.{axis}")
        low = p < 0
        high = p > limit
        if low.any():
            p[low] = np.minimum(-p[low], limit)
            v[low] = np.abs(v[low])
        if high.any():
            p[high] = np.maximum(2 * limit - p[high], 0)
            v[high] = -np.abs(v[high])


@system(
    "collide",
    requires=("position", "velocity", "collider"),
    params={"radius_units": ParamSpec(float, 2.0, 0.0, 1000.0, "default collider radius")},
    phases=("post_update",),
    batch_writes=("velocity.x", "velocity.y"),
)
def collide(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Reverse the velocity of every entity overlapping another (pairs from the index).

    Overlap: centre distance <= the sum of both radii, where a collider radius of 0
    means ``radius_units``. Candidate pairs come from the spatial index (built on slots)
    at the largest possible distance; the exact test is integer arithmetic.
    """
    index = ctx.index
    if index is None or world.count < 2:
        ctx.stats["contacts"] = 0.0
        return
    scale = ctx.definition.world.subunits_per_unit
    default_r = int(params["radius_units"] * scale)
    r = world.col("collider.radius").astype(np.int64)
    r = np.where(r > 0, r, default_r)
    max_r = int(r.max()) if len(r) else default_r
    a, b = index.candidate_pairs(2.0 * max_r / scale)
    if len(a) == 0:
        ctx.stats["contacts"] = 0.0
        return
    px = world.col("position.x").astype(np.int64)
    py = world.col("position.y").astype(np.int64)
    dx = px[a] - px[b]
    dy = py[a] - py[b]
    reach = r[a] + r[b]
    hit = dx * dx + dy * dy <= reach * reach
    a, b = a[hit], b[hit]
    ctx.stats["contacts"] = float(len(a))
    if len(a) == 0:
        return
    touched = np.zeros(world.count, dtype=bool)
    touched[a] = True
    touched[b] = True
    touched &= world.mask("velocity")
    world.col("velocity.x")[touched] *= -1
    world.col("velocity.y")[touched] *= -1

"""Shooting, damage and health: ``fire_projectile``, ``hitscan``, ``damage_on_contact``, ``health``.

Weapons declare ``lag_compensation``: ``"none"`` shoots into the world as it is now;
``"rewind"`` (needs ``[lag_compensation]``) judges the shot against what the shooter saw
when it fired (its ``INPUT`` view time, ``ctx.rewind``): a hitscan ray is tested against
the rewound targets, a projectile is spawned as far along its path as the shooter's
latency (the ticks between its view and now, at most the history). The world itself is
never rolled back.

Components these systems expect (declare them in the definition):

- shooter: ``input.buttons`` (uint16), ``input.aim`` (uint16 binary angle),
  ``position``, ``weapon.ready_at`` (int32, the tick from which it may fire again);
- projectile archetype: ``position``, ``velocity`` and, when declared, ``owner.netid``
  (the shooter's net id), ``lifetime.age`` (0 at spawn), ``damage.amount``;
- target: ``health.hp`` (signed or unsigned int), ``health.alive`` (bool),
  ``health.respawn_at`` (int32 tick), ``health.last_by`` (uint32 net id of the last
  entity credited with damage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from server.core.systems.library.common import (
    TRIG_ONE,
    archetype_values,
    contacts,
    direction,
    first_per_group,
    radii,
    seconds_to_ticks,
    slots_of_netids,
    units_to_subunits,
)
from server.core.systems.registry import ParamSpec, TickContext, system
from server.core.world import World

LAG_CHOICES = ("rewind", "none")
LAG_DOC = "rewind: judge the shot by what the shooter saw (needs [lag_compensation])"


@system(
    "fire_projectile",
    requires=("input", "position", "weapon"),
    params={
        "bit": ParamSpec(int, 0, 0, 15, "the input.buttons bit that fires (bits[i] of [input])"),
        "cooldown_s": ParamSpec(float, 0.25, 0.0, 3600.0, "seconds between two shots"),
        "speed_units_per_s": ParamSpec(float, 300.0, 0.0, 100_000.0, "projectile speed"),
        "offset_units": ParamSpec(float, 0.0, 0.0, 1000.0, "spawn distance ahead of the shooter"),
        "damage": ParamSpec(int, 10, 0, 1_000_000, "written to damage.amount"),
        "archetype": ParamSpec(str, "projectile", doc="archetype of the spawned projectile"),
        "lag_compensation": ParamSpec(str, "none", doc=LAG_DOC, choices=LAG_CHOICES),
    },
    phases=("input", "pre_update", "update"),
)
def fire_projectile(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Spawn a projectile for every ready shooter holding the fire bit, aimed by ``input.aim``.

    Direction: the aim's binary angle resolved to 4096 per turn through the integer trig
    table; velocity ``= dir * speed >> 14`` subunits/s. A shooter with a ``health``
    component fires only while ``health.alive``. Sets ``weapon.ready_at = tick +
    cooldown``. Emits ``fired`` (``by``: shooter net id, ``projectile``: its net id).
    With ``lag_compensation = "rewind"`` the projectile starts ``lag`` ticks along its
    path, ``lag = clip(tick - view_tick, 0, history limit)`` (``ctx.view_of``):
    ``p += v * lag // tick_rate_hz``.
    """
    m = world.mask("input", "position", "weapon")
    if not m.any():
        return
    bit = int(params["bit"])
    pressed = ((world.col("input.buttons").astype(np.int64) >> bit) & 1).astype(bool)
    ready_at = world.col("weapon.ready_at")
    fire = m & pressed & (ready_at <= ctx.tick)
    if world.has_component("health"):
        fire &= ~world.mask("health") | world.col("health.alive")
    n = int(fire.sum())
    if n == 0:
        return
    ready_at[fire] = ctx.tick + seconds_to_ticks(float(params["cooldown_s"]), ctx.tick_rate_hz)
    ux, uy = direction(world.col("input.aim")[fire])
    speed = units_to_subunits(ctx, float(params["speed_units_per_s"]))
    offset = units_to_subunits(ctx, float(params["offset_units"]))
    owner = world.netids[fire].astype(np.int64)
    archetype = str(params["archetype"])
    vx = (ux * speed) // TRIG_ONE
    vy = (uy * speed) // TRIG_ONE
    lead_x = (ux * offset) // TRIG_ONE
    lead_y = (uy * offset) // TRIG_ONE
    if params["lag_compensation"] == "rewind" and ctx.history is not None:
        view, _, _ = ctx.view_of(world, np.flatnonzero(fire))
        lag = np.clip(ctx.tick - view, 0, ctx.history.limit)
        lead_x = lead_x + vx * lag // ctx.tick_rate_hz
        lead_y = lead_y + vy * lag // ctx.tick_rate_hz
    values = archetype_values(
        ctx,
        archetype,
        {
            "position.x": world.col("position.x")[fire] + lead_x,
            "position.y": world.col("position.y")[fire] + lead_y,
            "velocity.x": vx,
            "velocity.y": vy,
            "owner.netid": owner,
            "lifetime.age": 0,
            "damage.amount": int(params["damage"]),
        },
    )
    eids = ctx.commands.spawn_many(archetype, n, values)
    netid0 = ctx.commands.pending_netid(eids[0])
    projectile = np.arange(n, dtype=np.int64) + (netid0 if netid0 is not None else 0)
    ctx.emit("fired", by=owner, projectile=projectile)


@system(
    "hitscan",
    requires=("input", "position", "weapon"),
    params={
        "bit": ParamSpec(int, 1, 0, 15, "the input.buttons bit that fires (bits[i] of [input])"),
        "cooldown_s": ParamSpec(float, 0.5, 0.0, 3600.0, "seconds between two shots"),
        "range_units": ParamSpec(float, 150.0, 0.0, 1e6, "how far the ray reaches"),
        "damage": ParamSpec(int, 25, 0, 1_000_000, "hit points taken from the target"),
        "radius_units": ParamSpec(float, 2.0, 0.0, 1000.0, "target radius without a hitbox"),
        "lag_compensation": ParamSpec(str, "rewind", doc=LAG_DOC, choices=LAG_CHOICES),
    },
    phases=("input", "pre_update", "update"),
)
def hitscan(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """An instant shot along ``input.aim`` for every ready shooter holding the fire bit.

    The ray starts at the shooter's position (now; never rewound) in the direction
    ``(ux, uy)`` of :func:`direction` (1/16384). A target is a living ``health`` entity
    other than the shooter, at ``(tx, ty)`` with radius ``r`` (the history's hitbox, else
    ``collider.radius``, 0 meaning ``radius_units``): with ``d = t - s`` in subunits,
    ``along = dx*ux + dy*uy`` and ``across = dx*uy - dy*ux``, it is hit when
    ``0 <= along <= range * 16384`` and ``|across| <= r * 16384`` (integers). The
    nearest hit (smallest ``along``, then lowest net id) takes ``damage`` (``hp`` never
    below 0, ``health.last_by`` = shooter). ``"rewind"``: the targets are where
    ``ctx.rewind`` puts them for the shooter's view (ticks and alpha from its input, or
    the last tick without one) -- only entities alive now can be hit; ``"none"``: where
    they are now. Emits ``hit`` (``target``, ``by``, ``damage``) in shooter order and
    sets ``weapon.ready_at``.
    """
    m = world.mask("input", "position", "weapon")
    if not m.any() or not world.has_component("health"):
        return
    bit = int(params["bit"])
    pressed = ((world.col("input.buttons").astype(np.int64) >> bit) & 1).astype(bool)
    ready_at = world.col("weapon.ready_at")
    alive = world.mask("health") & world.col("health.alive")
    fire = m & pressed & (ready_at <= ctx.tick) & (alive | ~world.mask("health"))
    shooters = np.flatnonzero(fire)
    n = len(shooters)
    if n == 0:
        return
    ready_at[fire] = ctx.tick + seconds_to_ticks(float(params["cooldown_s"]), ctx.tick_rate_hz)
    ux, uy = direction(world.col("input.aim")[shooters])
    default_r = radii(world, float(params["radius_units"]), ctx)
    if params["lag_compensation"] == "rewind" and ctx.history is not None:
        view, alpha, _ = ctx.view_of(world, shooters)
        past = ctx.rewind(view, alpha)
        slots = slots_of_netids(world, past.netids.ravel()).reshape(past.netids.shape)
        ok = past.valid & (slots >= 0)
        tx, ty = past.x, past.y
        r = default_r[np.maximum(slots, 0)]
        if past.radius is not None:
            r = np.where(past.radius > 0, past.radius, r)
    else:
        targets = np.flatnonzero(alive)
        slots = np.broadcast_to(targets, (n, len(targets)))
        ok = np.ones(slots.shape, dtype=bool)
        tx = np.broadcast_to(world.col("position.x")[targets].astype(np.int64), slots.shape)
        ty = np.broadcast_to(world.col("position.y")[targets].astype(np.int64), slots.shape)
        r = default_r[slots]
    if slots.size == 0:
        return
    ok &= alive[np.maximum(slots, 0)] & (slots != shooters[:, None])
    sx = world.col("position.x")[shooters].astype(np.int64)[:, None]
    sy = world.col("position.y")[shooters].astype(np.int64)[:, None]
    dx, dy = tx - sx, ty - sy
    along = dx * ux[:, None] + dy * uy[:, None]
    across = dx * uy[:, None] - dy * ux[:, None]
    reach = units_to_subunits(ctx, float(params["range_units"])) * TRIG_ONE
    hit = ok & (along >= 0) & (along <= reach) & (np.abs(across) <= r * TRIG_ONE)
    rows = np.flatnonzero(hit.any(axis=1))
    if len(rows) == 0:
        return
    key = np.where(hit, along, np.iinfo(np.int64).max)[rows]
    best = np.argmin(key, axis=1)  # ties: the first column, i.e. the lowest net id
    target = slots[rows, best]
    by = world.netids[shooters[rows]].astype(np.int64)
    damage = int(params["damage"])
    hp = world.col("health.hp")
    total = np.zeros(world.count, dtype=np.int64)
    np.add.at(total, target, damage)
    hurt = np.unique(target)
    hp[hurt] = np.clip(hp[hurt].astype(np.int64) - total[hurt], 0, None)
    last = first_per_group(target, -np.arange(len(target), dtype=np.int64))
    world.col("health.last_by")[target[last]] = by[last]
    ctx.emit("hit", target=world.netids[target].astype(np.int64), by=by, damage=damage)


@system(
    "damage_on_contact",
    requires=("damage", "owner", "health"),
    params={
        "radius_units": ParamSpec(float, 1.0, 0.0, 1000.0, "radius where collider.radius is 0"),
        "despawn": ParamSpec(bool, True, doc="despawn a projectile that hit"),
    },
    phases=("post_update",),
)
def damage_on_contact(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Entities with ``damage`` hurt the living ``health`` entities they touch.

    Pairs come from the spatial index (run in ``post_update``). A damage entity never
    hurts its own ``owner.netid`` and hits at most one target per tick: the nearest
    (ties: the lowest slot). ``health.hp -= damage.amount`` (never below 0),
    ``health.last_by`` = the owner of the latest-spawned projectile that hit. Emits
    ``hit`` (``target``, ``by``: owner net id, ``damage``), in projectile order.
    """
    src = world.mask("damage", "owner")
    dst = world.mask("health") & world.col("health.alive")
    a, b, d2 = contacts(world, ctx, src, dst, float(params["radius_units"]))
    if len(a) == 0:
        return
    netids = world.netids.astype(np.int64)
    owner = world.col("owner.netid").astype(np.int64)
    own = owner[a] == netids[b]
    a, b, d2 = a[~own], b[~own], d2[~own]
    pick = first_per_group(a, d2, b)
    a, b = a[pick], b[pick]
    if len(a) == 0:
        return
    amount = world.col("damage.amount").astype(np.int64)[a]
    hp = world.col("health.hp")
    total = np.zeros(world.count, dtype=np.int64)
    np.add.at(total, b, amount)
    targets = np.unique(b)
    hp[targets] = np.clip(hp[targets].astype(np.int64) - total[targets], 0, None)
    last = first_per_group(b, -a)
    world.col("health.last_by")[b[last]] = owner[a[last]]
    ctx.emit("hit", target=netids[b], by=owner[a], damage=amount)
    if params["despawn"]:
        ctx.commands.despawn(world.col("entity")[a])


@system(
    "health",
    requires=("health", "position"),
    params={
        "max_hp": ParamSpec(int, 100, 1, 1_000_000, "hit points at spawn and respawn"),
        "respawn_s": ParamSpec(float, 2.0, 0.0, 3600.0, "seconds dead before respawning"),
        "spawn_x_units": ParamSpec(float, 0.0, 0.0, 1e6, "spawn rectangle left edge"),
        "spawn_y_units": ParamSpec(float, 0.0, 0.0, 1e6, "spawn rectangle top edge"),
        "spawn_width_units": ParamSpec(float, 0.0, 0.0, 1e6, "0: to the world's right edge"),
        "spawn_height_units": ParamSpec(float, 0.0, 0.0, 1e6, "0: to the world's bottom edge"),
    },
    phases=("pre_update", "update", "post_update"),
)
def health(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Deaths and respawns of entities with ``health``.

    In this order, each tick: a living entity with ``hp <= 0`` dies (``alive`` false,
    ``respawn_at = tick + respawn``, event ``died`` with ``target`` and ``by`` =
    ``health.last_by``); a dead entity whose ``respawn_at`` has come (a new entity has
    ``respawn_at`` 0, so it spawns at once) gets ``max_hp``, a position drawn from
    ``ctx.rng`` in the spawn rectangle (subunits, uniform) and ``alive`` (event
    ``respawned`` with ``target``); the dead have zero velocity. Run it after
    ``apply_inputs`` so the dead stand still.
    """
    m = world.mask("health")
    if not m.any():
        return
    alive = world.col("health.alive")
    hp = world.col("health.hp")
    respawn_at = world.col("health.respawn_at")
    netids = world.netids.astype(np.int64)
    died = m & alive & (hp <= 0)
    if died.any():
        alive[died] = False
        respawn_at[died] = ctx.tick + seconds_to_ticks(float(params["respawn_s"]), ctx.tick_rate_hz)
        ctx.emit(
            "died",
            target=netids[died],
            by=world.col("health.last_by")[died].astype(np.int64),
        )
    due = m & ~alive & (respawn_at <= ctx.tick)
    n = int(due.sum())
    if n:
        w = ctx.definition.world
        x0 = units_to_subunits(ctx, float(params["spawn_x_units"]))
        y0 = units_to_subunits(ctx, float(params["spawn_y_units"]))
        width = float(params["spawn_width_units"]) or w.width_units - float(params["spawn_x_units"])
        height = float(params["spawn_height_units"]) or w.height_units - float(
            params["spawn_y_units"]
        )
        x1 = max(x0, x0 + units_to_subunits(ctx, width))
        y1 = max(y0, y0 + units_to_subunits(ctx, height))
        world.col("position.x")[due] = ctx.rng.integers(x0, x1 + 1, n, dtype=np.int64)
        world.col("position.y")[due] = ctx.rng.integers(y0, y1 + 1, n, dtype=np.int64)
        hp[due] = int(params["max_hp"])
        alive[due] = True
        world.col("health.last_by")[due] = 0
        ctx.emit("respawned", target=netids[due])
    if world.has_component("velocity"):
        dead = m & ~alive
        if dead.any():
            world.col("velocity.x")[dead] = 0
            world.col("velocity.y")[dead] = 0

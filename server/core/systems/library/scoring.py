"""Points and the match clock: ``score`` and ``round_timer``.

``round_timer`` keeps no state of its own: rounds are a pure function of the tick
(round ``k`` spans ticks ``k*P+1 .. (k+1)*P`` with ``P = warm-up + round`` ticks), so a
checkpoint, a replay or a lockstep replica needs nothing but the world and the tick.
It writes the clock into every entity that has a ``round`` component, for the other
systems (``score`` with ``only_if = "round.live"``) and for clients (replicate
``round.left_s``).
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
)
from server.core.systems.registry import ParamSpec, TickContext, system
from server.core.world import World


def _condition(world: World, base: NDArray[np.bool_], only_if: str, unless: str) -> NDArray[Any]:
    m = base
    if only_if:
        m = m & world.mask(only_if.split(".", 1)[0]) & (world.col(only_if) != 0)
    if unless:
        m = m & ~(world.mask(unless.split(".", 1)[0]) & (world.col(unless) != 0))
    return m


@system(
    "score",
    params={
        "field": ParamSpec(str, "score.points", doc="the integer column that is scored"),
        "points": ParamSpec(int, 1, -1_000_000, 1_000_000, "points per award"),
        "on_event": ParamSpec(str, "", doc="award per event of this name ('' = none)"),
        "event_field": ParamSpec(str, "by", doc="the event's net-id field that is credited"),
        "every_s": ParamSpec(float, 0.0, 0.0, 3600.0, "award every this many seconds (0 = off)"),
        "only_if": ParamSpec(str, "", doc="timed awards only where this column is non-zero"),
        "unless": ParamSpec(str, "", doc="no timed award where this column is non-zero"),
    },
)
def score(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Add ``points`` to ``field`` on events and/or on a timer.

    On events: for every ``on_event`` event emitted earlier in this tick (run ``score``
    after the system that emits it), the entity whose net id is in ``event_field`` gets
    ``points`` (several events for one entity add up; unknown or departed ids are
    skipped). On a timer: at every tick divisible by ``every_s`` (in ticks), every entity
    with ``field``'s component, ``only_if`` non-zero and ``unless`` zero gets ``points``.
    Sums saturate at the column dtype's range.
    """
    key = str(params["field"])
    has = world.mask(key.split(".", 1)[0])
    col = world.col(key)
    points = int(params["points"])
    event = str(params["on_event"])
    if event:
        efield = str(params["event_field"])
        ids = [f[efield] for name, f in ctx.events if name == event]
        if ids:
            slots = slots_of_netids(world, np.concatenate(ids))
            slots = slots[slots >= 0]
            add_clipped(col, slots[has[slots]], points)
    every = seconds_to_ticks(float(params["every_s"]), ctx.tick_rate_hz)
    if every and ctx.tick % every == 0:
        m = _condition(world, has, str(params["only_if"]), str(params["unless"]))
        add_clipped(col, np.flatnonzero(m).astype(np.int64), points)


def top_scorer(world: World, key: str) -> int | None:
    """Net id of the unique highest ``key`` among entities that have it; None on a tie."""
    m = world.mask(key.split(".", 1)[0])
    if not m.any():
        return None
    values = world.col(key)[m].astype(np.int64)
    best = values.max()
    winners = np.flatnonzero(values == best)
    if len(winners) != 1:
        return None
    return int(world.netids[m][winners[0]])


@system(
    "round_timer",
    params={
        "round_s": ParamSpec(float, 90.0, 0.001, 1e6, "length of a round after its warm-up"),
        "warmup_s": ParamSpec(float, 0.0, 0.0, 1e6, "warm-up before each round (not live)"),
        "rounds": ParamSpec(int, 1, 0, 1_000_000, "rounds in the match (0 = until score_limit)"),
        "score_field": ParamSpec(str, "", doc="per-player score column for winners ('' = none)"),
        "score_limit": ParamSpec(int, 0, 0, 2**31 - 1, "a score reaching it ends the match"),
        "reset": ParamSpec(list, [], doc="columns set to 0 when a round (not the match) ends"),
        "reposition": ParamSpec(bool, False, doc="players to random places at a new round"),
    },
)
def round_timer(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Rounds of warm-up then play; ends rounds and the match through ``ctx.end``.

    Writes ``round.number`` (1-based), ``round.live`` (false in warm-up) and
    ``round.left_s`` (whole seconds left of the warm-up or the round, rounded up) into
    every entity with a ``round`` component. Emits ``round_started`` (``round``) on the
    first live tick and ``round_ended`` (``round``, ``winner``: net id or 0) on the last.
    On the last tick of a round: the match ends (reason ``"rounds"``) if it was the last
    round, else the round ends (reason ``"time"``), the ``reset`` columns are zeroed and,
    with ``reposition``, entities of the player archetype move to uniform random places
    (``ctx.rng``). Any tick where ``score_limit > 0`` and a ``score_field`` value
    reaches it ends the match (reason ``"score_limit"``). Winners: the unique top score
    of ``score_field`` (None on a tie or without a score field).
    """
    hz = ctx.tick_rate_hz
    warm = seconds_to_ticks(float(params["warmup_s"]), hz)
    period = warm + seconds_to_ticks(float(params["round_s"]), hz)
    k, t = divmod(ctx.tick - 1, period)
    live = t >= warm
    if world.has_component("round"):
        m = world.mask("round")
        left = (warm - t) if not live else (period - t)
        world.col("round.number")[m] = k + 1
        world.col("round.live")[m] = live
        world.col("round.left_s")[m] = -(-left // hz)
    if t == warm:
        ctx.emit("round_started", round=k + 1)
    key = str(params["score_field"])
    limit = int(params["score_limit"])
    if key and limit > 0:
        m = world.mask(key.split(".", 1)[0])
        if m.any() and int(world.col(key)[m].max()) >= limit:
            ctx.end("match", "score_limit", top_scorer(world, key))
            return
    if t != period - 1:
        return
    winner = top_scorer(world, key) if key else None
    ctx.emit("round_ended", round=k + 1, winner=0 if winner is None else winner)
    rounds = int(params["rounds"])
    if rounds and k + 1 >= rounds:
        ctx.end("match", "rounds", winner)
        return
    ctx.end("round", "time", winner)
    for column in params["reset"]:
        world.col(str(column))[world.mask(str(column).split(".", 1)[0])] = 0
    if params["reposition"]:
        arch = ctx.definition.archetype(ctx.definition.player_archetype)
        players = world.col("kind") == arch.kind_id
        n = int(players.sum())
        if n:
            w = ctx.definition.world
            scale = w.subunits_per_unit
            xs = ctx.rng.integers(0, round(w.width_units * scale) + 1, n, dtype=np.int64)
            ys = ctx.rng.integers(0, round(w.height_units * scale) + 1, n, dtype=np.int64)
            world.col("position.x")[players] = xs
            world.col("position.y")[players] = ys

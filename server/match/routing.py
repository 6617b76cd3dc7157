"""Events of a tick routed to their recipients (a part of Match, state sync only).

:func:`route_events` runs after each tick that emitted declared events: it gives the
match's :class:`~server.core.sync.events.EventRouter` (players) and its spectator
router the seats, their points of view and ways to find an entity (:func:`locate`) and
to ask what each seat last held (``InterestSync.known``). :func:`owner_seats` says
whose own entity each slot is, for owner-only replicated fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from server.core.sync.events import EventFieldMissing
from server.core.world import World
from server.errors import SystemFailed

if TYPE_CHECKING:
    from server.match.match import Match


def owner_seats(match: Match, world: World) -> NDArray[np.int64]:
    """Per slot: the seat whose player entity it is, or -1."""
    out = np.full(world.count, -1, dtype=np.int64)
    seated = np.flatnonzero(match.seat_entity >= 0)
    if len(seated):
        slots = world.entities.slots_of(match.seat_entity[seated])
        ok = slots >= 0
        out[slots[ok]] = seated[ok]
    return out


def locate(
    match: Match, netids: NDArray[np.int64]
) -> tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64]]:
    """``(alive, x, y)`` in world units of entities by net id (NaN where dead)."""
    world = match.sim.world
    ids = world.netids.astype(np.int64)
    if len(ids) == 0:
        nan = np.full(len(netids), np.nan)
        return np.zeros(len(netids), dtype=bool), nan, nan.copy()
    order = np.argsort(ids, kind="stable")
    pos = np.clip(np.searchsorted(ids[order], netids), 0, len(ids) - 1)
    slot = order[pos]
    alive = ids[slot] == netids
    x = np.where(alive, world.col("position.x")[slot] / match.subunits_per_unit, np.nan)
    y = np.where(alive, world.col("position.y")[slot] / match.subunits_per_unit, np.nan)
    return alive, x, y


def route_events(match: Match, batches: list[tuple[str, dict[str, NDArray[Any]]]]) -> None:
    """Queue one tick's events for every seated player and spectator."""
    try:
        _route(match, batches)
    except EventFieldMissing as exc:
        raise SystemFailed("events", match.sim.tick, "sync") from exc


def _route(match: Match, batches: list[tuple[str, dict[str, NDArray[Any]]]]) -> None:
    world = match.sim.world
    seated = np.flatnonzero(match.seat_entity >= 0)
    if len(seated):
        slots = world.entities.slots_of(match.seat_entity[seated])
        ok = slots >= 0
        seats, slots = seated[ok], slots[ok]
        match.events.route(
            batches,
            seats,
            world.netids[slots].astype(np.int64),
            world.col("position.x")[slots] / match.subunits_per_unit,
            world.col("position.y")[slots] / match.subunits_per_unit,
            lambda ids: locate(match, ids),
            match.interest.known,
        )
    if match.spectators:
        specs = np.asarray(sorted(match.spectators), dtype=np.int64)
        empty = np.zeros(0)
        match.spectator_events.route(
            batches,
            specs,
            specs,
            empty,
            empty,
            lambda ids: locate(match, ids),
            match.spectator_interest.known,
        )

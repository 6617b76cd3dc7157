"""State sync: building each client's state frame of a snapshot tick (a part of Match).

Called by :meth:`server.match.match.Match.tick` on snapshot ticks; the delta encoding
itself is :class:`server.core.sync.state.InterestSync`. Replicated fields
(``[sync.replicate]``) and each seat's queued events (``EventRouter.take``) go into
the same frame. For a player whose inputs carry ``seq``, ``a``/``at`` (the last seq
applied and its tick, :mod:`server.match.intake`) are appended to the frame's map, and
``aq`` (its inputs waiting beyond the buffer) when there is a backlog.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from server.core.sync.msgbytes import uint
from server.match.routing import owner_seats

if TYPE_CHECKING:
    from server.match.match import Match, Seat, TickOutput


def build_state_frames(match: Match, out: TickOutput, writable: Callable[[Any], bool]) -> None:
    """Append this snapshot tick's state frame for every writable client to ``out.frames``.

    Players see what lies within the interest radius of their entity; spectators see
    the whole world (a radius of the world's diagonal around its centre). A client
    whose connection is not ``writable`` (it has not taken its previous frame) gets
    none and is counted in ``out.skipped_slow``; its baseline stays, so its next frame
    is computed against what it really has.
    """
    world = match.sim.world
    kinds: NDArray[np.uint8] = world.col("kind")
    shared = (
        match.sim.processor.index,
        world.netids,
        kinds,
        match.quantizer.packed(world),
        world.col("entity") & 0xFFFF_FFFF,
    )
    field_values = match.fields.values(world) if len(match.fields) else None
    # Visibility is decided on the positions of this snapshot (those the frame encodes).
    entity_xy = (
        world.col("position.x").astype(np.float64) / match.subunits_per_unit,
        world.col("position.y").astype(np.float64) / match.subunits_per_unit,
    )
    events = match.events if match.send_events else None
    seats_list: list[int] = []
    conns: list[Seat] = []
    for s in match.by_player.values():
        if s.conn is None or s.entity is None:
            continue
        if writable(s.conn):
            seats_list.append(s.seat)
            conns.append(s)
        else:
            out.skipped_slow += 1
    if seats_list:
        order = np.argsort(np.asarray(seats_list, dtype=np.int64), kind="stable")
        seats = np.asarray(seats_list, dtype=np.int64)[order]
        seat_objs = [conns[i] for i in order.tolist()]
        slots = world.entities.slots_of(match.seat_entity[seats])
        if (slots < 0).any():
            # Joined after this tick's step (the loop ran between a batch's step and these
            # frames): the player's entity spawns at the next tick, its frames start there.
            keep = slots >= 0
            seats, slots = seats[keep], slots[keep]
            seat_objs = [s for s, k in zip(seat_objs, keep.tolist(), strict=True) if k]
    if seats_list and seat_objs:
        px = world.col("position.x")[slots].astype(np.float64) / match.subunits_per_unit
        py = world.col("position.y")[slots].astype(np.float64) / match.subunits_per_unit
        full = np.fromiter((s.needs_full for s in seat_objs), dtype=bool, count=len(seats))
        frames = match.interest.build(
            match.sim.tick,
            *shared,
            seats,
            px,
            py,
            full,
            entity_xy,
            field_values,
            owner_seats(match, world) if match.fields.any_owner_only else None,
            [events.take(s.seat) for s in seat_objs] if events is not None else None,
        )
        queue_frames(out, seat_objs, frames, match)
    if match.spectators:
        specs = [s for s in match.spectators.values() if writable(s.conn)]
        out.skipped_slow += len(match.spectators) - len(specs)
        if specs:
            sseats = np.asarray([s.seat for s in specs], dtype=np.int64)
            cx = np.full(len(specs), match.definition.world.width_units / 2)
            cy = np.full(len(specs), match.definition.world.height_units / 2)
            full = np.asarray([s.needs_full for s in specs], dtype=bool)
            spectator_events = match.spectator_events if events is not None else None
            frames = match.spectator_interest.build(
                match.sim.tick,
                *shared,
                sseats,
                cx,
                cy,
                full,
                entity_xy,
                field_values,
                None,
                [spectator_events.take(s.seat) for s in specs] if spectator_events else None,
            )
            queue_frames(out, specs, frames, match)


def queue_frames(out: TickOutput, seats: list[Seat], frames: list[bytes], match: Match) -> None:
    """Queue ``frames[i]`` for ``seats[i]`` (input acks appended); they hold it from now."""
    if not match.intake.numbered:  # no seat ever sent a seq: no acks to append
        for s in seats:
            s.needs_full = False
        out.frames.extend(zip([s.conn for s in seats], frames, strict=True))
        return
    acked = match.intake.acked
    acked_at = match.intake.acked_at
    backlog = None  # read once, and only if some seat is acked (sends seq)
    for s, frame in zip(seats, frames, strict=True):
        s.needs_full = False
        if not s.spectator and acked[s.seat] >= 0:
            if backlog is None:
                backlog = match.intake.backlog()
            q = int(backlog[s.seat])
            frame = with_ack(frame, int(acked[s.seat]), int(acked_at[s.seat]), q)
        out.frames.append((s.conn, frame))


_K_A = b"\xa1a"
_K_AT = b"\xa2at"
_K_Q = b"\xa2aq"


def with_ack(frame: bytes, a: int, at: int, q: int = 0) -> bytes:
    """A ``STATE`` message with keys ``a`` (last seq applied), ``at`` (its tick) and, when
    positive, ``aq`` (inputs waiting beyond the buffer) appended.

    The frame is ``[1, 65, {...}]`` as :mod:`server.core.sync.state` writes it: a fixarray
    of 3, two positive fixints, then the body map, whose header is rewritten for the new
    entries (a fixmap becomes a map 16 past 15 entries) and the pairs appended at its end.
    """
    head = frame[3]
    if head & 0xF0 == 0x80:
        n, start = head & 0x0F, 4
    elif head == 0xDE:
        n, start = int.from_bytes(frame[4:6], "big"), 6
    else:
        raise ValueError(f"not a STATE frame with a map body (byte 3 = {head:#x})")
    n += 3 if q > 0 else 2
    header = bytes((0x80 | n,)) if n < 16 else b"\xde" + n.to_bytes(2, "big")
    parts = [frame[:3], header, frame[start:], _K_A, uint(a), _K_AT, uint(at)]
    if q > 0:
        parts += (_K_Q, uint(q))
    return b"".join(parts)

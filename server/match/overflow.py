"""What a seat's input FIFO drops when it is full or backlogged (a part of the intake).

Used by :class:`server.match.intake.InputIntake` (the rules are its module doc,
*Buffer* and *Catch-up*, and docs/protocol.md ``INPUT`` rule 3):

- the victim is the oldest waiting input that *presses* no button; a press (a
  ``buttons`` bit the input received before did not hold) is never dropped;
- if every waiting input presses one, a full FIFO drops the oldest and carries its
  ``buttons`` bits (OR-ed) and its view (``view_tick``/``view_alpha``) into the input
  after it, so the shot is still fired and judged against the view that pressed; a
  drain (working off a lasting backlog) then drops nothing.

And the catch-up bounds, in seconds of ticks: :data:`CATCH_UP_S` of room beyond the
buffer for numbered inputs, a backlog left :data:`DRAIN_GRACE_S` to the client before
the server drops at most one input per :data:`DRAIN_EVERY_S`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from server.match.input_counts import NEVER, Refusal
from server.net.protocol import ErrorCode

if TYPE_CHECKING:
    from server.match.intake import InputIntake

CATCH_UP_S = 0.3
"""Room beyond the buffer for numbered inputs held behind a stall (seconds of ticks)."""
DRAIN_GRACE_S = 1.0
"""A backlog of numbered inputs is left to the client this long (it may skip a send)."""
DRAIN_EVERY_S = 0.2
"""Then it loses at most one input per this many seconds."""


def seconds_in_ticks(tick_rate_hz: int, seconds: float = CATCH_UP_S) -> int:
    """``seconds`` in whole ticks, rounded up (at least 1)."""
    return max(1, math.ceil(seconds * tick_rate_hz - 1e-9))


class Dropped(NamedTuple):
    """One waiting input dropped unapplied, and the new input as it is now to be queued."""

    seq: int
    """The dropped input's seq (-1: it had none)."""
    waiting: int
    """Inputs that were waiting."""
    carried_to: int | None
    """Its presses and view went to the input with this seq (-1: one without a seq;
    None: nothing carried)."""
    values: Sequence[int]
    view_tick: int
    view_alpha: float
    press: bool


def make_room(
    q: InputIntake,
    seat: int,
    seq: int | None,
    values: Sequence[int],
    vt: int,
    va: float,
    press: bool,
    drain: bool = False,
) -> Dropped | None:
    """Drop one waiting input of ``seat`` (module doc); None if ``drain`` finds none.

    ``seq, values, vt, va, press`` describe the input about to be queued: a carry with
    a single waiting input goes into it (returned in :class:`Dropped`). At most the
    FIFO's slots are moved (Python scalars, per input received, a few tens at most).
    """
    ring = q.ring
    head = int(q.head[seat])
    size = int(q.size[seat])
    order = [(head + i) % ring for i in range(size)]
    k = 0
    if q.buttons:
        pressing = q.q_press[seat].tolist()
        k = next((i for i, slot in enumerate(order) if not pressing[slot]), -1)
        if k < 0 and drain:
            return None
    carried = k < 0
    k = max(k, 0)
    victim = order[k]
    old_seq = int(q.q_seq[seat, victim])
    q.size[seat] = size - 1
    if k == 0:  # the oldest: the FIFO just starts one later (no input moves)
        q.head[seat] = (head + 1) % ring
    else:  # the inputs after the victim move down by one
        moved = order[k:]
        for arr in (*q.values, q.q_seq, q.q_view, q.q_alpha, q.q_press):
            row = arr[seat]
            row[moved[:-1]] = row[moved[1:]]
    if not carried:
        return Dropped(old_seq, size, None, values, vt, va, press)
    bits = [int(q.values[i][seat, victim]) for i in q.buttons]
    v_view, v_alpha = int(q.q_view[seat, victim]), float(q.q_alpha[seat, victim])
    if size > 1:  # into the waiting input now first in line
        first = order[1]
        for i, b in zip(q.buttons, bits, strict=True):
            q.values[i][seat, first] |= b
        q.q_view[seat, first] = v_view
        q.q_alpha[seat, first] = v_alpha
        q.q_press[seat, first] = True
        return Dropped(old_seq, size, int(q.q_seq[seat, first]), values, vt, va, press)
    merged = list(values)  # into the new input
    for i, b in zip(q.buttons, bits, strict=True):
        merged[i] |= b
    return Dropped(old_seq, size, -1 if seq is None else seq, merged, v_view, v_alpha, True)


def drop_notice(room: Dropped, drain: bool) -> tuple[Refusal, ...]:
    """The ``ERROR INPUT_SUPERSEDED`` for a dropped numbered input (none for one without
    a seq): why it was dropped and where its presses and view went."""
    if room.seq < 0:
        return ()
    if drain:
        why = f"catching up after a burst ({room.waiting} waiting)"
    else:
        why = f"input buffer full ({room.waiting})"
    reason = f"{why}: seq {room.seq} dropped unapplied"
    if room.carried_to is not None:
        into = "the next input" if room.carried_to < 0 else f"seq {room.carried_to}"
        reason += f", its button presses and view carried to {into}"
    return (Refusal(ErrorCode.INPUT_SUPERSEDED, reason, room.seq),)


def room_for(
    q: InputIntake,
    seat: int,
    now: int,
    seq: int | None,
    values: Sequence[int],
    view_tick: int,
    view_alpha: float,
    press: bool,
) -> tuple[Dropped | None, bool]:
    """Before ``seat`` queues an input at tick ``now``: the waiting input dropped to make
    room for it (None: none) and whether that was a drain. A full FIFO (the buffer, or for
    a numbered input the buffer and the catch-up room) always makes room; a backlog beyond
    the buffer is timed, and once it has lasted ``drain_grace`` ticks loses one input per
    ``drain_every`` ticks (the intake's module doc, *Catch-up*)."""
    size = int(q.size[seat])
    if size >= (q.depth if seq is None else q.ring):
        return make_room(q, seat, seq, values, view_tick, view_alpha, press), False
    if size < q.depth:
        q.backlog_since[seat] = NEVER
        return None, False
    since = q.backlog_since[seat]
    if since == NEVER:
        q.backlog_since[seat] = now
        return None, False
    if now - since < q.drain_grace or now - q.drained_at[seat] < q.drain_every:
        return None, False
    room = make_room(q, seat, seq, values, view_tick, view_alpha, press, drain=True)
    if room is not None:
        q.drained_at[seat] = now
    return room, True

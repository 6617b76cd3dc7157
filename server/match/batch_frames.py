"""The end of a batched tick for many matches: their state frames built in one pass.

:func:`finish_batch` is :meth:`Match.finish_tick <server.match.match.Match.finish_tick>`
for every match of a batch (one definition, stepped together by
:func:`~server.core.batch.stepper.step_batch`): per match the tick's own end (recording,
events, ending, the handler's hook: :meth:`~server.match.match.Match.finish_step`),
then the frames of all matches whose players all see their whole match through
:func:`~server.core.batch.frames.build_whole_views` (one numpy pass, one encoded delta per
match), and every other match's frames as :func:`~server.match.frames.build_state_frames`
builds them alone. Either way a match's frames are byte for byte those of its own
``finish_tick`` (tests/core/test_batch_frames.py).

Which matches go through the batch pass: state sync, no spectators, no replicated
fields, and every player with a connection writable this tick (a slow reader's match is
built alone, so its baseline handling stays the general path's); the geometry (every view
whole, now and at the last build) and the interest state are checked by the pass.

An exception in one match's end of tick is returned for that match only (the runner
fails it); one raised by the batch pass itself sends every match of the pass to the
per-match build.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from server.core.batch.frames import WholeViewMatch, build_whole_views
from server.core.frame import FrameResult, InputBatch
from server.core.sync.events import EventRouter
from server.errors import SystemFailed
from server.match.frames import build_state_frames, queue_frames

if TYPE_CHECKING:
    from server.match.match import Match, Seat, TickOutput

Timer = Callable[[], float]


def finish_batch(
    matches: Sequence[Match],
    inputs: Sequence[InputBatch | None],
    results: Sequence[FrameResult | SystemFailed],
    writable: Callable[[Any], bool] = lambda c: True,
    timer: Timer = time.perf_counter,
) -> list[TickOutput | Exception]:
    """Per match, its tick's output, or the exception that ends it (never raises)."""
    outs: list[TickOutput | Exception] = []
    due: list[tuple[Match, TickOutput]] = []
    for m, batch, result in zip(matches, inputs, results, strict=True):
        if isinstance(result, SystemFailed):
            outs.append(result)
            continue
        try:
            out, snapshot = m.finish_step(batch, result)
        except Exception as exc:
            outs.append(exc)
            continue
        outs.append(out)
        if snapshot:
            due.append((m, out))
    failed = _frames(due, writable, timer)
    if failed:
        outs = [failed.get(id(o), o) for o in outs]
    return outs


def _frames(
    due: list[tuple[Match, TickOutput]], writable: Callable[[Any], bool], timer: Timer
) -> dict[int, Exception]:
    """Frames of every match in ``due``; the exceptions of those that raised, by output."""
    t0 = timer()
    asks: list[tuple[Match, TickOutput, list[Seat], WholeViewMatch]] = []
    alone: list[tuple[Match, TickOutput]] = []
    for m, out in due:
        ask = _whole_view(m, writable)
        if ask is None:
            alone.append((m, out))
        else:
            asks.append((m, out, *ask))
    built: list[list[bytes] | None] = [None] * len(asks)
    if len(asks) > 1:
        first = asks[0][0]
        try:
            built = build_whole_views(
                [a[3] for a in asks], first.quantizer, float(first.subunits_per_unit)
            )
        except Exception:  # a fault of the pass: every match is built alone
            built = [None] * len(asks)
    share = (timer() - t0) / max(1, len(asks))
    for (m, out, seats, _), frames in zip(asks, built, strict=True):
        if frames is None:
            alone.append((m, out))
        else:
            queue_frames(out, seats, frames, m)
            out.sync_s = share
    failed: dict[int, Exception] = {}
    for m, out in alone:
        t1 = timer()
        try:
            build_state_frames(m, out, writable)
        except Exception as exc:
            failed[id(out)] = exc
        out.sync_s = timer() - t1
    return failed


def _whole_view(
    m: Match, writable: Callable[[Any], bool]
) -> tuple[list[Seat], WholeViewMatch] | None:
    """The batch pass's request for ``m``'s players, or None: ``m`` is built alone."""
    if m.mode != "state" or m.spectators or len(m.fields):
        return None
    seats: list[Seat] = []
    for s in m.by_player.values():
        if s.conn is None or s.entity is None:
            continue
        if s.needs_full or not writable(s.conn):
            return None
        seats.append(s)
    if not seats:
        return None
    numbers = [s.seat for s in seats]
    if numbers != sorted(numbers):
        seats.sort(key=_SEAT)
        numbers = [s.seat for s in seats]
    events = m.events if m.send_events else None
    tails = _no_tails if events is None else partial(_tails, events, numbers)
    ids = m.seat_entity.tolist()
    ask = WholeViewMatch(
        m.interest, m.sim.tick, m.sim.world, numbers, [ids[n] for n in numbers], tails
    )
    return seats, ask


_SEAT = attrgetter("seat")


def _no_tails() -> None:
    return None


def _tails(events: EventRouter, numbers: list[int]) -> list[tuple[int, bytes]]:
    return [events.take(n) for n in numbers]

"""A match's seat lifecycle: join, drop, resume, leave, expire (a part of Match).

Called by the :class:`~server.match.match.Match` methods of the same names. A player
holds a seat index (0 .. capacity-1) for as long as they are in the match, including
while dropped within the grace window; a free index is reused lowest first. Spectators
hold no seat: they get their own numbering, watch the whole world through their own
interest set and send no inputs. Every change is told to the match's handler, the
recorder (if any), the input intake and the interest/event state of that seat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from server.errors import InvalidState, JoinRejected, MatchFull
from server.match.handler import LeaveReason
from server.match.types import MatchState, Seat

if TYPE_CHECKING:
    from server.match.match import Match


def join(match: Match, player_id: int, conn: Any, spectator: bool = False) -> Seat:
    """Seat a new player (or add a spectator); raises JoinRejected / MatchFull."""
    if match.state is MatchState.ENDED:
        raise JoinRejected("match has ended")
    reason = match.handler.join_attempt(match, player_id, spectator)
    if reason is not None:
        raise JoinRejected(reason)
    if spectator:
        seat = Seat(match.next_spectator, player_id, conn, spectator=True)
        match.next_spectator += 1
        match.spectators[seat.seat] = seat
        return seat
    if not match.free_seats:
        raise MatchFull(f"match {match.match_id} is full ({match.capacity} players)")
    index = match.free_seats.pop()
    seat = Seat(index, player_id, conn)
    match.seats[index] = seat
    match.by_player[player_id] = seat
    match.empty_since_s = None
    match.intake.reset(index)
    if match.lockstep is not None:
        match.lockstep.collector.seat(index)
    else:
        seat.entity = match.sim.queue_player()
        match.seat_entity[index] = seat.entity
    if match.recorder is not None:
        match.recorder.join(index, player_id, seat.entity)
    match.interest.forget([index])
    match.events.forget(index)
    match.handler.join(match, seat)
    return seat


def _forget_spectator(match: Match, seat: Seat) -> None:
    match.spectators.pop(seat.seat, None)
    match.spectator_interest.forget([seat.seat])
    match.spectator_events.forget(seat.seat)


def drop(match: Match, seat: Seat, now_s: float) -> None:
    """The connection was lost: keep the seat for the grace window, stop sending."""
    if seat.spectator:
        _forget_spectator(match, seat)
        return
    seat.conn = None
    seat.dropped_at_s = now_s
    match.intake.stand_still(seat.seat)
    match.handler.leave(match, seat, LeaveReason.DROPPED)


def resume(match: Match, seat: Seat, conn: Any) -> None:
    """A dropped player is back: reattach the connection; it gets a full snapshot."""
    if seat.conn is not None:
        raise InvalidState("resume of a seat that is connected")
    seat.conn = conn
    seat.dropped_at_s = None
    seat.needs_full = True
    match.intake.restart(seat.seat)
    match.interest.forget([seat.seat])


def leave(match: Match, seat: Seat, reason: LeaveReason) -> None:
    """Free the seat for good and remove the player's entity."""
    if seat.spectator:
        _forget_spectator(match, seat)
        return
    if match.seats[seat.seat] is not seat:
        return
    match.events.forget(seat.seat)
    match.seats[seat.seat] = None
    match.by_player.pop(seat.player_id, None)
    match.free_seats.append(seat.seat)
    match.intake.reset(seat.seat)
    if match.lockstep is not None:
        match.lockstep.collector.unseat(seat.seat)
    elif seat.entity is not None:
        match.sim.queue_despawn(seat.entity)
        match.seat_entity[seat.seat] = -1
    if match.recorder is not None:
        match.recorder.leave(seat.seat, seat.entity)
    match.interest.forget([seat.seat])
    if not match.by_player:
        match.empty_since_s = match.timer()
    match.handler.leave(match, seat, reason)


def expire_dropped(match: Match, now_s: float, grace_s: float) -> list[Seat]:
    """Free seats dropped longer than ``grace_s`` ago; returns them."""
    expired = [
        s
        for s in match.by_player.values()
        if s.dropped_at_s is not None and now_s - s.dropped_at_s > grace_s
    ]
    for s in expired:
        leave(match, s, LeaveReason.EXPIRED)
    return expired

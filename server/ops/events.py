"""Log event names: one constant per kind of event, so logs can be queried by name.

A JSON log line carries ``event`` (one of these names), ``msg`` (the human sentence) and
the context that applies: ``conn_id`` and ``trace_id`` (one per connection),
``player_id``, ``match_id`` and ``match_trace_id`` (one per match). Emit with
:func:`log_event`; docs/operations.md lists every name.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any


class Event(StrEnum):
    """Every event the server logs."""

    LISTENING = "server.listening"
    SIGNAL = "server.signal"
    HEAP = "server.heap"
    DRAINING = "server.draining"
    STOPPED = "server.stopped"
    DEGRADATION = "server.degradation"
    MATCH_CREATED = "match.created"
    MATCH_RETIRED = "match.retired"
    MATCH_FAILED = "match.failed"
    REPLAY_STARTED = "replay.started"
    REPLAY_STOPPED = "replay.stopped"
    MATCH_RESULT = "match.result"
    TICKS_SKIPPED = "match.ticks_skipped"
    SLOW_TICK = "match.slow_tick"
    DESYNC = "match.desync"
    INPUT_FAULTS = "match.input_faults"
    JOIN = "player.join"
    JOIN_REJECTED = "player.join_rejected"
    LEAVE = "player.leave"
    DROP = "player.drop"
    RESUME = "player.resume"
    RESUME_REJECTED = "player.resume_rejected"
    SEAT_EXPIRED = "player.seat_expired"
    AUTH_REJECTED = "conn.auth_rejected"
    BANNED = "conn.banned"
    SEAT_TAKEN_OVER = "player.seat_taken_over"
    ADMIN_ACT = "admin.act"
    ADMIN_DENIED = "admin.denied"
    PROTOCOL_VIOLATION = "conn.protocol_violation"
    IDLE_TIMEOUT = "conn.idle_timeout"
    DIRECTORY_UP = "node.directory_up"
    DIRECTORY_DOWN = "node.directory_down"
    SEAT_RESERVED = "matchmake.seat_reserved"
    MATCHMAKE_REFUSED = "matchmake.refused"
    RESERVATION_REFUSED = "matchmake.reservation_refused"
    CODE_ATTEMPT = "matchmake.code_attempt"


def log_event(
    logger: logging.Logger,
    level: int,
    event: Event,
    msg: str,
    *args: Any,
    exc_info: BaseException | None = None,
    **context: Any,
) -> None:
    """Log ``msg % args`` as ``event`` with ``context`` fields (None values dropped)."""
    if not logger.isEnabledFor(level):
        return
    extra = {k: v for k, v in context.items() if v is not None}
    extra["event_name"] = str(event)
    logger.log(level, msg, *args, exc_info=exc_info, extra=extra)

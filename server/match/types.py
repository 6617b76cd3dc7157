"""A match's value types: its lifecycle state, a seat, and what one tick produced.

Kept apart from :class:`~server.match.match.Match` so the modules that make up a match
(:mod:`~server.match.seats`, :mod:`~server.match.lockstep_feed`, :mod:`~server.match.frames`)
can build them without importing the match itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from server.core.entity import EntityId
from server.core.frame import FrameResult
from server.match.result import MatchResult


class MatchState(StrEnum):
    """waiting -> running -> ended."""

    WAITING = "waiting"
    RUNNING = "running"
    ENDED = "ended"


@dataclass(slots=True)
class Seat:
    """A player's place in a match."""

    seat: int
    player_id: int
    conn: Any
    """The connection object (opaque here); None while dropped."""
    entity: EntityId | None = None
    resume_nonce: str = ""
    dropped_at_s: float | None = None
    needs_full: bool = True
    spectator: bool = False
    last_ack_tick: int = 0
    lockstep_sent_frame: int = 0


@dataclass(slots=True)
class TickOutput:
    """What one tick produced for the transport.

    ``frames``: per-connection state frames (each already encoded).
    ``broadcast``: one payload and every connection that gets it (lockstep).
    """

    tick: int
    result: FrameResult | None
    frames: list[tuple[Any, bytes]] = field(default_factory=list)
    broadcast: tuple[list[Any], bytes] | None = None
    match_result: MatchResult | None = None
    """Set on the tick the game ended the match: send ``RESULT``, then close all."""
    skipped_slow: int = 0
    """State frames not built because the client had not taken the previous one."""
    sync_s: float = 0.0

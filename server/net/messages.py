"""One frozen, slotted dataclass per client message, as the codec returns them.

Server-to-client messages are built by :mod:`server.net.codec` encoders straight from
arrays (no dataclass) because they are on the hot path. Field names are the wire keys;
units are in docs/protocol.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class Hello:
    """First message of every connection."""

    version: int
    token: str | None = None
    resume: str | None = None
    spectate: bool = False
    last_frame: int | None = None
    name: str | None = None
    game: str | None = None
    """Which game of the server (default: its first)."""
    match_id: str | None = None
    create: dict[str, Any] | bool | None = None
    """``{private, labels, max_players}`` (or ``true``): a new match; ``false``: never create."""
    code: str | None = None
    filters: dict[str, Any] | None = None
    reservation: str | None = None
    """A seat reservation from ``POST /matchmake/*``."""
    replay: str | None = None
    """Watch this recording (an ``id`` of ``GET /replays``) instead of joining a match."""


class Input(NamedTuple):
    """The player's stick for ``tick``: x and y in [-1, 1], quantized on receipt to int8.

    A NamedTuple rather than a frozen dataclass: every player sends one per tick, and
    a frozen dataclass costs ~1.2 us to build (``object.__setattr__`` per field)
    against ~0.3 us for a tuple -- a quarter of the per-message budget.
    """

    tick: int
    x: float
    y: float
    seq: int | None = None
    """The client's input sequence number (uint32, wrapping), or None (not sent)."""
    view_tick: int | None = None
    """The server tick the client was rendering others at (lag compensation), or None."""
    view_alpha: float | None = None
    """The fraction in [0, 1] from ``view_tick`` toward ``view_tick + 1``; None with it."""


@dataclass(frozen=True, slots=True)
class Ping:
    """Heartbeat; ``t`` is the client's clock in ms, echoed back in the pong."""

    t: float


@dataclass(frozen=True, slots=True)
class Ack:
    """The newest state tick the client has applied (used for state age and RTT)."""

    tick: int


@dataclass(frozen=True, slots=True)
class SnapshotRequest:
    """Ask for a full snapshot (the client lost its mirror)."""


@dataclass(frozen=True, slots=True)
class Checksum:
    """A lockstep client's world checksum after applying ``frame``."""

    frame: int
    checksum: int


@dataclass(frozen=True, slots=True)
class Leave:
    """The player leaves for good (a consented leave)."""


@dataclass(frozen=True, slots=True)
class ReplayControl:
    """A replay watcher's controls (each optional): ``play`` (True plays, False pauses),
    ``speed`` (0.5 to 4 times), ``seek`` (a tick of the recording)."""

    play: bool | None = None
    speed: float | None = None
    seek: int | None = None


ClientMessage = Hello | Input | Ping | Ack | SnapshotRequest | Checksum | Leave | ReplayControl

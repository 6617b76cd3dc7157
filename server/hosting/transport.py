"""What hosting needs from the gateway: connections it can seat and a way to write to them.

Hosting holds no sockets. A connection is a :class:`Peer` (its session and where it is
seated; the gateway's ``Conn`` is one), and every byte leaves through a
:class:`Transport`, which the gateway implements over websockets. Writes are synchronous
(no awaiting on the tick path); closing is scheduled, never awaited here.
"""

from __future__ import annotations

from typing import Any, Protocol

from server.match.match import Match, Seat
from server.net.protocol import CloseCode
from server.net.session import ClientSession


class Peer(Protocol):
    """One client connection as hosting sees it."""

    session: ClientSession
    seat: Seat | None
    match: Match | None
    closing: bool


class Transport(Protocol):
    """Writes and closes connections on hosting's behalf."""

    def writable(self, conn: Any) -> bool:
        """Whether ``conn`` can take a new state frame (its unsent bytes are under the limit)."""

    def send_each(self, frames: list[tuple[Any, bytes]]) -> tuple[int, int]:
        """Write each ``(conn, frame)``, skipping closing connections; (frames, bytes) written."""

    def send_shared(self, conns: list[Any], payload: bytes, limit_bytes: int) -> int:
        """Write one payload to every conn; close TOO_FAR_BEHIND those with more than
        ``limit_bytes`` unsent. Returns how many got it."""

    def close_soon(self, conn: Any, code: CloseCode, reason: str | None = None) -> None:
        """Schedule a close with ``code`` (a no-op if the connection is already closing)."""

    def close_seat(self, seat: Seat, code: CloseCode, reason: str) -> None:
        """Unseat and close every connection seated on ``seat``."""

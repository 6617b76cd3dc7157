"""The observer's connection events: seats, protocol violations, closes, matchmaking.

:class:`ConnectionEvents` is a base of :class:`~server.ops.observer.Observer` (one
server's metrics and log lines); like it, it records and never steers. The log context
helpers :func:`match_context` and :func:`conn_context` live here for both.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from server.net.protocol import CloseCode, ErrorCode
from server.ops.events import Event, log_event
from server.ops.metrics import Metrics

if TYPE_CHECKING:
    from server.errors import ProtocolViolation
    from server.hosting.transport import Peer
    from server.match.match import Match, Seat

log = logging.getLogger("tickwire.server")
audit = logging.getLogger("tickwire.audit")


def match_context(match: Match | None) -> dict[str, Any]:
    """Log context of a match: its id and trace id."""
    if match is None:
        return {}
    return {
        "match_id": match.match_id,
        "match_trace_id": match.trace_id,
        "game": match.definition.name,
    }


def conn_context(conn: Peer) -> dict[str, Any]:
    """Log context of a connection: conn and trace ids, and its player and match if seated."""
    context: dict[str, Any] = {"conn_id": conn.session.conn_id, "trace_id": conn.session.trace_id}
    if conn.seat is not None:
        context["player_id"] = conn.seat.player_id
    context.update(match_context(conn.match))
    return context


class ConnectionEvents:
    """Seat, connection and matchmaking events as metrics and log lines."""

    metrics: Metrics
    kind: str
    """``"<game>/<sync mode>"``, the label of per-kind metrics."""

    # -- seats ---------------------------------------------------------------------------

    def joined(self, conn: Peer, player_id: int, match: Match, seat: Seat, sub: str = "-") -> None:
        """A player (or spectator) was seated; ``sub`` is its identity."""
        if not seat.spectator:
            self.metrics.joins.labels(self.kind).inc()
        log_event(
            audit,
            logging.INFO,
            Event.JOIN,
            "join player=%d sub=%s match=%s spectator=%s conn=%d",
            player_id,
            sub,
            match.match_id,
            seat.spectator,
            conn.session.conn_id,
            **conn_context(conn),
        )

    def join_rejected(self, conn: Peer, reason: str) -> None:
        """The match handler refused a join."""
        log_event(
            audit,
            logging.INFO,
            Event.JOIN_REJECTED,
            "join rejected conn=%d: %s",
            conn.session.conn_id,
            reason,
            **conn_context(conn),
        )

    def auth_rejected(self, conn: Peer, reason: str, detail: str) -> None:
        """A hello carried a token that was refused (``reason`` is its class; the token
        itself is never logged)."""
        self.metrics.auth_rejected.labels(reason).inc()
        log_event(
            audit,
            logging.WARNING,
            Event.AUTH_REJECTED,
            "rejected auth conn=%d reason=%s: %s",
            conn.session.conn_id,
            reason,
            detail,
            audit={"action": "hello", "result": "bad_token", "reason": reason},
            **conn_context(conn),
        )

    def banned(self, conn: Peer, sub: str, reason: str) -> None:
        """A banned player was refused at HELLO (or closed by a new ban)."""
        self.metrics.banned.inc()
        log_event(
            audit,
            logging.WARNING,
            Event.BANNED,
            "banned player refused sub=%s conn=%d: %s",
            sub,
            conn.session.conn_id,
            reason,
            audit={"actor": sub, "action": "hello", "result": "banned"},
            **conn_context(conn),
        )

    def taken_over(self, conn: Peer, sub: str, seat: Seat, match: Match) -> None:
        """A second login of ``sub`` took its seat over (the old connection got KICKED)."""
        log_event(
            audit,
            logging.INFO,
            Event.SEAT_TAKEN_OVER,
            "seat taken over by a new login sub=%s player=%d match=%s",
            sub,
            seat.player_id,
            match.match_id,
            **conn_context(conn),
        )

    def resumed(self, conn: Peer, seat: Seat, match: Match) -> None:
        """A dropped player came back with a valid token."""
        self.metrics.reconnects.inc()
        log_event(
            audit,
            logging.INFO,
            Event.RESUME,
            "resume player=%d match=%s",
            seat.player_id,
            match.match_id,
            **conn_context(conn),
        )

    def resume_rejected(self, conn: Peer, code: CloseCode) -> None:
        """A resume token was refused with ``code``."""
        log_event(
            audit,
            logging.WARNING,
            Event.RESUME_REJECTED,
            "rejected resume conn=%d code=%d",
            conn.session.conn_id,
            code,
            **conn_context(conn),
        )

    def left(self, conn: Peer, seat: Seat, match: Match) -> None:
        """A player said LEAVE."""
        self.metrics.leaves.labels(self.kind, "consented").inc()
        log_event(
            audit,
            logging.INFO,
            Event.LEAVE,
            "leave player=%d match=%s",
            seat.player_id,
            match.match_id,
            **conn_context(conn),
        )

    def dropped(self, conn: Peer, seat: Seat, match: Match) -> None:
        """A player's connection was lost; the seat is held for the grace window."""
        self.metrics.leaves.labels(self.kind, "dropped").inc()
        log_event(
            audit,
            logging.INFO,
            Event.DROP,
            "drop player=%d match=%s",
            seat.player_id,
            match.match_id,
            **conn_context(conn),
        )

    def seat_expired(self, seat: Seat, match: Match) -> None:
        """A dropped seat's grace window passed."""
        self.metrics.leaves.labels(self.kind, "expired").inc()
        log_event(
            audit,
            logging.INFO,
            Event.SEAT_EXPIRED,
            "seat expired player=%d match=%s",
            seat.player_id,
            match.match_id,
            player_id=seat.player_id,
            **match_context(match),
        )

    def desync(self, conn: Peer, seat: Seat, match: Match, frame: int) -> None:
        """A lockstep client's checksum differed from the server's."""
        self.metrics.desyncs.inc()
        log_event(
            log,
            logging.ERROR,
            Event.DESYNC,
            "lockstep desync match=%s player=%d frame=%d",
            match.match_id,
            seat.player_id,
            frame,
            **conn_context(conn),
        )

    def input_refused(self, code: ErrorCode) -> None:
        """An input was answered with a non-fatal error."""
        self.metrics.input_errors.labels(str(int(code))).inc()

    # -- connections ---------------------------------------------------------------------

    def protocol_error(self, code: CloseCode) -> None:
        """Count a protocol error closed with ``code`` (no log line)."""
        self.metrics.protocol_errors.labels(str(int(code))).inc()

    def violation(self, conn: Peer, exc: ProtocolViolation) -> None:
        """A connection broke the protocol: count it and log one line."""
        self.metrics.protocol_errors.labels(str(exc.close_code)).inc()
        if exc.close_code == CloseCode.RATE_LIMITED:
            self.metrics.rate_limited.inc()
        log_event(
            log,
            logging.WARNING,
            Event.PROTOCOL_VIOLATION,
            "protocol violation conn=%d player=%s code=%d: %s",
            conn.session.conn_id,
            conn.seat.player_id if conn.seat else "-",
            exc.close_code,
            exc.reason,
            **conn_context(conn),
        )

    def idle_timeout(self, conn: Peer) -> None:
        """A connection sent nothing for ``idle_timeout_s``."""
        log_event(
            log,
            logging.INFO,
            Event.IDLE_TIMEOUT,
            "idle timeout conn=%d",
            conn.session.conn_id,
            **conn_context(conn),
        )
        self.protocol_error(CloseCode.IDLE_TIMEOUT)

    def closed(self, code: int) -> None:
        """The server closed a connection (or refused an upgrade: code 503)."""
        self.metrics.closes.labels(str(code)).inc()

    def connections(self, n: int) -> None:
        """The number of open connections changed."""
        self.metrics.clients.set(n)

    # -- matchmaking -----------------------------------------------------------------------

    def matchmake_refused(self, address: str, endpoint: str, code: str) -> None:
        """An HTTP matchmaking request got an error (``code`` as in its JSON body)."""
        self.metrics.matchmake_refused.labels(code).inc()
        log_event(
            log,
            logging.INFO,
            Event.MATCHMAKE_REFUSED,
            "matchmake %s refused for %s: %s",
            endpoint[:40],
            address,
            code,
            address=address,
        )

    def reservation_refused(self, conn: Peer, code: str) -> None:
        """A HELLO carried a forged, expired or used reservation."""
        self.metrics.reservations_refused.labels(code).inc()
        log_event(
            audit,
            logging.WARNING,
            Event.RESERVATION_REFUSED,
            "reservation refused conn=%d: %s",
            conn.session.conn_id,
            code,
            **conn_context(conn),
        )

    def code_attempt(self, address: str, *, ok: bool, limited: bool) -> None:
        """A join code was tried (audited: a wrong one may be a guess)."""
        outcome = "ok" if ok else ("limited" if limited else "wrong")
        self.metrics.code_attempts.labels(outcome).inc()
        if not ok:
            log_event(
                audit,
                logging.WARNING,
                Event.CODE_ATTEMPT,
                "join code attempt from %s: %s",
                address,
                outcome,
                address=address,
            )

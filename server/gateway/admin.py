"""The admin API and page on the gateway: ``/admin`` (page) and ``/admin/...`` (JSON).

:func:`register_admin` adds the routes to the gateway's table; requests go to
:class:`~server.identity.admin_api.AdminApi` (pure: credential, validation, audit), which
calls back into the server through :class:`ServerAdmin`, the one place that turns admin
acts into hosting calls and gateway writes. docs/operations.md lists every route.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import broadcast
from websockets.http11 import Request, Response

from server.audit import AuditFileHandler
from server.core.systems.registry import Ending
from server.gateway import http
from server.gateway.bodies import body_too_large, remote_address, request_body
from server.hosting.host import Host
from server.identity.admin import AdminGuard
from server.identity.admin_api import AdminApi, AdminError, AdminRequest
from server.match.handler import LeaveReason
from server.match.match import Match, MatchState, Seat
from server.match.result import build_result
from server.net.codec import encode
from server.net.protocol import CloseCode, MessageType

if TYPE_CHECKING:
    from server.gateway.connection import Conn
    from server.gateway.server import Gateway

ADMIN_METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH")
LABEL_FILTERS = ("state", "mode", "game")


class ServerAdmin:
    """The :class:`~server.identity.admin_api.AdminBackend` of one server."""

    def __init__(
        self,
        gateway: Gateway,
        host: Host,
        drain: Callable[[float], None],
        audit_handler: Callable[[], AuditFileHandler | None],
    ) -> None:
        self.gateway = gateway
        self.host = host
        self._drain = drain
        self._audit_handler = audit_handler
        self._ended: deque[str] = deque(maxlen=256)

    # -- helpers ---------------------------------------------------------------------

    def _match(self, match_id: str) -> Match:
        match = self.host.manager.find(match_id)
        if match is None:
            if match_id in self._ended:
                raise AdminError(409, "conflict", f"match {match_id} has already ended")
            raise AdminError(404, "not_found", f"no live match {match_id}")
        return match

    def _conns_of(self, match: Match) -> list[Conn]:
        return [c for c in self.gateway.conns.values() if c.match is match and not c.closing]

    def _seats(self, match: Match) -> list[Seat]:
        return list(match.by_player.values()) + list(match.spectators.values())

    def _summary(self, match: Match) -> dict[str, Any]:
        row = dict(match.labels())
        stats = self.host.tick_stats.get(match.match_id)
        summary = stats.summary(spark_points=0) if stats is not None else {}
        row["locked"] = match.match_id in self.host.locked
        row["private"] = bool(getattr(match, "private", False))
        row["tick_ms_p50"] = summary.get("p50_ms")
        row["tick_ms_p99"] = summary.get("p99_ms")
        return row

    # -- AdminBackend ----------------------------------------------------------------------

    def list_matches(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        rows = [
            self._summary(m)
            for m in self.host.manager.matches.values()
            if m.state is not MatchState.ENDED
        ]
        for key in LABEL_FILTERS:
            if key in query:
                rows = [r for r in rows if str(r.get(key)) == query[key]]
        return rows

    def inspect_match(self, match_id: str) -> dict[str, Any]:
        match = self._match(match_id)
        now = asyncio.get_running_loop().time()
        players = []
        for seat in self._seats(match):
            identity = self.host.identity_of(match, seat)
            conn = seat.conn
            row: dict[str, Any] = {
                "player_id": seat.player_id,
                "sub": identity.sub if identity else None,
                "name": identity.name if identity else None,
                "roles": sorted(identity.roles) if identity else [],
                "seat": seat.seat,
                "spectator": seat.spectator,
                "connected": conn is not None,
                "rtt_ms": None,
                "bytes_out": 0,
                "messages_in": 0,
                "last_input_age_s": None,
                "last_message_age_s": None,
                "inputs": None if seat.spectator else match.intake.seat_counts(seat.seat),
            }
            if conn is not None:
                latency = conn.ws.latency
                row["rtt_ms"] = latency * 1000.0 if latency else None
                row["bytes_out"] = conn.bytes_out
                row["messages_in"] = conn.session.messages_received
                row["last_message_age_s"] = max(0.0, now - conn.session.last_received_s)
                if conn.last_input_s is not None:
                    row["last_input_age_s"] = max(0.0, now - conn.last_input_s)
                self.gateway.measure_rtt(conn)
            players.append(row)
        stats = self.host.tick_stats.get(match.match_id)
        return {
            **self._summary(match),
            "labels": dict(getattr(match, "label_values", {}) or {}),
            "players": players,
            "tick": stats.summary() if stats is not None else {"samples": 0},
            "degradation_level": self.host.degrade.level,
        }

    def _find_seat(self, match: Match, player: str) -> Seat:
        for seat in self._seats(match):
            identity = self.host.identity_of(match, seat)
            if (identity is not None and identity.sub == player) or str(seat.player_id) == player:
                return seat
        raise AdminError(404, "not_found", f"no player {player} in match {match.match_id}")

    def kick(self, match_id: str, player: str, reason: str) -> dict[str, Any]:
        match = self._match(match_id)
        seat = self._find_seat(match, player)
        self.gateway.close_seat(seat, CloseCode.KICKED, reason)
        match.leave(seat, LeaveReason.KICKED)
        return {"kicked": player, "player_id": seat.player_id, "match_id": match_id}

    def end_match(self, match_id: str, reason: str) -> dict[str, Any]:
        match = self._match(match_id)
        # Every client hears a RESULT with reason "admin" first, as when the game ends it.
        payload = encode(
            MessageType.RESULT, build_result(match, Ending("match", "admin")).to_wire()
        )
        conns = [s.conn for s in match.by_player.values() if s.conn is not None]
        conns.extend(s.conn for s in match.spectators.values() if s.conn is not None)
        self.host.transport.send_each([(c, payload) for c in conns])
        self.host.end_match(match, CloseCode.MATCH_ENDED, f"admin: {reason}"[:120])
        self._ended.append(match_id)
        return {"ended": match_id, "reason": reason}

    def set_locked(self, match_id: str, locked: bool) -> dict[str, Any]:
        self._match(match_id)
        if locked:
            self.host.locked.add(match_id)
        else:
            self.host.locked.discard(match_id)
        return {"match_id": match_id, "locked": locked}

    def notice(self, match_id: str | None, text: str, level: str) -> dict[str, Any]:
        payload = encode(MessageType.NOTICE, {"text": text, "level": level, "from": "admin"})
        if match_id is None:
            conns = [c for c in self.gateway.conns.values() if c.seat is not None and not c.closing]
        else:
            conns = self._conns_of(self._match(match_id))
        broadcast([c.ws for c in conns], payload)
        return {"sent": len(conns)}

    def drain(self, grace_s: float) -> dict[str, Any]:
        self._drain(grace_s)
        return {"draining": True, "grace_s": grace_s}

    def banned(self, sub: str, reason: str) -> int:
        closed = 0
        for (match_id, _pid), identity in list(self.host.identities.items()):
            if identity.sub != sub:
                continue
            match = self.host.manager.find(match_id)
            if match is None:
                continue
            for seat in self._seats(match):
                if seat.player_id != _pid:
                    continue
                if seat.conn is not None:
                    self.host.observer.banned(seat.conn, sub, reason)
                    closed += 1
                self.gateway.close_seat(seat, CloseCode.BANNED, f"banned: {reason}"[:120])
                match.leave(seat, LeaveReason.KICKED)
        return closed

    def audit_tail(self, limit: int) -> dict[str, Any]:
        handler = self._audit_handler()
        if handler is None:
            return {"file": None, "head": None, "lines": []}
        lines = _tail(handler.path, limit)
        rows = []
        for line in lines:
            with contextlib.suppress(ValueError):
                rows.append(json.loads(line))
        return {"file": str(handler.path), "head": handler.head, "lines": rows}


def _tail(path: Path, limit: int) -> list[str]:
    """The last ``limit`` lines of ``path`` (reads at most the last 1 MiB)."""
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - (1 << 20)))
        lines = f.read().decode("ascii", "replace").splitlines()
    return [ln for ln in lines if ln.strip()][-limit:]


def register_admin(
    gateway: Gateway,
    host: Host,
    drain: Callable[[float], None],
    audit_handler: Callable[[], AuditFileHandler | None],
) -> AdminApi:
    """Build the admin API for ``--admin-token-file`` / the JWT key and add its routes."""
    guard = AdminGuard.from_config(gateway.config.admin_token_file, host.auth.verifier)
    api = AdminApi(guard, host.bans, ServerAdmin(gateway, host, drain, audit_handler))
    metric = gateway.observer.metrics.admin_requests

    def handle(request: Request) -> Response:
        req = AdminRequest(
            request.method,
            request.path,
            request.headers.get("Authorization"),
            remote_address(request),
            request_body(request),
            body_too_large(request),
        )
        out = api.handle(req)
        metric.labels(str(out.status)).inc()
        return http.json_response(out.status, out.payload)

    def page(_request: Request) -> Response:
        if not guard.configured:
            return http.text(404, "not found\n")
        served = http.static_file(gateway.routes.static_dir, "admin.html")
        return served if served is not None else http.text(404, "not found\n")

    gateway.routes.add("GET", "/admin", page)
    for method in ADMIN_METHODS:
        gateway.routes.add_prefix(method, "/admin/", handle)
    return api

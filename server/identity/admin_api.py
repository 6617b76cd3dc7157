"""The admin API (``/admin/...``) as a pure function of a request: no sockets, no asyncio.

:class:`AdminApi` checks the credential (:class:`~server.identity.admin.AdminGuard`),
parses the path and the JSON body, validates every field, calls the server through the
narrow :class:`AdminBackend` protocol, writes the audit line, and returns an
:class:`AdminResponse` (status and a JSON object). The gateway only moves bytes.

Errors are JSON ``{"error": code, "detail": sentence}`` with a stable ``code``:
``not_configured`` 404, ``rate_limited`` 429, ``no_credential`` 401, ``bad_credential`` /
``not_admin`` / ``token_<class>`` 403, ``not_found`` 404 (route, match, player, ban),
``method_not_allowed`` 405, ``bad_id`` 400 (an id outside the id alphabet: no path
traversal), ``too_large`` 413, ``not_json`` 400, ``unknown_field`` 400, ``bad_field`` 400,
``conflict`` 409 (ending an ended match). docs/operations.md lists every route.

Audited: every act that changes something (kick, end, lock, unlock, notice, drain, ban,
unban) with its result, every refused credential, and the first rate-limited request of
an address in each 10 s window. Reads (listing, inspecting) are not audited.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from server.audit import audit_act
from server.identity.admin import AdminGuard
from server.identity.bans import BanError, BanStore, parse_until
from server.ops.events import Event

ID_PATTERN = re.compile(r"[A-Za-z0-9._:@|+~-]{1,128}")
MAX_BODY_BYTES = 4096
MAX_REASON_CHARS = 120
"""A websocket close reason holds 123 bytes; the kick reason is shown to the client."""
MAX_NOTICE_CHARS = 300
NOTICE_LEVELS = ("info", "warning")
RATE_AUDIT_WINDOW_S = 10.0


class AdminError(Exception):
    """Raised by a backend (or the API) to answer with ``status`` and ``{"error": code}``."""

    def __init__(self, status: int, code: str, detail: str = "") -> None:
        self.status = status
        self.code = code
        self.detail = detail or code
        super().__init__(f"{status} {code}: {self.detail}")


class AdminBackend(Protocol):
    """What the admin API needs of the server; raise :class:`AdminError` for 404/409."""

    def list_matches(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every match (private ones included) that the ``/matches`` filters select."""

    def inspect_match(self, match_id: str) -> dict[str, Any]:
        """A match in detail: labels, players, tick statistics, degradation level."""

    def kick(self, match_id: str, player: str, reason: str) -> dict[str, Any]:
        """Close ``player`` (a sub or a numeric player id) with KICKED and ``reason``."""

    def end_match(self, match_id: str, reason: str) -> dict[str, Any]:
        """End the match (MATCH_ENDED, a RESULT with reason ``admin`` where there is one)."""

    def set_locked(self, match_id: str, locked: bool) -> dict[str, Any]:
        """Lock (no new joins) or unlock a match."""

    def notice(self, match_id: str | None, text: str, level: str) -> dict[str, Any]:
        """Send a NOTICE to one match (or every connection when ``match_id`` is None)."""

    def drain(self, grace_s: float) -> dict[str, Any]:
        """Start draining this node (as SIGTERM does)."""

    def banned(self, sub: str, reason: str) -> int:
        """Close the live connections of a newly banned ``sub`` (BANNED); how many."""

    def audit_tail(self, limit: int) -> dict[str, Any]:
        """The last ``limit`` audit lines and the head hash."""


@dataclass(frozen=True, slots=True)
class AdminRequest:
    """One HTTP request to ``/admin/...``: the path includes the query string."""

    method: str
    path: str
    authorization: str | None = None
    remote: str = "-"
    body: bytes = b""
    body_too_large: bool = False
    """The gateway did not read a body over its own cap (answered 413)."""


@dataclass(frozen=True, slots=True)
class AdminResponse:
    """``status`` and the JSON object to send."""

    status: int
    payload: dict[str, Any] = field(default_factory=dict)


def _error(status: int, code: str, detail: str = "") -> AdminResponse:
    return AdminResponse(status, {"error": code, "detail": detail or code})


def _string(body: Mapping[str, Any], key: str, limit: int, required: bool = False) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise AdminError(400, "bad_field", f"{key} is required")
        return ""
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise AdminError(400, "bad_field", f"{key} must be printable text of <= {limit} chars")
    if required and not value.strip():
        raise AdminError(400, "bad_field", f"{key} must not be empty")
    return value


def _id(segment: str, what: str) -> str:
    value = unquote(segment)
    if ID_PATTERN.fullmatch(value) is None or value in (".", ".."):
        raise AdminError(400, "bad_id", f"{what} must be 1-128 characters of [A-Za-z0-9._:@|+-]")
    return value


Handler = Callable[["AdminApi", str, list[str], dict[str, Any], dict[str, str]], AdminResponse]


class AdminApi:
    """Routes of ``/admin``; see the module docstring and docs/operations.md."""

    def __init__(
        self,
        guard: AdminGuard,
        bans: BanStore,
        backend: AdminBackend,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.guard = guard
        self.bans = bans
        self.backend = backend
        self._clock = clock
        self._monotonic = monotonic
        self.max_body_bytes = max_body_bytes
        self._rate_audited: dict[str, float] = {}

    # -- entry ---------------------------------------------------------------------

    def handle(self, req: AdminRequest) -> AdminResponse:
        """Answer one request (never raises for bad input)."""
        decision = self.guard.check(req.authorization, req.remote, self._monotonic())
        if not decision.ok:
            self._audit_refusal(req, decision.status, decision.error, decision.actor)
            return _error(decision.status, decision.error)
        actor = decision.actor or "?"
        url = urlsplit(req.path)
        parts = [p for p in url.path.split("/") if p][1:]  # drop "admin"
        query = dict(parse_qsl(url.query))
        method = req.method.upper()
        try:
            route, args = self._route(method, parts)
            if req.body_too_large:
                raise AdminError(
                    413, "too_large", f"bodies are at most {self.max_body_bytes} bytes"
                )
            body = self._body(req.body) if method in ("POST", "PUT", "DELETE") else {}
            return route(self, actor, args, body, query)
        except AdminError as exc:
            if method != "GET":
                self._audit(
                    actor, _action_of(method, parts), "/".join(parts), exc.code, detail=exc.detail
                )
            return _error(exc.status, exc.code, exc.detail)

    def _route(self, method: str, parts: list[str]) -> tuple[Handler, list[str]]:
        """The handler and the ids of a path, by its first segment and its length."""
        methods = _ROUTES.get((parts[0], len(parts))) if parts else None
        if methods is None or (len(parts) == 3 and parts[2] not in _MATCH_ACTS):
            raise AdminError(404, "not_found", "no such admin route")
        handler = methods.get(method)
        if handler is None:
            raise AdminError(405, "method_not_allowed", f"use {', '.join(sorted(methods))}")
        ids = [_id(parts[1], "ban sub" if parts[0] == "bans" else "match id")] if parts[1:] else []
        return handler, ids + parts[2:]

    def _body(self, raw: bytes) -> dict[str, Any]:
        if len(raw) > self.max_body_bytes:
            raise AdminError(413, "too_large", f"bodies are at most {self.max_body_bytes} bytes")
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise AdminError(400, "not_json", "the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise AdminError(400, "not_json", "the body must be a JSON object")
        return body

    # -- audit ---------------------------------------------------------------------

    def _audit(self, actor: str, action: str, target: str, result: str, **detail: Any) -> None:
        level = logging.INFO if result == "ok" else logging.WARNING
        audit_act(
            Event.ADMIN_ACT,
            f"admin {action} {target}: {result}",
            actor=actor,
            action=action,
            target=target,
            result=result,
            level=level,
            **detail,
        )

    def _audit_refusal(self, req: AdminRequest, status: int, code: str, actor: str | None) -> None:
        if status == 404 and code == "not_configured":
            return  # the API does not exist: nothing was attempted against it
        if status == 429:
            now = self._monotonic()
            last = self._rate_audited.get(req.remote)
            if last is not None and now - last < RATE_AUDIT_WINDOW_S:
                return
            if len(self._rate_audited) > 4096:
                self._rate_audited.clear()
            self._rate_audited[req.remote] = now
        path = urlsplit(req.path).path
        audit_act(
            Event.ADMIN_DENIED,
            f"admin request refused: {status} {code}",
            actor=actor or "?",
            action=f"{req.method.upper()} {path[:200]}",
            target=req.remote,
            result=code,
            level=logging.WARNING,
            status=status,
        )

    # -- routes --------------------------------------------------------------------

    def _list(
        self, actor: str, ids: list[str], body: dict[str, Any], query: dict[str, str]
    ) -> AdminResponse:
        return AdminResponse(200, {"matches": self.backend.list_matches(query)})

    def _inspect(
        self, actor: str, ids: list[str], body: dict[str, Any], query: dict[str, str]
    ) -> AdminResponse:
        return AdminResponse(200, self.backend.inspect_match(ids[0]))

    def _match_act(
        self, actor: str, ids: list[str], body: dict[str, Any], query: dict[str, str]
    ) -> AdminResponse:
        match_id, act = ids
        allowed = _MATCH_ACTS[act]
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise AdminError(400, "unknown_field", f"unknown field(s): {', '.join(unknown)}")
        detail: dict[str, Any] = {}
        if act == "kick":
            player = body.get("player")
            if isinstance(player, int) and not isinstance(player, bool):
                player = str(player)
            if not isinstance(player, str) or ID_PATTERN.fullmatch(player) is None:
                raise AdminError(400, "bad_field", "player must be a sub or a player id")
            reason = _string(body, "reason", MAX_REASON_CHARS) or "kicked by an admin"
            out = self.backend.kick(match_id, player, reason)
            detail = {"player": player, "reason": reason}
        elif act == "end":
            reason = _string(body, "reason", MAX_REASON_CHARS) or "ended by an admin"
            out = self.backend.end_match(match_id, reason)
            detail = {"reason": reason}
        elif act in ("lock", "unlock"):
            out = self.backend.set_locked(match_id, act == "lock")
        else:  # notice
            text, level = self._notice_fields(body)
            out = self.backend.notice(match_id, text, level)
            detail = {"text": text, "notice_level": level}
        self._audit(actor, act, match_id, "ok", match_id=match_id, **detail)
        return AdminResponse(200, out)

    def _notice_fields(self, body: dict[str, Any]) -> tuple[str, str]:
        text = _string(body, "text", MAX_NOTICE_CHARS, required=True)
        level = body.get("level", "info")
        if level not in NOTICE_LEVELS:
            raise AdminError(400, "bad_field", f"level must be one of {', '.join(NOTICE_LEVELS)}")
        return text, str(level)

    def _notice_all(
        self, actor: str, ids: list[str], body: dict[str, Any], query: dict[str, str]
    ) -> AdminResponse:
        unknown = sorted(set(body) - {"text", "level"})
        if unknown:
            raise AdminError(400, "unknown_field", f"unknown field(s): {', '.join(unknown)}")
        text, level = self._notice_fields(body)
        out = self.backend.notice(None, text, level)
        self._audit(actor, "notice", "*", "ok", text=text, notice_level=level)
        return AdminResponse(200, out)

    def _drain(
        self, actor: str, ids: list[str], body: dict[str, Any], query: dict[str, str]
    ) -> AdminResponse:
        unknown = sorted(set(body) - {"grace_s"})
        if unknown:
            raise AdminError(400, "unknown_field", f"unknown field(s): {', '.join(unknown)}")
        grace = body.get("grace_s", 10.0)
        if (
            not isinstance(grace, int | float)
            or isinstance(grace, bool)
            or not math.isfinite(grace)
            or not 0 <= grace <= 3600
        ):
            raise AdminError(400, "bad_field", "grace_s must be a number of seconds in 0..3600")
        out = self.backend.drain(float(grace))
        self._audit(actor, "drain", "node", "ok", grace_s=float(grace))
        return AdminResponse(202, out)

    def _bans_list(
        self, actor: str, ids: list[str], body: dict[str, Any], query: dict[str, str]
    ) -> AdminResponse:
        return AdminResponse(200, {"bans": [b.to_json() for b in self.bans.active(self._clock())]})

    def _ban_add(
        self, actor: str, ids: list[str], body: dict[str, Any], query: dict[str, str]
    ) -> AdminResponse:
        unknown = sorted(set(body) - {"sub", "until", "reason"})
        if unknown:
            raise AdminError(400, "unknown_field", f"unknown field(s): {', '.join(unknown)}")
        now = self._clock()
        try:
            until = parse_until(body.get("until"), now)
            ban = self.bans.add(body.get("sub"), until, body.get("reason", ""), actor, now)
        except BanError as exc:
            raise AdminError(400, "bad_field", str(exc)) from None
        closed = self.backend.banned(ban.sub, ban.reason)
        self._audit(
            actor,
            "ban",
            ban.sub,
            "ok",
            until=ban.to_json()["until"],
            reason=ban.reason,
            closed=closed,
        )
        return AdminResponse(201, {"ban": ban.to_json(), "closed_connections": closed})

    def _ban_remove(
        self, actor: str, ids: list[str], body: dict[str, Any], query: dict[str, str]
    ) -> AdminResponse:
        if body:
            raise AdminError(400, "unknown_field", "DELETE takes no body fields")
        ban = self.bans.remove(ids[0])
        if ban is None:
            raise AdminError(404, "not_found", "no ban for this sub")
        self._audit(actor, "unban", ban.sub, "ok")
        return AdminResponse(200, {"removed": ban.to_json()})

    def _audit_tail(
        self, actor: str, ids: list[str], body: dict[str, Any], query: dict[str, str]
    ) -> AdminResponse:
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            raise AdminError(400, "bad_field", "limit must be an integer") from None
        return AdminResponse(200, self.backend.audit_tail(max(1, min(limit, 500))))


_MATCH_ACTS: dict[str, frozenset[str]] = {
    "kick": frozenset({"player", "reason"}),
    "end": frozenset({"reason"}),
    "lock": frozenset(),
    "unlock": frozenset(),
    "notice": frozenset({"text", "level"}),
}


_ROUTES: dict[tuple[str, int], dict[str, Handler]] = {
    ("matches", 1): {"GET": AdminApi._list},
    ("matches", 2): {"GET": AdminApi._inspect},
    ("matches", 3): {"POST": AdminApi._match_act},
    ("notice", 1): {"POST": AdminApi._notice_all},
    ("drain", 1): {"POST": AdminApi._drain},
    ("bans", 1): {"GET": AdminApi._bans_list, "POST": AdminApi._ban_add},
    ("bans", 2): {"DELETE": AdminApi._ban_remove},
    ("audit", 1): {"GET": AdminApi._audit_tail},
}
"""(first path segment after /admin, number of segments) -> method -> handler."""


def _action_of(method: str, parts: list[str]) -> str:
    if len(parts) == 3:
        return parts[2]
    if parts[:1] == ["bans"]:
        return "unban" if method == "DELETE" else "ban"
    return parts[0] if parts else "?"

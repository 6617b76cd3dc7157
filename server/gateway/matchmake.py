"""HTTP matchmaking on the websocket port: ``POST /matchmake/<kind>`` and the queue.

Bodies are read by :mod:`server.gateway.bodies` (websockets itself refuses them); a body
over ``max_body_bytes`` is answered 413. :class:`MatchmakeRoutes` answers:

- ``POST /matchmake/{join-or-create|create|join|join-by-id|join-by-code}`` → 200
  ``{match_id, game, reservation, ws_url, expires_in_s[, code]}``; the client then opens
  ``ws_url`` and says ``HELLO {reservation}``;
- ``POST /matchmake/queue`` with a ticket → the long poll: 200 ``{status: "matched", ...}``
  once matched, or ``{status: "waiting", ticket}`` after ``queue_poll_s``; poll again with
  ``{ticket}``; ``POST /matchmake/unqueue {ticket}`` cancels.

Errors are ``{"error": {"code", "message"}}`` with 400 (bad body), 401 (auth), 403
(refused), 404 (no such match/ticket/endpoint), 405, 409 (full), 413 (body too big), 429
(rate limited), 503 (draining). Every request costs a token of its address's bucket.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from server.cluster.listing import listing_rows
from server.directory import DirectoryUnavailable
from server.errors import JoinRejected, MatchFull, MatchNotFound
from server.gateway import http
from server.gateway.bodies import body_too_large, remote_address, request_body
from server.hosting.directory import CodeAttemptsLimited
from server.identity.admission import Banned
from server.identity.verify import TokenRejected
from server.matchmaking.errors import BadListingQuery, MatchmakingError
from server.matchmaking.listing import parse_listing_query
from server.matchmaking.ratelimit import AddressLimiter
from server.matchmaking.requests import KINDS, parse_body
from server.ops.events import Event, log_event

if TYPE_CHECKING:
    from server.gateway.server import Gateway

log = logging.getLogger("tickwire.matchmake")


def error(status: int, code: str, message: str) -> Response:
    """A JSON error response."""
    return http.json_response(status, {"error": {"code": code, "message": message}})


class MatchmakeRoutes:
    """The ``/matchmake/*`` handlers of one gateway."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        cfg = gateway.config
        self.limiter = AddressLimiter(cfg.matchmake_rate_per_s, cfg.matchmake_burst)
        self.poll_s = max(0.0, min(cfg.queue_poll_s, cfg.open_timeout_s - 1.0))

    async def handle(self, connection: ServerConnection, request: Request) -> Response:
        """Answer one ``/matchmake/...`` request (never raises)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        address = remote_address(request)
        body_bytes = request_body(request)
        max_body = self.gateway.config.max_body_bytes
        kind = request.path.split("?", 1)[0][len("/matchmake/") :]
        host = self.gateway.host
        observer = self.gateway.observer
        if not self.limiter.allow(address, now):
            observer.matchmake_refused(address, kind, "rate_limited")
            return error(429, "rate_limited", "too many matchmaking requests: slow down")
        if request.method != "POST":
            return error(405, "method_not_allowed", "matchmaking endpoints take POST")
        if kind not in (*KINDS, "queue", "unqueue"):
            return error(404, "unknown_endpoint", f"no endpoint /matchmake/{kind[:40]}")
        if body_too_large(request) or len(body_bytes) > max_body:
            observer.matchmake_refused(address, kind, "body_too_large")
            return error(413, "body_too_large", f"bodies are at most {max_body} bytes")
        if host.draining:
            return error(503, "draining", "server is draining")
        try:
            body = json.loads(body_bytes or b"{}")
        except (ValueError, UnicodeDecodeError):
            observer.matchmake_refused(address, kind, "bad_json")
            return error(400, "bad_json", "the body is not JSON")
        token = (
            body.pop("token", None)
            if isinstance(body, dict) and kind in ("queue", "unqueue")
            else None
        )
        try:
            routed = await self._routed(kind, body, token, address, request)
            if routed is not None:
                return routed
            if kind == "queue":
                return await self._queue(body, token, now, address)
            if kind == "unqueue":
                return self._unqueue(body)
            return self._reserve(kind, body, now, address, request)
        except MatchmakingError as exc:
            observer.matchmake_refused(address, kind, exc.code)
            return error(exc.status, exc.code, exc.message)

    def _identity_refusal(self, token: Any, address: str, kind: str) -> Response | None:
        """The same identity check as HELLO (dev token or JWT, then bans): None when the
        body's ``token`` admits the player, else the 401 ``bad_token`` / 403 ``banned``."""
        observer = self.gateway.observer
        try:
            self.gateway.host.auth.admit(token, time.time())
        except TokenRejected as exc:
            observer.matchmake_refused(address, kind, "bad_token")
            return error(401, "bad_token", f"bad token: {exc.reason}")
        except Banned as exc:
            observer.matchmake_refused(address, kind, "banned")
            return error(403, "banned", f"banned: {exc.ban.reason}"[:120])
        return None

    async def _routed(
        self, kind: str, body: Any, token: Any, address: str, request: Request | None
    ) -> Response | None:
        """In a cluster, the answer of the node(s) the router picks (docs/operations.md,
        "Cluster"): this node's own for a route to itself, else the peer's over the
        directory. None: not clustered, answer here as a single node does."""
        router = getattr(self.gateway, "router", None)
        if router is None:
            return None
        now = asyncio.get_running_loop().time()
        try:
            routes = await router.routes(kind, body, now)
        except DirectoryUnavailable as exc:
            return error(503, "directory_unavailable", str(exc))
        if routes is None:
            return None
        answer: Response | None = None
        unreachable: set[str] = set()
        for route in routes:
            if route.node_id in unreachable:
                continue
            if route.node_id == router.node.node_id:
                answer = await self.answer(route.kind, route.body, token, address, route.code)
            else:
                answer = await self._ask_peer(route, token, address)
                if answer.status_code == 503:  # dead or stuck: try the next node, if any
                    unreachable.add(route.node_id)
                    continue
            if answer.status_code == 200:
                router.placed(route, now)
                return answer
            if answer.status_code not in (403, 404, 409):
                return answer
        return answer

    async def _ask_peer(self, route: Any, token: Any, address: str) -> Response:
        cluster = self.gateway.cluster
        timeout = 2.0 + (self.poll_s if route.kind == "queue" else 0.0)
        message = {
            "kind": route.kind,
            "body": route.body,
            "address": address,
            "code": route.code,
            "token": token,
        }
        try:
            reply = await cluster.directory.request(route.node_id, "reserve", message, timeout)
        except DirectoryUnavailable as exc:
            return error(503, "directory_unavailable", str(exc))
        status = reply.get("status", 502)
        answer = reply.get("body")
        if not isinstance(status, int) or not isinstance(answer, dict):
            return error(502, "bad_peer_reply", f"node {route.node_id} sent a malformed reply")
        return http.json_response(status, answer)

    async def answer(
        self, kind: str, body: Any, token: Any, address: str, code: str | None = None
    ) -> Response:
        """Answer one request here (never forwarding): a reservation, a queue status, or
        an error response. ``code``: the join code a private create must take."""
        now = asyncio.get_running_loop().time()
        try:
            if kind == "queue":
                return await self._queue(body, token, now, address)
            if kind == "unqueue":
                return self._unqueue(body)
            return self._reserve(kind, body, now, address, None, code)
        except MatchmakingError as exc:
            self.gateway.observer.matchmake_refused(address, kind, exc.code)
            return error(exc.status, exc.code, exc.message)

    async def answer_peer(self, message: dict[str, Any]) -> dict[str, Any]:
        """Answer a request another node forwarded here: ``{status, body}``."""
        code = message.get("code")
        response = await self.answer(
            str(message.get("kind")),
            message.get("body"),
            message.get("token"),
            str(message.get("address", "peer")),
            code if isinstance(code, str) else None,
        )
        return {"status": response.status_code, "body": json.loads(response.body or b"{}")}

    async def cluster_listing(self, request: Request) -> Response:
        """``GET /matches`` of a clustered node: the whole cluster, from the directory
        (:mod:`server.cluster.listing`); 503 ``directory_unavailable`` when unreadable."""
        gateway = self.gateway
        try:
            query = parse_listing_query(urlsplit(request.path).query)
            if query.game is not None:
                gateway.host.directory.game(query.game)  # 404 for a game no node runs
        except BadListingQuery as exc:
            gateway.observer.matchmake_refused("?", "matches", exc.code)
            return error(400, exc.code, exc.message)
        except JoinRejected as exc:
            return error(404, "unknown_game", exc.reason)
        directory = gateway.cluster.directory
        try:
            nodes = await directory.live_nodes()
            records = await directory.list_matches(query.game, nodes=nodes)
        except DirectoryUnavailable as exc:
            return error(503, "directory_unavailable", str(exc))
        listing = listing_rows(records, nodes, query)
        if http.wants_json(request.path, request.headers.get("Accept", "")):
            return http.json_response(200, listing)
        return http.matches_page(listing["matches"])

    def _ws_url(self, request: Request | None) -> str:
        cluster = getattr(self.gateway, "cluster", None)
        if cluster is not None and cluster.public_url:
            return str(cluster.public_url)
        host_header = request.headers.get("Host") if request is not None else None
        if host_header:
            return f"ws://{host_header}/ws"
        return f"ws://{self.gateway.config.host}:{self.gateway.port}/ws"

    def _reserve(
        self,
        kind: str,
        body: Any,
        now: float,
        address: str,
        request: Request | None,
        code: str | None = None,
    ) -> Response:
        host = self.gateway.host
        req = parse_body(kind, body)
        if code is not None and req.create is not None and req.create.private:
            req = dataclasses.replace(req, create=dataclasses.replace(req.create, code=code))
        refusal = self._identity_refusal(req.token, address, kind)
        if refusal is not None:
            return refusal
        try:
            match = host.directory.choose(req, now, address)
        except MatchNotFound as exc:
            return error(404, "match_not_found", exc.reason)
        except MatchFull as exc:
            return error(409, "match_full", exc.reason)
        except CodeAttemptsLimited as exc:
            self.gateway.observer.code_attempt(address, ok=False, limited=True)
            return error(429, "code_attempts", exc.reason)
        except JoinRejected as exc:
            if req.code is not None:
                self.gateway.observer.code_attempt(address, ok=False, limited=False)
            return error(403, "join_rejected", exc.reason)
        if req.code is not None:
            self.gateway.observer.code_attempt(address, ok=True, limited=False)
        res = host.directory.reservations.reserve(
            match.match_id, now, {"name": req.name, "spectate": req.spectate}
        )
        log_event(
            log,
            logging.INFO,
            Event.SEAT_RESERVED,
            "seat reserved in %s",
            match.match_id,
            extra={"match_id": match.match_id, "address": address, "kind": kind},
        )
        answer: dict[str, Any] = {
            "match_id": match.match_id,
            "game": match.definition.name,
            "reservation": res.token,
            "ws_url": self._ws_url(request),
            "expires_in_s": host.directory.reservations.ttl_s,
        }
        if match.private and match.join_code is not None:
            answer["code"] = match.join_code
        return http.json_response(200, answer)

    async def _queue(self, body: Any, token: Any, now: float, address: str) -> Response:
        queue = self.gateway.host.queue
        if isinstance(body, dict) and "ticket" in body:
            ticket_id = body["ticket"]
            if set(body) != {"ticket"} or not isinstance(ticket_id, str):
                return error(400, "bad_request", "a poll body is {ticket} only")
        else:
            refusal = self._identity_refusal(token, address, "queue")
            if refusal is not None:
                return refusal
            ticket_id = queue.submit(body, now, address).ticket_id
        status = await queue.wait(ticket_id, self.poll_s)
        if status is None:
            return error(404, "unknown_ticket", "no such ticket (expired or never queued)")
        if status.get("status") == "matched":
            status = {**status, "ws_url": self._ws_url(None)}
        return http.json_response(200, status)

    def _unqueue(self, body: Any) -> Response:
        if (
            not isinstance(body, dict)
            or set(body) != {"ticket"}
            or not isinstance(body["ticket"], str)
        ):
            return error(400, "bad_request", "an unqueue body is {ticket} only")
        if not self.gateway.host.queue.cancel(body["ticket"]):
            return error(404, "unknown_ticket", "no waiting ticket with this id")
        return http.json_response(200, {"status": "cancelled", "ticket": body["ticket"]})

"""The gateway: the websocket server, its HTTP routes, connections and close codes.

This package is the only code that imports ``websockets`` (a test enforces it). The
:class:`Gateway` accepts upgrades (within ``max_connections``, refusing while draining),
runs one :func:`~server.gateway.connection.serve_connection` per connection, serves the
:class:`~server.gateway.routes.Routes` table for plain HTTP requests, and is hosting's
:class:`~server.hosting.transport.Transport`: it writes frames synchronously, framed once
per payload and straight to the transport (:mod:`server.gateway.lean`), and closes
connections with documented codes. Connections are
:class:`~server.gateway.lean.LeanConnection`: after WELCOME their binary messages skip
websockets' parser.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import socket
import ssl
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import OPEN, State

from server.config import ServerConfig
from server.errors import JoinRejected, ProtocolViolation
from server.gateway import http
from server.gateway.bodies import attach_body
from server.gateway.connection import CLOSE_REASONS, Conn, serve_connection
from server.gateway.lean import LeanConnection, frame, write_frame
from server.gateway.matchmake import MatchmakeRoutes
from server.gateway.matchmake import error as matchmake_error
from server.gateway.routes import Routes
from server.hosting.host import Host
from server.match.match import Seat
from server.matchmaking.errors import BadListingQuery
from server.matchmaking.listing import parse_listing_query
from server.net.protocol import CloseCode
from server.net.session import ClientSession, TokenBucket, message_allowance
from server.ops.observer import Observer


def server_tls_context(config: ServerConfig) -> ssl.SSLContext | None:
    """The TLS context of ``--tls-cert``/``--tls-key``, or None to serve plain ws/http."""
    if not config.tls_cert and not config.tls_key:
        return None
    if not (config.tls_cert and config.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(config.tls_cert, config.tls_key)
    return ctx


LAGGER_CLOSE_TIMEOUT_S = 10.0
"""How long a client closed ``TOO_FAR_BEHIND`` has to complete the closing handshake
(other closes: 2 s); docs/protocol.md, close codes."""


class Gateway:
    """Websocket endpoint and HTTP routes of one server; see the module docstring."""

    def __init__(self, config: ServerConfig, observer: Observer) -> None:
        self.config = config
        self.observer = observer
        self.conns: dict[int, Conn] = {}
        static_dir = Path(config.static_dir) if config.static_dir else http.WEB_DIR
        self.routes = Routes(static_dir)
        self._host: Host | None = None
        self.replays_dir: Path | None = None
        """The record directory whose files HELLO ``replay`` may name (server.gateway.replays)."""
        self._conn_ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        # Upgrades accepted but not yet handed to _handle: they count against the limit,
        # or a storm of simultaneous handshakes would all pass the check.
        self._upgrading: weakref.WeakSet[ServerConnection] = weakref.WeakSet()
        self._server: Server | None = None
        self._send_limit = config.send_buffer_limit_bytes
        self.loop_time: Callable[[], float] = lambda: asyncio.get_running_loop().time()
        """The event loop's clock (bound once the server starts: one call per message)."""
        self._bucket_args = (
            (config.rate_messages_per_s, config.rate_burst_messages),
            (config.rate_bytes_per_s, config.rate_burst_bytes),
        )
        """Per-connection token buckets: (messages/s, burst), (bytes/s, burst); the message
        allowance follows the fastest hosted game's tick rate once :meth:`attach` knows it."""

    @property
    def host(self) -> Host:
        """The hosting side (set by :meth:`attach`)."""
        assert self._host is not None, "Gateway.attach(host) first"
        return self._host

    def attach(self, host: Host) -> None:
        """Connect the hosting side and register the built-in routes."""
        self._host = host
        self._bucket_args = (
            message_allowance(
                self.config.rate_messages_per_s,
                self.config.rate_burst_messages,
                max(g.definition.tick_rate_hz for g in host.directory.games.values()),
            ),
            self._bucket_args[1],
        )
        self.routes.add("GET", "/healthz", lambda _r: http.text(200, "ok\n"))
        self.routes.add("GET", "/readyz", self._readyz)
        if self.config.metrics:
            self.routes.add("GET", "/metrics", self._metrics)
        self.routes.add("GET", "/matches", self._matches)
        self.matchmake = MatchmakeRoutes(self)
        self.cluster: Any = None
        """The node's :class:`~server.hosting.node.ClusterNode` when clustered (set by app)."""
        self.router: Any = None
        """The node's :class:`~server.cluster.routing.ClusterRouter` when clustered."""

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the listening socket."""
        self._server = await serve(
            self._handle,
            self.config.host,
            self.config.port,
            process_request=self._process_request,
            max_size=self.config.max_message_bytes,
            max_queue=32,
            compression=None,
            ping_interval=None,
            open_timeout=self.config.open_timeout_s,
            close_timeout=2.0,
            logger=logging.getLogger("tickwire.websockets"),
            ssl=server_tls_context(self.config),
            create_connection=LeanConnection,
        )
        self.loop_time = asyncio.get_running_loop().time
        if self.config.socket_send_buffer_bytes > 0:
            # Accepted sockets inherit the listener's send buffer size.
            for sock in self._server.sockets:
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_SNDBUF, self.config.socket_send_buffer_bytes
                )

    @property
    def server(self) -> Server | None:
        """The websockets server once started."""
        return self._server

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        assert self._server is not None
        sock = next(iter(self._server.sockets))
        port: int = sock.getsockname()[1]
        return port

    def notify_all(self, payload: bytes) -> None:
        """Write one message to every open connection."""
        framed = frame(payload)
        for c in list(self.conns.values()):
            write_frame(c.ws, framed)

    async def stop(self) -> None:
        """Stop listening, close every connection (SERVER_SHUTDOWN) and wait for them."""
        if self._server is None:
            return
        self._server.close(close_connections=False)
        closing = [self.close(c, CloseCode.SERVER_SHUTDOWN) for c in list(self.conns.values())]
        await asyncio.gather(*closing, *list(self._tasks), return_exceptions=True)
        await self._server.wait_closed()

    def sweep_idle(self, now_s: float) -> None:
        """Close connections that sent nothing for ``idle_timeout_s`` (IDLE_TIMEOUT)."""
        limit = self.config.idle_timeout_s
        for conn in list(self.conns.values()):
            if not conn.closing and now_s - conn.session.last_received_s > limit:
                self.observer.idle_timeout(conn)
                self.close_soon(conn, CloseCode.IDLE_TIMEOUT)

    # -- transport (server.hosting.transport.Transport) ---------------------------------------

    def writable(self, conn: Any) -> bool:
        """A connection can take a new state frame if its unsent bytes are under the limit."""
        size: int = conn.ws.transport.get_write_buffer_size()
        return size < self._send_limit

    def send_each(self, frames: list[tuple[Any, bytes]]) -> tuple[int, int]:
        """Write each (conn, frame), skipping closing connections; (frames, bytes) written.

        A payload object that repeats (a match whose clients all see the same bytes) is
        framed once for all of them. One ``transport.write`` per frame, with
        :func:`~server.gateway.lean.write_frame`'s checks inlined (once per client per
        tick): connections in the closing handshake or with a closing transport are
        skipped."""
        n = 0
        size = 0
        last: bytes | None = None
        framed = b""
        length = 0
        for conn, payload in frames:
            if conn.closing:
                continue
            if payload is not last:
                last = payload
                framed = frame(payload)
                length = len(payload)
            ws = conn.ws
            if ws.protocol.state is OPEN:
                transport = ws.transport
                if not transport.is_closing():
                    transport.write(framed)
            n += 1
            size += length
            conn.bytes_out += length
        return n, size

    def send_shared(self, conns: list[Any], payload: bytes, limit_bytes: int) -> int:
        """Write one payload to every conn under ``limit_bytes`` unsent; close the others."""
        framed = frame(payload)  # one frame for everyone: server frames are not masked
        size = len(payload)
        sent = 0
        for conn in conns:
            if conn.closing:
                continue
            ws = conn.ws
            if ws.transport.get_write_buffer_size() > limit_bytes:
                self.close_soon(conn, CloseCode.TOO_FAR_BEHIND)
                continue
            write_frame(ws, framed)
            conn.bytes_out += size
            sent += 1
        return sent

    def close_seat(self, seat: Seat, code: CloseCode, reason: str) -> None:
        """Unseat and close every connection seated on ``seat``."""
        for c in list(self.conns.values()):
            if c.seat is seat:
                c.seat = None
                self.close_soon(c, code, reason)

    def close_soon(self, conn: Any, code: CloseCode, reason: str | None = None) -> None:
        """Schedule :meth:`close` (a no-op if the connection is already closing)."""
        if conn.closing:
            return
        self._spawn(self.close(conn, code, reason))

    async def close(self, conn: Conn, code: CloseCode, reason: str | None = None) -> None:
        """Close with ``code`` and its reason (or ``reason``); count it."""
        if conn.closing:
            return
        conn.closing = True
        self.observer.closed(int(code))
        if code is CloseCode.TOO_FAR_BEHIND:
            # Its close frame waits behind the backlog it did not read: give it the time
            # to read that far before the socket is cut (which would drop the close code).
            conn.ws.close_timeout = LAGGER_CLOSE_TIMEOUT_S
        with contextlib.suppress(Exception):
            await conn.ws.close(int(code), reason or CLOSE_REASONS.get(code, code.name.lower()))

    def fail_soon(self, conn: Conn) -> None:
        """Close with 1011 (internal error), as websockets does when a handler fails."""
        if conn.closing:
            return
        conn.closing = True
        self.observer.closed(1011)

        async def fail() -> None:
            with contextlib.suppress(Exception):
                await conn.ws.close(1011, "internal error")

        self._spawn(fail())

    def measure_rtt(self, conn: Conn) -> None:
        """Send one websocket ping to ``conn``; its round trip lands in ``conn.ws.latency``
        (the admin match view). At most one ping is outstanding per connection."""
        if conn.closing or conn.extra.get("pinging"):
            return
        conn.extra["pinging"] = True

        async def ping() -> None:
            try:
                waiter = await conn.ws.ping()
                await asyncio.wait_for(waiter, 5.0)
            except Exception:  # closed or timed out: no figure this time
                pass
            finally:
                conn.extra["pinging"] = False

        self._spawn(ping())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- HTTP ----------------------------------------------------------------------------

    def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | Awaitable[Response] | None:
        attach_body(request, connection)
        path = request.path.split("?", 1)[0]
        if path.startswith("/matchmake/"):
            return self.matchmake.handle(connection, request)
        if path == "/matches" and self.router is not None and request.method == "GET":
            return self.matchmake.cluster_listing(request)  # the whole cluster's matches
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if upgrade and path in ("/ws", "/"):
            upgrading = sum(1 for c in self._upgrading if c.state is not State.CLOSED)
            if len(self.conns) + upgrading >= self.config.max_connections:
                self.observer.closed(503)
                return http.text(503, "connection limit reached\n")
            if self.host.draining:
                return http.text(503, "server is draining\n")
            self._upgrading.add(connection)
            return None
        return self.routes.dispatch(request)

    def _readyz(self, _request: Request) -> Response:
        if self.host.draining:
            return http.text(503, "draining\n")
        return http.text(200, "ready\n")

    def _metrics(self, _request: Request) -> Response:
        self.observer.refresh_gauges(len(self.conns), self.host.matches_by_state())
        return http.response(
            200, self.observer.metrics.exposition(), "text/plain; version=0.0.4; charset=utf-8"
        )

    def _matches(self, request: Request) -> Response:
        try:
            query = parse_listing_query(urlsplit(request.path).query)
            listing = self.host.directory.listing(query, asyncio.get_running_loop().time())
        except BadListingQuery as exc:
            self.observer.matchmake_refused("?", "matches", exc.code)
            return matchmake_error(400, exc.code, exc.message)
        except JoinRejected as exc:
            return matchmake_error(404, "unknown_game", exc.reason)
        if http.wants_json(request.path, request.headers.get("Accept", "")):
            return http.json_response(200, listing)
        return http.matches_page(listing["matches"])

    # -- websocket sessions ----------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        (m_rate, m_burst), (b_rate, b_burst) = self._bucket_args
        session = ClientSession(
            next(self._conn_ids),
            TokenBucket(m_rate, m_burst),
            TokenBucket(b_rate, b_burst),
            now,
            now,
            trace_id=secrets.token_hex(8),
        )
        self._upgrading.discard(ws)
        peer = ws.remote_address
        session.extra["address"] = str(peer[0]) if peer else "?"
        conn = Conn(ws, session)
        self.conns[session.conn_id] = conn
        self.observer.connections(len(self.conns))
        try:
            await serve_connection(self, conn)
        except ConnectionClosed:
            pass
        except ProtocolViolation as exc:
            self.observer.violation(conn, exc)
            await self.close(conn, CloseCode(exc.close_code), exc.reason[:120])
        finally:
            self.conns.pop(session.conn_id, None)
            self.observer.connections(len(self.conns))
            self.host.detach(conn, loop.time())

"""Wiring: configuration -> game definition -> match manager -> websockets -> ops.

:class:`TickwireServer` is the whole server in one object: it accepts websocket
connections (``server.net``), seats players in matches (``server.match``), runs one
:class:`~server.match.runner.MatchRunner` per match, sends what the matches produce,
serves the HTTP routes, and reports to :mod:`server.ops`. ``python -m server`` and
``server.testing.running_server`` both build one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from server.config import ServerConfig
from server.core.clock import DueTick
from server.errors import JoinRejected, MatchFull, ProtocolViolation, SystemFailed
from server.gamedef import load_definition
from server.gamedef.load import override_sync_mode
from server.gamedef.schema import GameDefinition
from server.match.handler import LeaveReason
from server.match.manager import MatchManager
from server.match.match import Match, MatchState, Seat, TickOutput
from server.match.runner import MatchRunner
from server.match.tokens import TokenSigner
from server.net import http
from server.net.codec import encode
from server.net.messages import (
    Ack,
    Checksum,
    Hello,
    Input,
    Leave,
    Ping,
    SnapshotRequest,
)
from server.net.protocol import PROTOCOL_VERSION, CloseCode, ErrorCode, MessageType
from server.net.session import ClientSession, TokenBucket
from server.ops.degrade import DegradeController
from server.ops.events import Event, log_event
from server.ops.metrics import Metrics

log = logging.getLogger("tickwire.server")
audit = logging.getLogger("tickwire.audit")

CLOSE_REASONS: dict[CloseCode, str] = {
    CloseCode.VERSION_MISMATCH: "protocol version mismatch",
    CloseCode.BAD_TOKEN: "bad auth token",
    CloseCode.HANDSHAKE_TIMEOUT: "no hello in time",
    CloseCode.MATCH_FULL: "match full",
    CloseCode.IDLE_TIMEOUT: "idle timeout",
    CloseCode.BINARY_ONLY: "text frames are not accepted",
    CloseCode.RATE_LIMITED: "rate limit exceeded",
    CloseCode.TOO_FAR_BEHIND: "too far behind",
    CloseCode.RESUME_FORGED: "resume token invalid",
    CloseCode.RESUME_EXPIRED: "resume token expired",
    CloseCode.RESUME_REUSED: "resume token already used",
    CloseCode.UNEXPECTED_MESSAGE: "unexpected message",
    CloseCode.MATCH_ENDED: "match ended",
    CloseCode.MATCH_FAILED: "match failed",
    CloseCode.SERVER_SHUTDOWN: "server shutting down",
    CloseCode.KICKED: "kicked",
    CloseCode.SERVER_BUSY: "server busy",
    CloseCode.LEFT: "left the match",
}


def match_context(match: Match | None) -> dict[str, Any]:
    """Log context of a match: its id and trace id."""
    if match is None:
        return {}
    return {"match_id": match.match_id, "match_trace_id": match.trace_id}


def conn_context(conn: Conn) -> dict[str, Any]:
    """Log context of a connection: conn and trace ids, and its player and match if seated."""
    context = {"conn_id": conn.session.conn_id, "trace_id": conn.session.trace_id}
    if conn.seat is not None:
        context["player_id"] = conn.seat.player_id
    context.update(match_context(conn.match))
    return context


@dataclass(slots=True, eq=False)
class Conn:
    """One websocket connection and its session."""

    ws: ServerConnection
    session: ClientSession
    seat: Seat | None = None
    match: Match | None = None
    closing: bool = False
    sent_messages: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class TickwireServer:
    """The server: see the module docstring."""

    def __init__(
        self,
        config: ServerConfig,
        definition: GameDefinition | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        defn = definition or load_definition(config.game)
        if config.sync:
            defn = override_sync_mode(defn, config.sync)
        self.definition = defn
        self.kind = f"{defn.name}/{defn.sync.mode}"
        self.metrics = metrics or Metrics()
        self.manager = MatchManager(defn, config.max_matches)
        self.manager.on_created.append(self._start_runner)
        self.signer = TokenSigner()
        self.conns: dict[int, Conn] = {}
        self.runners: dict[str, MatchRunner] = {}
        self._conn_ids = itertools.count(1)
        self._player_ids = itertools.count(1)
        self._used_nonces: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        # Upgrades accepted but not yet handed to _handle: they count against the limit,
        # or a storm of simultaneous handshakes would all pass the check.
        self._upgrading: weakref.WeakSet[ServerConnection] = weakref.WeakSet()
        self._server: Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.draining = False
        self.degrade = DegradeController()
        self.static_dir = Path(config.static_dir) if config.static_dir else http.WEB_DIR
        self._m_tick = {
            p: self.metrics.tick_duration.labels(self.kind, p)
            for p in ("input", "pre_update", "update", "validate", "post_update", "sync")
        }
        self._m_tick_total = self.metrics.tick_duration.labels(self.kind, "total")
        self._m_tick_send = self.metrics.tick_duration.labels(self.kind, "send")
        self._m_systems: dict[str, Any] = {}
        self._m_lateness = self.metrics.tick_lateness.labels(self.kind)
        self._m_ticks = self.metrics.ticks.labels(self.kind)
        self._m_overrun = self.metrics.ticks_overrun.labels(self.kind)
        self._m_state_out = self.metrics.messages_out.labels("state")
        self._m_state_bytes = self.metrics.bytes_out.labels("state")
        self._m_lock_out = self.metrics.messages_out.labels("lockstep_frame")
        self._m_lock_bytes = self.metrics.bytes_out.labels("lockstep_frame")
        self._m_in = {t: self.metrics.messages_in.labels(t.name.lower()) for t in MessageType}
        # Received messages and bytes are counted in plain ints on the hot path and added
        # to the Prometheus counters on every scrape and once a second (a counter's inc
        # costs ~0.5 us with its lock; a dict increment ~0.05 us).
        self._in_counts: dict[MessageType, int] = dict.fromkeys(MessageType, 0)
        self._in_bytes = 0
        self._bucket_args = (
            (config.rate_messages_per_s, config.rate_burst_messages),
            (config.rate_bytes_per_s, config.rate_burst_bytes),
        )

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Bind the socket, start the first match and the housekeeping task."""
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
        )
        self.manager.create()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="sweeper")
        log_event(
            log,
            logging.INFO,
            Event.LISTENING,
            "listening on %s (game %s, sync %s)",
            self.url,
            self.definition.name,
            self.definition.sync.mode,
        )

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        assert self._server is not None
        sock = next(iter(self._server.sockets))
        port: int = sock.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """The websocket URL clients connect to."""
        return f"ws://{self.config.host}:{self.port}/ws"

    @property
    def http_url(self) -> str:
        """The base HTTP URL (health, metrics, the browser page)."""
        return f"http://{self.config.host}:{self.port}"

    async def stop(self, grace_s: float = 0.0) -> None:
        """Drain: refuse joins, tell clients, let matches play ``grace_s``, then close all."""
        if not self.draining:
            self.draining = True
            self.metrics.draining.set(1)
            self.manager.accepting_matches = False
            notice = encode(MessageType.SHUTDOWN, {"grace_s": grace_s, "reason": "shutdown"})
            broadcast([c.ws for c in self.conns.values()], notice)
            log_event(
                log,
                logging.INFO,
                Event.DRAINING,
                "draining: %d connections, grace %.1fs",
                len(self.conns),
                grace_s,
            )
        if grace_s > 0:
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and any(  # noqa: ASYNC110 - polls runner-owned state
                m.connected_players
                for m in self.manager.matches.values()
                if m.state is MatchState.RUNNING
            ):
                await asyncio.sleep(0.05)
        for runner in self.runners.values():
            runner.stop()
        for match in list(self.manager.matches.values()):
            self._end_match(match, CloseCode.SERVER_SHUTDOWN, "server shutdown")
        tasks = [r.task for r in self.runners.values() if r.task is not None]
        if self._sweeper is not None:
            self._sweeper.cancel()
            tasks.append(self._sweeper)
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close(close_connections=False)
            closing = [
                self._close_task(c, CloseCode.SERVER_SHUTDOWN) for c in list(self.conns.values())
            ]
            await asyncio.gather(*closing, *list(self._tasks), return_exceptions=True)
            await self._server.wait_closed()
        log_event(log, logging.INFO, Event.STOPPED, "stopped")

    # -- matches -----------------------------------------------------------------------

    def _start_runner(self, match: Match) -> None:
        match.interest.far_every = 2 if self.degrade.level >= 1 else 1
        runner = MatchRunner(
            match,
            self,
            self.config.max_catchup_ticks,
            spin_s=self.config.tick_spin_ms / 1000.0,
        )
        self.runners[match.match_id] = runner
        runner.start()
        log_event(
            log,
            logging.INFO,
            Event.MATCH_CREATED,
            "match %s created (%s)",
            match.match_id,
            self.kind,
            **match_context(match),
        )

    def _end_match(self, match: Match, code: CloseCode, reason: str) -> None:
        for seat in match.end(reason):
            for c in list(self.conns.values()):
                if c.seat is seat:
                    c.seat = None
                    self._close_soon(c, code, reason)
        runner = self.runners.pop(match.match_id, None)
        if runner is not None:
            runner.stop()

    # -- runner hooks --------------------------------------------------------------------

    def writable(self, conn: Any) -> bool:
        """A connection can take a new state frame if its unsent bytes are under the limit."""
        transport = conn.ws.transport
        return bool(transport.get_write_buffer_size() < self.config.send_buffer_limit_bytes)

    def deliver(self, match: Match, out: TickOutput) -> None:
        """Write a tick's frames synchronously (no awaiting on the tick path)."""
        t0 = time.perf_counter()
        if out.frames:
            n = 0
            size = 0
            for conn, frame in out.frames:
                if conn.closing:
                    continue
                broadcast((conn.ws,), frame)
                n += 1
                size += len(frame)
            self._m_state_out.inc(n)
            self._m_state_bytes.inc(size)
            stats = match.interest.last_stats
            self.metrics.state_entities_changed.inc(stats.entered + stats.changed)
        if out.skipped_slow:
            self.metrics.snapshots_dropped.inc(out.skipped_slow)
        if out.broadcast is not None:
            conns, payload = out.broadcast
            floor = self.config.send_buffer_limit_bytes
            limit = max(floor, len(payload) * self.definition.lockstep.max_send_queue_frames)
            live = []
            for conn in conns:
                if conn.closing:
                    continue
                if conn.ws.transport.get_write_buffer_size() > limit:
                    self._close_soon(conn, CloseCode.TOO_FAR_BEHIND)
                    continue
                live.append(conn.ws)
            broadcast(live, payload)
            self._m_lock_out.inc(len(live))
            self._m_lock_bytes.inc(len(payload) * len(live))
        self._m_tick_send.observe(time.perf_counter() - t0)

    def observe_tick(self, match: Match, due: DueTick, out: TickOutput, work_s: float) -> None:
        """Export a tick's timings."""
        self._m_ticks.inc()
        self._m_lateness.observe(max(0.0, due.lateness_s))
        self._m_tick_total.observe(work_s)
        overrun = work_s > match.definition.dt_s
        if overrun:
            self._m_overrun.inc()
        level = self.degrade.observe(overrun)
        if level is not None:
            self._set_degradation(level)
        result = out.result
        if result is not None:
            for phase, s in result.phase_s.items():
                self._m_tick[phase].observe(s)
            for name, s in result.system_s.items():
                m = self._m_systems.get(name)
                if m is None:
                    m = self._m_systems[name] = self.metrics.system_duration.labels(self.kind, name)
                m.observe(s)
            if work_s * 1000 > self.config.slow_tick_budget_ms:
                worst_phase = max(result.phase_s.items(), key=lambda kv: kv[1])
                worst_sys = max(result.system_s.items(), key=lambda kv: kv[1], default=("-", 0))
                log_event(
                    log,
                    logging.WARNING,
                    Event.SLOW_TICK,
                    "slow tick %d in match %s: %.1f ms (phase %s %.1f ms, system %s %.1f ms, "
                    "sync %.1f ms)",
                    out.tick,
                    match.match_id,
                    work_s * 1000,
                    worst_phase[0],
                    worst_phase[1] * 1000,
                    worst_sys[0],
                    worst_sys[1] * 1000,
                    out.sync_s * 1000,
                    **match_context(match),
                )

    def _set_degradation(self, level: int) -> None:
        """Apply a new overload level (server.ops.degrade): gauge, log, match and join gates."""
        self.metrics.degradation.set(level)
        self.manager.accepting_matches = not self.draining and not self.degrade.refuse_matches
        for match in self.manager.matches.values():
            # Level 1 and up: far entities get every other snapshot (state sync).
            match.interest.far_every = 2 if level >= 1 else 1
        log_event(log, logging.WARNING, Event.DEGRADATION, "overload degradation level %d", level)

    def observe_skipped(self, match: Match, skipped: int) -> None:
        """Export skipped deadlines."""
        self.metrics.ticks_skipped.labels(self.kind).inc(skipped)
        log_event(
            log,
            logging.WARNING,
            Event.TICKS_SKIPPED,
            "match %s skipped %d tick deadlines (fell behind)",
            match.match_id,
            skipped,
            **match_context(match),
        )

    def match_failed(self, match: Match, error: SystemFailed) -> None:
        """End the failed match only; its players are closed with MATCH_FAILED."""
        self.metrics.match_failures.labels(self.kind).inc()
        self._end_match(match, CloseCode.MATCH_FAILED, f"system {error.system} failed")

    # -- closing -------------------------------------------------------------------------

    def _close_soon(self, conn: Conn, code: CloseCode, reason: str | None = None) -> None:
        if conn.closing:
            return
        self._spawn(self._close_task(conn, code, reason))

    async def _close_task(self, conn: Conn, code: CloseCode, reason: str | None = None) -> None:
        if conn.closing:
            return
        conn.closing = True
        self.metrics.closes.labels(str(int(code))).inc()
        with contextlib.suppress(Exception):
            await conn.ws.close(int(code), reason or CLOSE_REASONS.get(code, code.name.lower()))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- HTTP -----------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if upgrade and path in ("/ws", "/"):
            upgrading = sum(1 for c in self._upgrading if c.state is not State.CLOSED)
            if len(self.conns) + upgrading >= self.config.max_connections:
                self.metrics.closes.labels("503").inc()
                return http.text(503, "connection limit reached\n")
            if self.draining:
                return http.text(503, "server is draining\n")
            self._upgrading.add(connection)
            return None
        if path == "/healthz":
            return http.text(200, "ok\n")
        if path == "/readyz":
            if self.draining:
                return http.text(503, "draining\n")
            return http.text(200, "ready\n")
        if path == "/metrics" and self.config.metrics:
            self._refresh_gauges()
            return http.response(
                200, self.metrics.exposition(), "text/plain; version=0.0.4; charset=utf-8"
            )
        if path == "/matches":
            matches = self.manager.list_matches()
            if http.wants_json(request.path, request.headers.get("Accept", "")):
                return http.json_response(200, {"matches": matches})
            return http.matches_page(matches)
        served = http.static_file(self.static_dir, path)
        if served is not None:
            return served
        return http.text(404, "not found\n")

    def _flush_counters(self) -> None:
        """Add the hot path's plain counts to the Prometheus counters."""
        counts = self._in_counts
        for mtype, n in counts.items():
            if n:
                self._m_in[mtype].inc(n)
                counts[mtype] = 0
        if self._in_bytes:
            self.metrics.bytes_in.inc(self._in_bytes)
            self._in_bytes = 0

    def _refresh_gauges(self) -> None:
        self._flush_counters()
        self.metrics.clients.set(len(self.conns))
        counts = {s: 0 for s in MatchState}
        for m in self.manager.matches.values():
            counts[m.state] += 1
        for s, n in counts.items():
            self.metrics.matches.labels(str(s)).set(n)

    # -- websocket sessions ------------------------------------------------------------

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
        conn = Conn(ws, session)
        self.conns[session.conn_id] = conn
        self.metrics.clients.set(len(self.conns))
        try:
            await self._serve_conn(conn)
        except ConnectionClosed:
            pass
        except ProtocolViolation as exc:
            self._violation(conn, exc)
            await self._close_task(conn, CloseCode(exc.close_code), exc.reason[:120])
        finally:
            self.conns.pop(session.conn_id, None)
            self.metrics.clients.set(len(self.conns))
            self._detach(conn)

    def _violation(self, conn: Conn, exc: ProtocolViolation) -> None:
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

    def _detach(self, conn: Conn) -> None:
        seat, match = conn.seat, conn.match
        conn.seat = None
        if seat is None or match is None or match.state is MatchState.ENDED:
            return
        if seat.conn is not conn:
            return
        if seat.spectator:
            match.leave(seat, LeaveReason.CONSENTED)
            return
        now = asyncio.get_running_loop().time()
        match.drop(seat, now)
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

    async def _serve_conn(self, conn: Conn) -> None:
        ws = conn.ws
        try:
            first = await asyncio.wait_for(ws.recv(), self.config.hello_timeout_s)
        except TimeoutError:
            self.metrics.protocol_errors.labels(str(int(CloseCode.HANDSHAKE_TIMEOUT))).inc()
            await self._close_task(conn, CloseCode.HANDSHAKE_TIMEOUT)
            return
        if isinstance(first, str):
            raise ProtocolViolation("text frames are not accepted", CloseCode.BINARY_ONLY)
        loop = asyncio.get_running_loop()
        hello = conn.session.receive(first, loop.time())
        self.metrics.bytes_in.inc(len(first))
        if not isinstance(hello, Hello):
            raise ProtocolViolation("the first message must be hello", CloseCode.UNEXPECTED_MESSAGE)
        self._m_in[MessageType.HELLO].inc()
        if not await self._admit(conn, hello):
            return
        await self._receive_loop(conn)

    async def _admit(self, conn: Conn, hello: Hello) -> bool:
        """Seat the client (join, spectate or resume) and send welcome; False if refused."""
        if hello.version != PROTOCOL_VERSION:
            self.metrics.protocol_errors.labels(str(int(CloseCode.VERSION_MISMATCH))).inc()
            await self._close_task(
                conn,
                CloseCode.VERSION_MISMATCH,
                f"server speaks protocol {PROTOCOL_VERSION}, client {hello.version}",
            )
            return False
        if self.config.auth_token is not None and hello.token != self.config.auth_token:
            log_event(
                audit,
                logging.WARNING,
                Event.AUTH_REJECTED,
                "rejected auth conn=%d",
                conn.session.conn_id,
                **conn_context(conn),
            )
            await self._close_task(conn, CloseCode.BAD_TOKEN)
            return False
        if self.draining:
            await self._close_task(conn, CloseCode.SERVER_BUSY, "server is draining")
            return False
        if self.degrade.refuse_joins and not hello.resume:
            await self._close_task(conn, CloseCode.SERVER_BUSY, "server is overloaded")
            return False
        resumed = False
        conn.extra["last_frame"] = hello.last_frame
        if hello.resume:
            code = self._resume(conn, hello.resume)
            if code is not None:
                log_event(
                    audit,
                    logging.WARNING,
                    Event.RESUME_REJECTED,
                    "rejected resume conn=%d code=%d",
                    conn.session.conn_id,
                    code,
                    **conn_context(conn),
                )
                await self._close_task(conn, code)
                return False
            resumed = True
        else:
            try:
                match = self.manager.join_or_create(spectator=hello.spectate)
                player_id = next(self._player_ids)
                seat = match.join(player_id, conn, spectator=hello.spectate)
            except MatchFull as exc:
                await self._close_task(conn, CloseCode.MATCH_FULL, exc.reason[:120])
                return False
            except JoinRejected as exc:
                log_event(
                    audit,
                    logging.INFO,
                    Event.JOIN_REJECTED,
                    "join rejected conn=%d: %s",
                    conn.session.conn_id,
                    exc.reason,
                    **conn_context(conn),
                )
                await self._close_task(conn, CloseCode(exc.close_code), exc.reason[:120])
                return False
            conn.seat, conn.match = seat, match
            if not seat.spectator:
                self.metrics.joins.labels(self.kind).inc()
            log_event(
                audit,
                logging.INFO,
                Event.JOIN,
                "join player=%d match=%s spectator=%s conn=%d",
                player_id,
                match.match_id,
                seat.spectator,
                conn.session.conn_id,
                **conn_context(conn),
            )
        await self._welcome(conn, resumed)
        return True

    def _resume(self, conn: Conn, token: str) -> CloseCode | None:
        claim = self.signer.verify(token)
        if claim is None:
            return CloseCode.RESUME_FORGED
        if claim.nonce in self._used_nonces:
            return CloseCode.RESUME_REUSED
        match = self.manager.find(claim.match_id)
        seat = match.by_player.get(claim.player_id) if match is not None else None
        if match is None or seat is None:
            return CloseCode.RESUME_EXPIRED
        if seat.resume_nonce != claim.nonce:
            # A newer token was issued for this seat: this one was already used.
            return CloseCode.RESUME_REUSED
        self._used_nonces.add(claim.nonce)
        if seat.conn is not None:
            # Two connections claim one seat: the newest with a valid token wins, the
            # old connection is closed as replaced.
            old = seat.conn
            old.seat = None
            self._close_soon(old, CloseCode.KICKED, "seat taken over by a resumed session")
            match.drop(seat, asyncio.get_running_loop().time())
        match.resume(seat, conn)
        conn.seat, conn.match = seat, match
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
        return None

    async def _welcome(self, conn: Conn, resumed: bool) -> None:
        seat, match = conn.seat, conn.match
        assert seat is not None
        assert match is not None
        token, nonce = self.signer.issue(match.match_id, seat.player_id)
        seat.resume_nonce = nonce
        defn = match.definition
        netid = None
        if seat.entity is not None and match.mode == "state":
            netid = match.sim.netid_of(seat.entity)
        body = {
            "player_id": seat.player_id,
            "entity": -1 if netid is None else netid,
            "match_id": match.match_id,
            "seat": seat.seat,
            "spectator": seat.spectator,
            "game": defn.name,
            "tick": match.tick_count,
            "tick_rate_hz": defn.tick_rate_hz,
            "snapshot_rate_hz": defn.sync.snapshot_rate_hz,
            "sync": match.mode,
            "quantize": match.quantizer.spec(),
            "world": [defn.world.width_units, defn.world.height_units],
            "interest_radius": defn.sync.interest_radius_units,
            "kinds": [a.name for a in defn.archetypes],
            "resume_token": "" if seat.spectator else token,
            "resumed": resumed,
            "input_delay_ticks": defn.lockstep.input_delay_ticks,
            "checksum_interval_ticks": defn.lockstep.checksum_interval_ticks,
        }
        await conn.ws.send(encode(MessageType.WELCOME, body))
        if match.mode == "lockstep":
            await self._send_lockstep_catchup(conn, conn.extra.get("last_frame"))

    async def _send_lockstep_catchup(self, conn: Conn, last_frame: int | None) -> None:
        match = conn.match
        assert match is not None
        frames = match.lockstep_frames_since(last_frame) if last_frame is not None else None
        if frames is not None:
            for f in frames:
                await conn.ws.send(f)
            return
        checkpoint = match.lockstep_checkpoint()
        await conn.ws.send(encode(MessageType.CHECKPOINT, checkpoint))

    async def _receive_loop(self, conn: Conn) -> None:
        ws = conn.ws
        session = conn.session
        loop = asyncio.get_running_loop()
        counts = self._in_counts
        async for data in ws:
            if isinstance(data, str):
                raise ProtocolViolation("text frames are not accepted", CloseCode.BINARY_ONLY)
            msg = session.receive(data, loop.time())
            self._in_bytes += len(data)
            seat, match = conn.seat, conn.match
            if seat is None or match is None:
                return  # the match ended or the seat was taken over; closing is under way
            if type(msg) is Input:
                counts[MessageType.INPUT] += 1
                if seat.spectator:
                    self._send_error(conn, ErrorCode.SPECTATOR_INPUT, "spectators send no input")
                    continue
                err = match.receive_input(seat, msg.tick, msg.x, msg.y)
                if err is not None:
                    self.metrics.input_errors.labels(str(int(err))).inc()
                    self._send_error(conn, err, f"input for tick {msg.tick} refused")
            elif type(msg) is Ping:
                counts[MessageType.PING] += 1
                pong = encode(MessageType.PONG, {"t": msg.t, "tick": match.tick_count})
                broadcast((ws,), pong)
            elif type(msg) is Ack:
                counts[MessageType.ACK] += 1
                match.receive_ack(seat, msg.tick)
            elif type(msg) is SnapshotRequest:
                counts[MessageType.SNAPSHOT_REQUEST] += 1
                match.request_full(seat)
            elif type(msg) is Checksum:
                counts[MessageType.CHECKSUM] += 1
                if match.mode != "lockstep":
                    self._send_error(conn, ErrorCode.NOT_IN_LOCKSTEP, "not a lockstep match")
                    continue
                bad = match.receive_checksum(seat, msg.frame, msg.checksum)
                if bad is not None:
                    self.metrics.desyncs.inc()
                    log_event(
                        log,
                        logging.ERROR,
                        Event.DESYNC,
                        "lockstep desync match=%s player=%d frame=%d",
                        match.match_id,
                        seat.player_id,
                        bad,
                        **conn_context(conn),
                    )
                    desync = encode(
                        MessageType.DESYNC,
                        {"frame": bad, "player_id": seat.player_id, "seat": seat.seat},
                    )
                    broadcast((ws,), desync)
            elif type(msg) is Leave:
                counts[MessageType.LEAVE] += 1
                match.leave(seat, LeaveReason.CONSENTED)
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
                conn.seat = None
                await self._close_task(conn, CloseCode.LEFT)
                return
            else:  # a second hello
                raise ProtocolViolation("hello was already said", CloseCode.UNEXPECTED_MESSAGE)

    def _send_error(self, conn: Conn, code: ErrorCode, reason: str) -> None:
        broadcast((conn.ws,), encode(MessageType.ERROR, {"code": int(code), "reason": reason}))

    # -- housekeeping --------------------------------------------------------------------

    async def _sweep(self) -> None:
        """Once a second: idle timeouts, expired seats, empty matches."""
        loop = asyncio.get_running_loop()
        cfg = self.config
        while True:
            await asyncio.sleep(min(1.0, cfg.idle_timeout_s / 4))
            self._flush_counters()
            now = loop.time()
            for conn in list(self.conns.values()):
                if not conn.closing and now - conn.session.last_received_s > cfg.idle_timeout_s:
                    log_event(
                        log,
                        logging.INFO,
                        Event.IDLE_TIMEOUT,
                        "idle timeout conn=%d",
                        conn.session.conn_id,
                        **conn_context(conn),
                    )
                    self.metrics.protocol_errors.labels(str(int(CloseCode.IDLE_TIMEOUT))).inc()
                    self._close_soon(conn, CloseCode.IDLE_TIMEOUT)
            for match in list(self.manager.matches.values()):
                if match.state is MatchState.ENDED:
                    continue
                for seat in match.expire_dropped(now, cfg.reconnect_grace_s):
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
            for match in self.manager.retire_empty(time.perf_counter(), cfg.empty_match_grace_s):
                log_event(
                    log,
                    logging.INFO,
                    Event.MATCH_RETIRED,
                    "retiring empty match %s",
                    match.match_id,
                    **match_context(match),
                )
                self._end_match(match, CloseCode.MATCH_ENDED, "empty")
            self.manager.forget_ended()


def packb(obj: Any) -> bytes:
    """msgpack with bin types (tests and tools)."""
    out: bytes = msgpack.packb(obj, use_bin_type=True)
    return out

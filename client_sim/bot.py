"""One headless bot: a real websocket client speaking docs/protocol.md.

A bot connects, says hello, then reads until the connection ends: ``STATE`` frames go
into its :class:`~client_sim.mirror.NetMirror`, ``LOCKSTEP_FRAME`` frames are checked for
order (no gap) and, for replica bots, applied to a deterministic replica of the match
whose checksum is reported every ``checksum_interval_ticks`` frames. Sending is not done
here: the swarm's single tick loop sends every bot's input (see :mod:`client_sim.swarm`),
so a thousand bots cost one timer, not a thousand.

Times are ``time.perf_counter()`` seconds; figures kept for reports are milliseconds.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from client_sim import joining
from client_sim.mirror import NetMirror
from client_sim.packing import pack, pack_ping
from client_sim.schema import GameSchema, parse_schema
from client_sim.smooth import SmoothClient
from client_sim.staleness import StalenessMeter
from client_sim.wire import HandshakeFailed, WireProtocol, open_connection
from server.core.simulation import LockstepReplica, Simulation
from server.gamedef import load_definition
from server.gamedef.load import override_sync_mode
from server.gamedef.schema import GameDefinition
from server.net.protocol import PROTOCOL_VERSION, MessageType

_STATE = int(MessageType.STATE)
_FRAME = int(MessageType.LOCKSTEP_FRAME)
_PONG = int(MessageType.PONG)
_ERROR = int(MessageType.ERROR)
_WELCOME = int(MessageType.WELCOME)
_CHECKPOINT = int(MessageType.CHECKPOINT)
_DESYNC = int(MessageType.DESYNC)
_SHUTDOWN = int(MessageType.SHUTDOWN)
_NOTICE = int(MessageType.NOTICE)
_RESULT = 72  # MessageType.RESULT (docs/protocol.md)

ACK_EVERY_FRAMES = 10
"""State sync: acknowledge every tenth frame (the server uses acks for state age only)."""


GAMES_DIR = Path(__file__).resolve().parent.parent / "data" / "games"


@functools.cache
def shipped_definition(game: str) -> GameDefinition | None:
    """``data/games/<game>.toml`` (what a lockstep replica runs when no ``--game`` was
    given), or None when no such file is shipped."""
    path = GAMES_DIR / f"{game}.toml"
    return load_definition(path) if game and path.is_file() else None


@dataclass(slots=True)
class BotStats:
    """What one bot saw. ``window_*`` counters only count inside the measuring window."""

    connected: bool = False
    failure: str | None = None
    frames: int = 0
    window_frames: int = 0
    window_bytes_in: int = 0
    window_bytes_out: int = 0
    window_events: int = 0
    window_per_second: Counter[int] = field(default_factory=Counter)
    """Messages received in each whole second of the window (key: seconds from its start)."""
    window_frames_per_second: Counter[int] = field(default_factory=Counter)
    """The same for state and lockstep frames alone (a catch-up burst shows here; the
    messages' count also holds the 1 Hz PONG, so 20 Hz of frames already makes 21)."""
    bytes_in: int = 0
    ages_ms: list[float] = field(default_factory=list)
    rtts_ms: list[float] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    errors: Counter[int] = field(default_factory=Counter)
    gaps: int = 0
    desyncs: int = 0
    checksums_sent: int = 0
    mirror_errors: int = 0
    shutdown_notices: int = 0
    notices: int = 0
    """``NOTICE`` messages from the server's operator."""
    results: list[dict[str, Any]] = field(default_factory=list)
    """Every ``RESULT`` body received (one per match played to its end)."""
    matches: int = 0
    """Matches joined (more than one when the bot rejoins after ``MATCH_ENDED``)."""
    rematchmakes: int = 0
    """Times the bot's node was gone and it matchmade again (``rematchmake``)."""
    resumes: int = 0
    """Lost connections resumed at the same node (``rematchmake``)."""


class Bot:
    """One connection. ``swarm_window`` is shared: ``[start, end]`` of the measuring window."""

    def __init__(
        self,
        index: int,
        url: str,
        window: list[float],
        definition: GameDefinition | None = None,
        replica: bool = False,
        name: str | None = None,
        predict: bool = False,
    ) -> None:
        self.index = index
        self.url = url
        self.window = window
        self.definition = definition
        self.wants_replica = replica
        self.wants_smooth = predict
        self.smooth: SmoothClient | None = None
        """Prediction, interpolation and ``seq`` (client_sim.smooth), when asked for."""
        self.name = name or f"bot{index}"
        self.ws: WireProtocol | None = None
        self._welcomed: asyncio.Future[None] | None = None
        self.welcome: dict[str, Any] = {}
        self.schema: GameSchema | None = None
        self.mirror = NetMirror(strict=replica)
        self.stats = BotStats()
        self.live = False
        self.closed_by_us = False
        self.lockstep = False
        self.frame = -1
        """Lockstep: the last frame received (or the checkpoint's frame)."""
        self.replica: LockstepReplica | None = None
        self.tick_s = 0.05
        self._offset_s = float("inf")  # min over frames of (arrival - tick * dt)
        self._frame_at = time.perf_counter()  # when the newest lockstep frame arrived
        self._rtt_min_s = float("inf")
        self._checksum_every = 10
        self.plan = joining.JoinPlan()
        """How this bot chooses its match (``--match-id``, ``--create``, ``--via-http``...)."""
        self.shared = joining.Shared()
        """What the swarm's creating bot learnt (its match id and code)."""
        self.ws_url = url
        """Where the bot's match is (the matchmaking answer's ``ws_url``, else ``url``)."""
        self.meter: StalenessMeter | None = None
        """``--staleness``: each frame's mirror is compared with the truth
        (client_sim.staleness)."""
        self.truth = False
        """This bot is the meter's truth spectator."""

    # -- connection -------------------------------------------------------------------

    async def connect(self, open_timeout_s: float = 10.0, resume: str | None = None) -> bool:
        """Open the websocket, say hello, read the welcome. False (and ``failure``) if not.

        ``resume``: a resume token, said at the last ``ws_url`` instead of matchmaking."""
        loop = asyncio.get_running_loop()
        self._welcomed = loop.create_future()
        if self.welcome:  # a rejoin after MATCH_ENDED: a fresh view of a new match
            self.welcome = {}
            old = self.mirror
            self.mirror = NetMirror(strict=self.wants_replica)
            self.mirror.event_counts = old.event_counts
            self.mirror.events_lost = old.events_lost
            self.mirror.events_total = old.events_total
            self.replica = None
            self.frame = -1
            self.closed_by_us = False
            self._offset_s = float("inf")
        try:
            if resume is not None:
                extra: dict[str, Any] = {"resume": resume, "ws_url": self.ws_url}
            else:
                extra = await joining.hello_fields(
                    self.plan, self.url, self.index, self.index == 0, self.shared, open_timeout_s
                )
        except (joining.JoinFailed, OSError, TimeoutError) as exc:
            self.stats.failure = f"matchmaking: {exc or type(exc).__name__}"
            return False
        self.ws_url = extra.pop("ws_url", None) or self.url
        try:
            self.ws = await open_connection(self.ws_url, self.on_message, open_timeout_s)
            self.ws.send(pack(MessageType.HELLO, {"version": PROTOCOL_VERSION, **extra}))
            done, _ = await asyncio.wait(
                (self._welcomed, self.ws.closed),
                timeout=open_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        except HandshakeFailed as exc:
            self.stats.failure = f"HTTP {exc.status}"
            return False
        except (OSError, TimeoutError) as exc:
            self.stats.failure = type(exc).__name__
            return False
        if self._welcomed not in done:
            code = self.ws.close_code
            self.stats.failure = f"closed {code}" if code is not None else "no welcome"
            self.stats.close_code = code
            self.stats.close_reason = self.ws.close_reason
            return False
        self.stats.connected = True
        self.live = True
        return True

    def _on_welcome(self, body: dict[str, Any]) -> None:
        self.welcome = body
        if self.plan.create and self.index == 0:
            joining.created(self.shared, body)
        self.stats.matches += 1
        self.schema = parse_schema(body)
        if self.schema.fields or self.schema.events:
            self.mirror.set_schema(self.schema)
        self.tick_s = 1.0 / body["snapshot_rate_hz"]
        if self.meter is not None:
            self.meter.welcomed(body, self.truth)
        self.lockstep = body["sync"] == "lockstep"
        self._checksum_every = max(1, int(body.get("checksum_interval_ticks", 10)))
        if self.lockstep:
            self.tick_s = 1.0 / body["tick_rate_hz"]
            if self.wants_replica and self.definition is None:
                self.definition = shipped_definition(str(body.get("game", "")))
            if self.wants_replica and self.definition is not None:
                defn = override_sync_mode(self.definition, "lockstep")
                self.replica = LockstepReplica(Simulation(defn))
        if self.wants_smooth:
            game = self.definition or shipped_definition(str(body.get("game", "")))
            self.smooth = SmoothClient.for_welcome(game, body)
        if self._welcomed is not None and not self._welcomed.done():
            self._welcomed.set_result(None)

    @property
    def event_counts(self) -> Counter[str]:
        """Events received so far, by name (over every match this bot joined)."""
        return self.mirror.event_counts

    @property
    def events_lost(self) -> int:
        """Frames that said some of this bot's events were dropped (``STATE.o``)."""
        return self.mirror.events_lost

    @property
    def own_entity(self) -> int:
        """The net id of this bot's entity (-1 when the server does not say)."""
        entity = self.welcome.get("entity", -1)
        return int(entity) if entity is not None else -1

    def input_tick(self) -> int:
        """The tick to stamp an input with: the next state tick, or frame + input delay."""
        if self.lockstep:
            # The server's current frame, extrapolated from the last one received: a bot
            # whose frames queue up behind a busy link would otherwise stamp every input
            # for a frame already sent (INPUT_TOO_OLD) and make the congestion worse.
            behind = int((time.perf_counter() - self._frame_at) / self.tick_s)
            ahead = max(0, min(behind, 32))
            return max(0, self.frame) + ahead + int(self.welcome.get("input_delay_ticks", 2))
        return max(self.mirror.tick, int(self.welcome.get("tick", 0))) + 1

    async def close(self) -> None:
        """Close normally (1000)."""
        self.live = False
        self.closed_by_us = True
        if self.ws is not None:
            await self.ws.close()

    # -- receiving --------------------------------------------------------------------

    async def run(self) -> None:
        """Wait until the connection ends (messages arrive via :meth:`on_message`)."""
        ws = self.ws
        assert ws is not None
        try:
            await ws.closed
        finally:
            self.live = False
            if ws.close_code is not None and not self.closed_by_us:
                self.stats.close_code = ws.close_code
                self.stats.close_reason = ws.close_reason

    def on_message(self, data: bytes) -> None:
        """Handle one server message (see the module docstring)."""
        now = time.perf_counter()
        stats = self.stats
        stats.bytes_in += len(data)
        _, mtype, body = msgpack.unpackb(data)
        in_window = self.window[0] <= now <= self.window[1]
        if in_window:
            stats.window_bytes_in += len(data)
            second = int(now - self.window[0])
            stats.window_per_second[second] += 1
            if mtype in (_STATE, _FRAME):
                stats.window_frames_per_second[second] += 1
        if mtype == _STATE:
            mirror = self.mirror
            before = mirror.events_total
            try:
                mirror.apply(body)
            except KeyError:
                stats.mirror_errors += 1
                self.send(MessageType.SNAPSHOT_REQUEST, {})
            if self.smooth is not None:
                self.smooth.on_state(mirror, body, now)
            if self.meter is not None:
                if self.truth:
                    self.meter.truth_frame(body["t"], mirror)
                else:
                    self.meter.bot_frame(self.index, body["t"], mirror, self.own_entity, in_window)
            if in_window:
                stats.window_events += mirror.events_total - before
            self._frame_arrived(body["t"], now, in_window)
            if stats.frames % ACK_EVERY_FRAMES == 0:
                self.send(MessageType.ACK, {"tick": body["t"]})
        elif mtype == _FRAME:
            n = body["n"]
            if self.frame >= 0:
                if n <= self.frame:
                    return  # already covered by the checkpoint
                if n != self.frame + 1:
                    stats.gaps += 1
            self.frame = n
            self._frame_at = now
            if self.replica is not None:
                self._apply_replica(body)
            self._frame_arrived(n, now, in_window)
        elif mtype == _PONG:
            rtt = now - body["t"] / 1000.0
            self._rtt_min_s = min(self._rtt_min_s, rtt)
            if in_window:
                stats.rtts_ms.append(rtt * 1000.0)
        elif mtype == _CHECKPOINT:
            self.frame = body["frame"]
            if self.replica is not None:
                self.replica.restore(body["state"])
        elif mtype == _ERROR:
            stats.errors[body["code"]] += 1
            if self.smooth is not None:
                self.smooth.on_error(body)
        elif mtype == _DESYNC:
            stats.desyncs += 1
        elif mtype == _SHUTDOWN:
            stats.shutdown_notices += 1
        elif mtype == _NOTICE:
            stats.notices += 1
        elif mtype == _WELCOME:
            self._on_welcome(body)
        elif mtype == _RESULT:
            stats.results.append(body)

    def _frame_arrived(self, tick: int, now: float, in_window: bool) -> None:
        stats = self.stats
        stats.frames += 1
        offset = now - tick * self.tick_s
        if offset < self._offset_s:
            self._offset_s = offset
        if in_window:
            stats.window_frames += 1
            # State age: how much later than the fastest frame this one came, plus the
            # one-way delay estimated as half the best round trip.
            rtt_half = self._rtt_min_s / 2 if self._rtt_min_s != float("inf") else 0.0
            stats.ages_ms.append((offset - self._offset_s + rtt_half) * 1000.0)

    def _apply_replica(self, body: dict[str, Any]) -> None:
        replica = self.replica
        assert replica is not None
        if replica.sim.tick != body["n"] - 1:
            return  # no checkpoint yet (or a gap, already counted)
        replica.apply_body(body)  # any game's declared input columns
        if body["n"] % self._checksum_every == 0:
            checksum = replica.sim.checksum()
            self.send(MessageType.CHECKSUM, {"frame": body["n"], "checksum": checksum})
            self.stats.checksums_sent += 1

    # -- sending (synchronous: bytes go to the transport at once) -----------------------

    def send(self, mtype: MessageType, body: dict[str, Any]) -> None:
        """Queue one message on the socket without awaiting (dropped if closed)."""
        self.send_bytes(pack(mtype, body))

    def send_bytes(self, payload: bytes) -> None:
        """Write prebuilt bytes to the socket without awaiting (dropped if closed)."""
        ws = self.ws
        if ws is None or not self.live:
            return
        ws.send(payload)
        if self.window[0] <= time.perf_counter() <= self.window[1]:
            self.stats.window_bytes_out += len(payload)

    def ping(self) -> None:
        """Send a ping stamped with the local clock in ms (float64: :func:`pack_ping`)."""
        self.send_bytes(pack_ping(time.perf_counter() * 1000.0))

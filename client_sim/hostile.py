"""Hostile clients: each case misbehaves one way and checks the server's documented answer.

Every case is an ``async`` function ``(url, ctx) -> Observation``: it attacks the server at
``url`` one way (bad bytes, floods, stale tokens, slow handshakes, ...) and reports what it
expected (from docs/protocol.md) and what it observed. While cases run, a handful of honest
bots (:class:`HonestPool`) play in the same process and count the frames they receive, so
the runner can show that nobody else noticed. The tests in ``tests/hostile`` and the CLI
share these functions::

    python -m client_sim.hostile --url ws://127.0.0.1:8765/ws --report hostile.json
    python -m client_sim.hostile --url ... --cases non_msgpack,flood --honest 4

Cases that only make sense in one sync mode (``modes``) are skipped when the server's
``WELCOME.sync`` says otherwise. Timing assumptions (idle timeout, grace, ...) default to the
server's defaults and are flags, so the harness works against a server run with other limits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgpack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.net.codec import decode_server_message, encode_client
from server.net.messages import Hello, Input, Leave, Ping
from server.net.protocol import PROTOCOL_VERSION, CloseCode, ErrorCode, MessageType


@dataclass(slots=True)
class Observation:
    """What one case expected and what it saw; the runner adds the honest bots' view."""

    case: str
    expected: str
    observed: str
    passed: bool
    honest_rate: float | None = None
    """Frames per second over the case, the minimum over honest bots."""
    honest_errors: list[str] = field(default_factory=list)
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Limits:
    """What the harness assumes about the server under test (its defaults unless told)."""

    idle_timeout_s: float = 15.0
    hello_timeout_s: float = 5.0
    open_timeout_s: float = 5.0
    reconnect_grace_s: float = 15.0
    max_message_bytes: int = 4096
    max_connections: int | None = None
    """If known: the storm then also checks that the excess got 503."""
    storm: int = 300
    """Simultaneous handshakes in the connection storm."""
    join_leave_rounds: int = 30
    never_read_s: float = 3.0
    """How long the state-sync non-reader keeps not reading."""
    lag_deadline_s: float = 120.0
    """How long the lockstep non-reader waits for TOO_FAR_BEHIND."""
    slack_s: float = 1.5
    """Allowed lateness on every timeout (the sweeper runs at most once a second)."""
    seat_reservation_s: float = 15.0
    """How long an unused seat reservation lives (the expired-reservation case waits it)."""
    ticket_flood: int = 10_000
    """Matchmaker tickets the flood case sends from one address."""


# -- talking to the server ---------------------------------------------------------------


def http_base(url: str) -> str:
    """``ws://host:port/ws`` -> ``http://host:port``."""
    parts = urlsplit(url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return f"{scheme}://{parts.netloc}"


def host_port(url: str) -> tuple[str, int]:
    """The host and port of a websocket URL."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "wss" else 80)


_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> ``{"name{labels}": value}`` (labels as written)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m:
            with contextlib.suppress(ValueError):
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


class MetricsProbe:
    """Reads the server's ``/metrics`` (RSS, ticks, closes by code); works on any host."""

    def __init__(self, url: str) -> None:
        self.metrics_url = http_base(url) + "/metrics"

    def _fetch(self) -> dict[str, float]:
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=5) as r:
                body: bytes = r.read()
        except (OSError, urllib.error.URLError):
            return {}
        return parse_metrics(body.decode())

    async def sample(self) -> dict[str, float]:
        """All samples (empty if the server has no /metrics)."""
        return await asyncio.to_thread(self._fetch)

    async def closes(self, code: int) -> float:
        """How many connections the server closed with ``code``."""
        return (await self.sample()).get(f'tickwire_closes_total{{code="{code}"}}', 0.0)

    async def rss_bytes(self) -> float | None:
        """The server's resident memory, if it exports it."""
        return (await self.sample()).get("process_resident_memory_bytes")


async def open_ws(url: str, **kwargs: Any) -> ClientConnection:
    """A plain websocket connection (no hello yet)."""
    return await connect(url, max_size=None, compression=None, open_timeout=10, **kwargs)


async def hello(ws: ClientConnection, message: Hello | None = None) -> dict[str, Any]:
    """Say hello and return the WELCOME body (raises ConnectionClosed if refused)."""
    await ws.send(encode_client(message or Hello(version=PROTOCOL_VERSION)))
    while True:
        kind, body = decode_server_message(as_bytes(await asyncio.wait_for(ws.recv(), 10)))
        if kind is MessageType.WELCOME:
            return body


def as_bytes(data: str | bytes) -> bytes:
    """Server frames are binary; a text frame would be a server bug."""
    if isinstance(data, str):
        raise TypeError("the server sent a text frame")
    return data


async def close_code(ws: ClientConnection, wait_s: float) -> tuple[int | None, list[Any]]:
    """Read until the server closes: (its close code or None on timeout, messages seen)."""
    seen: list[Any] = []
    try:
        async with asyncio.timeout(wait_s):
            while True:
                kind, body = decode_server_message(as_bytes(await ws.recv()))
                if kind not in (MessageType.STATE, MessageType.LOCKSTEP_FRAME):
                    seen.append((kind, body))
    except ConnectionClosed as exc:
        return (exc.rcvd.code if exc.rcvd is not None else 1006), seen
    except TimeoutError:
        return None, seen
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)


def code_name(code: int | None) -> str:
    """``4002 MALFORMED_MESSAGE``, ``1006``, or ``open`` for no close."""
    if code is None:
        return "open"
    try:
        return f"{code} {CloseCode(code).name}"
    except ValueError:
        return str(code)


def packb(obj: Any) -> bytes:
    """msgpack with bin types."""
    out: bytes = msgpack.packb(obj, use_bin_type=True)
    return out


# -- honest bots --------------------------------------------------------------------------


class HonestBot:
    """Plays by the rules: hello, one input per tick, a ping a second; counts frames."""

    def __init__(self, url: str, index: int, token: str | None = None) -> None:
        self.url = url
        self.index = index
        self.token = token
        """The HELLO token (a player JWT on servers that require one)."""
        self.frame_times: list[float] = []
        self.errors: list[str] = []
        self.welcome: dict[str, Any] = {}
        self.server_tick = 0
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.stopping = False

    def start(self) -> None:
        """Run in the background."""
        self.task = asyncio.get_running_loop().create_task(self.run(), name=f"honest-{self.index}")

    async def run(self) -> None:
        """Connect and play until stopped; anything unexpected lands in ``errors``."""
        try:
            async with connect(self.url, max_size=None, compression=None) as ws:
                greeting = Hello(version=PROTOCOL_VERSION, name="honest", token=self.token)
                self.welcome = await hello(ws, greeting)
                self.server_tick = int(self.welcome["tick"])
                self.ready.set()
                sender = asyncio.get_running_loop().create_task(self._send(ws))
                try:
                    await self._read(ws)
                finally:
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                        await sender
        except ConnectionClosed as exc:
            if not self.stopping:
                self.errors.append(f"closed {code_name(exc.rcvd.code if exc.rcvd else 1006)}")
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self.ready.set()

    async def _read(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        async for data in ws:
            kind, body = decode_server_message(as_bytes(data))
            if kind is MessageType.STATE:
                self.frame_times.append(loop.time())
                self.server_tick = int(body["t"])
            elif kind is MessageType.LOCKSTEP_FRAME:
                self.frame_times.append(loop.time())
                self.server_tick = int(body["n"])
            elif kind is MessageType.CHECKPOINT:
                self.server_tick = int(body["frame"])
            elif kind in (MessageType.ERROR, MessageType.DESYNC):
                self.errors.append(f"{kind.name} {body}")

    async def _send(self, ws: ClientConnection) -> None:
        rate = int(self.welcome["tick_rate_hz"])
        lockstep = self.welcome["sync"] == "lockstep"
        ahead = int(self.welcome["input_delay_ticks"]) + 2 if lockstep else 0
        k = 0
        while not self.stopping:
            x = math.sin(k / 17 + self.index)
            y = math.cos(k / 23 + self.index)
            await ws.send(encode_client(Input(self.server_tick + ahead, x, y)))
            if k % rate == 0:
                await ws.send(encode_client(Ping(t=time.time() * 1000)))
            k += 1
            await asyncio.sleep(1 / rate)

    def rate(self, t0: float, t1: float) -> float:
        """Frames per second received in ``[t0, t1]``: (n - 1) over the span they cover."""
        ts = [t for t in self.frame_times if t0 <= t <= t1]
        if len(ts) < 2:
            return 0.0
        # Count the window's edges too so that a stall at either end lowers the rate.
        span = max(ts[-1] - ts[0], (t1 - t0) - 2.0 / max(1, self.welcome["snapshot_rate_hz"]))
        return (len(ts) - 1) / span if span > 0 else 0.0


class HonestPool:
    """A handful of honest bots that play while hostile cases run."""

    def __init__(self, url: str, n: int = 4, tokens: list[str] | None = None) -> None:
        self.bots = [HonestBot(url, i, tokens[i] if tokens else None) for i in range(n)]

    async def start(self) -> dict[str, Any]:
        """Start every bot; return the first WELCOME (sync mode, rates)."""
        for b in self.bots:
            b.start()
        await asyncio.wait_for(asyncio.gather(*(b.ready.wait() for b in self.bots)), 15)
        problems = [e for b in self.bots for e in b.errors]
        if problems:
            raise RuntimeError(f"honest bots could not join: {problems}")
        return self.bots[0].welcome

    async def stop(self) -> None:
        """Stop and disconnect every bot."""
        for b in self.bots:
            b.stopping = True
        for b in self.bots:
            if b.task is not None:
                b.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await b.task

    def min_rate(self, t0: float, t1: float) -> float:
        """The lowest frame rate any bot saw in ``[t0, t1]``."""
        return min(b.rate(t0, t1) for b in self.bots)

    def errors(self) -> list[str]:
        """Everything unexpected any bot saw so far."""
        return [f"bot{b.index}: {e}" for b in self.bots for e in b.errors]

    @property
    def server_tick(self) -> int:
        """The newest tick any bot saw."""
        return max(b.server_tick for b in self.bots)


@dataclass(slots=True)
class Context:
    """What a case may use: the honest pool's view of the server, limits and a probe."""

    pool: HonestPool
    welcome: dict[str, Any]
    limits: Limits
    probe: MetricsProbe

    @property
    def sync(self) -> str:
        """``state`` or ``lockstep``, from WELCOME."""
        return str(self.welcome["sync"])

    @property
    def tick_rate(self) -> int:
        """Simulation ticks per second, from WELCOME."""
        return int(self.welcome["tick_rate_hz"])


CaseFn = Callable[[str, Context], Awaitable[Observation]]


@dataclass(frozen=True, slots=True)
class Case:
    """One hostile case: its function, the documented answer, the modes it applies to."""

    name: str
    fn: CaseFn
    expected: str
    modes: frozenset[str] = frozenset({"state", "lockstep"})


CASES: dict[str, Case] = {}


def case(
    expected: str, modes: tuple[str, ...] = ("state", "lockstep")
) -> Callable[[CaseFn], CaseFn]:
    """Register a case under its function's name."""

    def register(fn: CaseFn) -> CaseFn:
        CASES[fn.__name__] = Case(fn.__name__, fn, expected, frozenset(modes))
        return fn

    return register


def obs(name: str, observed: str, passed: bool) -> Observation:
    """An observation for a registered case."""
    return Observation(name, CASES[name].expected, observed, passed)


async def after_hello_expect(
    name: str, url: str, payload: bytes | str, want: int, wait_s: float = 5.0
) -> Observation:
    """Join, send ``payload``, expect the server to close with ``want``."""
    ws = await open_ws(url)
    await hello(ws)
    with contextlib.suppress(ConnectionClosed):
        await ws.send(payload)
    code, _ = await close_code(ws, wait_s)
    return obs(name, code_name(code), code == want)


# -- the cases ----------------------------------------------------------------------------

M = CloseCode.MALFORMED_MESSAGE


@case("close 4002 MALFORMED_MESSAGE")
async def non_msgpack(url: str, ctx: Context) -> Observation:
    """Bytes that are not msgpack at all."""
    return await after_hello_expect("non_msgpack", url, b"\xc1\xc1 not msgpack \xff", M)


@case("close 4002 MALFORMED_MESSAGE")
async def wrong_shape(url: str, ctx: Context) -> Observation:
    """Valid msgpack, but a map instead of the ``[version, type, body]`` array."""
    return await after_hello_expect("wrong_shape", url, packb({"type": 2, "tick": 1}), M)


@case("close 4002 MALFORMED_MESSAGE")
async def wrong_field_types(url: str, ctx: Context) -> Observation:
    """An input whose tick is a string."""
    data = packb([PROTOCOL_VERSION, 2, {"tick": "7", "x": 0.0, "y": 0.0}])
    return await after_hello_expect("wrong_field_types", url, data, M)


@case("close 4003 UNKNOWN_MESSAGE_TYPE, for an unknown id and for a server-only id")
async def unknown_message_type(url: str, ctx: Context) -> Observation:
    """Type ids 99 (nobody's) and 65 (STATE, server to client only)."""
    codes = []
    for mtype in (99, int(MessageType.STATE)):
        o = await after_hello_expect(
            "unknown_message_type", url, packb([PROTOCOL_VERSION, mtype, {}]), 0
        )
        codes.append(o.observed)
    want = code_name(CloseCode.UNKNOWN_MESSAGE_TYPE)
    return obs("unknown_message_type", ", ".join(codes), all(c == want for c in codes))


@case("close 4002 MALFORMED_MESSAGE, for a missing and for an extra field")
async def missing_and_extra_fields(url: str, ctx: Context) -> Observation:
    """An input without ``y``; a ping with an unknown key."""
    codes = []
    for body in ({"tick": 1, "x": 0.5}, {"tick": 1, "x": 0.5, "y": 0.0, "z": 1.0}):
        data = packb([PROTOCOL_VERSION, 2, body])
        codes.append((await after_hello_expect("missing_and_extra_fields", url, data, 0)).observed)
    return obs("missing_and_extra_fields", ", ".join(codes), all(c == code_name(M) for c in codes))


@case("close 4002 MALFORMED_MESSAGE for NaN, inf, -inf, 1e300 and 2**62 in an input")
async def non_finite_inputs(url: str, ctx: Context) -> Observation:
    """Stick values that are not finite or far out of range."""
    codes = []
    for bad in (math.nan, math.inf, -math.inf, 1e300, 2**62):
        data = packb([PROTOCOL_VERSION, 2, {"tick": 1, "x": bad, "y": 0.0}])
        codes.append((await after_hello_expect("non_finite_inputs", url, data, 0)).observed)
    observed = f"{len(codes)}x {codes[0]}" if len(set(codes)) == 1 else ", ".join(codes)
    return obs("non_finite_inputs", observed, all(c == code_name(M) for c in codes))


@case("ERROR INPUT_TOO_OLD and ERROR INPUT_TOO_NEW; the connection stays open (PONG)")
async def input_far_past_and_future(url: str, ctx: Context) -> Observation:
    """Inputs stamped long before and long after the current tick."""
    back = 2 * ctx.tick_rate + 5 if ctx.sync == "state" else 5
    deadline = time.monotonic() + 10
    # The match must be old enough to have a past (polls state the honest bots update).
    while ctx.pool.server_tick < back + 2 and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    ws = await open_ws(url)
    welcome = await hello(ws)
    now = max(int(welcome["tick"]), ctx.pool.server_tick)
    ahead = max(2 * ctx.tick_rate, 64) + 20
    await ws.send(encode_client(Input(max(0, now - back), 0.0, 0.0)))
    await ws.send(encode_client(Input(now + ahead, 0.0, 0.0)))
    await ws.send(encode_client(Ping(t=1.0)))
    errors: list[int] = []
    pong = False
    try:
        async with asyncio.timeout(5):
            while not pong:
                kind, body = decode_server_message(as_bytes(await ws.recv()))
                if kind is MessageType.ERROR:
                    errors.append(int(body["code"]))
                pong = kind is MessageType.PONG
    except (TimeoutError, ConnectionClosed) as exc:
        return obs("input_far_past_and_future", f"errors {errors}, then {exc!r}", False)
    finally:
        await ws.close()
    names = ", ".join(ErrorCode(c).name for c in errors)
    ok = errors == [ErrorCode.INPUT_TOO_OLD, ErrorCode.INPUT_TOO_NEW]
    return obs("input_far_past_and_future", f"ERROR {names}; open (PONG)", ok)


@case("close 4007 BINARY_ONLY")
async def text_frame(url: str, ctx: Context) -> Observation:
    """A text frame where binary is expected."""
    return await after_hello_expect("text_frame", url, "hello", CloseCode.BINARY_ONLY)


@case("close 1009 MESSAGE_TOO_BIG")
async def oversize_frame(url: str, ctx: Context) -> Observation:
    """One byte over ``max_message_bytes``."""
    data = b"\x00" * (ctx.limits.max_message_bytes + 1)
    return await after_hello_expect("oversize_frame", url, data, CloseCode.MESSAGE_TOO_BIG)


@case("close 4008 RATE_LIMITED")
async def flood(url: str, ctx: Context) -> Observation:
    """Pings as fast as the socket takes them, far past the token bucket."""
    ws = await open_ws(url)
    await hello(ws)
    ping = encode_client(Ping(t=0.0))
    with contextlib.suppress(ConnectionClosed):
        for _ in range(1000):
            await ws.send(ping)
    code, _ = await close_code(ws, 5)
    return obs("flood", code_name(code), code == CloseCode.RATE_LIMITED)


@case("every round: WELCOME then close 4020 LEFT")
async def join_leave_loop(url: str, ctx: Context) -> Observation:
    """Join and leave in a tight loop."""
    rounds = ctx.limits.join_leave_rounds
    good = 0
    last = ""
    for _ in range(rounds):
        ws = await open_ws(url)
        try:
            await hello(ws)
        except ConnectionClosed as exc:
            last = f"no welcome: {code_name(exc.rcvd.code if exc.rcvd else 1006)}"
            continue
        await ws.send(encode_client(Leave()))
        code, _ = await close_code(ws, 5)
        if code == CloseCode.LEFT:
            good += 1
        else:
            last = code_name(code)
    observed = f"{good}/{rounds} WELCOME then 4020" + (f" (last other: {last})" if last else "")
    return obs("join_leave_loop", observed, good == rounds)


def small_buffer_socket(host: str, port: int) -> socket.socket:
    """A connected socket with a tiny receive buffer, so unread data backs up quickly."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect((host, port))
    s.setblocking(False)
    return s


@case("stays open while never reading; server memory flat", modes=("state",))
async def never_reads_state(url: str, ctx: Context) -> Observation:
    """A state-sync client that pings (so it is not idle) but never reads a frame."""
    rss0 = await ctx.probe.rss_bytes()
    sock = await asyncio.to_thread(small_buffer_socket, *host_port(url))
    ws = await open_ws(url, sock=sock, max_queue=1, close_timeout=0.5)
    await ws.send(encode_client(Hello(version=PROTOCOL_VERSION)))
    open_ = True
    t_end = time.monotonic() + ctx.limits.never_read_s
    try:
        while time.monotonic() < t_end:
            await ws.send(encode_client(Ping(t=0.0)))
            await asyncio.sleep(0.25)
    except ConnectionClosed:
        open_ = False
    rss1 = await ctx.probe.rss_bytes()
    await ws.close()
    growth = (rss1 - rss0) / 2**20 if rss0 is not None and rss1 is not None else None
    observed = ("open" if open_ else "closed") + (
        f", server RSS {growth:+.1f} MiB" if growth is not None else ""
    )
    return obs("never_reads_state", observed, open_ and (growth is None or growth < 20))


@case("close 4009 TOO_FAR_BEHIND", modes=("lockstep",))
async def never_reads_lockstep(url: str, ctx: Context) -> Observation:
    """A lockstep client that stops reading; once the server gives up it reads the close."""
    before = await ctx.probe.closes(CloseCode.TOO_FAR_BEHIND)
    sock = await asyncio.to_thread(small_buffer_socket, *host_port(url))
    ws = await open_ws(url, sock=sock, max_queue=1)
    await ws.send(encode_client(Hello(version=PROTOCOL_VERSION)))
    deadline = time.monotonic() + ctx.limits.lag_deadline_s
    ping = encode_client(Ping(t=0.0))
    with contextlib.suppress(ConnectionClosed):
        while time.monotonic() < deadline:
            # Pongs pile up in the same send queue as frames: the backlog grows faster.
            for _ in range(10):
                await ws.send(ping)
            await asyncio.sleep(0.2)
            if await ctx.probe.closes(CloseCode.TOO_FAR_BEHIND) > before:
                break
    code, _ = await close_code(ws, 10)  # now read: frames, then the close frame
    return obs("never_reads_lockstep", code_name(code), code == CloseCode.TOO_FAR_BEHIND)


async def _slowloris(host: str, port: int, limit_s: float) -> float | None:
    """Dribble an unfinished HTTP upgrade; seconds until the server hung up (None: never)."""
    reader, writer = await asyncio.open_connection(host, port)
    t0 = time.monotonic()
    request = (
        f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nX-Slow: "
    ).encode()
    i = 0
    try:
        async with asyncio.timeout(limit_s):
            while True:
                writer.write(request[i : i + 1] or b"a")
                i += 1
                try:
                    data = await asyncio.wait_for(reader.read(4096), 0.3)
                except TimeoutError:
                    continue
                if not data:
                    return time.monotonic() - t0
    except TimeoutError:
        return None
    except ConnectionError:
        return time.monotonic() - t0
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@case("connection closed within open_timeout")
async def slowloris_handshake(url: str, ctx: Context) -> Observation:
    """An HTTP upgrade sent one byte every 0.3 s, never finished."""
    host, port = host_port(url)
    limit = ctx.limits.open_timeout_s + ctx.limits.slack_s
    took = await _slowloris(host, port, limit + 2)
    observed = "still open" if took is None else f"closed after {took:.1f} s"
    return obs("slowloris_handshake", observed, took is not None and took <= limit)


@case("close 4006 IDLE_TIMEOUT after idle_timeout")
async def silent_after_hello(url: str, ctx: Context) -> Observation:
    """Hello, then nothing at all (it still reads what it is sent)."""
    ws = await open_ws(url)
    await hello(ws)
    t0 = time.monotonic()
    code, _ = await close_code(ws, ctx.limits.idle_timeout_s + ctx.limits.slack_s + 1)
    took = time.monotonic() - t0
    ok = code == CloseCode.IDLE_TIMEOUT and took >= ctx.limits.idle_timeout_s - 0.3
    return obs("silent_after_hello", f"{code_name(code)} after {took:.1f} s", ok)


@case("close 4004 HANDSHAKE_TIMEOUT after hello_timeout")
async def no_hello(url: str, ctx: Context) -> Observation:
    """A websocket that never says hello."""
    ws = await open_ws(url)
    t0 = time.monotonic()
    code, _ = await close_code(ws, ctx.limits.hello_timeout_s + ctx.limits.slack_s + 1)
    took = time.monotonic() - t0
    ok = code == CloseCode.HANDSHAKE_TIMEOUT
    return obs("no_hello", f"{code_name(code)} after {took:.1f} s", ok)


async def _resume(url: str, token: str) -> tuple[int | None, dict[str, Any] | None, Any]:
    """Resume with ``token``: (close code or None, WELCOME or None, the connection)."""
    ws = await open_ws(url)
    try:
        welcome = await hello(ws, Hello(version=PROTOCOL_VERSION, resume=token))
    except ConnectionClosed as exc:
        return (exc.rcvd.code if exc.rcvd else 1006), None, ws
    return None, welcome, ws


@case("close 4012 RESUME_EXPIRED after the grace")
async def stale_token(url: str, ctx: Context) -> Observation:
    """Drop, wait past the reconnect grace, try to resume."""
    ws = await open_ws(url)
    token = (await hello(ws))["resume_token"]
    await ws.close()
    await asyncio.sleep(ctx.limits.reconnect_grace_s + ctx.limits.slack_s)
    code, _, _ = await _resume(url, token)
    return obs("stale_token", code_name(code), code == CloseCode.RESUME_EXPIRED)


@case("close 4011 RESUME_FORGED, for a tampered and for a made-up token")
async def forged_token(url: str, ctx: Context) -> Observation:
    """A real token with its signature changed, and a token of junk."""
    ws = await open_ws(url)
    token = (await hello(ws))["resume_token"]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    codes = []
    for t in (tampered, "not-a-token", "x" * 500):
        code, _, _ = await _resume(url, t)
        codes.append(code_name(code))
    await ws.close()
    want = code_name(CloseCode.RESUME_FORGED)
    return obs("forged_token", ", ".join(codes), all(c == want for c in codes))


@case("close 4013 RESUME_REUSED for a token already used")
async def reused_token(url: str, ctx: Context) -> Observation:
    """Drop, resume with the token (fine), resume with it again."""
    ws = await open_ws(url)
    token = (await hello(ws))["resume_token"]
    await ws.close()
    await asyncio.sleep(0.1)
    first, welcome, ws2 = await _resume(url, token)
    second, _, _ = await _resume(url, token)
    await ws2.close()
    observed = f"first resume {'WELCOME' if welcome else code_name(first)}, "
    observed += f"second {code_name(second)}"
    return obs("reused_token", observed, welcome is not None and second == CloseCode.RESUME_REUSED)


@case("the newer connection gets WELCOME (resumed); the older is closed 4018 KICKED")
async def two_connections_one_seat(url: str, ctx: Context) -> Observation:
    """A second connection resumes a seat whose first connection is still open."""
    old = await open_ws(url)
    w1 = await hello(old)
    code, w2, new = await _resume(url, w1["resume_token"])
    old_code, _ = await close_code(old, 5)
    await new.close()
    same = w2 is not None and w2["player_id"] == w1["player_id"] and w2["resumed"] is True
    observed = (
        f"newer {'WELCOME resumed' if same else code_name(code)}, older {code_name(old_code)}"
    )
    return obs("two_connections_one_seat", observed, same and old_code == CloseCode.KICKED)


async def _storm_one(url: str, hold: asyncio.Event) -> str:
    try:
        ws = await connect(url, compression=None, open_timeout=15)
    except InvalidStatus as exc:
        return str(exc.response.status_code)
    except Exception as exc:
        return type(exc).__name__
    try:
        await hold.wait()
    finally:
        await ws.close()
    return "101"


async def _storm(url: str, n: int) -> list[str]:
    hold = asyncio.Event()
    tasks = [asyncio.create_task(_storm_one(url, hold)) for _ in range(n)]
    # Everyone has an answer once each task either finished (refused) or holds a socket.
    await asyncio.sleep(0.5)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = sum(t.done() for t in tasks)
        if done == n:
            break
        await asyncio.sleep(0.2)
        if sum(t.done() for t in tasks) == done:
            break  # no progress: the rest hold open connections
    hold.set()
    return list(await asyncio.gather(*tasks))


@case("every handshake gets 101 or HTTP 503; the excess over max_connections gets 503")
async def connection_storm(url: str, ctx: Context) -> Observation:
    """Many simultaneous handshakes, held open together.

    The stormers run in a child process, like any load generator: when the server shares
    this process (tests), their handshake work must not count against its event loop.
    """
    n = ctx.limits.storm
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "client_sim.hostile",
        "--url",
        url,
        "--storm-worker",
        str(n),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    try:
        results = [str(r) for r in json.loads(out)]
    except ValueError:
        return obs("connection_storm", f"storm worker failed (exit {proc.returncode})", False)
    counts = {k: results.count(k) for k in sorted(set(results))}
    other = {k: v for k, v in counts.items() if k not in ("101", "503")}
    limit = ctx.limits.max_connections
    ok = not other and (limit is None or n < limit or counts.get("503", 0) > 0)
    observed = ", ".join(f"{v}x {k}" for k, v in counts.items())
    return obs("connection_storm", observed, ok)


# -- running ------------------------------------------------------------------------------


def select_cases(names: list[str] | None, sync: str) -> list[Case]:
    """The named cases (all by default) that apply to a server of sync mode ``sync``."""
    chosen = [CASES[n] for n in names] if names else list(CASES.values())
    return [c for c in chosen if sync in c.modes]


async def run_case(c: Case, url: str, ctx: Context, min_window_s: float = 1.0) -> Observation:
    """Run one case and add the honest bots' frame rate and errors over it."""
    loop = asyncio.get_running_loop()
    errors_before = len(ctx.pool.errors())
    t0 = loop.time()
    try:
        result = await c.fn(url, ctx)
    except Exception as exc:
        result = Observation(c.name, c.expected, f"case crashed: {exc!r}", False)
    remaining = min_window_s - (loop.time() - t0)
    if remaining > 0:
        await asyncio.sleep(remaining)
    t1 = loop.time()
    result.duration_s = round(t1 - t0, 2)
    result.honest_rate = round(ctx.pool.min_rate(t0, t1), 2)
    result.honest_errors = ctx.pool.errors()[errors_before:]
    return result


async def run_all(
    url: str,
    names: list[str] | None = None,
    limits: Limits | None = None,
    honest: int = 4,
    on_result: Callable[[Observation], None] | None = None,
) -> tuple[dict[str, Any], list[Observation]]:
    """Start honest bots, run the cases one after another; (WELCOME, observations)."""
    pool = HonestPool(url, honest)
    welcome = await pool.start()
    ctx = Context(pool, welcome, limits or Limits(), MetricsProbe(url))
    await asyncio.sleep(1.0)  # let the honest bots settle into the rate
    results: list[Observation] = []
    try:
        for c in select_cases(names, ctx.sync):
            o = await run_case(c, url, ctx)
            results.append(o)
            if on_result is not None:
                on_result(o)
    finally:
        await pool.stop()
    return welcome, results


HEADER = ("case", "expected", "observed", "honest rate", "result")


def table_row(o: Observation) -> tuple[str, ...]:
    """One row of the printed table."""
    rate = "-" if o.honest_rate is None else f"{o.honest_rate:.1f}/s"
    verdict = "pass" if o.passed else "FAIL"
    if o.honest_errors:
        verdict += f" (honest: {'; '.join(o.honest_errors)[:60]})"
    return (o.case, o.expected, o.observed, rate, verdict)


def format_table(results: list[Observation]) -> str:
    """A plain-text table: case | expected | observed | honest rate | pass/fail."""
    rows = [HEADER, *(table_row(o) for o in results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags."""
    d = Limits()
    p = argparse.ArgumentParser(
        prog="python -m client_sim.hostile",
        description="Run hostile clients against a running Tickwire server while honest "
        "bots play, and report what the server answered.",
    )
    p.add_argument("--url", required=True, help="websocket URL, e.g. ws://127.0.0.1:8765/ws")
    p.add_argument("--report", default=None, help="write the observations as JSON here")
    p.add_argument("--cases", default=None, help="comma-separated case names (default: all)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--honest", type=int, default=4, help="honest bots (default %(default)s)")
    p.add_argument("--idle-timeout-s", type=float, default=d.idle_timeout_s)
    p.add_argument("--hello-timeout-s", type=float, default=d.hello_timeout_s)
    p.add_argument("--open-timeout-s", type=float, default=d.open_timeout_s)
    p.add_argument("--reconnect-grace-s", type=float, default=d.reconnect_grace_s)
    p.add_argument("--max-message-bytes", type=int, default=d.max_message_bytes)
    p.add_argument("--max-connections", type=int, default=d.max_connections)
    p.add_argument("--storm", type=int, default=d.storm, help="handshakes in the storm")
    p.add_argument("--lag-deadline-s", type=float, default=d.lag_deadline_s)
    p.add_argument("--seat-reservation-s", type=float, default=d.seat_reservation_s)
    p.add_argument("--ticket-flood", type=int, default=d.ticket_flood, help="tickets flooded")
    p.add_argument("--storm-worker", type=int, default=None, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 if every case passed and no honest bot saw an error, else 1."""
    args = build_parser().parse_args(argv)
    if args.storm_worker is not None:  # the child process of connection_storm
        print(json.dumps(asyncio.run(_storm(args.url, args.storm_worker))))
        return 0
    if args.list:
        for c in CASES.values():
            print(f"{c.name:28} {'/'.join(sorted(c.modes)):15} {c.expected}")
        return 0
    names = [n.strip() for n in args.cases.split(",") if n.strip()] if args.cases else None
    unknown = [n for n in names or [] if n not in CASES]
    if unknown:
        print(f"error: unknown case(s) {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    limits = Limits(
        idle_timeout_s=args.idle_timeout_s,
        hello_timeout_s=args.hello_timeout_s,
        open_timeout_s=args.open_timeout_s,
        reconnect_grace_s=args.reconnect_grace_s,
        max_message_bytes=args.max_message_bytes,
        max_connections=args.max_connections,
        storm=args.storm,
        seat_reservation_s=args.seat_reservation_s,
        ticket_flood=args.ticket_flood,
        lag_deadline_s=args.lag_deadline_s,
    )

    def progress(o: Observation) -> None:
        print(f"  {o.case}: {'pass' if o.passed else 'FAIL'} ({o.duration_s:.1f} s)", flush=True)

    welcome, results = asyncio.run(run_all(args.url, names, limits, args.honest, progress))
    print()
    print(f"server {args.url}: game {welcome['game']}, sync {welcome['sync']}")
    print(format_table(results))
    failed = [o for o in results if not o.passed or o.honest_errors]
    print(f"\n{len(results) - len(failed)}/{len(results)} passed")
    if args.report:
        report = {
            "url": args.url,
            "game": welcome["game"],
            "sync": welcome["sync"],
            "limits": asdict(limits),
            "results": [asdict(o) for o in results],
            "passed": not failed,
        }
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
    return 0 if not failed else 1


def _register_matchmaking_cases() -> None:
    from client_sim import hostile_matchmaking

    hostile_matchmaking.register(sys.modules[__name__])


_register_matchmaking_cases()

if __name__ == "__main__":
    raise SystemExit(main())

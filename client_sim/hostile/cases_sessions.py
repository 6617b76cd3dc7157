"""Hostile cases about connections and sessions: non-readers, timeouts, resume tokens, storms."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from client_sim.hostile.registry import Context, Observation, case, obs
from client_sim.hostile.wire import close_code, code_name, hello, host_port, open_ws
from server.net.codec import encode_client
from server.net.messages import Hello, Ping
from server.net.protocol import PROTOCOL_VERSION, CloseCode


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


async def storm(url: str, n: int) -> list[str]:
    """Open ``n`` handshakes at once and hold them; each one's HTTP status or error name.

    Run by ``python -m client_sim.hostile --storm-worker N`` (the child process of
    :func:`connection_storm`).
    """
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

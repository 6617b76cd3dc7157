"""Hostile cases of issue 18: latency games with ``seq`` and the view time of ``INPUT``.

Each case works in any state-sync game: it builds a neutral body from ``WELCOME.input``
(sticks and angles 0, no buttons, ints at their minimum). The view-time case checks the
documented answer for the game it meets: clamped with ``ERROR VIEW_CLAMPED`` where
``WELCOME.lag_compensation`` is set, ignored where it is nil.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from client_sim.hostile.registry import Context, Observation, case, obs
from client_sim.hostile.wire import as_bytes, close_code, code_name, hello, open_ws
from server.net.codec import decode_server_message, encode
from server.net.protocol import CloseCode, ErrorCode, MessageType

Message = tuple[MessageType, dict[str, Any]]


def input_body(welcome: dict[str, Any], tick: int, **extra: Any) -> dict[str, Any]:
    """A neutral ``INPUT`` body for the game of ``welcome`` plus ``extra`` keys."""
    body: dict[str, Any] = {"tick": tick}
    for f in welcome["input"]:
        body[f["name"]] = f.get("min", 0) if f["type"] == "int" else 0
    return {**body, **extra}


async def read_until(ws: ClientConnection, done: Any, max_s: float = 5.0) -> list[Message]:
    """Messages until ``done(kind, body)`` holds or ``max_s`` passes (then what came)."""
    out: list[Message] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_s
    with contextlib.suppress(TimeoutError):
        while True:
            data = await asyncio.wait_for(ws.recv(), max(0.01, deadline - loop.time()))
            kind, body = decode_server_message(as_bytes(data))
            out.append((kind, body))
            if done(kind, body):
                break
    return out


def errors(messages: list[Message]) -> list[tuple[int, int | None]]:
    return [(b["code"], b.get("seq")) for k, b in messages if k is MessageType.ERROR]


def acked(seq: int) -> Any:
    return lambda k, b: k is MessageType.STATE and b.get("a") == seq


async def joined(url: str) -> tuple[ClientConnection, dict[str, Any], int]:
    """A seated connection, its WELCOME and the tick of its first STATE."""
    ws = await open_ws(url)
    welcome = await hello(ws)
    first = await read_until(ws, lambda k, b: k is MessageType.STATE)
    return ws, welcome, first[-1][1]["t"] if first else welcome["tick"]


async def send(ws: ClientConnection, body: dict[str, Any]) -> None:
    await ws.send(encode(MessageType.INPUT, body))


async def alive(ws: ClientConnection) -> bool:
    """The connection still answers a ping."""
    try:
        await ws.send(encode(MessageType.PING, {"t": 1.0}))
        got = await read_until(ws, lambda k, b: k is MessageType.PONG, 3.0)
    except ConnectionClosed:
        return False
    return any(k is MessageType.PONG for k, _ in got)


@case(
    "ERROR 5 SEQ_NOT_NEWER (with the seq) for a repeat, a step back and a +2^31 jump, "
    "ERROR 8 SEQ_REQUIRED for a missing seq; none applied (a stays); the wrap is newer",
    modes=("state",),
)
async def seq_backwards_wrap_and_missing(url: str, ctx: Context) -> Observation:
    name = "seq_backwards_wrap_and_missing"
    ws, w, t = await joined(url)
    try:
        await send(ws, input_body(w, t + 1, seq=2**32 - 1))
        first = await read_until(ws, acked(2**32 - 1))
        await send(ws, input_body(w, t + 1, seq=0))  # 2^32 - 1 -> 0: newer
        wrapped = await read_until(ws, acked(0))
        for bad in (0, 2**32 - 1, 2**31):  # repeat, back across the wrap, +2^31
            await send(ws, input_body(w, t + 1, seq=bad))
        await send(ws, input_body(w, t + 1))
        after = await read_until(ws, lambda k, b: k is MessageType.ERROR and b["code"] == 8)
        after += await read_until(ws, lambda k, b: k is MessageType.STATE)
        still = [b.get("a") for k, b in after if k is MessageType.STATE]
        live = await alive(ws)
    finally:
        await ws.close()
    got = errors(after)
    want = [(5, 0), (5, 2**32 - 1), (5, 2**31), (8, None)]
    ok = bool(first and wrapped) and acked(0)(*wrapped[-1]) and got == want and live
    ok = ok and set(still) == {0}
    return obs(name, f"errors {got}, a after {still}, alive {live}", ok)


@case("close 4002 MALFORMED_MESSAGE for view_alpha NaN, 1.5, -0.1 and a view_tick alone")
async def view_alpha_nan_or_outside(url: str, ctx: Context) -> Observation:
    name = "view_alpha_nan_or_outside"
    codes = []
    for extra in (
        {"view_tick": 1, "view_alpha": float("nan")},
        {"view_tick": 1, "view_alpha": 1.5},
        {"view_tick": 1, "view_alpha": -0.1},
        {"view_tick": 1},
    ):
        ws = await open_ws(url)
        w = await hello(ws)
        with contextlib.suppress(ConnectionClosed):
            await send(ws, input_body(w, 1, **extra))
        code, _ = await close_code(ws, 5.0)
        codes.append(code_name(code))
    want = code_name(CloseCode.MALFORMED_MESSAGE)
    return obs(name, ", ".join(codes), all(c == want for c in codes))


@case(
    "lag compensation: ERROR 6 VIEW_CLAMPED (with the seq) for a view_tick in the future "
    "and one older than the history, both inputs applied; without it: views ignored",
    modes=("state",),
)
async def view_tick_future_and_too_old(url: str, ctx: Context) -> Observation:
    name = "view_tick_future_and_too_old"
    ws, w, t = await joined(url)
    lag = w.get("lag_compensation")
    history = 0
    if lag:
        history = -(-lag["ms"] * w["tick_rate_hz"] // 1000)
    try:
        if t <= history + 2:  # too young a match to be older than its history: wait
            await read_until(ws, lambda k, b: k is MessageType.STATE and b["t"] > history + 2, 5)
        got: list[Message] = []
        for seq, view in ((1, t + 10_000), (2, 0)):
            await send(ws, input_body(w, t + 1, seq=seq, view_tick=view, view_alpha=0.5))
            got += await read_until(ws, acked(seq))
        live = await alive(ws)
    finally:
        await ws.close()
    errs = errors(got)
    applied = [b.get("a") for k, b in got if k is MessageType.STATE and b.get("a")]
    want = [(6, 1), (6, 2)] if lag else []
    ok = errs == want and applied[-1:] == [2] and 1 in applied and live
    mode = f"lag_compensation {lag}" if lag else "no lag compensation"
    return obs(name, f"{mode}: errors {errs}, applied up to {applied[-1:]}, alive {live}", ok)


@case(
    "a burst of 60 numbered inputs: at most one applied per tick, each either applied "
    "(acknowledged by a at its own tick) or named once by ERROR 7 INPUT_SUPERSEDED",
    modes=("state",),
)
async def input_flood_buffer(url: str, ctx: Context) -> Observation:
    name = "input_flood_buffer"
    ws, w, t = await joined(url)
    n = 60
    try:
        for seq in range(1, n + 1):
            await send(ws, input_body(w, t + 1, seq=seq))
        got = await read_until(ws, acked(n), 10.0)
        got += await read_until(ws, lambda k, b: k is MessageType.STATE)
        live = await alive(ws)
    finally:
        await ws.close()
    superseded = [s for code, s in errors(got) if code == ErrorCode.INPUT_SUPERSEDED]
    acks = {(b["a"], b["at"]) for k, b in got if k is MessageType.STATE and "a" in b}
    applied = {a for a, _ in acks}
    ticks = [at for _, at in acks]
    every_tick = w["snapshot_rate_hz"] == w["tick_rate_hz"]  # then every `a` is seen
    ok = (
        live
        and n in applied
        and len(ticks) == len(set(ticks)) == len(applied)  # one input per tick, once each
        and not set(superseded) & applied
        and set(superseded) | applied <= set(range(1, n + 1))
        and (not every_tick or len(superseded) + len(applied) == n)  # none lost silently
    )
    observed = f"{len(applied)} applied at {len(set(ticks))} ticks, {len(superseded)} superseded"
    return obs(name, observed, ok)

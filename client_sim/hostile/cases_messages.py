"""Hostile cases that send bad messages: bytes, shapes, types, values, sizes, rates."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

from websockets.exceptions import ConnectionClosed

from client_sim.hostile.registry import Context, Observation, case, obs
from client_sim.hostile.wire import as_bytes, close_code, code_name, hello, open_ws, packb
from server.net.codec import decode_server_message, encode_client
from server.net.messages import Input, Leave, Ping
from server.net.protocol import PROTOCOL_VERSION, CloseCode, ErrorCode, MessageType


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

"""Hostile matchmaking cases (registered in :data:`client_sim.hostile.CASES`).

Malformed filters, oversized labels, a 10 kB ``match_id``, brute-forced join codes,
forged / replayed / expired seat reservations and a ticket flood from one address: each
must get its documented answer (docs/protocol.md) while the honest bots play on. The
ticket flood runs last: it empties this address's matchmaking bucket for a few seconds.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from websockets.exceptions import ConnectionClosed

from client_sim.hostile.registry import Context, Observation, case, obs
from client_sim.hostile.wire import code_name, hello, open_ws
from client_sim.joining import JoinFailed, post_json
from server.net.messages import Hello
from server.net.protocol import PROTOCOL_VERSION, CloseCode


async def _hello_code(url: str, **fields: Any) -> int | None:
    """The close code a HELLO with ``fields`` gets (None if it was welcomed)."""
    ws = await open_ws(url)
    try:
        await hello(ws, Hello(version=PROTOCOL_VERSION, **fields))
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else 1006
    await ws.close()
    return None


async def _http_status(url: str, path: str, body: Any) -> tuple[int, str]:
    try:
        await post_json(url, path, body)
    except JoinFailed as exc:
        return exc.status, exc.code
    return 200, "ok"


def _nested(depth: int) -> dict[str, Any]:
    inner: dict[str, Any] = {"k": 1}
    for _ in range(depth):
        inner = {"k": inner}
    return inner


@case("close 4002 for each malformed HELLO.filters; HTTP 400 bad_filter")
async def malformed_filters(url: str, ctx: Context) -> Observation:
    """Wrong types, an unknown operator, 100 nested keys, too many keys."""
    bad: list[Any] = [
        "mode=ctf",
        {"skill": {"~=": 3}},
        {"skill": {">=": "high"}},
        _nested(100),
        {f"k{i}": 1 for i in range(100)},
    ]
    codes = [await _hello_code(url, filters=f) for f in bad]
    status = await _http_status(url, "/matchmake/join", {"filters": {"skill": {"~=": 3}}})
    ok = all(c == CloseCode.MALFORMED_MESSAGE for c in codes) and status == (400, "bad_filter")
    return obs("malformed_filters", f"{Counter(map(code_name, codes))}, HTTP {status}", ok)


@case("close 4002 for labels over the caps; HTTP 400 bad_labels, 413 past the body cap")
async def oversized_labels(url: str, ctx: Context) -> Observation:
    """17 labels, a 65-character value, a 33-character key; a 20 kB body over HTTP."""
    bad = [
        {f"k{i}": i for i in range(17)},
        {"mode": "x" * 65},
        {"k" * 33: 1},
    ]
    codes = [await _hello_code(url, create={"labels": labels}) for labels in bad]
    small = await _http_status(url, "/matchmake/create", {"labels": {"mode": "y" * 100}})
    big = await _http_status(url, "/matchmake/create", {"labels": {"mode": "z" * 20_000}})
    ok = (
        all(c == CloseCode.MALFORMED_MESSAGE for c in codes)
        and small == (400, "bad_labels")
        and big == (413, "body_too_large")
    )
    return obs("oversized_labels", f"{[code_name(c) for c in codes]}, {small}, {big}", ok)


@case("close 1009 for a 10 kB match_id (4002 over 64 chars); HTTP 413 / 400")
async def huge_match_id(url: str, ctx: Context) -> Observation:
    """A match id of 10 kB and one of 65 characters, over the websocket and over HTTP."""
    huge = await _hello_code(url, match_id="m" * 10_000)
    long = await _hello_code(url, match_id="m" * 65)
    http_huge = await _http_status(url, "/matchmake/join-by-id", {"match_id": "m" * 10_000})
    http_long = await _http_status(url, "/matchmake/join-by-id", {"match_id": "m" * 65})
    ok = (
        huge == CloseCode.MESSAGE_TOO_BIG
        and long == CloseCode.MALFORMED_MESSAGE
        and http_huge == (413, "body_too_large")
        and http_long == (400, "bad_request")
    )
    observed = f"{code_name(huge)}, {code_name(long)}, HTTP {http_huge} {http_long}"
    return obs("huge_match_id", observed, ok)


@case("wrong codes get 4010 JOIN_REJECTED, then 4008 RATE_LIMITED; each one audited")
async def brute_forced_codes(url: str, ctx: Context) -> Observation:
    """Thirty guessed join codes from one address."""
    before = await ctx.probe.sample()
    letters = str.maketrans("0123456789", "ACDEFGHJKM")  # valid-looking, never issued
    codes = [await _hello_code(url, code=f"{i:06d}".translate(letters)) for i in range(30)]
    after = await ctx.probe.sample()
    counted = sum(
        after.get(k, 0.0) - before.get(k, 0.0)
        for k in after
        if k.startswith("tickwire_code_attempts_total")
    )
    allowed = {CloseCode.JOIN_REJECTED, CloseCode.RATE_LIMITED}
    ok = all(c in allowed for c in codes) and codes[-1] == CloseCode.RATE_LIMITED
    ok = ok and counted >= len(codes)
    return obs("brute_forced_codes", f"{Counter(map(code_name, codes))}, counted {counted:g}", ok)


@case("close 4022 forged, 4024 replayed, 4023 expired reservations")
async def bad_reservations(url: str, ctx: Context) -> Observation:
    """A made-up and a tampered reservation, one used twice, one used too late."""
    first = await post_json(url, "/matchmake/join-or-create", {})
    token = first["reservation"]
    forged = [
        await _hello_code(url, reservation="m1.999999999.nonce.sig"),
        await _hello_code(url, reservation=token[:-2] + ("AA" if token[-2:] != "AA" else "BB")),
    ]
    ws = await open_ws(url)
    await hello(ws, Hello(version=PROTOCOL_VERSION, reservation=token))
    replayed = await _hello_code(url, reservation=token)
    await ws.close()
    late = (await post_json(url, "/matchmake/join-or-create", {}))["reservation"]
    await asyncio.sleep(ctx.limits.seat_reservation_s + 0.2)
    expired = await _hello_code(url, reservation=late)
    ok = (
        all(c == CloseCode.RESERVATION_FORGED for c in forged)
        and replayed == CloseCode.RESERVATION_USED
        and expired == CloseCode.RESERVATION_EXPIRED
    )
    observed = f"{[code_name(c) for c in forged]}, {code_name(replayed)}, {code_name(expired)}"
    return obs("bad_reservations", observed, ok)


@case("a ticket flood from one address: HTTP 429 past the bucket and the ticket cap")
async def ticket_flood(url: str, ctx: Context) -> Observation:
    """``limits.ticket_flood`` queue requests from one address, 50 at a time."""
    ticket = {"properties": {"skill": 1}, "min_players": 8, "max_players": 8}
    statuses: Counter[str] = Counter()
    sem = asyncio.Semaphore(50)

    async def one() -> None:
        async with sem:
            try:
                await post_json(url, "/matchmake/queue", ticket, timeout_s=15.0)
                statuses["200"] += 1
            except JoinFailed as exc:
                statuses[f"{exc.status} {exc.code}"] += 1
            except (OSError, TimeoutError) as exc:
                statuses[type(exc).__name__] += 1

    await asyncio.gather(*(one() for _ in range(ctx.limits.ticket_flood)))
    limited = sum(n for k, n in statuses.items() if k.startswith("429"))
    ok = statuses["200"] <= 25 and limited >= ctx.limits.ticket_flood - 25
    return obs("ticket_flood", ", ".join(f"{n}x {k}" for k, n in statuses.most_common()), ok)

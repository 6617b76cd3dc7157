"""Issue 18 over real sockets: INPUT ``seq`` and STATE ``a``/``at``, the ERROR codes of
bad sequence numbers and views, the WELCOME fields, and a lag-compensated hit."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from server.gamedef import GameDefinition
from server.gamedef.load import load_definition
from server.net.codec import encode
from server.net.messages import Input
from server.net.protocol import CloseCode, ErrorCode, MessageType
from server.testing import TestClient, running_server

GAMES = Path(__file__).resolve().parents[2] / "data" / "games"


async def frames_until(c: TestClient, done: Any, limit: int = 90) -> list[dict[str, Any]]:
    """STATE (and ERROR) bodies, in order, until ``done(body)`` holds for a STATE."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        kind, body = await c.recv()
        if kind is MessageType.STATE:
            c.mirror.apply(body)
        seen.append({"_kind": kind, **body})
        if kind is MessageType.STATE and done(body):
            return seen
    raise AssertionError(f"condition not met in {limit} messages")


async def test_state_frames_acknowledge_the_last_seq_applied(small_arena: GameDefinition) -> None:
    """``a``/``at`` follow a numbered client's inputs; repeats, steps back and +2^31 are
    refused with SEQ_NOT_NEWER (and its seq); a client without seq gets no ``a``."""
    async with (
        running_server(small_arena) as srv,
        TestClient.connect(srv.url) as c,
        TestClient.connect(srv.url) as old,
    ):
        w = await c.expect(MessageType.WELCOME)
        assert (w["interpolation_ms"], w["input_buffer_ticks"]) == (100, 0)
        assert w["lag_compensation"] is None
        first = await c.expect(MessageType.STATE)
        assert "a" not in first
        await c.send(Input(first["t"] + 1, 1.0, 0.0, seq=2**32 - 1))
        seen = await frames_until(c, lambda b: b.get("a") == 2**32 - 1)
        acked = seen[-1]
        assert first["t"] < acked["at"] <= acked["t"]
        await c.send(Input(acked["t"] + 1, 0.0, 1.0, seq=0))  # the wrap is newer
        await frames_until(c, lambda b: b.get("a") == 0)
        for bad in (0, 2**32 - 2, 2**31):  # repeat, backwards, +2^31
            await c.send(Input(acked["t"] + 1, -1.0, 0.0, seq=bad))
        errors = [
            (e["code"], e["seq"])
            for e in await frames_until(c, lambda b: b["t"] > acked["t"] + 10)
            if e["_kind"] is MessageType.ERROR
        ]
        assert errors == [(ErrorCode.SEQ_NOT_NEWER, s) for s in (0, 2**32 - 2, 2**31)]
        await c.send(Input(acked["t"] + 1, 0.0, 0.0))
        assert (await c.expect(MessageType.ERROR))["code"] == ErrorCode.SEQ_REQUIRED
        frame = await c.expect(MessageType.STATE)
        assert frame["a"] == 0  # nothing refused was applied
        assert list(frame)[-2:] == ["a", "at"]
        await old.expect(MessageType.WELCOME)
        await old.send(Input(0, 0.5, 0.5))
        for _ in range(3):
            assert "a" not in await old.expect(MessageType.STATE)


@pytest.mark.parametrize(
    "extra",
    [
        {"view_tick": 3},  # without view_alpha
        {"view_tick": 3, "view_alpha": float("nan")},
        {"view_tick": 3, "view_alpha": 1.5},
        {"seq": 2**32},
    ],
    ids=["view_tick-alone", "alpha-nan", "alpha-1.5", "seq-2^32"],
)
async def test_malformed_latency_keys_close_the_connection(
    small_arena: GameDefinition, extra: dict[str, Any]
) -> None:
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as c:
        await c.expect(MessageType.WELCOME)
        await c.ws.send(encode(MessageType.INPUT, {"tick": 1, "x": 0, "y": 0, **extra}))
        with pytest.raises(ConnectionClosed) as info:
            await drain(c)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == CloseCode.MALFORMED_MESSAGE


async def drain(c: TestClient) -> None:
    while True:
        await c.ws.recv()


def hits(body: dict[str, Any], hit_index: int, by: int) -> list[int]:
    """Targets of ``hit`` events by ``by`` in one STATE body."""
    out: list[int] = []
    for index, count, cols in body.get("v", []):
        if index == hit_index:
            targets = np.frombuffer(cols[0], "<u4", count).tolist()
            shooters = np.frombuffer(cols[1], "<u4", count).tolist()
            out += [t for t, s in zip(targets, shooters, strict=True) if s == by]
    return out


async def test_a_rewound_hitscan_hits_what_the_client_saw_and_an_unrewound_one_misses() -> None:
    """The shooter aims at the target as its own mirror showed it ten frames ago and says
    so (``view_tick``): the rewinding weapon hits, the same shot with the unrewound
    weapon misses (the target has moved 20 units on), both acknowledged by ``a``."""
    defn = load_definition(GAMES / "testing" / "lagcomp.toml")
    async with (
        running_server(defn) as srv,
        TestClient.connect(srv.url) as a,
        TestClient.connect(srv.url) as b,
    ):
        wa = await a.expect(MessageType.WELCOME)
        wb = await b.expect(MessageType.WELCOME)
        assert wa["lag_compensation"] == {"ms": 1000}
        hit_index = [e["name"] for e in wa["events"]].index("hit")
        await a.expect(MessageType.STATE)
        await b.expect(MessageType.STATE)
        match = next(iter(srv.manager.matches.values()))
        world = match.sim.world
        for seat, (x, y) in (
            (match.by_player[wa["player_id"]], (50, 150)),
            (match.by_player[wb["player_id"]], (100, 30)),
        ):
            assert seat.entity is not None
            world.col("position.x")[world.slot_of(seat.entity)] = x * 256
            world.col("position.y")[world.slot_of(seat.entity)] = y * 256
        await b.ws.send(
            encode(MessageType.INPUT, {"tick": 0, "x": 0, "y": 1, "aim": 0, "buttons": 0})
        )
        # b keeps reading, so its close is not stuck behind unread frames.
        reader = asyncio.create_task(drain(b))
        me, target = wa["entity"], wb["entity"]
        seen: dict[int, tuple[float, float]] = {}

        def record(body: dict[str, Any]) -> bool:
            if target in a.mirror.entities:
                _, qx, qy = a.mirror.entities[target]
                seen[body["t"]] = (qx / 16, qy / 16)
            return len(seen) > 12

        await frames_until(a, record)  # also after each shot: ten frames more

        async def shoot(seq: int, bit: int) -> list[int]:
            t0 = max(seen) - 10
            sx, sy = a.mirror.entities[me][1] / 16, a.mirror.entities[me][2] / 16
            aim = math.atan2(seen[t0][1] - sy, seen[t0][0] - sx)
            body = {"tick": max(seen) + 1, "x": 0, "y": 0, "aim": aim, "buttons": bit}
            await a.ws.send(
                encode(MessageType.INPUT, {**body, "seq": seq, "view_tick": t0, "view_alpha": 0.0})
            )
            got = await frames_until(a, lambda f: f.get("a") == seq)
            # Let go only now: sent together, the newer input would supersede the shot.
            await a.ws.send(encode(MessageType.INPUT, {**body, "buttons": 0, "seq": seq + 1}))
            got += await frames_until(a, lambda f: f.get("a") == seq + 1)
            await frames_until(a, record)
            states = [f for f in got if f["_kind"] is MessageType.STATE]
            return [t for f in states for t in hits(f, hit_index, me)]

        assert await shoot(1, 1 << 1) == [target]  # "hitscan": rewinds to t0
        assert await shoot(3, 1 << 2) == []  # "hitscan_now": the target left t0's place
        reader.cancel()


async def test_a_burst_of_numbered_inputs_is_applied_in_order_and_its_backlog_reported(
    small_arena: GameDefinition,
) -> None:
    """Inputs held behind a stall arrive together: each is applied once, in order, one per
    tick (none dropped: the catch-up places), and STATE ``aq`` reports the backlog."""
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as c:
        w = await c.expect(MessageType.WELCOME)
        first = await c.expect(MessageType.STATE)
        n = math.ceil(0.3 * w["tick_rate_hz"])  # one burst, within the catch-up places
        for k in range(n):
            await c.send(Input(first["t"] + 1, 1.0, 0.0, seq=100 + k))
        seen = await frames_until(c, lambda b: b.get("a") == 100 + n - 1 and "aq" not in b)
    assert [e for e in seen if e["_kind"] is MessageType.ERROR] == []
    acks = [(b["a"], b["at"], b.get("aq", 0)) for b in seen if "a" in b]
    assert max(q for _, _, q in acks) >= 1  # a backlog beyond the buffer was reported
    first_at: dict[int, int] = {}
    for a, at, _ in acks:
        first_at.setdefault(a, at)
    seqs = sorted(first_at)
    ticks = [first_at[s] for s in seqs]
    assert ticks == sorted(set(ticks))  # one input per tick, in seq order, once each
    assert seqs[-1] == 100 + n - 1

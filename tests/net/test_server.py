"""The real server on 127.0.0.1:0 with real websocket clients."""

from __future__ import annotations

import asyncio
import urllib.request
from dataclasses import replace

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from client_sim.packing import pack_ping
from server.gamedef import GameDefinition
from server.net.messages import Hello, Input, Leave, Ping
from server.net.protocol import CloseCode, MessageType
from server.testing import TestClient, running_server


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def test_server_welcomes_a_player_and_sends_a_full_snapshot(
    small_arena: GameDefinition,
) -> None:
    """Hello gets a welcome with the match's rates, then a full state frame."""
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as c:
        welcome = await c.expect(MessageType.WELCOME)
        assert welcome["tick_rate_hz"] == 20
        assert welcome["sync"] == "state"
        assert welcome["quantize"] == {"position.x": 0.0625, "position.y": 0.0625}
        assert welcome["resume_token"]
        first = await c.expect(MessageType.STATE)
        assert first["f"] is True
        assert len(c.mirror.entities) >= 1  # at least our own entity


async def test_server_moves_the_player_when_input_arrives(small_arena: GameDefinition) -> None:
    """A full-right stick moves the player's entity right on the server."""
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as c:
        await c.expect(MessageType.WELCOME)
        await c.expect(MessageType.STATE)
        match = next(iter(srv.manager.matches.values()))
        seat = match.by_player[c.welcome["player_id"]]
        world = match.sim.world
        assert seat.entity is not None
        x0 = int(world.col("position.x")[world.slot_of(seat.entity)])
        for _ in range(10):
            await c.send(Input(tick=match.tick_count + 1, x=1.0 if x0 < 128_000 else -1.0, y=0))
            await c.expect(MessageType.STATE)
        x1 = int(world.col("position.x")[world.slot_of(seat.entity)])
        assert abs(x1 - x0) > 256 * 20


async def test_server_answers_ping_with_pong(small_arena: GameDefinition) -> None:
    """A ping's timestamp is echoed with the server's tick."""
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as c:
        await c.send(Ping(t=42.5))
        pong = await c.expect(MessageType.PONG)
        assert pong["t"] == 42.5
        assert pong["tick"] >= 0


async def test_a_bot_ping_from_a_clock_hours_old_comes_back_to_the_microsecond(
    small_arena: GameDefinition,
) -> None:
    """The bots' PING keeps float64: a float32 stamp of a clock an hour past boot is in
    0.25 ms steps, which made loopback RTTs negative on a long-running CI machine."""
    t_ms = 3_600_000.0 + 0.123  # one hour of perf_counter, in ms
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as c:
        await c.ws.send(pack_ping(t_ms))
        pong = await c.expect(MessageType.PONG)
    assert pong["t"] == t_ms


async def test_server_health_ready_metrics_and_matches_routes(small_arena: GameDefinition) -> None:
    """The HTTP routes answer on the websocket port."""
    async with running_server(small_arena) as srv:
        status, _ = await asyncio.to_thread(http_get, srv.http_url + "/healthz")
        assert status == 200
        status, _ = await asyncio.to_thread(http_get, srv.http_url + "/readyz")
        assert status == 200
        status, body = await asyncio.to_thread(http_get, srv.http_url + "/metrics")
        assert status == 200
        assert "tickwire_ticks_total" in body
        status, body = await asyncio.to_thread(http_get, srv.http_url + "/matches")
        assert status == 200
        assert '"mode": "state"' in body


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\xc1not msgpack", CloseCode.MALFORMED_MESSAGE),
        ("a text frame", CloseCode.BINARY_ONLY),
        (bytes(10_000), CloseCode.MESSAGE_TOO_BIG),
    ],
    ids=["not-msgpack", "text", "oversize"],
)
async def test_server_closes_bad_first_messages_with_their_code(
    small_arena: GameDefinition, payload: bytes | str, code: CloseCode
) -> None:
    """A bad first message closes with the documented code."""
    async with running_server(small_arena) as srv, connect(srv.url) as ws:
        await ws.send(payload)
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == code


async def test_server_refuses_other_protocol_versions(small_arena: GameDefinition) -> None:
    """A hello with another version is closed with VERSION_MISMATCH."""
    async with (
        running_server(small_arena) as srv,
        TestClient.connect(srv.url, Hello(version=99)) as c,
    ):
        with pytest.raises(ConnectionClosed) as info:
            await c.recv()
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == CloseCode.VERSION_MISMATCH


async def test_server_requires_the_auth_token_when_configured(small_arena: GameDefinition) -> None:
    """With --auth-token set, a wrong token closes with BAD_TOKEN and the right one joins."""
    async with running_server(small_arena, auth_token="s3cret") as srv:
        async with TestClient.connect(srv.url, Hello(version=1, token="nope")) as c:
            with pytest.raises(ConnectionClosed) as info:
                await c.recv()
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == CloseCode.BAD_TOKEN
        async with TestClient.connect(srv.url, Hello(version=1, token="s3cret")) as c:
            await c.expect(MessageType.WELCOME)


async def test_server_closes_full_match_with_match_full(small_arena: GameDefinition) -> None:
    """Past capacity with no room for new matches, a join closes with MATCH_FULL."""
    defn = replace(small_arena, max_players=2)
    async with (
        running_server(defn, max_matches=1) as srv,
        TestClient.connect(srv.url) as a,
        TestClient.connect(srv.url) as b,
    ):
        await a.expect(MessageType.WELCOME)
        await b.expect(MessageType.WELCOME)
        async with TestClient.connect(srv.url) as c:
            with pytest.raises(ConnectionClosed) as info:
                await c.expect(MessageType.WELCOME)
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == CloseCode.MATCH_FULL


async def test_server_aoi_matches_brute_force(small_arena: GameDefinition) -> None:
    """The mirror holds exactly the entities within the interest radius of the player."""
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as c:
        await c.expect(MessageType.WELCOME)
        match = next(iter(srv.manager.matches.values()))
        for _ in range(5):
            await c.expect(MessageType.STATE)
        # Freeze the world to compare: stop the runner, then read one more frame.
        runner = srv.runners[match.match_id]
        runner.stop()
        assert runner.task is not None
        await runner.task
        await asyncio.sleep(0.1)
        while True:
            try:
                await c.expect(MessageType.STATE, timeout=0.2)
            except TimeoutError:
                break
        world = match.sim.world
        seat = match.by_player[c.welcome["player_id"]]
        assert seat.entity is not None
        slot = world.slot_of(seat.entity)
        scale = 256.0
        px = world.col("position.x").astype(float) / scale
        py = world.col("position.y").astype(float) / scale
        d2 = (px - px[slot]) ** 2 + (py - py[slot]) ** 2
        expected = set(world.netids[d2 <= 150.0**2].tolist())
        assert set(c.mirror.entities) == expected
        q = match.quantizer.packed(world)
        for nid, (_, qx, qy) in c.mirror.entities.items():
            s = int(np.flatnonzero(world.netids == nid)[0])
            assert (qx, qy) == (int(q[s] & 0xFFFF), int(q[s] >> 16))


async def test_server_player_leave_closes_with_left(small_arena: GameDefinition) -> None:
    """A consented leave frees the seat and closes with LEFT."""
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as c:
        await c.expect(MessageType.WELCOME)
        await c.send(Leave())
        with pytest.raises(ConnectionClosed) as info:
            await c.expect(MessageType.SHUTDOWN)  # never comes: the close does
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == CloseCode.LEFT
        match = next(iter(srv.manager.matches.values()))
        assert match.players == 0

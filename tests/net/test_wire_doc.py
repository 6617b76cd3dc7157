"""docs/protocol.md, exactly: each rule a client written from the document relies on,
checked over a real socket (issue 12, points 1-11)."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.gamedef import GameDefinition
from server.gamedef.load import override_sync_mode
from server.net.codec import decode_server_message
from server.net.messages import Checksum, Hello, Input, Leave, Ping
from server.net.protocol import PROTOCOL_VERSION, CloseCode, ErrorCode, MessageType
from server.testing import TestClient, running_server

DOCS = Path(__file__).resolve().parents[2] / "docs"


def packb(obj: object) -> bytes:
    out: bytes = msgpack.packb(obj, use_bin_type=True)
    return out


async def close_code(ws: ClientConnection) -> int:
    """Read until the server closes; the code it closed with."""

    async def drain() -> None:
        while True:
            await asyncio.wait_for(ws.recv(), 5)

    with pytest.raises(ConnectionClosed) as info:
        await drain()
    assert info.value.rcvd is not None
    return info.value.rcvd.code


async def matches(http_url: str) -> list[dict[str, Any]]:
    """GET /matches (JSON) from a thread: the server runs in this event loop."""
    body = await asyncio.to_thread(http_json, http_url + "/matches?format=json")
    out: list[dict[str, Any]] = body["matches"]
    return out


def lockstep(defn: GameDefinition, **lock: Any) -> GameDefinition:
    d = override_sync_mode(defn, "lockstep")
    return replace(d, lockstep=replace(d.lockstep, **lock))


def doc_table(text: str, heading: str) -> list[list[str]]:
    """Rows (cells without backticks) of the first table after ``heading``."""
    rows: list[list[str]] = []
    after = text[text.index(heading) :]
    for line in after.splitlines()[1:]:
        if line.startswith("|"):
            cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
            if not set(cells[0]) <= {"-"}:
                rows.append(cells)
        elif rows:
            break
    return rows[1:]  # without the header row


def ids(data: bytes, width: int) -> list[int]:
    dt = "<u2" if width == 2 else "<u4"
    out: list[int] = np.frombuffer(data, dt).tolist()
    return out


FIRST_MESSAGES: list[tuple[str, bytes | str, CloseCode]] = [
    ("text frame", "hello", CloseCode.BINARY_ONLY),
    ("not msgpack", b"\xc1\xc1", CloseCode.MALFORMED_MESSAGE),
    ("not an array", packb({"version": 1}), CloseCode.MALFORMED_MESSAGE),
    ("envelope version 2", packb([2, 1, {"version": 1}]), CloseCode.VERSION_MISMATCH),
    ('envelope version "1"', packb(["1", 1, {"version": 1}]), CloseCode.VERSION_MISMATCH),
    ("version before type", packb([2, 99, {}]), CloseCode.VERSION_MISMATCH),
    ("unknown type", packb([1, 99, {}]), CloseCode.UNKNOWN_MESSAGE_TYPE),
    ("body not a map", packb([1, 1, [1]]), CloseCode.MALFORMED_MESSAGE),
    ("input first", packb([1, 2, {"tick": 1, "x": 0, "y": 0}]), CloseCode.UNEXPECTED_MESSAGE),
    ("hello version 2", packb([1, 1, {"version": 2}]), CloseCode.VERSION_MISMATCH),
]


async def test_server_checks_first_messages_in_the_documented_order(
    small_arena: GameDefinition,
) -> None:
    """frame type -> msgpack -> shape -> envelope version -> type -> body -> state -> hello."""
    async with running_server(small_arena) as srv:
        for name, payload, code in FIRST_MESSAGES:
            async with connect(srv.url) as ws:
                await ws.send(payload)
                assert await close_code(ws) == code, name


@pytest.mark.parametrize("version", [2, "1", 1.0])
async def test_server_closes_a_later_message_of_another_envelope_version(
    small_arena: GameDefinition, version: object
) -> None:
    """After WELCOME too, an envelope version other than the integer 1 closes 4000."""
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as c:
        await c.expect(MessageType.WELCOME)
        await c.ws.send(packb([version, int(MessageType.PING), {"t": 1.0}]))
        assert await close_code(c.ws) == CloseCode.VERSION_MISMATCH


async def test_spectator_has_seat_minus_one_and_sees_the_whole_world(
    small_arena: GameDefinition,
) -> None:
    """A spectator: seat -1, a mirror of exactly /matches' entities, `l` only for despawns."""
    spectate = Hello(version=PROTOCOL_VERSION, spectate=True)
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as player:
        pw = await player.expect(MessageType.WELCOME)
        await player.expect(MessageType.STATE)
        async with TestClient.connect(srv.url, spectate) as spec:
            sw = await spec.expect(MessageType.WELCOME)
            assert (sw["seat"], sw["entity"], sw["spectator"]) == (-1, -1, True)
            frame = await spec.expect(MessageType.STATE)
            assert frame["f"] is True
            entities = (await matches(srv.http_url))[0]["entities"]
            assert entities == len(small_arena_npcs(small_arena)) + 1
            assert len(spec.mirror.entities) == entities
            assert pw["entity"] in spec.mirror.entities
            await player.send(Leave())
            left: list[int] = []
            for _ in range(10):
                frame = await spec.expect(MessageType.STATE)
                left += ids(frame["l"], frame["w"])
            assert left == [pw["entity"]]
            assert len(spec.mirror.entities) == entities - 1
    async with (
        running_server(lockstep(small_arena)) as srv,
        TestClient.connect(srv.url, spectate) as spec,
    ):
        assert (await spec.expect(MessageType.WELCOME))["seat"] == -1


def small_arena_npcs(defn: GameDefinition) -> range:
    return range(sum(s.count for s in defn.spawns))


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


async def test_matches_fields_are_exactly_the_documented_ones(small_arena: GameDefinition) -> None:
    """Every /matches key is in docs/operations.md's table, and every row is sent."""
    documented = {
        row[0] for row in doc_table((DOCS / "operations.md").read_text(), "`GET /matches` (JSON)")
    }
    async with running_server(small_arena) as srv:
        entry = (await matches(srv.http_url))[0]
    assert set(entry) == documented
    assert entry["entities"] == sum(s.count for s in small_arena.spawns)


HALVES = [
    (0.5, -0.5, 64, -63),
    (2.5 / 127, -2.5 / 127, 3, -2),
    (126.5 / 127, -126.5 / 127, 127, -126),
]


async def test_inputs_are_quantized_half_up_as_documented(small_arena: GameDefinition) -> None:
    """floor(v*127 + 0.5) at the halves, read back from the lockstep frames' x/y."""
    async with running_server(lockstep(small_arena)) as srv, TestClient.connect(srv.url) as c:
        w = await c.expect(MessageType.WELCOME)
        n = (await c.expect(MessageType.LOCKSTEP_FRAME))["n"]
        for i, (x, y, _, _) in enumerate(HALVES):
            await c.send(Input(tick=n + 5 + i, x=x, y=y))
        got: dict[int, tuple[int, int]] = {}
        while len(got) < len(HALVES):
            f = await c.expect(MessageType.LOCKSTEP_FRAME)
            seats = np.frombuffer(f["s"], "<u2").tolist()
            if w["seat"] in seats:
                i = seats.index(w["seat"])
                got[f["n"]] = (
                    int(np.frombuffer(f["x"], np.int8)[i]),
                    int(np.frombuffer(f["y"], np.int8)[i]),
                )
    assert [got[n + 5 + i] for i in range(len(HALVES))] == [(qx, qy) for _, _, qx, qy in HALVES]


def own_step(frame: dict[str, Any], netid: int) -> tuple[int, int] | None:
    """The (dx, dy) steps of ``netid`` in a delta frame, or None if it did not move."""
    cids = ids(frame["c"], frame["w"])
    if netid not in cids:
        return None
    d = np.frombuffer(frame["d"], np.int8).reshape(-1, 2)[cids.index(netid)]
    return int(d[0]), int(d[1])


async def test_one_input_stamped_last_tick_plus_one_moves_at_the_welcome_speed(
    small_arena: GameDefinition,
) -> None:
    """WELCOME.movement's speed, +y growing y, and one input persisting frame after frame."""
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as c:
        w = await c.expect(MessageType.WELCOME)
        mv = w["movement"]
        assert (mv["x_axis"], mv["y_axis"], mv["stick_max"]) == ("right", "down", 127)
        assert (mv["speed_units_per_s"], mv["speed_subunits_per_tick"]) == (80.0, 1024)
        first = await c.expect(MessageType.STATE)
        _, qx, qy = c.mirror.entities[w["entity"]]
        sx = 1 if qx < 8000 else -1  # away from the nearer edge (16000 steps wide)
        sy = 1 if qy < 8000 else -1
        await c.send(Input(tick=first["t"] + 1, x=float(sx), y=float(sy)))
        await c.send(Input(tick=first["t"] + 2 * 20 + 10, x=0.0, y=0.0))
        steps_per_tick = mv["speed_subunits_per_tick"] // 256 * 16  # 1/16-unit steps
        moved: list[tuple[int, int] | None] = []
        errors: list[int] = []
        while len(moved) < 6:
            kind, body = await c.recv()
            if kind is MessageType.ERROR:
                errors.append(body["code"])
            elif kind is MessageType.STATE:
                step = own_step(body, w["entity"])
                if step is not None or moved:
                    moved.append(step)
    assert errors == [ErrorCode.INPUT_TOO_NEW]
    assert moved == [(sx * steps_per_tick, sy * steps_per_tick)] * 6


async def test_dropped_players_entity_stands_still(small_arena: GameDefinition) -> None:
    """After its connection drops, a moving player's entity stops and stays in the world."""
    spectate = Hello(version=PROTOCOL_VERSION, spectate=True)
    async with running_server(small_arena) as srv, TestClient.connect(srv.url, spectate) as spec:
        await spec.expect(MessageType.WELCOME)
        async with TestClient.connect(srv.url) as p:
            w = await p.expect(MessageType.WELCOME)
            frame = await p.expect(MessageType.STATE)
            _, qx, _ = p.mirror.entities[w["entity"]]
            await p.send(Input(tick=frame["t"] + 1, x=1.0 if qx < 8000 else -1.0, y=0.0))
            while own_step(await spec.expect(MessageType.STATE), w["entity"]) is None:
                pass
        steps = [own_step(await spec.expect(MessageType.STATE), w["entity"]) for _ in range(12)]
        assert steps[-8:] == [None] * 8  # still within a tick or two of the drop, then never
        assert w["entity"] in spec.mirror.entities


async def test_desync_keeps_the_connection_and_resume_without_last_frame_gives_a_checkpoint(
    small_arena: GameDefinition,
) -> None:
    """DESYNC leaves the connection open (PING answered); a resume without last_frame
    starts with a CHECKPOINT, one with last_frame with the missed frames."""
    defn = lockstep(small_arena, checksum_interval_ticks=1)
    async with running_server(defn) as srv, TestClient.connect(srv.url) as a:
        w = await a.expect(MessageType.WELCOME)
        await a.expect(MessageType.CHECKPOINT)
        n = (await a.expect(MessageType.LOCKSTEP_FRAME))["n"]
        await a.send(Checksum(frame=n, checksum=12345))
        d = await a.expect(MessageType.DESYNC)
        assert (d["frame"], d["seat"]) == (n, w["seat"])
        await a.send(Ping(t=1.0))
        assert (await a.expect(MessageType.PONG))["t"] == 1.0
        token = w["resume_token"]
        async with TestClient.connect(srv.url, Hello(version=1, resume=token)) as b:
            w2 = await b.expect(MessageType.WELCOME)
            assert w2["resumed"] is True
            kind, _ = await b.recv()
            assert kind is MessageType.CHECKPOINT
            assert await close_code(a.ws) == CloseCode.KICKED
            last = (await b.expect(MessageType.LOCKSTEP_FRAME))["n"]
        resume = Hello(version=1, resume=w2["resume_token"], last_frame=last)
        async with TestClient.connect(srv.url, resume) as c:
            await c.expect(MessageType.WELCOME)
            kind, body = await c.recv()
            assert kind is MessageType.LOCKSTEP_FRAME
            assert body["n"] == last + 1


async def test_resume_after_leave_is_resume_expired(small_arena: GameDefinition) -> None:
    """A token of a seat that left with LEAVE gets 4012 ("the seat no longer exists")."""
    async with running_server(small_arena) as srv:
        async with TestClient.connect(srv.url) as a:
            w = await a.expect(MessageType.WELCOME)
            await a.send(Leave())
            assert await close_code(a.ws) == CloseCode.LEFT
        async with TestClient.connect(srv.url, Hello(version=1, resume=w["resume_token"])) as b:
            assert await close_code(b.ws) == CloseCode.RESUME_EXPIRED
    table = (DOCS / "protocol.md").read_text()
    assert "the seat no longer exists (left with `LEAVE`, grace passed, or match ended)" in table


async def test_welcome_fields_are_documented_with_their_mode(small_arena: GameDefinition) -> None:
    """Both modes send the same documented keys; lockstep's carries default_input."""
    rows = doc_table((DOCS / "protocol.md").read_text(), "### `WELCOME` (64)")
    modes = {row[0]: row[2] for row in rows}
    assert set(modes.values()) <= {"both", "state", "lockstep"}
    movement_keys = {
        row[0] for row in doc_table((DOCS / "protocol.md").read_text(), "`movement`, derived")
    }
    defn = lockstep(small_arena, default_input="zero")
    for d in (small_arena, defn):
        async with running_server(d) as srv, TestClient.connect(srv.url) as c:
            w = await c.expect(MessageType.WELCOME)
        assert set(w) == set(modes), d.sync.mode
        assert set(w["movement"]) == movement_keys
    assert w["default_input"] == "zero"
    assert re.search(
        r"\| `default_input` \| str \| lockstep \|", (DOCS / "protocol.md").read_text()
    )


def test_decoded_server_messages_carry_the_protocol_version() -> None:
    """The client-side decoder refuses a server message of another version (4000)."""
    with pytest.raises(Exception, match="version 2"):
        decode_server_message(packb([2, int(MessageType.PONG), {"t": 1, "tick": 1}]))

"""The gateway's lean receive path (server/gateway/lean.py) over real sockets.

After WELCOME a connection's binary frames are cut out of the socket's bytes by the
gateway itself; everything else must behave as on websockets' own path: control frames,
text frames, fragments, oversized and unmasked frames, violations and the closing
handshake. Each test writes raw frames on a real TCP connection to a real server.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgpack
import pytest
from websockets.utils import apply_mask

from client_sim.wire import WireProtocol, open_connection
from server.app import TickwireServer
from server.gateway.lean import LeanConnection, frame
from server.net.protocol import PROTOCOL_VERSION, CloseCode, MessageType
from server.testing import running_server


def client_frame(payload: bytes, opcode: int = 2, fin: bool = True, masked: bool = True) -> bytes:
    """A client frame as RFC 6455 §5.2 lays it out (masked unless told otherwise)."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    m = 0x80 if masked else 0
    if n < 126:
        head = bytes((b0, m | n))
    elif n < 65536:
        head = bytes((b0, m | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, m | 127)) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + apply_mask(payload, key)


def message(mtype: MessageType, body: dict[str, Any]) -> bytes:
    return msgpack.packb([PROTOCOL_VERSION, int(mtype), body])


class Client:
    """A raw client: frames in go to ``received``; ``raw()`` writes any bytes."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
        self.ws: WireProtocol

    def on_message(self, data: bytes) -> None:
        _, mtype, body = msgpack.unpackb(data)
        self.received.put_nowait((mtype, body))

    def raw(self, data: bytes) -> None:
        assert self.ws.transport is not None
        self.ws.transport.write(data)

    async def expect(self, mtype: MessageType, timeout_s: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            while True:
                got, body = await self.received.get()
                if got == int(mtype):
                    return body

    async def closed(self, timeout_s: float = 5.0) -> int | None:
        await asyncio.wait_for(asyncio.shield(self.ws.closed), timeout_s)
        return self.ws.close_code


def server_conn(srv: TickwireServer) -> LeanConnection:
    (conn,) = srv.gateway.conns.values()
    ws = conn.ws
    assert isinstance(ws, LeanConnection)
    return ws


@asynccontextmanager
async def welcomed(**overrides: Any) -> AsyncIterator[tuple[TickwireServer, Client]]:
    """A server and one seated client whose connection is on the lean path."""
    async with running_server(**overrides) as srv:
        c = Client()
        c.ws = await open_connection(srv.url, c.on_message)
        c.ws.send(message(MessageType.HELLO, {"version": PROTOCOL_VERSION}))
        await c.expect(MessageType.WELCOME)
        try:
            yield srv, c
        finally:
            await c.ws.close()


def ping(t: float) -> bytes:
    return message(MessageType.PING, {"t": t})


async def test_inputs_and_pings_take_the_lean_path_in_any_split() -> None:
    """Frames in one write, frames split byte by byte: each is dispatched once, in order."""
    async with welcomed() as (srv, c):
        ws = server_conn(srv)
        assert ws.lean
        match = next(iter(srv.manager.matches.values()))
        tick = match.tick_count + 1
        burst = b"".join(client_frame(ping(float(i))) for i in range(3))
        c.raw(burst)
        for i in range(3):
            assert (await c.expect(MessageType.PONG))["t"] == float(i)
        split = client_frame(message(MessageType.INPUT, {"tick": tick, "x": 0.5, "y": -1.0}))
        split += client_frame(ping(7.0))
        for k in range(len(split)):
            c.raw(split[k : k + 1])
            await asyncio.sleep(0)
        assert (await c.expect(MessageType.PONG))["t"] == 7.0
        (seat,) = match.by_player.values()
        assert match.intake.newest_waiting(seat.seat) == (64, -127)
        assert ws.lean_messages == 5
        assert ws.lean


async def test_control_frames_go_to_websockets_and_the_path_stays_lean() -> None:
    """A client ping gets websockets' pong; a server ping's pong is timed (latency)."""
    async with welcomed() as (srv, c):
        ws = server_conn(srv)
        pongs: list[bytes] = []
        ponged = asyncio.Event()
        orig = c.ws._frame

        def spy(fin: int, op: int, payload: bytes) -> None:
            if op == 10:
                pongs.append(payload)
                ponged.set()
            else:
                orig(fin, op, payload)

        c.ws._frame = spy  # type: ignore[method-assign]
        c.raw(client_frame(b"abc", opcode=9))
        waiter = await ws.ping()
        async with asyncio.timeout(5):
            await waiter
            await ponged.wait()
        assert pongs == [b"abc"]
        c.raw(client_frame(ping(1.0)))
        assert (await c.expect(MessageType.PONG))["t"] == 1.0
        assert ws.lean


async def test_text_frame_after_welcome_closes_binary_only() -> None:
    async with welcomed() as (_srv, c):
        c.raw(client_frame(b"hello", opcode=1))
        assert await c.closed() == CloseCode.BINARY_ONLY


async def test_fragmented_message_is_reassembled_by_websockets() -> None:
    """A fragment leaves the lean path for good; the message and later ones still work."""
    async with welcomed() as (srv, c):
        ws = server_conn(srv)
        data = ping(3.0)
        c.raw(client_frame(data[:4], fin=False) + client_frame(data[4:], opcode=0))
        assert (await c.expect(MessageType.PONG))["t"] == 3.0
        assert not ws.lean
        c.raw(client_frame(ping(4.0)))
        assert (await c.expect(MessageType.PONG))["t"] == 4.0


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (client_frame(b"\0" * 5000), 1009),  # over max_message_bytes (4096)
        (client_frame(ping(1.0), masked=False), 1002),  # clients must mask
        (client_frame(ping(1.0), opcode=2 | 0x40), 1002),  # RSV1 without an extension
        (client_frame(b"x", opcode=3), 1002),  # a reserved opcode
    ],
    ids=["too_big", "unmasked", "reserved_bit", "reserved_opcode"],
)
async def test_bad_frames_get_websockets_close_codes(raw: bytes, code: int) -> None:
    async with welcomed() as (_srv, c):
        c.raw(raw)
        assert await c.closed() == code


async def test_violation_on_the_lean_path_closes_with_its_code_and_stops_reading() -> None:
    """Bytes that are not msgpack: MALFORMED_MESSAGE, and what follows is not acted on."""
    async with welcomed() as (srv, c):
        ws = server_conn(srv)
        c.raw(client_frame(b"\xc1") + client_frame(ping(9.0)))
        assert await c.closed() == CloseCode.MALFORMED_MESSAGE
        assert ws.lean_messages == 1
        assert c.received.empty() or all(
            m != int(MessageType.PONG)
            for m, _ in c.received._queue  # type: ignore[attr-defined]
        )


async def test_leave_and_client_close_end_with_their_codes() -> None:
    async with welcomed() as (srv, c):
        c.raw(client_frame(message(MessageType.LEAVE, {})))
        assert await c.closed() == CloseCode.LEFT
        await asyncio.sleep(0.05)
        assert srv.gateway.conns == {}
    async with welcomed() as (srv, c):
        await c.ws.close(1000)
        assert c.ws.close_code == 1000  # the server echoed our close frame
        await asyncio.sleep(0.05)
        assert srv.gateway.conns == {}


async def test_no_lean_receive_keeps_websockets_path() -> None:
    async with welcomed(lean_receive=False) as (srv, c):
        ws = server_conn(srv)
        c.raw(client_frame(ping(2.0)))
        assert (await c.expect(MessageType.PONG))["t"] == 2.0
        assert not ws.lean
        assert ws.lean_messages == 0


def test_frame_matches_rfc_6455_lengths() -> None:
    for n, head in ((0, b"\x82\x00"), (125, b"\x82\x7d"), (126, b"\x82\x7e\x00\x7e")):
        assert frame(b"a" * n) == head + b"a" * n
    assert frame(b"a" * 65536)[:10] == b"\x82\x7f" + (65536).to_bytes(8, "big")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 278, 65535, 65536, 70000])
def test_frame_is_what_websockets_would_serialize(size: int) -> None:
    """The prebuilt server frame equals websockets' own unmasked binary frame, at every
    length encoding (7-bit, 16-bit, 64-bit)."""
    from websockets.frames import Frame, Opcode

    payload = os.urandom(size)
    expected = Frame(Opcode.BINARY, payload).serialize(mask=False, extensions=[])
    assert frame(payload) == expected

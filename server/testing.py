"""Helpers for testing games and clients against a real server (for us and for users).

``running_server()`` starts a real :class:`~server.app.TickwireServer` on 127.0.0.1
port 0 in the current event loop and yields it; ``TestClient`` is a minimal real
websocket client that speaks the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.app import TickwireServer
from server.config import ServerConfig
from server.gamedef.schema import GameDefinition
from server.net.codec import decode_server_message, encode_client
from server.net.messages import (
    Ack,
    Checksum,
    ClientMessage,
    Hello,
    Input,
    Leave,
    Ping,
    SnapshotRequest,
)
from server.net.protocol import PROTOCOL_VERSION, MessageType
from server.ops.metrics import Metrics

SAMPLE_CLIENT_MESSAGES: tuple[ClientMessage, ...] = (
    Hello(version=PROTOCOL_VERSION),
    Hello(version=PROTOCOL_VERSION, token="t", resume="r", spectate=True, last_frame=3, name="b"),
    Input(tick=5, x=0.5, y=-1.0),
    Ping(t=123.5),
    Ack(tick=9),
    SnapshotRequest(),
    Checksum(frame=10, checksum=2**64 - 1),
    Leave(),
)
"""One valid message of every client type (every optional field set once): seeds for
fuzzing and round-trip tests."""


@contextlib.asynccontextmanager
async def running_server(
    definition: GameDefinition | None = None,
    **overrides: Any,
) -> AsyncIterator[TickwireServer]:
    """A started server on 127.0.0.1:0; stopped (quickly) on exit."""
    config = replace(ServerConfig(), host="127.0.0.1", port=0, **overrides)
    server = TickwireServer(config, definition, Metrics())
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace_s=0)


class StateMirror:
    """What a state-sync client knows: netid -> (kind, qx, qy), rebuilt from frames."""

    def __init__(self) -> None:
        self.entities: dict[int, tuple[int, int, int]] = {}
        self.tick = 0

    def apply(self, body: dict[str, Any]) -> None:
        """Apply one decoded ``state`` body (full or delta)."""
        if body["f"]:
            self.entities.clear()
        dt = "<u2" if body["w"] == 2 else "<u4"
        for nid in np.frombuffer(body["l"], dt).tolist():
            self.entities.pop(nid, None)
        ids = np.frombuffer(body["e"], dt).tolist()
        kinds = list(body["k"])
        pos = np.frombuffer(body["p"], "<u2").reshape(-1, 2).tolist()
        for nid, k, (x, y) in zip(ids, kinds, pos, strict=True):
            self.entities[nid] = (k, x, y)
        cids = np.frombuffer(body["c"], dt).tolist()
        steps = np.frombuffer(body["d"], np.int8).reshape(-1, 2).tolist()
        for nid, (dx, dy) in zip(cids, steps, strict=True):
            k, x, y = self.entities[nid]
            self.entities[nid] = (k, x + dx, y + dy)
        mids = np.frombuffer(body["m"], dt).tolist()
        mpos = np.frombuffer(body["q"], "<u2").reshape(-1, 2).tolist()
        for nid, (x, y) in zip(mids, mpos, strict=True):
            k = self.entities[nid][0]
            self.entities[nid] = (k, x, y)
        self.tick = body["t"]


async def _drain(ws: ClientConnection) -> None:
    """Read and drop messages until the connection closes."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await ws.recv()


class TestClient:
    """A real websocket client for tests: hello, send messages, read typed replies."""

    __test__ = False  # not a pytest class

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome: dict[str, Any] = {}
        self.mirror = StateMirror()

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls, url: str, hello: Hello | None = None, **kwargs: Any
    ) -> AsyncIterator[TestClient]:
        """Connect and say hello (``hello=None`` sends a default one); close on exit.

        On exit the frames the test left unread are drained while the closing handshake
        runs: a full receive queue pauses reading, so the server's close frame would sit
        behind them and ``close()`` would wait out websockets' 10 s close timeout.
        """
        async with connect(url, max_size=None, compression=None, **kwargs) as ws:
            client = cls(ws)
            await client.send(hello or Hello(version=PROTOCOL_VERSION))
            try:
                yield client
            finally:
                drain = asyncio.ensure_future(_drain(ws))
                await ws.close()
                drain.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drain

    async def send(self, message: ClientMessage) -> None:
        """Encode and send one client message."""
        await self.ws.send(encode_client(message))

    async def recv(self, timeout: float = 5.0) -> tuple[MessageType, dict[str, Any]]:
        """The next server message, decoded."""
        data = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(data, bytes)
        return decode_server_message(data)

    async def expect(self, mtype: MessageType, timeout: float = 5.0) -> dict[str, Any]:
        """Read until a message of ``mtype`` arrives (state frames update the mirror)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            kind, body = await self.recv(max(0.01, deadline - loop.time()))
            if kind is MessageType.WELCOME:
                self.welcome = body
            if kind is MessageType.STATE:
                self.mirror.apply(body)
            if kind is mtype:
                return body

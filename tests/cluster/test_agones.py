"""Agones mode against a small fake of the SDK sidecar's documented REST endpoints
(a mocked boundary: Kubernetes and the real sidecar cannot run here): the public address
from GameServer, Ready, Health, player counts as labels, self-Allocate at the first
player, Shutdown at the end of the drain."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest

from server.cluster.agones import AgonesLifecycle, AgonesSdk, public_url_of
from server.directory.redis_store import RedisDirectory
from server.net.protocol import MessageType
from server.testing import TestClient, running_server

ENDPOINTS = {
    ("POST", "/ready"),
    ("POST", "/health"),
    ("POST", "/allocate"),
    ("POST", "/shutdown"),
    ("PUT", "/metadata/label"),
    ("GET", "/gameserver"),
}


def gameserver(address: str, port: int) -> dict[str, Any]:
    """A ``GET /gameserver`` answer shaped as the REST reference's example."""
    return {
        "object_meta": {"name": "tickwire-x7k2p", "namespace": "default", "uid": "1234"},
        "status": {
            "state": "Scheduled",
            "address": address,
            "ports": [{"name": "metrics", "port": 7030}, {"name": "default", "port": port}],
        },
    }


class FakeSidecar:
    """Answers the endpoints above with ``{}`` (``GET /gameserver`` with
    :attr:`gameserver`; 404 for anything else) and records calls."""

    def __init__(self) -> None:
        self.gameserver = gameserver("203.0.113.7", 7031)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> FakeSidecar:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        length = next(
            (int(v) for k, _, v in (h.partition(": ") for h in lines[1:]) if k == "Content-Length"),
            0,
        )
        body = json.loads(await reader.readexactly(length)) if length else {}
        known = (method, path) in ENDPOINTS
        if known:
            self.calls.append((method, path, body))
        status = "200 OK" if known else "404 Not Found"
        answer = json.dumps(self.gameserver if path == "/gameserver" else {})
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: {len(answer)}\r\n\r\n{answer}".encode())
        await writer.drain()
        writer.close()

    def paths(self) -> list[str]:
        return [p for _, p, _ in self.calls]

    def labels(self) -> dict[str, str]:
        return {b["key"]: b["value"] for _, p, b in self.calls if p == "/metadata/label"}

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def until(pred: Any, what: str, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not pred():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_agones_mode_reports_the_nodes_life_to_the_sidecar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = await FakeSidecar().start()
    monkeypatch.setenv("AGONES_SDK_HTTP_PORT", str(fake.port))
    try:
        async with running_server(agones=True) as server:
            assert server.agones is not None
            server.agones.health_interval_s = 0.2
            await until(lambda: "/health" in fake.paths(), "Ready then a health ping")
            assert fake.paths()[:2] == ["/gameserver", "/ready"]  # the address, then Ready
            assert server.agones.public_url == "ws://203.0.113.7:7031/ws"
            # The labels follow the health ping in the same round (a loaded host may be
            # seen between the two).
            await until(lambda: "matches" in fake.labels(), "the counts as labels")
            assert fake.labels() == {"players": "0", "matches": "1"}
            assert "/allocate" not in fake.paths()  # nobody plays yet
            async with TestClient.connect(server.url) as client:
                await client.expect(MessageType.WELCOME)
                await until(lambda: "/allocate" in fake.paths(), "self-allocation")
                await until(lambda: fake.labels()["players"] == "1", "players label")
            assert "/shutdown" not in fake.paths()
        assert fake.paths()[-1] == "/shutdown"  # the drain is over, then Shutdown
        assert fake.paths().count("/allocate") == 1
    finally:
        await fake.stop()


async def test_a_missing_sidecar_is_retried_and_never_stops_the_server() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    life = AgonesLifecycle(AgonesSdk(port, timeout_s=0.5), lambda: 3, lambda: 1)
    life.start()
    await until(lambda: life.failures >= 2, "two failed Ready attempts")
    assert not life.ready
    assert not life.allocated
    await life.shutdown()  # also fails, quietly
    assert life.failures >= 3


def test_the_public_address_is_read_from_the_gameserver_status() -> None:
    """status.address with the port named ``default`` (else the first); None until set."""
    assert public_url_of(gameserver("10.0.0.9", 7001)) == "ws://10.0.0.9:7001/ws"
    assert public_url_of(gameserver("2001:db8::5", 7001), "wss") == "wss://[2001:db8::5]:7001/ws"
    unnamed = {"status": {"address": "10.0.0.9", "ports": [{"name": "game", "port": 7002}]}}
    assert public_url_of(unnamed) == "ws://10.0.0.9:7002/ws"
    assert public_url_of(gameserver("", 7001)) is None  # not scheduled yet
    assert public_url_of({"status": {"address": "10.0.0.9", "ports": []}}) is None
    assert public_url_of({}) is None
    assert public_url_of([1, 2]) is None


async def test_a_clustered_agones_node_advertises_the_address_agones_published(
    monkeypatch: pytest.MonkeyPatch, redis_server: Any
) -> None:
    """No address yet at start (the node advertises its own); once the GameServer has
    one, the directory lists the node with it; an explicit --public-url would win."""
    fake = await FakeSidecar().start()
    fake.gameserver = gameserver("", 0)
    monkeypatch.setenv("AGONES_SDK_HTTP_PORT", str(fake.port))
    d = RedisDirectory(redis_server.url)
    try:
        async with running_server(agones=True, redis_url=redis_server.url) as server:
            assert server.agones is not None
            assert server.node is not None
            server.agones.health_interval_s = 0.1
            await until(lambda: "/ready" in fake.paths(), "Ready without an address")
            assert server.node.public_url == server.url
            fake.gameserver = gameserver("198.51.100.4", 7100)
            await until(lambda: server.agones.public_url is not None, "the address")
            assert server.node.public_url == "ws://198.51.100.4:7100/ws"
            assert await server.node.heartbeat_once()
            (live,) = await d.live_nodes()
            assert live.public_url == "ws://198.51.100.4:7100/ws"
        fake.gameserver = gameserver("198.51.100.4", 7100)
        async with running_server(
            agones=True, redis_url=redis_server.url, public_url="wss://front/n/a/ws"
        ) as server:
            assert server.agones is not None
            assert server.node is not None
            await until(lambda: server.agones.public_url is not None, "the address")
            assert server.node.public_url == "wss://front/n/a/ws"
    finally:
        await d.close()
        await fake.stop()

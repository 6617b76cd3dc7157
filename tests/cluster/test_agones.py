"""Agones mode against a small fake of the SDK sidecar's documented REST endpoints
(Kubernetes and the real sidecar cannot run here): Ready, Health, player counts as
labels, self-Allocate at the first player, Shutdown at the end of the drain."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest

from server.cluster.agones import AgonesLifecycle, AgonesSdk
from server.net.protocol import MessageType
from server.testing import TestClient, running_server

ENDPOINTS = {
    ("POST", "/ready"),
    ("POST", "/health"),
    ("POST", "/allocate"),
    ("POST", "/shutdown"),
    ("PUT", "/metadata/label"),
}


class FakeSidecar:
    """Answers the endpoints above with ``{}`` (404 for anything else) and records calls."""

    def __init__(self) -> None:
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
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\n{{}}".encode())
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
            assert fake.paths()[0] == "/ready"
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

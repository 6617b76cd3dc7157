"""Graceful drain of a real ``python -m server`` process on SIGTERM and SIGINT."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from server.net.protocol import CloseCode, MessageType
from server.testing import TestClient

SpawnServer = Callable[..., AbstractAsyncContextManager[Any]]


async def test_server_drains_and_exits_cleanly_when_sent_sigterm(
    spawn_server: SpawnServer, get: Any, closed: Any
) -> None:
    """SIGTERM: not ready but healthy, SHUTDOWN to everyone, close 4017 after grace, exit 0."""
    grace = 2.0
    async with (
        spawn_server("--drain-grace-s", str(grace)) as srv,
        TestClient.connect(srv.url) as a,
        TestClient.connect(srv.url) as b,
    ):
        await a.expect(MessageType.WELCOME)
        await b.expect(MessageType.WELCOME)
        assert (await get(srv.http_url + "/readyz"))[0] == 200

        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        notices = await asyncio.gather(
            a.expect(MessageType.SHUTDOWN, timeout=2), b.expect(MessageType.SHUTDOWN, timeout=2)
        )
        assert [n["grace_s"] for n in notices] == [grace, grace]

        # While the matches play on, the process is alive but takes no new traffic.
        status, body = await get(srv.http_url + "/readyz")
        assert (status, body.strip()) == (503, "draining")
        assert (await get(srv.http_url + "/healthz"))[0] == 200
        assert time.monotonic() - t0 < grace, "the drain window closed before we looked"

        codes = await asyncio.gather(closed(a, grace + 3), closed(b, grace + 3))
        closed_after = time.monotonic() - t0
        assert codes == [CloseCode.SERVER_SHUTDOWN, CloseCode.SERVER_SHUTDOWN]
        assert closed_after >= grace - 0.2, "clients were closed before the grace ran out"

        assert await srv.wait(grace + 3 - (time.monotonic() - t0)) == 0
    log = srv.log_text()
    assert "received SIGTERM: draining" in log
    assert '"stopped"' in log


async def test_server_drains_quickly_when_sent_sigint(
    spawn_server: SpawnServer, closed: Any
) -> None:
    """SIGINT drains like SIGTERM but with at most one second of grace."""
    async with (
        spawn_server("--drain-grace-s", "30") as srv,
        TestClient.connect(srv.url) as a,
        TestClient.connect(srv.url) as b,
    ):
        await a.expect(MessageType.WELCOME)
        await b.expect(MessageType.WELCOME)
        t0 = time.monotonic()
        srv.signal(signal.SIGINT)
        notices = await asyncio.gather(
            a.expect(MessageType.SHUTDOWN, timeout=2), b.expect(MessageType.SHUTDOWN, timeout=2)
        )
        assert [n["grace_s"] for n in notices] == [1.0, 1.0]
        codes = await asyncio.gather(closed(a, 4), closed(b, 4))
        assert codes == [CloseCode.SERVER_SHUTDOWN, CloseCode.SERVER_SHUTDOWN]
        assert await srv.wait(4) == 0
        assert time.monotonic() - t0 < 4


async def test_server_refuses_new_websocket_clients_when_draining(
    spawn_server: SpawnServer, closed: Any
) -> None:
    """A client that connects during the drain is refused with HTTP 503 at the upgrade."""
    async with spawn_server("--drain-grace-s", "2") as srv, TestClient.connect(srv.url) as a:
        await a.expect(MessageType.WELCOME)
        srv.signal(signal.SIGTERM)
        await a.expect(MessageType.SHUTDOWN, timeout=2)
        with pytest.raises(InvalidStatus) as refused:
            async with TestClient.connect(srv.url):
                pass
        assert refused.value.response.status_code == 503
        assert await closed(a, 5) == CloseCode.SERVER_SHUTDOWN
        assert await srv.wait(5) == 0

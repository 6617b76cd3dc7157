"""The delaying TCP relay: real latency on loopback, order kept, loss as retransmit stalls."""

from __future__ import annotations

import asyncio
import time

from client_sim.relay import DelayRelay, LinkProfile
from server.gamedef import GameDefinition
from server.net.messages import Ping
from server.net.protocol import MessageType
from server.testing import TestClient, running_server


async def _echo_server() -> asyncio.Server:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(echo, "127.0.0.1", 0)


async def test_relay_adds_its_delay_to_a_websocket_round_trip(
    small_arena: GameDefinition,
) -> None:
    """Through a 40 ms-each-way relay a real server's PONG comes back no sooner than 80 ms."""
    async with running_server(small_arena) as srv:
        relay = DelayRelay("127.0.0.1", srv.port, LinkProfile(delay_ms=40))
        await relay.start()
        try:
            async with TestClient.connect(f"ws://127.0.0.1:{relay.port}/ws") as c:
                await c.expect(MessageType.WELCOME)
                started = time.monotonic()
                await c.send(Ping(t=1.0))
                await c.expect(MessageType.PONG)
                assert time.monotonic() - started >= 0.080
        finally:
            await relay.stop()


async def test_relay_never_reorders_bytes_under_jitter() -> None:
    """With jitter larger than the gap between writes, bytes still arrive in order."""
    echo = await _echo_server()
    port = echo.sockets[0].getsockname()[1]
    relay = DelayRelay("127.0.0.1", port, LinkProfile(delay_ms=5, jitter_ms=5), seed=7)
    await relay.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        sent = b"".join(i.to_bytes(4, "big") for i in range(2000))
        for k in range(0, len(sent), 400):
            writer.write(sent[k : k + 400])
            await writer.drain()
            await asyncio.sleep(0.001)
        got = await asyncio.wait_for(reader.readexactly(len(sent)), 10)
        assert got == sent
        writer.close()
    finally:
        await relay.stop()
        echo.close()


async def test_relay_turns_loss_into_retransmission_stalls() -> None:
    """With loss 1.0 every chunk waits one RTO more: a 0 ms link answers after >= 2 RTOs."""
    echo = await _echo_server()
    port = echo.sockets[0].getsockname()[1]
    relay = DelayRelay("127.0.0.1", port, LinkProfile(loss=1.0, rto_ms=60))
    await relay.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        started = time.monotonic()
        writer.write(b"ping")
        await writer.drain()
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
        assert time.monotonic() - started >= 0.120
        assert relay.chunks_lost >= 2
        writer.close()
    finally:
        await relay.stop()
        echo.close()

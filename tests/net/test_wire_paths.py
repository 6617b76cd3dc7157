"""The rare paths of STATE, made observable as docs/protocol.md "Seeing every path" says:
far moves (`m`/`q`), 4-byte ids (`w` = 4) and the slow-reader skip, over real sockets."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect

from server.gamedef import load_definition
from server.net.messages import Hello
from server.net.protocol import PROTOCOL_VERSION, MessageType
from server.testing import TestClient, running_server

TESTING = Path(__file__).resolve().parents[2] / "data" / "games" / "testing"


async def test_far_moves_game_sends_m_and_q_that_rebuild_the_world() -> None:
    """Every NPC of far_moves.toml moves > 127 steps a tick: they come in m/q, not c/d."""
    defn = load_definition(TESTING / "far_moves.toml")
    async with running_server(defn) as srv, TestClient.connect(srv.url) as c:
        await c.expect(MessageType.WELCOME)
        full = await c.expect(MessageType.STATE)
        assert full["f"] is True
        frame = await c.expect(MessageType.STATE)
        far = np.frombuffer(frame["m"], "<u2")
        assert frame["w"] == 2
        assert len(far) > 1900  # nearly every NPC (a bounce can shorten one move)
        assert len(frame["q"]) == 4 * len(far)
        match = next(iter(srv.manager.matches.values()))
        world = match.sim.world
        if match.tick_count == frame["t"]:  # the mirror equals the world at that tick
            q = match.quantizer.packed(world)
            truth = dict(zip(world.netids.tolist(), q.tolist(), strict=True))
            got = {n: x | (y << 16) for n, (_, x, y) in c.mirror.entities.items()}
            assert got == truth


async def test_wide_ids_game_sends_four_byte_ids() -> None:
    """With 65,600 entities, net ids pass 65535 and frames carry w = 4 ids."""
    defn = load_definition(TESTING / "wide_ids.toml")
    async with running_server(defn) as srv, TestClient.connect(srv.url) as c:
        w = await c.expect(MessageType.WELCOME)
        assert w["entity"] > 65535
        frame = await c.expect(MessageType.STATE)
        assert frame["w"] == 4
        assert w["entity"] in np.frombuffer(frame["e"], "<u4").tolist()
        assert w["entity"] in c.mirror.entities


def dropped_snapshots(http_url: str) -> float:
    with urllib.request.urlopen(http_url + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("tickwire_snapshots_dropped_total "):
                return float(line.split()[1])
    return 0.0


async def test_slow_reader_skip_is_counted_with_small_socket_buffers() -> None:
    """A client that stops reading, with 4 KiB kernel buffers both ways: frames are skipped
    and tickwire_snapshots_dropped_total counts them, as documented."""
    defn = load_definition(TESTING / "far_moves.toml")
    async with running_server(defn, socket_send_buffer_bytes=4096) as srv:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", srv.port))
        async with connect(
            srv.url, sock=sock, max_queue=1, compression=None, close_timeout=0.2
        ) as ws:
            await TestClient(ws).send(Hello(version=PROTOCOL_VERSION))
            dropped = 0.0
            for _ in range(100):  # up to 10 s; on a 2-core VM it took ~0.4 s
                await asyncio.sleep(0.1)
                dropped = await asyncio.to_thread(dropped_snapshots, srv.http_url)
                if dropped > 0:
                    break
            assert dropped > 0

"""Faults in lockstep: a client that stops reading, a client that drops and resumes.

(A system failing in one match is covered by tests/match/test_matches.py.)
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import msgpack
import pytest

from client_sim.hostile import CASES, Context, HonestPool, Limits, MetricsProbe, run_case
from server.gamedef import GameDefinition
from server.gamedef.load import override_sync_mode
from server.net.messages import Hello
from server.net.protocol import MessageType
from server.testing import TestClient, running_server


def lockstep(defn: GameDefinition, max_send_queue_frames: int = 64) -> GameDefinition:
    d = override_sync_mode(defn, "lockstep")
    return replace(d, lockstep=replace(d.lockstep, max_send_queue_frames=max_send_queue_frames))


@pytest.mark.slow
async def test_lagging_lockstep_client_gets_too_far_behind_while_others_keep_frames(
    small_arena: GameDefinition,
) -> None:
    """A lockstep client that stops reading is closed 4009; honest players keep 20 frames/s."""
    defn = lockstep(small_arena, max_send_queue_frames=8)
    # A thin pipe: a small floor for the backlog, small kernel send buffers on accepted
    # sockets (inherited from the listener), and a rate limit the lagger's pings can use to
    # pile up pongs -- so the backlog passes the bound in about a second, not minutes.
    async with running_server(
        defn, send_buffer_limit_bytes=1024, rate_messages_per_s=1000.0, rate_burst_messages=2000.0
    ) as srv:
        assert srv._server is not None
        for sock in srv._server.sockets:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        pool = HonestPool(srv.url, 3)
        welcome = await pool.start()
        try:
            await asyncio.sleep(0.5)
            ctx = Context(pool, welcome, Limits(lag_deadline_s=15.0), MetricsProbe(srv.url))
            o = await run_case(CASES["never_reads_lockstep"], srv.url, ctx)
        finally:
            await pool.stop()
    assert o.passed, o.observed
    assert o.honest_errors == []
    assert o.honest_rate is not None
    assert o.honest_rate >= 19.0
    assert o.duration_s < 15


async def frames_until(client: TestClient, n: int) -> list[int]:
    """Frame numbers received until frame ``n`` (CHECKPOINTs are skipped)."""
    got: list[int] = []
    while not got or got[-1] < n:
        data = await asyncio.wait_for(client.ws.recv(), 5)
        assert isinstance(data, bytes)
        _, mtype, body = msgpack.unpackb(data, raw=False)
        if mtype == MessageType.LOCKSTEP_FRAME:
            got.append(body["n"])
    return got


async def test_dropped_lockstep_client_gets_missed_frames_in_order_when_resuming(
    small_arena: GameDefinition,
) -> None:
    """Resuming with last_frame within grace replays the missed frames in order, with no gap."""
    async with running_server(lockstep(small_arena)) as srv, TestClient.connect(srv.url) as other:
        await other.expect(MessageType.WELCOME)
        other_frames = await frames_until(other, 3)
        async with TestClient.connect(srv.url) as dropper:
            w = await dropper.expect(MessageType.WELCOME)
            seen = await frames_until(dropper, other_frames[-1] + 2)
        last = seen[-1]
        await asyncio.sleep(0.5)  # ~10 frames go by while it is away
        resume = Hello(version=1, resume=w["resume_token"], last_frame=last)
        async with TestClient.connect(srv.url, resume) as back:
            w2 = await back.expect(MessageType.WELCOME)
            assert w2["resumed"] is True
            assert w2["seat"] == w["seat"]
            replay = await frames_until(back, last + 30)
        assert replay[0] == last + 1
        assert replay == list(range(last + 1, last + 1 + len(replay)))
        other_frames += await frames_until(other, replay[-1])
        assert other_frames == list(range(other_frames[0], other_frames[-1] + 1))

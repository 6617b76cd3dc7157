"""A node dies under its players (two real nodes, real Redis): client_sim bots with
``rematchmake`` matchmake again through the surviving node and play on there; a resume
token of the dead node is closed ``NODE_GONE`` (4026) by the survivor."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from nodeproc import Node, http_json, start_nodes, wait_for
from websockets.exceptions import ConnectionClosed

from client_sim.joining import JoinPlan
from client_sim.swarm import Swarm, SwarmConfig
from server.net.messages import Hello
from server.net.protocol import PROTOCOL_VERSION, CloseCode, MessageType
from server.testing import TestClient

LIFT_RATE = {"TICKWIRE_MATCHMAKE_RATE_PER_S": "1000", "TICKWIRE_MATCHMAKE_BURST": "1000"}


async def test_bots_rematchmake_when_their_node_dies_and_its_tokens_close_node_gone(
    redis_server: Any, nodes: list[Node], tmp_path: Path
) -> None:
    base = await start_nodes(nodes, "g", redis_server.url, tmp_path, env=LIFT_RATE)
    a_ws, b_ws = (f"ws://127.0.0.1:{base + i}/ws" for i in range(2))

    async def b_listed() -> bool:
        rows = (await asyncio.to_thread(http_json, f"http://127.0.0.1:{base}/matches"))["matches"]
        return any(r["ws_url"] == b_ws for r in rows)

    await wait_for(b_listed, 10, "node b's match in a's listing")
    rows = (await asyncio.to_thread(http_json, f"http://127.0.0.1:{base}/matches"))["matches"]
    b_match = next(r["match_id"] for r in rows if r["ws_url"] == b_ws)

    # A player straight on b keeps its resume token.
    async with TestClient.connect(b_ws) as direct:
        token = (await direct.expect(MessageType.WELCOME))["resume_token"]
    # Bots matchmake through a into b's match, then b is killed under them.
    config = SwarmConfig(
        url=a_ws,
        bots=3,
        duration_s=12.0,
        ramp_up_s=0.3,
        warmup_s=0.0,
        rematchmake=True,
        join=JoinPlan(match_id=b_match, via_http=True),
    )
    swarm = Swarm(config)
    run = asyncio.create_task(swarm.run())
    try:
        await wait_for(_all(swarm, lambda b: b.live and b.ws_url == b_ws), 10, "bots on b")
        nodes[1].proc.send_signal(signal.SIGKILL)
        await wait_for(
            _all(swarm, lambda b: b.live and b.ws_url == a_ws and b.stats.rematchmakes == 1),
            10,
            "every bot re-matchmade onto a",
        )
        frames = [b.stats.frames for b in swarm.bots]
        await wait_for(
            _all(swarm, lambda b: b.stats.frames > frames[swarm.bots.index(b)] + 10),
            5,
            "frames from the new match",
        )
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await swarm._close_all()
    for bot in swarm.bots:
        assert bot.stats.matches == 2
        assert str(bot.welcome["match_id"]).startswith(_node_of_ws(rows, a_ws))

    # b's resume token presented to a: NODE_GONE, with the advice in the reason.
    hello = Hello(version=PROTOCOL_VERSION, resume=token)
    async with TestClient.connect(a_ws, hello=hello) as late:
        with pytest.raises(ConnectionClosed) as closed:
            await late.expect(MessageType.WELCOME)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CloseCode.NODE_GONE
    assert "matchmake again" in closed.value.rcvd.reason


def _all(swarm: Swarm, pred: Any) -> Any:
    async def check() -> bool:
        return all(pred(b) for b in swarm.bots)

    return check


def _node_of_ws(rows: list[dict[str, Any]], ws_url: str) -> str:
    return str(next(r["node"] for r in rows if r["ws_url"] == ws_url))

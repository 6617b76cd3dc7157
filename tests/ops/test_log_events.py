"""Structured logs of a real server: event names, per-connection and per-match context."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from server.net.protocol import MessageType
from server.ops.events import Event
from server.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent.parent
SpawnServer = Callable[..., AbstractAsyncContextManager[Any]]


async def test_json_log_names_events_and_carries_trace_ids_when_players_come_and_go(
    spawn_server: SpawnServer, closed: Any
) -> None:
    """Every line is JSON with a known event name; a player's lines share its trace ids."""
    async with spawn_server() as srv:
        async with TestClient.connect(srv.url) as good:
            welcome = await good.expect(MessageType.WELCOME)
            async with TestClient.connect(srv.url) as bad:
                await bad.expect(MessageType.WELCOME)
                await bad.ws.send(b"\xc1 not msgpack")
                assert await closed(bad, 5) == 4002
        srv.signal(signal.SIGTERM)
        assert await srv.wait(15) == 0
    lines = [json.loads(line) for line in srv.log_text().splitlines() if line.strip()]
    names = {str(e) for e in Event}
    ours = [r for r in lines if r["logger"].startswith("tickwire.")]
    assert ours, "the server logged nothing"
    assert all(r["event"] in names for r in ours), {r["event"] for r in ours} - names
    events = [r["event"] for r in ours]
    for expected in (
        "server.listening",
        "player.join",
        "conn.protocol_violation",
        "server.stopped",
    ):
        assert expected in events
    joins = [r for r in ours if r["event"] == "player.join"]
    mine = next(r for r in joins if r["player_id"] == welcome["player_id"])
    assert re.fullmatch(r"[0-9a-f]{16}", mine["trace_id"])
    assert mine["match_id"] == welcome["match_id"]
    assert re.fullmatch(r"[0-9a-f]{16}", mine["match_trace_id"])
    # The offender's violation carries its own connection's trace id, not the good one's.
    violation = next(r for r in ours if r["event"] == "conn.protocol_violation")
    offender_join = next(r for r in joins if r["conn_id"] == violation["conn_id"])
    assert violation["trace_id"] == offender_join["trace_id"] != mine["trace_id"]
    assert violation["match_trace_id"] == mine["match_trace_id"]
    # The drop of the good player (its socket closed at the end of the block) is audited.
    drops = [r for r in ours if r["event"] == "player.drop"]
    assert any(r["trace_id"] == mine["trace_id"] for r in drops)

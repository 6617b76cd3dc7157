"""Matches, the manager and the runner: lifecycle, isolation of failures, reconnects."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from websockets.exceptions import ConnectionClosed

from server.errors import MatchFull
from server.gamedef import GameDefinition, SystemStep
from server.hosting.manager import MatchManager
from server.match.handler import LeaveReason
from server.match.match import Match, MatchState
from server.net.messages import Hello
from server.net.protocol import CloseCode, MessageType
from server.testing import TestClient, running_server


def test_manager_join_or_create_fills_then_creates(small_arena: GameDefinition) -> None:
    """Players fill the fullest open match; a new match starts only when all are full."""
    mgr = MatchManager(replace(small_arena, max_players=2), max_matches=2)
    m1 = mgr.join_or_create()
    m1.join(1, object())
    assert mgr.join_or_create() is m1
    m1.join(2, object())
    m2 = mgr.join_or_create()
    assert m2 is not m1
    m2.join(3, object())
    m2.join(4, object())
    with pytest.raises(MatchFull):
        mgr.join_or_create()
    labels = mgr.list_matches()
    assert [(x["players"], x["capacity"], x["mode"]) for x in labels] == [
        (2, 2, "state"),
        (2, 2, "state"),
    ]


def test_manager_retires_empty_matches_after_grace(small_arena: GameDefinition) -> None:
    """An empty match older than the grace is retired; the last live one is kept."""
    now = [100.0]
    mgr = MatchManager(small_arena, timer=lambda: now[0])
    a, b = mgr.create(), mgr.create()
    seat = b.join(1, object())
    b.leave(seat, LeaveReason.CONSENTED)
    assert mgr.retire_empty(105.0, grace_s=30) == []
    assert mgr.retire_empty(131.0, grace_s=30) == [b]
    assert a.empty_since_s is None  # never had a player: not retired by age of emptiness


def test_match_drop_keeps_the_seat_within_grace(small_arena: GameDefinition) -> None:
    """A dropped player keeps the seat until the grace passes, then it is freed."""
    match = Match(small_arena, "m1")
    seat = match.join(7, object())
    match.tick()
    match.drop(seat, now_s=10.0)
    assert match.expire_dropped(20.0, grace_s=15.0) == []
    assert match.players == 1
    assert match.expire_dropped(26.0, grace_s=15.0) == [seat]
    assert match.players == 0


async def test_runner_isolates_a_failing_match(small_arena: GameDefinition) -> None:
    """A system raising in one match ends it with MATCH_FAILED; another match keeps ticking."""
    healthy = replace(small_arena, max_players=1)
    faulty = replace(
        small_arena,
        pipeline=(*small_arena.pipeline, SystemStep("update", "fail_at_tick", (("tick", 20),))),
    )
    async with (
        running_server(healthy, max_matches=4) as srv,
        TestClient.connect(srv.url) as b,  # fills the healthy match (capacity 1)
    ):
        await b.expect(MessageType.WELCOME)
        good = srv.manager.find(b.welcome["match_id"])
        bad = srv.manager.create(faulty)
        async with TestClient.connect(srv.url) as a:  # the only open match: the faulty one
            await a.expect(MessageType.WELCOME)
            assert a.welcome["match_id"] == bad.match_id
            with pytest.raises(ConnectionClosed) as info:
                await a.expect(MessageType.SHUTDOWN, timeout=5)
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == CloseCode.MATCH_FAILED
        assert bad.state is MatchState.ENDED
        failures = srv.metrics.registry.get_sample_value(
            "tickwire_match_failures_total", {"kind": srv.kind}
        )
        assert failures == 1
        assert good is not None
        assert good.state is MatchState.RUNNING
        tick_then = good.tick_count
        frame = await b.expect(MessageType.STATE)
        while frame["t"] <= tick_then + 5:  # frames queued earlier, then fresh ones
            frame = await b.expect(MessageType.STATE, timeout=3)
        assert good.tick_count > tick_then


async def test_reconnect_within_grace_restores_the_seat(small_arena: GameDefinition) -> None:
    """A resume token within grace gives back the same seat and a full snapshot."""
    async with running_server(small_arena) as srv:
        async with TestClient.connect(srv.url) as a:
            w = await a.expect(MessageType.WELCOME)
            await a.expect(MessageType.STATE)
        await asyncio.sleep(0.1)
        async with TestClient.connect(srv.url, Hello(version=1, resume=w["resume_token"])) as b:
            w2 = await b.expect(MessageType.WELCOME)
            assert w2["resumed"] is True
            assert w2["player_id"] == w["player_id"]
            assert w2["seat"] == w["seat"]
            frame = await b.expect(MessageType.STATE)
            assert frame["f"] is True


@pytest.mark.parametrize("case", ["forged", "reused", "expired"])
async def test_reconnect_refuses_bad_tokens_with_their_codes(
    small_arena: GameDefinition, case: str
) -> None:
    """Forged, reused and expired tokens each close with their own code."""
    async with running_server(small_arena, reconnect_grace_s=0.3) as srv:
        async with TestClient.connect(srv.url) as a:
            w = await a.expect(MessageType.WELCOME)
        token = w["resume_token"]
        expected = {
            "forged": CloseCode.RESUME_FORGED,
            "reused": CloseCode.RESUME_REUSED,
            "expired": CloseCode.RESUME_EXPIRED,
        }[case]
        if case == "forged":
            token = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        elif case == "reused":
            async with TestClient.connect(srv.url, Hello(version=1, resume=token)) as b:
                await b.expect(MessageType.WELCOME)
        else:
            await asyncio.sleep(1.6)  # grace 0.3 s; expiry is checked once a second
        async with TestClient.connect(srv.url, Hello(version=1, resume=token)) as c:
            with pytest.raises(ConnectionClosed) as info:
                await c.expect(MessageType.WELCOME)
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == expected

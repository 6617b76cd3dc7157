"""Issue-13 state sync, called directly: replicated fields, events, inputs, results."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from server.errors import MalformedMessage, SystemFailed
from server.match.match import Match, TickOutput
from server.net.codec import decode_client_message, decode_server_message, encode
from server.net.inputs import FieldInput
from server.net.protocol import MessageType
from server.testing import StateMirror
from tests.match.gamekit import events_of, fields_of, game

FIELDS = ["health.hp:uint8", "score.points:uint16", "ammo.n:uint8"]
EVENTS = ["ping", "hit", "mine"]


def frames_by_conn(out: TickOutput) -> dict[str, dict[str, Any]]:
    """Each conn's decoded STATE body of one tick."""
    result = {}
    for conn, payload in out.frames:
        kind, body = decode_server_message(payload)
        assert kind is MessageType.STATE
        result[conn] = body
    return result


def two_players() -> tuple[Match, Any, Any]:
    """A match of the test game with players "a" and "b" next to each other."""
    match = Match(game(), "m1")
    a = match.join(1, "a")
    b = match.join(2, "b")
    match.tick()
    world = match.sim.world
    for seat in (a, b):
        slot = world.slot_of(seat.entity)
        world.col("position.x")[slot] = 500 * 256
        world.col("position.y")[slot] = 500 * 256
    return match, a, b


def test_state_sends_replicated_fields_when_entered_then_only_when_changed() -> None:
    """Fields come on enter; unchanged ticks carry no r; owner fields go to the owner."""
    match, a, b = two_players()
    match.request_full(a)
    match.request_full(b)
    bodies = frames_by_conn(match.tick())
    na, nb = (match.sim.netid_of(s.entity) for s in (a, b))
    fa = fields_of(bodies["a"], FIELDS)
    assert fa["health.hp"][na] == fa["health.hp"][nb] == 100 - (match.tick_count // 4) % 50
    assert fa["score.points"] == {na: 0, nb: 0}
    assert fa["ammo.n"] == {na: 0}  # b's ammo is b's own business
    assert fields_of(bodies["b"], FIELDS)["ammo.n"] == {nb: 0}
    npcs = set(fa["health.hp"]) - {na, nb}
    assert not npcs  # entities without the component are not sent the field
    while (match.tick_count + 1) % 4:  # hp changes every fourth tick only
        assert "r" not in frames_by_conn(match.tick())["a"]
    match.receive_fields(a, match.tick_count + 1, (0, 0, 1, 0))  # fire
    bodies = frames_by_conn(match.tick())
    fa = fields_of(bodies["a"], FIELDS)
    assert fa["score.points"] == {na: 1}
    assert fa["ammo.n"] == {na: 1}
    assert set(fa["health.hp"]) == {na, nb}
    assert "ammo.n" not in fields_of(bodies["b"], FIELDS)


def test_state_delivers_events_once_in_order_when_frames_are_skipped() -> None:
    """A slow reader gets every tick's events in its next frame, in emission order."""
    match, a, b = two_players()
    frames_by_conn(match.tick())
    t1 = match.tick_count + 1
    slow = frames_by_conn(match.tick(lambda c: c != "b"))
    assert "b" not in slow
    ev_a = events_of(slow["a"], EVENTS)
    assert ev_a[0] == ("ping", [[t1]])
    na, nb = (match.sim.netid_of(s.entity) for s in (a, b))
    assert ("hit", [[na, nb], [t1 % 200] * 2]) in ev_a  # both players are in a's view
    assert ("mine", [[na], [3]]) in ev_a  # only a's own
    later = events_of(frames_by_conn(match.tick())["b"], EVENTS)
    assert [e for e in later if e[0] == "ping"] == [("ping", [[t1]]), ("ping", [[t1 + 1]])]
    assert [e[1][0] for e in later if e[0] == "mine"] == [[nb], [nb]]
    again = events_of(frames_by_conn(match.tick())["b"], EVENTS)
    assert [e for e in again if e[0] == "ping"] == [("ping", [[t1 + 2]])]


def test_state_replays_missed_events_when_a_dropped_seat_resumes_or_flags_loss() -> None:
    """Events emitted while dropped come in the full frame; beyond the backlog, o is set."""
    match, a, _ = two_players()
    match.drop(a, 0.0)
    first = match.tick_count + 1
    for _ in range(3):
        match.tick()
    match.resume(a, "a2")
    body = frames_by_conn(match.tick())["a2"]
    assert body["f"] is True
    pings = [e[1][0][0] for e in events_of(body, EVENTS) if e[0] == "ping"]
    assert pings == [first, first + 1, first + 2, first + 3]
    assert "o" not in body
    match.drop(a, 0.0)
    for _ in range(match.definition.sync.event_backlog + 5):
        match.tick()
    match.resume(a, "a3")
    body = frames_by_conn(match.tick())["a3"]
    assert body["o"] is True
    assert sum(e[1] and len(e[1][0]) for e in events_of(body, EVENTS)) <= 256


def test_match_builds_a_result_when_a_system_ends_the_match() -> None:
    """ctx.end("match") gives TickOutput.match_result with scores and result fields."""
    match = Match(game(end_tick=6), "m1")
    a = match.join(1, "a")
    match.join(2, "b")
    out = match.tick()
    while out.match_result is None:
        match.receive_fields(a, match.tick_count + 1, (0, 0, 1, 0))
        out = match.tick()
    assert out.tick == 6
    assert out.frames  # the ending tick's frame (and events) still go out
    body = out.match_result.to_wire()
    assert body["reason"] == "score_limit"
    assert body["winner_player"] == 1
    assert body["winner"] == match.sim.netid_of(a.entity)
    scores = {p["player_id"]: p["score"] for p in body["players"]}
    assert scores[1] > 0
    assert scores[2] == 0
    assert set(body["players"][0]["fields"]) == {"health.hp"}
    seen: list[Any] = []
    match.handler.terminate = lambda m, reason, result=None: seen.append(result)  # type: ignore[method-assign]
    match.end("done")
    assert seen == [out.match_result]


def test_match_fails_naming_the_plugin_system_when_it_raises() -> None:
    """A raising system surfaces as SystemFailed naming it (the runner ends that match)."""
    match = Match(game(raise_tick=3), "m1")
    match.join(1, "a")
    match.tick()
    match.tick()
    with pytest.raises(SystemFailed) as info:
        match.tick()
    assert info.value.system == "t13_rules"


def test_codec_refuses_declared_inputs_when_out_of_their_declaration() -> None:
    """Unknown/missing fields, NaN, out of range, undeclared bits: MALFORMED; valid decodes."""
    match = Match(game(), "m1")
    dec = match.input_decoder
    assert dec is not None
    good = {"tick": 3, "x": 0.5, "y": -1, "buttons": 3, "aim": np.pi / 2}
    msg = decode_client_message(encode(MessageType.INPUT, good), dec)
    assert msg == FieldInput(3, (64, -127, 3, 16384))
    bad: list[dict[str, Any]] = [
        {**good, "buttons": 4},
        {**good, "x": float("nan")},
        {**good, "aim": float("inf")},
        {**good, "aim": 7.0},
        {**good, "y": 1.5},
        {**good, "buttons": True},
        {**good, "fire": 1},
        {k: v for k, v in good.items() if k != "aim"},
    ]
    for body in bad:
        with pytest.raises(MalformedMessage):
            decode_client_message(encode(MessageType.INPUT, body), dec)


def test_lockstep_frames_carry_declared_inputs_and_replicas_agree() -> None:
    """Changed seats' declared fields ride in the frame; a replica reaches the same checksum."""
    from server.core.simulation import LockstepReplica, Simulation

    defn = game(mode="lockstep")
    match = Match(defn, "m1")
    a = match.join(1, "a")
    replica = LockstepReplica(Simulation(defn))
    replica.sim.spawn_initial()
    replica.sim.apply_commands()
    for i in range(12):
        if i in (2, 7):
            match.receive_fields(a, match.collector.next_frame, (10 * i, -5, 1, 1000 * i))
        out = match.tick()
        assert out.broadcast is not None
        kind, body = decode_server_message(out.broadcast[1])
        assert kind is MessageType.LOCKSTEP_FRAME
        assert set(body) == {"n", "j", "l", "s", "x", "y", "buttons", "aim"}
        if i == 2:
            assert np.frombuffer(body["aim"], "<u2").tolist() == [2000]
        replica.apply_body(body)
        assert "v" not in body
    assert replica.sim.checksum() == match.sim.checksum()
    slot = match.sim.world.slot_of(a.entity)
    assert match.sim.world.col("input.buttons")[slot] == 1


def test_state_reports_entities_spawned_and_despawned_in_play_as_entered_and_left() -> None:
    """A shot spawned by a system enters the mirror; when it is despawned it leaves."""
    match, a, _ = two_players()
    match.request_full(a)
    shot_kind = [x.name for x in match.definition.archetypes].index("shot")
    mirror = StateMirror()
    seen: set[int] = set()
    gone: set[int] = set()
    for _ in range(12):
        body = frames_by_conn(match.tick())["a"]
        before = {n for n, e in mirror.entities.items() if e[0] == shot_kind}
        mirror.apply(body)
        now = {n for n, e in mirror.entities.items() if e[0] == shot_kind}
        seen |= now
        gone |= before - now
    assert len(seen) >= 2
    assert gone
    alive = {int(n) for n in match.sim.world.netids}
    assert now <= alive
    assert not gone & alive

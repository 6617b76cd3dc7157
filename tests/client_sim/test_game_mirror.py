"""Game schemas, replicated fields, events and game behaviours on hand-made frames."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from client_sim.behaviours import Crowd, load_behaviour
from client_sim.bot import Bot
from client_sim.mirror import NetMirror
from client_sim.schema import SchemaError, parse_schema
from client_sim.swarm import Swarm, SwarmConfig
from client_sim.view import BotsView

WELCOME: dict[str, Any] = {
    "entity": 1,
    "game": "tag",
    "kinds": ["player", "bullet"],
    "quantize": {"position.x": 0.5, "position.y": 0.5},
    "world": [100.0, 100.0],
    "tick_rate_hz": 30,
    "input": [
        {"name": "x", "type": "stick"},
        {"name": "y", "type": "stick"},
        {"name": "aim", "type": "angle"},
        {"name": "buttons", "type": "buttons", "bits": ["fire", "dash"]},
        {"name": "target_x", "type": "int", "min": 0, "max": 400},
        {"name": "target_y", "type": "int", "min": 0, "max": 400},
    ],
    "fields": [
        {"name": "health.hp", "wire": "uint8", "step": None, "to": "all"},
        {"name": "tag.it", "wire": "bool", "step": None, "to": "all"},
        {"name": "aim.angle", "wire": "uint8", "step": 2.0, "to": "owner"},
    ],
    "events": [
        {"name": "hit", "audience": "interest", "fields": [["target", "entity"], ["d", "uint8"]]},
        {"name": "died", "audience": "all", "fields": [["who", "entity"]]},
    ],
    "render": {"bar": {"field": "health.hp", "max": 100}},
    "bot": "chase_tag",
    "rules": {"score": "score.points", "result_fields": []},
}


def frame(t: int, *, full: bool = False, **keys: Any) -> dict[str, Any]:
    """A STATE body: binary columns given as arrays, ``r``/``v``/``o`` as they are."""
    body: dict[str, Any] = {"t": t, "f": full, "w": 2}
    for key in "ekpcdmql":
        arr = keys.pop(key, None)
        body[key] = b"" if arr is None else arr.tobytes()
    body.update(keys)
    return body


def u2(*ids: int) -> np.ndarray:
    return np.array(ids, "<u2")


def packed(*xy: tuple[int, int]) -> np.ndarray:
    return np.array([x | y << 16 for x, y in xy], "<u4")


def test_schema_reads_inputs_fields_events_and_defaults_to_the_arena() -> None:
    """A welcome's lists become dtypes; an old welcome reads as the arena's two sticks."""
    schema = parse_schema(WELCOME)
    assert [f.kind for f in schema.inputs] == ["stick", "stick", "angle", "buttons", "int", "int"]
    assert schema.input("buttons") is not None
    assert schema.inputs[3].bit("dash") == 2
    assert schema.inputs[4].hi == 400
    assert not schema.arena_inputs
    assert schema.field("aim.angle") is not None
    assert schema.events[0].fields[0][1] == np.dtype("<u4")
    assert schema.bot == "chase_tag"
    arena = parse_schema({})
    assert arena.arena_inputs
    assert arena.fields == ()
    with pytest.raises(SchemaError, match=r"fields\[0\].wire"):
        parse_schema({"fields": [{"name": "a.b", "wire": "int64"}]})


def test_mirror_keeps_fields_on_enter_and_change_and_forgets_them_on_leave() -> None:
    """Values are raw times step, updated by later rows, and gone with the entity."""
    m = NetMirror(capacity=2, strict=True)
    m.set_schema(parse_schema(WELCOME))
    m.apply(
        frame(
            1,
            full=True,
            e=u2(1, 5),
            k=np.array([0, 0], "u1"),
            p=packed((10, 10), (20, 20)),
            r=[
                [0, u2(1, 5).tobytes(), np.array([100, 90], "u1").tobytes()],
                [1, u2(1, 5).tobytes(), np.array([0, 1], "u1").tobytes()],
                [2, u2(1).tobytes(), np.array([7], "u1").tobytes()],
            ],
        )
    )
    assert m.value(1, "health.hp") == 100.0
    assert m.value(5, "tag.it") == 1.0
    assert m.value(1, "aim.angle") == 14.0
    assert m.value(5, "aim.angle") is None  # owner-only: never sent for 5
    m.apply(frame(2, r=[[0, u2(5).tobytes(), np.array([60], "u1").tobytes()]]))
    assert m.value(5, "health.hp") == 60.0
    assert m.value(1, "health.hp") == 100.0  # unchanged: no row, value kept
    ids, values = m.field_values("health.hp")
    assert ids.tolist() == [1, 5]
    assert values.tolist() == [100.0, 60.0]
    m.apply(frame(3, l=u2(5)))
    assert m.value(5, "health.hp") is None
    with pytest.raises(KeyError):  # a row for an entity the mirror does not hold
        m.apply(frame(4, r=[[0, u2(5).tobytes(), np.array([1], "u1").tobytes()]]))


def test_mirror_counts_events_by_name_and_notices_dropped_ones() -> None:
    """Event batches decode column by column in order; ``o`` is counted as a loss."""
    m = NetMirror()
    m.set_schema(parse_schema(WELCOME))
    hits = [u2(1, 2).astype("<u4").tobytes(), np.array([10, 25], "u1").tobytes()]
    m.apply(frame(1, full=True, v=[[0, 2, hits], [1, 1, [np.array([2], "<u4").tobytes()]]]))
    assert m.event_counts == {"hit": 2, "died": 1}
    name, cols = m.events[0]
    assert name == "hit"
    assert cols["d"].tolist() == [10, 25]
    m.apply(frame(2, o=True))
    assert m.events == []
    assert m.events_lost == 1
    with pytest.raises(KeyError, match="columns"):
        m.apply(frame(3, v=[[1, 3, [np.array([2], "<u4").tobytes()]]]))


def test_arena_frames_need_no_schema() -> None:
    """A frame without ``r``/``v`` applies with no schema, as before."""
    m = NetMirror()
    m.apply(frame(1, full=True, e=u2(3), k=np.array([0], "u1"), p=packed((1, 2))))
    assert m.position_steps(3) == (1, 2)
    assert m.value(3, "health.hp") is None


def seeded_bots(n: int, it: list[int]) -> list[Bot]:
    """``n`` bots that all hold the same three players (ids 1..3, ``tag.it`` from ``it``)."""
    bots = []
    for i in range(n):
        bot = Bot(i, "ws://unused", [0.0, 0.0])
        bot._on_welcome({**WELCOME, "entity": 1 + i, "sync": "state", "snapshot_rate_hz": 30})
        bot.mirror.apply(
            frame(
                1,
                full=True,
                e=u2(1, 2, 3),
                k=np.array([0, 0, 0], "u1"),
                p=packed((100, 100), (120, 100), (100, 60)),
                r=[[1, u2(1, 2, 3).tobytes(), np.array(it, "u1").tobytes()]],
            )
        )
        bots.append(bot)
    return bots


def crowd_for(bots: list[Bot]) -> Crowd:
    crowd = Crowd(len(bots), 30.0, np.random.default_rng(3), lambda w: np.full((len(w), 2), 0.0))
    crowd.view = BotsView(bots)
    assert bots[0].schema is not None
    crowd.adopt(bots[0].schema, (100.0, 100.0))
    return crowd


def test_chase_tag_chases_when_it_and_flees_the_it_otherwise() -> None:
    """Bot 0 (it) heads for the nearest non-it (id 2, +x); bot 2 flees it (toward +y)."""
    bots = seeded_bots(3, [1, 0, 0])
    crowd = crowd_for(bots)
    behaviour = load_behaviour("chase_tag")
    for tick in range(6):
        crowd.tick = tick
        behaviour(crowd)
    assert crowd.stick[0, 0] > 0.9  # toward (120, 100) from (100, 100)
    assert crowd.stick[2, 1] < -0.9  # from (100, 60), away from the it at (100, 100)
    assert (crowd.sends == 1).all()


def test_shooter_aim_aims_and_fires_at_the_nearest_enemy() -> None:
    """Aim is the angle to the nearest other player; fire is held while it is in range."""
    bots = seeded_bots(2, [0, 0, 0])
    crowd = crowd_for(bots)
    behaviour = load_behaviour("shooter_aim")
    for tick in range(4):
        crowd.tick = tick
        behaviour(crowd)
    assert crowd.inputs["aim"][0] == pytest.approx(0.0)  # bot 0 at (50,50) -> (60,50)
    assert crowd.inputs["aim"][1] == pytest.approx(math.pi)  # bot 1 -> bot 0
    assert crowd.inputs["buttons"].tolist() == [1, 1]


def test_swarm_builds_declared_input_bodies_within_range() -> None:
    """Every declared field is in the body, clamped: no bot can send a malformed input."""
    swarm = Swarm(SwarmConfig("ws://unused", 2, behaviour="idle"))
    bot = swarm.bots[0]
    bot._on_welcome({**WELCOME, "sync": "state", "snapshot_rate_hz": 30})
    swarm._adopt(bot)
    crowd = swarm.crowd
    crowd.stick[:] = [[2.0, -0.5], [0.25, 0.0]]
    crowd.inputs["aim"][:] = [7.0, -1.0]
    crowd.inputs["buttons"][:] = [1 | 2 | 8, 0]
    crowd.inputs["target_x"][:] = [900, -3]
    bodies = swarm._input_bodies()
    assert list(bodies[0]) == ["tick", "x", "y", "aim", "buttons", "target_x", "target_y"]
    assert bodies[0]["x"] == 1.0
    assert bodies[0]["aim"] == pytest.approx(7.0 - 2 * math.pi, abs=1e-3)
    assert bodies[0]["buttons"] == 3
    assert bodies[0]["target_x"] == 400
    assert bodies[1]["target_x"] == 0
    assert swarm.behaviour is not None
    assert swarm.behaviour.name == "idle"


def test_swarm_plays_the_welcome_bot_when_none_is_asked() -> None:
    """With no behaviour configured, the first welcome's ``bot`` is loaded."""
    swarm = Swarm(SwarmConfig("ws://unused", 1, behaviour=None))
    bot = swarm.bots[0]
    bot._on_welcome({**WELCOME, "sync": "state", "snapshot_rate_hz": 30})
    swarm._adopt(bot)
    assert swarm.behaviour is not None
    assert swarm.behaviour.system == "chase_tag"


def test_rts_zone_orders_every_bot_near_the_zone_and_resends_now_and_then() -> None:
    """Targets land within ``spread`` of the zone; each bot sends once per resend period."""
    crowd = Crowd(20, 20.0, np.random.default_rng(5), lambda w: np.full((len(w), 2), 0.0))
    crowd.adopt(parse_schema(WELCOME), (400.0, 400.0))
    behaviour = load_behaviour("rts_zone")
    sent = np.zeros(20, np.int64)
    for tick in range(30):
        crowd.tick = tick
        behaviour(crowd)
        sent += crowd.sends
    assert (sent == 1).all()
    dist = np.hypot(crowd.inputs["target_x"] - 200.0, crowd.inputs["target_y"] - 200.0)
    assert (dist <= behaviour.params["spread"] + 1).all()  # no zones step: the world's centre

"""Hitscan lag compensation in a match (no sockets): a rewound ray hits what the shooter
saw, an unrewound one misses the target that has moved on; views are bounded."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from server.errors import DefinitionError
from server.gamedef import GameDefinition
from server.gamedef.load import load_definition, parse_definition
from server.match.match import Match, Seat

GAMES = Path(__file__).resolve().parents[2] / "data" / "games"
FIRE_REWIND = 1 << 1
FIRE_NOW = 1 << 2
SCALE = 256


@pytest.fixture(scope="module")
def lagcomp() -> GameDefinition:
    return load_definition(GAMES / "testing" / "lagcomp.toml")


def place(match: Match, seat: Seat, x: float, y: float) -> None:
    world = match.sim.world
    assert seat.entity is not None
    slot = world.slot_of(seat.entity)
    world.col("position.x")[slot] = round(x * SCALE)
    world.col("position.y")[slot] = round(y * SCALE)


def aim_at(frm: tuple[float, float], to: tuple[float, float]) -> int:
    """The uint16 binary angle from ``frm`` to ``to`` (as the codec stores radians)."""
    a = math.atan2(to[1] - frm[1], to[0] - frm[0])
    return math.floor(a / (2 * math.pi) * 65536 + 0.5) % 65536


def shoot(
    match: Match, shooter: Seat, seq: int, aim: int, bit: int, view: int, alpha: float
) -> list[int]:
    """Fire once (the input applied at the next tick), then let go of the button and
    wait out the cooldown; the net ids the shot hit."""
    match.receive_fields(shooter, match.tick_count + 1, (0, 0, aim, bit), seq, view, alpha)
    out = match.tick()
    assert out.result is not None
    assert shooter.entity is not None
    me = match.sim.netid_of(shooter.entity)
    hits = [
        int(t)
        for name, ev in out.result.events
        if name == "hit"
        for t, b in zip(ev["target"], ev["by"], strict=True)
        if b == me
    ]
    match.receive_fields(shooter, match.tick_count + 1, (0, 0, aim, 0), seq + 1, view, alpha)
    for _ in range(4):  # cooldown 0.1 s = 3 ticks
        match.tick()
    return hits


def position(match: Match, seat: Seat) -> tuple[float, float]:
    world = match.sim.world
    assert seat.entity is not None
    slot = world.slot_of(seat.entity)
    return int(world.col("position.x")[slot]) / SCALE, int(world.col("position.y")[slot]) / SCALE


def scene(defn: GameDefinition) -> tuple[Match, Seat, Seat, dict[int, tuple[float, float]]]:
    """A at (50, 150) still; B from (100, 30) moving down at 2 units a tick."""
    match = Match(defn, "m1")
    a = match.join(1, object())
    b = match.join(2, object())
    for _ in range(3):
        match.tick()
    place(match, a, 50.0, 150.0)
    place(match, b, 100.0, 30.0)
    seen: dict[int, tuple[float, float]] = {}
    world = match.sim.world
    for i in range(20):  # a numbered input moves one tick: one per tick, as a client does
        match.receive_fields(b, match.tick_count + 1, (0, 127, 0, 0), seq=1 + i)
        match.tick()
        assert b.entity is not None
        slot = world.slot_of(b.entity)
        seen[match.tick_count] = (
            int(world.col("position.x")[slot]) / SCALE,
            int(world.col("position.y")[slot]) / SCALE,
        )
    return match, a, b, seen


def test_a_rewound_ray_hits_where_the_target_was_seen_and_an_unrewound_one_misses(
    lagcomp: GameDefinition,
) -> None:
    match, a, b, seen = scene(lagcomp)
    assert b.entity is not None
    target = match.sim.netid_of(b.entity)
    t0 = match.tick_count - 10  # 20 units ago: far more than the 2-unit radius
    aim = aim_at((50.0, 150.0), seen[t0])
    assert shoot(match, a, 1, aim, FIRE_REWIND, t0, 0.0) == [target]
    assert shoot(match, a, 3, aim, FIRE_NOW, t0, 0.0) == []  # where it was: gone
    aim = aim_at((50.0, 150.0), position(match, b))  # where it is (it moves on in update)
    assert shoot(match, a, 5, aim, FIRE_NOW, match.tick_count, 0.0) == [target]
    # B stopped with its last input (the scene's end, 15 ticks ago): 25 back it still moved.
    assert shoot(match, a, 7, aim, FIRE_REWIND, match.tick_count - 25, 0.0) == []


def test_a_view_past_the_limit_is_clamped_never_rewound_further(lagcomp: GameDefinition) -> None:
    match = Match(lagcomp, "m1")
    a = match.join(1, object())
    for _ in range(40):
        match.tick()
    refusals = match.receive_fields(a, match.tick_count + 1, (0, 0, 0, FIRE_REWIND), 1, 0, 0.0)
    assert [int(r.code) for r in refusals] == [6]
    out = match.tick()
    assert out.result is not None
    assert out.result.stats.get("rewinds", 0) == 1
    assert match.sim.processor.history is not None
    assert match.sim.processor.history.oldest(match.tick_count) >= match.tick_count - 30


def test_rewind_weapons_need_a_lag_compensation_section() -> None:
    import tomllib

    data = tomllib.loads((GAMES / "testing" / "lagcomp.toml").read_text())
    del data["lag_compensation"]
    with pytest.raises(DefinitionError) as info:
        parse_definition(data, "lagcomp.toml")
    assert "lag_compensation" in str(info.value)
    assert "rewind" in str(info.value)
    data = tomllib.loads((GAMES / "shooter.toml").read_text())
    data["lag_compensation"] = {"ms": 0}
    with pytest.raises(DefinitionError, match=r"lag_compensation\.ms"):
        parse_definition(data, "shooter.toml")
    data["lag_compensation"] = {"hitbox": "health.alive"}
    with pytest.raises(DefinitionError, match=r"lag_compensation\.hitbox"):
        parse_definition(data, "shooter.toml")
    data["lag_compensation"] = {"archetypes": ["ghost"]}
    with pytest.raises(DefinitionError, match=r"lag_compensation\.archetypes\[0\]"):
        parse_definition(data, "shooter.toml")
    data["lag_compensation"] = {}
    data["pipeline"] = [
        {**s, "params": {**s.get("params", {}), "lag_compensation": "sometimes"}}
        if s["system"] == "hitscan"
        else s
        for s in data["pipeline"]
    ]
    with pytest.raises(DefinitionError, match="one of"):
        parse_definition(data, "shooter.toml")

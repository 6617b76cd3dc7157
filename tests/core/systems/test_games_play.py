"""The three shipped games, played in-process to their ending with scripted inputs.

Rounds and limits are shortened by overriding pipeline params; inputs are written into
the ``input`` columns before each step, as the frame processor would.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from server.core.simulation import Simulation
from server.core.systems.registry import Ending
from server.gamedef import GameDefinition, load_definition

GAMES = Path(__file__).resolve().parents[3] / "data" / "games"


def with_params(defn: GameDefinition, system: str, **params: Any) -> GameDefinition:
    """``defn`` with ``params`` overriding those of every ``system`` step."""
    steps = tuple(
        replace(s, params=tuple({**dict(s.params), **params}.items())) if s.system == system else s
        for s in defn.pipeline
    )
    return replace(defn, pipeline=steps)


def players(sim: Simulation) -> np.ndarray[Any, Any]:
    kind = sim.definition.archetype(sim.definition.player_archetype).kind_id
    return np.flatnonzero(sim.world.col("kind") == kind)


def nearest_other(sim: Simulation, slots: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """For each player slot, the slot of the nearest other player."""
    x = sim.world.col("position.x")[slots].astype(np.float64)
    y = sim.world.col("position.y")[slots].astype(np.float64)
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    np.fill_diagonal(d, np.inf)
    result: np.ndarray[Any, Any] = slots[np.argmin(d, axis=1)]
    return result


def stick_toward(
    sim: Simulation, slots: np.ndarray[Any, Any], targets: np.ndarray[Any, Any]
) -> None:
    """Full stick from each player slot toward its target slot."""
    w = sim.world
    dx = w.col("position.x")[targets].astype(np.float64) - w.col("position.x")[slots]
    dy = w.col("position.y")[targets].astype(np.float64) - w.col("position.y")[slots]
    norm = np.maximum(np.hypot(dx, dy), 1.0)
    w.col("input.x")[slots] = np.round(dx / norm * 127).astype(np.int8)
    w.col("input.y")[slots] = np.round(dy / norm * 127).astype(np.int8)


def play_tag() -> tuple[list[tuple[int, Ending]], list[int], Simulation, int]:
    defn = with_params(
        load_definition(GAMES / "tag.toml"), "round_timer", round_s=5.0, warmup_s=1.0
    )
    sim = Simulation(defn)
    for _ in range(4):
        sim.queue_player()
    endings: list[tuple[int, Ending]] = []
    tagged = 0
    sums = []
    for _ in range(600):
        slots = players(sim)
        if len(slots):
            stick_toward(sim, slots, nearest_other(sim, slots))  # everyone chases
        result = sim.step()
        tagged += sum(len(f["target"]) for n, f in result.events if n == "tagged")
        if sim.tick % 10 == 0:
            sums.append(sim.checksum())
        if result.ending is not None:
            endings.append((sim.tick, result.ending))
            if result.ending.kind == "match":
                break
    return endings, sums, sim, tagged


def test_tag_plays_three_rounds_to_a_result() -> None:
    """3 rounds of 1 s + 5 s at 30 Hz end at ticks 180, 360, 540; 15 scoring seconds."""
    endings, sums, sim, tagged = play_tag()
    assert [(t, e.kind, e.reason) for t, e in endings] == [
        (180, "round", "time"),
        (360, "round", "time"),
        (540, "match", "rounds"),
    ]
    points = sim.world.col("score.points")[players(sim)].astype(int)
    assert int(points.sum()) == 15 * 3  # each scoring second: 3 of 4 players are not "it"
    assert int(sim.world.col("tag.it").sum()) == 1
    assert tagged >= 3  # a pick per round at least
    winner = endings[-1][1].winner
    if winner is not None:
        assert int(points.max()) == int(points[sim.world.netids[players(sim)] == winner][0])
    assert sums == play_tag()[1]  # same seed, same inputs: same worlds


def test_shooter_is_won_by_the_first_to_the_kill_limit() -> None:
    """Four players aim and fire at their nearest enemy until one has 3 kills."""
    defn = with_params(load_definition(GAMES / "shooter.toml"), "round_timer", score_limit=3)
    sim = Simulation(defn)
    for _ in range(4):
        sim.queue_player()
    ending = None
    died = hits = 0
    for _ in range(30 * 120):
        slots = players(sim)
        if len(slots):
            w = sim.world
            target = nearest_other(sim, slots)
            dx = w.col("position.x")[target].astype(np.float64) - w.col("position.x")[slots]
            dy = w.col("position.y")[target].astype(np.float64) - w.col("position.y")[slots]
            turn = np.mod(np.arctan2(dy, dx) / (2 * np.pi), 1.0)
            w.col("input.aim")[slots] = np.round(turn * 65536).astype(np.int64) % 65536
            w.col("input.buttons")[slots] = 1
            stick_toward(sim, slots, target)
        result = sim.step()
        died += sum(len(f["target"]) for n, f in result.events if n == "died")
        hits += sum(len(f["target"]) for n, f in result.events if n == "hit")
        if result.ending is not None:
            ending = result.ending
            break
    assert ending is not None
    assert (ending.kind, ending.reason) == ("match", "score_limit")
    slots = players(sim)
    kills = sim.world.col("score.kills")[slots].astype(int)
    deaths = sim.world.col("score.deaths")[slots].astype(int)
    assert int(kills.max()) == 3
    assert int(kills.sum()) == int(deaths.sum()) == died
    assert hits >= 4 * died  # 25 damage a hit, 100 hp
    hp = sim.world.col("health.hp")[slots]
    assert hp.min() >= 0
    assert hp.max() <= 100
    if ending.winner is not None:
        assert int(kills[sim.world.netids[slots] == ending.winner][0]) == 3


def play_rts() -> tuple[Ending | None, list[int], Simulation]:
    defn = with_params(load_definition(GAMES / "rts.toml"), "round_timer", score_limit=10)
    sim = Simulation(defn)
    for _ in range(3):
        sim.queue_player()
    orders = {0: (200, 200), 1: (40, 40), 2: (360, 60)}  # seat 0 takes the zone
    sums: list[int] = []
    ending = None
    for _ in range(20 * 120):
        slots = players(sim)
        if sim.tick == 10:
            for seat, (tx, ty) in orders.items():
                sim.world.col("input.target_x")[slots[seat]] = tx
                sim.world.col("input.target_y")[slots[seat]] = ty
        result = sim.step()
        if sim.tick % defn.lockstep.checksum_interval_ticks == 0:
            sums.append(sim.checksum())
        if result.ending is not None:
            ending = result.ending
            break
    return ending, sums, sim


def test_rts_replicas_agree_and_the_zone_holder_wins() -> None:
    """Two simulations with the same orders have the same checksums every 10 frames."""
    ending, sums, sim = play_rts()
    assert ending is not None
    assert (ending.kind, ending.reason) == ("match", "score_limit")
    slots = players(sim)
    assert ending.winner == int(sim.world.netids[slots[0]])
    assert sim.world.col("score.points")[slots].tolist() == [10, 0, 0]
    units = sim.world.col("kind") == sim.definition.archetype("unit").kind_id
    assert int(units.sum()) == 3 * 8
    other_ending, other_sums, _ = play_rts()
    assert other_sums == sums
    assert other_ending == ending

"""score, round_timer, zones and tag_transfer, stepped in a small world."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from server.core.simulation import Simulation
from server.core.systems.library.scoring import score
from server.core.systems.registry import Ending, TickContext

Builder = Callable[..., Simulation]
Spawn = Callable[..., list[int]]
U = 256

COMPONENTS = {
    "score": {"points": "uint16", "deaths": "uint16"},
    "tag": {"it": "bool", "ready_at": "int32"},
    "round": {"number": "uint8", "live": "bool", "left_s": "uint16"},
    "zone": {"inside": "uint32"},
    "owner": {"netid": "uint32"},
}
PLAYER = ["position", "velocity", "collider", "score", "tag", "round", "zone"]


def events(sim: Simulation, ticks: int) -> list[tuple[int, str, dict[str, list[int]]]]:
    out = []
    for _ in range(ticks):
        result = sim.step()
        out += [(sim.tick, n, {k: v.tolist() for k, v in f.items()}) for n, f in result.events]
    return out


def test_score_on_events_and_per_second_unless(build: Builder, spawn: Spawn) -> None:
    """Per second: everyone not "it" scores; each 'tagged' event gives its 'by' 5 points."""
    sim = build(
        COMPONENTS,
        {"player": PLAYER},
        [
            ("update", "score", {"every_s": 1.0, "unless": "tag.it"}),
            ("update", "score", {"on_event": "tagged", "event_field": "by", "points": 5}),
        ],
    )
    spawn(sim, "player", position_x=[10, 20, 30], tag_it=[False, True, False])
    events(sim, 40)
    assert sim.world.col("score.points").tolist() == [2, 0, 2]
    # A 'tagged' batch emitted earlier in the tick; 99 is no entity and is skipped.
    ctx = TickContext(41, 20, sim.definition, sim.processor.commands, sim.rng)
    ctx.emit("tagged", by=np.array([3, 3, 99]), target=np.array([1, 1, 1]))
    params = {
        "field": "score.points",
        "points": 5,
        "on_event": "tagged",
        "event_field": "by",
        "every_s": 0.0,
        "only_if": "",
        "unless": "",
    }
    score(sim.world, ctx, params)
    assert sim.world.col("score.points").tolist() == [2, 0, 12]


def test_round_timer_warmup_rounds_and_match_end(build: Builder, spawn: Spawn) -> None:
    """1 s warm-up + 2 s rounds at 20 Hz, 2 rounds: round ends at 60, match at 120."""
    sim = build(
        COMPONENTS,
        {"player": PLAYER},
        [
            (
                "pre_update",
                "round_timer",
                {
                    "round_s": 2.0,
                    "warmup_s": 1.0,
                    "rounds": 2,
                    "score_field": "score.points",
                    "reset": ["tag.it"],
                    "reposition": True,
                },
            ),
        ],
    )
    spawn(sim, "player", position_x=[10, 20], score_points=[3, 1], tag_it=[True, False])
    endings = []
    log = []
    for _ in range(130):
        result = sim.step()
        log += [(sim.tick, n, {k: v.tolist() for k, v in f.items()}) for n, f in result.events]
        if result.ending is not None:
            endings.append((sim.tick, result.ending))
            if result.ending.kind == "match":
                break
        if sim.tick == 5:
            w = sim.world
            assert (int(w.col("round.number")[0]), bool(w.col("round.live")[0])) == (1, False)
            assert int(w.col("round.left_s")[0]) == 1
        if sim.tick == 21:
            assert bool(sim.world.col("round.live")[0])
            assert int(sim.world.col("round.left_s")[0]) == 2
    assert endings == [(60, Ending("round", "time", 1)), (120, Ending("match", "rounds", 1))]
    assert [(t, n) for t, n, _ in log] == [
        (21, "round_started"),
        (60, "round_ended"),
        (81, "round_started"),
        (120, "round_ended"),
    ]
    assert log[1][2] == {"round": [1], "winner": [1]}
    assert sim.world.col("tag.it").tolist() == [False, False]  # reset after round 1
    assert sim.world.col("position.x").tolist() != [10, 20]  # repositioned


def test_round_timer_score_limit_ends_the_match_with_the_top_scorer(
    build: Builder, spawn: Spawn
) -> None:
    """Reaching the limit ends the match at once; a tie has no winner."""
    steps = [
        ("sync", "round_timer", {"round_s": 60.0, "score_field": "score.points", "score_limit": 10})
    ]
    sim = build(COMPONENTS, {"player": PLAYER}, steps)
    spawn(sim, "player", position_x=[10, 20], score_points=[9, 10])
    assert sim.step().ending == Ending("match", "score_limit", 2)
    sim = build(COMPONENTS, {"player": PLAYER}, steps)
    spawn(sim, "player", position_x=[10, 20], score_points=[10, 10])
    assert sim.step().ending == Ending("match", "score_limit", None)


def test_capture_zone_scores_the_owner_with_most_units(build: Builder, spawn: Spawn) -> None:
    """Two of A's units and one of B's inside: A's player scores each second; B's no."""
    sim = build(
        COMPONENTS,
        {"player": PLAYER, "unit": ["position", "velocity", "collider", "owner"]},
        [
            (
                "update",
                "zones",
                {
                    "mode": "capture",
                    "x_units": 500.0,
                    "y_units": 500.0,
                    "radius_units": 20.0,
                    "who": "owner",
                    "credit_field": "owner.netid",
                },
            ),
        ],
    )
    spawn(sim, "player", position_x=[10, 20])
    c = 500 * U
    spawn(
        sim,
        "unit",
        position_x=[c, c + 5 * U, c - 19 * U, c + 30 * U],
        position_y=[c] * 4,
        owner_netid=[1, 1, 2, 2],
    )
    log = events(sim, 40)
    assert sim.world.col("score.points").tolist()[:2] == [2, 0]
    assert [(n, f) for _, n, f in log] == [
        ("zone_scored", {"zone": [0], "by": [1], "count": [2]})
    ] * 2


def test_event_zone_reports_entering_and_leaving(build: Builder, spawn: Spawn) -> None:
    """A rectangle: an entity walking through it gets one entered and one left event."""
    sim = build(
        COMPONENTS,
        {"player": PLAYER},
        [
            ("update", "move", {}),
            (
                "update",
                "zones",
                {
                    "id": 3,
                    "mode": "event",
                    "x_units": 100.0,
                    "y_units": 0.0,
                    "width_units": 10.0,
                    "height_units": 10.0,
                },
            ),
        ],
    )
    spawn(sim, "player", position_x=[90 * U], velocity_x=[256 * U])
    log = events(sim, 30)
    assert [(n, f["zone"], f["who"]) for _, n, f in log] == [
        ("zone_entered", [3], [1]),
        ("zone_left", [3], [1]),
    ]


def test_tag_picks_an_it_then_passes_it_on_touch_without_tag_back(
    build: Builder, spawn: Spawn
) -> None:
    """A random pick with 2 players; touch passes it; the new "it" waits delay_s."""
    sim = build(
        COMPONENTS,
        {"player": PLAYER},
        [("post_update", "tag_transfer", {"radius_units": 2.0, "delay_s": 1.0})],
    )
    spawn(sim, "player", position_x=[100 * U, 103 * U], position_y=[100 * U] * 2)
    first = events(sim, 1)
    assert first[0][1] == "tagged"
    assert first[0][2]["by"] == [0]
    it0 = first[0][2]["target"][0]
    log = events(sim, 19)  # delay: 20 ticks from tick 1
    assert log == []
    log = events(sim, 1)
    assert [(f["target"], f["by"]) for _, _, f in log] == [([3 - it0], [it0])]
    assert events(sim, 19) == []  # no tag-back for 1 s
    log = events(sim, 1)
    assert [(f["target"], f["by"]) for _, _, f in log] == [([it0], [3 - it0])]
    assert int(sim.world.col("tag.it").sum()) == 1

"""The game-definition loader names every kind of mistake: file, key, expected, got."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gamedef.mutations import (
    SOURCE,
    Mutation,
    append_step,
    arena_data,
    both,
    del_key,
    parse_error,
    set_key,
)

# (mutation, key the error names, text of "expected", text of "got")
ERROR_CASES: list[Any] = [
    pytest.param(
        set_key("game", "tick_rate_hz", value="20"),
        "game.tick_rate_hz",
        "an integer in 1..240",
        'string "20"',
        id="wrong-type",
    ),
    pytest.param(
        set_key("game", "max_players", value=True),
        "game.max_players",
        "an integer",
        "boolean true",
        id="bool-is-not-int",
    ),
    pytest.param(
        set_key("world", "width_units", value="wide"),
        "world.width_units",
        "a finite number > 0",
        'string "wide"',
        id="wrong-type-float",
    ),
    pytest.param(
        set_key("gmae", value={}),
        "gmae",
        "one of the keys game, world",
        'unknown key "gmae"',
        id="unknown-key-top-level",
    ),
    pytest.param(
        set_key("world", "widht_units", value=3),
        "world.widht_units",
        "width_units",
        'unknown key "widht_units" (did you mean "width_units"?)',
        id="unknown-key-nested",
    ),
    pytest.param(
        set_key("pipeline", 0, "params", "sped", value=1.0),
        "pipeline[0].params.sped",
        "a parameter of 'apply_inputs': speed_units_per_s",
        'unknown key "sped"',
        id="unknown-param",
    ),
    pytest.param(
        set_key("archetypes", "npc", "tags", value=[]),
        "archetypes.npc.tags",
        "one of the keys components",
        'unknown key "tags"',
        id="unknown-key-archetype",
    ),
    pytest.param(
        del_key("game", "seed"),
        "game.seed",
        "an integer in 0..",
        "nothing (the key is missing)",
        id="missing-key",
    ),
    pytest.param(
        del_key("sync"),
        "sync",
        "a table",
        "nothing (the key is missing)",
        id="missing-section",
    ),
    pytest.param(
        set_key("game", "tick_rate_hz", value=500),
        "game.tick_rate_hz",
        "an integer in 1..240",
        "integer 500",
        id="out-of-range",
    ),
    pytest.param(
        set_key("world", "width_units", value=float("nan")),
        "world.width_units",
        "a finite number > 0",
        "float nan",
        id="nan",
    ),
    pytest.param(
        set_key("world", "width_units", value=10_000_000.0),
        "world.width_units",
        "in 1..1073741823 subunits",
        "2560000000 subunits",
        id="world-overflows-int32",
    ),
    pytest.param(
        set_key("components", "position", "x", value="float32"),
        "components.position.x",
        "a signed integer dtype",
        'string "float32"',
        id="position-not-fixed-point",
    ),
    pytest.param(
        del_key("components", "velocity"),
        "components.velocity",
        "signed integer fields x and y",
        "nothing (the key is missing)",
        id="velocity-missing",
    ),
    pytest.param(
        set_key("components", "collider", "radius", value="int128"),
        "components.collider.radius",
        '"int32"',
        'string "int128"',
        id="bad-dtype",
    ),
    pytest.param(
        set_key("components", "my-comp", value={"a": "int8"}),
        "components.my-comp",
        "an identifier",
        'key string "my-comp"',
        id="component-name-not-identifier",
    ),
    pytest.param(
        set_key("archetypes", "npc", "components", value=["position", "velocity", "armour"]),
        "archetypes.npc.components[2]",
        "a declared component: position, velocity, input, collider",
        'string "armour"',
        id="archetype-unknown-component",
    ),
    pytest.param(
        set_key("game", "player_archetype", value="hero"),
        "game.player_archetype",
        "the name of an archetype: npc, player",
        'string "hero"',
        id="player-archetype-missing",
    ),
    pytest.param(
        set_key("spawns", 0, "archetype", value="monster"),
        "spawns[0].archetype",
        "the name of an archetype",
        'string "monster"',
        id="spawn-archetype-missing",
    ),
    pytest.param(
        set_key("spawns", 0, "count", value=-1),
        "spawns[0].count",
        "an integer in 0..1000000",
        "integer -1",
        id="spawn-count-negative",
    ),
    pytest.param(
        set_key("pipeline", 1, "system", value="mvoe"),
        "pipeline[1].system",
        "a registered system: apply_inputs, bounce_at_edges, collide, ",
        'string "mvoe"',
        id="bad-system-name",
    ),
    pytest.param(
        set_key("pipeline", 1, "phase", value="later"),
        "pipeline[1].phase",
        '"input", "pre_update", "update", "validate", "post_update", "sync"',
        'string "later"',
        id="bad-phase",
    ),
    pytest.param(
        set_key("pipeline", 1, "phase", value="input"),
        "pipeline[1].phase",
        "a phase system 'move' may run in: update",
        'string "input"',
        id="system-in-disallowed-phase",
    ),
    pytest.param(
        set_key("pipeline", 0, "params", "speed_units_per_s", value=1e9),
        "pipeline[0].params.speed_units_per_s",
        "a finite number in 0..10000",
        "float 1000000000.0",
        id="param-out-of-range",
    ),
    pytest.param(
        set_key("pipeline", 3, "params", "radius_units", value="big"),
        "pipeline[3].params.radius_units",
        "a finite number in 0..1000",
        'string "big"',
        id="param-wrong-type",
    ),
    pytest.param(
        append_step({"phase": "update", "system": "fail_at_tick"}),
        "pipeline[4].params.tick",
        "required by 'fail_at_tick'",
        "nothing (the key is missing)",
        id="param-missing-required",
    ),
    pytest.param(
        set_key("pipeline", 1, "params", value={"speed": 1}),
        "pipeline[1].params.speed",
        "no parameters ('move' takes none)",
        'unknown key "speed"',
        id="param-for-system-without-params",
    ),
    pytest.param(
        both(
            set_key("pipeline", 1, "after", value=["bounce_at_edges"]),
            set_key("pipeline", 2, "phase", value="update"),
            set_key("pipeline", 2, "after", value=["move"]),
        ),
        "pipeline[1].after",
        "without a cycle in phase 'update'",
        "cyclic pipeline: move -> bounce_at_edges -> move",
        id="cyclic-after",
    ),
    pytest.param(
        set_key("pipeline", 1, "after", value=["move"]),
        "pipeline[1].after",
        "without a cycle",
        "cyclic pipeline: move -> move",
        id="after-itself",
    ),
    pytest.param(
        set_key("pipeline", 1, "after", value=["collide"]),
        "pipeline[1].after[0]",
        "the name of a system in phase 'update': move",
        'string "collide"',
        id="after-other-phase",
    ),
    pytest.param(
        both(
            set_key("archetypes", "npc", "components", value=["position", "velocity"]),
            set_key("archetypes", "player", "components", value=["position", "velocity", "input"]),
        ),
        "pipeline[3].system",
        "every component 'collide' requires (position, velocity, collider)",
        "no archetype has component collider (impossible pipeline)",
        id="impossible-pipeline",
    ),
    pytest.param(
        set_key("spatial", "index", value="octree"),
        "spatial.index",
        '"grid", "quadtree", "brute"',
        'string "octree"',
        id="bad-index",
    ),
    pytest.param(
        set_key("spatial", "cell_size_units", value=0),
        "spatial.cell_size_units",
        "a finite number > 0",
        "integer 0",
        id="cell-size-zero",
    ),
    pytest.param(
        set_key("sync", "mode", value="rollback"),
        "sync.mode",
        '"state", "lockstep"',
        'string "rollback"',
        id="bad-sync-mode",
    ),
    pytest.param(
        set_key("sync", "snapshot_rate_hz", value=7),
        "sync.snapshot_rate_hz",
        "divides game.tick_rate_hz (20) evenly",
        "integer 7",
        id="snapshot-rate-not-dividing-tick-rate",
    ),
    pytest.param(
        set_key("sync", "snapshot_rate_hz", value=40),
        "sync.snapshot_rate_hz",
        "an integer in 1..20",
        "integer 40",
        id="snapshot-rate-above-tick-rate",
    ),
    pytest.param(
        set_key("sync", "interest_radius_units", value=-5.0),
        "sync.interest_radius_units",
        "a finite number > 0",
        "float -5.0",
        id="interest-radius-negative",
    ),
    pytest.param(
        set_key("sync", "quantize", "position.x", value=0.001),
        'sync.quantize."position.x"',
        "must fit in uint16 (<= 65535 steps)",
        "float 0.001 (1000000 steps)",
        id="quantize-too-fine-for-uint16",
    ),
    pytest.param(
        set_key("sync", "quantize", "position.z", value=0.1),
        'sync.quantize."position.z"',
        'a quoted "component.field" key naming a declared field',
        'unknown key "position.z"',
        id="quantize-unknown-field",
    ),
    pytest.param(
        set_key("sync", "quantize", "velocity.x", value=0),
        'sync.quantize."velocity.x"',
        "a finite number > 0",
        "integer 0",
        id="quantize-step-zero",
    ),
    pytest.param(
        set_key("lockstep", "default_input", value="none"),
        "lockstep.default_input",
        '"zero", "repeat"',
        'string "none"',
        id="bad-default-input",
    ),
]


@pytest.mark.parametrize(("mutate", "key", "expected", "got"), ERROR_CASES)
def test_loader_names_file_key_expected_and_got_when_definition_is_wrong(
    mutate: Mutation, key: str, expected: str, got: str
) -> None:
    """Each kind of mistake raises one DefinitionError naming file, key, expectation, value."""
    data = arena_data()
    mutate(data)
    err = parse_error(data)
    assert err.path == SOURCE
    assert err.key == key
    assert expected in err.expected
    assert got in err.got
    assert str(err) == f"{SOURCE}: {err.key}: expected {err.expected}, got {err.got}"

"""The game-definition loader: arena.toml loads, and every kind of mistake is named."""

from __future__ import annotations

import contextlib
import copy
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.core.phases import PHASE_KEYS
from server.core.systems.registry import registered_systems
from server.errors import DefinitionError
from server.gamedef import load as load_module
from server.gamedef import load_definition, parse_definition
from server.gamedef.load import override_sync_mode
from server.gamedef.schema import GameDefinition

ROOT = Path(__file__).resolve().parent.parent.parent
ARENA = ROOT / "data" / "games" / "arena.toml"
DOCS = ROOT / "docs" / "game-definitions.md"
SOURCE = "games/test.toml"

with ARENA.open("rb") as _fh:
    ARENA_DATA: dict[str, Any] = tomllib.load(_fh)


def arena_data() -> dict[str, Any]:
    """A fresh, mutable copy of arena.toml as parsed TOML."""
    return copy.deepcopy(ARENA_DATA)


def parse_error(data: dict[str, Any]) -> DefinitionError:
    """The DefinitionError parsing ``data`` raises (the test fails if there is none)."""
    with pytest.raises(DefinitionError) as info:
        parse_definition(data, SOURCE)
    return info.value


# -- mutations of the arena data, as small named functions --------------------------------

Mutation = Callable[[dict[str, Any]], None]


def set_key(*path: str | int, value: Any) -> Mutation:
    """Set ``data[path...] = value``."""

    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


def del_key(*path: str | int) -> Mutation:
    """Delete ``data[path...]``."""

    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return mutate


def both(*mutations: Mutation) -> Mutation:
    """Apply several mutations in order."""

    def mutate(data: dict[str, Any]) -> None:
        for m in mutations:
            m(data)

    return mutate


def append_step(step: dict[str, Any]) -> Mutation:
    """Add a pipeline step at the end."""
    return lambda data: data["pipeline"].append(step)


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


def test_loader_reads_arena_when_file_is_shipped() -> None:
    """arena.toml loads with the values written in it and its documented defaults."""
    defn = load_definition(ARENA)
    assert isinstance(defn, GameDefinition)
    assert defn.source == str(ARENA)
    assert (defn.name, defn.tick_rate_hz, defn.max_players, defn.seed) == (
        "arena",
        20,
        1000,
        20261125,
    )
    assert defn.world.width_units == 1000.0
    assert defn.world.subunits_per_unit == 256
    assert defn.world.initial_capacity == 2048
    assert [c.name for c in defn.components] == ["position", "velocity", "input", "collider"]
    assert defn.components[0].fields == (("x", "int32"), ("y", "int32"))
    assert [(a.name, a.kind_id) for a in defn.archetypes] == [("npc", 0), ("player", 1)]
    assert defn.archetype("player").components == ("position", "velocity", "input", "collider")
    assert defn.player_archetype == "player"
    assert (defn.spawns[0].archetype, defn.spawns[0].count) == ("npc", 1000)
    assert defn.spawns[0].speed_units_per_s == 50.0
    assert [(s.phase, s.system) for s in defn.pipeline] == [
        ("input", "apply_inputs"),
        ("update", "move"),
        ("validate", "bounce_at_edges"),
        ("post_update", "collide"),
    ]
    assert defn.pipeline[0].params == (("speed_units_per_s", 80.0),)
    assert (defn.spatial.index, defn.spatial.cell_size_units) == ("grid", 50.0)
    assert defn.spatial.quadtree_leaf_capacity == 16
    assert defn.sync.mode == "state"
    assert defn.sync.snapshot_rate_hz == 20
    assert defn.sync.quantize == (("position.x", 0.0625), ("position.y", 0.0625))
    assert defn.lockstep.input_delay_ticks == 2
    assert defn.lockstep.default_input == "repeat"


def test_loader_accepts_a_string_path_when_given_one() -> None:
    """A str path works as well as a Path, and becomes the definition's source."""
    assert load_definition(str(ARENA)).source == str(ARENA)


def test_loader_fills_param_defaults_when_params_are_omitted() -> None:
    """A step without params gets the system's defaults, as a tuple of pairs."""
    data = arena_data()
    del data["pipeline"][3]["params"]
    defn = parse_definition(data)
    assert defn.pipeline[3].params == (("radius_units", 2.0),)
    assert defn.source == "<string>"


def test_loader_converts_ints_when_floats_are_expected() -> None:
    """An integer where a number is expected is accepted and stored as a float."""
    data = arena_data()
    data["world"]["width_units"] = 1000
    data["pipeline"][0]["params"]["speed_units_per_s"] = 80
    defn = parse_definition(data)
    assert isinstance(defn.world.width_units, float)
    assert isinstance(defn.pipeline[0].params_dict()["speed_units_per_s"], float)


def test_loader_applies_defaults_when_optional_sections_are_absent() -> None:
    """Without [spatial], [lockstep] and [[spawns]] the documented defaults apply."""
    data = arena_data()
    for section in ("spatial", "lockstep", "spawns"):
        del data[section]
    defn = parse_definition(data)
    assert (defn.spatial.index, defn.spatial.cell_size_units) == ("grid", 50.0)
    assert defn.lockstep.checksum_interval_ticks == 10
    assert defn.lockstep.max_send_queue_frames == 64
    assert defn.spawns == ()


def test_loader_reorders_steps_when_after_demands_it() -> None:
    """``after`` moves a step behind the systems it names; other steps keep file order."""
    data = arena_data()
    data["pipeline"] = [
        {"phase": "update", "system": "bounce_at_edges", "after": ["move"]},
        {"phase": "update", "system": "fail_at_tick", "params": {"tick": 99}},
        {"phase": "input", "system": "apply_inputs"},
        {"phase": "update", "system": "move"},
    ]
    defn = parse_definition(data)
    assert [(s.phase, s.system) for s in defn.pipeline] == [
        ("input", "apply_inputs"),
        ("update", "fail_at_tick"),
        ("update", "move"),
        ("update", "bounce_at_edges"),
    ]
    assert defn.pipeline[3].after == ("move",)


def test_loader_refuses_a_lockstep_file_in_state_mode_when_quantize_is_missing() -> None:
    """State sync needs both position steps; lockstep does not."""
    data = arena_data()
    data["sync"]["mode"] = "lockstep"
    data["sync"]["quantize"] = {}
    assert parse_definition(data).sync.quantize == ()
    data["sync"]["mode"] = "state"
    err = parse_error(data)
    assert err.key == 'sync.quantize."position.x"'
    assert "nothing (the key is missing)" in err.got


def test_loader_hints_at_quoting_when_quantize_key_is_an_unquoted_dotted_key() -> None:
    """``position.x = 0.1`` written unquoted parses as a table; the error says to quote it."""
    data = arena_data()
    data["sync"]["quantize"] = {"position": {"x": 0.1, "y": 0.1}}
    err = parse_error(data)
    assert err.key == "sync.quantize.position"
    assert "quote" in err.got


def test_loader_reports_parser_message_when_toml_is_invalid(tmp_path: Path) -> None:
    """A syntax error is a DefinitionError with key <toml> and the parser's line number."""
    path = tmp_path / "broken.toml"
    path.write_text('[game]\nname = "x"\ntick_rate_hz = \n', encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    err = info.value
    assert (err.path, err.key) == (str(path), "<toml>")
    assert "valid TOML" in err.expected
    assert "line 3" in err.got
    assert str(path) in str(err)


def test_loader_reports_the_file_when_it_does_not_exist(tmp_path: Path) -> None:
    """A missing file is a DefinitionError with key <file>, not an OSError."""
    path = tmp_path / "missing.toml"
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    err = info.value
    assert (err.path, err.key) == (str(path), "<file>")
    assert "readable TOML file" in err.expected
    assert "FileNotFoundError" in err.got


def test_loader_reports_the_file_when_it_is_not_utf8(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are a DefinitionError with key <file>."""
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[game]\nname = "caf\xe9"\n')
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    assert info.value.key == "<file>"
    assert "UTF-8" in info.value.expected


def test_loader_refuses_a_document_when_it_is_not_a_table() -> None:
    """parse_definition given a non-mapping raises DefinitionError, not TypeError."""
    with pytest.raises(DefinitionError) as info:
        parse_definition([1, 2], SOURCE)  # type: ignore[arg-type]
    assert info.value.key == "<root>"


def test_override_switches_mode_when_given_a_valid_mode() -> None:
    """--sync lockstep changes only sync.mode."""
    defn = parse_definition(arena_data(), SOURCE)
    switched = override_sync_mode(defn, "lockstep")
    assert switched.sync.mode == "lockstep"
    assert switched.sync.quantize == defn.sync.quantize
    assert override_sync_mode(switched, "state") == defn


def test_override_refuses_state_mode_when_positions_are_not_quantized() -> None:
    """Switching a lockstep file without position steps to state fails like loading would."""
    data = arena_data()
    data["sync"]["mode"] = "lockstep"
    data["sync"]["quantize"] = {}
    defn = parse_definition(data, SOURCE)
    with pytest.raises(DefinitionError) as info:
        override_sync_mode(defn, "state")
    assert (info.value.path, info.value.key) == (SOURCE, 'sync.quantize."position.x"')


def test_override_refuses_a_mode_when_it_is_unknown() -> None:
    """An unknown --sync value names sync.mode and the allowed modes."""
    defn = parse_definition(arena_data(), SOURCE)
    with pytest.raises(DefinitionError) as info:
        override_sync_mode(defn, "rollback")
    assert info.value.key == "sync.mode"
    assert '"state", "lockstep"' in info.value.expected


# -- the docs stay in step with the loader ------------------------------------------------

DOC_TEXT = DOCS.read_text(encoding="utf-8")


def doc_key(path: tuple[str | int, ...]) -> str:
    """The key as the docs' tables write it: user-chosen names become placeholders."""
    parts = list(path)
    head = parts[0]
    if head == "components":
        names = ["<component>", "<field>"][: len(parts) - 1]
        return ".".join(["components", *names])
    if head == "archetypes":
        return ".".join(["archetypes", "<archetype>", *map(str, parts[2:])])
    if head in ("spawns", "pipeline"):
        rest = [str(p) for p in parts[2:]]
        if rest[:1] == ["params"]:
            rest = rest[:1]
        return ".".join([f"{head}[]", *rest]) if rest else head
    if parts[:2] == ["sync", "quantize"] and len(parts) > 2:
        return 'sync.quantize."<component>.<field>"'
    return ".".join(map(str, parts))


def toml_paths(node: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every key path in a parsed TOML document (array items as their index)."""
    out: list[tuple[str | int, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, key))
            out.extend(toml_paths(value, (*prefix, key)))
    elif isinstance(node, list) and node and isinstance(node[0], dict):
        for i, item in enumerate(node):
            out.extend(toml_paths(item, (*prefix, i)))
    return out


def test_docs_document_every_key_when_arena_uses_it() -> None:
    """Every key arena.toml sets has a row in docs/game-definitions.md."""
    documented = set(re.findall(r"^\| `([^`]+)` \|", DOC_TEXT, flags=re.MULTILINE))
    missing = sorted({doc_key(p) for p in toml_paths(ARENA_DATA)} - documented)
    assert not missing, f"undocumented keys: {missing}"
    params = {k for step in ARENA_DATA["pipeline"] for k in step.get("params", {})}
    assert all(f"`{p}`" in DOC_TEXT for p in params)


def test_docs_document_every_key_when_the_loader_accepts_it() -> None:
    """Every key of every table the loader accepts is in the docs' key tables."""
    tables = {
        "": load_module.TOP_KEYS,
        "game": load_module.GAME_KEYS,
        "world": load_module.WORLD_KEYS,
        "archetypes.<archetype>": load_module.ARCHETYPE_KEYS,
        "spawns[]": load_module.SPAWN_KEYS,
        "pipeline[]": load_module.STEP_KEYS,
        "spatial": load_module.SPATIAL_KEYS,
        "sync": load_module.SYNC_KEYS,
        "lockstep": load_module.LOCKSTEP_KEYS,
        "input.<field>": load_module.INPUT_FIELD_KEYS,
        'sync.replicate."<component>.<field>"': load_module.REPLICATE_KEYS,
        "events.<event>": load_module.EVENT_KEYS,
        "rules": load_module.RULES_KEYS,
        "render": load_module.RENDER_KEYS,
        "render.kinds.<archetype>": load_module.RENDER_KIND_KEYS,
        "render.bar": load_module.BAR_KEYS,
    }
    for prefix, (required, optional) in tables.items():
        for key in (*required, *optional):
            full = f"{prefix}.{key}" if prefix else key
            assert f"| `{full}` |" in DOC_TEXT, f"{full} is not documented"


def test_docs_list_every_builtin_system_when_it_is_registered() -> None:
    """Each built-in system has a row with its phases, components and parameters."""
    rows = [line for line in DOC_TEXT.splitlines() if line.startswith("| `")]
    for name, spec in registered_systems().items():
        if not spec.fn.__module__.startswith("server.core.systems."):
            continue  # a plug-in registered by another test module
        row = next((r for r in rows if r.startswith(f"| `{name}` |")), None)
        assert row is not None, f"system {name} is not documented"
        if spec.phases != frozenset(PHASE_KEYS):
            assert all(f"`{p}`" in row for p in spec.phases), row
        assert all(f"`{c}`" in row for c in spec.requires), row
        for pname, pspec in spec.params.items():
            assert f"`{pname}`" in row
            param_row = next(r for r in rows if r.startswith(f"| `{name}` | `{pname}` |"))
            default = "required" if pspec.default is None else str(pspec.default)
            assert f"| {default} |" in param_row, param_row


# -- no junk escapes as anything but DefinitionError ---------------------------------------

KNOWN_WORDS = sorted(
    {str(k) for p in toml_paths(ARENA_DATA) for k in p if isinstance(k, str)}
    | {"after", "params", "initial_capacity", "quadtree_leaf_capacity", "tick", "lockstep"}
    | set(PHASE_KEYS)
    | {"state", "grid", "quadtree", "int32", "int8", "float32", "bool", "position.x"}
)
keys_st = st.sampled_from(KNOWN_WORDS) | st.text(max_size=6)
scalars_st = (
    st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(KNOWN_WORDS)
    | st.dates()
    | st.none()
)
junk_st = st.recursive(
    scalars_st,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(keys_st, children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys_st, junk_st, max_size=8))
def test_loader_raises_only_definition_errors_when_fed_junk(data: dict[str, Any]) -> None:
    """Random nested junk either parses or raises DefinitionError, never anything else."""
    with contextlib.suppress(DefinitionError):
        parse_definition(data, SOURCE)


ARENA_PATHS = toml_paths(ARENA_DATA)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(ARENA_PATHS), st.booleans(), junk_st), min_size=1, max_size=3
    )
)
def test_loader_raises_only_definition_errors_when_arena_is_mutated(
    edits: list[tuple[tuple[str | int, ...], bool, Any]],
) -> None:
    """Replacing or deleting arena keys with junk only ever raises DefinitionError."""
    data = arena_data()
    for path, delete, value in edits:
        node: Any = data
        try:
            for part in path[:-1]:
                node = node[part]
            if delete:
                del node[path[-1]]
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    with contextlib.suppress(DefinitionError):
        parse_definition(data, SOURCE)

"""The game-definition loader: the shipped files load, defaults fill in, modes switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import DefinitionError
from server.gamedef import load_definition, parse_definition
from server.gamedef.load import override_sync_mode
from server.gamedef.schema import GameDefinition
from tests.gamedef.mutations import (
    ARENA,
    SOURCE,
    arena_data,
    parse_error,
)


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

"""The issue-13 sections: [input], [sync.replicate], [events], [rules], [render]."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from server.errors import DefinitionError
from server.gamedef import parse_definition
from server.gamedef.schema import DEFAULT_INPUTS

ROOT = Path(__file__).resolve().parent.parent.parent
with (ROOT / "data" / "games" / "arena.toml").open("rb") as _fh:
    ARENA: dict[str, Any] = tomllib.load(_fh)


def game() -> dict[str, Any]:
    """Arena plus every new section, valid."""
    d = copy.deepcopy(ARENA)
    d["components"]["input"] = {"x": "int8", "y": "int8", "aim": "uint16", "buttons": "uint16"}
    d["components"]["health"] = {"hp": "uint8"}
    d["components"]["score"] = {"points": "int32", "kills": "int64"}
    d["components"]["tag"] = {"it": "bool"}
    d["archetypes"]["player"]["components"] += ["health", "score", "tag"]
    d["input"] = {
        "x": {"type": "stick"},
        "y": {"type": "stick"},
        "aim": {"type": "angle"},
        "buttons": {"type": "buttons", "bits": ["fire", "dash"]},
    }
    d["sync"]["replicate"] = {
        "health.hp": {},
        "score.points": {"wire": "uint16", "step": 10.0},
        "score.kills": {"wire": "uint8", "to": "owner"},
        "tag.it": {},
    }
    d["events"] = {
        "hit": {
            "audience": "interest",
            "at": "target",
            "fields": {"target": "entity", "by": "entity", "damage": "uint8"},
        },
        "low": {"audience": "owner", "fields": {"owner": "entity", "left": "uint8"}},
    }
    d["rules"] = {"score": "score.points", "result_fields": ["score.kills"]}
    d["render"] = {
        "kinds": {"player": {"color": "#4af", "size_units": 3}},
        "bar": {"field": "health.hp", "max": 100},
        "label": "score.points",
        "highlight": "tag.it",
    }
    return d


def error(d: dict[str, Any]) -> DefinitionError:
    """The error parsing ``d`` raises."""
    with pytest.raises(DefinitionError) as info:
        parse_definition(d, "g.toml")
    return info.value


def test_loader_parses_every_new_section_when_valid() -> None:
    """Inputs, replicated fields, events, rules and render come out as declared."""
    defn = parse_definition(game(), "g.toml")
    assert [(f.name, f.kind, f.dtype) for f in defn.inputs] == [
        ("x", "stick", "int8"),
        ("y", "stick", "int8"),
        ("aim", "angle", "uint16"),
        ("buttons", "buttons", "uint16"),
    ]
    assert defn.inputs_declared
    assert defn.inputs[3].bits == ("fire", "dash")
    rep = {r.key: r for r in defn.sync.replicate}
    assert (rep["health.hp"].wire, rep["tag.it"].wire) == ("uint8", "bool")
    assert rep["score.points"].step == 10.0
    assert rep["score.kills"].to == "owner"
    assert [e.name for e in defn.events] == ["hit", "low"]
    assert defn.events[0].at == "target"
    assert defn.events[1].to == "owner"
    assert defn.rules.score == "score.points"
    assert defn.render.to_wire()["bar"] == {"field": "health.hp", "max": 100.0}


def test_loader_keeps_default_sticks_when_there_is_no_input_section() -> None:
    """The arena has no [input]: its inputs are the two sticks and nothing else is new."""
    defn = parse_definition(copy.deepcopy(ARENA), "arena.toml")
    assert defn.inputs == DEFAULT_INPUTS
    assert not defn.inputs_declared
    assert defn.sync.replicate == ()
    assert defn.events == ()
    assert defn.render.to_wire() == {}


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda d: d["input"].update(tick={"type": "stick"}), "input.tick"),
        (lambda d: d["input"]["aim"].update(type="vector"), "input.aim.type"),
        (lambda d: d["input"]["aim"].update(bits=["a"]), "input.aim.bits"),
        (lambda d: d["input"]["buttons"].update(bits=[]), "input.buttons.bits"),
        (lambda d: d["components"]["input"].update(aim="int8"), "components.input.aim"),
        (lambda d: d["input"].update(n={"type": "int", "min": 0, "max": 9}), "input.n"),
        (lambda d: d["input"].update(k={"type": "int", "min": 5, "max": 1}), "input.k.max"),
        (
            lambda d: d["sync"]["replicate"].update({"position.x": {}}),
            'sync.replicate."position.x"',
        ),
        (lambda d: d["sync"]["replicate"].update({"nope.x": {}}), 'sync.replicate."nope.x"'),
        (
            lambda d: d["sync"]["replicate"]["tag.it"].update(step=2.0),
            'sync.replicate."tag.it".step',
        ),
        (
            lambda d: d["sync"]["replicate"]["tag.it"].update(to="team"),
            'sync.replicate."tag.it".to',
        ),
        (
            lambda d: d["sync"]["replicate"].update({"score.kills": {}}),
            'sync.replicate."score.kills".wire',
        ),
        (lambda d: d["events"]["hit"].update(audience="nearby"), "events.hit.audience"),
        (lambda d: d["events"]["hit"].update(at="damage"), "events.hit.at"),
        (lambda d: d["events"]["hit"]["fields"].update(x="int64"), "events.hit.fields.x"),
        (lambda d: d["events"]["low"].update(at="owner"), "events.low.at"),
        (lambda d: d["rules"].update(score="velocity.z"), "rules.score"),
        (lambda d: d["render"].update(label="score.nope"), "render.label"),
        (lambda d: d["render"].update(highlight="health.hp"), "render.highlight"),
        (lambda d: d["render"]["kinds"].update(ghost={}), "render.kinds.ghost"),
        (lambda d: d["render"]["bar"].update(max=0), "render.bar.max"),
    ],
)
def test_loader_names_the_key_when_a_new_section_is_wrong(edit: Any, key: str) -> None:
    """Each kind of mistake in the new sections is a DefinitionError naming its key."""
    d = game()
    edit(d)
    assert error(d).key == key


def test_loader_requires_input_component_on_player_when_inputs_are_declared() -> None:
    """[input] needs the player archetype to carry the input component."""
    d = game()
    d["archetypes"]["player"]["components"].remove("input")
    d["pipeline"] = [s for s in d["pipeline"] if s["system"] != "apply_inputs"]
    assert error(d).key == "game.player_archetype"

"""``[sync] budget_bytes_per_s`` from the definition to the match's interest sync."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from server.errors import DefinitionError
from server.gamedef import load_definition, parse_definition
from server.match.match import Match

ARENA = Path(__file__).resolve().parents[2] / "data" / "games" / "arena.toml"


def test_definition_sets_the_match_budget() -> None:
    """``[sync] budget_bytes_per_s`` reaches the match's interest as a share per frame."""
    data = tomllib.loads(ARENA.read_text())
    data["sync"]["budget_bytes_per_s"] = 16000
    data["sync"]["budget_falloff_units"] = 40
    defn = parse_definition(data, "games/budget.toml")
    match = Match(defn, "m-budget")
    assert match.interest.budget.bytes_per_frame == 16000 / defn.sync.snapshot_rate_hz
    assert match.interest.budget.falloff_units == 40.0
    assert match.interest.budget.max_stale_ticks == defn.tick_rate_hz
    assert Match(load_definition(ARENA), "m-plain").interest.budget.bytes_per_frame == 0
    data["sync"]["budget_bytes_per_s"] = -1
    with pytest.raises(DefinitionError, match="budget_bytes_per_s"):
        parse_definition(data, "games/budget.toml")


def test_importance_and_staleness_bound_from_the_definition() -> None:
    """``[sync.importance]`` weighs archetypes by kind id; ``budget_max_stale_ms`` is the
    bound in ticks; an unknown archetype is refused with its key named."""
    data = tomllib.loads(ARENA.read_text())
    data["sync"]["budget_bytes_per_s"] = 8000
    data["sync"]["budget_max_stale_ms"] = 500
    data["sync"]["importance"] = {"player": 4.0}
    defn = parse_definition(data, "games/budget.toml")
    budget = Match(defn, "m-imp").interest.budget
    kinds = {a.name: a.kind_id for a in defn.archetypes}
    assert budget.importance is not None
    assert budget.importance[kinds["player"]] == 4.0
    assert budget.importance[kinds["npc"]] == 1.0
    assert budget.max_stale_ticks == defn.tick_rate_hz // 2
    data["sync"]["importance"] = {"dragon": 2.0}
    with pytest.raises(DefinitionError, match=r"sync\.importance\.dragon"):
        parse_definition(data, "games/budget.toml")
    data["sync"]["importance"] = {"npc": 0}
    with pytest.raises(DefinitionError, match=r"sync\.importance\.npc"):
        parse_definition(data, "games/budget.toml")

"""A small world builder for the built-in library's unit tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

from server.core.simulation import Simulation
from server.gamedef import ArchetypeDef, ComponentDef, GameDefinition, SystemStep

Step = tuple[str, str, Mapping[str, Any]]
Builder = Callable[..., Simulation]


@pytest.fixture
def build(arena: GameDefinition) -> Builder:
    """``build(components, archetypes, steps, tick_rate_hz=20, player="player")``.

    ``components``: ``{"health": {"hp": "int16", ...}}`` (position/velocity/collider are
    always there); ``archetypes``: ``{"player": ["position", ...]}``; ``steps``:
    ``[(phase, system, params), ...]``. A 1000 x 1000 unit world, 256 subunits per unit,
    brute-force index, no initial spawns.
    """

    def make(
        components: Mapping[str, Mapping[str, str]],
        archetypes: Mapping[str, Sequence[str]],
        steps: Sequence[Step],
        tick_rate_hz: int = 20,
        player: str = "player",
        seed: int = 7,
    ) -> Simulation:
        comps = {
            "position": {"x": "int32", "y": "int32"},
            "velocity": {"x": "int32", "y": "int32"},
            "collider": {"radius": "int32"},
            **components,
        }
        defn = replace(
            arena,
            seed=seed,
            tick_rate_hz=tick_rate_hz,
            components=tuple(ComponentDef(n, tuple(f.items())) for n, f in comps.items()),
            archetypes=tuple(
                ArchetypeDef(n, tuple(c), i) for i, (n, c) in enumerate(archetypes.items())
            ),
            player_archetype=player,
            spawns=(),
            pipeline=tuple(SystemStep(p, s, tuple(dict(a).items())) for p, s, a in steps),  # type: ignore[arg-type]
            spatial=replace(arena.spatial, index="brute"),
        )
        return Simulation(defn)

    return make


def _spawn(sim: Simulation, archetype: str, **columns: Any) -> list[int]:
    values = {k.replace("_", ".", 1): v for k, v in columns.items()}
    n = max(len(v) if isinstance(v, list) else 1 for v in values.values())
    eids = sim.processor.commands.spawn_many(archetype, n, values)
    return [int(e) for e in eids]


@pytest.fixture
def spawn() -> Callable[..., list[int]]:
    """``spawn(sim, archetype, position_x=[...], ...)``: queue entities (``a_b`` -> ``a.b``)."""
    return _spawn

"""A ready-to-run simulation of one game definition: world, pipeline, rng, spawns.

This is the whole pure core assembled: the match layer wraps one :class:`Simulation`,
lockstep replicas (bots, browser-free clients) build an identical one from the same
definition and seed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.determinism import match_rng, world_checksum
from server.core.entity import EntityId
from server.core.frame import FrameProcessor, FrameResult, InputBatch
from server.core.sync.lockstep import decode_frame_columns
from server.core.world import World, export_world, import_world
from server.errors import InvalidState
from server.gamedef.schema import GameDefinition


class Simulation:
    """One match's world and the processor that steps it."""

    def __init__(
        self,
        definition: GameDefinition,
        match_index: int = 0,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.definition = definition
        self.world = World(
            definition.components, definition.archetypes, definition.world.initial_capacity
        )
        self.rng = match_rng(definition.seed, match_index)
        self.processor = FrameProcessor(definition, self.world, self.rng, timer)
        self.tick = 0
        """The last tick stepped (0 before the first step)."""

    def spawn_initial(self) -> None:
        """Queue the definition's ``[[spawns]]`` (applied at the start of the next step)."""
        w = self.definition.world
        scale = w.subunits_per_unit
        for spawn in self.definition.spawns:
            n = spawn.count
            if n == 0:
                continue
            values: dict[str, NDArray[np.generic] | int | float] = {
                "position.x": self.rng.integers(0, int(w.width_units * scale), n, dtype=np.int32),
                "position.y": self.rng.integers(0, int(w.height_units * scale), n, dtype=np.int32),
            }
            arch = self.definition.archetype(spawn.archetype)
            if "velocity" in arch.components and spawn.speed_units_per_s > 0:
                angle = self.rng.random(n) * (2.0 * np.pi)
                speed = spawn.speed_units_per_s * scale
                values["velocity.x"] = np.round(np.cos(angle) * speed).astype(np.int32)
                values["velocity.y"] = np.round(np.sin(angle) * speed).astype(np.int32)
            self.processor.commands.spawn_many(spawn.archetype, n, values)

    def queue_player(self) -> EntityId:
        """Queue a player entity at a random position; its id is usable at once."""
        w = self.definition.world
        scale = w.subunits_per_unit
        x = int(self.rng.integers(0, int(w.width_units * scale)))
        y = int(self.rng.integers(0, int(w.height_units * scale)))
        return self.processor.commands.spawn(
            self.definition.player_archetype, {"position.x": x, "position.y": y}
        )

    def netid_of(self, eid: EntityId) -> int | None:
        """The network id of a live or queued entity (None if it is neither)."""
        if self.world.is_alive(eid):
            return int(self.world.netids[self.world.slot_of(eid)])
        return self.processor.commands.pending_netid(eid)

    def queue_despawn(self, eid: EntityId) -> None:
        """Queue removal of an entity (ignored if it is already gone)."""
        self.processor.commands.despawn(eid)

    def apply_commands(self) -> None:
        """Apply queued spawns/despawns now (between ticks), e.g. before a full snapshot."""
        self.processor.commands.apply()

    def step(self, inputs: InputBatch | None = None) -> FrameResult:
        """Advance one tick."""
        self.tick += 1
        return self.processor.step(self.tick, inputs)

    def checksum(self) -> int:
        """The world checksum (see :func:`server.core.determinism.world_checksum`)."""
        return world_checksum(self.world)


def replica_rules(sim: Simulation) -> dict[str, object]:
    """What a lockstep replica needs of the definition besides the state (msgpack-friendly).

    ``components`` in declaration order (component ``i`` is bit ``i`` of ``has``),
    ``archetypes`` with their kind ids, and the resolved pipeline in run order (every
    parameter filled in). ``hash`` is the SHA-256 of this map's canonical JSON without
    ``hash``, so a replica can tell two rule sets apart. See docs/lockstep.md.
    """
    d = sim.definition
    rules: dict[str, object] = {
        "name": d.name,
        "tick_rate_hz": d.tick_rate_hz,
        "world": {
            "width_units": d.world.width_units,
            "height_units": d.world.height_units,
            "subunits_per_unit": d.world.subunits_per_unit,
        },
        "components": [[c.name, [list(f) for f in c.fields]] for c in d.components],
        "archetypes": [[a.name, a.kind_id, list(a.components)] for a in d.archetypes],
        "player_archetype": d.player_archetype,
        # Declared [input] fields (name, dtype) in wire order; the arena's two sticks if none.
        "inputs": [[f.name, f.dtype] for f in getattr(d, "inputs", ())]
        or [["x", "int8"], ["y", "int8"]],
        "pipeline": [
            [s.phase.key, s.spec.name, dict(s.params)] for s in sim.processor.pipeline.systems()
        ],
    }
    canonical = json.dumps(rules, sort_keys=True, separators=(",", ":")).encode()
    rules["hash"] = hashlib.sha256(canonical).hexdigest()
    return rules


def export_simulation(sim: Simulation) -> dict[str, object]:
    """A checkpoint of ``sim``: world, rng state and tick (msgpack-friendly)."""
    return {
        "tick": sim.tick,
        "world": export_world(sim.world),
        "rng": sim.rng.export(),
    }


def import_simulation(sim: Simulation, checkpoint: dict[str, object]) -> None:
    """Restore a checkpoint into ``sim`` (built from the same definition)."""
    sim.processor.commands.apply()
    import_world(sim.world, checkpoint["world"])  # type: ignore[arg-type]
    sim.rng.restore(checkpoint["rng"])  # type: ignore[arg-type]
    sim.tick = int(checkpoint["tick"])  # type: ignore[call-overload]
    sim.processor.rebuild_index()


class LockstepReplica:
    """Applies lockstep frames to a simulation, exactly as the server does.

    The server's lockstep match and every client replica use this class, so the order of
    operations per frame is the same everywhere: leaves, then joins (a seat may be
    reused in one frame), then the changed inputs, then one step.
    """

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.seat_entity: dict[int, EntityId] = {}

    def apply(
        self,
        frame: int,
        joins: list[int] | tuple[int, ...],
        leaves: list[int] | tuple[int, ...],
        seats: NDArray[np.int64],
        x: NDArray[np.int8],
        y: NDArray[np.int8],
    ) -> FrameResult:
        """Step the simulation to ``frame`` (default stick inputs)."""
        return self.apply_columns(frame, joins, leaves, seats, {"x": x, "y": y})

    def apply_body(self, body: Mapping[str, Any]) -> FrameResult:
        """Decode one ``LOCKSTEP_FRAME`` body (any game's input fields) and apply it."""
        fields = [(f.name, f.dtype) for f in self.sim.definition.inputs]
        return self.apply_columns(*decode_frame_columns(body, fields))

    def apply_columns(
        self,
        frame: int,
        joins: list[int] | tuple[int, ...],
        leaves: list[int] | tuple[int, ...],
        seats: NDArray[np.int64],
        columns: Mapping[str, NDArray[Any]],
    ) -> FrameResult:
        """Step the simulation to ``frame`` (which must be the next tick).

        ``columns``: the changed seats' values per input field (as in the frame).
        """
        return self.sim.step(self.prepare_columns(frame, joins, leaves, seats, columns))

    def prepare_columns(
        self,
        frame: int,
        joins: list[int] | tuple[int, ...],
        leaves: list[int] | tuple[int, ...],
        seats: NDArray[np.int64],
        columns: Mapping[str, NDArray[Any]],
    ) -> InputBatch:
        """Everything of :meth:`apply_columns` but the step: leaves and joins queued, and
        the inputs of the step returned (a batch steps many replicas at once)."""
        if frame != self.sim.tick + 1:
            raise InvalidState(f"lockstep frame {frame} applied after tick {self.sim.tick}")
        for seat in leaves:
            eid = self.seat_entity.pop(seat, None)
            if eid is not None:
                self.sim.queue_despawn(eid)
        for seat in joins:
            self.seat_entity[seat] = self.sim.queue_player()
        seat_entity = self.seat_entity
        eids = np.array([seat_entity.get(s, -1) for s in seats.tolist()], dtype=np.int64)
        if self.sim.definition.inputs_declared:
            return InputBatch.of_columns(eids, columns)
        return InputBatch(eids, columns["x"], columns["y"])

    def export(self) -> dict[str, object]:
        """Checkpoint: the simulation plus ``[seat, entity id, net id]`` per seated player."""
        sim = self.sim
        items = sorted(self.seat_entity.items())
        seats = np.fromiter((s for s, _ in items), np.int64, len(items))
        eids = np.fromiter((e for _, e in items), np.int64, len(items))
        # Net ids of every seat at once (a thousand players: one gather, not a thousand
        # lookups); a player queued but not yet spawned has its pending id.
        slots = sim.world.entities.slots_of(eids)
        netids = np.zeros(len(items), np.int64)
        live = slots >= 0
        netids[live] = sim.world.netids[slots[live]]
        for k in np.flatnonzero(~live).tolist():
            netids[k] = sim.netid_of(EntityId(int(eids[k]))) or 0
        return {
            "sim": export_simulation(sim),
            "seats": np.stack([seats, eids, netids], axis=1).tolist(),
        }

    def restore(self, checkpoint: dict[str, object]) -> None:
        """Load a checkpoint made by :meth:`export`."""
        import_simulation(self.sim, checkpoint["sim"])  # type: ignore[arg-type]
        self.seat_entity = {
            int(row[0]): EntityId(int(row[1]))
            for row in checkpoint["seats"]  # type: ignore[attr-defined]
        }

"""Deferred structural changes: spawns and despawns issued during a tick.

A system (or the match) records changes in a :class:`CommandBuffer`; the frame
processor applies them between phases, so no column is resized or compacted while a
system holds a view of it (the same idea as bevy ``Commands`` and flecs sync points).
Entity ids are allocated when the spawn is queued, so callers can keep them at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from server.core.entity import EntityId
from server.core.world import World


@dataclass(slots=True)
class _Spawn:
    archetype: str
    eids: NDArray[np.int64]
    values: Mapping[str, NDArray[np.generic] | int | float]


@dataclass(slots=True)
class AppliedCommands:
    """What applying a buffer changed: network ids spawned and despawned."""

    spawned_netids: NDArray[np.uint32] = field(default_factory=lambda: np.zeros(0, dtype=np.uint32))
    despawned_netids: NDArray[np.uint32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.uint32)
    )
    spawned: list[tuple[str, NDArray[np.int64], NDArray[np.uint32]]] = field(default_factory=list)
    """``(archetype, entity ids, netids)`` per spawn batch, in the order applied."""


class CommandBuffer:
    """A queue of spawns and despawns, applied in order by :meth:`apply`."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._spawns: list[_Spawn] = []
        self._despawns: list[NDArray[np.int64]] = []

    def __len__(self) -> int:
        return len(self._spawns) + len(self._despawns)

    def spawn(self, archetype: str, values: Mapping[str, int | float] | None = None) -> EntityId:
        """Queue one entity; its id is valid (alive) once the buffer is applied."""
        eid = self._world.entities.allocate()
        self._spawns.append(_Spawn(archetype, np.array([eid], dtype=np.int64), dict(values or {})))
        return eid

    def spawn_many(
        self,
        archetype: str,
        count: int,
        values: Mapping[str, NDArray[np.generic] | int | float] | None = None,
    ) -> NDArray[np.int64]:
        """Queue ``count`` entities of one archetype with per-field arrays or scalars."""
        eids = self._world.entities.allocate_many(count)
        self._spawns.append(_Spawn(archetype, eids, dict(values or {})))
        return eids

    def pending_netid(self, eid: EntityId) -> int | None:
        """The network id a queued spawn of ``eid`` will get on apply (None if not queued).

        Spawns are applied in queue order and netids are handed out consecutively, so the
        id is known as soon as the spawn is queued.
        """
        netid = self._world.next_netid
        for s in self._spawns:
            hit = np.flatnonzero(s.eids == eid)
            if len(hit):
                return netid + int(hit[0])
            netid += len(s.eids)
        return None

    def despawn(self, eid: EntityId | NDArray[np.int64]) -> None:
        """Queue removal of one or many entities (stale ids are ignored on apply)."""
        self._despawns.append(np.atleast_1d(np.asarray(eid, dtype=np.int64)))

    def apply(self) -> AppliedCommands:
        """Apply spawns, then despawns, in the order queued; empty the buffer."""
        out = AppliedCommands()
        if not self._spawns and not self._despawns:
            return out
        spawned: list[NDArray[np.uint32]] = []
        for s in self._spawns:
            netids = self._world.spawn_batch(s.archetype, s.eids, s.values)
            spawned.append(netids)
            out.spawned.append((s.archetype, s.eids, netids))
        if self._despawns:
            out.despawned_netids = self._world.despawn_batch(np.concatenate(self._despawns))
        if spawned:
            out.spawned_netids = np.concatenate(spawned)
        self._spawns.clear()
        self._despawns.clear()
        return out

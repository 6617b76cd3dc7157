"""Generation-checked entity ids.

An :data:`EntityId` packs ``(generation << 32) | handle``. The handle indexes a sparse
table that maps to the entity's current dense storage slot; the generation is bumped
every time a handle is freed, so an id kept after its entity died is rejected instead
of silently aliasing a new entity that reused the handle.
"""

from __future__ import annotations

from typing import NewType

import numpy as np
from numpy.typing import NDArray

from server.errors import InvalidState

EntityId = NewType("EntityId", int)
NetId = NewType("NetId", int)

_HANDLE_MASK = 0xFFFF_FFFF


def make_entity_id(handle: int, generation: int) -> EntityId:
    """Pack a handle and its generation into one id."""
    return EntityId((generation << 32) | handle)


def split_entity_id(eid: int) -> tuple[int, int]:
    """``(handle, generation)`` of an id."""
    return eid & _HANDLE_MASK, eid >> 32


class EntityAllocator:
    """Hands out handles with generations and tracks handle -> dense slot.

    Freed handles are reused LIFO, but with a bumped generation, so stale ids never alias.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._generation = np.zeros(capacity, dtype=np.uint32)
        self._slot = np.full(capacity, -1, dtype=np.int64)
        self._free: list[int] = []
        self._next = 0

    def allocate(self) -> EntityId:
        """A fresh id whose handle has no slot yet (see :meth:`set_slots`)."""
        if self._free:
            handle = self._free.pop()
        else:
            handle = self._next
            self._next += 1
            if handle >= len(self._slot):
                self._grow(handle + 1)
        return make_entity_id(handle, int(self._generation[handle]))

    def allocate_many(self, count: int) -> NDArray[np.int64]:
        """``count`` fresh ids as an int64 array (no reuse of freed handles, for speed)."""
        start = self._next
        self._next += count
        if self._next > len(self._slot):
            self._grow(self._next)
        handles = np.arange(start, start + count, dtype=np.int64)
        return (self._generation[handles].astype(np.int64) << 32) | handles

    def _grow(self, needed: int) -> None:
        size = max(needed, 2 * len(self._slot))
        gen = np.zeros(size, dtype=np.uint32)
        gen[: len(self._generation)] = self._generation
        slot = np.full(size, -1, dtype=np.int64)
        slot[: len(self._slot)] = self._slot
        self._generation, self._slot = gen, slot

    def is_alive(self, eid: int) -> bool:
        """True when ``eid`` names a live entity with a storage slot."""
        handle, gen = split_entity_id(eid)
        return (
            handle < self._next
            and int(self._generation[handle]) == gen
            and int(self._slot[handle]) >= 0
        )

    def slot_of(self, eid: int) -> int:
        """The dense slot of a live entity; :class:`InvalidState` for a stale or unknown id."""
        if not self.is_alive(eid):
            raise InvalidState(f"entity {eid:#x} is not alive (stale or unknown id)")
        return int(self._slot[eid & _HANDLE_MASK])

    def slots_of(self, eids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Slots of many ids; -1 where an id is stale or unknown."""
        handles = eids & _HANDLE_MASK
        gens = eids >> 32
        ok = handles < self._next
        out = np.full(len(eids), -1, dtype=np.int64)
        h = handles[ok]
        good = self._generation[h].astype(np.int64) == gens[ok]
        idx = np.flatnonzero(ok)[good]
        out[idx] = self._slot[handles[idx]]
        return out

    def set_slots(self, eids: NDArray[np.int64], slots: NDArray[np.int64]) -> None:
        """Record where entities now live in dense storage."""
        self._slot[eids & _HANDLE_MASK] = slots

    def free(self, eids: NDArray[np.int64]) -> None:
        """Release ids: their handles get a new generation and no slot."""
        handles = eids & _HANDLE_MASK
        self._slot[handles] = -1
        self._generation[handles] += 1
        self._free.extend(int(h) for h in handles)

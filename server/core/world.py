"""The world: entity components stored as numpy columns (structure of arrays).

Storage contract:

- Every field of every component declared by the game definition is one numpy column,
  keyed ``"component.field"`` (``"position.x"``). All columns share the dense slot index
  ``0 .. count-1``; :meth:`World.col` returns the live view ``column[:count]``.
- Which components an entity has is a bit mask column (``has``); systems select with
  :meth:`World.mask`. An entity's archetype id is the ``kind`` column.
- Despawning compacts the columns stably (order-preserving): iteration order is spawn
  order, which lockstep determinism relies on, and systems never need an alive mask.
  Measured against an alive mask in docs/architecture.md; compaction happens only on
  ticks that despawn, as one vectorised copy per column.
- ``netid`` is the stable network id of each entity (monotonic, never the slot).
- Structural changes (spawn, despawn) go through :class:`server.core.commands.CommandBuffer`
  and are applied between phases, never while a system iterates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.entity import EntityAllocator, EntityId
from server.errors import InvalidState
from server.gamedef.schema import ArchetypeDef, ComponentDef


class World:
    """Component columns for every entity of one match."""

    def __init__(
        self,
        components: Iterable[ComponentDef],
        archetypes: Iterable[ArchetypeDef],
        initial_capacity: int = 1024,
    ) -> None:
        self._components = {c.name: c for c in components}
        if len(self._components) > 32:
            raise InvalidState("at most 32 components are supported (bit mask is uint32)")
        self._bits = {name: np.uint32(1 << i) for i, name in enumerate(self._components)}
        self._archetypes = {a.name: a for a in archetypes}
        self._capacity = max(16, initial_capacity)
        self.count = 0
        self._columns: dict[str, NDArray[Any]] = {}
        for comp in self._components.values():
            for fname, dtype in comp.fields:
                self._columns[f"{comp.name}.{fname}"] = np.zeros(self._capacity, dtype=dtype)
        self._columns["has"] = np.zeros(self._capacity, dtype=np.uint32)
        self._columns["kind"] = np.zeros(self._capacity, dtype=np.uint8)
        self._columns["netid"] = np.zeros(self._capacity, dtype=np.uint32)
        self._columns["entity"] = np.zeros(self._capacity, dtype=np.int64)
        self.entities = EntityAllocator(self._capacity)
        self._next_netid = 1
        self.version = 0
        """Bumped by every structural change (spawn, despawn, import): rows moved."""
        self.stack: object | None = None
        """The batch stack whose rows this world's columns are views of, if any
        (:mod:`server.core.batch.stack`); only that module reads or sets it."""

    # -- reading -----------------------------------------------------------------

    @property
    def column_names(self) -> tuple[str, ...]:
        """Every component column key, in declaration order (then bookkeeping columns)."""
        return tuple(self._columns)

    def component_columns(self, component: str) -> list[str]:
        """The column keys of ``component``'s fields (``["position.x", "position.y"]``)."""
        return [f"{component}.{f}" for f, _ in self._components[component].fields]

    def col(self, key: str) -> NDArray[Any]:
        """The live view ``column[:count]`` of ``"component.field"`` (writable)."""
        return self._columns[key][: self.count]

    def mask(self, *components: str) -> NDArray[np.bool_]:
        """True for live entities that have every one of ``components``."""
        bits = np.uint32(0)
        for c in components:
            bits |= self._bits[c]
        has: NDArray[np.uint32] = self._columns["has"][: self.count]
        result: NDArray[np.bool_] = (has & bits) == bits
        return result

    def has_component(self, name: str) -> bool:
        """Whether the definition declares component ``name``."""
        return name in self._components

    @property
    def next_netid(self) -> int:
        """The network id the next spawned entity will get (ids are never reused)."""
        return self._next_netid

    @property
    def netids(self) -> NDArray[np.uint32]:
        """Network ids of live entities, by slot."""
        view: NDArray[np.uint32] = self._columns["netid"][: self.count]
        return view

    def slot_of(self, eid: EntityId) -> int:
        """Dense slot of a live entity; InvalidState for a stale id."""
        return self.entities.slot_of(eid)

    def is_alive(self, eid: EntityId) -> bool:
        """Whether ``eid`` names a live entity."""
        return self.entities.is_alive(eid)

    # -- structural changes (called by CommandBuffer.apply) -----------------------

    def _ensure_capacity(self, needed: int) -> None:
        if needed <= self._capacity:
            return
        size = max(needed, 2 * self._capacity)
        for key, arr in self._columns.items():
            grown = np.zeros(size, dtype=arr.dtype)
            grown[: self.count] = arr[: self.count]
            self._columns[key] = grown
        self._capacity = size

    def spawn_batch(
        self,
        archetype: str,
        eids: NDArray[np.int64],
        values: Mapping[str, NDArray[Any] | int | float],
    ) -> NDArray[np.uint32]:
        """Place already-allocated ``eids`` of one archetype; return their new netids.

        ``values`` maps ``"component.field"`` to an array of len(eids) or a scalar;
        unspecified fields are zero. Fields of components the archetype lacks are an error.
        """
        arch = self._archetypes.get(archetype)
        if arch is None:
            raise InvalidState(f"unknown archetype {archetype!r}")
        n = len(eids)
        start = self.count
        self._ensure_capacity(start + n)
        end = start + n
        allowed = set(arch.components)
        # Rows past ``count`` may hold a despawned entity's values (compaction leaves
        # them there): every field not given must read zero.
        for arr in self._columns.values():
            arr[start:end] = 0
        for key, value in values.items():
            comp = key.split(".", 1)[0]
            if comp not in allowed:
                raise InvalidState(f"archetype {archetype!r} has no component {comp!r} ({key})")
            self._columns[key][start:end] = value
        bits = np.uint32(0)
        for c in arch.components:
            bits |= self._bits[c]
        self._columns["has"][start:end] = bits
        self._columns["kind"][start:end] = arch.kind_id
        netids = np.arange(self._next_netid, self._next_netid + n, dtype=np.uint32)
        self._next_netid += n
        self._columns["netid"][start:end] = netids
        self._columns["entity"][start:end] = eids
        self.entities.set_slots(eids, np.arange(start, end, dtype=np.int64))
        self.count = end
        self.version += 1
        return netids

    def despawn_batch(self, eids: NDArray[np.int64]) -> NDArray[np.uint32]:
        """Remove live entities (stale ids are ignored); return the netids removed.

        Compacts every column stably, so the survivors keep their relative order.
        """
        slots = self.entities.slots_of(eids)
        slots = np.unique(slots[slots >= 0])
        if len(slots) == 0:
            return np.zeros(0, dtype=np.uint32)
        keep = np.ones(self.count, dtype=bool)
        keep[slots] = False
        removed_netids = self._columns["netid"][slots].copy()
        removed_eids = self._columns["entity"][slots].copy()
        new_count = int(keep.sum())
        for arr in self._columns.values():
            arr[:new_count] = arr[: self.count][keep]
        self.count = new_count
        self.version += 1
        self.entities.free(removed_eids)
        self.entities.set_slots(
            self._columns["entity"][:new_count], np.arange(new_count, dtype=np.int64)
        )
        result: NDArray[np.uint32] = removed_netids
        return result

    # -- whole-world views ---------------------------------------------------------

    def canonical_columns(self) -> list[tuple[str, NDArray[Any]]]:
        """Every column's live view in a fixed order (name-sorted), for checksums."""
        return [(k, self._columns[k][: self.count]) for k in sorted(self._columns)]


def export_world(world: World) -> dict[str, object]:
    """Everything needed to rebuild ``world`` bit for bit (msgpack-friendly).

    Column and allocator bytes are little-endian whatever the host (docs/lockstep.md).
    """
    alloc = world.entities
    return {
        "count": world.count,
        "next_netid": world._next_netid,
        "columns": {
            k: [str(a.dtype), a[: world.count].astype(a.dtype.newbyteorder("<")).tobytes()]
            for k, a in world._columns.items()
        },
        "alloc_next": alloc._next,
        "alloc_gen": alloc._generation[: alloc._next].astype("<u4").tobytes(),
        "alloc_slot": alloc._slot[: alloc._next].astype("<i8").tobytes(),
        "alloc_free": list(alloc._free),
    }


def import_world(world: World, state: dict[str, object]) -> None:
    """Overwrite ``world`` (built from the same definition) with an exported state."""
    count = int(state["count"])  # type: ignore[call-overload]
    columns: dict[str, list[object]] = state["columns"]  # type: ignore[assignment]
    if set(columns) != set(world._columns):
        raise InvalidState("checkpoint columns do not match this game definition")
    world._ensure_capacity(count)
    for key, (dtype, raw) in columns.items():
        arr = np.frombuffer(raw, dtype=np.dtype(str(dtype)).newbyteorder("<"))  # type: ignore[call-overload]
        if len(arr) != count:
            raise InvalidState(f"checkpoint column {key} has {len(arr)} rows, expected {count}")
        world._columns[key][:count] = arr
    world.count = count
    world.version += 1
    world._next_netid = int(state["next_netid"])  # type: ignore[call-overload]
    alloc = world.entities
    n = int(state["alloc_next"])  # type: ignore[call-overload]
    if n > len(alloc._slot):
        alloc._grow(n)
    alloc._generation[:n] = np.frombuffer(state["alloc_gen"], dtype="<u4")  # type: ignore[call-overload]
    alloc._slot[:n] = np.frombuffer(state["alloc_slot"], dtype="<i8")  # type: ignore[call-overload]
    alloc._next = n
    alloc._free = [int(h) for h in state["alloc_free"]]  # type: ignore[attr-defined]

"""A bot's copy of what the server sent it, kept in dense numpy arrays.

A bot applies one ``STATE`` frame per snapshot (20 per second), and a process runs up
to a thousand bots, so the mirror must cost a few microseconds per frame: positions are
stored packed (``qx | qy << 16``, the wire layout) in an array indexed by net id, and
each frame is applied with a handful of whole-array writes, never a loop over entities.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from numpy.typing import NDArray

from client_sim.schema import GameSchema

_ID_DTYPE: dict[int, np.dtype[Any]] = {2: np.dtype("<u2"), 4: np.dtype("<u4")}
_POS_DTYPE = np.dtype("<u4")


class NetMirror:
    """Net id -> (kind, packed quantized position), rebuilt from full and delta frames.

    Arrays grow (doubling) to the highest net id seen. ``known`` marks which ids the
    bot currently holds; an id is known after it entered and until it left.

    Games with replicated fields (``STATE`` ``r``) and events (``v``) need the schema
    from ``WELCOME`` (:meth:`set_schema`): then ``values[i]`` holds field ``i``'s value
    (raw times step, float64) per net id and ``has[i]`` whether it was sent since the
    entity entered; ``event_counts`` counts every event received by name, and
    ``events`` holds the newest frame's events as ``(name, {field: array})``. A frame
    without ``r``/``v`` (the arena's) costs two dict look-ups more than before.
    """

    __slots__ = (
        "count",
        "event_counts",
        "events",
        "events_lost",
        "events_total",
        "has",
        "kind",
        "known",
        "pos",
        "schema",
        "strict",
        "tick",
        "values",
    )

    def __init__(self, capacity: int = 1024, strict: bool = False) -> None:
        self.pos: NDArray[np.uint32] = np.zeros(capacity, np.uint32)
        self.kind: NDArray[np.uint8] = np.zeros(capacity, np.uint8)
        self.known: NDArray[np.bool_] = np.zeros(capacity, np.bool_)
        self.tick = -1
        self.count = 0
        self.strict = strict
        """Check that every changed id is held (costs a gather per frame; checker bots)."""
        self.schema: GameSchema | None = None
        self.values: NDArray[np.float64] = np.zeros((0, capacity))
        self.has: NDArray[np.bool_] = np.zeros((0, capacity), np.bool_)
        self.event_counts: Counter[str] = Counter()
        self.events: list[tuple[str, dict[str, NDArray[Any]]]] = []
        self.events_lost = 0
        """Frames that said events for this client were dropped (``o``)."""
        self.events_total = 0
        """Every event received, all names together."""

    def set_schema(self, schema: GameSchema) -> None:
        """Adopt a game's schema (from ``WELCOME``); forgets every field value held."""
        self.schema = schema
        self.values = np.zeros((len(schema.fields), len(self.pos)))
        self.has = np.zeros((len(schema.fields), len(self.pos)), np.bool_)

    def _grow(self, top: int) -> None:
        size = len(self.pos)
        while size <= top:
            size *= 2
        for name in ("pos", "kind", "known"):
            old = getattr(self, name)
            new = np.zeros(size, old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)
        for name in ("values", "has"):
            old = getattr(self, name)
            new = np.zeros((old.shape[0], size), old.dtype)
            new[:, : old.shape[1]] = old
            setattr(self, name, new)

    def apply(self, body: dict[str, Any]) -> None:
        """Apply a decoded ``STATE`` body: clear if full, remove left, insert entered,
        update changed (the order of docs/protocol.md).

        Raises ``KeyError`` for a changed id the mirror does not hold (only when
        ``strict``): the server broke its contract (or a frame was lost), which a load
        test must notice.
        """
        ids_dt = _ID_DTYPE[body["w"]]
        if body["f"]:
            self.known[:] = False
            self.has[:] = False
        left = body["l"]
        if left:
            gone = np.frombuffer(left, ids_dt).astype(np.intp)
            self.known[gone] = False
            if len(self.has):
                self.has[:, gone] = False
        entered = body["e"]
        if entered:
            # Index with intp: numpy converts a uint16 index array on every use,
            # which costs several times the write itself.
            ids = np.frombuffer(entered, ids_dt).astype(np.intp)
            try:
                self.pos[ids] = np.frombuffer(body["p"], _POS_DTYPE)
            except IndexError:  # a net id past the arrays: grow (rare), then write
                self._grow(int(ids.max()))
                self.pos[ids] = np.frombuffer(body["p"], _POS_DTYPE)
            self.kind[ids] = np.frombuffer(body["k"], np.uint8)
            self.known[ids] = True
        changed = body["c"]
        if changed:
            cids = np.frombuffer(changed, ids_dt).astype(np.intp)
            steps = np.frombuffer(body["d"], np.int8).reshape(-1, 2).astype(np.int64)
            if self.strict and (int(cids.max()) >= len(self.pos) or not self.known[cids].all()):
                raise KeyError("changed entity the mirror never received")
            try:
                old = self.pos[cids].astype(np.int64)
            except IndexError:
                raise KeyError("changed entity the mirror never received") from None
            x = (old & 0xFFFF) + steps[:, 0]
            y = (old >> 16) + steps[:, 1]
            self.pos[cids] = (x | (y << 16)).astype(np.uint32)
        moved = body["m"]
        if moved:
            mids = np.frombuffer(moved, ids_dt).astype(np.intp)
            try:
                self.pos[mids] = np.frombuffer(body["q"], _POS_DTYPE)
            except IndexError:
                raise KeyError("moved entity the mirror never received") from None
        columns = body.get("r")
        if columns:
            self._apply_fields(columns, ids_dt)
        events = body.get("v")
        if events:
            self._apply_events(events)
        elif self.events:
            self.events = []
        if body.get("o"):
            self.events_lost += 1
        self.tick = body["t"]
        self.count = -1  # computed lazily: counting costs a pass over the array

    def _apply_fields(self, columns: list[Any], ids_dt: np.dtype[Any]) -> None:
        """``r``: ``[[field_index, ids, values], ...]``; value = raw * step."""
        schema = self.schema
        if schema is None:
            raise KeyError("replicated fields before a WELCOME schema")
        for index, raw_ids, raw_values in columns:
            spec = schema.fields[index]
            ids = np.frombuffer(raw_ids, ids_dt).astype(np.intp)
            if self.strict and (int(ids.max()) >= len(self.pos) or not self.known[ids].all()):
                raise KeyError(f"field {spec.name} for an entity the mirror never received")
            values = np.frombuffer(raw_values, spec.dtype).astype(np.float64)
            if spec.step is not None:
                values *= spec.step
            try:
                self.values[index, ids] = values
            except IndexError:
                self._grow(int(ids.max()))
                self.values[index, ids] = values
            self.has[index, ids] = True

    def _apply_events(self, batches: list[Any]) -> None:
        """``v``: ``[[event_index, count, [column, ...]], ...]`` in emission order."""
        schema = self.schema
        if schema is None:
            raise KeyError("events before a WELCOME schema")
        events: list[tuple[str, dict[str, NDArray[Any]]]] = []
        for index, count, cols in batches:
            spec = schema.events[index]
            decoded = {
                fname: np.frombuffer(col, dtype)
                for (fname, dtype), col in zip(spec.fields, cols, strict=True)
            }
            if any(len(col) != count for col in decoded.values()):
                raise KeyError(f"event {spec.name}: columns are not {count} long")
            events.append((spec.name, decoded))
            self.event_counts[spec.name] += count
            self.events_total += count
        self.events = events

    def field_values(self, name: str) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """``(net ids, values)`` of every held entity that has field ``name``."""
        spec = self.schema.field(name) if self.schema is not None else None
        if spec is None:
            return np.zeros(0, np.intp), np.zeros(0)
        ids = np.flatnonzero(self.known & self.has[spec.index])
        return ids, self.values[spec.index, ids]

    def value(self, netid: int, name: str) -> float | None:
        """Field ``name`` of ``netid`` (None when not held or never sent)."""
        spec = self.schema.field(name) if self.schema is not None else None
        if spec is None or netid < 0 or netid >= len(self.pos):
            return None
        if not (self.known[netid] and self.has[spec.index, netid]):
            return None
        return float(self.values[spec.index, netid])

    def entity_count(self) -> int:
        """How many entities the bot currently holds."""
        if self.count < 0:
            self.count = int(np.count_nonzero(self.known))
        return self.count

    def position_steps(self, netid: int) -> tuple[int, int] | None:
        """Quantized ``(qx, qy)`` of ``netid``, or None when not held."""
        if netid < 0 or netid >= len(self.pos) or not self.known[netid]:
            return None
        packed = int(self.pos[netid])
        return packed & 0xFFFF, packed >> 16

    def positions(self) -> tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.int64]]:
        """``(net ids, qx, qy)`` of every held entity."""
        ids = np.flatnonzero(self.known)
        packed = self.pos[ids].astype(np.int64)
        return ids, packed & 0xFFFF, packed >> 16

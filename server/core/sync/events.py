"""Events to clients (state sync): audience, exactly-once order, and a bounded backlog.

Systems emit event batches into ``ctx.events`` (``(name, {field: array})``, one row per
event, entity references as net ids). After each tick the match hands that tick's
batches to :meth:`EventRouter.route`, which encodes, for every seat, the rows its
audience rule gives it and appends them to the seat's queue; the seat's next ``STATE``
frame takes the whole queue (:meth:`EventRouter.take`). So each event reaches each
recipient once, in emission order (tick, then emit order, then row), in the next frame
built for that client -- also when ticks between snapshots emit, when a slow reader
skips frames, and while a dropped seat waits to be resumed.

Audience (``[events.<name>] audience``):

- ``all``: every routed seat (the rows are encoded once and shared);
- ``interest``: seats whose mirror held entity ``at`` at their last frame, or whose
  view now contains it (distance to the viewer <= the interest radius, which is what
  the next frame's visibility query tests); spectators get every row;
- ``owner`` / ``target``: the seat whose player entity's net id is in field ``to``.

A queue holds at most ``event_backlog`` events; beyond that the oldest batches are
dropped and the next frame says so (``o: true``). Undeclared event names are
server-internal and never routed. A declared event emitted without one of its fields
raises :class:`EventFieldMissing` (the match fails: a system bug).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.sync.fields import WIRE_NUMPY
from server.core.sync.msgbytes import array_header, bin_header, uint
from server.errors import GameServerError
from server.gamedef.schema import EventDef, GameDefinition

_K_V = b"\xa1v"
_K_O_TRUE = b"\xa1o\xc3"

Batch = tuple[str, dict[str, NDArray[Any]]]
KnownFn = Callable[[NDArray[np.int64], NDArray[np.int64]], NDArray[np.bool_]]
"""``known(seats, netids)`` -> ``[len(netids), len(seats)]``: held at the last frame."""


class EventFieldMissing(GameServerError):
    """A declared event was emitted without one of its declared fields."""


def _bin(data: bytes) -> bytes:
    return bin_header(len(data)) + data


class EventRouter:
    """Per-seat queues of encoded event batches for one kind of recipient."""

    def __init__(self, definition: GameDefinition, spectators: bool = False) -> None:
        self.defs: dict[str, tuple[int, EventDef]] = {
            e.name: (i, e) for i, e in enumerate(definition.events)
        }
        self.backlog = definition.sync.event_backlog
        self.radius_units = definition.sync.interest_radius_units
        self.spectators = spectators
        self._queues: dict[int, deque[tuple[int, bytes]]] = {}
        self._counts: dict[int, int] = {}
        self._lost: set[int] = set()
        self.routed = 0
        """Events appended to queues so far (one per recipient), for metrics."""
        self.dropped = 0
        """Events dropped from full queues so far."""

    def forget(self, seat: int) -> None:
        """Drop ``seat``'s queue (the seat left, or a new player took it)."""
        self._queues.pop(seat, None)
        self._counts.pop(seat, None)
        self._lost.discard(seat)

    def pending(self, seat: int) -> int:
        """Events waiting for ``seat``'s next frame."""
        return self._counts.get(seat, 0)

    def take(self, seat: int) -> tuple[int, bytes]:
        """``(key count, bytes)`` of ``v`` (and ``o``) for ``seat``'s frame; empties its queue."""
        q = self._queues.pop(seat, None)
        self._counts.pop(seat, None)
        lost = seat in self._lost
        self._lost.discard(seat)
        if not q and not lost:
            return 0, b""
        keys, out = 0, b""
        if q:
            keys, out = 1, _K_V + array_header(len(q)) + b"".join(f for _, f in q)
        if lost:
            keys, out = keys + 1, out + _K_O_TRUE
        return keys, out

    def _push(self, seat: int, count: int, fragment: bytes) -> None:
        q = self._queues.get(seat)
        if q is None:
            q = self._queues[seat] = deque()
        q.append((count, fragment))
        total = self._counts.get(seat, 0) + count
        self.routed += count
        while total > self.backlog and q:
            dropped, _ = q.popleft()
            total -= dropped
            self.dropped += dropped
            self._lost.add(seat)
        self._counts[seat] = total

    def route(
        self,
        batches: Sequence[Batch],
        seats: NDArray[np.int64],
        seat_netids: NDArray[np.int64],
        viewer_x: NDArray[np.float64],
        viewer_y: NDArray[np.float64],
        locate: Callable[[NDArray[np.int64]], tuple[NDArray[np.bool_], NDArray[Any], NDArray[Any]]],
        known: KnownFn,
    ) -> None:
        """Queue one tick's declared batches for ``seats`` (ascending).

        ``seat_netids``: each seat's player entity net id; ``viewer_x``/``viewer_y``:
        each seat's point of view (world units); ``locate(netids)`` -> ``(alive, x, y)``
        in world units; ``known`` as :data:`KnownFn`. Spectator routers ignore the
        per-seat arguments except ``seats``.
        """
        if len(seats) == 0:
            return
        for name, fields in batches:
            entry = self.defs.get(name)
            if entry is None:
                continue
            index, d = entry
            cols = self._columns(d, fields)
            n = len(cols[0]) if cols else _rows(fields)
            if n == 0:
                continue
            if d.audience == "all" or (self.spectators and d.audience == "interest"):
                frag = self._fragment(index, n, [c.tobytes() for c in cols])
                for s in seats.tolist():
                    self._push(s, n, frag)
                continue
            if self.spectators:
                continue  # owner/target events go to players only
            if d.audience == "interest":
                assert d.at is not None
                at = np.asarray(fields[d.at], dtype=np.int64)
                alive, ex, ey = locate(at)
                dx = ex[:, None] - viewer_x[None, :]
                dy = ey[:, None] - viewer_y[None, :]
                near = alive[:, None] & (dx * dx + dy * dy <= self.radius_units**2)
                mask = near | known(seats, at)
            else:
                assert d.to is not None
                to = np.asarray(fields[d.to], dtype=np.int64)
                mask = to[:, None] == seat_netids[None, :]
            s_idx, rows = np.nonzero(mask.T)  # by seat, then row: emission order kept
            if len(rows) == 0:
                continue
            starts = np.flatnonzero(np.r_[True, s_idx[1:] != s_idx[:-1]])
            ends = np.r_[starts[1:], len(rows)]
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                sel = rows[a:b]
                frag = self._fragment(index, b - a, [c[sel].tobytes() for c in cols])
                self._push(int(seats[s_idx[a]]), b - a, frag)

    @staticmethod
    def _fragment(index: int, count: int, columns: list[bytes]) -> bytes:
        """``[event_index, count, [column, ...]]`` in msgpack."""
        return b"".join(
            (b"\x93", uint(index), uint(count), array_header(len(columns)), *map(_bin, columns))
        )

    @staticmethod
    def _columns(d: EventDef, fields: dict[str, NDArray[Any]]) -> list[NDArray[Any]]:
        out: list[NDArray[Any]] = []
        for fname, ftype in d.fields:
            if fname not in fields:
                raise EventFieldMissing(
                    f"event {d.name!r} emitted without its declared field {fname!r} "
                    f"(declared: {', '.join(f for f, _ in d.fields)})"
                )
            arr = np.asarray(fields[fname])
            if ftype == "entity":
                out.append(arr.astype("<u4"))
            elif ftype == "bool":
                out.append((arr != 0).astype("<u1"))
            else:
                out.append(arr.astype(WIRE_NUMPY[ftype]))
        return out


def _rows(fields: dict[str, NDArray[Any]]) -> int:
    for arr in fields.values():
        return len(arr)
    return 0

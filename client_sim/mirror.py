"""A bot's copy of what the server sent it, kept in dense numpy arrays.

A bot applies one ``STATE`` frame per snapshot (20 per second), and a process runs up
to a thousand bots, so the mirror must cost a few microseconds per frame: positions are
stored packed (``qx | qy << 16``, the wire layout) in an array indexed by net id, and
each frame is applied with a handful of whole-array writes, never a loop over entities.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

_ID_DTYPE: dict[int, np.dtype[Any]] = {2: np.dtype("<u2"), 4: np.dtype("<u4")}
_POS_DTYPE = np.dtype("<u4")


class NetMirror:
    """Net id -> (kind, packed quantized position), rebuilt from full and delta frames.

    Arrays grow (doubling) to the highest net id seen. ``known`` marks which ids the
    bot currently holds; an id is known after it entered and until it left.
    """

    __slots__ = ("count", "kind", "known", "pos", "strict", "tick")

    def __init__(self, capacity: int = 1024, strict: bool = False) -> None:
        self.pos: NDArray[np.uint32] = np.zeros(capacity, np.uint32)
        self.kind: NDArray[np.uint8] = np.zeros(capacity, np.uint8)
        self.known: NDArray[np.bool_] = np.zeros(capacity, np.bool_)
        self.tick = -1
        self.count = 0
        self.strict = strict
        """Check that every changed id is held (costs a gather per frame; checker bots)."""

    def _grow(self, top: int) -> None:
        size = len(self.pos)
        while size <= top:
            size *= 2
        for name in ("pos", "kind", "known"):
            old = getattr(self, name)
            new = np.zeros(size, old.dtype)
            new[: len(old)] = old
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
        left = body["l"]
        if left:
            self.known[np.frombuffer(left, ids_dt).astype(np.intp)] = False
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
        self.tick = body["t"]
        self.count = -1  # computed lazily: counting costs a pass over the array

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

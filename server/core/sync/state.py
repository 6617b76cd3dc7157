"""Area-of-interest state sync: per-client deltas computed for all clients at once.

Every snapshot tick, one batched radius query over the spatial index gives all
``(viewer, entity)`` pairs. A pair's key is ``seat << 32 | netid``; because viewers are
processed in seat order and the index returns slots in order (and netids grow with
slots -- see :mod:`server.core.world`), the keys come out sorted with no sort at all.
What each client already has is the same kind of sorted key array (``known``), so
entered / changed / left for every client are three ``searchsorted`` passes over
whole arrays, and each client's frame is a handful of byte slices of buffers built
once per tick. The Python work per client is one small dict and one ``packb``.

Baseline ("what the client has"): over a websocket (TCP, ordered, reliable) a frame
handed to the transport is received in order or the connection dies, so the baseline
of the next delta is the last frame *committed* to the transport. A client whose
previous frame is still unsent (a slow reader) is simply not given a new one: its
baseline stays, and the next frame it gets is computed fresh against it
(latest-frame-wins with no stale frame ever built). A reconnecting client gets a full
snapshot. Clients still send ``ack`` (it measures state age), but we do not resend
unacknowledged changes the way a UDP protocol must.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack
import numpy as np
from numpy.typing import NDArray

from server.core.spatial import SpatialIndex

_EMPTY_I64 = np.zeros(0, dtype=np.int64)
_EMPTY_U32 = np.zeros(0, dtype=np.uint32)
STATE_MESSAGE_TYPE = 65
PROTOCOL_VERSION = 1


@dataclass(slots=True)
class StateFrameStats:
    """Counts from one build, for metrics and benchmarks."""

    pairs: int = 0
    entered: int = 0
    changed: int = 0
    left: int = 0
    frames: int = 0
    payload_bytes: int = 0


class InterestSync:
    """Builds state frames for many viewers against what each was last sent."""

    def __init__(self, radius_units: float) -> None:
        self.radius_units = radius_units
        self.known_keys: NDArray[np.int64] = _EMPTY_I64
        self.known_q: NDArray[np.uint32] = _EMPTY_U32
        self.last_stats = StateFrameStats()

    def forget(self, seats: NDArray[np.int64] | list[int]) -> None:
        """Drop what ``seats`` were sent (they left, or will get a full snapshot)."""
        seats = np.asarray(seats, dtype=np.int64)
        if len(self.known_keys) == 0 or len(seats) == 0:
            return
        drop = np.isin(self.known_keys >> 32, seats)
        self.known_keys = self.known_keys[~drop]
        self.known_q = self.known_q[~drop]

    def known_count(self, seat: int) -> int:
        """How many entities ``seat`` currently has in its mirror (for tests and stats)."""
        lo, hi = np.searchsorted(self.known_keys, [seat << 32, (seat + 1) << 32])
        return int(hi - lo)

    def build(
        self,
        tick: int,
        index: SpatialIndex,
        netids: NDArray[np.uint32],
        kinds: NDArray[np.uint8],
        packed_q: NDArray[np.uint32],
        seats: NDArray[np.int64],
        viewer_x: NDArray[np.float64],
        viewer_y: NDArray[np.float64],
        full: NDArray[np.bool_],
    ) -> list[bytes]:
        """One encoded ``state`` message per seat in ``seats`` (ascending, unique).

        ``netids``, ``kinds`` and ``packed_q`` are per slot (the index's ids are slots);
        ``viewer_x``/``viewer_y`` are each seat's point of view in world units; ``full``
        marks seats that get a full snapshot (their mirror is reset). The caller commits
        to sending every returned frame: the baseline advances for all ``seats``.
        """
        stats = StateFrameStats(frames=len(seats))
        if len(seats) == 0:
            self.last_stats = stats
            return []
        if full.any():
            self.forget(seats[full])
        qi, slots = index.query_radius(viewer_x, viewer_y, self.radius_units)
        new_keys = (seats[qi] << 32) | netids[slots].astype(np.int64)
        new_q = packed_q[slots]
        stats.pairs = len(new_keys)

        # Split what is known into the seats we build now and the ones we leave alone.
        known_seat = self.known_keys >> 32
        building = np.zeros(int(max(seats[-1], known_seat.max(initial=0))) + 1, dtype=bool)
        building[seats] = True
        sel = building[known_seat]
        all_selected = bool(sel.all())
        old_keys = self.known_keys if all_selected else self.known_keys[sel]
        old_q = self.known_q if all_selected else self.known_q[sel]

        if len(old_keys):
            pos = np.searchsorted(old_keys, new_keys)
            pos_c = np.minimum(pos, len(old_keys) - 1)
            found = old_keys[pos_c] == new_keys
            changed = found & (old_q[pos_c] != new_q)
            back = np.searchsorted(new_keys, old_keys)
            back_c = np.minimum(back, max(len(new_keys) - 1, 0))
            still = new_keys[back_c] == old_keys if len(new_keys) else np.zeros(len(old_keys), bool)
            left_keys = old_keys[~still]
        else:
            found = np.zeros(len(new_keys), dtype=bool)
            changed = found
            left_keys = _EMPTY_I64
        entered = ~found

        if all_selected:
            self.known_keys, self.known_q = new_keys, new_q
        else:
            keys = np.concatenate([self.known_keys[~sel], new_keys])
            order = np.argsort(keys, kind="stable")  # two sorted runs: a linear merge
            self.known_keys = keys[order]
            self.known_q = np.concatenate([self.known_q[~sel], new_q])[order]

        e_keys = new_keys[entered]
        c_keys = new_keys[changed]
        stats.entered, stats.changed, stats.left = len(e_keys), len(c_keys), len(left_keys)
        max_netid = int(netids.max(initial=0))
        width = 2 if max_netid < 65536 else 4
        id_dtype = "<u2" if width == 2 else "<u4"
        mask32 = np.int64(0xFFFF_FFFF)
        e_ids = (e_keys & mask32).astype(id_dtype).tobytes()
        e_slots = slots[entered]
        e_kind = kinds[e_slots].tobytes()
        e_pos = new_q[entered].astype("<u4").tobytes()
        c_ids = (c_keys & mask32).astype(id_dtype).tobytes()
        c_pos = new_q[changed].astype("<u4").tobytes()
        l_ids = (left_keys & mask32).astype(id_dtype).tobytes()
        eb = _bounds(e_keys >> 32, seats)
        cb = _bounds(c_keys >> 32, seats)
        lb = _bounds(left_keys >> 32, seats)
        full_l = full.tolist()
        packb = msgpack.packb
        out: list[bytes] = []
        total = 0
        for i in range(len(seats)):
            a, b = eb[i], eb[i + 1]
            c, d = cb[i], cb[i + 1]
            e, f = lb[i], lb[i + 1]
            body = {
                "t": tick,
                "f": full_l[i],
                "w": width,
                "e": e_ids[a * width : b * width],
                "k": e_kind[a:b],
                "p": e_pos[a * 4 : b * 4],
                "c": c_ids[c * width : d * width],
                "q": c_pos[c * 4 : d * 4],
                "l": l_ids[e * width : f * width],
            }
            frame: bytes = packb([PROTOCOL_VERSION, STATE_MESSAGE_TYPE, body], use_bin_type=True)
            total += len(frame)
            out.append(frame)
        stats.payload_bytes = total
        self.last_stats = stats
        return out


def _bounds(sorted_seats: NDArray[np.int64], seats: NDArray[np.int64]) -> list[int]:
    """Run starts of each seat in ``sorted_seats`` plus the total: ``len(seats) + 1`` ints.

    ``sorted_seats`` only holds seats from ``seats`` (ascending, unique), so the run of
    ``seats[i]`` is ``[bounds[i], bounds[i + 1])``.
    """
    result: list[int] = np.searchsorted(sorted_seats, seats, side="left").tolist()
    result.append(len(sorted_seats))
    return result

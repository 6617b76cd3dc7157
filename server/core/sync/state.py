"""Area-of-interest state sync: per-client deltas computed for all clients at once.

Every snapshot tick, one batched radius query over the spatial index gives all
``(viewer, entity)`` pairs, grouped by viewer. What each client was sent lives in one
dense matrix indexed ``[seat, handle]`` (the entity allocator's handle: stable for
the entity's life, reused only after it died): ``sent_q``, the quantized position
sent, or ``UNKNOWN``. Entered / changed are then one gather over the pairs,
"left" is the previous tick's visible list minus this tick's, and each client's frame
is a handful of byte slices of buffers built once per tick, joined with pre-encoded
msgpack headers. No sort, no per-client numpy call, no per-entity Python.

Memory is ``rows x handles x 5`` bytes (4 for ``sent_q``, 1 for a scratch mask),
about 10 MB at 1000 clients x 2000 entities;
rows grow only as far as the highest seat in use.

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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.spatial import SpatialIndex
from server.core.sync.msgbytes import FieldRows, bin_header, frame_tails, uint

_EMPTY_I64 = np.zeros(0, dtype=np.int64)
UNKNOWN = np.uint32(0xFFFF_FFFF)
"""Marks "never sent" in ``sent_q``; quantized positions stop at 65534 per axis."""
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
    field_rows: int = 0
    """Replicated-field values sent (one per field per entity per viewer)."""
    field_bytes: int = 0
    """Bytes of those rows' ids and values (``r`` headers excluded): per changed field
    ``w`` + its wire size; ``field_bytes / field_rows`` is the cost of one."""


_BIN8 = [bytes((0xC4, n)) for n in range(256)]
"""Pre-built ``bin 8`` headers: the common case costs one list lookup per field."""

# [1, 65, {t, f, w, e, k, p, c, d, m, q, l}] -- fixarray(3), 1, 65, fixmap(11)
_K_F = b"\xa1f"
_K_W = b"\xa1w"
_K_E = b"\xa1e"
_K_K = b"\xa1k"
_K_P = b"\xa1p"
_K_C = b"\xa1c"
_K_D = b"\xa1d"
_K_M = b"\xa1m"
_K_Q = b"\xa1q"
_K_L = b"\xa1l"
_TRUE = b"\xc3"
_FALSE = b"\xc2"
_EXTRA_KEYS = 4
"""At most this many keys follow ``l`` (``r``, ``v``, ``o``; one spare)."""


class InterestSync:
    """Builds state frames for many viewers against what each was last sent."""

    def __init__(
        self, radius_units: float, fields: Sequence[tuple[np.dtype[Any], bool]] = ()
    ) -> None:
        self.radius_units = radius_units
        self.field_owner_only = [owner for _, owner in fields]
        """Per replicated field (``[sync.replicate]`` order): sent to its owner only."""
        self.field_sent: list[NDArray[Any]] = [np.zeros((0, 0), dtype=d) for d, _ in fields]
        """Per field, the wire value last sent per [seat, handle] (valid while known)."""
        self._rows = 0
        self._cols = 0
        self.sent_q = np.zeros((0, 0), dtype=np.uint32)
        """Last quantized position sent per [seat, handle]; ``UNKNOWN`` if not sent."""
        self._scratch = np.zeros((0, 0), dtype=bool)
        self._handle_netid = np.zeros(0, dtype=np.uint32)
        """The netid each handle had at the last build (to notice reuse and deaths)."""
        self._pending_seat = _EMPTY_I64
        self._pending_id = np.zeros(0, dtype=np.uint32)
        """Deaths not yet told to seats that were not built when they happened."""
        self._vis_seat = _EMPTY_I64
        self._vis_handle = _EMPTY_I64
        """What was visible at each seat's last build, as parallel arrays."""
        self.last_stats = StateFrameStats()
        self.far_every = 1
        """Overload relief: when > 1, entities in the outer half of the radius get a
        changed-update only on every ``far_every``-th build (entered and left are never
        delayed). Their baseline stays what the client has, so the next update is a
        correct delta. Needs ``entity_xy`` in :meth:`build`."""

    def _ensure(self, rows: int, cols: int) -> None:
        if rows <= self._rows and cols <= self._cols:
            return
        r = max(rows, self._rows)
        c = max(cols, self._cols, 16)
        if cols > self._cols:
            c = max(cols, 2 * self._cols)
        sent = np.full((r, c), UNKNOWN, dtype=np.uint32)
        sent[: self._rows, : self._cols] = self.sent_q
        for i, old in enumerate(self.field_sent):
            grown = np.zeros((r, c), dtype=old.dtype)
            grown[: self._rows, : self._cols] = old
            self.field_sent[i] = grown
        hn = np.zeros(c, dtype=np.uint32)
        hn[: self._cols] = self._handle_netid
        self.sent_q, self._handle_netid = sent, hn
        self._scratch = np.zeros((r, c), dtype=bool)
        self._rows, self._cols = r, c

    def forget(self, seats: NDArray[np.int64] | list[int]) -> None:
        """Drop what ``seats`` were sent (they left, or will get a full snapshot)."""
        seats = np.asarray(seats, dtype=np.int64)
        seats = seats[seats < self._rows]
        if len(seats) == 0:
            return
        self.sent_q[seats] = UNKNOWN
        if len(self._vis_seat):
            keep = ~np.isin(self._vis_seat, seats)
            self._vis_seat = self._vis_seat[keep]
            self._vis_handle = self._vis_handle[keep]
        if len(self._pending_seat):
            keep = ~np.isin(self._pending_seat, seats)
            self._pending_seat = self._pending_seat[keep]
            self._pending_id = self._pending_id[keep]

    def known(self, seats: NDArray[np.int64], netids: NDArray[np.int64]) -> NDArray[np.bool_]:
        """``[len(netids), len(seats)]``: did each seat's last frame leave it holding each id?

        Uses the handle -> net id map of the last build, so an entity that died since
        is still found (its seats have not yet been told it left).
        """
        out = np.zeros((len(netids), len(seats)), dtype=bool)
        hn = self._handle_netid.astype(np.int64)
        if len(hn) == 0 or len(netids) == 0:
            return out
        order = np.argsort(hn, kind="stable")
        sorted_ids = hn[order]
        pos = np.clip(np.searchsorted(sorted_ids, netids), 0, len(hn) - 1)
        found = (sorted_ids[pos] == netids) & (netids != 0)
        rows_ok = seats < self._rows
        if not found.any() or not rows_ok.any():
            return out
        handles = order[pos[found]]
        sub = self.sent_q[np.ix_(seats[rows_ok], handles)] != UNKNOWN  # [seat, event]
        block = np.zeros((int(found.sum()), len(seats)), dtype=bool)
        block[:, rows_ok] = sub.T
        out[found] = block
        return out

    def known_count(self, seat: int) -> int:
        """How many entities ``seat`` currently has in its mirror (for tests and stats)."""
        if seat >= self._rows:
            return 0
        return int((self.sent_q[seat] != UNKNOWN).sum())

    def build(
        self,
        tick: int,
        index: SpatialIndex,
        netids: NDArray[np.uint32],
        kinds: NDArray[np.uint8],
        packed_q: NDArray[np.uint32],
        handles: NDArray[np.int64],
        seats: NDArray[np.int64],
        viewer_x: NDArray[np.float64],
        viewer_y: NDArray[np.float64],
        full: NDArray[np.bool_],
        entity_xy: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
        field_values: Sequence[tuple[NDArray[Any], NDArray[np.bool_]]] | None = None,
        owner_seat: NDArray[np.int64] | None = None,
        tails: Sequence[tuple[int, bytes]] | None = None,
    ) -> list[bytes]:
        """One encoded ``state`` message per seat in ``seats`` (ascending, unique).

        ``netids``, ``kinds``, ``packed_q`` and ``handles`` are per slot (the index's
        ids are slots); ``viewer_x``/``viewer_y`` are each seat's point of view in
        world units; ``full`` marks seats that get a full snapshot (their mirror is
        reset). The caller commits to sending every returned frame: the baseline
        advances for all ``seats``. ``entity_xy`` (per slot, world units) is only read
        when :attr:`far_every` > 1.

        Replicated fields: ``field_values`` holds, per field of ``field_dtypes``, the
        wire values by slot and which slots have the field; a row goes to a seat for
        every entity that entered its view and afterwards when the value differs from
        what that seat was sent (``STATE.r``). ``owner_seat`` (per slot, -1: nobody)
        says whose own entity each slot is, for ``to = "owner"`` fields (None: owner
        fields go to nobody, as for spectators). ``tails``: per seat in ``seats``,
        ``(key count, encoded key/value pairs)`` appended after the frame's own keys
        (events); ``(0, b"")`` for none.
        """
        stats = StateFrameStats(frames=len(seats))
        self.last_stats = stats
        n_seats = len(seats)
        if n_seats == 0:
            return []
        max_handle = int(handles.max(initial=-1)) + 1
        self._ensure(int(seats[-1]) + 1, max_handle)
        cols = self._cols
        sent_flat = self.sent_q.reshape(-1)

        # 1. Entities that died or whose handle now names another entity: every seat
        #    that knew them must hear "left" with the old netid.
        prev_netid = self._handle_netid
        cur_netid = np.zeros(cols, dtype=np.uint32)
        cur_netid[handles] = netids
        gone = np.flatnonzero((prev_netid != cur_netid) & (prev_netid != 0))
        gone_seat = _EMPTY_I64
        gone_id = np.zeros(0, dtype=np.uint32)
        if len(gone):
            gs, gh = np.nonzero(self.sent_q[:, gone] != UNKNOWN)
            gone_seat = gs.astype(np.int64)
            gone_id = prev_netid[gone[gh]]
            self.sent_q[:, gone] = UNKNOWN
            if len(self._vis_handle):
                keep = ~np.isin(self._vis_handle, gone)
                self._vis_seat = self._vis_seat[keep]
                self._vis_handle = self._vis_handle[keep]
        self._handle_netid = cur_netid

        # 2. Full snapshots start from nothing.
        if full.any():
            self.forget(seats[full])

        # 3. This tick's visibility, grouped by seat.
        qi, slots = index.query_radius(viewer_x, viewer_y, self.radius_units, ordered=False)
        vis_seat = seats[qi]
        vis_handle = handles[slots]
        flat = vis_seat * cols + vis_handle
        new_q = packed_q[slots]
        stats.pairs = len(flat)
        old_q = sent_flat[flat]
        entered = old_q == UNKNOWN
        changed = ~entered & (old_q != new_q)
        sent_flat[flat] = new_q
        if self.far_every > 1 and entity_xy is not None and tick % self.far_every:
            ex, ey = entity_xy
            cq = qi[changed]
            cs = slots[changed]
            dx = ex[cs] - viewer_x[cq]
            dy = ey[cs] - viewer_y[cq]
            far = dx * dx + dy * dy > (self.radius_units * 0.5) ** 2
            skip = np.flatnonzero(changed)[far]
            sent_flat[flat[skip]] = old_q[skip]  # the client keeps what it has
            changed[skip] = False

        # 3b. Replicated fields: on enter, then on change of the wire value.
        r_cols: list[FieldRows] | None = None
        if field_values:
            r_cols = self._field_rows(
                field_values, owner_seat, flat, entered, slots, qi, vis_seat, netids, n_seats
            )
            stats.field_rows = sum(len(ids) for ids, _, _ in r_cols)

        # 4. Left: visible at the seat's last build, not now (only for seats built now).
        building = np.zeros(self._rows, dtype=bool)
        building[seats] = True
        if len(self._vis_seat):
            sel = building[self._vis_seat]
            old_seat = self._vis_seat[sel]
            old_handle = self._vis_handle[sel]
            scratch = self._scratch.reshape(-1)
            scratch[flat] = True
            old_flat = old_seat * cols + old_handle
            lost = ~scratch[old_flat]
            scratch[flat] = False
            left_seat = old_seat[lost]
            left_handle = old_handle[lost]
            sent_flat[left_seat * cols + left_handle] = UNKNOWN
            left_id = cur_netid[left_handle]
            rest_seat = self._vis_seat[~sel]
            rest_handle = self._vis_handle[~sel]
        else:
            left_seat = _EMPTY_I64
            left_id = np.zeros(0, dtype=np.uint32)
            rest_seat = rest_handle = _EMPTY_I64
        if len(rest_seat):
            self._vis_seat = np.concatenate([rest_seat, vis_seat])
            self._vis_handle = np.concatenate([rest_handle, vis_handle])
        else:
            self._vis_seat, self._vis_handle = vis_seat, vis_handle
        if len(gone_seat) or len(self._pending_seat):
            # Deaths are "left" too: tell the seats built now, keep the rest for later.
            d_seat = np.concatenate([self._pending_seat, gone_seat])
            d_id = np.concatenate([self._pending_id, gone_id])
            now = building[d_seat]
            left_seat = np.concatenate([left_seat, d_seat[now]])
            left_id = np.concatenate([left_id, d_id[now]])
            self._pending_seat, self._pending_id = d_seat[~now], d_id[~now]
        if len(left_seat) and np.any(np.diff(left_seat) < 0):
            order = np.argsort(left_seat, kind="stable")
            left_seat, left_id = left_seat[order], left_id[order]

        # 5. Encode: one buffer per field for all seats, then slices per seat.
        #    A changed entity that moved at most 127 steps per axis since what this
        #    client has is sent as an int8 step delta (2 bytes + id): "c"/"d". Farther
        #    moves (teleports, long gaps) carry the absolute position: "m"/"q".
        e_slots = slots[entered]
        ch_slots = slots[changed]
        ch_new = new_q[changed]
        ch_old = old_q[changed]
        dx = (ch_new & 0xFFFF).astype(np.int32) - (ch_old & 0xFFFF).astype(np.int32)
        dy = (ch_new >> 16).astype(np.int32) - (ch_old >> 16).astype(np.int32)
        near = (np.abs(dx) <= 127) & (np.abs(dy) <= 127)
        far = ~near
        stats.entered, stats.changed, stats.left = len(e_slots), len(ch_slots), len(left_id)
        max_netid = int(netids.max(initial=0))
        width = 2 if max_netid < 65536 and int(left_id.max(initial=0)) < 65536 else 4
        if r_cols is not None:
            stats.field_bytes = sum(len(ids) * width + vals.nbytes for ids, vals, _ in r_cols)
        id_dtype = "<u2" if width == 2 else "<u4"
        e_ids = netids[e_slots].astype(id_dtype).tobytes()
        e_kind = kinds[e_slots].tobytes()
        e_pos = new_q[entered].astype("<u4").tobytes()
        c_ids = netids[ch_slots[near]].astype(id_dtype).tobytes()
        steps = np.empty((int(near.sum()), 2), dtype=np.int8)
        steps[:, 0] = dx[near]
        steps[:, 1] = dy[near]
        c_step = steps.tobytes()
        m_ids = netids[ch_slots[far]].astype(id_dtype).tobytes()
        m_pos = ch_new[far].astype("<u4").tobytes()
        l_ids = left_id.astype(id_dtype).tobytes()
        pos_of = np.searchsorted(seats, np.arange(self._rows))  # seat -> index in seats
        ch_seat = qi[changed]
        eb = _bounds(qi[entered], n_seats)
        cb = _bounds(ch_seat[near], n_seats)
        mb = _bounds(ch_seat[far], n_seats)
        lb = _bounds(pos_of[left_seat], n_seats)
        # Byte offsets per seat, computed in whole arrays before the per-seat loop.
        e_id_off = (eb * width).tolist()
        e_pos_off = (eb * 4).tolist()
        c_id_off = (cb * width).tolist()
        c_step_off = (cb * 2).tolist()
        m_id_off = (mb * width).tolist()
        m_pos_off = (mb * 4).tolist()
        l_id_off = (lb * width).tolist()
        ebl = eb.tolist()
        body = uint(tick) + _K_F
        heads = [
            [
                _head(11 + k) + body + flag + _K_W + uint(width) + _K_E
                for k in range(_EXTRA_KEYS + 1)
            ]
            for flag in (_FALSE, _TRUE)
        ]
        nk_l = [0] * n_seats
        tail_l = [b""] * n_seats
        if r_cols is not None or tails is not None:
            nk_l, tail_l = frame_tails(r_cols, tails, n_seats, width)
        full_l = full.tolist()
        out: list[bytes] = []
        total = 0
        bin8 = _BIN8
        big = bin_header
        for i in range(n_seats):
            a, b = e_id_off[i], e_id_off[i + 1]
            ka, kb = ebl[i], ebl[i + 1]
            pa, pb = e_pos_off[i], e_pos_off[i + 1]
            c, d = c_id_off[i], c_id_off[i + 1]
            sa, sb = c_step_off[i], c_step_off[i + 1]
            ma, mz = m_id_off[i], m_id_off[i + 1]
            qa, qb = m_pos_off[i], m_pos_off[i + 1]
            e, f = l_id_off[i], l_id_off[i + 1]
            frame = b"".join(
                (
                    heads[full_l[i]][nk_l[i]],
                    bin8[b - a] if b - a < 256 else big(b - a),
                    e_ids[a:b],
                    _K_K,
                    bin8[kb - ka] if kb - ka < 256 else big(kb - ka),
                    e_kind[ka:kb],
                    _K_P,
                    bin8[pb - pa] if pb - pa < 256 else big(pb - pa),
                    e_pos[pa:pb],
                    _K_C,
                    bin8[d - c] if d - c < 256 else big(d - c),
                    c_ids[c:d],
                    _K_D,
                    bin8[sb - sa] if sb - sa < 256 else big(sb - sa),
                    c_step[sa:sb],
                    _K_M,
                    bin8[mz - ma] if mz - ma < 256 else big(mz - ma),
                    m_ids[ma:mz],
                    _K_Q,
                    bin8[qb - qa] if qb - qa < 256 else big(qb - qa),
                    m_pos[qa:qb],
                    _K_L,
                    bin8[f - e] if f - e < 256 else big(f - e),
                    l_ids[e:f],
                    tail_l[i],
                )
            )
            total += len(frame)
            out.append(frame)
        stats.payload_bytes = total
        return out

    def _field_rows(
        self,
        field_values: Sequence[tuple[NDArray[Any], NDArray[np.bool_]]],
        owner_seat: NDArray[np.int64] | None,
        flat: NDArray[np.int64],
        entered: NDArray[np.bool_],
        slots: NDArray[np.int64],
        qi: NDArray[np.int64],
        vis_seat: NDArray[np.int64],
        netids: NDArray[np.uint32],
        n_seats: int,
    ) -> list[FieldRows]:
        """Per field, the rows to send now (grouped by seat); the baseline advances."""
        out: list[FieldRows] = []
        for fi, (values, has) in enumerate(field_values):
            sflat = self.field_sent[fi].reshape(-1)
            new = values[slots]
            send = (entered | (sflat[flat] != new)) & has[slots]
            if self.field_owner_only[fi]:
                if owner_seat is None:
                    send[:] = False
                else:
                    send &= owner_seat[slots] == vis_seat
            rows = np.flatnonzero(send)
            sflat[flat[rows]] = new[rows]
            out.append((netids[slots[rows]], new[rows], _bounds(qi[rows], n_seats)))
        return out


def _head(keys: int) -> bytes:
    """``[1, 65, {`` with a map of ``keys`` entries, then the ``t`` key."""
    return bytes((0x93, PROTOCOL_VERSION, STATE_MESSAGE_TYPE, 0x80 | keys)) + b"\xa1t"


def _bounds(group: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """Run starts of each group index ``0..n-1`` in ``group`` (ascending) plus the total."""
    counts = np.bincount(group, minlength=n)
    result = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=result[1:])
    return result

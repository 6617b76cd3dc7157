"""Explicit baselines: what each seat was sent, kept per ``[slot, handle]`` pair.

The general path of :mod:`server.core.sync.state`, for seats whose baseline is not
simply "the last build" (a slow reader that skipped frames, a full snapshot, a build
with overload relief or with replicated fields). What each such client was sent lives
in one dense matrix indexed ``[slot, handle]`` (the entity allocator's handle: stable
for the entity's life, reused only after it died): ``sent_q``, the quantized position
sent, or ``UNKNOWN``. Entered / changed are one gather over this build's visible pairs,
"left" is the seat's previous visible list minus this one. No sort, no per-seat numpy
call, no per-entity Python.

A *slot* is a matrix row lent to a seat while it holds an explicit baseline
(:meth:`ExplicitBaselines.assign`) and given back when it forgets it: on the cell path
almost every seat is implicit (its baseline is the last build), and a matrix row per
seat would be memory nobody reads -- 10 MB at (1000, 1000), an eighth of the server's
RSS. Memory is ``slots x handles x 5`` bytes (4 for ``sent_q``, 1 for a scratch mask),
``slots`` the most seats explicit at once (every seat on the pair path, the joining and
slow seats on the cell path); the matrix is dropped whenever no seat holds a slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.sync.budget import Budget, hold_rows
from server.core.sync.encode import Part, bounds
from server.core.sync.msgbytes import FieldRows
from server.core.sync.quantize import step_deltas

_EMPTY_I64 = np.zeros(0, dtype=np.int64)
UNKNOWN = np.uint32(0xFFFF_FFFF)
"""Marks "never sent" in ``sent_q``; quantized positions stop at 65534 per axis."""
I64 = NDArray[np.int64]


class ExplicitBaselines:
    """``sent_q`` / ``field_sent`` per [slot, handle], the seat <-> slot maps, and each
    explicit seat's visible list."""

    def __init__(self, field_dtypes: Sequence[np.dtype[Any]], field_owner_only: list[bool]):
        self.field_owner_only = field_owner_only
        self.field_sent: list[NDArray[Any]] = [np.zeros((0, 0), dtype=d) for d in field_dtypes]
        """Per field, the wire value last sent per [slot, handle] (valid while known)."""
        self.rows = 0
        """Seat capacity: seat ids below it may hold a slot (callers size per-seat
        arrays by it)."""
        self.cols = 0
        self.slots = 0
        """Rows of the matrices."""
        self.slot_of = np.zeros(0, dtype=np.int64)
        """Per seat, its slot, or -1 (no explicit baseline: knows nothing or is implicit)."""
        self.seat_of = np.zeros(0, dtype=np.int64)
        """Per slot, the seat it is lent to, or -1 (free: its ``sent_q`` row is UNKNOWN)."""
        self.sent_q = np.zeros((0, 0), dtype=np.uint32)
        """Last quantized position sent per [slot, handle]; ``UNKNOWN`` if not sent."""
        self._scratch = np.zeros((0, 0), dtype=bool)
        self.handle_netid = np.zeros(0, dtype=np.uint32)
        """The netid each handle had at the last build (to notice reuse and deaths)."""
        self._pending_slot = _EMPTY_I64
        self._pending_id = np.zeros(0, dtype=np.uint32)
        """Deaths not yet told to seats that were not built when they happened."""
        self.vis_slot = _EMPTY_I64
        self.vis_handle = _EMPTY_I64
        """What was visible at each explicit seat's last build, as parallel arrays."""

    def ensure(self, rows: int, cols: int) -> None:
        """Grow the seat capacity to at least ``rows`` and the matrices to ``cols`` handles.

        Handles grow by a quarter at a time: a match's NPCs take the first handles and
        each joining player one more, so doubling made 200 seats x 40,000 handles where
        20,001 were needed (sent_q alone 32 MB instead of 16, and the budget's stamps and
        marks follow this shape). Seats grow by half (they join one by one); matrix rows
        come only with slots (:meth:`assign`)."""
        if rows > self.rows:
            r = max(rows, self.rows + self.rows // 2, 8)
            grown = np.full(r, -1, dtype=np.int64)
            grown[: self.rows] = self.slot_of
            self.slot_of, self.rows = grown, r
        if cols > self.cols:
            c = max(cols, self.cols + self.cols // 4, 16)
            self._reshape(self.slots, c)
            hn = np.zeros(c, dtype=np.uint32)
            hn[: len(self.handle_netid)] = self.handle_netid
            self.handle_netid = hn

    def _reshape(self, slots: int, cols: int) -> None:
        """Matrices of ``slots x cols``, what fits of the old contents kept."""
        r, c = min(slots, self.slots), min(cols, self.cols)
        sent = np.full((slots, cols), UNKNOWN, dtype=np.uint32)
        sent[:r, :c] = self.sent_q[:r, :c]
        for i, old in enumerate(self.field_sent):
            grown = np.zeros((slots, cols), dtype=old.dtype)
            grown[:r, :c] = old[:r, :c]
            self.field_sent[i] = grown
        self.sent_q = sent
        self._scratch = np.zeros((slots, cols), dtype=bool)
        seat_of = np.full(slots, -1, dtype=np.int64)
        seat_of[:r] = self.seat_of[:r]
        self.seat_of, self.slots, self.cols = seat_of, slots, cols

    def assign(self, seats: I64) -> I64:
        """The slot of each of ``seats`` (unique, below :attr:`rows`), lending free
        slots to those without one (rows grow by half when none is free)."""
        got = self.slot_of[seats]
        need = np.flatnonzero(got < 0)
        if len(need):
            free = np.flatnonzero(self.seat_of < 0)
            if len(free) < len(need):
                want = self.slots + len(need) - len(free)
                self._reshape(max(want, self.slots + self.slots // 2, 8), self.cols)
                free = np.flatnonzero(self.seat_of < 0)
            take = free[: len(need)]
            got[need] = take
            self.slot_of[seats[need]] = take
            self.seat_of[take] = seats[need]
        return got

    def sent_row(self, seat: int) -> NDArray[np.uint32]:
        """What ``seat`` was sent per handle (a copy; all UNKNOWN without a slot)."""
        slot = int(self.slot_of[seat]) if seat < self.rows else -1
        if slot < 0:
            return np.full(self.cols, UNKNOWN, dtype=np.uint32)
        row: NDArray[np.uint32] = self.sent_q[slot].copy()
        return row

    def forget(self, seats: I64) -> I64:
        """Drop what ``seats`` were sent (they left, get a full snapshot, or went
        implicit) and take their slots back; returns those slots. With no slot lent
        any more, the matrices are dropped."""
        seats = seats[seats < self.rows]
        slots = self.slot_of[seats]
        held = slots >= 0
        if not held.any():
            return _EMPTY_I64
        slots = slots[held]
        self.sent_q[slots] = UNKNOWN
        if len(self.vis_slot):
            keep = ~np.isin(self.vis_slot, slots)
            self.vis_slot = self.vis_slot[keep]
            self.vis_handle = self.vis_handle[keep]
        if len(self._pending_slot):
            keep = ~np.isin(self._pending_slot, slots)
            self._pending_slot = self._pending_slot[keep]
            self._pending_id = self._pending_id[keep]
        self.seat_of[slots] = -1
        self.slot_of[seats[held]] = -1
        if self.slots and bool((self.seat_of < 0).all()):
            self._reshape(0, self.cols)  # nothing is explicit: no memory held for it
        return slots

    def adopt(self, holders: I64, seats: I64, handles: I64, q: NDArray[np.uint32]) -> None:
        """Seat ``seats[i]`` holds handle ``handles[i]`` at ``q[i]`` (from an implicit
        state); ``holders``: those seats, once each (they take slots)."""
        self.assign(holders)
        slots = self.slot_of[seats]
        self.sent_q[slots, handles] = q
        self.vis_slot = np.concatenate([self.vis_slot, slots])
        self.vis_handle = np.concatenate([self.vis_handle, handles])

    def note_deaths(self, cur_netid: NDArray[np.uint32]) -> None:
        """Entities that died or whose handle now names another: every seat that knew
        them must hear "left" with the old netid (at its next build: :meth:`delta`)."""
        prev_netid = self.handle_netid
        gone = np.flatnonzero((prev_netid != cur_netid) & (prev_netid != 0))
        self.handle_netid = cur_netid
        if len(gone) == 0:
            return
        gs, gh = np.nonzero(self.sent_q[:, gone] != UNKNOWN)
        self.sent_q[:, gone] = UNKNOWN
        if len(self.vis_handle):
            keep = ~np.isin(self.vis_handle, gone)
            self.vis_slot = self.vis_slot[keep]
            self.vis_handle = self.vis_handle[keep]
        self._pending_slot = np.concatenate([self._pending_slot, gs.astype(np.int64)])
        self._pending_id = np.concatenate([self._pending_id, prev_netid[gone[gh]]])

    def delta(
        self,
        seats: I64,
        qi: I64,
        slots: I64,
        netids: NDArray[np.uint32],
        kinds: NDArray[np.uint8],
        packed_q: NDArray[np.uint32],
        handles: I64,
        far_skip: NDArray[np.bool_] | None,
        field_values: Sequence[tuple[NDArray[Any], NDArray[np.bool_]]] | None,
        owner_seat: I64 | None,
        budget: Budget | None = None,
    ) -> tuple[Part, list[FieldRows] | None, int]:
        """The rows for ``seats`` (ascending) from their visible pairs ``(qi, slots)``.

        ``qi`` indexes ``seats`` (grouped, ascending). ``far_skip`` (per pair, or None)
        marks changes held back this build (the seat keeps what it has); so does
        ``budget`` (:mod:`server.core.sync.budget`) for rows beyond a seat's bytes. The
        baselines advance. Returns the part, the replicated-field rows and the pair count.
        """
        n = len(seats)
        own = self.assign(seats)
        cols = self.cols
        sent_flat = self.sent_q.reshape(-1)
        vis_slot = own[qi]
        vis_handle = handles[slots]
        flat = vis_slot * cols + vis_handle
        new_q = packed_q[slots]
        old_q = sent_flat[flat]
        entered = old_q == UNKNOWN
        changed = ~entered & (old_q != new_q)
        sent_flat[flat] = new_q
        if far_skip is not None:
            skip = np.flatnonzero(changed & far_skip)
            sent_flat[flat[skip]] = old_q[skip]  # the client keeps what it has
            changed[skip] = False
        if budget is not None:
            hold_rows(budget, self.sent_q, changed, entered, flat, qi, old_q, new_q, netids, n)
        r_cols = None
        if field_values:
            r_cols = self._field_rows(
                field_values, owner_seat, flat, entered, slots, qi, seats, netids
            )

        left_id, left_b = self.leave(seats, own, flat, vis_slot, vis_handle)

        # A changed entity that moved at most 127 steps per axis since what this client
        # has is sent as an int8 step delta ("c"/"d"); farther moves carry the absolute
        # position ("m"/"q").
        ch_new = new_q[changed]
        ch_old = old_q[changed]
        near, steps_all = step_deltas(ch_new, ch_old)
        ch_ids = netids[slots[changed]]
        ch_seat = qi[changed]
        steps = steps_all[near]
        e_slots = slots[entered]
        part = Part(
            netids[e_slots], kinds[e_slots], new_q[entered], bounds(qi[entered], n),
            ch_ids[near], steps, bounds(ch_seat[near], n),
            ch_ids[~near], ch_new[~near], bounds(ch_seat[~near], n),
            left_id, left_b,
        )  # fmt: skip
        return part, r_cols, len(flat)

    def leave(
        self, seats: I64, own: I64, flat: I64, vis_slot: I64, vis_handle: I64
    ) -> tuple[NDArray[np.uint32], I64]:
        """``left`` rows of ``seats`` (ascending; built now; ``own``: their slots):
        what was visible at each one's last build and is not now (``flat`` =
        ``vis_slot * cols + vis_handle``, this build's visible pairs), and the deaths
        not yet told. The visible lists advance. Returns the left net ids and their run
        bounds per seat.
        """
        cols = self.cols
        sent_flat = self.sent_q.reshape(-1)
        building = np.zeros(self.slots, dtype=bool)
        building[own] = True
        if len(self.vis_slot):
            sel = building[self.vis_slot]
            old_slot = self.vis_slot[sel]
            old_handle = self.vis_handle[sel]
            scratch = self._scratch.reshape(-1)
            scratch[flat] = True
            lost = ~scratch[old_slot * cols + old_handle]
            scratch[flat] = False
            left_slot = old_slot[lost]
            left_handle = old_handle[lost]
            sent_flat[left_slot * cols + left_handle] = UNKNOWN
            left_id = self.handle_netid[left_handle]
            rest_slot = self.vis_slot[~sel]
            rest_handle = self.vis_handle[~sel]
            self.vis_slot = np.concatenate([rest_slot, vis_slot])
            self.vis_handle = np.concatenate([rest_handle, vis_handle])
        else:
            left_slot = _EMPTY_I64
            left_id = np.zeros(0, dtype=np.uint32)
            self.vis_slot, self.vis_handle = vis_slot, vis_handle
        return self.with_deaths(own, building, left_slot, left_id)

    def with_deaths(
        self, own: I64, building: NDArray[np.bool_], left_slot: I64, left_id: NDArray[np.uint32]
    ) -> tuple[NDArray[np.uint32], I64]:
        """``left`` rows of the seats built now (``own``: their slots, in seat order;
        ``building``: by slot) with the deaths not yet told to them added: the net ids
        grouped by seat and their run bounds."""
        if len(self._pending_slot):
            # Deaths are "left" too: tell the seats built now, keep the rest for later.
            d_slot, d_id = self._pending_slot, self._pending_id
            now = building[d_slot]
            left_slot = np.concatenate([left_slot, d_slot[now]])
            left_id = np.concatenate([left_id, d_id[now]])
            self._pending_slot, self._pending_id = d_slot[~now], d_id[~now]
        pos_of = np.zeros(self.slots, dtype=np.int64)  # slot -> index in the seats built
        pos_of[own] = np.arange(len(own))
        at = pos_of[left_slot]
        if len(at) and np.any(np.diff(at) < 0):
            order = np.argsort(at, kind="stable")
            at, left_id = at[order], left_id[order]
        return left_id, bounds(at, len(own))

    def _field_rows(
        self,
        field_values: Sequence[tuple[NDArray[Any], NDArray[np.bool_]]],
        owner_seat: I64 | None,
        flat: I64,
        entered: NDArray[np.bool_],
        slots: I64,
        qi: I64,
        seats: I64,
        netids: NDArray[np.uint32],
    ) -> list[FieldRows]:
        """Per field, the rows to send now (grouped by seat); the baseline advances."""
        out: list[FieldRows] = []
        n_seats = len(seats)
        vis_seat = seats[qi]
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
            out.append((netids[slots[rows]], new[rows], bounds(qi[rows], n_seats)))
        return out

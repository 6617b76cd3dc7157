"""Explicit baselines: what each seat was sent, kept per ``[seat, handle]`` pair.

The general path of :mod:`server.core.sync.state`, for seats whose baseline is not
simply "the last build" (a slow reader that skipped frames, a full snapshot, a build
with overload relief or with replicated fields). What each client was sent lives in
one dense matrix indexed ``[seat, handle]`` (the entity allocator's handle: stable for
the entity's life, reused only after it died): ``sent_q``, the quantized position sent,
or ``UNKNOWN``. Entered / changed are one gather over this build's visible pairs,
"left" is the seat's previous visible list minus this one. No sort, no per-seat numpy
call, no per-entity Python.

Memory is ``rows x handles x 5`` bytes (4 for ``sent_q``, 1 for a scratch mask), about
10 MB at 1000 clients x 2000 entities; rows grow only as far as the highest seat in use.
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
    """``sent_q`` / ``field_sent`` per [seat, handle], and each seat's visible list."""

    def __init__(self, field_dtypes: Sequence[np.dtype[Any]], field_owner_only: list[bool]):
        self.field_owner_only = field_owner_only
        self.field_sent: list[NDArray[Any]] = [np.zeros((0, 0), dtype=d) for d in field_dtypes]
        """Per field, the wire value last sent per [seat, handle] (valid while known)."""
        self.rows = 0
        self.cols = 0
        self.sent_q = np.zeros((0, 0), dtype=np.uint32)
        """Last quantized position sent per [seat, handle]; ``UNKNOWN`` if not sent."""
        self._scratch = np.zeros((0, 0), dtype=bool)
        self.handle_netid = np.zeros(0, dtype=np.uint32)
        """The netid each handle had at the last build (to notice reuse and deaths)."""
        self._pending_seat = _EMPTY_I64
        self._pending_id = np.zeros(0, dtype=np.uint32)
        """Deaths not yet told to seats that were not built when they happened."""
        self.vis_seat = _EMPTY_I64
        self.vis_handle = _EMPTY_I64
        """What was visible at each seat's last build, as parallel arrays."""

    def ensure(self, rows: int, cols: int) -> None:
        """Grow the matrices to at least ``rows`` seats and ``cols`` handles.

        Handles grow by a quarter at a time: a match's NPCs take the first handles and
        each joining player one more, so doubling made 200 seats x 40,000 handles where
        20,001 were needed (sent_q alone 32 MB instead of 16, and the budget's stamps and
        marks follow this shape)."""
        if rows <= self.rows and cols <= self.cols:
            return
        # Both grow geometrically: seats join one by one, and a copy of the whole matrix
        # per join (16 MB at (20000, 200)) took a tenth of a loaded ramp-up's CPU.
        r = self.rows if rows <= self.rows else max(rows, self.rows + self.rows // 2, 8)
        c = max(cols, self.cols, 16)
        if cols > self.cols:
            c = max(cols, self.cols + self.cols // 4)
        sent = np.full((r, c), UNKNOWN, dtype=np.uint32)
        sent[: self.rows, : self.cols] = self.sent_q
        for i, old in enumerate(self.field_sent):
            grown = np.zeros((r, c), dtype=old.dtype)
            grown[: self.rows, : self.cols] = old
            self.field_sent[i] = grown
        hn = np.zeros(c, dtype=np.uint32)
        hn[: self.cols] = self.handle_netid
        self.sent_q, self.handle_netid = sent, hn
        self._scratch = np.zeros((r, c), dtype=bool)
        self.rows, self.cols = r, c

    def forget(self, seats: I64) -> None:
        """Drop what ``seats`` were sent (they left, get a full snapshot, or went implicit)."""
        seats = seats[seats < self.rows]
        if len(seats) == 0:
            return
        self.sent_q[seats] = UNKNOWN
        if len(self.vis_seat):
            keep = ~np.isin(self.vis_seat, seats)
            self.vis_seat = self.vis_seat[keep]
            self.vis_handle = self.vis_handle[keep]
        if len(self._pending_seat):
            keep = ~np.isin(self._pending_seat, seats)
            self._pending_seat = self._pending_seat[keep]
            self._pending_id = self._pending_id[keep]

    def adopt(self, seats: I64, handles: I64, q: NDArray[np.uint32]) -> None:
        """Seat ``seats[i]`` holds handle ``handles[i]`` at ``q[i]`` (from an implicit state)."""
        self.sent_q[seats, handles] = q
        self.vis_seat = np.concatenate([self.vis_seat, seats])
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
            self.vis_seat = self.vis_seat[keep]
            self.vis_handle = self.vis_handle[keep]
        self._pending_seat = np.concatenate([self._pending_seat, gs.astype(np.int64)])
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
        cols = self.cols
        sent_flat = self.sent_q.reshape(-1)
        vis_seat = seats[qi]
        vis_handle = handles[slots]
        flat = vis_seat * cols + vis_handle
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
            r_cols = self._field_rows(field_values, owner_seat, flat, entered, slots, qi, n, netids)

        left_id, left_b = self.leave(seats, flat, vis_seat, vis_handle)

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
        self, seats: I64, flat: I64, vis_seat: I64, vis_handle: I64
    ) -> tuple[NDArray[np.uint32], I64]:
        """``left`` rows of ``seats`` (ascending; built now): what was visible at each
        one's last build and is not now (``flat`` = ``vis_seat * cols + vis_handle``,
        this build's visible pairs), and the deaths not yet told. The visible lists
        advance. Returns the left net ids and their run bounds per seat.
        """
        cols = self.cols
        sent_flat = self.sent_q.reshape(-1)
        building = np.zeros(self.rows, dtype=bool)
        building[seats] = True
        if len(self.vis_seat):
            sel = building[self.vis_seat]
            old_seat = self.vis_seat[sel]
            old_handle = self.vis_handle[sel]
            scratch = self._scratch.reshape(-1)
            scratch[flat] = True
            lost = ~scratch[old_seat * cols + old_handle]
            scratch[flat] = False
            left_seat = old_seat[lost]
            left_handle = old_handle[lost]
            sent_flat[left_seat * cols + left_handle] = UNKNOWN
            left_id = self.handle_netid[left_handle]
            rest_seat = self.vis_seat[~sel]
            rest_handle = self.vis_handle[~sel]
            self.vis_seat = np.concatenate([rest_seat, vis_seat])
            self.vis_handle = np.concatenate([rest_handle, vis_handle])
        else:
            left_seat = _EMPTY_I64
            left_id = np.zeros(0, dtype=np.uint32)
            self.vis_seat, self.vis_handle = vis_seat, vis_handle
        return self.with_deaths(seats, building, left_seat, left_id)

    def with_deaths(
        self, seats: I64, building: NDArray[np.bool_], left_seat: I64, left_id: NDArray[np.uint32]
    ) -> tuple[NDArray[np.uint32], I64]:
        """``left`` rows of ``seats`` (``building``: by row) with the deaths not yet told
        to them added: the net ids grouped by seat and their run bounds."""
        if len(self._pending_seat):
            # Deaths are "left" too: tell the seats built now, keep the rest for later.
            d_seat, d_id = self._pending_seat, self._pending_id
            now = building[d_seat]
            left_seat = np.concatenate([left_seat, d_seat[now]])
            left_id = np.concatenate([left_id, d_id[now]])
            self._pending_seat, self._pending_id = d_seat[~now], d_id[~now]
        if len(left_seat) and np.any(np.diff(left_seat) < 0):
            order = np.argsort(left_seat, kind="stable")
            left_seat, left_id = left_seat[order], left_id[order]
        pos_of = np.searchsorted(seats, np.arange(self.rows))  # seat -> index in seats
        return left_id, bounds(pos_of[left_seat], len(seats))

    def _field_rows(
        self,
        field_values: Sequence[tuple[NDArray[Any], NDArray[np.bool_]]],
        owner_seat: I64 | None,
        flat: I64,
        entered: NDArray[np.bool_],
        slots: I64,
        qi: I64,
        n_seats: int,
        netids: NDArray[np.uint32],
    ) -> list[FieldRows]:
        """Per field, the rows to send now (grouped by seat); the baseline advances."""
        out: list[FieldRows] = []
        cols = self.cols
        vis_seat = flat // cols
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

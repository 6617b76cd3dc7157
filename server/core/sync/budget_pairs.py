"""The byte budget's build: visible pairs straight from the cells, rows by priority.

A budgeted match's seats hold what they were sent, which the byte budget makes differ
from the last build, so they keep the explicit ``[seat, handle]`` baselines
(:class:`~server.core.sync.explicit.ExplicitBaselines`). This module builds their rows
in one pass over the visible pairs, with fewer whole-array operations per pair than the
general :meth:`~server.core.sync.explicit.ExplicitBaselines.delta` plus
:func:`~server.core.sync.budget.hold_back`:

- the pairs come from the cells the build binned once
  (:class:`~server.core.sync.cells.CellBins`), in cell order, with their squared
  distances kept for the priority (no second distance pass, no spatial-index query);
- per pair: one gather of what the seat holds; entered, fresh (the seat's copy equals
  the truth: its staleness accumulator restarts, whether or not a row is sent) or
  changed;
- only the changed pairs get a cost, a priority level and the per-seat fit
  (:func:`~server.core.sync.budget.fit_levels`); only the rows sent are written back.

The staleness accumulator counts ticks since the seat's copy last *equalled* the
entity's quantized position (``BudgetConfig.stamp``, uint16 ticks, wrapping), the
very measure of ``client_sim.staleness`` against the truth: an entity that jitters
between two positions (the arena's ``collide`` at high density) is fresh every other
tick without a resend, so it never comes due, and near rows with a copy one tick old
wait one more snapshot. Ordering and bounds are those of :mod:`server.core.sync.budget`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from server.core.sync.budget import (
    BudgetConfig,
    fit_levels,
    levels_of,
    row_costs,
)
from server.core.sync.cells import CellBins
from server.core.sync.encode import Part, bounds
from server.core.sync.explicit import UNKNOWN, ExplicitBaselines

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
U32 = NDArray[np.uint32]
_E = np.zeros(0, dtype=np.int64)


@dataclass(slots=True)
class Views:
    """What each budgeted seat saw at its last build: flat ``slot * cols + handle``
    (the seat's slot in the explicit baselines).

    Replaces the explicit baselines' ``vis_slot``/``vis_handle`` lists while budgeted
    builds run (those stay empty meanwhile; :meth:`release` hands the pairs back before
    a general explicit build, and :meth:`leave` takes over whatever that path left).
    "Left" is one scatter of this build's pairs into a mark matrix and one gather of
    the last build's, instead of a scratch mask set, read and cleared.
    """

    flat: I64 = field(default_factory=lambda: _E)
    cols: int = 0
    mark: NDArray[np.uint8] = field(default_factory=lambda: np.zeros(0, np.uint8))
    """Per ``[slot, handle]`` (flat): the number (1..255, then cleared and again) of the
    last build that saw the pair."""
    build: int = 0

    def release(self, ex: ExplicitBaselines) -> None:
        """Give the pairs back to ``ex``'s visible lists (a general build comes next).

        Pairs whose baseline is unknown are not handed back: their entity died since
        (:meth:`ExplicitBaselines.note_deaths` cleared them, and its own "left" with the
        old net id is pending). The general path would otherwise say "left" for them
        with the handle's *current* net id, an entity a reused handle now names and the
        seat never held."""
        if len(self.flat):
            s, h = np.divmod(self.flat, self.cols)
            known = ex.sent_q[s, h] != UNKNOWN
            s, h = s[known], h[known]
            ex.vis_slot = np.concatenate([ex.vis_slot, s])
            ex.vis_handle = np.concatenate([ex.vis_handle, h])
            self.flat = _E

    def drop(self, slots: I64) -> None:
        """Forget the pairs of ``slots`` (given back: another seat may take them)."""
        if len(self.flat) and len(slots):
            self.flat = self.flat[~np.isin(self.flat // self.cols, slots)]

    def leave(self, ex: ExplicitBaselines, own: I64, flat: I64) -> tuple[NDArray[np.uint32], I64]:
        """``left`` rows of the seats built now (``own``: their slots, in seat order;
        ``flat``: their visible pairs now), deaths included; what they left becomes
        unknown to them."""
        cols = ex.cols
        prev = self.flat
        if self.cols != cols and len(prev):
            s, h = np.divmod(prev, self.cols)
            prev = s * cols + h
        if len(ex.vis_slot):  # seats that went explicit elsewhere since
            prev = np.concatenate([prev, ex.vis_slot * cols + ex.vis_handle])
            ex.vis_slot, ex.vis_handle = _E, _E
        self.cols = cols
        size = ex.slots * cols
        if len(self.mark) != size:
            self.mark = np.zeros(size, dtype=np.uint8)
        self.build = self.build % 255 + 1
        if self.build == 1:
            self.mark[:] = 0  # the numbers wrapped: no old mark may look current
        mk = np.uint8(self.build)
        self.mark[flat] = mk
        gone = prev[self.mark[prev] != mk]
        sent_flat = ex.sent_q.reshape(-1)
        gone = gone[sent_flat[gone] != UNKNOWN]  # not forgotten, not dead (told apart)
        g_slot = gone // cols
        building = np.zeros(ex.slots, dtype=bool)
        building[own] = True
        now = building[g_slot]
        carry = gone[~now]  # seats not built now keep what they saw, for their next build
        gone, g_slot = gone[now], g_slot[now]
        sent_flat[gone] = UNKNOWN
        left_id = ex.handle_netid[gone - g_slot * cols]
        self.flat = np.concatenate([carry, flat]) if len(carry) else flat
        return ex.with_deaths(own, building, g_slot, left_id)


def visible_pairs(
    bins: CellBins, vx: F64, vy: F64, radius: float, sx: F64, sy: F64
) -> tuple[I64, I64, F64]:
    """``(viewer, position in cell order, squared distance)`` of every pair within
    ``radius``; ``sx``/``sy`` are the positions in cell order (``xs[bins.order]``).

    Pairs are grouped by viewer, ascending, and in cell order within a viewer. The
    test is ``dx*dx + dy*dy <= radius**2`` on the same floats as :meth:`CellBins.query`
    and every other visibility decision compute it.
    """
    n = len(vx)
    run_q, lo, hi, _, _ = bins.ranges(vx, vy, np.full(n, radius + bins.eps), np.zeros(n))
    cnt = np.maximum(hi - lo, 0)
    total = int(cnt.sum())
    first = np.cumsum(cnt) - cnt
    pos = np.repeat(lo - first, cnt)
    pos += np.arange(total, dtype=np.int64)
    dx = sx[pos] - np.repeat(vx[run_q], cnt)
    dy = sy[pos] - np.repeat(vy[run_q], cnt)
    dx *= dx
    dy *= dy
    dx += dy
    hit = np.flatnonzero(dx <= radius * radius)
    return np.repeat(run_q, cnt)[hit], pos[hit], dx[hit]


def budgeted_rows(
    ex: ExplicitBaselines,
    cfg: BudgetConfig,
    tick: int,
    seats: I64,
    vx: F64,
    vy: F64,
    bins: CellBins,
    radius: float,
    xy: tuple[F64, F64],
    netids: U32,
    kinds: NDArray[np.uint8],
    packed_q: U32,
    handles: I64,
    tail_bytes: I64 | None,
    fresh: NDArray[np.bool_],
) -> tuple[Part, int]:
    """The rows of ``seats`` (ascending) under their byte budgets; baselines advance.

    ``bins`` holds the slots at ``xy`` (world units) binned into cells; ``handles``,
    ``netids``, ``kinds`` and ``packed_q`` are per slot. ``tail_bytes``: per seat, the
    bytes of its frame's tail keys (paid first); ``fresh``: per seat, a full snapshot.
    Returns the part (entered, sent changes, left) and the visible pair count.
    """
    n = len(seats)
    own = ex.assign(seats)
    cols = ex.cols
    order = bins.order
    qi, pos, dd = visible_pairs(bins, vx, vy, radius, xy[0][order], xy[1][order])
    flat = (own * cols)[qi] + handles[order][pos]
    sent_flat = ex.sent_q.reshape(-1)
    old_q = sent_flat[flat]
    new_q = packed_q[order][pos]
    entered = old_q == UNKNOWN
    same = old_q == new_q
    ch = np.flatnonzero(~(entered | same))
    ch_flat = flat[ch]
    stamp = cfg.stamps(ex.sent_q.shape).reshape(-1)
    now = np.uint16(tick & 0xFFFF)
    age = (now - stamp[ch_flat]).astype(np.int64)  # uint16 arithmetic wraps
    width = 2 if int(netids.max(initial=0)) < 65536 else 4
    o, nq = old_q[ch], new_q[ch]
    cost, step_ok, dqx, dqy = row_costs(o, nq, width)
    ch_pos = pos[ch]
    level = levels_of(cfg, kinds[order][ch_pos], dd[ch], age)
    e = np.flatnonzero(entered)
    room = cfg.allow(seats, tail_bytes)
    room -= np.bincount(qi[e], minlength=n) * (width + 5)
    gi = np.flatnonzero(fit_levels(qi[ch], level, cost, room, n))

    # Write back what is sent (entered rows, the changed rows that fit); restart the
    # accumulators of every pair whose copy equals the truth after this frame.
    g_flat = ch_flat[gi]
    g_q = nq[gi]
    sent_flat[g_flat] = g_q
    sent_flat[flat[e]] = new_q[e]
    stamp[flat[same]] = now
    stamp[g_flat] = now
    e_stamp = np.full(len(e), now, dtype=np.uint16)
    if fresh.any():
        # A full snapshot's rows would all come due on one build a bound later (a burst
        # every max_stale_ticks): spread their first deadlines over half of it.
        spread = max(1, cfg.max_stale_ticks // 2)
        e_stamp -= np.where(fresh[qi[e]], flat[e] % spread, 0).astype(np.uint16)
    stamp[flat[e]] = e_stamp
    if cfg.views is None:
        cfg.views = Views()
    left_id, left_b = cfg.views.leave(ex, own, flat)

    ok = step_ok[gi]
    g_seat = qi[ch[gi]]
    g_slots = order[ch_pos[gi]]
    steps = np.empty((int(ok.sum()), 2), dtype=np.int8)
    steps[:, 0] = dqx[gi][ok]
    steps[:, 1] = dqy[gi][ok]
    g_ids = netids[g_slots]
    e_slots = order[pos[e]]
    part = Part(
        netids[e_slots], kinds[e_slots], new_q[e], bounds(qi[e], n),
        g_ids[ok], steps, bounds(g_seat[ok], n),
        g_ids[~ok], g_q[~ok], bounds(g_seat[~ok], n),
        left_id, left_b,
    )  # fmt: skip
    return part, len(flat)

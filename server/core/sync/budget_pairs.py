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

import numpy as np
from numpy.typing import NDArray

from server.core.sync.budget import (
    BudgetConfig,
    fit_levels,
    levels_of,
    row_costs,
)
from server.core.sync.cells import CellBins, expand
from server.core.sync.encode import Part, bounds
from server.core.sync.explicit import UNKNOWN, ExplicitBaselines

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
U32 = NDArray[np.uint32]


def visible_pairs(
    bins: CellBins, vx: F64, vy: F64, radius: float, xs: F64, ys: F64
) -> tuple[I64, I64, F64]:
    """``(viewer, slot, squared distance)`` of every pair within ``radius``.

    Pairs are grouped by viewer, ascending, and in cell order within a viewer. The
    test is ``dx*dx + dy*dy <= radius**2`` on ``xs``/``ys``, as :meth:`CellBins.query`
    and every other visibility decision compute it.
    """
    n = len(vx)
    run_q, lo, hi, _, _ = bins.ranges(vx, vy, np.full(n, radius + bins.eps), np.zeros(n))
    run, pos = expand(lo, hi)
    qi = run_q[run]
    slots = bins.order[pos]
    dx = xs[slots] - vx[qi]
    dy = ys[slots] - vy[qi]
    dd = dx * dx + dy * dy
    hit = np.flatnonzero(dd <= radius * radius)
    return qi[hit], slots[hit], dd[hit]


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
    cols = ex.cols
    qi, slots, dd = visible_pairs(bins, vx, vy, radius, *xy)
    vis_handle = handles[slots]
    vis_seat = seats[qi]
    flat = vis_seat * cols + vis_handle
    sent_flat = ex.sent_q.reshape(-1)
    old_q = sent_flat[flat]
    new_q = packed_q[slots]
    entered = old_q == UNKNOWN
    same = old_q == new_q
    stamp = cfg.stamps(ex.sent_q.shape).reshape(-1)
    now = np.uint16(tick & 0xFFFF)
    stamp[flat[same]] = now  # fresh: the copy equals the truth (the accumulator restarts)
    ch = np.flatnonzero(~(entered | same))
    ch_flat = flat[ch]
    age = (now - stamp[ch_flat]).astype(np.int64)  # uint16 arithmetic wraps
    width = 2 if int(netids.max(initial=0)) < 65536 else 4
    o, nq = old_q[ch], new_q[ch]
    cost, step_ok, dqx, dqy = row_costs(o, nq, width)
    ch_slots = slots[ch]
    level = levels_of(cfg, kinds[ch_slots], dd[ch], age)
    room = cfg.allow(seats, tail_bytes)
    room -= np.bincount(qi[entered], minlength=n) * (width + 5)
    fits = fit_levels(qi[ch], level, cost, room, n)

    # Write back what is sent: entered rows, and the changed rows that fit.
    go = ch[fits]
    e = np.flatnonzero(entered)
    sent_flat[ch_flat[fits]] = nq[fits]
    sent_flat[flat[e]] = new_q[e]
    stamp[ch_flat[fits]] = now
    e_stamp = np.full(len(e), now, dtype=np.uint16)
    if fresh.any():
        # A full snapshot's rows would all come due on one build a bound later (a burst
        # every max_stale_ticks): spread their first deadlines over half of it.
        spread = max(1, cfg.max_stale_ticks // 2)
        back = np.where(fresh[qi[e]], flat[e] % spread, 0).astype(np.uint16)
        e_stamp -= back
    stamp[flat[e]] = e_stamp
    left_id, left_b = ex.leave(seats, flat, vis_seat, vis_handle)

    ok = step_ok[fits]
    g_seat = qi[go]
    steps = np.empty((int(ok.sum()), 2), dtype=np.int8)
    steps[:, 0] = dqx[fits][ok]
    steps[:, 1] = dqy[fits][ok]
    g_ids = netids[ch_slots[fits]]
    e_slots = slots[e]
    part = Part(
        netids[e_slots], kinds[e_slots], new_q[e], bounds(qi[e], n),
        g_ids[ok], steps, bounds(g_seat[ok], n),
        g_ids[~ok], nq[fits][~ok], bounds(g_seat[~ok], n),
        left_id, left_b,
    )  # fmt: skip
    return part, len(flat)

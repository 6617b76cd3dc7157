"""Whole-match views of many matches: every match's state delta in one numpy pass.

Contract (:func:`build_whole_views`): given matches of one definition, each with the
seats that get a frame this snapshot (ascending, with their viewer entities), return per
match either that match's frames -- byte for byte what its own
:meth:`~server.core.sync.state.InterestSync.build` would return, with its interest state
advanced exactly as that build advances it -- or None: this match is not in the case
handled here, nothing of it was touched, and the caller builds it alone.

The case: state sync where every seat of the build holds exactly the last build
(implicit baseline, :mod:`server.core.sync.steady`), no full snapshot, no replicated
fields, no budget or overload relief, no other seat holding anything, and every viewer's
radius covers every entity now and at the last build -- the whole-match view of small
matches. Then each match's delta is the same for all its seats (entered: new net ids;
changed: moved quantized positions as steps or absolute; left: dead handles), so it is
computed here for all matches at once over the stacked columns, with each match's rows
its own run (the "seats" of one :class:`~server.core.sync.encode.Part` are the matches),
encoded once per match, and the same bytes go to every seat of the match that has no
trailing keys (:func:`~server.core.sync.encode.share`).

Every decision uses the same float operations on the same values as the match's own
build (bounding boxes by min/max, the corner test, the slack of
:func:`~server.core.sync.cells.eps_units` per match in Python floats), so the frames are
identical; tests/core/test_batch_frames.py holds it against matches built alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from server.core.batch.stack import StackedWorld, rows_of
from server.core.batch.steady_frames import SteadyViews, _corner, build_steady
from server.core.sync.cells import eps_units, positions
from server.core.sync.encode import Part, bounds, encode, frame_heads, share
from server.core.sync.msgbytes import frame_tails
from server.core.sync.quantize import PositionQuantizer, step_deltas
from server.core.sync.state import InterestSync, StateFrameStats
from server.core.sync.steady import LastBuild
from server.core.world import World

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
U32 = NDArray[np.uint32]
_COLUMNS = ("position.x", "position.y", "netid", "kind", "entity")
_HANDLE = 0xFFFF_FFFF


@dataclass(slots=True)
class WholeViewMatch:
    """One match's part of a batched build."""

    interest: InterestSync
    tick: int
    world: World
    seats: list[int]
    """Seats that get a frame, ascending; none of them due a full snapshot."""
    viewers: list[int]
    """Each seat's own entity id (the viewer)."""
    tails: Callable[[], Sequence[tuple[int, bytes]] | None]
    """Per seat, trailing keys (``(key count, bytes)``: events), or None; called only
    once the match is built here (taking events is for the build that sends them)."""


def _ready(m: WholeViewMatch) -> bool:
    """The interest-state half of the case (the geometry is checked over the stack)."""
    sync = m.interest
    ex = sync.explicit
    last = sync._last
    if not m.seats or last is None or last.box is None or m.world.count == 0:
        return False
    if sync.far_every != 1 or sync.budget.bytes_per_frame > 0 or ex.field_sent:
        return False
    if len(ex.vis_slot) or len(ex._pending_slot):
        return False
    implicit = sync._implicit.tolist()  # a few seats: Python is cheaper than numpy here
    if m.seats[-1] >= len(implicit) or sum(implicit) != len(m.seats):
        return False
    return all(implicit[s] for s in m.seats)


def build_whole_views(
    matches: Sequence[WholeViewMatch], quantizer: PositionQuantizer, subunits_per_unit: float
) -> list[list[bytes] | None]:
    """Frames per match, or None where the match is not in the case (see the module)."""
    out: list[list[bytes] | None] = [None] * len(matches)
    take = [i for i, m in enumerate(matches) if _ready(m)]
    if not take:
        return out
    ms = [matches[i] for i in take]
    for i, frames in zip(take, _build(ms, quantizer, subunits_per_unit), strict=True):
        out[i] = frames
    return out


def _excl(counts: I64) -> I64:
    """Exclusive prefix sums: where each match's run starts."""
    starts: I64 = np.cumsum(counts) - counts
    return starts


def _build(
    ms: list[WholeViewMatch], quantizer: PositionQuantizer, scale: float
) -> list[list[bytes] | None]:
    n_m = len(ms)
    worlds = [m.world for m in ms]
    held = rows_of(worlds)  # the step's stack holds these worlds: their rows in it
    bound, rows = held if held is not None else (None, None)
    if bound is not None and isinstance(bound.views, SteadyViews):
        steady = build_steady(ms, bound.views, bound, rows, quantizer, scale)
        if steady is not None:
            return list(steady)
    stack = bound if bound is not None and rows is None else StackedWorld(worlds, _COLUMNS)
    counts = stack.counts
    starts = _excl(counts)
    row_m = np.repeat(np.arange(n_m, dtype=np.int64), counts)
    # What the match's own build computes, over all rows at once (elementwise: same bits).
    xs = stack.col("position.x").astype(np.float64) / scale
    ys = stack.col("position.y").astype(np.float64) / scale
    q = quantizer.packed(stack)
    netids: U32 = stack.col("netid")
    kinds: NDArray[np.uint8] = stack.col("kind")
    entity: I64 = stack.col("entity")
    handles = entity & _HANDLE
    cols_new = np.maximum.reduceat(handles, starts) + 1

    # Viewers: each seat's entity's row, through a handle -> row table per match.
    n_seats = np.fromiter((len(m.seats) for m in ms), dtype=np.int64, count=n_m)
    seat_m = np.repeat(np.arange(n_m, dtype=np.int64), n_seats)
    seats = np.fromiter((s for m in ms for s in m.seats), dtype=np.int64, count=len(seat_m))
    viewers = np.fromiter((v for m in ms for v in m.viewers), dtype=np.int64, count=len(seat_m))
    hbase = _excl(cols_new)
    row_of = np.full(int(cols_new.sum()), -1, dtype=np.int64)
    row_of[hbase[row_m] + handles] = np.arange(len(handles), dtype=np.int64)
    vh = viewers & _HANDLE
    in_range = vh < cols_new[seat_m]
    vrow = np.where(in_range, row_of[hbase[seat_m] + np.minimum(vh, cols_new[seat_m] - 1)], -1)
    found = (vrow >= 0) & (entity[np.maximum(vrow, 0)] == viewers)
    vx, vy = xs[vrow], ys[vrow]

    # The last build of every match, stacked (by handle, and viewers by seat).
    lasts = [m.interest._last for m in ms]
    assert all(last is not None for last in lasts)
    last_q = np.concatenate([last.q for last in lasts if last is not None])
    last_n = np.concatenate([last.netid for last in lasts if last is not None])
    cols_old = np.fromiter((len(last.netid) for last in lasts if last), dtype=np.int64)
    obase = _excl(cols_old)
    last_vx = np.concatenate([last.vx for last in lasts if last is not None])
    last_vy = np.concatenate([last.vy for last in lasts if last is not None])
    rows_old = np.fromiter((len(last.vx) for last in lasts if last), dtype=np.int64)
    vbase = _excl(rows_old)
    seat_ok = seats < rows_old[seat_m]
    sv = vbase[seat_m] + np.minimum(seats, np.maximum(rows_old[seat_m] - 1, 0))
    pvx, pvy = last_vx[sv], last_vy[sv]

    # steady_rows' shared per-entity columns.
    co = cols_old[row_m]
    hc = obase[row_m] + np.minimum(handles, co - 1)
    same = (handles < co) & (last_n[hc] == netids)
    pq = last_q[hc]
    changed = same & (q != pq)
    near, steps_all = step_deltas(q, pq)
    cur_old = np.zeros(len(last_n), dtype=np.uint32)
    ok = handles < co
    cur_old[obase[row_m[ok]] + handles[ok]] = netids[ok]
    dead = np.flatnonzero((last_n != 0) & (last_n != cur_old))
    dead_m = np.searchsorted(obase, dead, side="right") - 1

    # Boxes, in Python floats as bounding_box() gives them; the corner test per seat.
    x0 = np.minimum.reduceat(xs, starts)
    y0 = np.minimum.reduceat(ys, starts)
    x1 = np.maximum.reduceat(xs, starts)
    y1 = np.maximum.reduceat(ys, starts)
    boxes = list(zip(x0.tolist(), y0.tolist(), x1.tolist(), y1.tolist(), strict=True))
    lim = np.empty(n_m)
    eligible = [False] * n_m
    for j, (m, box) in enumerate(zip(ms, boxes, strict=True)):
        sync = m.interest
        radius = sync.radius_units
        lim[j] = (radius - eps_units(box)) ** 2
        # The build's "eligible" rule: in pair mode only when the view is the world.
        eligible[j] = not sync._small(len(m.seats)) or sync._whole_world(radius, box)
    bx = np.stack([x0, y0, x1, y1], axis=1)
    lb = np.array([last.box for last in lasts if last is not None], dtype=np.float64)
    whole = (_corner(bx[seat_m], vx, vy) <= lim[seat_m]) & (
        _corner(lb[seat_m], pvx, pvy) <= lim[seat_m]
    )
    whole &= found & seat_ok
    ok_l = ((np.bincount(seat_m[~whole], minlength=n_m) == 0) & np.asarray(eligible)).tolist()

    # One part whose "seats" are the matches: each match's shared delta.
    new = ~same
    cn = changed & near
    cf = changed & ~near
    l_ids = last_n[dead]
    part = Part(
        netids[new], kinds[new], q[new], bounds(row_m[new], n_m),
        netids[cn], steps_all[cn], bounds(row_m[cn], n_m),
        netids[cf], q[cf], bounds(row_m[cf], n_m),
        l_ids, bounds(dead_m, n_m),
    )  # fmt: skip
    top_id = np.maximum.reduceat(netids, starts).astype(np.int64)
    top_l = np.zeros(n_m, dtype=np.int64)
    np.maximum.at(top_l, dead_m, l_ids.astype(np.int64))
    wide = (top_id >= 65536) | (top_l >= 65536)
    bodies: dict[int, list[bytes]] = {}
    for width in {4 if w else 2 for w in wide.tolist()}:
        bodies[width] = encode(0, width, [part], [False] * n_m, [0] * n_m, [b""] * n_m)

    # The new last builds, stacked: views of one array per column.
    nbase = _excl(cols_new)
    total = int(cols_new.sum())
    nx, ny = np.zeros(total), np.zeros(total)
    nq, nn = np.zeros(total, dtype=np.uint32), np.zeros(total, dtype=np.uint32)
    at = nbase[row_m] + handles
    nx[at], ny[at], nq[at], nn[at] = xs, ys, q, netids
    for j, (m, c) in enumerate(zip(ms, cols_new.tolist(), strict=True)):
        if ok_l[j]:  # the explicit matrices first: they set how many rows a seat map has
            m.interest.explicit.ensure(m.seats[-1] + 1, c)
    rows_new = np.fromiter((m.interest.explicit.rows for m in ms), dtype=np.int64, count=n_m)
    rbase = _excl(rows_new)
    keep = np.minimum(rows_new, rows_old)
    src = positions(vbase, vbase + keep)
    dst = positions(rbase, rbase + keep)
    nvx, nvy = np.zeros(int(rows_new.sum())), np.zeros(int(rows_new.sum()))
    nvx[dst], nvy[dst] = last_vx[src], last_vy[src]
    nvx[rbase[seat_m] + seats], nvy[rbase[seat_m] + seats] = vx, vy
    cols_ex = np.fromiter((m.interest.explicit.cols for m in ms), dtype=np.int64, count=n_m)
    ebase = _excl(cols_ex)
    cur = np.zeros(int(cols_ex.sum()), dtype=np.uint32)
    cur[ebase[row_m] + handles] = netids

    # Deaths the explicit baselines must hear of (none hold anything: only the map moves).
    prev_hn = [m.interest.explicit.handle_netid for m in ms]
    moved = np.fromiter((len(h) for h in prev_hn), dtype=np.int64, count=n_m) != cols_ex
    gone = (np.concatenate(prev_hn) != cur) if not moved.any() else np.ones(len(cur), bool)
    gone_m = np.bincount(np.repeat(np.arange(n_m), cols_ex)[gone], minlength=n_m) > 0

    e_b, c_b, m_b, l_b = (part.e_b.tolist(), part.c_b.tolist(), part.m_b.tolist(),
                          part.l_b.tolist())  # fmt: skip
    counts_l = counts.tolist()
    result: list[list[bytes] | None] = [None] * n_m
    made: list[LastBuild] = []
    nb, rb, cb = nbase.tolist(), rbase.tolist(), ebase.tolist()
    cn_l, rn_l, ce_l, gone_l = (
        cols_new.tolist(),
        rows_new.tolist(),
        cols_ex.tolist(),
        gone_m.tolist(),
    )
    heads: dict[tuple[int, int], bytes] = {}
    zero = {w: len(frame_heads(0, w).get(False, 0)) for w in bodies}
    for j, m in enumerate(ms):
        if not ok_l[j]:
            continue
        width = 4 if wide[j] else 2
        n = len(m.seats)
        head = heads.get((m.tick, width))
        if head is None:
            head = heads[(m.tick, width)] = frame_heads(m.tick, width).get(False, 0)
        body = head + bodies[width][j][zero[width] :]
        tails = m.tails()
        if tails is None:
            frames = [body] * n
        else:
            nk, tail = frame_tails(None, tails, n, width)
            frames = share(body, m.tick, width, nk, tail)
        sync = m.interest
        ex = sync.explicit
        if len(sync._implicit) < ex.rows:
            grown = np.zeros(ex.rows, dtype=bool)
            grown[: len(sync._implicit)] = sync._implicit
            sync._implicit = grown
        cur_j = cur[cb[j] : cb[j] + ce_l[j]]
        if gone_l[j]:
            ex.note_deaths(cur_j)
        else:  # what note_deaths does when nothing died
            ex.handle_netid = cur_j
        a, b = nb[j], nb[j] + cn_l[j]
        r0, r1 = rb[j], rb[j] + rn_l[j]
        sync._last = LastBuild(nx[a:b], ny[a:b], nq[a:b], nn[a:b], nvx[r0:r1], nvy[r0:r1], boxes[j])
        made.append(sync._last)
        ne, nc, nl = (
            e_b[j + 1] - e_b[j],
            c_b[j + 1] - c_b[j] + m_b[j + 1] - m_b[j],
            l_b[j + 1] - l_b[j],
        )
        sync.last_stats = StateFrameStats(
            pairs=n * counts_l[j], entered=n * ne, changed=n * nc, left=n * nl, frames=n,
            payload_bytes=len(body) * n if tails is None else sum(map(len, frames)),
            steady=n, shared=n,
        )  # fmt: skip
        result[j] = frames
    if bound is not None:  # what the next tick needs if it is steady
        bound.views = None
        if all(ok_l):
            bound.views = SteadyViews(
                bound, rows, [m.interest for m in ms], made,
                [m.seats for m in ms], [m.viewers for m in ms],
                [m.interest.explicit.handle_netid for m in ms],
                [m.interest.last_stats for m in ms],
                row_m, starts, seat_m, vrow, at, rbase[seat_m] + seats,
                nx, ny, nq, nvx, nvy, q, bx, [bool(w) for w in wide.tolist()], counts_l,
            )  # fmt: skip
    return result

"""Implicit baselines: seats that took the last build hold exactly what it showed them.

Over a websocket a frame handed to the transport arrives in order or the connection
dies, so a seat built at the previous build (without overload relief) holds exactly
the entities that were within the radius of its viewer *then*, at the positions of
*then*. That needs no per-pair memory: :class:`LastBuild` keeps, by handle, the
positions, quantized positions and net ids of the last build, and by seat its viewer.
Entered / changed / left of such a "steady" seat are decided by geometry:

- **Shared per entity, once per build**: did it exist at the last build (same net id
  on its handle), did it move at most ``D`` world units (else it is a *jumper*), has
  its quantized position changed, and its step delta or absolute position. Those rows
  are laid out once in cell order (:class:`~server.core.sync.cells.CellBins`).
- **Deep cells** (every point within ``r - M`` of the viewer, ``M = D + viewer moved +
  eps``): every non-jumper in them was visible at the last build and is visible now,
  so the seat's changed rows there are the shared runs, gathered as whole ranges; no
  test per pair.
- **Rim cells** (touching ``r + M`` but not deep): per pair, visible now and visible
  then, from the positions.
- **Jumpers** (new, reused handles, teleports) and **deaths**: a brute-force check
  against every steady seat (few rows by construction; the caller falls back to the
  explicit path when there are too many).
- **One gather per key**: each key's rows of all seats are gathered in one pass, seat
  by seat (the seat's deep runs, then its rim, jumper and death rows): one part already
  grouped by seat, which the encoder slices with no merge.
- **Whole views**: a seat whose radius covers every entity now and every entity of the
  last build sees the same rows as every other such seat: the match's delta, encoded
  once (:func:`server.core.sync.encode.share`).

Exact: each decision uses the same ``dx*dx + dy*dy <= r*r`` test on the same floats as
the build that sent the baseline, so the frames are those of the explicit path (order
inside a key aside); the property tests in ``tests/core/test_interest_cells.py`` hold
it to a brute-force mirror.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.sync.cells import CellBins, eps_units, expand, one_run_each, seat_runs
from server.core.sync.encode import Part
from server.core.sync.quantize import step_deltas

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
U32 = NDArray[np.uint32]
BRUTE_LIMIT = 4_000_000
"""Most (seat x jumper-or-death) checks a build does before it falls back."""
MAX_FAST_JUMPERS = 64
"""Most entities made jumpers for moving faster than the rest (see :func:`_move_bound`)."""
MOVE_CAP_SHARE = 0.25
"""The farthest a non-jumper may move between builds, as a share of the radius (or one
cell, if larger; see :func:`_move_bound`)."""
STEP, FAR = 1, 2
"""Per-entity codes of what a seat that keeps it in view gets: a step or a far move."""
B = NDArray[np.bool_]


@dataclass(slots=True)
class LastBuild:
    """The inputs of the last build, by handle (``netid`` 0: no entity) and by seat."""

    x: F64
    y: F64
    q: U32
    netid: U32
    vx: F64
    vy: F64
    box: tuple[float, float, float, float] | None
    """Bounding box ``(x0, y0, x1, y1)`` of the entities' positions (world units);
    None when there were none."""


@dataclass(slots=True)
class SteadyOut:
    """Rows of the steady seats: per-seat parts for some, the shared delta for ``whole``."""

    whole: NDArray[np.bool_]
    parts: list[Part]
    """One part: the rows of the seats not ``whole`` (in order); empty when all are."""
    shared: Part
    """The delta every ``whole`` seat gets (one seat's worth)."""
    pairs: int
    counts: tuple[int, int, int]
    """Entered, changed, left rows over all steady seats."""


def _corner_d2(box: tuple[float, float, float, float] | None, vx: F64, vy: F64) -> F64:
    """Squared distance from each viewer to the farthest corner of ``box`` (0: no box)."""
    if box is None:
        return np.zeros(len(vx))
    x0, y0, x1, y1 = box
    fx = np.maximum(np.abs(vx - x0), np.abs(vx - x1))
    fy = np.maximum(np.abs(vy - y0), np.abs(vy - y1))
    out: F64 = fx * fx + fy * fy
    return out


def steady_rows(
    last: LastBuild,
    bins_of: Callable[[], CellBins],
    cell: float,
    radius: float,
    netids: U32,
    kinds: NDArray[np.uint8],
    q: U32,
    handles: I64,
    xs: F64,
    ys: F64,
    vx: F64,
    vy: F64,
    pvx: F64,
    pvy: F64,
    box: tuple[float, float, float, float] | None,
) -> SteadyOut | None:
    """Rows for steady seats viewing from ``(vx, vy)`` (last build: ``(pvx, pvy)``).

    ``box`` is the bounding box of ``(xs, ys)``; ``bins_of()`` bins them into cells of
    about ``cell`` units (called only when some seat's view is not whole). None: too
    many jumpers or deaths for the brute-force check; the caller takes the explicit
    path instead.
    """
    r2 = radius * radius
    eps = eps_units(box)
    cols = len(last.netid)
    hc = np.minimum(handles, cols - 1)
    same = (handles < cols) & (last.netid[hc] == netids)
    pq = last.q[hc]
    changed = same & (q != pq)
    near, steps_all = step_deltas(q, pq)  # steps valid where near
    cur_netid = np.zeros(max(cols, int(handles.max(initial=-1)) + 1), dtype=np.uint32)
    cur_netid[handles] = netids
    dead = np.flatnonzero((last.netid != 0) & (last.netid != cur_netid[:cols]))

    # Whole views: everything now within r of v, everything then within r of v'.
    lim = (radius - eps) ** 2
    whole = (_corner_d2(box, vx, vy) <= lim) & (_corner_d2(last.box, pvx, pvy) <= lim)
    if whole.any():
        shared = _shared_delta(netids, kinds, q, same, changed, near, steps_all, last.netid[dead])
    else:  # nobody gets it: an empty one
        no = np.zeros(0, dtype=bool)
        shared = _shared_delta(netids[:0], kinds[:0], q[:0], no, no, no, steps_all[:0], netids[:0])
    sel = np.flatnonzero(~whole)
    n = len(sel)
    if n == 0:
        k = len(vx)
        counts_w = (k * len(shared.e_ids), k * (len(shared.c_ids) + len(shared.m_ids)))
        return SteadyOut(whole, [], shared, k * len(xs), (*counts_w, k * len(shared.l_ids)))
    px, py = last.x[hc], last.y[hc]
    disp2 = np.where(same, (xs - px) ** 2 + (ys - py) ** 2, np.inf)
    d_max = _move_bound(disp2[same], cell, radius)
    jumper = disp2 > d_max * d_max
    jumpers = np.flatnonzero(jumper)
    if n * (len(jumpers) + len(dead)) > BRUTE_LIMIT:
        return None
    n_whole = len(vx) - n
    pairs = n_whole * len(xs)
    bins = bins_of()
    sx, sy, spx, spy = vx[sel], vy[sel], pvx[sel], pvy[sel]
    margin = d_max + np.sqrt((sx - spx) ** 2 + (sy - spy) ** 2) + eps
    run_q, lo, hi, dlo, dhi = bins.ranges(sx, sy, radius + margin, radius - margin)

    # Per entity, once, in cell order: what a seat that holds it and still sees it gets
    # (STEP: a step, FAR: a far move, 0: nothing). Jumpers are checked below, so in the
    # cell runs they sit at infinity (never visible there).
    order = bins.order
    code = np.where(changed & ~jumper, np.where(near, STEP, FAR), 0).astype(np.uint8)
    co = code[order]
    jo = jumper[order]
    xo, yo = np.where(jo, np.inf, xs[order]), np.where(jo, np.inf, ys[order])
    pxo, pyo = np.where(jo, np.inf, px[order]), np.where(jo, np.inf, py[order])

    # Deep: each (seat, grid row) run is a run of the cell-ordered STEP (FAR) rows.
    pc_ok = np.r_[0, np.cumsum(~jo)]
    pairs += int((pc_ok[dhi] - pc_ok[dlo]).sum())
    step_u2 = steps_all.view("<u2").reshape(-1)
    vals = (step_u2, q)
    deep = []
    for c in (STEP, FAR):
        ms = co == c
        pc = np.r_[0, np.cumsum(ms)]
        slots = order[ms]
        deep.append(((netids[slots], vals[c - 1][slots]), (run_q, pc[dlo], pc[dhi])))

    # Rim: both sides of each deep run, pair by pair.
    starts = np.stack([lo, dhi], axis=1).reshape(-1)
    ends = np.stack([dlo, hi], axis=1).reshape(-1)
    run, pos = expand(starts, ends)
    rq = run_q[run >> 1]
    now = d2_at(xo, yo, pos, sx, sy, rq) <= r2
    then = d2_at(pxo, pyo, pos, spx, spy, rq) <= r2
    pairs += int(now.sum())
    rim = [(seat, order[p]) for seat, p in _split(rq, pos, co[pos], now, then)]
    # The rim's per-pair arrays are the build's largest: free them before the gathers
    # below allocate theirs (the kept heap holds a build's peak between trims).
    del run, pos, rq, now, then, starts, ends, lo, hi, dlo, dhi

    # Jumpers and deaths: every non-whole steady seat against each (few by design).
    jn = d2(xs[jumpers][None, :], ys[jumpers][None, :], sx[:, None], sy[:, None]) <= r2
    jt = d2(px[jumpers][None, :], py[jumpers][None, :], spx[:, None], spy[:, None]) <= r2
    jt &= same[jumpers][None, :]
    js, jj = np.nonzero(jn | jt)
    pairs += int(jn.sum())
    jslot = jumpers[jj]
    jcode = np.where(changed[jslot], np.where(near[jslot], STEP, FAR), 0)
    jump = _split(js, jslot, jcode, jn[js, jj], jt[js, jj])
    dd = d2(last.x[dead][None, :], last.y[dead][None, :], spx[:, None], spy[:, None])
    ds, dk = np.nonzero(dd <= r2)

    # One part, grouped by seat as it is gathered (no merge of parts).
    def pick(k: int, *arrays: NDArray[Any]) -> list[tuple[I64, tuple[NDArray[Any], ...]]]:
        return [(seat, tuple(a[slot] for a in arrays)) for seat, slot in (rim[k], jump[k])]

    (e_ids, e_kind, e_pos), e_b = _rows(n, [], pick(0, netids, kinds, q))
    (c_ids, c_step), c_b = _rows(n, [deep[0]], pick(1, netids, step_u2))
    (m_ids, m_pos), m_b = _rows(n, [deep[1]], pick(2, netids, q))
    (l_ids,), l_b = _rows(n, [], [*pick(3, netids), (ds, (last.netid[dead[dk]],))])
    part = Part(
        e_ids, e_kind, e_pos, e_b, c_ids, c_step.view(np.int8).reshape(-1, 2), c_b,
        m_ids, m_pos, m_b, l_ids, l_b,
    )  # fmt: skip
    counts = (
        n_whole * len(shared.e_ids) + len(e_ids),
        n_whole * (len(shared.c_ids) + len(shared.m_ids)) + len(c_ids) + len(m_ids),
        n_whole * len(shared.l_ids) + len(l_ids),
    )
    return SteadyOut(whole, [part], shared, pairs, counts)


def _split(seat: I64, slot: I64, code: NDArray[Any], now: B, then: B) -> list[tuple[I64, I64]]:
    """``(seat, slot)`` of the pairs that entered, stepped, moved far and left (that order)."""
    both = now & then
    out = []
    for m in (now & ~then, both & (code == STEP), both & (code == FAR), then & ~now):
        k = np.flatnonzero(m)
        out.append((seat[k], slot[k]))
    return out


Cols = tuple[NDArray[Any], ...]


def _rows(
    n: int, runs: list[tuple[Cols, tuple[I64, I64, I64]]], groups: list[tuple[I64, Cols]]
) -> tuple[Cols, I64]:
    """One key's columns for ``n`` seats, grouped by seat, and the per-seat bounds.

    ``runs``: ``(columns, (seat, lo, hi))``, each seat's rows ``columns[lo:hi]`` (``seat``
    ascending); ``groups``: ``(seat, columns)``, a row per entry (``seat`` ascending)."""
    srcs = [c for c, _ in runs] + [c for _, c in groups]
    sets = [r for _, r in runs]
    off = sum(len(c[0]) for c, _ in runs)
    for seat, c in groups:
        sets.append(one_run_each(seat, n, off))
        off += len(c[0])
    idx, b = seat_runs(n, sets)
    if len(srcs) == 1:
        return tuple(a[idx] for a in srcs[0]), b
    return tuple(np.concatenate(k)[idx] for k in zip(*srcs, strict=True)), b


def _shared_delta(
    netids: U32,
    kinds: NDArray[np.uint8],
    q: U32,
    same: NDArray[np.bool_],
    changed: NDArray[np.bool_],
    near: NDArray[np.bool_],
    steps_all: NDArray[np.int8],
    dead_ids: U32,
) -> Part:
    """What a seat that sees everything, now and at the last build, gets (one seat)."""
    new = ~same
    cn = changed & near
    cf = changed & ~near
    steps = steps_all[cn]

    def one(k: int) -> I64:
        return np.array([0, k], dtype=np.int64)

    return Part(
        netids[new], kinds[new], q[new], one(int(new.sum())),
        netids[cn], steps, one(len(steps)),
        netids[cf], q[cf], one(int(cf.sum())),
        dead_ids, one(len(dead_ids)),
    )  # fmt: skip


def _move_bound(moved2: F64, cell: float, radius: float) -> float:
    """How far (world units) a non-jumper may have moved since the last build.

    Small enough that only the few fastest movers (at most :data:`MAX_FAST_JUMPERS`, or
    1 %) count as jumpers: one pushed entity must not widen every seat's rim. And at
    most the larger of ``cell`` and :data:`MOVE_CAP_SHARE` x ``radius``: the rim is
    ``2 x bound`` wider than the circle's edge, and past a quarter of the radius its
    pairs would outnumber the explicit path's. The cap used to be ``cell`` alone, and
    where entities move more than a cell between builds (a dense world at 10 Hz:
    (20000, 200) moved ~5-10 units a build with ~5-unit cells) every one of them was a
    jumper, so every build fell back to the explicit path for every seat.
    """
    m = len(moved2)
    if m == 0:
        return 0.0
    k = min(MAX_FAST_JUMPERS, m // 100)
    bound2 = float(np.partition(moved2, m - 1 - k)[m - 1 - k]) if k else float(moved2.max())
    cap = max(cell, radius * MOVE_CAP_SHARE)
    return float(np.sqrt(min(bound2, cap * cap)))


def last_build(
    handles: I64, netids: U32, q: U32, xs: F64, ys: F64, rows: int, seats: I64, vx: F64, vy: F64,
    prev: LastBuild | None,
) -> LastBuild:  # fmt: skip
    """Record this build's inputs (by handle; viewers of ``seats`` by seat)."""
    cols = max(1, int(handles.max(initial=-1)) + 1)
    bx = np.zeros(cols)
    by = np.zeros(cols)
    bq = np.zeros(cols, dtype=np.uint32)
    bn = np.zeros(cols, dtype=np.uint32)
    bx[handles], by[handles], bq[handles], bn[handles] = xs, ys, q, netids
    pvx = np.zeros(rows)
    pvy = np.zeros(rows)
    if prev is not None:
        k = min(rows, len(prev.vx))
        pvx[:k], pvy[:k] = prev.vx[:k], prev.vy[:k]
    pvx[seats], pvy[seats] = vx, vy
    return LastBuild(bx, by, bq, bn, pvx, pvy, bounding_box(xs, ys))


def bounding_box(xs: F64, ys: F64) -> tuple[float, float, float, float] | None:
    """``(x0, y0, x1, y1)`` of the points (None when there are none)."""
    if len(xs) == 0:
        return None
    return (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))


def d2(ax: F64, ay: F64, bx: F64, by: F64) -> F64:
    """Squared distances, computed as every visibility test here computes them."""
    dx = ax - bx
    dy = ay - by
    out: F64 = dx * dx + dy * dy
    return out


def d2_at(ax: F64, ay: F64, ia: I64, bx: F64, by: F64, ib: I64) -> F64:
    """``d2(ax[ia], ay[ia], bx[ib], by[ib])``, the same floats, in two arrays' room.

    The rim's pairs are the build's largest arrays: :func:`d2` over four gathered
    arguments held nine pair-length arrays at once; working in place holds three."""
    dx = ax[ia]
    dx -= bx[ib]
    dx *= dx
    dy = ay[ia]
    dy -= by[ib]
    dy *= dy
    dx += dy
    return dx

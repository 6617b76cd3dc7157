"""Whole-match views of a steady batch: the tick after a batch pass, when nothing moved
but positions.

Contract (:func:`build_steady`): given the matches of
:func:`~server.core.batch.frames.build_whole_views` (all of them in its case) and the
:class:`SteadyViews` that the last pass left on the batch's stack, return every match's
frames -- byte for byte what :func:`~server.core.batch.frames._build` would return, with
the interest state advanced exactly as it advances it -- or None when this tick is not
steady (nothing is touched then, and the general pass runs).

Steady: the same matches in the same order, on the same bound stack (no spawn, despawn,
join or leave in any of them: :func:`~server.core.batch.stack.stack_of`), the same seats
and viewers, and each match's last build and explicit handle map still the ones that
pass left (no build of the match alone since). Then the general pass's work collapses:
no entity entered or left (same net ids on the same handles), every handle keeps its
row, every viewer its row, so the delta is the quantized positions that moved (encoded
here: only the changed keys ``c``/``d`` and ``m``/``q`` have rows), and the new last
build is written into the arrays of the old one (its views stay the match's
``LastBuild``). The whole-view test (each viewer's radius covers every entity now and at
the last build) is the general pass's, on the same values; if any match fails it the
tick is not steady.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from server.core.sync.cells import EPS_UNITS
from server.core.sync.encode import bounds, frame_heads, share
from server.core.sync.msgbytes import bin_header, frame_tails
from server.core.sync.quantize import PositionQuantizer, step_deltas
from server.core.sync.state import InterestSync, StateFrameStats
from server.core.sync.steady import LastBuild

if TYPE_CHECKING:
    from server.core.batch.frames import WholeViewMatch
    from server.core.batch.stack import StackedWorld

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
U32 = NDArray[np.uint32]
_ID = {2: "<u2", 4: "<u4"}
# The STATE body after its head (docs/protocol.md), as encode() writes it for a delta
# with changed rows only: e, k, p and l empty, then c, d, m, q.
_EMPTY_E_K_P = b"\xc4\x00\xa1k\xc4\x00\xa1p\xc4\x00\xa1c"
_K_D, _K_M, _K_Q = b"\xa1d", b"\xa1m", b"\xa1q"
_EMPTY_L = b"\xa1l\xc4\x00"


@dataclass(slots=True)
class SteadyViews:
    """What a batch pass leaves for the next steady tick (all arrays over the stack)."""

    stack: StackedWorld
    rows: I64 | None
    """The matches' rows in the stack, in order (None: all of it)."""
    interests: list[InterestSync]
    lasts: list[LastBuild]
    seats: list[list[int]]
    viewers: list[list[int]]
    handle_netids: list[U32]
    stats: list[StateFrameStats]
    """Each match's ``last_stats`` as the pass left it (steady ticks update it in place:
    only the pass and the metrics, which read it at once, hold it)."""
    row_m: I64
    """Per row, its match (rows: the matches' rows, match after match)."""
    starts: I64
    """Each match's first row."""
    seat_m: I64
    """Per seat of the pass (match after match), its match."""
    vrow: I64
    """Per seat, its viewer's stack row."""
    at: I64
    """Per row, its place in :attr:`nx` / :attr:`ny` / :attr:`nq` (by handle)."""
    seat_at: I64
    """Per seat, its place in :attr:`nvx` / :attr:`nvy`."""
    nx: F64
    ny: F64
    nq: U32
    nvx: F64
    nvy: F64
    """The arrays the matches' ``LastBuild`` s are views of."""
    q: U32
    """The last build's quantized positions, by row."""
    bx: F64
    """The last build's boxes, one row ``(x0, y0, x1, y1)`` per match."""
    wide: list[bool]
    """Per match, 4-byte ids."""
    counts: list[int]


def _same(ms: Sequence[WholeViewMatch], st: SteadyViews) -> bool:
    if len(ms) != len(st.interests):
        return False
    for j, m in enumerate(ms):
        sync = m.interest
        if (
            sync is not st.interests[j]
            or sync._last is not st.lasts[j]
            or sync.explicit.handle_netid is not st.handle_netids[j]
            or sync.last_stats is not st.stats[j]
            or m.seats != st.seats[j]
            or m.viewers != st.viewers[j]
        ):
            return False
    return True


def build_steady(
    ms: Sequence[WholeViewMatch],
    st: SteadyViews,
    stack: StackedWorld,
    rows: I64 | None,
    quantizer: PositionQuantizer,
    scale: float,
) -> list[list[bytes]] | None:
    """Every match's frames for a steady tick, or None (see the module docstring).

    ``rows``: the matches' rows in ``stack`` (None: all), as
    :func:`~server.core.batch.stack.rows_of` gives them.
    """
    if stack is not st.stack or (rows is None) != (st.rows is None) or not _same(ms, st):
        return None
    n_m = len(ms)
    px, py = stack.col("position.x"), stack.col("position.y")
    if rows is not None:
        px, py = px[rows], py[rows]
    xs = px.astype(np.float64) / scale
    ys = py.astype(np.float64) / scale
    starts = st.starts
    x0 = np.minimum.reduceat(xs, starts)
    y0 = np.minimum.reduceat(ys, starts)
    x1 = np.maximum.reduceat(xs, starts)
    y1 = np.maximum.reduceat(ys, starts)
    bx = np.stack([x0, y0, x1, y1], axis=1)
    boxes = list(zip(x0.tolist(), y0.tolist(), x1.tolist(), y1.tolist(), strict=True))
    vx, vy = xs[st.vrow], ys[st.vrow]
    if not _views_whole(ms, st, bx, boxes, vx, vy):
        return None

    q = quantizer.packed(stack) if rows is None else quantizer.packed(stack)[rows]
    pq = st.q
    moved = np.flatnonzero(q != pq)
    qm, pm = q[moved], pq[moved]
    near, steps = step_deltas(qm, pm)
    netids: U32 = stack.col("netid") if rows is None else stack.col("netid")[rows]
    cn, cf = moved[near], moved[~near]
    c_b = bounds(st.row_m[cn], n_m).tolist()
    m_b = bounds(st.row_m[cf], n_m).tolist()
    step_bytes = steps[near].tobytes()
    pos_bytes = q[cf].astype("<u4").tobytes()
    ids = {w: (netids[cn].astype(_ID[w]).tobytes(), netids[cf].astype(_ID[w]).tobytes())
           for w in {4 if w else 2 for w in st.wide}}  # fmt: skip

    # The new last builds, in place: every handle and viewer keeps its place.
    st.nx[st.at], st.ny[st.at], st.nq[st.at] = xs, ys, q
    st.nvx[st.seat_at], st.nvy[st.seat_at] = vx, vy
    st.q, st.bx = q, bx
    heads: dict[tuple[int, int], bytes] = {}
    result: list[list[bytes]] = []
    for j, m in enumerate(ms):
        width = 4 if st.wide[j] else 2
        n = len(m.seats)
        head = heads.get((m.tick, width))
        if head is None:
            head = heads[(m.tick, width)] = frame_heads(m.tick, width).get(False, 0)
        c0, c1, m0, m1 = c_b[j], c_b[j + 1], m_b[j], m_b[j + 1]
        c_ids, m_ids = ids[width]
        body = b"".join(
            (
                head, _EMPTY_E_K_P,
                bin_header(width * (c1 - c0)), c_ids[width * c0 : width * c1],
                _K_D, bin_header(2 * (c1 - c0)), step_bytes[2 * c0 : 2 * c1],
                _K_M, bin_header(width * (m1 - m0)), m_ids[width * m0 : width * m1],
                _K_Q, bin_header(4 * (m1 - m0)), pos_bytes[4 * m0 : 4 * m1],
                _EMPTY_L,
            )
        )  # fmt: skip
        tails = m.tails()
        if tails is None:
            frames = [body] * n
        else:
            nk, tail = frame_tails(None, tails, n, width)
            frames = share(body, m.tick, width, nk, tail)
        st.lasts[j].box = boxes[j]
        stats = st.stats[j]  # the pass's own object: counts updated in place
        stats.entered = stats.left = 0
        stats.changed = n * (c1 - c0 + m1 - m0)
        stats.payload_bytes = len(body) * n if tails is None else sum(map(len, frames))
        result.append(frames)
    return result


_SURE = 1e-12
"""Relative margin: float64 results that differ by a few ulps (``x ** 2`` through
``pow`` against ``x * x``) are never this far apart."""


def _views_whole(
    ms: Sequence[WholeViewMatch],
    st: SteadyViews,
    bx: F64,
    boxes: list[tuple[float, float, float, float]],
    vx: F64,
    vy: F64,
) -> bool:
    """The general pass's test, every match: its build is eligible (not in pair mode, or
    the radius spans the box now and at the last build: ``_whole_world``), and every
    viewer's radius less the slack covers its box's farthest corner now and at the last
    build.

    Decided per match in whole arrays where that is sure: a viewer lies in its box, so
    its farthest-corner distance is at most the box's diagonal (the same roundings,
    monotone), and a diagonal clear of the bound by :data:`_SURE` settles the match
    without the Python ``**`` the exact rule uses. A match not settled so is decided by
    the exact rule, as the general pass computes it.
    """
    n_m = len(ms)
    radius = np.fromiter((m.interest.radius_units for m in ms), dtype=np.float64, count=n_m)
    small = np.fromiter((m.interest._small(len(m.seats)) for m in ms), dtype=bool, count=n_m)
    eps = EPS_UNITS * (1.0 + np.abs(bx).max(axis=1) * 2.0)  # eps_units(box), elementwise
    lim = (radius - eps) * (radius - eps)
    r2 = radius * radius
    now = _diagonal2(bx)
    last = _diagonal2(st.bx)
    sure_world = (now <= r2 * (1 - _SURE)) & (last <= r2 * (1 - _SURE))
    sure_whole = (now <= lim * (1 - _SURE)) & (last <= lim * (1 - _SURE))
    if bool((sure_whole & (sure_world | ~small)).all()):
        return True
    eps_l = eps.tolist()
    lims = []
    for j, m in enumerate(ms):  # the exact rule, as the general pass
        sync = m.interest
        if small[j] and not sync._whole_world(sync.radius_units, boxes[j]):
            return False
        lims.append((sync.radius_units - eps_l[j]) ** 2)
    seat_m = st.seat_m
    per_seat = np.array(lims, dtype=np.float64)[seat_m]
    pvx, pvy = st.nvx[st.seat_at], st.nvy[st.seat_at]
    whole = (_corner(bx[seat_m], vx, vy) <= per_seat) & (
        _corner(st.bx[seat_m], pvx, pvy) <= per_seat
    )
    return bool(whole.all())


def _diagonal2(box: F64) -> F64:
    """Squared diagonal of each box row ``(x0, y0, x1, y1)``."""
    dx = box[:, 2] - box[:, 0]
    dy = box[:, 3] - box[:, 1]
    out: F64 = dx * dx + dy * dy
    return out


def _corner(box: F64, vx: F64, vy: F64) -> F64:
    """steady._corner_d2 with one box per viewer (rows of ``box``: x0, y0, x1, y1)."""
    fx = np.maximum(np.abs(vx - box[:, 0]), np.abs(vx - box[:, 2]))
    fy = np.maximum(np.abs(vy - box[:, 1]), np.abs(vy - box[:, 3]))
    out: F64 = fx * fx + fy * fy
    return out

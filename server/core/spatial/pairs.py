"""All pairs of points within a distance, via a temporary fine grid (cell = distance).

A general-purpose index cell (sized for interest queries, e.g. 50 units) is far too
coarse for contact distances of a few units: every point would be tested against every
point of its cell. Hashing the points into cells exactly ``distance`` wide means each
point only meets the few points of its own and four "forward" neighbour cells (the
other four are covered from the other side), so the work is O(n) for spread-out points.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_E = np.zeros(0, dtype=np.int64)

# Forward neighbours: self, right, and the three cells of the row above.
_OFFSETS = ((0, 0), (1, 0), (-1, 1), (0, 1), (1, 1))


_DENSE_CELLS_PER_POINT = 16
"""A cell table (one start offset per cell) is used while cells <= this many per point..."""
_DENSE_MIN_POINTS = 256
"""... and from this many points on (below, two binary searches measure faster)."""


def pairs_within(
    ids: NDArray[np.int64], xs: NDArray[np.float64], ys: NDArray[np.float64], distance: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """All ``(a, b)`` with ``a < b`` and squared distance <= ``distance**2``, sorted."""
    n = len(ids)
    if n < 2:
        return _E, _E
    cell = max(float(distance), 1e-9)
    cx = np.floor(xs / cell).astype(np.int64)
    cy = np.floor(ys / cell).astype(np.int64)
    cx -= cx.min()
    cy -= cy.min()
    width = int(cx.max()) + 3  # room for the -1/+1 neighbours without wrapping
    cells = (int(cy.max()) + 3) * width
    key = (cy + 1) * width + (cx + 1)
    # Any order within a cell will do: the pairs are sorted at the end.
    order = np.argsort(key)
    skey = key[order]
    sx, sy, sid = xs[order], ys[order], ids[order]
    idx = np.arange(n, dtype=np.int64)
    start: NDArray[np.int64] | None = None
    if n >= _DENSE_MIN_POINTS and cells <= _DENSE_CELLS_PER_POINT * n:
        # Where each cell's run starts in skey: two look-ups per point instead of two
        # binary searches (the stack of many small matches is a wide, sparse plane).
        start = np.zeros(cells + 1, dtype=np.int64)
        np.cumsum(np.bincount(skey, minlength=cells), out=start[1:])
    out_a: list[NDArray[np.int64]] = []
    out_b: list[NDArray[np.int64]] = []
    d2 = distance * distance
    for ox, oy in _OFFSETS:
        target = skey + (oy * width + ox)
        if start is not None:
            lo = start[target]
            hi = start[target + 1]
        else:
            lo = np.searchsorted(skey, target, side="left")
            hi = np.searchsorted(skey, target, side="right")
        if ox == 0 and oy == 0:
            lo = idx + 1  # same cell: each pair once
        cnt = np.maximum(hi - lo, 0)
        total = int(cnt.sum())
        if total == 0:
            continue
        i = np.repeat(idx, cnt)
        j = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(total, dtype=np.int64)
        dx = sx[j] - sx[i]
        dy = sy[j] - sy[i]
        hit = dx * dx + dy * dy <= d2
        a, b = sid[i[hit]], sid[j[hit]]
        out_a.append(np.minimum(a, b))
        out_b.append(np.maximum(a, b))
    if not out_a:
        return _E, _E
    a = np.concatenate(out_a)
    b = np.concatenate(out_b)
    key = np.sort((a << 32) | b)  # ids < 2**32: one SIMD sort instead of a lexsort
    return key >> 32, key & 0xFFFF_FFFF

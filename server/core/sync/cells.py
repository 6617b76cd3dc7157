"""Entities binned into square cells once per snapshot build, for interest by cell.

Cells are stored row-major and entities sorted by cell, so the cells of one grid row
are one contiguous run of entities: a viewer's circle covers, per row, one run of
cells whose every point is within an inner radius ("deep": sent from shared runs,
nothing per pair) inside one run of cells that touch an outer radius (everything
else there is the "rim", checked pair by pair). :meth:`CellBins.ranges` gives both
runs for many viewers at once; :meth:`CellBins.query` is the plain radius query over
the same bins (the same positions and the same ``dx*dx + dy*dy <= r*r`` test as
every other visibility decision of :mod:`server.core.sync.state`, so the two paths
never disagree about what a client sees).

The bins cover the bounding box of the positions given (no clamping): a cell's
rectangle ``[x0 + c*s, x0 + (c+1)*s] x [y0 + b*s, y0 + (b+1)*s]`` (world units)
holds every entity binned into it, up to float rounding, which callers absorb with
a margin of :data:`EPS_UNITS`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
_E = np.zeros(0, dtype=np.int64)
MAX_CELLS = 65536
"""Above this many cells the cell size grows (keeps the radix sort on uint16 keys)."""
EPS_UNITS = 1e-6
"""Rounding slack (world units, relative to the coordinates' magnitude) for the cell
rectangles and distance tests."""


def eps_units(box: tuple[float, float, float, float] | None) -> float:
    """The rounding slack for coordinates within ``box`` (world units)."""
    if box is None:
        return EPS_UNITS
    return EPS_UNITS * (1.0 + max(abs(v) for v in box) * 2.0)


_ARANGE = [np.arange(1 << 16, dtype=np.int64)]
_ARANGE[0].flags.writeable = False


def arange(n: int) -> I64:
    """``np.arange(n)`` as a read-only view of one kept array (grown on demand).

    The runs below add it to a repeated offset: a fresh ``arange`` of a few hundred
    thousand entries a call cost more than the rest of the work (new pages each time)."""
    a = _ARANGE[0]
    if len(a) < n:
        a = _ARANGE[0] = np.arange(max(n, 2 * len(a)), dtype=np.int64)
        a.flags.writeable = False
    return a[:n]


def positions(lo: I64, hi: I64) -> I64:
    """Every position of the runs ``[lo[i], hi[i])``, in order (no run index)."""
    cnt = np.maximum(hi - lo, 0)
    total = int(cnt.sum())
    if total == 0:
        return _E
    first = np.cumsum(cnt) - cnt
    out: I64 = np.repeat(lo - first, cnt)
    out += arange(total)
    return out


def per_group(group: I64, counts: I64, n: int) -> I64:
    """Run bounds (length ``n + 1``) of groups ``0..n-1`` given each run's group and size."""
    out = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(group, weights=counts, minlength=n).astype(np.int64), out=out[1:])
    return out


def expand(lo: I64, hi: I64) -> tuple[I64, I64]:
    """``(run, position)`` for every position of the runs ``[lo[i], hi[i])``, in order."""
    cnt = np.maximum(hi - lo, 0)
    total = int(cnt.sum())
    if total == 0:
        return _E, _E
    run = np.repeat(arange(len(lo)), cnt)
    first = np.cumsum(cnt) - cnt
    pos = np.repeat(lo - first, cnt)
    pos += arange(total)
    return run, pos


def one_run_each(seat: I64, n: int, offset: int) -> tuple[I64, I64, I64]:
    """Rows ``offset + i`` grouped by ``seat`` (ascending, ``0..n-1``) as one run per seat."""
    b = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(seat, minlength=n), out=b[1:])
    b += offset
    return np.arange(n, dtype=np.int64), b[:-1], b[1:]


def seat_runs(n: int, sets: list[tuple[I64, I64, I64]]) -> tuple[I64, I64]:
    """The rows of several sets of runs, grouped by seat, and per-seat bounds (``n + 1``).

    Each set is ``(seat, lo, hi)``: runs ``[lo, hi)`` of one source, ``seat`` ascending.
    A seat's rows are its runs of the first set, then of the second, and so on."""
    if len(sets) == 1:
        seat, lo, hi = sets[0]
    else:
        seat = np.concatenate([s for s, _, _ in sets])
        lo = np.concatenate([a for _, a, _ in sets])
        hi = np.concatenate([b for _, _, b in sets])
        o = np.argsort(seat.astype(np.int16) if n < 32768 else seat, kind="stable")
        seat, lo, hi = seat[o], lo[o], hi[o]
    return positions(lo, hi), per_group(seat, hi - lo, n)


class CellBins:
    """Slots ``0..n-1`` at ``(xs, ys)`` binned into cells of ``cell_units`` (about)."""

    def __init__(self, xs: F64, ys: F64, cell_units: float) -> None:
        n = len(xs)
        self.x0 = float(xs.min()) if n else 0.0
        self.y0 = float(ys.min()) if n else 0.0
        w = float(xs.max()) - self.x0 if n else 0.0
        h = float(ys.max()) - self.y0 if n else 0.0
        s = max(float(cell_units), 1e-9)
        if (w / s + 1) * (h / s + 1) > MAX_CELLS:
            s = max(s, math.sqrt((w + s) * (h + s) / MAX_CELLS) * 1.01)
        self.s = s
        self.nx = int(w // s) + 1
        self.ny = int(h // s) + 1
        cx = np.minimum(((xs - self.x0) / s).astype(np.int64), self.nx - 1)
        cy = np.minimum(((ys - self.y0) / s).astype(np.int64), self.ny - 1)
        cell = cy * self.nx + cx
        keys = cell.astype(np.uint16) if self.nx * self.ny <= MAX_CELLS else cell
        self.order: I64 = np.argsort(keys, kind="stable").astype(np.int64)
        """Slots sorted by cell (slot order within a cell)."""
        self.starts: I64 = np.zeros(self.nx * self.ny + 1, dtype=np.int64)
        np.cumsum(np.bincount(cell, minlength=self.nx * self.ny), out=self.starts[1:])
        self.eps = eps_units((self.x0, self.y0, self.x0 + w, self.y0 + h))

    def ranges(self, qx: F64, qy: F64, r_out: F64, r_in: F64) -> tuple[I64, I64, I64, I64, I64]:
        """Per (viewer, covered row): ``viewer, lo, hi, deep_lo, deep_hi`` (sorted positions).

        ``[lo, hi)`` covers every entity of the row within ``r_out`` of the viewer;
        ``[deep_lo, deep_hi)`` (inside it, possibly empty with ``deep_lo == deep_hi``)
        holds only cells wholly within ``r_in``. Rows are ascending per viewer.
        """
        s, nx, ny = self.s, self.nx, self.ny
        if len(qx) == 0 or len(self.order) == 0:
            return _E, _E, _E, _E, _E
        b0 = np.floor((qy - r_out - self.y0) / s)
        b1 = np.floor((qy + r_out - self.y0) / s)
        b0 = np.minimum(np.maximum(b0, 0), ny - 1).astype(np.int64)
        b1 = np.minimum(b1, ny - 1).astype(np.int64)
        nrows = np.maximum(b1 - b0 + 1, 0)
        q, k = expand(np.zeros(len(qx), dtype=np.int64), nrows)
        if len(q) == 0:
            return _E, _E, _E, _E, _E
        row = b0[q] + k
        vx, vy, ro, ri = qx[q], qy[q], r_out[q], r_in[q]
        band_lo = self.y0 + row * s
        band_hi = band_lo + s
        dy_near = np.maximum(np.maximum(band_lo - vy, vy - band_hi), 0.0)
        half = np.sqrt(np.maximum(ro * ro - dy_near * dy_near, 0.0))
        c0 = np.floor((vx - half - self.x0) / s)
        c1 = np.floor((vx + half - self.x0) / s)
        empty = (dy_near > ro) | (c1 < 0) | (c0 > nx - 1)
        c0 = np.minimum(np.maximum(c0, 0), nx - 1).astype(np.int64)
        c1 = np.minimum(np.maximum(c1, 0), nx - 1).astype(np.int64)
        base = row * nx
        lo = self.starts[base + c0]
        hi = np.where(empty, lo, self.starts[base + c1 + 1])
        dy_far = np.maximum(np.abs(band_lo - vy), np.abs(band_hi - vy))
        inner = ri > dy_far
        half_d = np.sqrt(np.maximum(ri * ri - dy_far * dy_far, 0.0))
        d0 = np.maximum(np.ceil((vx - half_d - self.x0) / s), 0)
        d1 = np.minimum(np.floor((vx + half_d - self.x0) / s) - 1, nx - 1)
        deep = inner & ~empty & (d1 >= d0)
        d0 = np.where(deep, d0, c0).astype(np.int64)
        d1 = np.where(deep, d1, c0 - 1).astype(np.int64)
        dlo = np.where(deep, self.starts[base + d0], lo)
        dhi = np.where(deep, self.starts[base + d1 + 1], lo)
        return q, lo, hi, dlo, dhi

    def query(self, qx: F64, qy: F64, radius: float, xs: F64, ys: F64) -> tuple[I64, I64]:
        """``(viewer, slot)`` pairs with ``dx*dx + dy*dy <= radius**2``, grouped by viewer."""
        r = np.full(len(qx), radius + self.eps)
        run_q, lo, hi, _, _ = self.ranges(qx, qy, r, np.zeros(len(qx)))
        run, pos = expand(lo, hi)
        if len(run) == 0:
            return _E, _E
        q = run_q[run]
        slots = self.order[pos]
        dx = xs[slots] - qx[q]
        dy = ys[slots] - qy[q]
        hit = dx * dx + dy * dy <= radius * radius
        return q[hit], slots[hit]


def cell_side(radius: float, n: int, box: tuple[float, float, float, float] | None) -> float:
    """Cell side (world units) balancing rows per viewer against rim pairs.

    A viewer costs about ``2 r / s`` row runs (fixed numpy work each) and
    ``density x 2 pi r x 1.4 s`` rim pairs: their sum is least near ``s = sqrt(0.5 /
    density)`` (measured costs: a row run about twice a rim pair), kept within
    ``[r / 40, r / 6]``.
    """
    if box is None or n == 0:
        return max(radius / 6.0, 1e-3)
    area = max((box[2] - box[0]) * (box[3] - box[1]), radius * radius * 1e-2, 1e-9)
    s = float(np.sqrt(0.5 * area / n))
    return max(min(s, radius / 6.0), radius / 40.0, 1e-3)

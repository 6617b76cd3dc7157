"""Uniform grid (spatial hash) built with a counting sort; batched queries."""

from __future__ import annotations

import numpy as np

from server.core.spatial.gathered import EMPTY_IDS, Circle, GatheredIndex
from server.core.spatial.index import CoordArray, IdArray

_E = EMPTY_IDS


class UniformGrid(GatheredIndex):
    """Points binned into square cells of ``cell_size_units``."""

    def __init__(self, width_units: float, height_units: float, cell_size_units: float) -> None:
        self.cell = float(cell_size_units)
        self.nx = max(1, int(np.ceil(width_units / self.cell)))
        self.ny = max(1, int(np.ceil(height_units / self.cell)))
        self.ids = _E
        self.xs = np.zeros(0)
        self.ys = np.zeros(0)
        self.starts = np.zeros(self.nx * self.ny + 1, dtype=np.int64)

    def _cells(self, xs: CoordArray, ys: CoordArray) -> tuple[IdArray, IdArray]:
        cx = np.clip((xs / self.cell).astype(np.int64), 0, self.nx - 1)
        cy = np.clip((ys / self.cell).astype(np.int64), 0, self.ny - 1)
        return cx, cy

    def rebuild(self, ids: IdArray, xs: CoordArray, ys: CoordArray) -> None:
        """Bin points by cell; within a cell, points keep id order."""
        order = np.argsort(ids, kind="stable") if len(ids) and np.any(np.diff(ids) < 0) else None
        if order is not None:
            ids, xs, ys = ids[order], xs[order], ys[order]
        cx, cy = self._cells(xs, ys)
        cell = cy * self.nx + cx
        # A stable sort on uint16 keys is a radix sort in numpy: O(n) for <= 65536 cells.
        keys = cell.astype(np.uint16) if self.nx * self.ny <= 65536 else cell
        by_cell = np.argsort(keys, kind="stable")
        self.ids, self.xs, self.ys = ids[by_cell], xs[by_cell], ys[by_cell]
        counts = np.bincount(cell, minlength=self.nx * self.ny)
        self.starts = np.zeros(self.nx * self.ny + 1, dtype=np.int64)
        np.cumsum(counts, out=self.starts[1:])

    def _gather(
        self,
        x0: CoordArray,
        y0: CoordArray,
        x1: CoordArray,
        y1: CoordArray,
        circle: Circle | None = None,
    ) -> tuple[IdArray, IdArray]:
        """(query, stored index) candidates from every cell each box touches.

        Cells are stored row-major and points sorted by cell, so the cells a box covers
        in one grid row are one contiguous run of points: a box costs one range per
        row, not one per cell. Output is grouped by ascending query.
        """
        nq = len(x0)
        if nq == 0 or len(self.ids) == 0:
            return _E, _E
        cx0, cy0 = self._cells(np.asarray(x0, float), np.asarray(y0, float))
        cx1, cy1 = self._cells(np.asarray(x1, float), np.asarray(y1, float))
        nrows = cy1 - cy0 + 1
        q_of_row = np.repeat(np.arange(nq, dtype=np.int64), nrows)
        first = np.cumsum(nrows) - nrows
        row = cy0[q_of_row] + (
            np.arange(int(nrows.sum()), dtype=np.int64) - np.repeat(first, nrows)
        )
        base = row * self.nx
        c0 = cx0[q_of_row]
        c1 = cx1[q_of_row]
        if circle is not None:
            # Narrow each row to the circle's chord over that row's band. Edge rows
            # reach to infinity (they hold the clamped outside points), so the chord
            # stays a superset of every point within the radius.
            cxq, cyq, radius = circle
            qy = cyq[q_of_row]
            band_lo = np.where(row == 0, -np.inf, row * self.cell)
            band_hi = np.where(row == self.ny - 1, np.inf, (row + 1) * self.cell)
            dy = np.maximum(np.maximum(band_lo - qy, qy - band_hi), 0.0)
            half = np.sqrt(np.maximum(radius * radius - dy * dy, 0.0))
            qx = cxq[q_of_row]
            n0, _ = self._cells(qx - half, qy)
            n1, _ = self._cells(qx + half, qy)
            c0 = np.maximum(c0, n0)
            c1 = np.minimum(c1, n1)
        lo = self.starts[base + c0]
        cnt = np.maximum(self.starts[base + c1 + 1] - lo, 0)
        total = int(cnt.sum())
        if total == 0:
            return _E, _E
        q = np.repeat(q_of_row, cnt)
        off = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        idx = np.repeat(lo, cnt) + off
        return q, idx

"""Uniform grid (spatial hash) built with a counting sort; batched queries."""

from __future__ import annotations

import numpy as np

from server.core.spatial.index import CoordArray, IdArray

_E = np.zeros(0, dtype=np.int64)


class UniformGrid:
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
        by_cell = np.argsort(cell, kind="stable")
        self.ids, self.xs, self.ys = ids[by_cell], xs[by_cell], ys[by_cell]
        counts = np.bincount(cell, minlength=self.nx * self.ny)
        self.starts = np.zeros(self.nx * self.ny + 1, dtype=np.int64)
        np.cumsum(counts, out=self.starts[1:])

    def __len__(self) -> int:
        return len(self.ids)

    def _gather(
        self, x0: CoordArray, y0: CoordArray, x1: CoordArray, y1: CoordArray
    ) -> tuple[IdArray, IdArray]:
        """(query, stored index) candidates from every cell each box touches."""
        nq = len(x0)
        if nq == 0 or len(self.ids) == 0:
            return _E, _E
        cx0, cy0 = self._cells(np.asarray(x0, float), np.asarray(y0, float))
        cx1, cy1 = self._cells(np.asarray(x1, float), np.asarray(y1, float))
        w = cx1 - cx0 + 1
        h = cy1 - cy0 + 1
        ncell = w * h
        q_of_cell = np.repeat(np.arange(nq, dtype=np.int64), ncell)
        first = np.cumsum(ncell) - ncell
        k = np.arange(int(ncell.sum()), dtype=np.int64) - np.repeat(first, ncell)
        wq = w[q_of_cell]
        cells = (cy0[q_of_cell] + k // wq) * self.nx + cx0[q_of_cell] + k % wq
        lo = self.starts[cells]
        cnt = self.starts[cells + 1] - lo
        total = int(cnt.sum())
        if total == 0:
            return _E, _E
        q = np.repeat(q_of_cell, cnt)
        off = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        idx = np.repeat(lo, cnt) + off
        return q, idx

    def _sorted(self, q: IdArray, ids: IdArray) -> tuple[IdArray, IdArray]:
        if len(q) == 0:
            return _E, _E
        order = np.lexsort((ids, q))
        return q[order], ids[order]

    def query_radius(
        self, qx: CoordArray, qy: CoordArray, radius: float
    ) -> tuple[IdArray, IdArray]:
        """(query, id) pairs with squared distance <= radius**2, sorted."""
        qx = np.asarray(qx, float)
        qy = np.asarray(qy, float)
        q, idx = self._gather(qx - radius, qy - radius, qx + radius, qy + radius)
        if len(q) == 0:
            return _E, _E
        dx = self.xs[idx] - qx[q]
        dy = self.ys[idx] - qy[q]
        hit = dx * dx + dy * dy <= radius * radius
        return self._sorted(q[hit], self.ids[idx[hit]])

    def query_rect(
        self, x0: CoordArray, y0: CoordArray, x1: CoordArray, y1: CoordArray
    ) -> tuple[IdArray, IdArray]:
        """(query, id) pairs inside each rectangle, sorted."""
        x0, y0 = np.asarray(x0, float), np.asarray(y0, float)
        x1, y1 = np.asarray(x1, float), np.asarray(y1, float)
        q, idx = self._gather(x0, y0, x1, y1)
        if len(q) == 0:
            return _E, _E
        x, y = self.xs[idx], self.ys[idx]
        hit = (x >= x0[q]) & (x <= x1[q]) & (y >= y0[q]) & (y <= y1[q])
        return self._sorted(q[hit], self.ids[idx[hit]])

    def candidate_pairs(self, distance: float) -> tuple[IdArray, IdArray]:
        """All (a, b), a < b, within ``distance``, sorted."""
        if len(self.ids) < 2:
            return _E, _E
        q, idx = self._gather(
            self.xs - distance, self.ys - distance, self.xs + distance, self.ys + distance
        )
        keep = self.ids[q] < self.ids[idx]
        q, idx = q[keep], idx[keep]
        dx = self.xs[idx] - self.xs[q]
        dy = self.ys[idx] - self.ys[q]
        hit = dx * dx + dy * dy <= distance * distance
        return self._sorted(self.ids[q[hit]], self.ids[idx[hit]])

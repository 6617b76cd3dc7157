"""The queries shared by the indexes that gather candidates by box (grid, quadtree).

A subclass keeps its points in ``ids``/``xs``/``ys`` (stored order is its own) and
implements ``_gather`` (candidate (query, stored index) pairs for query boxes, grouped by
ascending query) and may override ``_grouped``; the exact distance/box tests, the sort
and the pair search are the same for every such index and live here once.
"""

from __future__ import annotations

import numpy as np

from server.core.spatial.index import CoordArray, IdArray
from server.core.spatial.pairs import pairs_within

EMPTY_IDS = np.zeros(0, dtype=np.int64)

# (query x, query y, radius): a hint that the boxes are circles' bounds, which an index
# may use to skip candidates outside the circle (the grid narrows rows to chords).
Circle = tuple[CoordArray, CoordArray, float]


class GatheredIndex:
    """Base of the box-gathering indexes: exact filters over ``_gather``'s candidates."""

    ids: IdArray
    xs: CoordArray
    ys: CoordArray

    def __len__(self) -> int:
        return len(self.ids)

    def _gather(
        self,
        x0: CoordArray,
        y0: CoordArray,
        x1: CoordArray,
        y1: CoordArray,
        circle: Circle | None = None,
    ) -> tuple[IdArray, IdArray]:
        """(query, stored index) candidates, a superset of the hits, grouped by query."""
        raise NotImplementedError

    @staticmethod
    def _sorted(q: IdArray, ids: IdArray) -> tuple[IdArray, IdArray]:
        """Sort pairs by (query, id) via one int64 key (ids < 2**32): a SIMD np.sort."""
        if len(q) == 0:
            return EMPTY_IDS, EMPTY_IDS
        key = np.sort((q << 32) | ids)
        return key >> 32, key & 0xFFFF_FFFF

    @staticmethod
    def _grouped(q: IdArray, ids: IdArray) -> tuple[IdArray, IdArray]:
        """Pairs grouped by ascending query; ``_gather``'s order already is by default."""
        return q, ids

    def query_radius(
        self, qx: CoordArray, qy: CoordArray, radius: float, ordered: bool = True
    ) -> tuple[IdArray, IdArray]:
        """(query, id) pairs with squared distance <= radius**2, sorted.

        ``ordered=False`` only groups the pairs by ascending query (ids in any order
        within a query), which saves the sort when the caller does not need it.
        """
        qx = np.asarray(qx, float)
        qy = np.asarray(qy, float)
        q, idx = self._gather(qx - radius, qy - radius, qx + radius, qy + radius, (qx, qy, radius))
        if len(q) == 0:
            return EMPTY_IDS, EMPTY_IDS
        dx = self.xs[idx] - qx[q]
        dy = self.ys[idx] - qy[q]
        hit = dx * dx + dy * dy <= radius * radius
        if not ordered:
            return self._grouped(q[hit], self.ids[idx[hit]])
        return self._sorted(q[hit], self.ids[idx[hit]])

    def query_rect(
        self, x0: CoordArray, y0: CoordArray, x1: CoordArray, y1: CoordArray
    ) -> tuple[IdArray, IdArray]:
        """(query, id) pairs inside each rectangle (inclusive), sorted."""
        x0, y0 = np.asarray(x0, float), np.asarray(y0, float)
        x1, y1 = np.asarray(x1, float), np.asarray(y1, float)
        q, idx = self._gather(x0, y0, x1, y1)
        if len(q) == 0:
            return EMPTY_IDS, EMPTY_IDS
        x, y = self.xs[idx], self.ys[idx]
        hit = (x >= x0[q]) & (x <= x1[q]) & (y >= y0[q]) & (y <= y1[q])
        return self._sorted(q[hit], self.ids[idx[hit]])

    def candidate_pairs(self, distance: float) -> tuple[IdArray, IdArray]:
        """All (a, b), a < b, within ``distance``, sorted (see :mod:`.pairs` for why)."""
        return pairs_within(self.ids, self.xs, self.ys, distance)

"""Brute-force reference index: obviously correct, O(n * q)."""

from __future__ import annotations

import numpy as np

from server.core.spatial.index import CoordArray, IdArray

_E = np.zeros(0, dtype=np.int64)


class BruteForceIndex:
    """Checks every point against every query."""

    def __init__(self) -> None:
        self.ids = _E
        self.xs = np.zeros(0)
        self.ys = np.zeros(0)

    def rebuild(self, ids: IdArray, xs: CoordArray, ys: CoordArray) -> None:
        """Store the points sorted by id."""
        order = np.argsort(ids, kind="stable")
        self.ids, self.xs, self.ys = ids[order], xs[order], ys[order]

    def __len__(self) -> int:
        return len(self.ids)

    def query_radius(
        self, qx: CoordArray, qy: CoordArray, radius: float, ordered: bool = True
    ) -> tuple[IdArray, IdArray]:
        """(query, id) pairs with squared distance <= radius**2 (always fully sorted)."""
        dx = self.xs[None, :] - np.asarray(qx)[:, None]
        dy = self.ys[None, :] - np.asarray(qy)[:, None]
        q, i = np.nonzero(dx * dx + dy * dy <= radius * radius)
        return q.astype(np.int64), self.ids[i]

    def query_rect(
        self, x0: CoordArray, y0: CoordArray, x1: CoordArray, y1: CoordArray
    ) -> tuple[IdArray, IdArray]:
        """(query, id) pairs inside each rectangle."""
        x, y = self.xs[None, :], self.ys[None, :]
        inside = (
            (x >= np.asarray(x0)[:, None])
            & (x <= np.asarray(x1)[:, None])
            & (y >= np.asarray(y0)[:, None])
            & (y <= np.asarray(y1)[:, None])
        )
        q, i = np.nonzero(inside)
        return q.astype(np.int64), self.ids[i]

    def candidate_pairs(self, distance: float) -> tuple[IdArray, IdArray]:
        """Every pair within ``distance``."""
        dx = self.xs[:, None] - self.xs[None, :]
        dy = self.ys[:, None] - self.ys[None, :]
        a, b = np.nonzero(np.triu(dx * dx + dy * dy <= distance * distance, k=1))
        return self.ids[a], self.ids[b]

"""A quadtree built level by level with array operations (a linear quadtree).

Points are sorted by their Morton code (x and y quantized to 16 bits each and
interleaved), so every node's points are one contiguous range and a node's four
children split that range at three ``searchsorted`` boundaries. Building processes a
whole level per step; queries walk the tree breadth first with all ``(query, node)``
pairs of a level in arrays, so no Python loop ever touches a single entity or query.
Nodes split until they hold at most ``leaf_capacity`` points or reach depth 16, which
also ends the recursion when every point sits on the same spot.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from server.core.spatial.gathered import EMPTY_IDS, Circle, GatheredIndex
from server.core.spatial.index import CoordArray, IdArray

_E = EMPTY_IDS
MAX_DEPTH = 16


def _spread(v: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Insert a zero bit between each of the low 16 bits of ``v``."""
    v = v & np.uint64(0xFFFF)
    v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
    v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
    v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
    v = (v | (v << np.uint64(1))) & np.uint64(0x55555555)
    return v


class Quadtree(GatheredIndex):
    """Points over ``[0, width] x [0, height]``; points outside are kept at the border."""

    def __init__(self, width_units: float, height_units: float, leaf_capacity: int = 16) -> None:
        self.width = float(width_units)
        self.height = float(height_units)
        self.leaf_capacity = max(1, int(leaf_capacity))
        self.ids = _E
        self.xs = np.zeros(0)
        self.ys = np.zeros(0)
        self._set_nodes(
            np.zeros(1, np.int64),
            np.zeros(1, np.int64),
            np.zeros(1, np.int64),
            np.zeros(1, np.int64),
            np.zeros(1, np.int64),
            np.full(1, -1, np.int64),
        )

    def _set_nodes(
        self,
        lo: IdArray,
        hi: IdArray,
        depth: IdArray,
        ix: IdArray,
        iy: IdArray,
        child: IdArray,
    ) -> None:
        self.n_lo, self.n_hi, self.n_depth = lo, hi, depth
        self.n_child = child
        cw = self.width / (2.0**depth)
        ch = self.height / (2.0**depth)
        x0 = ix * cw
        y0 = iy * ch
        x1 = x0 + cw
        y1 = y0 + ch
        # Nodes on the world's border reach to infinity, so clamped outside points match.
        self.n_x0 = np.where(ix == 0, -np.inf, x0)
        self.n_y0 = np.where(iy == 0, -np.inf, y0)
        self.n_x1 = np.where(ix == (1 << depth) - 1, np.inf, x1)
        self.n_y1 = np.where(iy == (1 << depth) - 1, np.inf, y1)

    def rebuild(self, ids: IdArray, xs: CoordArray, ys: CoordArray) -> None:
        """Sort points by Morton code and split nodes level by level."""
        n = len(ids)
        scale = float(1 << MAX_DEPTH)
        qx = np.clip((np.asarray(xs, float) / self.width * scale), 0, scale - 1).astype(np.uint64)
        qy = np.clip((np.asarray(ys, float) / self.height * scale), 0, scale - 1).astype(np.uint64)
        code = _spread(qx) | (_spread(qy) << np.uint64(1))
        order = np.lexsort((ids, code))
        self.ids, self.xs, self.ys = (
            ids[order],
            np.asarray(xs, float)[order],
            np.asarray(ys, float)[order],
        )
        codes = code[order]
        # Level arrays for all nodes, appended level by level.
        lo_all = [np.zeros(1, np.int64)]
        hi_all = [np.full(1, n, np.int64)]
        d_all = [np.zeros(1, np.int64)]
        ix_all = [np.zeros(1, np.int64)]
        iy_all = [np.zeros(1, np.int64)]
        child_all = [np.full(1, -1, np.int64)]
        prefix = np.zeros(1, np.uint64)  # Morton prefix of each node of the current level
        level_start = 0
        total = 1
        depth = 0
        lo, hi = lo_all[0], hi_all[0]
        ix, iy = ix_all[0], iy_all[0]
        while depth < MAX_DEPTH:
            split = (hi - lo) > self.leaf_capacity
            if not split.any():
                break
            s_idx = np.flatnonzero(split)
            k = len(s_idx)
            # Children prefixes: parent prefix * 4 + (0..3); bounds of each child range.
            shift = np.uint64(2 * (MAX_DEPTH - depth - 1))
            child_prefix: NDArray[np.uint64] = (prefix[s_idx][:, None] << np.uint64(2)) | np.arange(
                4, dtype=np.uint64
            )
            starts = child_prefix << shift
            bounds = np.searchsorted(codes, starts.ravel()).reshape(k, 4).astype(np.int64)
            c_lo = bounds.ravel()
            c_hi = np.concatenate([bounds[:, 1:], hi[s_idx][:, None]], axis=1).ravel()
            quad = np.tile(np.arange(4, dtype=np.int64), k)
            c_ix = np.repeat(ix[s_idx] * 2, 4) + (quad & 1)
            c_iy = np.repeat(iy[s_idx] * 2, 4) + (quad >> 1)
            child_first = total + 4 * np.arange(k, dtype=np.int64)
            child_all[-1][s_idx] = child_first
            lo_all.append(c_lo)
            hi_all.append(c_hi)
            d_all.append(np.full(4 * k, depth + 1, np.int64))
            ix_all.append(c_ix)
            iy_all.append(c_iy)
            child_all.append(np.full(4 * k, -1, np.int64))
            level_start = total
            total += 4 * k
            prefix = child_prefix.ravel()
            lo, hi, ix, iy = c_lo, c_hi, c_ix, c_iy
            depth += 1
        del level_start
        self._set_nodes(
            np.concatenate(lo_all),
            np.concatenate(hi_all),
            np.concatenate(d_all),
            np.concatenate(ix_all),
            np.concatenate(iy_all),
            np.concatenate(child_all),
        )

    def _gather(
        self,
        x0: CoordArray,
        y0: CoordArray,
        x1: CoordArray,
        y1: CoordArray,
        circle: Circle | None = None,
    ) -> tuple[IdArray, IdArray]:
        """(query, stored index) for points in leaves whose box meets each query box.

        ``circle`` is not used: a leaf is kept whole when its box meets the query box.
        """
        nq = len(x0)
        if nq == 0 or len(self.ids) == 0:
            return _E, _E
        q = np.arange(nq, dtype=np.int64)
        node = np.zeros(nq, dtype=np.int64)
        leaf_q: list[IdArray] = []
        leaf_n: list[IdArray] = []
        while len(q):
            meets = (
                (self.n_x0[node] <= x1[q])
                & (self.n_x1[node] >= x0[q])
                & (self.n_y0[node] <= y1[q])
                & (self.n_y1[node] >= y0[q])
                & (self.n_hi[node] > self.n_lo[node])
            )
            q, node = q[meets], node[meets]
            child = self.n_child[node]
            leaf = child < 0
            leaf_q.append(q[leaf])
            leaf_n.append(node[leaf])
            q = np.repeat(q[~leaf], 4)
            node = (child[~leaf][:, None] + np.arange(4, dtype=np.int64)).ravel()
        lq = np.concatenate(leaf_q)
        ln = np.concatenate(leaf_n)
        lo = self.n_lo[ln]
        cnt = self.n_hi[ln] - lo
        total = int(cnt.sum())
        if total == 0:
            return _E, _E
        qq = np.repeat(lq, cnt)
        off = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        return qq, np.repeat(lo, cnt) + off

    @staticmethod
    def _grouped(q: IdArray, ids: IdArray) -> tuple[IdArray, IdArray]:
        """Leaves are visited level by level: group by query with a stable sort."""
        order = np.argsort(q, kind="stable")
        return q[order], ids[order]

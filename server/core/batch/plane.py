"""A match-aware spatial index for a stack of matches: each match in its own region.

The stack's rows are the matches' entities, match after match. For a pair query at
``distance`` the matches are laid side by side along x on one plane, each shifted by a
whole number of world units so that the gap between one match's rightmost entity and the
next match's leftmost is more than ``distance``: one :func:`pairs_within` over the whole
plane then finds exactly the pairs each match would find alone, and none across matches
(tested against per-match brute force in tests/core/test_batch.py).

Why this layout (and not a match-keyed cell hash or per-field 2-D blocks): it needs no
change to the pair finder, it holds for entities outside the world's bounds (the shift
is computed from each match's actual extent), and the shifts are whole units, so with
positions that are multiples of 1/``subunits_per_unit`` every shifted coordinate and
every difference is exact in float64 -- the distance tests give the same bits as alone.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from server.core.spatial.index import CoordArray, IdArray
from server.core.spatial.pairs import pairs_within
from server.errors import InvalidState


def plane_shifts(xs: CoordArray, counts: NDArray[np.int64], distance: float) -> NDArray[np.float64]:
    """Per row, the whole-unit x shift of its match's region (rows grouped by match).

    ``counts[i]`` rows belong to match ``i``, in order. Region ``i`` starts where region
    ``i - 1`` ends plus more than ``distance``.
    """
    nonempty = counts > 0
    if not nonempty.any():
        return np.zeros(0, dtype=np.float64)
    sizes = counts[nonempty]
    starts = np.cumsum(sizes) - sizes
    lo = np.floor(np.minimum.reduceat(xs, starts))
    hi = np.ceil(np.maximum.reduceat(xs, starts))
    span = (hi - lo) + float(math.ceil(distance)) + 1.0
    base = np.cumsum(span) - span
    return np.repeat(base - lo, sizes)


class MatchPlaneIndex:
    """Candidate pairs within each match of a stack (ids are stack rows).

    Only :meth:`candidate_pairs` is offered: a query by position has no match, so a
    system that needs one cannot run batched (it runs per match instead).
    """

    def __init__(
        self,
        xs: CoordArray,
        ys: CoordArray,
        counts: NDArray[np.int64],
        order_hint: NDArray[np.int64] | None = None,
    ) -> None:
        self.xs = xs
        self.ys = ys
        self.counts = counts
        self.ids: IdArray = np.arange(len(xs), dtype=np.int64)
        self.order_hint = order_hint
        """The plane's x order at the last query of the same rows (see ``pairs_within``)."""

    def __len__(self) -> int:
        return len(self.xs)

    def rebuild(self, ids: IdArray, xs: CoordArray, ys: CoordArray) -> None:
        """Not used: a plane is built for one batched tick."""
        raise InvalidState("a match plane is built per batched tick, not rebuilt")

    def candidate_pairs(self, distance: float) -> tuple[IdArray, IdArray]:
        """All (a, b), a < b, of one match within ``distance`` (inclusive), sorted."""
        shifted = self.xs + plane_shifts(self.xs, self.counts, distance)
        return pairs_within(self.ids, shifted, self.ys, distance, self.order_hint)

    def query_radius(
        self, qx: CoordArray, qy: CoordArray, radius: float, ordered: bool = True
    ) -> tuple[IdArray, IdArray]:
        """Not offered (see the class docstring)."""
        raise InvalidState("query_radius on a batch of matches")

    def query_rect(
        self, x0: CoordArray, y0: CoordArray, x1: CoordArray, y1: CoordArray
    ) -> tuple[IdArray, IdArray]:
        """Not offered (see the class docstring)."""
        raise InvalidState("query_rect on a batch of matches")

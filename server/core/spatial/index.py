"""The spatial index interface and a factory (interim; see grid.py)."""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

IdArray = NDArray[np.int64]
CoordArray = NDArray[np.float64]


class SpatialIndex(Protocol):
    """Batch spatial queries over points (world units); ids are int64."""

    def rebuild(self, ids: IdArray, xs: CoordArray, ys: CoordArray) -> None:
        """Replace the whole contents."""

    def __len__(self) -> int: ...

    def query_radius(
        self, qx: CoordArray, qy: CoordArray, radius: float, ordered: bool = True
    ) -> tuple[IdArray, IdArray]:
        """(query index, id) pairs within radius (inclusive), sorted by (query, id).

        With ``ordered=False`` the pairs are only grouped by ascending query index.
        Ids must lie in ``[0, 2**32)``.
        """

    def query_rect(
        self, x0: CoordArray, y0: CoordArray, x1: CoordArray, y1: CoordArray
    ) -> tuple[IdArray, IdArray]:
        """(query index, id) pairs inside the rectangles (inclusive), sorted."""

    def candidate_pairs(self, distance: float) -> tuple[IdArray, IdArray]:
        """All (a, b), a < b, within ``distance`` (inclusive), sorted by (a, b)."""


def make_index(
    kind: Literal["grid", "quadtree", "brute"] | str,
    width_units: float,
    height_units: float,
    cell_size_units: float = 50.0,
    leaf_capacity: int = 16,
) -> SpatialIndex:
    """The index a game definition asks for."""
    from server.core.spatial.brute import BruteForceIndex
    from server.core.spatial.grid import UniformGrid

    if kind == "grid":
        return UniformGrid(width_units, height_units, cell_size_units)
    if kind == "quadtree":
        from server.core.spatial.quadtree import Quadtree

        return Quadtree(width_units, height_units, leaf_capacity)
    if kind == "brute":
        return BruteForceIndex()
    raise ValueError(f"unknown spatial index {kind!r}")

"""Spatial indexes behind one interface: uniform grid, quadtree, brute-force reference."""

from server.core.spatial.brute import BruteForceIndex
from server.core.spatial.grid import UniformGrid
from server.core.spatial.index import SpatialIndex, make_index
from server.core.spatial.quadtree import Quadtree

__all__ = ["BruteForceIndex", "Quadtree", "SpatialIndex", "UniformGrid", "make_index"]

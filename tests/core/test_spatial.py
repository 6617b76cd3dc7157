"""The grid and the quadtree answer exactly like the brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from server.core.spatial import BruteForceIndex, make_index
from server.core.spatial.pairs import grid_pairs, sweep_pairs

W, H = 100.0, 100.0


@st.composite
def point_sets(
    draw: st.DrawFn,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Points in one of several awkward layouts, with unique ids in random order."""
    n = draw(st.integers(0, 120))
    seed = draw(st.integers(0, 2**32 - 1))
    layout = draw(st.sampled_from(["uniform", "one_spot", "borders", "edges", "outside"]))
    rng = np.random.default_rng(seed)
    if layout == "uniform":
        xs, ys = rng.uniform(0, W, n), rng.uniform(0, H, n)
    elif layout == "one_spot":
        xs, ys = np.full(n, 37.5), np.full(n, 37.5)
    elif layout == "borders":  # exactly on cell borders (multiples of 10 and 25)
        xs = rng.choice([0.0, 10.0, 25.0, 50.0, 75.0, 100.0], n)
        ys = rng.choice([0.0, 10.0, 25.0, 50.0, 75.0, 100.0], n)
    elif layout == "edges":
        xs = rng.choice([0.0, W], n)
        ys = rng.uniform(0, H, n)
    else:  # slightly outside the world (entities overshoot for one tick)
        xs, ys = rng.uniform(-3, W + 3, n), rng.uniform(-3, H + 3, n)
    ids = rng.permutation(max(1, 3 * n))[:n].astype(np.int64)
    return ids, xs, ys


def indexes(cell: float, leaf: int) -> dict[str, object]:
    return {
        "grid": make_index("grid", W, H, cell),
        "quadtree": make_index("quadtree", W, H, cell, leaf),
    }


def same(a: tuple[NDArray[np.int64], ...], b: tuple[NDArray[np.int64], ...]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@settings(max_examples=120, deadline=None)
@given(
    pts=point_sets(),
    cell=st.sampled_from([3.0, 10.0, 25.0, 200.0]),
    leaf=st.sampled_from([1, 4, 16]),
    radius=st.sampled_from([0.0, 0.5, 10.0, 37.5, 150.0]),
    seed=st.integers(0, 1000),
)
def test_fast_indexes_match_brute_force_for_radius_queries(
    pts: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]],
    cell: float,
    leaf: int,
    radius: float,
    seed: int,
) -> None:
    """Radius queries give the same sorted (query, id) pairs as the reference."""
    ids, xs, ys = pts
    ref = BruteForceIndex()
    ref.rebuild(ids, xs, ys)
    rng = np.random.default_rng(seed)
    qx = np.concatenate([rng.uniform(-20, W + 20, 8), xs[:3]])
    qy = np.concatenate([rng.uniform(-20, H + 20, 8), ys[:3]])
    expected = ref.query_radius(qx, qy, radius)
    for name, index in indexes(cell, leaf).items():
        index.rebuild(ids, xs, ys)  # type: ignore[attr-defined]
        assert len(index) == len(ids), name  # type: ignore[arg-type]
        got = index.query_radius(qx, qy, radius)  # type: ignore[attr-defined]
        assert same(got, expected), name
        grouped = index.query_radius(qx, qy, radius, ordered=False)  # type: ignore[attr-defined]
        assert np.all(np.diff(grouped[0]) >= 0), f"{name}: not grouped by query"
        order = np.lexsort((grouped[1], grouped[0]))
        assert same((grouped[0][order], grouped[1][order]), expected), name


@settings(max_examples=120, deadline=None)
@given(
    pts=point_sets(),
    cell=st.sampled_from([3.0, 10.0, 25.0, 200.0]),
    leaf=st.sampled_from([1, 4, 16]),
    seed=st.integers(0, 1000),
    size=st.sampled_from([0.0, 5.0, 30.0, 500.0]),
)
def test_fast_indexes_match_brute_force_for_rectangles(
    pts: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]],
    cell: float,
    leaf: int,
    seed: int,
    size: float,
) -> None:
    """Rectangle queries (inclusive edges) give the same pairs as the reference."""
    ids, xs, ys = pts
    ref = BruteForceIndex()
    ref.rebuild(ids, xs, ys)
    rng = np.random.default_rng(seed)
    x0 = np.concatenate([rng.uniform(-20, W, 6), xs[:2]])
    y0 = np.concatenate([rng.uniform(-20, H, 6), ys[:2]])
    x1, y1 = x0 + size, y0 + size / 2
    expected = ref.query_rect(x0, y0, x1, y1)
    for name, index in indexes(cell, leaf).items():
        index.rebuild(ids, xs, ys)  # type: ignore[attr-defined]
        assert same(index.query_rect(x0, y0, x1, y1), expected), name  # type: ignore[attr-defined]


@settings(max_examples=120, deadline=None)
@given(
    pts=point_sets(),
    cell=st.sampled_from([3.0, 10.0, 25.0]),
    leaf=st.sampled_from([1, 4, 16]),
    distance=st.sampled_from([0.0, 1.0, 4.0, 10.0, 60.0]),
)
def test_fast_indexes_match_brute_force_for_pairs(
    pts: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]],
    cell: float,
    leaf: int,
    distance: float,
) -> None:
    """Candidate pairs within a distance are the reference's pairs, a < b, sorted."""
    ids, xs, ys = pts
    ref = BruteForceIndex()
    ref.rebuild(ids, xs, ys)
    expected = ref.candidate_pairs(distance)
    assert np.all(expected[0] < expected[1])
    for name, index in indexes(cell, leaf).items():
        index.rebuild(ids, xs, ys)  # type: ignore[attr-defined]
        assert same(index.candidate_pairs(distance), expected), name  # type: ignore[attr-defined]
    for way in (grid_pairs, sweep_pairs):  # both ways of pairs_within, whichever it picks
        assert same(way(ids, xs, ys, distance), expected), way.__name__


@pytest.mark.parametrize("kind", ["grid", "quadtree", "brute"])
def test_index_handles_empty_sets_and_batches(kind: str) -> None:
    """An empty index and an empty query batch give empty int64 answers."""
    index = make_index(kind, W, H, 10.0)
    empty = np.zeros(0)
    index.rebuild(np.zeros(0, dtype=np.int64), empty, empty)
    q, ids = index.query_radius(np.array([5.0]), np.array([5.0]), 10.0)
    assert q.dtype == np.int64
    assert len(q) == len(ids) == 0
    index.rebuild(np.array([1], dtype=np.int64), np.array([5.0]), np.array([5.0]))
    q, ids = index.query_radius(empty, empty, 10.0)
    assert len(q) == 0
    a, b = index.candidate_pairs(1.0)
    assert len(a) == len(b) == 0


def test_make_index_rejects_unknown_kinds() -> None:
    """A typo in the index kind is an error, not a silent default."""
    with pytest.raises(ValueError, match="unknown spatial index"):
        make_index("octree", W, H)

"""The lag-compensation history ring: exact interpolation, clamping, spawns and despawns."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from server.core.history import ALPHA_ONE, History, quantize_alpha


def ids(*n: int) -> np.ndarray:
    return np.asarray(n, dtype=np.uint32)


def filled(limit: int = 10, ticks: int = 20) -> History:
    """Entity 1 moves +100 subunits/tick in x, entity 2 -7 in y; entity 3 lives at ticks 5..9."""
    h = History(limit, capacity=2, with_radius=True)
    for t in range(ticks):
        alive3 = 5 <= t <= 9
        n = ids(1, 2, 3) if alive3 else ids(1, 2)
        x = np.asarray([100 * t, 50, 9] if alive3 else [100 * t, 50])
        y = np.asarray([0, -7 * t, 9] if alive3 else [0, -7 * t])
        h.record(t, n, x, y, np.full(len(n), 64))
    return h


@given(st.integers(0, 65536), st.integers(-(2**24), 2**24), st.integers(-(2**24), 2**24))
def test_interpolation_is_the_documented_integer_formula(aq: int, x0: int, x1: int) -> None:
    h = History(4, capacity=1)
    h.record(0, ids(1), np.asarray([x0]), np.asarray([0]))
    h.record(1, ids(1), np.asarray([x1]), np.asarray([0]))
    out = h.rewind(2, [0], [aq / ALPHA_ONE])
    assert int(out.alpha_q[0]) == aq
    assert int(out.x[0, 0]) == x0 + ((x1 - x0) * aq + 32768) // 65536
    assert not out.clamped[0]


def test_rewind_many_views_at_once_with_spawns_and_despawns() -> None:
    h = filled(limit=12)
    out = h.rewind(20, [12, 9, 15], [0.5, 0.25, 0.0])
    assert out.ticks.tolist() == [12, 9, 15]
    assert not out.clamped.any()
    assert out.x[0, :2].tolist() == [1250, 50]
    assert out.y[0, :2].tolist() == [0, -84 - 3]  # -84 + floor(-3.5 + 0.5)
    assert out.netids[1, :3].tolist() == [1, 2, 3]  # entity 3 still there at tick 9
    assert out.x[1, :3].tolist() == [925, 50, 9]  # gone at 10: keeps its tick-9 place
    assert out.valid.sum(axis=1).tolist() == [2, 3, 2]
    assert out.radius is not None
    assert out.radius[1, :3].tolist() == [64, 64, 64]


def test_views_in_the_future_or_past_the_limit_are_clamped_and_flagged() -> None:
    h = filled(limit=10, ticks=20)  # newest row: 19; rewinding during tick 20
    out = h.rewind(20, [19, 25, 3, 10, 9], [0.5, 0.0, 0.0, 0.75, 0.5])
    assert out.ticks.tolist() == [19, 19, 10, 10, 10]
    assert out.alpha_q.tolist() == [0, 0, 0, 49152, 0]
    assert out.clamped.tolist() == [True, True, True, False, True]
    assert out.x[0, 0] == 1900
    assert out.x[2, 0] == 1000


def test_alpha_outside_zero_one_or_nan_never_reaches_past_the_next_row() -> None:
    assert quantize_alpha([np.nan, -1.0, 2.0, np.inf, 0.5]).tolist() == [0, 0, 65536, 65536, 32768]
    h = filled()
    out = h.rewind(20, [15, 15], [np.nan, 7.0])
    assert out.x[:, 0].tolist() == [1500, 1600]


def test_an_empty_history_rewinds_to_nothing() -> None:
    out = History(5).rewind(1, [0], [0.0])
    assert out.valid.shape == (1, 0)
    assert out.clamped.all()


def test_the_ring_grows_with_the_entity_count() -> None:
    h = History(3, capacity=1)
    h.record(0, ids(1), np.asarray([1]), np.asarray([2]))
    h.record(1, np.arange(1, 101, dtype=np.uint32), np.arange(100), np.arange(100))
    assert h.capacity >= 100
    out = h.rewind(2, [0, 1], [0.0, 0.0])
    assert out.valid.sum(axis=1).tolist() == [1, 100]
    assert out.x[0, 0] == 1
    assert out.y[1, 99] == 99

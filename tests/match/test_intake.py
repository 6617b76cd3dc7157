"""The input intake of issue 18: serial seq order, the buffer, views, acknowledgement."""

from __future__ import annotations

import numpy as np

from server.match.intake import SEQ_HALF, InputIntake, seq_newer
from server.net.protocol import ErrorCode


def intake(buffer_ticks: int = 0, rewind_ticks: int | None = 30) -> InputIntake:
    return InputIntake(4, ["int8", "int8"], buffer_ticks, rewind_ticks)


def test_serial_comparison_wraps_and_refuses_half_the_circle() -> None:
    assert seq_newer(1, 0)
    assert seq_newer(0, 2**32 - 1)  # the wrap
    assert seq_newer(5, 2**32 - 3)
    assert seq_newer(SEQ_HALF - 1, 0)
    assert not seq_newer(SEQ_HALF, 0)  # a jump of exactly 2^31
    assert not seq_newer(0, 0)  # a repeat
    assert not seq_newer(4, 5)  # backwards
    assert not seq_newer(2**32 - 1, 0)  # backwards across the wrap


def test_seq_faults_are_refused_counted_and_never_applied() -> None:
    it = intake()
    assert it.receive(0, 10, 11, (1, 1), seq=2**32 - 1) == ()
    assert it.take(11) is not None
    assert it.receive(0, 11, 12, (2, 2), seq=0) == ()  # wraps: newer
    (r,) = it.receive(0, 11, 12, (3, 3), seq=0)  # repeat
    assert (r.code, r.seq) == (ErrorCode.SEQ_NOT_NEWER, 0)
    (r,) = it.receive(0, 11, 12, (3, 3), seq=SEQ_HALF)  # +2^31
    assert r.code is ErrorCode.SEQ_NOT_NEWER
    (r,) = it.receive(0, 11, 12, (3, 3))  # no seq after seq
    assert r.code is ErrorCode.SEQ_REQUIRED
    taken = it.take(12)
    assert taken is not None
    assert [c.tolist() for c in taken.columns] == [[2], [2]]
    assert it.take(13) is None  # nothing applied twice
    assert (int(it.acked[0]), int(it.acked_at[0])) == (0, 12)
    counts = it.seat_counts(0)
    assert counts["seq_not_newer"] == 2
    assert counts["seq_required"] == 1
    it.restart(0)  # a resumed connection numbers afresh
    assert it.receive(0, 13, 14, (0, 0), seq=7) == ()


def test_default_buffer_keeps_the_newest_and_names_the_superseded_seq() -> None:
    it = intake(0)
    it.receive(1, 5, 6, (1, 0), seq=10)
    (r,) = it.receive(1, 5, 6, (2, 0), seq=11)
    assert (r.code, r.seq) == (ErrorCode.INPUT_SUPERSEDED, 10)
    taken = it.take(6)
    assert taken is not None
    assert taken.columns[0].tolist() == [2]
    assert int(it.acked[1]) == 11


def test_a_buffer_applies_one_input_per_tick_in_order_and_bounds_a_flood() -> None:
    it = intake(2)
    for k in range(10):  # a flood: ten inputs before one tick
        it.receive(2, 0, 1, (k, 0), seq=k)
    applied = []
    for tick in range(1, 6):
        taken = it.take(tick)
        if taken is not None:
            applied.append(int(taken.columns[0][0]))
    assert applied == [7, 8, 9]  # the newest three, one per tick, none twice
    assert it.seat_counts(2)["superseded"] == 7
    assert int(it.acked_at[2]) == 3


def test_timing_counts_late_early_on_time() -> None:
    it = intake()
    it.receive(0, 10, 8, (0, 0))
    it.receive(0, 10, 11, (0, 0))
    it.receive(0, 10, 15, (0, 0))
    c = it.seat_counts(0)
    assert (c["late"], c["on_time"], c["early"]) == (1, 1, 1)
    assert it.take_totals()["superseded"] == 2
    assert it.take_totals() == {}


def test_views_are_clamped_to_what_can_be_rewound_and_advance_when_held() -> None:
    it = intake(0, rewind_ticks=30)
    (r,) = it.receive(0, 100, 101, (0, 0), seq=1, view_tick=100, view_alpha=0.5)
    assert r.code is ErrorCode.VIEW_CLAMPED
    it.take(101)
    assert (int(it.view_tick[0]), float(it.view_alpha[0])) == (100, 0.0)
    (r,) = it.receive(0, 101, 102, (0, 0), seq=2, view_tick=3, view_alpha=0.25)
    it.take(102)
    assert (int(it.view_tick[0]), float(it.view_alpha[0])) == (72, 0.0)  # 102 - 30
    assert it.receive(0, 102, 103, (0, 0), seq=3, view_tick=95, view_alpha=0.25) == ()
    it.take(103)
    seats, ticks, alpha = it.views(105)  # held two more ticks
    assert seats.tolist() == [0]
    assert ticks.tolist() == [97]
    assert alpha.tolist() == [0.25]
    c = it.seat_counts(0)
    assert (c["view_future"], c["view_too_old"]) == (1, 1)


def test_views_are_ignored_without_lag_compensation_and_a_drop_stands_still() -> None:
    it = intake(0, rewind_ticks=None)
    assert it.receive(3, 10, 11, (5, 5), view_tick=99, view_alpha=1.0) == ()
    it.take(11)
    assert int(it.view_tick[3]) == -1
    it.receive(3, 11, 12, (9, 9), seq=1)
    it.stand_still(3)
    taken = it.take(12)
    assert taken is not None
    assert np.array_equal(taken.columns[0], [0])
    assert int(it.acked[3]) == -1

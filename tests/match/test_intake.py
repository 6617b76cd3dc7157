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


def shooter_intake(buffer_ticks: int) -> InputIntake:
    """Sticks plus a buttons field (the shooter's shape), views kept 30 ticks."""
    return InputIntake(
        2, ["int8", "int8", "uint16"], buffer_ticks, 30, ["stick", "stick", "buttons"]
    )


def test_a_burst_after_a_stall_keeps_every_press_with_its_own_view() -> None:
    it = shooter_intake(2)
    # Ten inputs held behind a stall arrive at once; a tap holds fire (bit 1) over
    # seqs 3..5 and a second tap presses at seq 9; each input's view is its own tick.
    fire = {3, 4, 5, 9}
    for k in range(1, 11):
        it.receive(0, 40, 41, (k, 0, 2 if k in fire else 0), seq=k, view_tick=20 + k)
    applied = []
    for tick in range(41, 45):
        taken = it.take(tick)
        if taken is not None:
            applied.append((int(it.acked[0]), int(taken.columns[2][0]), int(it.view_tick[0])))
    # The FIFO (3) kept the two presses (3 and 9) with their own views and the newest.
    assert applied == [(3, 2, 23), (9, 2, 29), (10, 0, 30)]
    counts = it.seat_counts(0)
    assert (counts["superseded"], counts["carried"]) == (7, 0)


def test_a_press_pushed_out_of_a_full_fifo_goes_forward_with_its_view() -> None:
    it = shooter_intake(0)  # one input per tick, the newest wins
    assert it.receive(0, 10, 11, (0, 0, 1), seq=1, view_tick=7, view_alpha=0.5) == ()
    (r,) = it.receive(0, 10, 11, (5, 5, 0), seq=2, view_tick=8, view_alpha=0.0)
    assert (r.code, r.seq) == (ErrorCode.INPUT_SUPERSEDED, 1)
    assert "carried to seq 2" in r.reason
    taken = it.take(11)
    assert taken is not None
    # seq 2's sticks, seq 1's press and view: the shot is judged by what seq 1 saw.
    assert [int(c[0]) for c in taken.columns] == [5, 5, 1]
    assert (int(it.view_tick[0]), float(it.view_alpha[0])) == (7, 0.5)
    assert int(it.acked[0]) == 2
    assert it.take(12) is None  # nothing applied twice
    assert it.seat_counts(0)["carried"] == 1


def test_a_flood_of_presses_is_still_one_input_per_tick_and_bounded() -> None:
    it = shooter_intake(2)
    for k in range(1, 61):  # every other input presses fire: 30 presses in one burst
        it.receive(1, 100, 101, (0, 0, k % 2), seq=k, view_tick=99)
    applied = [int(it.acked[1]) for tick in range(101, 110) if it.take(tick) is not None]
    assert len(applied) == 3  # the FIFO's length, one per tick, none twice
    assert len(set(applied)) == 3
    assert it.seat_counts(1)["superseded"] == 57


def catch_up_intake(grace: int = 30) -> InputIntake:
    """The shooter's shape at 30 Hz: buffer 2, 9 catch-up places, one drop per 6 ticks
    after a backlog of ``grace`` ticks, a dry FIFO applies the zero input."""
    return InputIntake(
        4, ["int8", "int8", "uint16"], 2, 30, ["stick", "stick", "buttons"], 9, 6, grace, True
    )


def test_a_burst_of_numbered_inputs_is_applied_in_order_with_a_backlog_reported() -> None:
    it = catch_up_intake()
    for k in range(1, 11):  # 10 numbered inputs after a stall, none pressing
        assert it.receive(0, 50, 51, (k, 0, 0), seq=k, view_tick=40 + k) == ()
    applied = []
    backlog = []
    for tick in range(51, 61):
        taken = it.take(tick)
        assert taken is not None
        applied.append((int(taken.columns[0][0]), int(it.view_tick[0])))
        backlog.append(int(it.backlog()[0]))
    assert applied == [(k, 40 + k) for k in range(1, 11)]  # each once, its own view
    assert backlog == [7, 6, 5, 4, 3, 2, 1, 0, 0, 0]  # beyond the buffer of 2
    assert it.seat_counts(0)["superseded"] == 0
    # Un-numbered inputs get no catch-up places: the FIFO's 3, as before.
    for k in range(1, 11):
        it.receive(1, 50, 51, (k, 0, 0))
    assert it.seat_counts(1)["superseded"] == 7


def test_a_lasting_backlog_is_worked_off_one_input_per_drain_interval() -> None:
    it = catch_up_intake(grace=30)
    for k in range(1, 9):  # a backlog of 5 beyond the buffer, then one input per tick
        it.receive(0, 0, 1, (k, 0, 0), seq=k)
    seq = 8
    dropped = []
    for tick in range(1, 121):
        taken = it.take(tick)
        after_take = int(it.backlog()[0])  # what STATE.aq reports
        seq += 1
        dropped += [r.seq for r in it.receive(0, tick, tick + 1, (1, 0, 0), seq=seq)]
    # Nothing in the grace (30 ticks), then one per 6 ticks until the buffer is back.
    assert len(dropped) == 5
    assert after_take == 0
    assert it.seat_counts(0)["caught_up"] == 5
    assert taken is not None


def test_a_dry_fifo_of_a_numbered_client_applies_the_zero_input_once() -> None:
    it = catch_up_intake()
    it.receive(3, 10, 11, (50, -20, 0), seq=1)
    taken = it.take(11)
    assert taken is not None
    assert [int(c[0]) for c in taken.columns] == [50, -20, 0]
    taken = it.take(12)  # nothing arrived: each numbered input moves one tick only
    assert taken is not None
    assert taken.seats.tolist() == [3]
    assert [int(c[0]) for c in taken.columns] == [0, 0, 0]
    assert int(it.acked[3]) == 1  # the zero input is not an input of the client's
    assert it.take(13) is None  # in effect until the next one: applied once
    assert it.seat_counts(3)["starved"] == 1
    it.receive(2, 13, 14, (9, 9, 0))  # an un-numbered input stays in effect (as before)
    assert it.take(14) is not None
    assert it.take(15) is None


def test_short_take_of_seq_less_inputs_equals_the_general_take() -> None:
    """Until a numbered input arrives, ``take`` takes its short path; it applies exactly
    what the general path applies, seat for seat, tick after tick (drops, a stand-still,
    a reset and supersedes included), and the general path takes over after a seq."""
    rng = np.random.default_rng(7)
    short = InputIntake(8, ["int8", "int8"], 0, None, catch_up_ticks=20, starve_zero=True)
    general = InputIntake(8, ["int8", "int8"], 0, None, catch_up_ticks=20, starve_zero=True)
    general._numbered = True  # the general path from the start
    for tick in range(1, 200):
        for seat in rng.choice(8, int(rng.integers(0, 12))).tolist():
            values = tuple(int(v) for v in rng.integers(-127, 128, 2))
            answer = short.receive(seat, tick - 1, tick, values)
            assert answer == general.receive(seat, tick - 1, tick, values)
        if tick % 37 == 0:
            short.stand_still(tick % 8)
            general.stand_still(tick % 8)
        if tick % 53 == 0:
            short.reset(3)
            general.reset(3)
        if tick == 150:  # a numbered client arrives: both take the general path from now
            assert short.receive(5, tick - 1, tick, (9, 9), seq=1) == ()
            assert general.receive(5, tick - 1, tick, (9, 9), seq=1) == ()
        a, b = short.take(tick), general.take(tick)
        assert (a is None) == (b is None), tick
        if a is not None and b is not None:
            assert a.seats.tolist() == b.seats.tolist(), tick
            assert [c.tolist() for c in a.columns] == [c.tolist() for c in b.columns], tick
        assert short.take_totals() == general.take_totals()
        assert short.backlog().tolist() == general.backlog().tolist()
    assert short._numbered

"""The lockstep collector against a reference that masks whole seat arrays.

The reference is the collector as it was before it kept inputs in dicts: one array per
field and frame row, a "has input" mask and a "seated" mask, ``np.where`` for the
defaults. Random joins, leaves, inputs (early, late, too far ahead, repeated, for empty
seats) and builds must give the same frames, byte for byte, and the same verdicts.
"""

from __future__ import annotations

from typing import Any, Literal

import msgpack
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from server.core.sync.lockstep import (
    LOCKSTEP_MESSAGE_TYPE,
    PROTOCOL_VERSION,
    InputVerdict,
    LockstepCollector,
)

FIELDS = (("x", "int8"), ("y", "int8"), ("fire", "uint16"))
CAPACITY = 6
AHEAD = 4


class MaskingCollector:
    """Whole seat arrays per field and frame row; defaults by ``np.where``."""

    def __init__(self, default_input: Literal["zero", "repeat"]) -> None:
        self.default_input = default_input
        self.window = AHEAD + 1
        self.vals = [np.zeros((self.window, CAPACITY), dtype=d) for _, d in FIELDS]
        self.has = np.zeros((self.window, CAPACITY), dtype=bool)
        self.last = [np.zeros(CAPACITY, dtype=d) for _, d in FIELDS]
        self.seated = np.zeros(CAPACITY, dtype=bool)
        self.joins: list[int] = []
        self.leaves: list[int] = []
        self.next_frame = 1

    def seat(self, seat: int) -> None:
        self.seated[seat] = True
        for last in self.last:
            last[seat] = 0
        self.has[:, seat] = False
        self.joins.append(seat)

    def unseat(self, seat: int) -> None:
        self.seated[seat] = False
        self.leaves.append(seat)

    def receive_values(self, seat: int, frame: int, values: tuple[int, ...]) -> str:
        if frame < self.next_frame:
            return InputVerdict.TOO_OLD
        if frame >= self.next_frame + AHEAD:
            return InputVerdict.TOO_NEW
        row = frame % self.window
        for col, v in zip(self.vals, values, strict=True):
            col[row, seat] = v
        self.has[row, seat] = True
        return InputVerdict.ACCEPTED

    def build(self) -> tuple[NDArray[np.int64], list[NDArray[Any]], bytes]:
        row = self.next_frame % self.window
        has = self.has[row] & self.seated
        if self.default_input == "repeat":
            new = [
                np.where(has, v[row], last) for v, last in zip(self.vals, self.last, strict=True)
            ]
        else:
            new = [np.where(has, v[row], 0).astype(v.dtype) for v in self.vals]
        diff = np.zeros(CAPACITY, dtype=bool)
        for n, last in zip(new, self.last, strict=True):
            diff |= n != last
        seats = np.flatnonzero(self.seated & diff).astype(np.int64)
        columns = [n[seats] for n in new]
        body: dict[str, Any] = {
            "n": self.next_frame,
            "j": list(self.joins),
            "l": list(self.leaves),
            "s": seats.astype("<u2").tobytes(),
        }
        for (name, _), col in zip(FIELDS, columns, strict=True):
            body[name] = col.astype(col.dtype.newbyteorder("<")).tobytes()
        self.last = new
        self.has[row] = False
        self.joins.clear()
        self.leaves.clear()
        self.next_frame += 1
        payload = msgpack.packb([PROTOCOL_VERSION, LOCKSTEP_MESSAGE_TYPE, body], use_bin_type=True)
        return seats, columns, payload


values_st = st.tuples(st.integers(-128, 127), st.integers(-128, 127), st.integers(0, 65535))
few_values_st = st.sampled_from([(0, 0, 0), (1, -1, 3), (127, -128, 65535)])  # repeats
seat_op_st = st.tuples(st.sampled_from(["seat", "unseat"]), st.integers(0, CAPACITY - 1))
input_st = st.tuples(
    st.integers(0, CAPACITY - 1), st.integers(-1, AHEAD + 1), values_st | few_values_st
)
# A round: some joins and leaves, some inputs (any seats, any order, early or late), a build.
round_st = st.tuples(st.lists(seat_op_st, max_size=3), st.lists(input_st, max_size=10))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["repeat", "zero"]), st.lists(round_st, max_size=12))
def test_collector_frames_equal_the_masking_reference(
    default_input: Literal["zero", "repeat"], rounds: list[tuple[Any, Any]]
) -> None:
    """Every frame (seats, columns, payload) and every verdict as the reference gives."""
    got = LockstepCollector(CAPACITY, 2, default_input, AHEAD, FIELDS)
    ref = MaskingCollector(default_input)
    seated: set[int] = set()
    for seat_ops, inputs in rounds:
        for op, seat in seat_ops:
            if op == "seat" and seat not in seated:  # the match seats a free seat only
                seated.add(seat)
                got.seat(seat)
                ref.seat(seat)
            elif op == "unseat" and seat in seated:
                seated.discard(seat)
                got.unseat(seat)
                ref.unseat(seat)
        for seat, ahead, values in inputs:
            frame = got.next_frame + ahead
            assert got.receive_values(seat, frame, values) == ref.receive_values(
                seat, frame, values
            )
        frame = got.build()
        seats, columns, payload = ref.build()
        assert frame.seats.tolist() == seats.tolist()
        for (name, dtype), col in zip(FIELDS, columns, strict=True):
            assert frame.columns[name].dtype == np.dtype(dtype)
            assert frame.columns[name].tolist() == col.tolist()
        assert frame.payload == payload


def test_a_repeated_input_is_not_resent_and_silence_repeats_or_zeroes() -> None:
    """``repeat``: an unchanged input costs no bytes and silence keeps the stick;
    ``zero``: silence stands the seat still, a change sent once."""
    sticks = (("x", "int8"), ("y", "int8"))
    expected = {"repeat": [[2], [], [], []], "zero": [[2], [], [2], []]}
    for mode, seats_per_frame in expected.items():
        c = LockstepCollector(4, 2, mode, fields=sticks)  # type: ignore[arg-type]
        c.seat(2)
        c.receive_values(2, 1, (5, -5))
        c.receive_values(2, 2, (5, -5))  # frames 3 and 4: nothing
        frames = [c.build() for _ in range(4)]
        assert [f.seats.tolist() for f in frames] == seats_per_frame
        assert (frames[0].x.tolist(), frames[0].y.tolist()) == ([5], [-5])
        if mode == "zero":
            assert (frames[2].x.tolist(), frames[2].y.tolist()) == ([0], [0])

"""Lockstep command sync: collect inputs per frame, fill defaults, encode one frame.

Frame ``N`` carries, for frame ``N`` only: the players who joined (``j``: seats, in
order) and left (``l``), and the inputs that *changed* since frame ``N - 1`` (``s``
seats as uint16, ``x``/``y`` as int8). Inputs persist in the world's ``input``
component, so "unchanged" needs no bytes, and every replica that applies the frames in
order computes the same world. A player who sent nothing for frame ``N`` gets the
definition's ``default_input``: ``repeat`` (keep the last input: nothing to send) or
``zero`` (stand still).

Timing: a client stamps an input for frame ``current + input_delay_ticks``. Inputs for
frames already built are too old; inputs more than ``max_ahead_frames`` ahead are too
new; both are refused with an error message (the caller counts them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgpack
import numpy as np
from numpy.typing import NDArray

LOCKSTEP_MESSAGE_TYPE = 66
PROTOCOL_VERSION = 1


@dataclass(frozen=True, slots=True)
class LockstepFrame:
    """One built frame: the changes for the simulation and the bytes every client gets."""

    frame: int
    joins: tuple[int, ...]
    leaves: tuple[int, ...]
    seats: NDArray[np.int64]
    x: NDArray[np.int8]
    y: NDArray[np.int8]
    payload: bytes


class InputVerdict:
    """Results of :meth:`LockstepCollector.receive_input`."""

    ACCEPTED: Literal["accepted"] = "accepted"
    TOO_OLD: Literal["too_old"] = "too_old"
    TOO_NEW: Literal["too_new"] = "too_new"


class LockstepCollector:
    """Gathers every player's input for upcoming frames and builds each frame once."""

    def __init__(
        self,
        capacity: int,
        input_delay_ticks: int,
        default_input: Literal["zero", "repeat"] = "repeat",
        max_ahead_frames: int = 64,
    ) -> None:
        self.input_delay_ticks = input_delay_ticks
        self.default_input = default_input
        self.window = max(max_ahead_frames, input_delay_ticks) + 1
        self.max_ahead_frames = max_ahead_frames
        self._x = np.zeros((self.window, capacity), dtype=np.int8)
        self._y = np.zeros((self.window, capacity), dtype=np.int8)
        self._has = np.zeros((self.window, capacity), dtype=bool)
        self._last_x = np.zeros(capacity, dtype=np.int8)
        self._last_y = np.zeros(capacity, dtype=np.int8)
        self._seated = np.zeros(capacity, dtype=bool)
        self._joins: list[int] = []
        self._leaves: list[int] = []
        self.next_frame = 1
        """The frame :meth:`build` will produce next."""

    def seat(self, seat: int) -> None:
        """Seat a player from the next frame on (announced in that frame's ``j``)."""
        self._seated[seat] = True
        self._last_x[seat] = 0
        self._last_y[seat] = 0
        self._has[:, seat] = False
        self._joins.append(seat)

    def unseat(self, seat: int) -> None:
        """Remove a player from the next frame on (announced in that frame's ``l``)."""
        self._seated[seat] = False
        self._leaves.append(seat)

    def receive_input(self, seat: int, frame: int, x: int, y: int) -> str:
        """Store ``seat``'s input for ``frame``; returns an :class:`InputVerdict` value."""
        if frame < self.next_frame:
            return InputVerdict.TOO_OLD
        if frame >= self.next_frame + self.max_ahead_frames:
            return InputVerdict.TOO_NEW
        row = frame % self.window
        self._x[row, seat] = x
        self._y[row, seat] = y
        self._has[row, seat] = True
        return InputVerdict.ACCEPTED

    def build(self) -> LockstepFrame:
        """Build frame ``next_frame``: defaults for the silent, changes only, encoded once."""
        frame = self.next_frame
        row = frame % self.window
        has = self._has[row] & self._seated
        if self.default_input == "repeat":
            x = np.where(has, self._x[row], self._last_x)
            y = np.where(has, self._y[row], self._last_y)
        else:
            x = np.where(has, self._x[row], 0).astype(np.int8)
            y = np.where(has, self._y[row], 0).astype(np.int8)
        changed = self._seated & ((x != self._last_x) | (y != self._last_y))
        seats = np.flatnonzero(changed).astype(np.int64)
        cx, cy = x[seats], y[seats]
        self._last_x, self._last_y = x, y
        self._has[row] = False
        joins, leaves = tuple(self._joins), tuple(self._leaves)
        self._joins.clear()
        self._leaves.clear()
        body = {
            "n": frame,
            "j": list(joins),
            "l": list(leaves),
            "s": seats.astype("<u2").tobytes(),
            "x": cx.tobytes(),
            "y": cy.tobytes(),
        }
        payload: bytes = msgpack.packb(
            [PROTOCOL_VERSION, LOCKSTEP_MESSAGE_TYPE, body], use_bin_type=True
        )
        self.next_frame += 1
        return LockstepFrame(frame, joins, leaves, seats, cx, cy, payload)


def decode_frame_body(
    body: dict[str, object],
) -> tuple[int, list[int], list[int], NDArray[np.int64], NDArray[np.int8], NDArray[np.int8]]:
    """``(frame, joins, leaves, seats, x, y)`` from a decoded lockstep frame body."""
    seats = np.frombuffer(body["s"], dtype="<u2").astype(np.int64)  # type: ignore[call-overload]
    x = np.frombuffer(body["x"], dtype=np.int8)  # type: ignore[call-overload]
    y = np.frombuffer(body["y"], dtype=np.int8)  # type: ignore[call-overload]
    return int(body["n"]), list(body["j"]), list(body["l"]), seats, x, y  # type: ignore[call-overload]

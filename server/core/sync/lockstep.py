"""Lockstep command sync: collect inputs per frame, fill defaults, encode one frame.

Frame ``N`` carries, for frame ``N`` only: the players who joined (``j``: seats, in
order) and left (``l``), and the inputs that *changed* since frame ``N - 1`` (``s``
seats as uint16, then one column per declared input field, keyed by the field's name,
in its column dtype: the arena's ``x``/``y`` as int8). A seat is in ``s`` when any of
its fields changed; all its fields are sent. Inputs persist in the world's ``input``
component, so "unchanged" needs no bytes, and every replica that applies the frames in
order computes the same world. A player who sent nothing for frame ``N`` gets the
definition's ``default_input``: ``repeat`` (keep the last input: nothing to send) or
``zero`` (stand still).

Timing: a client stamps an input for frame ``current + input_delay_ticks``. Inputs for
frames already built are too old; inputs more than ``max_ahead_frames`` ahead are too
new; both are refused with an error message (the caller counts them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

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
    columns: dict[str, NDArray[Any]]
    """The changed seats' values, per input field (declaration order)."""
    payload: bytes

    @property
    def x(self) -> NDArray[np.int8]:
        """The ``x`` stick column (games with the default inputs)."""
        return self.columns["x"]

    @property
    def y(self) -> NDArray[np.int8]:
        """The ``y`` stick column (games with the default inputs)."""
        return self.columns["y"]


DEFAULT_FIELDS: tuple[tuple[str, str], ...] = (("x", "int8"), ("y", "int8"))
"""``(name, dtype)`` of the default input fields: the arena's two sticks."""


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
        fields: Sequence[tuple[str, str]] = DEFAULT_FIELDS,
    ) -> None:
        self.fields = tuple(fields)
        """``(name, dtype)`` per input field, in wire order."""
        self.input_delay_ticks = input_delay_ticks
        self.default_input = default_input
        self.window = max(max_ahead_frames, input_delay_ticks) + 1
        self.max_ahead_frames = max_ahead_frames
        self._vals = [np.zeros((self.window, capacity), dtype=d) for _, d in self.fields]
        self._has = np.zeros((self.window, capacity), dtype=bool)
        self._last = [np.zeros(capacity, dtype=d) for _, d in self.fields]
        self._seated = np.zeros(capacity, dtype=bool)
        self._joins: list[int] = []
        self._leaves: list[int] = []
        self.next_frame = 1
        """The frame :meth:`build` will produce next."""

    def seat(self, seat: int) -> None:
        """Seat a player from the next frame on (announced in that frame's ``j``)."""
        self._seated[seat] = True
        for last in self._last:
            last[seat] = 0
        self._has[:, seat] = False
        self._joins.append(seat)

    def unseat(self, seat: int) -> None:
        """Remove a player from the next frame on (announced in that frame's ``l``)."""
        self._seated[seat] = False
        self._leaves.append(seat)

    def receive_input(self, seat: int, frame: int, x: int, y: int) -> str:
        """Store ``seat``'s stick input for ``frame`` (default fields only)."""
        return self.receive_values(seat, frame, (x, y))

    def receive_values(self, seat: int, frame: int, values: Sequence[int]) -> str:
        """Store ``seat``'s input field values (declaration order) for ``frame``.

        Returns an :class:`InputVerdict` value; the values are already validated.
        """
        if frame < self.next_frame:
            return InputVerdict.TOO_OLD
        if frame >= self.next_frame + self.max_ahead_frames:
            return InputVerdict.TOO_NEW
        row = frame % self.window
        for col, v in zip(self._vals, values, strict=True):
            col[row, seat] = v
        self._has[row, seat] = True
        return InputVerdict.ACCEPTED

    def build(self) -> LockstepFrame:
        """Build frame ``next_frame``: defaults for the silent, changes only, encoded once."""
        frame = self.next_frame
        row = frame % self.window
        has = self._has[row] & self._seated
        if self.default_input == "repeat":
            pairs = zip(self._vals, self._last, strict=True)
            new = [np.where(has, v[row], last) for v, last in pairs]
        else:
            new = [np.where(has, v[row], 0).astype(v.dtype) for v in self._vals]
        diff = new[0] != self._last[0]
        for n, last in zip(new[1:], self._last[1:], strict=True):
            diff |= n != last
        changed = self._seated & diff
        seats = np.flatnonzero(changed).astype(np.int64)
        columns = {name: n[seats] for (name, _), n in zip(self.fields, new, strict=True)}
        self._last = new
        self._has[row] = False
        joins, leaves = tuple(self._joins), tuple(self._leaves)
        self._joins.clear()
        self._leaves.clear()
        body: dict[str, Any] = {
            "n": frame,
            "j": list(joins),
            "l": list(leaves),
            "s": seats.astype("<u2").tobytes(),
        }
        for name, col in columns.items():
            body[name] = col.astype(col.dtype.newbyteorder("<")).tobytes()
        payload: bytes = msgpack.packb(
            [PROTOCOL_VERSION, LOCKSTEP_MESSAGE_TYPE, body], use_bin_type=True
        )
        self.next_frame += 1
        return LockstepFrame(frame, joins, leaves, seats, columns, payload)


def decode_frame_body(
    body: dict[str, object],
) -> tuple[int, list[int], list[int], NDArray[np.int64], NDArray[np.int8], NDArray[np.int8]]:
    """``(frame, joins, leaves, seats, x, y)`` from a decoded lockstep frame body."""
    seats = np.frombuffer(body["s"], dtype="<u2").astype(np.int64)  # type: ignore[call-overload]
    x = np.frombuffer(body["x"], dtype=np.int8)  # type: ignore[call-overload]
    y = np.frombuffer(body["y"], dtype=np.int8)  # type: ignore[call-overload]
    return int(body["n"]), list(body["j"]), list(body["l"]), seats, x, y  # type: ignore[call-overload]


def decode_frame_columns(
    body: Mapping[str, Any], fields: Sequence[tuple[str, str]] = DEFAULT_FIELDS
) -> tuple[int, list[int], list[int], NDArray[np.int64], dict[str, NDArray[Any]]]:
    """``(frame, joins, leaves, seats, columns)`` from a decoded lockstep frame body.

    ``fields`` are the game's ``(name, dtype)`` input fields (``definition.inputs``).
    """
    seats = np.frombuffer(body["s"], dtype="<u2").astype(np.int64)
    columns = {
        name: np.frombuffer(body[name], dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
        for name, dtype in fields
    }
    return int(body["n"]), list(body["j"]), list(body["l"]), seats, columns

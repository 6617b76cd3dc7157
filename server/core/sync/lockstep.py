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
    """Gathers every player's input for upcoming frames and builds each frame once.

    Inputs wait in a dict per frame (seat -> values) and the seats' current values in a
    dict of the seated: a small match is a handful of seats, and a few dict operations
    per input beat the ~20 numpy calls per frame that masking whole seat arrays took
    (``benchmarks host --sync lockstep``). The loop in :meth:`build` goes over the
    inputs that arrived (``repeat``) or the seated players (``zero``), never entities.
    """

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
        # ``capacity`` (seats 0 .. capacity - 1, handed out by the match) sizes nothing:
        # seats are dict keys.
        self.input_delay_ticks = input_delay_ticks
        self.default_input = default_input
        self.max_ahead_frames = max_ahead_frames
        self._dtypes = [np.dtype(d) for _, d in self.fields]
        self._wire = [d.newbyteorder("<") for d in self._dtypes]
        self._zero: tuple[int, ...] = (0,) * len(self.fields)
        self._pending: dict[int, dict[int, tuple[int, ...]]] = {}
        """Frame -> seat -> the values received for it (frames not built yet)."""
        self._current: dict[int, tuple[int, ...]] = {}
        """Seated seat -> its values as of the last built frame."""
        self._joins: list[int] = []
        self._leaves: list[int] = []
        self.next_frame = 1
        """The frame :meth:`build` will produce next."""

    def seat(self, seat: int) -> None:
        """Seat a player from the next frame on (announced in that frame's ``j``)."""
        self._current[seat] = self._zero
        for inputs in self._pending.values():
            inputs.pop(seat, None)  # an earlier holder's inputs do not carry over
        self._joins.append(seat)

    def unseat(self, seat: int) -> None:
        """Remove a player from the next frame on (announced in that frame's ``l``)."""
        self._current.pop(seat, None)
        self._leaves.append(seat)

    def receive_input(self, seat: int, frame: int, x: int, y: int) -> str:
        """Store ``seat``'s stick input for ``frame`` (default fields only)."""
        return self.receive_values(seat, frame, (x, y))

    def receive_values(self, seat: int, frame: int, values: Sequence[int]) -> str:
        """Store ``seat``'s input field values (declaration order) for ``frame``.

        Returns an :class:`InputVerdict` value; the values are already validated (in
        range of their dtypes). A second input for the same frame replaces the first.
        """
        if frame < self.next_frame:
            return InputVerdict.TOO_OLD
        if frame >= self.next_frame + self.max_ahead_frames:
            return InputVerdict.TOO_NEW
        inputs = self._pending.get(frame)
        if inputs is None:
            inputs = self._pending[frame] = {}
        inputs[seat] = values if type(values) is tuple else tuple(values)
        return InputVerdict.ACCEPTED

    def build(self) -> LockstepFrame:
        """Build frame ``next_frame``: defaults for the silent, changes only, encoded once."""
        frame = self.next_frame
        got = self._pending.pop(frame, None)
        current = self._current
        changed: list[int] = []
        if self.default_input == "repeat":
            if got:
                for seat, values in got.items():
                    # An unseated seat reads as unchanged (its inputs are dropped).
                    if current.get(seat, values) != values:
                        current[seat] = values
                        changed.append(seat)
        else:
            zero = self._zero
            for seat, old in current.items():
                values = got.get(seat, zero) if got else zero
                if values != old:
                    current[seat] = values
                    changed.append(seat)
        changed.sort()
        rows = [current[s] for s in changed]
        seats = np.array(changed, dtype=np.int64)
        columns = {
            name: np.array([r[i] for r in rows], dtype=dtype)
            for i, ((name, _), dtype) in enumerate(zip(self.fields, self._dtypes, strict=True))
        }
        joins, leaves = tuple(self._joins), tuple(self._leaves)
        self._joins.clear()
        self._leaves.clear()
        body: dict[str, Any] = {
            "n": frame,
            "j": list(joins),
            "l": list(leaves),
            "s": np.array(changed, dtype="<u2").tobytes(),
        }
        for (name, col), wire in zip(columns.items(), self._wire, strict=True):
            body[name] = col.astype(wire, copy=False).tobytes()
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

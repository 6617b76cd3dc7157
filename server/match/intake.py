"""State sync: each seat's inputs between their arrival and the tick that applies them.

The rules (docs/protocol.md, ``INPUT``, "Sequence numbers, buffer and view time"):

- **Timing.** An input stamped for the next tick is *on time*; stamped for a tick
  already simulated it is *late*, for a later one *early*. All three are applied the
  same way (below) and counted per seat (:data:`COUNTS`).
- **Buffer.** Each seat has a FIFO of ``input_buffer_ticks + 1`` inputs; every tick
  takes at most one (the oldest) from each seat, so no flood applies more than one input
  per tick. When the FIFO is full a new input pushes out the oldest waiting one, which
  is never applied (*superseded*; with 0, the default, the newest input wins, as before
  issue 18). An input stays in effect tick after tick until the next one is taken.
- **Sequence numbers.** ``seq`` (uint32) is compared serially (RFC 1982): an input is
  newer iff ``(seq - last) mod 2^32`` lies in ``1 .. 2^31 - 1``; one that is not (a
  repeat, a step back, a jump of 2^31 or more) is dropped. So no input is applied
  twice. Once a connection has sent a ``seq``, each of its inputs must carry one.
- **View time.** With lag compensation, ``view_tick``/``view_alpha`` say what the client
  was rendering; a view later than the newest simulated tick, or further back than the
  history, is clamped to the nearest view the server can rewind to, and counted.
- **Acknowledgement.** For a seat whose inputs carry ``seq``, :attr:`acked` is the last
  seq taken and :attr:`acked_at` the tick it was first applied at (``STATE`` ``a``/``at``).

Per-input work is a handful of Python scalar operations; the per-tick take is numpy over
all seats (no Python loop over seats).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike, NDArray

from server.net.protocol import ErrorCode

SEQ_MODULUS = 1 << 32
SEQ_HALF = 1 << 31

COUNTS = (
    "late",
    "early",
    "on_time",
    "superseded",
    "seq_not_newer",
    "seq_required",
    "view_future",
    "view_too_old",
)
"""Per-seat input counters, in this order (the columns of :attr:`InputIntake.counts`)."""
LATE, EARLY, ON_TIME, SUPERSEDED, SEQ_NOT_NEWER, SEQ_REQUIRED, VIEW_FUTURE, VIEW_TOO_OLD = range(
    len(COUNTS)
)


def seq_newer(seq: int, last: int) -> bool:
    """RFC 1982 serial comparison of uint32s: is ``seq`` newer than ``last``?"""
    return 0 < (seq - last) % SEQ_MODULUS < SEQ_HALF


class Refusal(NamedTuple):
    """A non-fatal ``ERROR`` to send for one input: its code, reason and (if any) seq."""

    code: ErrorCode
    reason: str
    seq: int | None = None


class TakenInputs(NamedTuple):
    """The inputs one tick applies: the seats, one column per input field (tick's rows)."""

    seats: NDArray[np.int64]
    columns: list[NDArray[np.generic]]


class InputIntake:
    """Per-seat input FIFOs, sequence state, view times and counters of one match."""

    def __init__(
        self,
        capacity: int,
        dtypes: Sequence[DTypeLike],
        buffer_ticks: int = 0,
        rewind_ticks: int | None = None,
    ) -> None:
        """``rewind_ticks``: how far back a view may reach (None: the game has no lag
        compensation, views are ignored)."""
        self.capacity = capacity
        self.depth = buffer_ticks + 1
        self.rewind_ticks = rewind_ticks
        shape = (capacity, self.depth)
        self._values = [np.zeros(shape, dtype=d) for d in dtypes]
        self._q_seq = np.full(shape, -1, dtype=np.int64)
        self._q_view = np.full(shape, -1, dtype=np.int64)
        self._q_alpha = np.zeros(shape, dtype=np.float64)
        self._head = np.zeros(capacity, dtype=np.int64)
        self._size = np.zeros(capacity, dtype=np.int64)
        self._last_seq: list[int] = [-1] * capacity
        """The newest seq received per seat (-1: none yet on this connection)."""
        self.acked = np.full(capacity, -1, dtype=np.int64)
        """The last seq taken per seat (-1: the seat sends no seq)."""
        self.acked_at = np.zeros(capacity, dtype=np.int64)
        """The tick the acked input was first applied at."""
        self.view_tick = np.full(capacity, -1, dtype=np.int64)
        """View tick of the input in effect per seat (-1: none), as of :attr:`view_at`."""
        self.view_alpha = np.zeros(capacity, dtype=np.float64)
        self.view_at = np.zeros(capacity, dtype=np.int64)
        self._counts = [[0] * len(COUNTS) for _ in range(capacity)]
        """Per seat since it was taken (reset on join), by :data:`COUNTS` index."""
        self._totals = [0] * len(COUNTS)
        self._simple = self.depth == 1 and rewind_ticks is None
        """No buffer and no views: an input without seq takes the short path."""
        self._slot0 = [col[:, 0] for col in self._values]

    # -- seats -----------------------------------------------------------------------

    def reset(self, seat: int) -> None:
        """A new player holds ``seat``: forget everything of the previous one."""
        self._clear(seat)
        self._counts[seat] = [0] * len(COUNTS)
        for col in self._values:
            col[seat] = 0

    def restart(self, seat: int) -> None:
        """A new connection resumed ``seat``: its seq numbering starts afresh."""
        self._last_seq[seat] = -1
        self._q_seq[seat] = -1
        self.acked[seat] = -1

    def stand_still(self, seat: int) -> None:
        """The seat dropped: waiting inputs are discarded, a zero input is queued."""
        self._clear(seat)
        for col in self._values:
            col[seat, 0] = 0
        self._size[seat] = 1

    def _clear(self, seat: int) -> None:
        self._head[seat] = 0
        self._size[seat] = 0
        self._q_seq[seat] = -1
        self._q_view[seat] = -1
        self._last_seq[seat] = -1
        self.acked[seat] = -1
        self.view_tick[seat] = -1

    # -- inputs ------------------------------------------------------------------------

    def _count(self, seat: int, which: int) -> None:
        self._counts[seat][which] += 1
        self._totals[which] += 1

    def receive(
        self,
        seat: int,
        now: int,
        tick: int,
        values: Sequence[int],
        seq: int | None = None,
        view_tick: int | None = None,
        view_alpha: float | None = None,
    ) -> tuple[Refusal, ...]:
        """Queue one input of ``seat`` (``now``: the last tick simulated); the ERRORs to send.

        ``values`` are the stored values, one per field. Refused (and not queued): a seq
        that is not newer, a missing seq after one was sent. Queued with a notice: a
        clamped view, and an older waiting input superseded to make room.
        """
        last = self._last_seq[seat]
        if seq is None and last < 0 and self._simple:
            # The arena's case (every input of a default client): three stores, as
            # before issue 18, plus the counts.
            nxt = now + 1
            which = LATE if tick < nxt else EARLY if tick > nxt else ON_TIME
            self._counts[seat][which] += 1
            self._totals[which] += 1
            if self._size[seat]:
                self._counts[seat][SUPERSEDED] += 1
                self._totals[SUPERSEDED] += 1
            for col, v in zip(self._slot0, values, strict=True):
                col[seat] = v
            self._size[seat] = 1
            return ()
        if seq is None:
            if last >= 0:
                self._count(seat, SEQ_REQUIRED)
                return (Refusal(ErrorCode.SEQ_REQUIRED, "input without seq after seq"),)
        elif last >= 0 and not 0 < (seq - last) % SEQ_MODULUS < SEQ_HALF:
            self._count(seat, SEQ_NOT_NEWER)
            return (Refusal(ErrorCode.SEQ_NOT_NEWER, f"seq {seq} is not newer than {last}", seq),)
        else:
            self._last_seq[seat] = seq
        nxt = now + 1
        self._count(seat, LATE if tick < nxt else EARLY if tick > nxt else ON_TIME)
        notices: tuple[Refusal, ...] = ()
        vt = -1
        va = 0.0
        if view_tick is not None and self.rewind_ticks is not None:
            vt, va = view_tick, float(view_alpha or 0.0)
            oldest = max(0, nxt - self.rewind_ticks)
            if vt > now or (vt == now and va > 0.0):
                self._count(seat, VIEW_FUTURE)
                notices = (
                    Refusal(
                        ErrorCode.VIEW_CLAMPED,
                        f"view {vt}+{va:g} is after the last tick {now}: clamped to it",
                        seq,
                    ),
                )
                vt, va = now, 0.0
            elif vt < oldest:
                self._count(seat, VIEW_TOO_OLD)
                notices = (
                    Refusal(
                        ErrorCode.VIEW_CLAMPED,
                        f"view {vt} is older than the history (oldest {oldest}): clamped to it",
                        seq,
                    ),
                )
                vt, va = oldest, 0.0
        head = int(self._head[seat])
        size = int(self._size[seat])
        depth = self.depth
        if size == depth:
            old_seq = int(self._q_seq[seat, head])
            self._count(seat, SUPERSEDED)
            if old_seq >= 0:
                notices += (
                    Refusal(
                        ErrorCode.INPUT_SUPERSEDED,
                        f"input buffer full ({depth}): seq {old_seq} dropped unapplied",
                        old_seq,
                    ),
                )
            head = (head + 1) % depth
            self._head[seat] = head
            size -= 1
        slot = (head + size) % depth
        for col, v in zip(self._values, values, strict=True):
            col[seat, slot] = v
        self._q_seq[seat, slot] = -1 if seq is None else seq
        self._q_view[seat, slot] = vt
        self._q_alpha[seat, slot] = va
        self._size[seat] = size + 1
        return notices

    def take(self, tick: int) -> TakenInputs | None:
        """The inputs applied at ``tick``: the oldest waiting one of each seat (None: none)."""
        seats = np.flatnonzero(self._size)
        if len(seats) == 0:
            return None
        head = self._head[seats]
        columns = [col[seats, head] for col in self._values]
        seq = self._q_seq[seats, head]
        view = self._q_view[seats, head]
        self._head[seats] = (head + 1) % self.depth
        self._size[seats] -= 1
        with_seq = seq >= 0
        if with_seq.any():
            s = seats[with_seq]
            self.acked[s] = seq[with_seq]
            self.acked_at[s] = tick
        self.view_tick[seats] = view
        self.view_alpha[seats] = self._q_alpha[seats, head]
        self.view_at[seats] = tick
        return TakenInputs(seats, columns)

    def views(self, tick: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """``(seats, view ticks, alphas)`` in effect at ``tick`` for seats with a view.

        An input held over later ticks keeps its latency: its view advances one tick per
        tick (``view_tick + tick - view_at``).
        """
        seats = np.flatnonzero(self.view_tick >= 0)
        ticks = self.view_tick[seats] + (tick - self.view_at[seats])
        return seats, ticks, self.view_alpha[seats]

    def newest_waiting(self, seat: int) -> tuple[int, ...] | None:
        """The stored values of the newest input waiting for a tick (None: none waits)."""
        size = int(self._size[seat])
        if size == 0:
            return None
        slot = (int(self._head[seat]) + size - 1) % self.depth
        return tuple(int(col[seat, slot]) for col in self._values)

    def take_totals(self) -> dict[str, int]:
        """Counts since the last call, by :data:`COUNTS` name (for the metrics)."""
        out = {name: n for name, n in zip(COUNTS, self._totals, strict=True) if n}
        self._totals = [0] * len(COUNTS)
        return out

    def seat_counts(self, seat: int) -> dict[str, int]:
        """The counters of the player in ``seat`` since it took the seat (admin match view)."""
        return dict(zip(COUNTS, self._counts[seat], strict=True))

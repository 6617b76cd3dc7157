"""State sync: each seat's inputs between their arrival and the tick that applies them.

The rules (docs/protocol.md, ``INPUT``, "Sequence numbers, buffer and view time"):

- **Timing.** An input stamped for the next tick is *on time*; stamped for a tick
  already simulated it is *late*, for a later one *early*. All three are applied the
  same way (below) and counted per seat (:data:`COUNTS`).
- **Buffer.** Each seat has a FIFO of ``input_buffer_ticks + 1`` inputs (:attr:`depth`);
  every tick takes at most one (the oldest) from each seat, so no flood applies more than
  one input per tick. An input stays in effect tick after tick until the next one is
  taken (numbered inputs: see *Catch-up*). When the FIFO is full, a new input makes room
  by dropping one waiting input unapplied (*superseded*; with 0, the default, the newest
  input wins): the oldest that *presses* no button (sets no ``buttons`` bit that the
  input received before it did not hold), else the oldest, whose presses (OR-ed) and
  view go forward into the input after it (*carried*). So a press is never lost to a
  full FIFO, and the shot it fires is judged against the view of the input that pressed.
- **Catch-up** (numbered inputs: each is applied for exactly one tick, as the client
  predicted it). A burst after a stall is applied in order, one per tick, each with its
  own view: the FIFO has ``catch_up_ticks`` more places. A FIFO that runs dry applies a
  *still* input once (sticks and buttons 0, angles and ints kept; *starved*) rather than
  repeating the last. The backlog beyond the buffer is reported (:meth:`backlog`,
  ``STATE.aq``) for the client to skip sends; one that lasts ``drain_grace_ticks`` is
  worked off here (*caught_up*). The bounds and the victim choice: :mod:`server.match.overflow`.
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

import numpy as np
from numpy.typing import DTypeLike, NDArray

from server.match.input_counts import (
    CARRIED,
    CAUGHT_UP,
    COUNTS,
    EARLY,
    LATE,
    NEVER,
    ON_TIME,
    SEQ_HALF,
    SEQ_MODULUS,
    SEQ_NOT_NEWER,
    SEQ_REQUIRED,
    STARVED,
    SUPERSEDED,
    Refusal,
    TakenInputs,
    clamp_view,
    seq_newer,
    staged_table,
)
from server.match.overflow import Dropped, drop_notice, room_for
from server.net.protocol import ErrorCode

__all__ = ["COUNTS", "SEQ_HALF", "InputIntake", "Refusal", "TakenInputs", "seq_newer"]


class InputIntake:
    """Per-seat input FIFOs, sequence state, view times and counters of one match."""

    def __init__(
        self,
        capacity: int,
        dtypes: Sequence[DTypeLike],
        buffer_ticks: int = 0,
        rewind_ticks: int | None = None,
        kinds: Sequence[str] = (),
        catch_up_ticks: int = 0,
        drain_every_ticks: int = 1,
        drain_grace_ticks: int = 0,
        starve_zero: bool = False,
    ) -> None:
        """``rewind_ticks``: how far back a view may reach (None: the game has no lag
        compensation, views are ignored). ``kinds``: per field, its input kind
        (``stick``, ``angle``, ``buttons``, ``int``; the presses of ``buttons`` fields are
        never lost to a full FIFO; default: all sticks). ``catch_up_ticks``: the
        room beyond the buffer for numbered inputs after a burst, ``drain_every_ticks``:
        at most one of them dropped per that many ticks once a backlog has lasted
        ``drain_grace_ticks`` (the module doc, *Catch-up*)."""
        self.capacity = capacity
        self.depth = buffer_ticks + 1
        self.catch_up = catch_up_ticks
        self.drain_every = max(1, drain_every_ticks)
        self.drain_grace = drain_grace_ticks
        self.starve_zero = starve_zero
        self._in_effect = np.zeros(capacity, dtype=bool)
        """Per seat: a numbered input is in effect (with ``starve_zero``, a dry FIFO then
        applies the still input once: sticks and buttons 0, angles and ints kept)."""
        self.rewind_ticks = rewind_ticks
        self.ring = self.depth + catch_up_ticks
        shape = (capacity, self.ring)
        self.values = [np.zeros(shape, dtype=d) for d in dtypes]
        self.q_seq = np.full(shape, -1, dtype=np.int64)
        self.q_view = np.full(shape, -1, dtype=np.int64)
        self.q_alpha = np.zeros(shape, dtype=np.float64)
        self.q_press = np.zeros(shape, dtype=bool)
        """Per waiting input: does it press a button its predecessor did not hold."""
        self.buttons = [i for i, k in enumerate(kinds) if k == "buttons"]
        """The indices of the ``buttons`` fields."""
        self._kept = [i for i, k in enumerate(kinds) if k in ("angle", "int")]
        """The fields a dry FIFO's zero input keeps (aims, targets); sticks and buttons go
        to 0 (the player stops and lets go)."""
        self._held: list[tuple[int, ...]] = [(0,) * len(self.buttons)] * capacity
        """Per seat, the buttons fields of the last input received (presses are edges
        against it)."""
        self.head = np.zeros(capacity, dtype=np.int64)
        self.size = np.zeros(capacity, dtype=np.int64)
        self.drained_at = [NEVER] * capacity
        """Per seat, the tick of its last catch-up drop."""
        self.backlog_since = [NEVER] * capacity
        """Per seat, the tick since which inputs wait beyond the buffer (NEVER: none)."""
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
        self._simple = self.depth == 1 and rewind_ticks is None and not self.buttons
        """No buffer, views nor buttons: an input without seq takes the short path."""
        self._numbered = False
        """Some input with a seq was queued (until then, with :attr:`_simple`, every
        input took the short path and :meth:`take` takes its short path too)."""
        self._staged: dict[int, Sequence[int]] = {}
        """While :attr:`staging`: each seat's waiting input, as received (cheaper than numpy
        scalar stores; the FIFO arrays then hold none), written into them by the first seq."""

    @property
    def staging(self) -> bool:
        """Every input so far took the short path (no buffer, seq, views nor buttons):
        waiting inputs are kept in Python (:meth:`take_staged` takes them)."""
        return self._simple and not self._numbered

    @property
    def numbered(self) -> bool:
        """Some seat has sent a seq (until then no seat is acked: ``acked`` is all -1)."""
        return self._numbered

    # -- seats -----------------------------------------------------------------------

    def reset(self, seat: int) -> None:
        """A new player holds ``seat``: forget everything of the previous one."""
        self._clear(seat)
        self._counts[seat] = [0] * len(COUNTS)
        for col in self.values:
            col[seat] = 0

    def restart(self, seat: int) -> None:
        """A new connection resumed ``seat``: its seq numbering starts afresh."""
        self._last_seq[seat] = -1
        self.q_seq[seat] = -1
        self.acked[seat] = -1

    def stand_still(self, seat: int) -> None:
        """The seat dropped: waiting inputs are discarded, a zero input is queued."""
        self._clear(seat)
        if self.staging:
            self._staged[seat] = (0,) * len(self.values)
            return
        for col in self.values:
            col[seat, 0] = 0
        self.size[seat] = 1

    def _clear(self, seat: int) -> None:
        self._staged.pop(seat, None)
        self.head[seat] = 0
        self.size[seat] = 0
        self.q_seq[seat] = -1
        self.q_view[seat] = -1
        self.q_press[seat] = False
        self.drained_at[seat] = NEVER
        self.backlog_since[seat] = NEVER
        self._in_effect[seat] = False
        self._held[seat] = (0,) * len(self.buttons)
        self._last_seq[seat] = -1
        self.acked[seat] = -1
        self.view_tick[seat] = -1

    # -- inputs ------------------------------------------------------------------------

    def count(self, seat: int, which: int) -> None:
        """Count one event ``which`` (a :data:`COUNTS` index) for ``seat``."""
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
            counts = self._counts[seat]
            counts[which] += 1
            self._totals[which] += 1
            if not self._numbered:
                staged = self._staged
                if seat in staged:
                    counts[SUPERSEDED] += 1
                    self._totals[SUPERSEDED] += 1
                staged[seat] = values
                return ()
            if self.size[seat]:
                self._counts[seat][SUPERSEDED] += 1
                self._totals[SUPERSEDED] += 1
            head = int(self.head[seat])
            for col, v in zip(self.values, values, strict=True):
                col[seat, head] = v
            self.size[seat] = 1
            return ()
        if seq is None:
            if last >= 0:
                self.count(seat, SEQ_REQUIRED)
                return (Refusal(ErrorCode.SEQ_REQUIRED, "input without seq after seq"),)
        elif last >= 0 and not 0 < (seq - last) % SEQ_MODULUS < SEQ_HALF:
            self.count(seat, SEQ_NOT_NEWER)
            return (Refusal(ErrorCode.SEQ_NOT_NEWER, f"seq {seq} is not newer than {last}", seq),)
        else:
            self._last_seq[seat] = seq
            if not self._numbered:
                self._unstage()
                self._numbered = True
        nxt = now + 1
        self.count(seat, LATE if tick < nxt else EARLY if tick > nxt else ON_TIME)
        notices: tuple[Refusal, ...] = ()
        vt = -1
        va = 0.0
        if view_tick is not None and self.rewind_ticks is not None:
            vt, va, clamped, notice = clamp_view(
                view_tick, view_alpha, now, max(0, nxt - self.rewind_ticks), seq
            )
            if notice is not None:
                self.count(seat, clamped)
                notices = (notice,)
        press = False
        if self.buttons:
            held = self._held[seat]
            now_held = tuple(int(values[i]) for i in self.buttons)
            press = any(v & ~h for v, h in zip(now_held, held, strict=True))
            self._held[seat] = now_held
        room, drain = room_for(self, seat, now, seq, values, vt, va, press)
        if room is not None:
            notices += self._dropped(seat, room, drain)
            values, vt, va, press = room.values, room.view_tick, room.view_alpha, room.press
        ring = self.ring
        head = int(self.head[seat])
        size = int(self.size[seat])
        slot = (head + size) % ring
        for col, v in zip(self.values, values, strict=True):
            col[seat, slot] = v
        self.q_seq[seat, slot] = -1 if seq is None else seq
        self.q_view[seat, slot] = vt
        self.q_alpha[seat, slot] = va
        self.q_press[seat, slot] = press
        self.size[seat] = size + 1
        return notices

    def _unstage(self) -> None:
        """Write the staged inputs into the FIFO arrays (the first numbered input came)."""
        for seat, values in self._staged.items():
            head = int(self.head[seat])
            for col, v in zip(self.values, values, strict=True):
                col[seat, head] = v
            self.size[seat] = 1
        self._staged.clear()

    def _dropped(self, seat: int, room: Dropped, drain: bool) -> tuple[Refusal, ...]:
        """Count a dropped input; the ``ERROR INPUT_SUPERSEDED`` for a numbered one."""
        self.count(seat, CAUGHT_UP if drain else SUPERSEDED)
        if room.carried_to is not None:
            self.count(seat, CARRIED)
        return drop_notice(room, drain)

    def take(self, tick: int) -> TakenInputs | None:
        """The inputs applied at ``tick``: the oldest waiting one of each seat (None: none)."""
        if self._simple and not self._numbered:
            # Only short-path inputs so far: no seq, view or dry FIFO to account for (the
            # arena's default clients); the same as below with those parts empty.
            taken, rows = self.take_staged()
            if not taken:
                return None
            table = staged_table(rows, len(self.values))
            columns = [table[:, i].astype(col.dtype) for i, col in enumerate(self.values)]
            return TakenInputs(np.array(taken, dtype=np.int64), columns)
        waiting = self.size > 0
        seats = np.flatnonzero(waiting)
        dry = None
        if self.starve_zero:
            dry = np.flatnonzero(self._in_effect & ~waiting)
            if len(dry):
                self._in_effect[dry] = False
                self._count_many(dry, STARVED)
        if len(seats) == 0 and (dry is None or len(dry) == 0):
            return None
        head = self.head[seats]
        columns = [col[seats, head] for col in self.values]
        seq = self.q_seq[seats, head]
        view = self.q_view[seats, head]
        self.head[seats] = (head + 1) % self.ring
        self.size[seats] -= 1
        with_seq = seq >= 0
        if with_seq.any():
            s = seats[with_seq]
            self.acked[s] = seq[with_seq]
            self.acked_at[s] = tick
            self._in_effect[s] = True
        self.view_tick[seats] = view
        self.view_alpha[seats] = self.q_alpha[seats, head]
        self.view_at[seats] = tick
        if dry is not None and len(dry):
            last = (self.head[dry] - 1) % self.ring  # the input taken last, not reused
            zero = [np.zeros(len(dry), c.dtype) for c in columns]
            for i in self._kept:
                zero[i] = self.values[i][dry, last]
            seats = np.concatenate([seats, dry])
            columns = [np.concatenate([c, z]) for c, z in zip(columns, zero, strict=True)]
        return TakenInputs(seats, columns)

    def take_staged(self) -> tuple[list[int], list[Sequence[int]]]:
        """While :attr:`staging`: the seats with a waiting input (ascending) and those inputs,
        taken (what :meth:`take` takes; :mod:`server.match.batch_inputs` batches them)."""
        staged = self._staged
        if not staged:
            return [], []
        seats = sorted(staged)
        rows = [staged[s] for s in seats]
        staged.clear()
        return seats, rows

    def _count_many(self, seats: NDArray[np.int64], which: int) -> None:
        for seat in seats.tolist():  # the seats whose FIFO ran dry this tick (few)
            self._counts[seat][which] += 1
        self._totals[which] += len(seats)

    def views(self, tick: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """``(seats, view ticks, alphas)`` in effect at ``tick`` for seats with a view.

        An input held over later ticks keeps its latency: its view advances one tick per
        tick (``view_tick + tick - view_at``).
        """
        seats = np.flatnonzero(self.view_tick >= 0)
        ticks = self.view_tick[seats] + (tick - self.view_at[seats])
        return seats, ticks, self.view_alpha[seats]

    def backlog(self) -> NDArray[np.int64]:
        """Per seat, the inputs waiting beyond the buffer (``input_buffer_ticks``) after
        this tick's take: ``STATE.aq`` is sent when it is positive (a client may skip a
        send to work it off, docs/protocol.md)."""
        backlog = np.maximum(self.size - (self.depth - 1), 0)
        if self._staged:  # (depth 1: a staged input is one waiting beyond the buffer)
            backlog[np.fromiter(self._staged, np.int64, len(self._staged))] += 1
        return backlog

    def newest_waiting(self, seat: int) -> tuple[int, ...] | None:
        """The stored values of the newest input waiting for a tick (None: none waits)."""
        staged = self._staged.get(seat)
        if staged is not None:
            return tuple(int(v) for v in staged)
        size = int(self.size[seat])
        if size == 0:
            return None
        slot = (int(self.head[seat]) + size - 1) % self.ring
        return tuple(int(col[seat, slot]) for col in self.values)

    def take_totals(self) -> dict[str, int]:
        """Counts since the last call, by :data:`COUNTS` name (for the metrics)."""
        out = {name: n for name, n in zip(COUNTS, self._totals, strict=True) if n}
        self._totals = [0] * len(COUNTS)
        return out

    def seat_counts(self, seat: int) -> dict[str, int]:
        """The counters of the player in ``seat`` since it took the seat (admin match view)."""
        return dict(zip(COUNTS, self._counts[seat], strict=True))

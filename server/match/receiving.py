"""What a match receives from its players: inputs, acks, snapshot requests, checksums.

:class:`MatchReceiving` is the receiving half of :class:`~server.match.match.Match` (a
mixin: ``Match`` holds the state these methods read and write). Like the rest of the
match it does no I/O: the gateway calls these as messages arrive, and each returns what
to answer (the non-fatal errors, a desync's frame).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from server.core.sync.lockstep import InputVerdict
from server.core.systems.arena import INPUT_SCALE
from server.match.intake import InputIntake, Refusal
from server.match.types import Seat
from server.net.protocol import ErrorCode

if TYPE_CHECKING:
    from server.core.simulation import Simulation
    from server.core.sync.lockstep import LockstepCollector
    from server.gamedef.schema import GameDefinition
    from server.match.lockstep_feed import LockstepFeed


def quantize_stick(v: float) -> int:
    """A stick axis in [-1, 1] as -127..127 steps: ``floor(v * 127 + 0.5)``.

    Round half up, which every language computes the same way (JavaScript:
    ``Math.floor(v * 127 + 0.5)``); Python's ``round`` rounds half to even.
    (:meth:`MatchReceiving.receive_input` computes the same inline.)
    """
    return math.floor(v * INPUT_SCALE + 0.5)


class MatchReceiving:
    """The receiving methods of a match (see the module docstring)."""

    definition: GameDefinition
    sim: Simulation
    intake: InputIntake
    collector: LockstepCollector | None
    lockstep: LockstepFeed | None
    counters: dict[str, int]

    def receive_input(
        self,
        seat: Seat,
        tick: int,
        x: float,
        y: float,
        seq: int | None = None,
        view_tick: int | None = None,
        view_alpha: float | None = None,
    ) -> tuple[Refusal, ...]:
        """Queue an input (x, y in [-1, 1], validated by the codec) for the tick loop.

        State sync: inputs stamped more than two seconds away from the current tick are
        refused; the others go through the seat's input buffer
        (:class:`~server.match.intake.InputIntake`: seq order, view clamping, one input
        per tick). Lockstep: the input is stored for frame ``tick`` (``seq`` and the
        view are not used). Returns the non-fatal errors to send (usually none).
        """
        values = (math.floor(x * INPUT_SCALE + 0.5), math.floor(y * INPUT_SCALE + 0.5))
        collector = self.collector
        if collector is None:  # state sync, inlined: one call per input to the intake
            now = self.sim.tick
            window = 2 * self.definition.tick_rate_hz
            if now - window <= tick <= now + window:
                return self.intake.receive(seat.seat, now, tick, values, seq, view_tick, view_alpha)
            return self.receive_fields(seat, tick, values, seq, view_tick, view_alpha)
        # Lockstep, inlined as well: one call per input to the collector.
        verdict = collector.receive_values(seat.seat, tick, values)
        return () if verdict == InputVerdict.ACCEPTED else self._verdict(verdict, tick)

    def receive_fields(
        self,
        seat: Seat,
        tick: int,
        values: tuple[int, ...],
        seq: int | None = None,
        view_tick: int | None = None,
        view_alpha: float | None = None,
    ) -> tuple[Refusal, ...]:
        """Queue a declared-fields input (stored values, validated by the codec).

        The same rules as :meth:`receive_input`; ``values`` are in the order of
        ``definition.inputs`` (the default sticks: ``(qx, qy)``).
        """
        if self.collector is not None:
            return self._verdict(self.collector.receive_values(seat.seat, tick, values), tick)
        err = self._outside_window(tick)
        if err is not None:
            return (err,)
        return self.intake.receive(
            seat.seat, self.sim.tick, tick, values, seq, view_tick, view_alpha
        )

    def _verdict(self, verdict: str, tick: int) -> tuple[Refusal, ...]:
        """A lockstep collector's verdict as errors to send (counted)."""
        if verdict == InputVerdict.TOO_OLD:
            self.counters["inputs_too_old"] += 1
            return (Refusal(ErrorCode.INPUT_TOO_OLD, f"input for tick {tick} refused"),)
        if verdict == InputVerdict.TOO_NEW:
            self.counters["inputs_too_new"] += 1
            return (Refusal(ErrorCode.INPUT_TOO_NEW, f"input for tick {tick} refused"),)
        return ()

    def _outside_window(self, tick: int) -> Refusal | None:
        """State sync: an input stamped more than two seconds from now is refused."""
        window = 2 * self.definition.tick_rate_hz
        now = self.sim.tick
        if tick < now - window:
            self.counters["inputs_too_old"] += 1
            return Refusal(ErrorCode.INPUT_TOO_OLD, f"input for tick {tick} refused")
        if tick > now + window:
            self.counters["inputs_too_new"] += 1
            return Refusal(ErrorCode.INPUT_TOO_NEW, f"input for tick {tick} refused")
        return None

    def receive_ack(self, seat: Seat, tick: int) -> None:
        """Record the newest state tick the client applied."""
        if tick <= self.sim.tick:
            seat.last_ack_tick = max(seat.last_ack_tick, tick)

    def request_full(self, seat: Seat) -> None:
        """The client asked for a full snapshot: send one with the next frame."""
        seat.needs_full = True

    def receive_checksum(self, seat: Seat, frame: int, checksum: int) -> int | None:
        """Compare a client's checksum with ours; returns the frame if they differ.

        A frame we no longer (or not yet) hold a checksum for is ignored.
        """
        if self.lockstep is None or not self.lockstep.receive_checksum(seat.seat, frame, checksum):
            return None
        self.counters["desyncs"] += 1
        return frame

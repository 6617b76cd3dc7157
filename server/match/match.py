"""A match: one world, its seats, its command queue and its lifecycle.

Like the websockets protocol object, a :class:`Match` does no I/O: callers put inputs
in (:meth:`Match.join`, :meth:`Match.receive_input`, ...), advance it with
:meth:`Match.tick`, and take out what to send (:class:`TickOutput`). Connections are
opaque objects to it. It never awaits (:mod:`server.hosting.runner` drives it). The
per-client state frames are built in :mod:`server.match.frames`.

Seats: a player holds a seat index (0 .. capacity-1) for as long as they are in the
match, including while dropped within the grace window. Spectators hold no seat: they
watch the whole world through their own interest set and send no inputs.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from server.core.entity import EntityId
from server.core.frame import FrameResult, InputBatch, ViewBatch
from server.core.simulation import LockstepReplica, Simulation, replica_rules
from server.core.sync.events import EventRouter
from server.core.sync.fields import FieldEncoder
from server.core.sync.lockstep import InputVerdict, LockstepCollector, LockstepFrame
from server.core.sync.quantize import PositionQuantizer
from server.core.sync.state import InterestSync
from server.core.systems.arena import INPUT_SCALE
from server.errors import InvalidState, JoinRejected, MatchFull
from server.gamedef.schema import GameDefinition
from server.match.frames import build_state_frames
from server.match.handler import DefaultHandler, LeaveReason, MatchHandler
from server.match.intake import InputIntake, Refusal
from server.match.result import MatchResult, build_result
from server.match.routing import route_events
from server.matchmaking.labels import Labels, Scalar, merge_labels, validate_labels
from server.net.inputs import InputDecoder
from server.net.protocol import ErrorCode

if TYPE_CHECKING:
    from server.replay.recorder import MatchRecorder


def quantize_stick(v: float) -> int:
    """A stick axis in [-1, 1] as -127..127 steps: ``floor(v * 127 + 0.5)``.

    Round half up, which every language computes the same way (JavaScript:
    ``Math.floor(v * 127 + 0.5)``); Python's ``round`` rounds half to even.
    """
    return math.floor(v * INPUT_SCALE + 0.5)


LOCKSTEP_HISTORY_FRAMES = 256
"""Encoded lockstep frames kept for resuming clients (12.8 s at 20 Hz)."""


class MatchState(StrEnum):
    """waiting -> running -> ended."""

    WAITING = "waiting"
    RUNNING = "running"
    ENDED = "ended"


@dataclass(slots=True)
class Seat:
    """A player's place in a match."""

    seat: int
    player_id: int
    conn: Any
    """The connection object (opaque here); None while dropped."""
    entity: EntityId | None = None
    resume_nonce: str = ""
    dropped_at_s: float | None = None
    needs_full: bool = True
    spectator: bool = False
    last_ack_tick: int = 0
    lockstep_sent_frame: int = 0


@dataclass(slots=True)
class TickOutput:
    """What one tick produced for the transport.

    ``frames``: per-connection state frames (each already encoded).
    ``broadcast``: one payload and every connection that gets it (lockstep).
    """

    tick: int
    result: FrameResult | None
    frames: list[tuple[Any, bytes]] = field(default_factory=list)
    broadcast: tuple[list[Any], bytes] | None = None
    match_result: MatchResult | None = None
    """Set on the tick the game ended the match: send ``RESULT``, then close all."""
    skipped_slow: int = 0
    """State frames not built because the client had not taken the previous one."""
    sync_s: float = 0.0


class Match:
    """One running game; see the module docstring for the contract."""

    def __init__(
        self,
        definition: GameDefinition,
        match_id: str,
        match_index: int = 0,
        handler: MatchHandler | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.definition = definition
        self.match_id = match_id
        self.trace_id = secrets.token_hex(8)
        """Correlates every log line of this match (``match_trace_id``)."""
        self.mode = definition.sync.mode
        self.capacity = definition.max_players
        self.handler: MatchHandler = handler or DefaultHandler()
        self.state = MatchState.WAITING
        self.end_reason = ""
        self.match_index = match_index
        self.recorder: MatchRecorder | None = None
        """Set by :func:`server.replay.recorder.attach_recorder` (before anyone joins)."""
        self.sim = Simulation(definition, match_index, timer)
        self.sim.spawn_initial()
        self.sim.apply_commands()
        self.sim.processor.rebuild_index()
        self._timer = timer
        self.seats: list[Seat | None] = [None] * self.capacity
        self.by_player: dict[int, Seat] = {}
        self.spectators: dict[int, Seat] = {}
        self._next_spectator = 0
        self._free = list(range(self.capacity - 1, -1, -1))
        self.snapshot_every = max(1, definition.tick_rate_hz // definition.sync.snapshot_rate_hz)
        self.quantizer = PositionQuantizer(definition)
        self.fields = FieldEncoder(definition)
        field_specs = list(zip(self.fields.dtypes, self.fields.owner_only, strict=True))
        self.interest = InterestSync(definition.sync.interest_radius_units, field_specs)
        sync_def = definition.sync
        if sync_def.budget_bytes_per_s > 0:
            self.interest.budget.bytes_per_frame = (
                sync_def.budget_bytes_per_s / sync_def.snapshot_rate_hz
            )
            self.interest.budget.falloff_units = sync_def.budget_falloff_units
            self.interest.budget.max_stale_ticks = definition.tick_rate_hz  # 1 s
        diag = float(np.hypot(definition.world.width_units, definition.world.height_units))
        self.spectator_interest = InterestSync(diag, field_specs)
        self.events = EventRouter(definition)
        self.spectator_events = EventRouter(definition, spectators=True)
        self.send_events = bool(definition.events) and self.mode == "state"
        """State sync of a game with declared events: route and send them."""
        self.result: MatchResult | None = None
        """Set on the tick the game ends the match (``ctx.end("match", ...)``)."""
        self.subunits_per_unit = float(definition.world.subunits_per_unit)
        """Fixed-point subunits per world unit (positions are int32 subunits)."""
        self.input_decoder = InputDecoder(definition.inputs) if definition.inputs_declared else None
        """Validates ``INPUT`` bodies of a game with ``[input]`` (None: default sticks)."""
        lag = definition.latency.lag_compensation
        self.intake = InputIntake(
            self.capacity,
            [f.dtype for f in definition.inputs],
            definition.latency.input_buffer_ticks,
            None if lag is None else lag.history_ticks(definition.tick_rate_hz),
        )
        """State sync: inputs waiting for their tick, seq, views, counts (per seat)."""
        self.seat_entity = np.full(self.capacity, -1, dtype=np.int64)
        """The entity handle of each seat's player (-1: empty seat or lockstep)."""
        self._rules: dict[str, object] | None = None
        self._checkpoint: dict[str, Any] | None = None
        """The last lockstep checkpoint (one export per frame, whoever joins)."""
        self.empty_since_s: float | None = None
        self.label_values: Labels = {}
        """Matchmaking labels (listing, filters): the definition's, create's, the handler's."""
        self.private = False
        """Never listed nor quick-joined; joined by ``join_code``."""
        self.join_code: str | None = None
        self.counters: dict[str, int] = {
            "inputs_too_old": 0,
            "inputs_too_new": 0,
            "desyncs": 0,
        }
        lock = definition.lockstep
        self.collector: LockstepCollector | None = None
        self.replica: LockstepReplica | None = None
        self.frame_history: dict[int, bytes] = {}
        self.server_checksums: dict[int, int] = {}
        self.desynced: set[int] = set()
        self._lockstep_frame: LockstepFrame | None = None
        """The lockstep frame between :meth:`take_inputs` and :meth:`finish_tick`."""
        if self.mode == "lockstep":
            self.collector = LockstepCollector(
                self.capacity,
                lock.input_delay_ticks,
                lock.default_input,
                fields=[(f.name, f.dtype) for f in definition.inputs],
            )
            self.replica = LockstepReplica(self.sim)

    # -- lifecycle -------------------------------------------------------------------

    @property
    def tick_count(self) -> int:
        """The last tick simulated."""
        return self.sim.tick

    @property
    def players(self) -> int:
        """Seated players (connected or dropped within grace)."""
        return len(self.by_player)

    @property
    def connected_players(self) -> int:
        """Seated players whose connection is open (a drain waits only for these)."""
        return sum(1 for s in self.by_player.values() if s.conn is not None)

    def labels(self) -> dict[str, Any]:
        """What the match list shows (docs/operations.md, ``GET /matches``, lists each key)."""
        return {
            "match_id": self.match_id,
            "game": self.definition.name,
            "mode": self.mode,
            "players": self.players,
            "spectators": len(self.spectators),
            "capacity": self.capacity,
            "state": str(self.state),
            "tick_rate_hz": self.definition.tick_rate_hz,
            "snapshot_rate_hz": self.definition.sync.snapshot_rate_hz,
            "tick": self.tick_count,
            "entities": self.sim.world.count,
        }

    def set_label(self, key: str, value: Scalar) -> None:
        """Set one matchmaking label at runtime (the match handler's way to advertise its
        state, e.g. ``round``); held to the caps of :mod:`server.matchmaking.labels`."""
        self.label_values = merge_labels(self.label_values, validate_labels({key: value}))

    def start(self) -> None:
        """waiting -> running."""
        if self.state is MatchState.WAITING:
            self.state = MatchState.RUNNING

    def end(self, reason: str) -> list[Seat]:
        """running -> ended; returns every seat (players and spectators) to disconnect."""
        if self.state is MatchState.ENDED:
            return []
        self.state = MatchState.ENDED
        self.end_reason = reason
        seats = [s for s in self.seats if s is not None] + list(self.spectators.values())
        for s in seats:
            if not s.spectator:
                self.handler.leave(self, s, LeaveReason.SHUTDOWN)
        self.handler.terminate(self, reason, self.result)
        if self.recorder is not None:
            self.recorder.close(reason)
        return seats

    # -- seats -------------------------------------------------------------------------

    def join(self, player_id: int, conn: Any, spectator: bool = False) -> Seat:
        """Seat a new player (or add a spectator); raises JoinRejected / MatchFull."""
        if self.state is MatchState.ENDED:
            raise JoinRejected("match has ended")
        reason = self.handler.join_attempt(self, player_id, spectator)
        if reason is not None:
            raise JoinRejected(reason)
        if spectator:
            seat = Seat(self._next_spectator, player_id, conn, spectator=True)
            self._next_spectator += 1
            self.spectators[seat.seat] = seat
            return seat
        if not self._free:
            raise MatchFull(f"match {self.match_id} is full ({self.capacity} players)")
        index = self._free.pop()
        seat = Seat(index, player_id, conn)
        self.seats[index] = seat
        self.by_player[player_id] = seat
        self.empty_since_s = None
        self.intake.reset(index)
        if self.collector is not None:
            self.collector.seat(index)
        else:
            seat.entity = self.sim.queue_player()
            self.seat_entity[index] = seat.entity
        if self.recorder is not None:
            self.recorder.join(index, player_id, seat.entity)
        self.interest.forget([index])
        self.events.forget(index)
        self.handler.join(self, seat)
        return seat

    def drop(self, seat: Seat, now_s: float) -> None:
        """The connection was lost: keep the seat for the grace window, stop sending."""
        if seat.spectator:
            self.spectators.pop(seat.seat, None)
            self.spectator_interest.forget([seat.seat])
            self.spectator_events.forget(seat.seat)
            return
        seat.conn = None
        seat.dropped_at_s = now_s
        self.intake.stand_still(seat.seat)
        self.handler.leave(self, seat, LeaveReason.DROPPED)

    def resume(self, seat: Seat, conn: Any) -> None:
        """A dropped player is back: reattach the connection; it gets a full snapshot."""
        if seat.conn is not None:
            raise InvalidState("resume of a seat that is connected")
        seat.conn = conn
        seat.dropped_at_s = None
        seat.needs_full = True
        self.intake.restart(seat.seat)
        self.interest.forget([seat.seat])

    def leave(self, seat: Seat, reason: LeaveReason) -> None:
        """Free the seat for good and remove the player's entity."""
        if seat.spectator:
            self.spectators.pop(seat.seat, None)
            self.spectator_interest.forget([seat.seat])
            self.spectator_events.forget(seat.seat)
            return
        if self.seats[seat.seat] is not seat:
            return
        self.events.forget(seat.seat)
        self.seats[seat.seat] = None
        self.by_player.pop(seat.player_id, None)
        self._free.append(seat.seat)
        self.intake.reset(seat.seat)
        if self.collector is not None:
            self.collector.unseat(seat.seat)
        elif seat.entity is not None:
            self.sim.queue_despawn(seat.entity)
            self.seat_entity[seat.seat] = -1
        if self.recorder is not None:
            self.recorder.leave(seat.seat, seat.entity)
        self.interest.forget([seat.seat])
        if not self.by_player:
            self.empty_since_s = self._timer()
        self.handler.leave(self, seat, reason)

    def expire_dropped(self, now_s: float, grace_s: float) -> list[Seat]:
        """Free seats dropped longer than ``grace_s`` ago; returns them."""
        expired = [
            s
            for s in self.by_player.values()
            if s.dropped_at_s is not None and now_s - s.dropped_at_s > grace_s
        ]
        for s in expired:
            self.leave(s, LeaveReason.EXPIRED)
        return expired

    # -- inputs ------------------------------------------------------------------------

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
        return self.receive_fields(
            seat, tick, (quantize_stick(x), quantize_stick(y)), seq, view_tick, view_alpha
        )

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
        expected = self.server_checksums.get(frame)
        if expected is None or expected == checksum:
            return None
        self.counters["desyncs"] += 1
        self.desynced.add(seat.seat)
        return frame

    # -- ticking -----------------------------------------------------------------------

    def tick(self, writable: Callable[[Any], bool] = lambda c: True) -> TickOutput:
        """Advance one tick and build what to send.

        ``writable(conn)`` tells whether a connection has taken its previous frame; a
        state-sync client that has not gets no new frame this tick (latest-frame-wins).
        Raises :class:`~server.errors.SystemFailed` if a system fails.
        """
        batch = self.take_inputs()
        return self.finish_tick(batch, self.sim.step(batch), writable)

    def _check_tickable(self) -> None:
        if self.state is MatchState.WAITING:
            self.start()
        if self.state is MatchState.ENDED:
            raise InvalidState("tick of an ended match")

    def take_inputs(self) -> InputBatch | None:
        """The start of a tick: the inputs waiting for it (None if none).

        :meth:`tick` is ``take_inputs``, one step of :attr:`sim`, then
        :meth:`finish_tick`; the hosting layer calls the three itself when it steps
        many matches as one batch (:mod:`server.core.batch`). Lockstep: the frame is
        built here (joins and leaves queued on the replica), finished in ``finish_tick``.
        """
        self._check_tickable()
        if self.collector is not None:
            assert self.replica is not None
            frame = self._lockstep_frame = self.collector.build()
            return self.replica.prepare_columns(
                frame.frame, frame.joins, frame.leaves, frame.seats, frame.columns
            )
        return self._input_batch(self.sim.tick + 1)

    def finish_tick(
        self,
        batch: InputBatch | None,
        result: FrameResult,
        writable: Callable[[Any], bool] = lambda c: True,
    ) -> TickOutput:
        """The end of a tick stepped with ``batch``: events, ending, frames."""
        if self.collector is not None:
            return self._finish_lockstep(result)
        if self.recorder is not None:
            self.recorder.tick(self.sim.tick, batch)
        if result.events and self.send_events:
            route_events(self, result.events)
        ended = self._check_ending(result)
        self.handler.tick(self, self.sim.tick)
        out = TickOutput(self.sim.tick, result, match_result=self.result if ended else None)
        if self.sim.tick % self.snapshot_every == 0 or ended:
            t0 = self._timer()
            build_state_frames(self, out, writable)
            out.sync_s = self._timer() - t0
        return out

    def _input_batch(self, tick: int) -> InputBatch | None:
        """The inputs applied at ``tick`` (the oldest waiting one per seat) and the views."""
        taken = self.intake.take(tick)
        views = None
        if self.intake.rewind_ticks is not None:
            seats, ticks, alpha = self.intake.views(tick)
            views = ViewBatch(self.seat_entity[seats], ticks, alpha)
        if taken is None:
            return None if views is None else InputBatch.empty(views)
        entities = self.seat_entity[taken.seats]
        if self.input_decoder is None:
            x, y = (c.astype(np.int8, copy=False) for c in taken.columns)
            return InputBatch(entities, x, y, views=views)
        cols = {f.name: c for f, c in zip(self.definition.inputs, taken.columns, strict=True)}
        return InputBatch.of_columns(entities, cols, views)

    def _check_ending(self, result: FrameResult) -> bool:
        """Record a match ending (``ctx.end("match", ...)``) as :attr:`result`."""
        ending = result.ending
        if ending is None or ending.kind != "match" or self.result is not None:
            return False
        self.result = build_result(self, ending)
        return True

    def _finish_lockstep(self, result: FrameResult) -> TickOutput:
        assert self.replica is not None
        frame = self._lockstep_frame
        assert frame is not None, "finish_tick without take_inputs"
        self._lockstep_frame = None
        for seat_index, eid in self.replica.seat_entity.items():
            s = self.seats[seat_index]
            if s is not None:
                s.entity = eid
        self.handler.tick(self, self.sim.tick)
        interval = self.definition.lockstep.checksum_interval_ticks
        if frame.frame % interval == 0:
            self.server_checksums[frame.frame] = self.sim.checksum()
            self.server_checksums.pop(frame.frame - LOCKSTEP_HISTORY_FRAMES * interval, None)
        self.frame_history[frame.frame] = frame.payload
        if self.recorder is not None:
            self.recorder.frame(frame.frame, frame.payload)
        self.frame_history.pop(frame.frame - LOCKSTEP_HISTORY_FRAMES, None)
        conns = [s.conn for s in self.by_player.values() if s.conn is not None]
        conns.extend(s.conn for s in self.spectators.values())
        for s in self.by_player.values():
            if s.conn is not None:
                s.lockstep_sent_frame = frame.frame
        ended = self._check_ending(result)
        return TickOutput(
            self.sim.tick,
            result,
            broadcast=(conns, frame.payload),
            match_result=self.result if ended else None,
        )

    def lockstep_checkpoint(self) -> dict[str, Any]:
        """World state after the last frame, for a joining or far-behind client."""
        if self.replica is None:
            raise InvalidState("checkpoint of a state-sync match")
        if self._rules is None:
            self._rules = replica_rules(self.sim)
        cached = self._checkpoint
        if cached is not None and cached["frame"] == self.sim.tick:
            return cached  # the clients joining between two frames share one export
        self._checkpoint = {
            "frame": self.sim.tick,
            "state": self.replica.export(),
            "game": self._rules,
        }
        return self._checkpoint

    def lockstep_frames_since(self, frame: int) -> list[bytes] | None:
        """Encoded frames after ``frame`` up to now, or None if some are no longer kept."""
        wanted = range(frame + 1, self.sim.tick + 1)
        if any(f not in self.frame_history for f in wanted):
            return None
        return [self.frame_history[f] for f in wanted]

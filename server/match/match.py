"""A match: one world, its seats, its command queue and its lifecycle.

Like the websockets protocol object, a :class:`Match` does no I/O: callers put inputs
in (:meth:`Match.join`, :meth:`Match.receive_input`, ...), advance it with
:meth:`Match.tick`, and take out what to send (:class:`TickOutput`). Connections are
opaque objects to it. It never awaits (:mod:`server.hosting.runner` drives it). The
per-client state frames are built in :mod:`server.match.frames`, the seat lifecycle
lives in :mod:`server.match.seats`, the lockstep feed (frames, checksums, checkpoints)
in :mod:`server.match.lockstep_feed`, state sync's input buffers in
:mod:`server.match.intake`, and what a match receives from its players (inputs, acks,
snapshot requests, checksums) in :mod:`server.match.receiving`.

Seats: a player holds a seat index (0 .. capacity-1) for as long as they are in the
match, including while dropped within the grace window. Spectators hold no seat: they
watch the whole world through their own interest set and send no inputs.

The match's value types (:class:`MatchState`, :class:`Seat`, :class:`TickOutput`) are
defined in :mod:`server.match.types` and exported from here too (``__all__``), where
most of the code base imports them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from server.core.frame import FrameResult, InputBatch, ViewBatch
from server.core.simulation import Simulation
from server.core.sync.budget import budget_config
from server.core.sync.events import EventRouter
from server.core.sync.fields import FieldEncoder
from server.core.sync.quantize import PositionQuantizer
from server.core.sync.state import InterestSync
from server.errors import InvalidState
from server.gamedef.schema import GameDefinition
from server.match import seats
from server.match.frames import build_state_frames
from server.match.handler import DefaultHandler, LeaveReason, MatchHandler
from server.match.intake import InputIntake
from server.match.lockstep_feed import LockstepFeed
from server.match.overflow import DRAIN_EVERY_S, DRAIN_GRACE_S, seconds_in_ticks
from server.match.receiving import MatchReceiving, quantize_stick
from server.match.result import MatchResult, build_result
from server.match.routing import route_events
from server.match.types import MatchState, Seat, TickOutput
from server.matchmaking.labels import Labels, Scalar, merge_labels, validate_labels
from server.net.inputs import InputDecoder

if TYPE_CHECKING:
    from server.replay.recorder import MatchRecorder

__all__ = ["Match", "MatchState", "Seat", "TickOutput", "quantize_stick"]


class Match(MatchReceiving):
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
        self.timer = timer
        self.seats: list[Seat | None] = [None] * self.capacity
        self.by_player: dict[int, Seat] = {}
        self.spectators: dict[int, Seat] = {}
        self.next_spectator = 0
        """The index the next spectator gets."""
        self.free_seats = list(range(self.capacity - 1, -1, -1))
        """Free seat indices, the lowest last (popped first)."""
        self.snapshot_every = max(1, definition.tick_rate_hz // definition.sync.snapshot_rate_hz)
        self.quantizer = PositionQuantizer(definition)
        self.fields = FieldEncoder(definition)
        field_specs = list(zip(self.fields.dtypes, self.fields.owner_only, strict=True))
        self.interest = InterestSync(definition.sync.interest_radius_units, field_specs)
        self.interest.budget = budget_config(definition)
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
        rate = definition.tick_rate_hz
        self.intake = InputIntake(
            self.capacity,
            [f.dtype for f in definition.inputs],
            definition.latency.input_buffer_ticks,
            None if lag is None else lag.history_ticks(rate),
            kinds=[f.kind for f in definition.inputs],
            catch_up_ticks=seconds_in_ticks(rate),
            drain_every_ticks=seconds_in_ticks(rate, DRAIN_EVERY_S),
            drain_grace_ticks=seconds_in_ticks(rate, DRAIN_GRACE_S),
            starve_zero=True,
        )
        """State sync: inputs waiting for their tick, seq, views, counts (per seat)."""
        self.seat_entity = np.full(self.capacity, -1, dtype=np.int64)
        """The entity handle of each seat's player (-1: empty seat or lockstep)."""
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
        self.lockstep = LockstepFeed(definition, self.sim) if self.mode == "lockstep" else None
        """Lockstep: the collector, replica, frame history, checksums (None: state sync)."""
        self.collector = None if self.lockstep is None else self.lockstep.collector
        """Lockstep: the feed's input collector (None: state sync)."""
        self.replica = None if self.lockstep is None else self.lockstep.replica
        """Lockstep: the feed's replica of the simulation (None: state sync)."""

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
        return seats.join(self, player_id, conn, spectator)

    def drop(self, seat: Seat, now_s: float) -> None:
        """The connection was lost: keep the seat for the grace window, stop sending."""
        seats.drop(self, seat, now_s)

    def resume(self, seat: Seat, conn: Any) -> None:
        """A dropped player is back: reattach the connection; it gets a full snapshot."""
        seats.resume(self, seat, conn)

    def leave(self, seat: Seat, reason: LeaveReason) -> None:
        """Free the seat for good and remove the player's entity."""
        seats.leave(self, seat, reason)

    def expire_dropped(self, now_s: float, grace_s: float) -> list[Seat]:
        """Free seats dropped longer than ``grace_s`` ago; returns them."""
        return seats.expire_dropped(self, now_s, grace_s)

    # -- ticking -----------------------------------------------------------------------

    def tick(self, writable: Callable[[Any], bool] = lambda c: True) -> TickOutput:
        """Advance one tick and build what to send.

        ``writable(conn)`` tells whether a connection has taken its previous frame; a
        state-sync client that has not gets no new frame this tick (latest-frame-wins).
        Raises :class:`~server.errors.SystemFailed` if a system fails.
        """
        batch = self.take_inputs()
        return self.finish_tick(batch, self.sim.step(batch), writable)

    def check_tickable(self) -> None:
        """Start a waiting match; raise InvalidState for an ended one (a tick's first step)."""
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
        self.check_tickable()
        if self.lockstep is not None:
            return self.lockstep.build()
        return self._input_batch(self.sim.tick + 1)

    def finish_tick(
        self,
        batch: InputBatch | None,
        result: FrameResult,
        writable: Callable[[Any], bool] = lambda c: True,
    ) -> TickOutput:
        """The end of a tick stepped with ``batch``: events, ending, frames."""
        out, snapshot = self.finish_step(batch, result)
        if snapshot:
            t0 = self.timer()
            build_state_frames(self, out, writable)
            out.sync_s = self.timer() - t0
        return out

    def finish_step(self, batch: InputBatch | None, result: FrameResult) -> tuple[TickOutput, bool]:
        """:meth:`finish_tick` without the state frames, and whether this tick has them
        (:mod:`server.match.batch_frames` builds those of many matches at once)."""
        if self.lockstep is not None:
            return self.lockstep.finish(self, result), False
        if self.recorder is not None:
            self.recorder.tick(self.sim.tick, batch)
        if result.events and self.send_events:
            route_events(self, result.events)
        ended = self.check_ending(result)
        self.handler.tick(self, self.sim.tick)
        out = TickOutput(self.sim.tick, result, match_result=self.result if ended else None)
        return out, self.sim.tick % self.snapshot_every == 0 or ended

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

    def check_ending(self, result: FrameResult) -> bool:
        """Record a match ending (``ctx.end("match", ...)``) as :attr:`result`."""
        ending = result.ending
        if ending is None or ending.kind != "match" or self.result is not None:
            return False
        self.result = build_result(self, ending)
        return True

    def lockstep_checkpoint(self) -> dict[str, Any]:
        """World state after the last frame, for a joining or far-behind client."""
        if self.lockstep is None:
            raise InvalidState("checkpoint of a state-sync match")
        return self.lockstep.checkpoint()

    def lockstep_frames_since(self, frame: int) -> list[bytes] | None:
        """Encoded frames after ``frame`` up to now, or None if some are no longer kept."""
        if self.lockstep is None:
            raise InvalidState("lockstep frames of a state-sync match")
        return self.lockstep.frames_since(frame)

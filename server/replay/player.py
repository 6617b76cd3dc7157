"""Watching a recording: a spectator-only match re-simulated from the file, with controls.

A :class:`ReplayPlayer` re-simulates a recording (state sync or lockstep) and hands its
spectators the same ``STATE`` frames live spectators get (``build_state_frames`` of a
state-sync :class:`~server.match.match.Match` whose simulation is the re-simulation).
Controls: :meth:`play`, :meth:`pause`, :meth:`set_speed` (0.5 to 4 times), :meth:`seek` (to any
tick: restore the last checkpoint at or before it, then re-simulate forward; spectators
get a full snapshot next). Time is passed in by the caller (:meth:`advance`), so the
player does no I/O and is tested without a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.errors import DefinitionError
from server.gamedef import GameDefinition
from server.gamedef.load import override_sync_mode
from server.match.frames import build_state_frames
from server.match.match import Match, Seat, TickOutput
from server.replay.format import Record, ReplayError
from server.replay.replayer import Recording, Resim

SPEEDS = (0.5, 4.0)
"""The allowed playback speed range."""


class ReplayPlayer:
    """One recording being watched; see the module docstring."""

    def __init__(self, rec: Recording, definition: GameDefinition, replay_id: str) -> None:
        self.rec = rec
        self.definition = definition
        try:
            view = override_sync_mode(definition, "state")
        except DefinitionError as exc:
            raise ReplayError(
                f"{rec.path}: cannot be watched (no state-sync quantization): {exc}"
            ) from None
        self.match = Match(view, f"replay-{replay_id}")
        self.resim = Resim(rec, definition)
        self.match.sim = self.resim.sim
        self._cursor = 1
        """Index of the next record to apply."""
        self.end_tick = max(
            (int(r.body["t"]) for r in rec.records if r.kind in ("tick", "frame")), default=0
        )
        self.checkpoints: list[tuple[int, int]] = [
            (int(r.body["t"]), i) for i, r in enumerate(rec.records) if r.kind == "checkpoint"
        ]
        self.playing = True
        self.speed = 1.0
        self._owed_ticks = 0.0
        self._next_spectator = 1

    @property
    def tick(self) -> int:
        """The tick the spectators see."""
        return self.resim.sim.tick

    # -- spectators ---------------------------------------------------------------------

    def watch(self, conn: Any) -> Seat:
        """Add a spectator (it gets a full snapshot with the next frame)."""
        self._next_spectator += 1
        return self.match.join(-self._next_spectator, conn, spectator=True)

    def unwatch(self, seat: Seat) -> None:
        """Remove a spectator."""
        self.match.drop(seat, 0.0)

    # -- controls -----------------------------------------------------------------------

    def play(self) -> None:
        """Resume playback."""
        self.playing = True

    def pause(self) -> None:
        """Stop advancing (frames stop until :meth:`play`)."""
        self.playing = False

    def set_speed(self, speed: float) -> None:
        """Playback speed, 0.5 to 4 times (ValueError outside)."""
        if not SPEEDS[0] <= speed <= SPEEDS[1]:
            raise ValueError(f"speed {speed} outside {SPEEDS[0]}..{SPEEDS[1]}")
        self.speed = speed

    def seek(self, tick: int) -> None:
        """Jump to ``tick``: the last checkpoint at or before it, then forward."""
        if not 0 <= tick <= self.end_tick:
            raise ReplayError(f"{self.rec.path}: seek to tick {tick} outside 0..{self.end_tick}")
        if tick < self.tick or any(self.tick < t <= tick for t, _ in self.checkpoints):
            start = [(t, i) for t, i in self.checkpoints if t <= tick]
            if start:
                _, i = start[-1]
                self.resim.restore(self.rec.records[i])
                self._cursor = i + 1
            elif tick < self.tick:
                self.resim = Resim(self.rec, self.definition)
                self.match.sim = self.resim.sim
                self._cursor = 1
        while self.tick < tick and self._step():
            pass
        for s in self.match.spectators.values():
            s.needs_full = True
        self.match.spectator_interest.forget(list(self.match.spectators))
        self._owed_ticks = 0.0

    # -- time ---------------------------------------------------------------------------

    def _step(self) -> bool:
        """Apply records up to and including the next tick; False at the end."""
        records = self.rec.records
        while self._cursor < len(records):
            r: Record = records[self._cursor]
            self._cursor += 1
            if self.resim.apply(r):
                return True
        return False

    def advance(self, dt_s: float, writable: Callable[[Any], bool] = lambda c: True) -> TickOutput:
        """Let ``dt_s`` seconds of wall time pass: step ticks, frame the spectators."""
        stepped = False
        if self.playing:
            self._owed_ticks += dt_s * self.speed * self.definition.tick_rate_hz
            while self._owed_ticks >= 1.0:
                self._owed_ticks -= 1.0
                if not self._step():
                    self.playing = False
                    self._owed_ticks = 0.0
                    break
                stepped = True
        out = TickOutput(self.tick, None)
        needs_full = any(s.needs_full for s in self.match.spectators.values())
        if stepped or needs_full:
            build_state_frames(self.match, out, writable)
        return out

    @property
    def ended(self) -> bool:
        """True once the last recorded tick is shown."""
        return self._cursor >= len(self.rec.records) or self.tick >= self.end_tick

"""Lockstep: a match's input collector, replica, frame history and checkpoints (a part of Match).

A lockstep :class:`~server.match.match.Match` owns one :class:`LockstepFeed`. Each tick
the collector's inputs become one frame (:meth:`LockstepFeed.build`), the replica steps
the simulation with them, and :meth:`LockstepFeed.finish` records the frame
(:data:`LOCKSTEP_HISTORY_FRAMES` encoded frames kept for resuming clients), its checksum
every ``checksum_interval_ticks`` frames, and broadcasts the payload to every
connection. A joining or far-behind client gets a checkpoint (:meth:`checkpoint`: the
world after the last frame, one export shared by everyone joining between two frames).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from server.core.frame import FrameResult, InputBatch
from server.core.simulation import LockstepReplica, Simulation, replica_rules
from server.core.sync.lockstep import LockstepCollector, LockstepFrame
from server.gamedef.schema import GameDefinition
from server.match.types import TickOutput

if TYPE_CHECKING:
    from server.match.match import Match

LOCKSTEP_HISTORY_FRAMES = 256
"""Encoded lockstep frames kept for resuming clients (12.8 s at 20 Hz)."""


class LockstepFeed:
    """The lockstep half of a match: inputs in, frames out, checksums, checkpoints."""

    def __init__(self, definition: GameDefinition, sim: Simulation) -> None:
        lock = definition.lockstep
        self.sim = sim
        self.checksum_interval = lock.checksum_interval_ticks
        self.collector = LockstepCollector(
            definition.max_players,
            lock.input_delay_ticks,
            lock.default_input,
            fields=[(f.name, f.dtype) for f in definition.inputs],
        )
        self.replica = LockstepReplica(sim)
        self.frame_history: dict[int, bytes] = {}
        self.server_checksums: dict[int, int] = {}
        self.desynced: set[int] = set()
        self._frame: LockstepFrame | None = None
        """The frame between :meth:`build` and :meth:`finish`."""
        self._rules: dict[str, object] | None = None
        self._checkpoint: dict[str, Any] | None = None
        """The last checkpoint (one export per frame, whoever joins)."""

    def build(self) -> InputBatch | None:
        """The start of a tick: the frame (joins and leaves queued on the replica)."""
        frame = self._frame = self.collector.build()
        return self.replica.prepare_columns(
            frame.frame, frame.joins, frame.leaves, frame.seats, frame.columns
        )

    def finish(self, match: Match, result: FrameResult) -> TickOutput:
        """The end of a tick stepped with :meth:`build`'s batch: record and broadcast."""
        frame = self._frame
        assert frame is not None, "finish_tick without take_inputs"
        self._frame = None
        if frame.joins or frame.leaves:  # only they change the replica's seat entities
            for seat_index, eid in self.replica.seat_entity.items():
                s = match.seats[seat_index]
                if s is not None:
                    s.entity = eid
        match.handler.tick(match, self.sim.tick)
        interval = self.checksum_interval
        if frame.frame % interval == 0:
            self.server_checksums[frame.frame] = self.sim.checksum()
            self.server_checksums.pop(frame.frame - LOCKSTEP_HISTORY_FRAMES * interval, None)
        self.frame_history[frame.frame] = frame.payload
        if match.recorder is not None:
            match.recorder.frame(frame.frame, frame.payload)
        self.frame_history.pop(frame.frame - LOCKSTEP_HISTORY_FRAMES, None)
        conns = []
        n = frame.frame
        for s in match.by_player.values():
            conn = s.conn
            if conn is not None:
                conns.append(conn)
                s.lockstep_sent_frame = n
        conns.extend(s.conn for s in match.spectators.values())
        ended = match.check_ending(result)
        return TickOutput(
            self.sim.tick,
            result,
            broadcast=(conns, frame.payload),
            match_result=match.result if ended else None,
        )

    def receive_checksum(self, seat: int, frame: int, checksum: int) -> bool:
        """Compare a client's checksum with ours: True if they differ (``seat`` desynced).

        A frame we no longer (or not yet) hold a checksum for is ignored.
        """
        expected = self.server_checksums.get(frame)
        if expected is None or expected == checksum:
            return False
        self.desynced.add(seat)
        return True

    def checkpoint(self) -> dict[str, Any]:
        """World state after the last frame, for a joining or far-behind client."""
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

    def frames_since(self, frame: int) -> list[bytes] | None:
        """Encoded frames after ``frame`` up to now, or None if some are no longer kept."""
        wanted = range(frame + 1, self.sim.tick + 1)
        if any(f not in self.frame_history for f in wanted):
            return None
        return [self.frame_history[f] for f in wanted]

"""Recording a live match into a file (format: :mod:`server.replay.format`).

A :class:`MatchRecorder` is attached to a :class:`~server.match.match.Match`
(``match.recorder``); the match calls :meth:`join`, :meth:`leave`, :meth:`tick` (state
sync: the input batch one tick applied) or :meth:`frame` (lockstep: the frame bytes), and
:meth:`close` when it ends. Costs per tick: one msgpack record of the changed inputs (a
few hundred bytes) into a buffered file, a flush once a second of game time (a crash
loses at most the last second), and a checkpoint every ``checkpoint_s`` seconds.

Bounds: a recording stops (logged, counted in ``match.counters``) when it reaches
``max_bytes``, and when the disk refuses a write (full, removed): the match never
notices. :func:`recording_path` keeps at most ``keep`` recordings per directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from server.core.frame import InputBatch
from server.core.simulation import export_simulation
from server.ops.events import Event, log_event
from server.replay.format import FORMAT_VERSION, MAGIC, encode_record

if TYPE_CHECKING:
    from server.match.match import Match

log = logging.getLogger("tickwire.replay")

SUFFIX = ".twr"


@dataclass(frozen=True, slots=True)
class RecordSettings:
    """Where and how much to record (``--record``, ``--record-*`` and ``[replay]``)."""

    directory: Path
    checkpoint_s: float = 10.0
    max_bytes: int = 256 << 20
    keep: int = 100


def definition_bytes(source: str) -> bytes:
    """The definition file's bytes (empty when it was not loaded from a file)."""
    try:
        return Path(source).read_bytes()
    except OSError:
        return b""


def recording_path(settings: RecordSettings, match_id: str, now: float | None = None) -> Path:
    """A fresh file name in the directory; deletes the oldest beyond ``keep - 1``."""
    settings.directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    path = settings.directory / f"{stamp}-{match_id}{SUFFIX}"
    n = 1
    while path.exists():
        n += 1
        path = settings.directory / f"{stamp}-{match_id}-{n}{SUFFIX}"
    old = sorted(settings.directory.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime)
    for p in old[: max(0, len(old) - (settings.keep - 1))]:
        p.unlink(missing_ok=True)
    return path


class MatchRecorder:
    """Streams one match into one file; stops itself on a full disk or at the size cap."""

    def __init__(
        self, match: Match, path: Path, settings: RecordSettings, fh: BinaryIO | None = None
    ) -> None:
        self.match = match
        self.path = path
        self.settings = settings
        self.active = True
        self.stop_reason = ""
        self.bytes_written = 0
        self.checkpoints: list[list[int]] = []
        """``[tick, byte offset]`` of every checkpoint record (the index)."""
        defn = match.definition
        self._every = max(1, round(settings.checkpoint_s * defn.tick_rate_hz))
        self._flush_every = defn.tick_rate_hz
        self._fh: BinaryIO | None = None
        try:
            self._fh = fh if fh is not None else path.open("wb")
        except OSError as exc:
            self._stop(f"cannot create the file: {exc.strerror or exc}")
            return
        raw = definition_bytes(defn.source)
        self._write_raw(MAGIC)
        self._write(
            "header",
            {
                "format_version": FORMAT_VERSION,
                "game": defn.name,
                "definition": raw,
                "definition_sha256": hashlib.sha256(raw).hexdigest(),
                "definition_source": defn.source,
                "mode": match.mode,
                "seed": defn.seed,
                "match_index": match.match_index,
                "match_id": match.match_id,
                "tick_rate_hz": defn.tick_rate_hz,
                "started_at": time.time(),
                "start_tick": match.sim.tick,
                "checkpoint_every_ticks": self._every,
            },
        )
        self._flush()  # the header is on disk at once: listings and tools can read it
        if self.active:
            log_event(
                log, logging.INFO, Event.REPLAY_STARTED, "recording match %s to %s",
                match.match_id, path, match_id=match.match_id,
            )  # fmt: skip

    # -- writing ----------------------------------------------------------------------

    def _write_raw(self, data: bytes) -> None:
        if not self.active or self._fh is None:
            return
        if self.bytes_written + len(data) > self.settings.max_bytes:
            self._stop(f"size cap of {self.settings.max_bytes} bytes reached")
            return
        try:
            self._fh.write(data)
        except OSError as exc:  # disk full, file system gone: stop recording, not the match
            self._stop(f"write failed: {exc.strerror or exc}")
            return
        self.bytes_written += len(data)

    def _write(self, kind: str, body: dict[str, Any]) -> None:
        self._write_raw(encode_record(kind, body))

    def _flush(self) -> None:
        if self.active and self._fh is not None:
            try:
                self._fh.flush()
            except OSError as exc:
                self._stop(f"write failed: {exc.strerror or exc}")

    def _stop(self, reason: str) -> None:
        self.active = False
        self.stop_reason = reason
        self.match.counters["recording_stopped"] = (
            self.match.counters.get("recording_stopped", 0) + 1
        )
        log_event(
            log, logging.ERROR, Event.REPLAY_STOPPED, "recording of match %s stopped: %s (%s)",
            self.match.match_id, reason, self.path, match_id=self.match.match_id,
        )  # fmt: skip
        self._close_file()

    def _close_file(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            # Data that could not be flushed is lost; what was written stays readable.
            with contextlib.suppress(OSError):
                fh.close()

    # -- what the match reports ---------------------------------------------------------

    def join(self, seat: int, player_id: int, entity: int | None) -> None:
        """A player took ``seat`` (state sync: ``entity`` was queued for it just now)."""
        self._write("join", {"t": self.match.sim.tick, "seat": seat, "player": player_id,
                             "entity": -1 if entity is None else int(entity)})  # fmt: skip

    def leave(self, seat: int, entity: int | None) -> None:
        """The player of ``seat`` left for good (state sync: its entity was queued out)."""
        self._write("leave", {"t": self.match.sim.tick, "seat": seat,
                              "entity": -1 if entity is None else int(entity)})  # fmt: skip

    def tick(self, tick: int, batch: InputBatch | None) -> None:
        """State sync: ``tick`` was stepped with ``batch`` (None: no inputs)."""
        body: dict[str, Any] = {"t": tick}
        views = None if batch is None else batch.views
        if views is not None and len(views.entities):
            body["v"] = [
                views.entities.astype("<i8").tobytes(),
                views.ticks.astype("<i8").tobytes(),
                views.alpha.astype("<f8").tobytes(),
            ]
        if batch is not None and len(batch.entities):
            body["e"] = batch.entities.astype("<i8").tobytes()
            columns = getattr(batch, "columns", None)  # declared [input] fields
            if columns is not None:
                body["c"] = {
                    name: [
                        str(a.dtype),
                        np.ascontiguousarray(a, a.dtype.newbyteorder("<")).tobytes(),
                    ]
                    for name, a in columns.items()
                }
            else:
                body["x"] = np.ascontiguousarray(batch.x, dtype=np.int8).tobytes()
                body["y"] = np.ascontiguousarray(batch.y, dtype=np.int8).tobytes()
        self._write("tick", body)
        self._after(tick)

    def frame(self, frame: int, payload: bytes) -> None:
        """Lockstep: ``frame`` was applied; ``payload`` is the LOCKSTEP_FRAME message."""
        self._write("frame", {"t": frame, "p": payload})
        self._after(frame)

    def _after(self, tick: int) -> None:
        if tick % self._every == 0:
            self.checkpoint()
        if tick % self._flush_every == 0:
            self._flush()

    def checkpoint(self) -> None:
        """Write the whole simulation (and the seats) with its checksum."""
        if not self.active:
            return
        m = self.match
        if m.replica is not None:
            seats = [[s, int(e)] for s, e in sorted(m.replica.seat_entity.items())]
        else:
            seats = [[s.seat, int(s.entity)] for s in m.by_player.values() if s.entity is not None]
        offset = self.bytes_written
        self._write(
            "checkpoint",
            {
                "t": m.sim.tick,
                "sim": export_simulation(m.sim),
                "seats": sorted(seats),
                "checksum": m.sim.checksum(),
            },
        )
        if self.active:
            self.checkpoints.append([m.sim.tick, offset])

    def close(self, reason: str) -> None:
        """The match ended: final checksum, the index, flush and close."""
        if not self.active:
            return
        m = self.match
        self._write("end", {"t": m.sim.tick, "reason": reason, "checksum": m.sim.checksum()})
        self._write("index", {"checkpoints": self.checkpoints, "ticks": m.sim.tick})
        self._flush()
        if self.active:
            self.active = False
            self.stop_reason = "ended"
            self._close_file()


def attach_recorder(match: Match, settings: RecordSettings) -> MatchRecorder:
    """Start recording ``match`` (before anyone joins) into a new file of the directory."""
    try:
        path = recording_path(settings, match.match_id)
    except OSError:  # the directory is unusable: the recorder fails to open and stops
        path = settings.directory / f"{match.match_id}{SUFFIX}"
    recorder = MatchRecorder(match, path, settings)
    match.recorder = recorder
    return recorder

"""Re-simulating a recording: the same definition, seed, joins, leaves and inputs.

The simulation is integer and deterministic, so replaying a state-sync match's inputs per
tick (or a lockstep match's frames) from the seed reproduces it exactly; ``verify``
compares the checksum at every recorded checkpoint and at the end. Errors are
:class:`~server.replay.format.ReplayError` naming the file and the record.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

from server.core.frame import InputBatch, ViewBatch
from server.core.simulation import LockstepReplica, Simulation, import_simulation
from server.core.sync.lockstep import decode_frame_body
from server.errors import DefinitionError
from server.gamedef import GameDefinition, parse_definition
from server.gamedef.load import override_sync_mode
from server.replay.format import Record, ReplayError, read_records


@dataclass
class Recording:
    """A recording's records, read whole (a truncated tail already dropped)."""

    path: Path
    records: list[Record]

    @property
    def header(self) -> dict[str, Any]:
        """The header record's body."""
        return self.records[0].body

    @property
    def ended(self) -> Record | None:
        """The ``end`` record, or None for a truncated (or still growing) file."""
        return next((r for r in reversed(self.records) if r.kind == "end"), None)

    def where(self, record: Record) -> str:
        """``FILE: record N (kind, tick T)`` for messages."""
        return f"{self.path}: record {record.number} ({record.kind}, tick {record.body.get('t')})"


def open_recording(path: Path) -> Recording:
    """Read every whole record; :class:`ReplayError` for a bad or empty file."""
    records = list(read_records(path))
    if not records:
        raise ReplayError(f"{path}: no header record (empty or cut before the first record)")
    return Recording(path, records)


def recording_definition(rec: Recording, override: Path | None = None) -> GameDefinition:
    """The definition the match ran, from the recorded bytes (or ``override``, same hash)."""
    h = rec.header
    raw = h.get("definition", b"")
    where = f"{rec.path}: record 0 (header)"
    if not isinstance(raw, bytes) or hashlib.sha256(raw).hexdigest() != h.get("definition_sha256"):
        raise ReplayError(f"{where}: the definition bytes do not match their hash (corrupted)")
    source = str(h.get("definition_source", "<recording>"))
    if override is not None:
        try:
            other = override.read_bytes()
        except OSError as exc:
            raise ReplayError(f"{override}: cannot read: {exc.strerror or exc}") from None
        if hashlib.sha256(other).hexdigest() != h["definition_sha256"]:
            raise ReplayError(
                f"{where}: recorded with definition sha256 {h['definition_sha256'][:16]}..., "
                f"but {override} is {hashlib.sha256(other).hexdigest()[:16]}... (changed since)"
            )
        raw, source = other, str(override)
    if not raw:
        raise ReplayError(f"{where}: the match's definition was not loaded from a file")
    try:
        defn = parse_definition(tomllib.loads(raw.decode("utf-8")), source)
        if defn.sync.mode != h.get("mode"):
            defn = override_sync_mode(defn, str(h.get("mode")))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, DefinitionError) as exc:
        raise ReplayError(f"{where}: the recorded definition does not load: {exc}") from None
    return defn


def tick_batch(body: dict[str, Any]) -> InputBatch | None:
    """The input batch of a ``tick`` record (None when no input applied that tick)."""
    views = None
    if "v" in body:
        ent, ticks, alpha = body["v"]
        views = ViewBatch(
            np.frombuffer(ent, "<i8").astype(np.int64),
            np.frombuffer(ticks, "<i8").astype(np.int64),
            np.frombuffer(alpha, "<f8").astype(np.float64),
        )
    if "e" not in body:
        return None if views is None else InputBatch.empty(views)
    entities = np.frombuffer(body["e"], "<i8").astype(np.int64)
    if "c" in body:
        columns = {
            name: np.frombuffer(raw, np.dtype(str(dtype)).newbyteorder("<")).astype(str(dtype))
            for name, (dtype, raw) in body["c"].items()
        }
        return InputBatch.of_columns(entities, columns, views)
    return InputBatch(
        entities,
        np.frombuffer(body["x"], np.int8),
        np.frombuffer(body["y"], np.int8),
        views=views,
    )


@dataclass
class Resim:
    """A fresh simulation driven by a recording's records, one at a time."""

    rec: Recording
    definition: GameDefinition
    sim: Simulation = field(init=False)
    replica: LockstepReplica | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        h = self.rec.header
        if int(h.get("start_tick", 0)) != 0:
            raise ReplayError(f"{self.rec.where(self.rec.records[0])}: recording starts mid-match")
        self.sim = Simulation(self.definition, int(h.get("match_index", 0)))
        self.sim.spawn_initial()
        self.sim.apply_commands()
        self.sim.processor.rebuild_index()
        if h.get("mode") == "lockstep":
            self.replica = LockstepReplica(self.sim)

    def apply(self, r: Record) -> bool:
        """Apply one record; True when it advanced the simulation by a tick."""
        b = r.body
        try:
            if r.kind == "join" and self.replica is None:
                eid = self.sim.queue_player()
                if int(b["entity"]) not in (-1, int(eid)):
                    raise ReplayError(
                        f"{self.rec.where(r)}: join made entity {eid}, recorded {b['entity']}"
                    )
                return False
            if r.kind == "leave" and self.replica is None:
                if int(b["entity"]) >= 0:
                    self.sim.queue_despawn(b["entity"])
                return False
            if r.kind == "tick":
                self._expect(r)
                self.sim.step(tick_batch(b))
                return True
            if r.kind == "frame":
                if self.replica is None:
                    raise ReplayError(
                        f"{self.rec.where(r)}: a lockstep frame in a state-sync match"
                    )
                self._expect(r)
                _, _, body = msgpack.unpackb(b["p"], raw=False)
                apply_body = getattr(self.replica, "apply_body", None)  # any game's inputs
                if apply_body is not None:
                    apply_body(body)
                else:
                    self.replica.apply(*decode_frame_body(body))
                return True
        except ReplayError:
            raise
        except Exception as exc:  # a record that does not fit this simulation
            raise ReplayError(
                f"{self.rec.where(r)}: cannot apply: {type(exc).__name__}: {exc}"
            ) from None
        return False

    def _expect(self, r: Record) -> None:
        if int(r.body["t"]) != self.sim.tick + 1:
            raise ReplayError(f"{self.rec.where(r)}: expected tick {self.sim.tick + 1}")

    def restore(self, r: Record) -> None:
        """Jump to a checkpoint record (seek)."""
        import_simulation(self.sim, r.body["sim"])
        if self.replica is not None:
            self.replica.seat_entity = {int(s): e for s, e in r.body["seats"]}


def ticks(rec: Recording, definition: GameDefinition) -> Iterator[tuple[Record, Resim]]:
    """Re-simulate; yield ``(record, resim)`` after every record that stepped a tick."""
    resim = Resim(rec, definition)
    for r in rec.records[1:]:
        if resim.apply(r):
            yield r, resim


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Checkpoints (and the end) compared, and the first divergence if any."""

    checked: int
    ticks: int
    divergent_tick: int | None = None
    detail: str = ""


def verify(rec: Recording, definition: GameDefinition) -> VerifyResult:
    """Re-simulate and compare the checksum at every checkpoint and at the end."""
    resim = Resim(rec, definition)
    checked = 0
    for r in rec.records[1:]:
        resim.apply(r)
        if r.kind in ("checkpoint", "end"):
            got = resim.sim.checksum()
            if int(r.body["t"]) != resim.sim.tick or got != r.body["checksum"]:
                detail = (
                    f"{rec.where(r)}: checksum {got:#018x} at tick {resim.sim.tick}, "
                    f"recorded {int(r.body['checksum']):#018x}"
                )
                return VerifyResult(checked, resim.sim.tick, int(r.body["t"]), detail)
            checked += 1
    return VerifyResult(checked, resim.sim.tick)

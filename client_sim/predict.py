"""Client-side prediction and reconciliation of the own player (docs/protocol.md,
"Writing a smooth client").

The own entity is moved locally, one tick per input sent, by :class:`OwnMover`: the
game definition's movement systems (``apply_inputs``, ``move``, ``bounce_at_edges``, in
the definition's order and with its parameters) run by the *server's own functions* on a
one-entity world, so the prediction cannot drift from the rules by a re-implementation.
Only these systems are predicted; anything else that moves the player (a collision, a
respawn) reaches the client through ``STATE`` and is taken over at the next
reconciliation.

:class:`Predictor` keeps every input not yet acknowledged. On each ``STATE`` that says
``a`` (the last input sequence number the server applied) and ``at`` (the tick it was
first applied), it drops the acknowledged inputs, takes the authoritative position of
the own entity as the new base and replays the inputs after ``a`` on top of it
(reconciliation). It measures:

- the *prediction error*: the distance between where the client had predicted itself
  after input ``a`` (extended by ``t - at`` ticks of that input, the ticks the server
  kept it) and where the server says it is at ``t``, in world units, both quantized as
  the server sends positions (so an exact prediction measures 0, and the resolution is
  one ``WELCOME.quantize`` step);
- *corrections*: reconciliations that moved the predicted present by more than one
  position step (``WELCOME.quantize``) on an axis: quantization alone never counts.

An input the server drops unapplied (``ERROR INPUT_SUPERSEDED`` with its ``seq``: its
input buffer was full) is taken out of the pending inputs by :meth:`Predictor.drop`, and
the ones after it are predicted again without it, as the server will apply them.

Sequence numbers are uint32 and wrap (``2**32 - 1`` then 0); :func:`seq_newer` is the
serial comparison of RFC 1982 the server uses. Positions are int subunits
(``subunits_per_unit`` per world unit); a ``STATE`` position is quantized steps, turned
into subunits by :meth:`Predictor.steps_to_subunits`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from server.core.commands import CommandBuffer
from server.core.determinism import match_rng
from server.core.pipeline import Pipeline, ScheduledSystem
from server.core.systems.registry import TickContext
from server.core.world import World
from server.gamedef.schema import GameDefinition
from server.net.inputs import InputDecoder

PREDICTED_SYSTEMS = frozenset({"apply_inputs", "move", "bounce_at_edges"})
"""The systems a client runs for its own entity; the rest is the server's to decide."""

SEQ_MOD = 1 << 32
SEQ_HALF = 1 << 31

MAX_PENDING = 64
"""Unacknowledged inputs kept at most (2 s at 30 Hz); older ones are forgotten."""
MAX_EXTRA_TICKS = 4
"""A frame whose input has been held longer than this (``t - at``) gives no error sample:
the server took the entity's position itself, long after the client's prediction."""


def seq_next(seq: int) -> int:
    """The sequence number after ``seq`` (wrapping 2**32 - 1 -> 0)."""
    return (seq + 1) % SEQ_MOD


def seq_newer(seq: int, than: int) -> bool:
    """RFC 1982: ``seq`` is newer than ``than`` iff ``(seq - than) mod 2**32`` is in
    1 .. 2**31 - 1 (a difference of exactly 2**31 is undefined: not newer)."""
    d = (seq - than) % SEQ_MOD
    return 0 < d < SEQ_HALF


class OwnMover:
    """The definition's movement systems over a one-entity world (the own player).

    ``step(inputs)`` writes the stored input values (``input.<name>`` column form: a
    stick as int8 steps, see :meth:`quantize`) and runs one tick of the predicted
    systems in pipeline order. ``position``/``velocity`` are int subunits (per second).
    """

    def __init__(self, definition: GameDefinition) -> None:
        self.definition = definition
        self.systems: list[ScheduledSystem] = [
            s
            for s in Pipeline.from_definition(definition).systems()
            if s.spec.name in PREDICTED_SYSTEMS
        ]
        self.world = World(definition.components, definition.archetypes, 16)
        commands = CommandBuffer(self.world)
        commands.spawn(definition.player_archetype)
        commands.apply()
        self.ctx = TickContext(
            tick=0,
            tick_rate_hz=definition.tick_rate_hz,
            definition=definition,
            commands=commands,
            rng=match_rng(0),
        )
        self.decoder = InputDecoder(definition.inputs)
        self._columns = [
            (f.name, self.world.col(f"input.{f.name}"))
            for f in definition.inputs
            if self.world.has_component("input")
        ]
        self._px = self.world.col("position.x")
        self._py = self.world.col("position.y")
        self._has_velocity = self.world.has_component("velocity")

    def quantize(self, body: Mapping[str, Any]) -> tuple[int, ...]:
        """The stored values of an ``INPUT`` body as the server decodes it (its own
        decoder: sticks ``floor(v * 127 + 0.5)``, angles to binary angles). Extra keys
        (``seq``, ``view_tick``...) are ignored. A body sent as float32 must be given as
        the float32 value (the bots round-trip it through msgpack)."""
        return self.decoder.decode({k: body[k] for k in self.decoder.keys}).values

    @property
    def position(self) -> tuple[int, int]:
        """(x, y) subunits."""
        return int(self._px[0]), int(self._py[0])

    @property
    def velocity(self) -> tuple[int, int]:
        """(x, y) subunits per second (0, 0 without a velocity component)."""
        if not self._has_velocity:
            return 0, 0
        return int(self.world.col("velocity.x")[0]), int(self.world.col("velocity.y")[0])

    def set_state(self, position: tuple[int, int], velocity: tuple[int, int]) -> None:
        """Put the entity at ``position`` (subunits) with ``velocity``."""
        self._px[0], self._py[0] = position
        if self._has_velocity:
            self.world.col("velocity.x")[0], self.world.col("velocity.y")[0] = velocity

    def step(self, values: tuple[int, ...]) -> tuple[int, int]:
        """One tick with stored input ``values`` (declaration order); the new position."""
        for (_, col), v in zip(self._columns, values, strict=True):
            col[0] = v
        ctx = self.ctx
        ctx.tick += 1
        for s in self.systems:
            s.spec.fn(self.world, ctx, s.params)
        return int(self._px[0]), int(self._py[0])


@dataclass(slots=True)
class _Pending:
    seq: int
    values: tuple[int, ...]
    predicted: tuple[int, int]
    """Where the client predicted itself after this input (subunits)."""


@dataclass(slots=True)
class PredictionStats:
    """What reconciliation measured (errors in world units)."""

    errors: list[float] = field(default_factory=list)
    corrections: int = 0
    reconciliations: int = 0
    teleports: int = 0
    """Reconciliations skipped for the error figure: the server moved the entity itself
    (a respawn, a teleport) or the entity stands still because it is dead."""
    replayed: int = 0
    """Inputs replayed in total (the cost of reconciliation)."""
    dropped: int = 0
    """Pending inputs the server said it dropped (``INPUT_SUPERSEDED``)."""


class Predictor:
    """The own player's predicted position, reconciled against ``STATE`` (module doc)."""

    def __init__(self, definition: GameDefinition, step_units: float) -> None:
        self.mover = OwnMover(definition)
        self.scale = definition.world.subunits_per_unit
        self.step_units = step_units
        self.step_subunits = step_units * self.scale
        """Subunits per quantized position step (``WELCOME.quantize['position.x']``)."""
        self._to_steps = 1.0 / (self.scale * step_units)  # as PositionQuantizer multiplies
        self.pending: deque[_Pending] = deque()
        self.seq = SEQ_MOD - 1
        """The last sequence number used (the first input gets 0)."""
        self.acked: int | None = None
        self.based = False
        self.stats = PredictionStats()
        self.frozen = False
        """True while the own entity cannot move (dead): prediction holds it still."""
        self.base: tuple[int, int] = (0, 0)
        """The position the pending inputs are replayed from (the last frame's)."""

    def steps_to_subunits(self, qx: int, qy: int) -> tuple[int, int]:
        """A ``STATE`` position (quantized steps) in subunits."""
        return round(qx * self.step_subunits), round(qy * self.step_subunits)

    @property
    def position_units(self) -> tuple[float, float]:
        """The predicted present position in world units."""
        x, y = self.mover.position
        return x / self.scale, y / self.scale

    def next_seq(self) -> int:
        """Take the next sequence number for an input about to be sent."""
        self.seq = seq_next(self.seq)
        return self.seq

    def input(self, seq: int, values: tuple[int, ...]) -> tuple[int, int]:
        """Predict one tick with the input ``seq`` just sent; the new position (subunits).

        Before the first reconciliation there is no base: the input is only remembered.
        """
        if self.based and not self.frozen:
            predicted = self.mover.step(values)
        else:
            predicted = self.mover.position
        self.pending.append(_Pending(seq, values, predicted))
        if len(self.pending) > MAX_PENDING:
            self.pending.popleft()
        return predicted

    def drop(self, seq: int) -> bool:
        """The server dropped input ``seq`` unapplied (``ERROR INPUT_SUPERSEDED``): take it
        out and re-predict the inputs after it from the one before. False if not pending."""
        index = next((i for i, e in enumerate(self.pending) if e.seq == seq), None)
        if index is None:
            return False
        del self.pending[index]
        self.stats.dropped += 1
        if not self.based or self.frozen:
            return True
        mover = self.mover
        mover.set_state(self.pending[index - 1].predicted if index else self.base, (0, 0))
        for i in range(index, len(self.pending)):
            entry = self.pending[i]
            entry.predicted = mover.step(entry.values)
        return True

    def reconcile(
        self,
        steps: tuple[int, int],
        acked: int | None,
        tick: int,
        applied_at: int | None,
        teleported: bool = False,
        frozen: bool = False,
    ) -> float | None:
        """Take the server's position of frame ``tick`` (quantized ``steps``) with ``a``
        = ``acked`` and ``at`` = ``applied_at``; replay the inputs after ``acked``.

        ``teleported``: the frame moved the entity far (``m``) or (re)entered it;
        ``frozen``: the entity stands still (dead). The new base is the client's own
        prediction for ``tick`` where it quantizes to ``steps`` (it keeps its sub-step
        precision), else the server's position. Returns the prediction error in world
        units, or None when there was nothing to compare.
        """
        stats = self.stats
        stats.reconciliations += 1
        mover = self.mover
        before, before_v = mover.position, mover.velocity
        had_base = self.based
        acked_entry: _Pending | None = None
        if acked is not None:
            while self.pending and not seq_newer(self.pending[0].seq, acked):
                entry = self.pending.popleft()
                if entry.seq == acked:
                    acked_entry = entry
            self.acked = acked
        server = self.steps_to_subunits(*steps)
        base = server
        error: float | None = None
        extra = tick - (applied_at if applied_at is not None else tick)
        if (
            acked_entry is not None
            and had_base
            and extra <= MAX_EXTRA_TICKS
            and not (teleported or frozen or self.frozen)
        ):
            # Where the client said it would be after `acked`, kept `tick - at` more
            # ticks on that input (the server repeats an input until the next arrives).
            mover.set_state(acked_entry.predicted, mover.velocity)
            for _ in range(max(0, extra)):
                mover.step(acked_entry.values)
            px, py = mover.position
            qx, qy = self.quantized(px, py)
            error = math.hypot(qx - steps[0], qy - steps[1]) * self.step_units
            stats.errors.append(error)
            if (qx, qy) == steps:
                base = (px, py)
                if extra <= 0:
                    # Exactly as predicted: the pending inputs' chain stands, no replay.
                    mover.set_state(before, before_v)
                    self.base = base
                    return error
        elif had_base and (teleported or frozen or self.frozen):
            stats.teleports += 1
        self.frozen = frozen
        mover.set_state(base, mover.velocity)
        self.base = base
        self.based = True
        if frozen:
            for entry in self.pending:
                entry.predicted = base
        else:
            for entry in self.pending:
                entry.predicted = mover.step(entry.values)
            stats.replayed += len(self.pending)
        after = mover.position
        moved = max(abs(after[0] - before[0]), abs(after[1] - before[1]))
        if had_base and not teleported and moved > self.step_subunits:
            stats.corrections += 1
        return error

    def quantized(self, x: int, y: int) -> tuple[int, int]:
        """Subunits to ``STATE`` steps, as the server rounds them (half to even)."""
        f = self._to_steps
        return int(np.rint(x * f)), int(np.rint(y * f))


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values`` (NaN when empty)."""
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values), q))

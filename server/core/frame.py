"""The frame processor: one call advances a world by one tick through every phase.

``step`` runs, in order: write the tick's inputs into the world, then for each
:class:`~server.core.phases.Phase` its systems in definition order, applying queued
commands after every phase. The spatial index is rebuilt after ``validate`` (positions
are final for the tick) so ``post_update`` systems and the sync layer query a fresh one.
Each phase and system is timed with an injected ``timer`` (default
:func:`time.perf_counter`) and the figures are returned as plain numbers: the core
knows nothing of metrics libraries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.commands import AppliedCommands, CommandBuffer
from server.core.determinism import MatchRng
from server.core.history import make_history, record_history
from server.core.phases import Phase
from server.core.pipeline import Pipeline
from server.core.spatial import SpatialIndex, make_index
from server.core.systems.registry import Ending, EventFields, TickContext
from server.core.world import World
from server.errors import SystemFailed
from server.gamedef.schema import GameDefinition


@dataclass(frozen=True, slots=True)
class InputBatch:
    """The inputs applied at one tick: one row per player entity.

    Default inputs: ``x``/``y`` sticks (-127..127) written to ``input.x``/``input.y``.
    A game with ``[input]`` passes ``columns`` instead (field name -> values in the
    ``input.<name>`` column's dtype); ``x``/``y`` are then ignored.
    """

    entities: NDArray[np.int64]
    x: NDArray[np.int8]
    y: NDArray[np.int8]
    columns: Mapping[str, NDArray[Any]] | None = None
    views: ViewBatch | None = None
    """What each player was rendering when its input in effect was sent (lag compensation)."""

    @classmethod
    def empty(cls, views: ViewBatch | None = None) -> InputBatch:
        """No inputs this tick (``views`` may still be given: held inputs keep theirs)."""
        return cls(np.zeros(0, np.int64), _NO_STICK, _NO_STICK, None, views)

    @classmethod
    def of_columns(
        cls,
        entities: NDArray[np.int64],
        columns: Mapping[str, NDArray[Any]],
        views: ViewBatch | None = None,
    ) -> InputBatch:
        """A batch of declared input fields."""
        return cls(entities, _NO_STICK, _NO_STICK, columns, views)


_NO_STICK = np.zeros(0, np.int8)


@dataclass(frozen=True, slots=True)
class ViewBatch:
    """Per player entity (handles): the view tick and alpha of its input in effect."""

    entities: NDArray[np.int64]
    ticks: NDArray[np.int64]
    alpha: NDArray[np.float64]


@dataclass(slots=True)
class FrameResult:
    """What one tick did: timings (seconds) and the structural changes sync must know."""

    tick: int
    phase_s: dict[str, float] = field(default_factory=dict)
    system_s: dict[str, float] = field(default_factory=dict)
    index_s: float = 0.0
    total_s: float = 0.0
    spawned_netids: list[NDArray[np.uint32]] = field(default_factory=list)
    despawned_netids: list[NDArray[np.uint32]] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)
    events: list[tuple[str, EventFields]] = field(default_factory=list)
    """Event batches the systems emitted this tick, ``(name, fields)``, in emission order."""
    ending: Ending | None = None
    """Set when a system ended the round or the match this tick (see ``TickContext.end``)."""


class FrameProcessor:
    """Runs a definition's pipeline over one world, one tick per :meth:`step`."""

    def __init__(
        self,
        definition: GameDefinition,
        world: World,
        rng: MatchRng,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.definition = definition
        self.world = world
        self.rng = rng
        self.commands = CommandBuffer(world)
        self.pipeline = Pipeline.from_definition(definition)
        self._index: SpatialIndex = make_index(
            definition.spatial.index,
            definition.world.width_units,
            definition.world.height_units,
            definition.spatial.cell_size_units,
            definition.spatial.quadtree_leaf_capacity,
        )
        self._index_built = False
        self._index_dirty = False
        self._timer = timer
        self._has_input = world.has_component("input")
        self.history = make_history(definition)
        """Lag compensation's ring (None: the game has no ``[lag_compensation]``)."""

    @property
    def index(self) -> SpatialIndex:
        """This world's spatial index, keyed by slot (rebuilt here first if marked stale)."""
        if self._index_dirty:
            self.rebuild_index()
        return self._index

    def rebuild_index(self) -> None:
        """Rebuild the spatial index from current positions; ids are dense slots."""
        scale = float(self.definition.world.subunits_per_unit)
        n = self.world.count
        xs = self.world.col("position.x").astype(np.float64) / scale
        ys = self.world.col("position.y").astype(np.float64) / scale
        self._index.rebuild(np.arange(n, dtype=np.int64), xs, ys)
        self._index_built = True
        self._index_dirty = False

    def built_index(self) -> SpatialIndex | None:
        """The index (fresh), or None before it was first built."""
        return self.index if self._index_built else None

    def mark_index_stale(self) -> None:
        """Positions changed outside :meth:`run_phases` (a batched step): rebuild on first use.

        A batch steps many worlds with one index over all of them; a match's own index is
        only needed if something queries it (the sync layer's per-client interest), so it
        is rebuilt then, not after every batched tick.
        """
        self._index_built = True
        self._index_dirty = True

    def _record(self, result: FrameResult, applied: AppliedCommands) -> None:
        if len(applied.spawned_netids):
            result.spawned_netids.append(applied.spawned_netids)
        if len(applied.despawned_netids):
            result.despawned_netids.append(applied.despawned_netids)

    def step(self, tick: int, inputs: InputBatch | None = None) -> FrameResult:
        """Advance the world to ``tick``; raise :class:`SystemFailed` if a system raises.

        The world is left as it was after the last successful phase when a system fails;
        the caller (the match) is expected to end the match, not to continue it.
        """
        ctx, result = self.begin(tick, inputs)
        self.run_phases(ctx, result)
        return self.finish(ctx, result)

    def begin(
        self,
        tick: int,
        inputs: InputBatch | None,
        with_index: bool = True,
        write_inputs: bool = True,
    ) -> tuple[TickContext, FrameResult]:
        """The start of a step: queued commands applied, the tick's inputs written.

        Then :meth:`run_phases` (or a batch, :mod:`server.core.batch`) runs the systems
        and :meth:`finish` closes the step. ``with_index=False`` (a batch, whose systems
        get the batch's index) leaves ``ctx.index`` None instead of this world's index;
        ``write_inputs=False`` (a batch, which writes every match's sticks at once) leaves
        the input columns to the caller.
        """
        result = self.begin_batched(tick, inputs, write_inputs)
        return self.context(tick, inputs, with_index), result

    def begin_batched(
        self, tick: int, inputs: InputBatch | None, write_inputs: bool
    ) -> FrameResult:
        """:meth:`begin` without the tick's context (a batch's systems get the batch's;
        :meth:`context` builds this world's if the batch retries it alone), closed by
        :meth:`finish_batched`. Per match of a batch that saves a ``TickContext``."""
        result = FrameResult(tick)
        result.total_s = self._timer()  # the start; finish() turns it into the duration
        if len(self.commands):
            self._record(result, self.commands.apply())
        if inputs is not None and write_inputs:
            self.write_inputs(inputs)
        return result

    def context(self, tick: int, inputs: InputBatch | None, with_index: bool) -> TickContext:
        """The context this world's systems get at ``tick`` (see :meth:`begin`)."""
        return TickContext(
            tick=tick,
            tick_rate_hz=self.definition.tick_rate_hz,
            definition=self.definition,
            commands=self.commands,
            rng=self.rng,
            index=self.index if with_index and self._index_built else None,
            history=self.history,
            views=None if inputs is None else inputs.views,
        )

    def write_inputs(self, inputs: InputBatch) -> None:
        """Write a tick's inputs into the input columns (rows of ids not alive skipped)."""
        if not self._has_input:
            return
        world = self.world
        slots = world.entities.slots_of(inputs.entities)
        ok = slots >= 0
        if inputs.columns is None:
            world.col("input.x")[slots[ok]] = inputs.x[ok]
            world.col("input.y")[slots[ok]] = inputs.y[ok]
        else:
            for name, values in inputs.columns.items():
                world.col(f"input.{name}")[slots[ok]] = values[ok]

    def run_phases(self, ctx: TickContext, result: FrameResult) -> None:
        """Every phase's systems over this world, commands applied after each phase."""
        timer = self._timer
        tick = ctx.tick
        world = self.world
        index_stale = False
        for phase, systems in self.pipeline.by_phase:
            t_phase = timer()
            for scheduled in systems:
                t_sys = timer()
                try:
                    scheduled.spec.fn(world, ctx, scheduled.params)
                except Exception as exc:
                    raise SystemFailed(scheduled.label, tick, phase.key) from exc
                result.system_s[scheduled.label] = (
                    result.system_s.get(scheduled.label, 0.0) + timer() - t_sys
                )
            if len(self.commands):
                self._record(result, self.commands.apply())
                index_stale = phase > Phase.VALIDATE
            if phase is Phase.VALIDATE:
                t_index = timer()
                self.rebuild_index()
                ctx.index = self.index
                result.index_s = timer() - t_index
            result.phase_s[phase.key] = timer() - t_phase
        if index_stale:
            # A post-update system spawned or despawned: slots moved, so the index the
            # sync layer reads must be rebuilt to stay keyed by current slots.
            self.rebuild_index()

    def finish_batched(self, result: FrameResult) -> FrameResult:
        """:meth:`finish` of a tick begun by :meth:`begin_batched` whose systems ran in a
        batch: they reported into the batch's context, so ``result`` keeps its own empty
        stats, events and ending (the batch's stats go to its first match)."""
        if self.history is not None:
            record_history(self.history, self.definition, self.world, result.tick)
        result.total_s = self._timer() - result.total_s
        return result

    def finish(self, ctx: TickContext, result: FrameResult) -> FrameResult:
        """Close a step: the history recorded (lag compensation), the systems' reports
        copied into ``result``, total time set."""
        if self.history is not None:
            record_history(self.history, self.definition, self.world, ctx.tick)
        result.stats = ctx.stats
        result.events = ctx.events
        result.ending = ctx.ending
        result.total_s = self._timer() - result.total_s
        return result

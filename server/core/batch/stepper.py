"""One tick of many matches of one game definition, each system run once over all of them.

Contract (:func:`step_batch`): given simulations built from the *same* definition (one
match each, any entity counts, any tick numbers) and each one's inputs for its next tick,
advance every one by one tick and return, per simulation, its
:class:`~server.core.frame.FrameResult` or the :class:`~server.errors.SystemFailed`
that ends it. Every world ends bit for bit as if it had stepped alone
(:meth:`~server.core.simulation.Simulation.step`): same positions, velocities,
checksums; tested tick by tick in tests/core/test_batch.py.

How: per match, the start of a step (its own queued spawns and despawns, its own inputs:
:meth:`~server.core.frame.FrameProcessor.begin`); then the matches' columns are stacked
(one ``np.concatenate`` per column, rows match after match), every system of the
pipeline runs once over the stack -- pairs come from a
:class:`~server.core.batch.plane.MatchPlaneIndex`, so none crosses matches -- and the
columns the systems write are copied back into each match's world. Each match's own
spatial index is marked stale and rebuilt only if something queries it.

Which definitions batch (:func:`can_batch`): every system declares ``batch_writes``
(today the arena's four: ``apply_inputs``, ``move``, ``bounce_at_edges``, ``collide``;
the stack holds the fields of the components the systems require, and ``has``)
and no system after ``validate`` writes positions. Any other definition steps per match
(the host does that by itself). A batched system must not queue commands, emit events or
end the match; if it does, or if any system raises, the stack is discarded (no match's
world was written) and every match of the batch is stepped alone from the same point:
the one whose data makes a system raise fails alone with its own ``SystemFailed``; the
others complete their tick exactly as they would have alone. That retry is the isolation
rule (which match "caused" an exception raised over a stack cannot be known).

``ctx.stats`` of a batched tick are the batch's (e.g. ``contacts`` over all its matches)
and are reported in the first match's result; timings (``system_s``, ``phase_s``,
``index_s``) are the batch's divided evenly among its matches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from server.core.batch.plane import MatchPlaneIndex
from server.core.commands import CommandBuffer
from server.core.determinism import MatchRng
from server.core.frame import FrameResult, InputBatch
from server.core.phases import Phase
from server.core.pipeline import Pipeline
from server.core.simulation import Simulation
from server.core.systems.registry import TickContext
from server.core.world import World
from server.errors import InvalidState, SystemFailed
from server.gamedef.schema import GameDefinition

_POSITION = ("position.x", "position.y")
Timer = Callable[[], float]


def can_batch(definition: GameDefinition) -> bool:
    """Whether matches of ``definition`` can step as one batch (see the module docstring)."""
    systems = Pipeline.from_definition(definition).systems()
    if not systems:
        return False
    for s in systems:
        writes = s.spec.batch_writes
        if writes is None:
            return False
        if s.phase > Phase.VALIDATE and any(c in writes for c in _POSITION):
            return False
    return True


def read_columns(pipeline: Pipeline, world: World) -> tuple[str, ...]:
    """What a batch stacks: the fields of every component a system requires, and ``has``."""
    out: list[str] = ["has"]
    for s in pipeline.systems():
        for comp in s.spec.requires:
            for key in world.component_columns(comp):
                if key not in out:
                    out.append(key)
    return tuple(out)


def written_columns(pipeline: Pipeline) -> tuple[str, ...]:
    """The columns the pipeline's systems write: what a batch copies back per match."""
    out: list[str] = []
    for s in pipeline.systems():
        for c in s.spec.batch_writes or ():
            if c not in out:
                out.append(c)
    return tuple(out)


class StackedWorld(World):
    """Columns ``keys`` of several worlds of one definition, concatenated (a copy).

    Reading API as :class:`World` (``col``, ``mask``, ``count``, ``has_component``);
    structural changes and entity handles are not available on a stack.
    """

    def __init__(self, worlds: Sequence[World], keys: Sequence[str]) -> None:
        first = worlds[0]
        # The schema (component bits, archetypes) is the definition's, shared by all.
        self._components = first._components
        self._bits = first._bits
        self._archetypes = first._archetypes
        self.counts = np.fromiter((w.count for w in worlds), dtype=np.int64, count=len(worlds))
        self.offsets = np.concatenate(([0], np.cumsum(self.counts)))
        self.count = int(self.offsets[-1])
        self._capacity = self.count
        self._columns = {key: np.concatenate([w.col(key) for w in worlds]) for key in keys}
        self._next_netid = 0

    def write_back(self, worlds: Sequence[World], keys: Sequence[str]) -> None:
        """Copy columns ``keys`` of the stack back into each world (its rows only)."""
        offsets = self.offsets.tolist()
        for key in keys:
            column = self._columns[key]
            for i, w in enumerate(worlds):
                w.col(key)[:] = column[offsets[i] : offsets[i + 1]]


class _NoRng:
    """A batched system has no generator: matches draw from their own."""

    def __getattr__(self, name: str) -> Any:
        raise InvalidState(f"a batched system used ctx.rng.{name}")


class _Rejected(Exception):
    """A batched system did what a batch cannot (commands, events, an ending)."""


def step_batch(
    sims: Sequence[Simulation],
    inputs: Sequence[InputBatch | None],
    timer: Timer = time.perf_counter,
) -> list[FrameResult | SystemFailed]:
    """Advance every simulation one tick (see the module docstring). Never raises.

    An exception that is not a system's (a bug in the stepping itself) is returned as a
    ``SystemFailed`` of system ``"<step>"`` for the match it happened in.
    """
    out: list[FrameResult | SystemFailed | None] = [None] * len(sims)
    begun: list[tuple[int, TickContext, FrameResult]] = []
    for i, (sim, batch) in enumerate(zip(sims, inputs, strict=True)):
        sim.tick += 1
        try:
            ctx, res = sim.processor.begin(sim.tick, batch, with_index=False)
        except Exception as exc:
            out[i] = _wrapped(exc, sim.tick)
            continue
        begun.append((i, ctx, res))
    if begun:
        idle = [sims[i] for i, _, _ in begun]
        try:
            stats, system_s, phase_s, index_s = _run_stacked(
                idle[0].processor.pipeline, idle[0].definition, [s.world for s in idle], timer
            )
        except Exception:  # a system raised, or did what a batch cannot: one by one
            for i, ctx, res in begun:
                out[i] = _alone(sims[i], ctx, res)
        else:
            n = len(begun)
            for j, (i, ctx, res) in enumerate(begun):
                processor = sims[i].processor
                processor.mark_index_stale()
                res.system_s = {k: v / n for k, v in system_s.items()}
                res.phase_s = {k: v / n for k, v in phase_s.items()}
                res.index_s = index_s / n
                if j == 0:
                    ctx.stats.update(stats)
                out[i] = processor.finish(ctx, res)
    return [r if r is not None else _wrapped(InvalidState("not stepped"), 0) for r in out]


def _wrapped(exc: Exception, tick: int) -> SystemFailed:
    if isinstance(exc, SystemFailed):
        return exc
    error = SystemFailed("<step>", tick, "")
    error.__cause__ = exc
    return error


def _run_stacked(
    pipeline: Pipeline, definition: GameDefinition, worlds: Sequence[World], timer: Timer
) -> tuple[dict[str, float], dict[str, float], dict[str, float], float]:
    """Stack, run the pipeline once, write back. Raises before any world is written."""
    stack = StackedWorld(worlds, read_columns(pipeline, worlds[0]))
    commands = CommandBuffer(stack)
    ctx = TickContext(
        tick=0,
        tick_rate_hz=definition.tick_rate_hz,
        definition=definition,
        commands=commands,
        rng=cast(MatchRng, _NoRng()),
        index=None,
    )
    system_s: dict[str, float] = {}
    phase_s: dict[str, float] = {}
    index_s = 0.0
    scale = float(definition.world.subunits_per_unit)
    for phase, systems in pipeline.by_phase:
        t_phase = timer()
        for scheduled in systems:
            t_sys = timer()
            try:
                scheduled.spec.fn(stack, ctx, scheduled.params)
            except Exception as exc:
                raise SystemFailed(scheduled.label, 0, phase.key) from exc
            system_s[scheduled.label] = system_s.get(scheduled.label, 0.0) + timer() - t_sys
            if len(commands) or ctx.events or ctx.ending is not None:
                raise _Rejected(scheduled.label)
        if phase is Phase.VALIDATE:
            t_index = timer()
            xs = stack.col("position.x").astype(np.float64) / scale
            ys = stack.col("position.y").astype(np.float64) / scale
            ctx.index = MatchPlaneIndex(xs, ys, stack.counts)
            index_s = timer() - t_index
        phase_s[phase.key] = timer() - t_phase
    stack.write_back(worlds, written_columns(pipeline))
    return ctx.stats, system_s, phase_s, index_s


def _alone(sim: Simulation, ctx: TickContext, res: FrameResult) -> FrameResult | SystemFailed:
    """The rest of one match's tick on its own world (the batch's isolation retry)."""
    try:
        ctx.index = sim.processor.built_index()
        sim.processor.run_phases(ctx, res)
        return sim.processor.finish(ctx, res)
    except Exception as exc:
        return _wrapped(exc, sim.tick)

"""One tick of many matches of one game definition, each system run once over all of them.

Contract (:func:`step_batch`): given simulations built from the *same* definition (one
match each, any entity counts, any tick numbers) and each one's inputs for its next tick,
advance every one by one tick and return, per simulation, its
:class:`~server.core.frame.FrameResult` or the :class:`~server.errors.SystemFailed`
that ends it. Every world ends bit for bit as if it had stepped alone
(:meth:`~server.core.simulation.Simulation.step`): same positions, velocities,
checksums; tested tick by tick in tests/core/test_batch.py.

How: per match, the start of a step (its own queued spawns and despawns:
:meth:`~server.core.frame.FrameProcessor.begin`); then the worlds' storage is one stack
(:func:`~server.core.batch.stack.bound_stack`: every world's columns are views of one
array per column, rows match after match, re-stacked only when the batch or a world's
structure changed since the last tick), every match's default stick inputs are written
into it at once (:func:`write_sticks`), and every system of the pipeline runs once over
the stack -- pairs come from a :class:`~server.core.batch.plane.MatchPlaneIndex`, so none
crosses matches. The systems write the worlds directly: nothing is copied back. Each
match's own spatial index is marked stale and rebuilt only if something queries it.

Which definitions batch (:func:`can_batch`): every system declares ``batch_writes``
(today the arena's four: ``apply_inputs``, ``move``, ``bounce_at_edges``, ``collide``)
and no system after ``validate`` writes positions. Any other definition steps per match
(the host does that by itself). A batched system must not queue commands, emit events or
end the match; if it does, or if any system raises, the columns the systems write
(their ``batch_writes``, saved before the first system ran) are restored and every match
of the batch is stepped alone from the same point: the one whose data makes a system
raise fails alone with its own ``SystemFailed``; the others complete their tick exactly
as they would have alone. That retry is the isolation rule (which match "caused" an
exception raised over a stack cannot be known).

``ctx.stats`` of a batched tick are the batch's (e.g. ``contacts`` over all its matches)
and are reported in the first match's result; timings (``system_s``, ``phase_s``,
``index_s``) are the batch's divided evenly among its matches (the ``system_s`` and
``phase_s`` dicts are one object shared by the batch's results: read them, do not
change them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from server.core.batch.plane import MatchPlaneIndex
from server.core.batch.stack import StackedWorld, bound_stack
from server.core.commands import CommandBuffer
from server.core.determinism import MatchRng
from server.core.frame import FrameResult, InputBatch
from server.core.phases import Phase
from server.core.pipeline import Pipeline
from server.core.simulation import Simulation
from server.core.systems.registry import TickContext
from server.errors import InvalidState, SystemFailed
from server.gamedef.schema import GameDefinition

_POSITION = ("position.x", "position.y")
_ROWS_KEPT = 16
"""Input layouts (which seats sent) remembered per world and stack."""
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


def written_columns(pipeline: Pipeline) -> tuple[str, ...]:
    """The columns the pipeline's systems write: what a batch copies back per match."""
    out: list[str] = []
    for s in pipeline.systems():
        for c in s.spec.batch_writes or ():
            if c not in out:
                out.append(c)
    return tuple(out)


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
    begun: list[tuple[int, FrameResult]] = []
    sticks: list[InputBatch | None] = []
    for i, (sim, batch) in enumerate(zip(sims, inputs, strict=True)):
        sim.tick += 1
        # Default sticks are written below, over the stack, for all matches at once.
        stick = batch if batch is not None and batch.columns is None else None
        try:
            res = sim.processor.begin_batched(sim.tick, batch, write_inputs=stick is None)
        except Exception as exc:
            out[i] = _wrapped(exc, sim.tick)
            continue
        begun.append((i, res))
        sticks.append(stick)
    if begun:
        idle = [sims[i] for i, _ in begun]
        pipeline = idle[0].processor.pipeline
        saved: dict[str, NDArray[Any]] = {}
        try:
            stack = bound_stack([s.world for s in idle])
            if stack.has_component("input"):
                write_sticks(stack, sticks)
            saved = {key: stack.col(key).copy() for key in written_columns(pipeline)}
            stats, system_s, phase_s, index_s = _run_stacked(
                pipeline, idle[0].definition, stack, timer
            )
        except Exception:  # a system raised, or did what a batch cannot: one by one
            for key, column in saved.items():  # from the same point: the tick's start
                stack.col(key)[:] = column
            for (i, res), stick in zip(begun, sticks, strict=True):
                out[i] = _alone(sims[i], inputs[i], res, stick)
        else:
            n = len(begun)
            # Every match's share of the batch's timings: one dict each, shared (read-only).
            per_system = {k: v / n for k, v in system_s.items()}
            per_phase = {k: v / n for k, v in phase_s.items()}
            for j, (i, res) in enumerate(begun):
                processor = sims[i].processor
                processor.mark_index_stale()
                res.system_s = per_system
                res.phase_s = per_phase
                res.index_s = index_s / n
                if j == 0:
                    res.stats.update(stats)
                out[i] = processor.finish_batched(res)
    return [r if r is not None else _wrapped(InvalidState("not stepped"), 0) for r in out]


def _wrapped(exc: Exception, tick: int) -> SystemFailed:
    if isinstance(exc, SystemFailed):
        return exc
    error = SystemFailed("<step>", tick, "")
    error.__cause__ = exc
    return error


def write_sticks(stack: StackedWorld, sticks: Sequence[InputBatch | None]) -> None:
    """Write each bound world's default stick inputs (``input.x``/``input.y``) into the
    stack, as :meth:`~server.core.frame.FrameProcessor.begin` writes them alone: rows of
    ids that are not alive are skipped. One fancy assignment per column for all worlds;
    the rows of a world's ids are looked up once per stack (they move only when it does).
    """
    rows: list[NDArray[np.int64]] = []
    xs: list[NDArray[np.int8]] = []
    ys: list[NDArray[np.int8]] = []
    offsets = stack.offsets.tolist()
    for j, batch in enumerate(sticks):
        if batch is None or not len(batch.entities):
            continue
        cache = stack.input_rows[j]
        key = batch.entities.tobytes()
        got = cache.get(key)
        if got is None:
            if len(cache) >= _ROWS_KEPT:
                cache.clear()
            slots = stack.worlds[j].entities.slots_of(batch.entities)
            alive = slots >= 0
            got = cache[key] = (slots[alive] + offsets[j], None if alive.all() else alive)
        at, live = got
        rows.append(at)
        xs.append(batch.x if live is None else batch.x[live])
        ys.append(batch.y if live is None else batch.y[live])
    if rows:
        at = np.concatenate(rows)
        stack.col("input.x")[at] = np.concatenate(xs)
        stack.col("input.y")[at] = np.concatenate(ys)


def _run_stacked(
    pipeline: Pipeline, definition: GameDefinition, stack: StackedWorld, timer: Timer
) -> tuple[dict[str, float], dict[str, float], dict[str, float], float]:
    """Run the pipeline once over the stack (which is the worlds' storage)."""
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
            ctx.index = MatchPlaneIndex(xs, ys, stack.counts, stack.pair_order)
            index_s = timer() - t_index
        phase_s[phase.key] = timer() - t_phase
    return ctx.stats, system_s, phase_s, index_s


def _alone(
    sim: Simulation, batch: InputBatch | None, res: FrameResult, sticks: InputBatch | None
) -> FrameResult | SystemFailed:
    """The rest of one match's tick on its own world (the batch's isolation retry);
    ``batch``: its inputs, ``sticks``: those the batch was to write (written again
    here: the same values)."""
    try:
        if sticks is not None:
            sim.processor.write_inputs(sticks)
        ctx = sim.processor.context(sim.tick, batch, with_index=False)
        ctx.index = sim.processor.built_index()
        sim.processor.run_phases(ctx, res)
        return sim.processor.finish(ctx, res)
    except Exception as exc:
        return _wrapped(exc, sim.tick)

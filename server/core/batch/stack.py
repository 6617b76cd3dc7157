"""Worlds kept stacked across ticks: each world's columns are views of one shared array.

Contract (:func:`bound_stack`): given worlds of one definition, return a
:class:`StackedWorld` whose column ``key`` is every world's live rows of ``key``, match
after match, **and** whose rows *are* those worlds' storage: after binding, each world's
``_columns[key]`` is the view ``stack[offset : offset + count]`` (its capacity is its
count). A system run over the stack therefore writes every world directly: nothing is
copied in before a batched tick or out after it. Stacking (one ``np.concatenate`` per
column) happens only when the batch is not the one bound last time: another list of
worlds, or a world whose structure changed (:attr:`World.version`: a spawn, a despawn, a
checkpoint import) or whose columns moved (a spawn past capacity allocates the world's
own arrays again, so it leaves the stack by itself).

Why views and not a copy: a steady batch (no joins, leaves, spawns, despawns) then pays
nothing per tick to stack and write back, and inputs and frames read and write the same
rows. A world keeps behaving as a :class:`World` in every way (stepping alone, spawning,
checksums): only where its bytes live changes. A world bound to an older stack keeps
valid views of that stack's arrays (they stay alive as long as a view does).

:func:`stack_of` returns the bound stack of exactly a list of worlds (or None), for a
pass that runs after the step over the same matches (the frames of a batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.world import World

InputRows = tuple[NDArray[np.int64], NDArray[np.bool_] | None]
"""Stack rows of an input batch's live ids, and which ids are alive (None: all)."""


class StackedWorld(World):
    """Columns ``keys`` of several worlds of one definition, concatenated (a copy).

    Reading API as :class:`World` (``col``, ``mask``, ``count``, ``has_component``);
    structural changes and entity handles are not available on a stack.
    ``offsets[i]`` is the first row of world ``i``; ``counts[i]`` its row count.
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
        self.version = 0
        self.stack = None
        self.worlds: tuple[World, ...] = ()
        """The worlds whose storage this stack is (empty for a copy)."""
        self._marks: list[tuple[NDArray[Any], int]] = []
        self._place: dict[int, int] = {}
        self.pair_order = np.arange(self.count, dtype=np.int64)
        """The pair sweep's x order over the stack's rows, kept from tick to tick."""
        self.views: object | None = None
        """What the frames of the last batch pass left for a steady next tick
        (:class:`~server.core.batch.steady_frames.SteadyViews`), if anything."""
        self.input_rows: list[dict[bytes, InputRows]] = []
        """Per bound world: stack rows of an input batch's entities, by the ids' bytes
        (valid while the stack is: slots move only with a structural change)."""


def bound_stack(worlds: Sequence[World]) -> StackedWorld:
    """The stack that holds ``worlds``' storage, binding them anew if needed (see module)."""
    stack = stack_of(worlds)
    if stack is not None:
        return stack
    stack = StackedWorld(worlds, worlds[0].column_names)
    offsets = stack.offsets.tolist()
    for i, w in enumerate(worlds):
        a, b = offsets[i], offsets[i + 1]
        w._columns = {key: column[a:b] for key, column in stack._columns.items()}
        w._capacity = w.count
        w.stack = stack
    stack.worlds = tuple(worlds)
    stack._marks = [(w._columns["has"], w.version) for w in worlds]
    stack._place = {id(w): i for i, w in enumerate(worlds)}
    stack.input_rows = [{} for _ in worlds]
    return stack


def stack_of(worlds: Sequence[World]) -> StackedWorld | None:
    """The bound stack of exactly ``worlds`` (in this order), still valid; else None."""
    stack = worlds[0].stack if worlds else None
    if not isinstance(stack, StackedWorld) or len(stack.worlds) != len(worlds):
        return None
    for w, bound, (has, version) in zip(worlds, stack.worlds, stack._marks, strict=True):
        if w is not bound or w._columns["has"] is not has or w.version != version:
            return None
    return stack


def rows_of(worlds: Sequence[World]) -> tuple[StackedWorld, NDArray[np.int64] | None] | None:
    """The bound stack holding all of ``worlds`` (each still valid), and their rows in it
    in this order (None: exactly the stack's worlds, all its rows); else None."""
    whole = stack_of(worlds)
    if whole is not None:
        return whole, None
    stack = worlds[0].stack if worlds else None
    if not isinstance(stack, StackedWorld):
        return None
    at: list[int] = []
    for w in worlds:
        i = stack._place.get(id(w), -1)
        if i < 0 or stack.worlds[i] is not w:
            return None
        has, version = stack._marks[i]
        if w._columns["has"] is not has or w.version != version:
            return None
        at.append(i)
    picked = np.array(at, dtype=np.int64)
    lo, hi = stack.offsets[picked], stack.offsets[picked + 1]
    cnt = hi - lo
    rows = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()), dtype=np.int64)
    return stack, rows

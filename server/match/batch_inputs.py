"""The start of a batched tick: every match's inputs taken at once.

:func:`take_batch` is ``[m.take_inputs() for m in matches]`` with the same result, the
match by match numpy work replaced by a few calls over all matches together where it
can: a state-sync match of default stick inputs whose every input took the intake's
short path (:attr:`~server.match.intake.InputIntake.staging`: no buffer, seq, views nor
buttons; the arena's clients) keeps its waiting inputs in Python, and the batch turns
all such matches' into one table (:func:`~server.match.input_counts.staged_table`) and
their seats into entity handles with one gather; each match's
:class:`~server.core.frame.InputBatch` is then a slice of those arrays. Any other match
takes its inputs itself (:meth:`Match.take_inputs`).

Why: with 100 matches of 8 players, taking inputs match by match cost ~15 µs per
match-tick in ~10 tiny numpy calls (flatnonzero, fancy reads and writes of the FIFO
arrays, astype, the entity gather); the batch pays those calls once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from server.core.frame import InputBatch
from server.match.input_counts import staged_table
from server.match.match import Match

Taken = InputBatch | None | Exception
"""A match's inputs for its next tick, or what :meth:`Match.take_inputs` raised."""


def take_batch(matches: Sequence[Match]) -> list[Taken]:
    """Each match's inputs for its next tick, as :meth:`Match.take_inputs` returns them
    (an exception it raises is returned in its place: that match is not stepped).

    The matches' inputs are taken (removed from their intakes), like ``take_inputs``.
    """
    out: list[Taken] = [None] * len(matches)
    fast: list[tuple[int, Match, int, int]] = []  # (index, match, first row, row count)
    rows: list[Sequence[int]] = []
    where: list[int] = []  # per row, its seat's place in the concatenated seat_entity
    tables: list[np.ndarray] = []
    base = 0
    for i, m in enumerate(matches):
        try:
            if not _stages(m):
                out[i] = m.take_inputs()
                continue
            m.check_tickable()
        except Exception as exc:  # the match's own failure: reported, not stepped
            out[i] = exc
            continue
        seats, taken = m.intake.take_staged()
        if seats:
            fast.append((i, m, len(rows), len(seats)))
            rows.extend(taken)
            where.extend([base + s for s in seats])
        tables.append(m.seat_entity)
        base += len(m.seat_entity)
    if not rows:
        return out
    values = staged_table(rows, len(fast[0][1].intake.values))
    dtypes = [col.dtype for col in fast[0][1].intake.values]
    x = values[:, 0].astype(dtypes[0]).astype(np.int8, copy=False)
    y = values[:, 1].astype(dtypes[1]).astype(np.int8, copy=False)
    entities = np.concatenate(tables)[where]
    for i, _, first, n in fast:
        end = first + n
        out[i] = InputBatch(entities[first:end], x[first:end], y[first:end])
    return out


def _stages(m: Match) -> bool:
    """Whether ``m``'s inputs can be taken by the batch: state sync, default sticks,
    every input so far on the intake's short path (``staging`` implies no lag
    compensation, no buffer and no buttons)."""
    return m.lockstep is None and m.input_decoder is None and m.intake.staging

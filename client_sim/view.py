"""What game behaviours ask about the world, answered from every bot's mirror at once.

A behaviour runs once per tick over all bots of a process (:mod:`client_sim.behaviours`).
For a game it needs more than "the nearest entity": the nearest *player* whose
``tag.it`` is 1, its own ``tag.it``, its own position. :class:`BotsView` answers those
questions for a batch of bot indices; per bot it is a handful of numpy calls over the
entities that bot holds (its area of interest), never a Python loop over entities.
A bot with a smooth client (:mod:`client_sim.smooth`) sees itself predicted and the
others interpolated ``interpolation_ms`` behind, as a player would.

Vectors and positions are world units (quantized steps times ``WELCOME.quantize``);
NaN where the bot does not know the answer (no welcome yet, own entity not held, no
entity matches).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from client_sim.bot import Bot


class BotsView:
    """The :class:`~client_sim.behaviours.WorldView` of a list of bots (see module doc)."""

    def __init__(self, bots: list[Bot]) -> None:
        self.bots = bots

    def own_position(self, which: NDArray[np.intp]) -> NDArray[np.float64]:
        """(len(which), 2): each bot's own entity position."""
        out = np.full((len(which), 2), np.nan)
        for row, i in enumerate(which.tolist()):
            me = _own(self.bots[i])
            if me is not None:
                out[row] = me
        return out

    def own_value(self, which: NDArray[np.intp], field: str) -> NDArray[np.float64]:
        """(len(which),): replicated field ``field`` of each bot's own entity."""
        out = np.full(len(which), np.nan)
        for row, i in enumerate(which.tolist()):
            bot = self.bots[i]
            value = bot.mirror.value(bot.own_entity, field)
            if value is not None:
                out[row] = value
        return out

    def nearest(
        self,
        which: NDArray[np.intp],
        kind: str = "",
        field: str = "",
        equals: float | None = None,
    ) -> NDArray[np.float64]:
        """(len(which), 2): vector to the nearest other held entity of archetype ``kind``
        (any when empty) whose ``field`` equals ``equals`` (no filter when ``equals`` is
        None; an entity never sent the field does not match a filter)."""
        out = np.full((len(which), 2), np.nan)
        now = time.perf_counter()
        for row, i in enumerate(which.tolist()):
            bot = self.bots[i]
            mirror = bot.mirror
            me = _own(bot)
            if me is None:
                continue
            ids, pos = _others(bot, now)
            keep = np.ones(len(ids), np.bool_)
            if kind:
                kinds = bot.welcome.get("kinds", [])
                if kind not in kinds:
                    continue
                keep &= mirror.kind[ids] == kinds.index(kind)
            if field and equals is not None:
                spec = mirror.schema.field(field) if mirror.schema is not None else None
                if spec is None:
                    continue
                keep &= mirror.has[spec.index, ids] & (mirror.values[spec.index, ids] == equals)
            if not keep.any():
                continue
            d = pos[keep] - me
            k = int(np.argmin(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]))
            out[row] = d[k]
        return out


def _step(bot: Bot) -> float:
    return float(bot.welcome.get("quantize", {}).get("position.x", 1.0))


def _own(bot: Bot) -> tuple[float, float] | None:
    """Where the bot sees itself: predicted (a smooth client), else as last sent."""
    if bot.smooth is not None:
        predicted = bot.smooth.own_position()
        if predicted is not None:
            return predicted
    me = bot.mirror.position_steps(bot.own_entity)
    if me is None:
        return None
    step = _step(bot)
    return me[0] * step, me[1] * step


def _others(bot: Bot, now: float) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Every other entity the bot holds, world units: interpolated (a smooth client) or
    as last sent."""
    if bot.smooth is not None:
        return bot.smooth.others(now)
    ids, qx, qy = bot.mirror.positions()
    keep = ids != bot.own_entity
    step = _step(bot)
    return ids[keep], np.stack([qx[keep], qy[keep]], axis=1) * step


def nearest_vectors(bots: list[Bot], which: np.ndarray) -> np.ndarray:
    """For ``bots[i]`` with i in ``which``: the world-unit vector to its nearest other
    held entity, or NaN when the bot does not know its own entity or holds nothing."""
    out = np.full((len(which), 2), np.nan)
    for row, i in enumerate(which.tolist()):
        bot = bots[i]
        own = bot.own_entity
        me = bot.mirror.position_steps(own)
        if me is None:
            continue
        ids, qx, qy = bot.mirror.positions()
        others = ids != own
        if not others.any():
            continue
        dx = qx[others] - me[0]
        dy = qy[others] - me[1]
        k = int(np.argmin(dx * dx + dy * dy))
        step = float(bot.welcome.get("quantize", {}).get("position.x", 1.0))
        out[row] = (dx[k] * step, dy[k] * step)
    return out

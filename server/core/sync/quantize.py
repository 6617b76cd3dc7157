"""Quantization of replicated position fields for the wire.

A world position ``p`` (world units) is sent as ``round(p / step)`` in a uint16, at
most 65534 (the packed value 0xFFFFFFFF is reserved for "never sent"), so
``width_units / step`` must stay below 65536 (checked when the definition is loaded).
Both axes are packed into one uint32, ``qx | qy << 16``, which on the wire is four
little-endian bytes: x low, x high, y low, y high.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from server.core.world import World
from server.gamedef.schema import GameDefinition


class PositionQuantizer:
    """Quantizes ``position.x``/``position.y`` with the definition's steps."""

    def __init__(self, definition: GameDefinition) -> None:
        steps = dict(definition.sync.quantize)
        scale = definition.world.subunits_per_unit
        self.step_x = float(steps.get("position.x", 1.0 / 16))
        self.step_y = float(steps.get("position.y", 1.0 / 16))
        self._fx = 1.0 / (scale * self.step_x)
        self._fy = 1.0 / (scale * self.step_y)

    def packed(self, world: World) -> NDArray[np.uint32]:
        """``qx | qy << 16`` for every live entity, by slot."""
        qx = np.clip(np.rint(world.col("position.x") * self._fx), 0, 65534).astype(np.uint32)
        qy = np.clip(np.rint(world.col("position.y") * self._fy), 0, 65534).astype(np.uint32)
        out: NDArray[np.uint32] = qx | (qy << np.uint32(16))
        return out

    def spec(self) -> dict[str, float]:
        """The quantization steps as sent in ``welcome`` (world units per step)."""
        return {"position.x": self.step_x, "position.y": self.step_y}


MAX_STEP = 127
"""The largest move per axis (quantization steps) sent as an int8 step delta."""


def step_deltas(
    q: NDArray[np.uint32], pq: NDArray[np.uint32]
) -> tuple[NDArray[np.bool_], NDArray[np.int8]]:
    """``(near, steps)`` from packed positions ``pq`` to ``q`` (same shape, by row).

    ``near``: the move is at most :data:`MAX_STEP` steps on both axes, so it goes on the
    wire as an int8 step delta ("c"/"d"); farther moves carry the absolute position
    ("m"/"q"). ``steps``: ``(len(q), 2)`` int8 ``(dx, dy)``, valid where ``near``.
    """
    dqx = (q & 0xFFFF).astype(np.int32) - (pq & 0xFFFF).astype(np.int32)
    dqy = (q >> 16).astype(np.int32) - (pq >> 16).astype(np.int32)
    near: NDArray[np.bool_] = (np.abs(dqx) <= MAX_STEP) & (np.abs(dqy) <= MAX_STEP)
    steps = np.empty((len(q), 2), dtype=np.int8)
    steps[:, 0] = dqx
    steps[:, 1] = dqy
    return near, steps

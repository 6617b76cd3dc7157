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

"""Replicated fields (``[sync.replicate]``): per-slot wire values and their schema.

State sync sends each replicated field the way it sends positions: a column of net ids
and a column of values, on enter and then only when the *wire* value changed since what
that client was sent (:class:`~server.core.sync.state.InterestSync` keeps one
``[seat, handle]`` matrix of sent values per field). This module turns component
columns into those wire values, once per snapshot for all entities:

- ``step`` given: ``round(value / step)``; then every integer wire type is clipped to
  its range (so a value out of range saturates instead of wrapping);
- ``bool``: ``value != 0`` as uint8; ``float32``: a cast.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.world import World
from server.gamedef.schema import GameDefinition, ReplicatedField

WIRE_NUMPY: dict[str, str] = {
    "bool": "<u1",
    "int8": "<i1",
    "uint8": "<u1",
    "int16": "<i2",
    "uint16": "<u2",
    "int32": "<i4",
    "uint32": "<u4",
    "float32": "<f4",
}
"""The little-endian numpy dtype of each wire type."""


def wire_values(field: ReplicatedField, column: NDArray[Any]) -> NDArray[Any]:
    """``column`` (one value per slot) as ``field``'s wire values."""
    dtype = np.dtype(WIRE_NUMPY[field.wire])
    if field.wire == "bool":
        flags: NDArray[Any] = (column != 0).astype(dtype)
        return flags
    if field.wire == "float32":
        floats: NDArray[Any] = column.astype(dtype)
        return floats
    values: NDArray[Any] = column
    if field.step is not None:
        values = np.rint(column / field.step)
    info = np.iinfo(dtype)
    if values.dtype.kind == "f" or values.dtype != dtype:
        values = np.clip(values, info.min, info.max)
    return values.astype(dtype)


class FieldEncoder:
    """A definition's replicated fields: wire values per slot, owner flags, schema."""

    def __init__(self, definition: GameDefinition) -> None:
        self.fields = definition.sync.replicate
        self.owner_only = [f.to == "owner" for f in self.fields]
        self.any_owner_only = any(self.owner_only)
        self.dtypes = [np.dtype(WIRE_NUMPY[f.wire]) for f in self.fields]

    def __len__(self) -> int:
        return len(self.fields)

    def values(self, world: World) -> list[tuple[NDArray[Any], NDArray[np.bool_]]]:
        """Per field: wire values for every live entity by slot, and which slots have it.

        Only entities whose archetype has the field's component are sent the field.
        """
        out: list[tuple[NDArray[Any], NDArray[np.bool_]]] = []
        masks: dict[str, NDArray[np.bool_]] = {}
        for f in self.fields:
            comp = f.key.split(".")[0]
            if comp not in masks:
                masks[comp] = world.mask(comp)
            out.append((wire_values(f, world.col(f.key)), masks[comp]))
        return out

    def schema(self) -> list[dict[str, object]]:
        """The ``WELCOME.fields`` list: ``{name, wire, step, to}`` in wire-index order."""
        return [{"name": f.key, "wire": f.wire, "step": f.step, "to": f.to} for f in self.fields]

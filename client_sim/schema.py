"""A game's wire schema as ``WELCOME`` announces it (docs/protocol.md, "Game schema").

A bot knows nothing about a game beforehand: the welcome lists the declared input
fields (names and types), the replicated fields (``STATE`` ``r`` columns: name, wire
type, step, audience) and the events (``STATE`` ``v``: name, audience, typed fields).
:func:`parse_schema` turns those lists into numpy dtypes once per connection, so that
decoding a frame is a ``np.frombuffer`` per column and nothing per entity.

An old server's welcome (no ``input``/``fields``/``events``) reads as the arena: two
stick fields ``x`` and ``y`` and nothing replicated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

WIRE_DTYPES: dict[str, np.dtype[Any]] = {
    "bool": np.dtype("u1"),
    "int8": np.dtype("i1"),
    "uint8": np.dtype("u1"),
    "int16": np.dtype("<i2"),
    "uint16": np.dtype("<u2"),
    "int32": np.dtype("<i4"),
    "uint32": np.dtype("<u4"),
    "float32": np.dtype("<f4"),
    "entity": np.dtype("<u4"),
}
"""Wire type -> the little-endian dtype of its ``bin`` column (``entity``: a net id)."""

INPUT_TYPES = ("stick", "angle", "buttons", "int")


class SchemaError(ValueError):
    """The welcome's schema is not what docs/protocol.md describes."""


@dataclass(frozen=True, slots=True)
class InputField:
    """One declared input field: ``kind`` is stick | angle | buttons | int.

    ``bits`` names the buttons' bits (bit i = ``bits[i]``); ``lo``/``hi`` bound an int
    field (for a stick -1..1, an angle -2pi..2pi, buttons 0..mask).
    """

    name: str
    kind: str
    bits: tuple[str, ...] = ()
    lo: float = -1.0
    hi: float = 1.0

    def bit(self, name: str) -> int:
        """The mask of button ``name`` (0 when this field does not declare it)."""
        return 1 << self.bits.index(name) if name in self.bits else 0


@dataclass(frozen=True, slots=True)
class ReplicatedField:
    """A replicated field (``STATE`` ``r`` column ``index``): value = raw * step."""

    index: int
    name: str
    dtype: np.dtype[Any]
    step: float | None
    to: str


@dataclass(frozen=True, slots=True)
class EventType:
    """A declared event (``STATE`` ``v`` index ``index``): its fields in wire order."""

    index: int
    name: str
    audience: str
    fields: tuple[tuple[str, np.dtype[Any]], ...]


@dataclass(frozen=True, slots=True)
class GameSchema:
    """What one game sends and expects, read from its ``WELCOME``."""

    inputs: tuple[InputField, ...]
    fields: tuple[ReplicatedField, ...]
    events: tuple[EventType, ...]
    bot: str = ""
    render: Mapping[str, Any] | None = None
    rules: Mapping[str, Any] | None = None

    @property
    def arena_inputs(self) -> bool:
        """True when the inputs are exactly the arena's ``x``, ``y`` sticks (fast path)."""
        return [(f.name, f.kind) for f in self.inputs] == [("x", "stick"), ("y", "stick")]

    def field(self, name: str) -> ReplicatedField | None:
        """The replicated field called ``name`` (e.g. ``health.hp``), or None."""
        return next((f for f in self.fields if f.name == name), None)

    def input(self, name: str) -> InputField | None:
        """The declared input field called ``name``, or None."""
        return next((f for f in self.inputs if f.name == name), None)


ARENA_INPUTS = (InputField("x", "stick"), InputField("y", "stick"))


def _dtype(wire: Any, where: str) -> np.dtype[Any]:
    if wire not in WIRE_DTYPES:
        raise SchemaError(f"{where}: expected a wire type {sorted(WIRE_DTYPES)}, found {wire!r}")
    return WIRE_DTYPES[wire]


def _inputs(raw: Sequence[Mapping[str, Any]]) -> tuple[InputField, ...]:
    out = []
    for i, spec in enumerate(raw):
        kind = spec.get("type")
        if kind not in INPUT_TYPES:
            raise SchemaError(f"input[{i}].type: expected one of {INPUT_TYPES}, found {kind!r}")
        name = str(spec["name"])
        if kind == "buttons":
            bits = tuple(str(b) for b in spec.get("bits", ()))
            out.append(InputField(name, kind, bits, 0.0, float((1 << len(bits)) - 1)))
        elif kind == "int":
            out.append(InputField(name, kind, (), float(spec["min"]), float(spec["max"])))
        elif kind == "angle":
            out.append(InputField(name, kind, (), -2 * np.pi, 2 * np.pi))
        else:
            out.append(InputField(name, kind))
    return tuple(out)


def parse_schema(welcome: Mapping[str, Any]) -> GameSchema:
    """The schema of a decoded ``WELCOME`` body (raises :class:`SchemaError` if malformed)."""
    raw_inputs = welcome.get("input")
    inputs = ARENA_INPUTS if raw_inputs is None else _inputs(raw_inputs)
    fields = tuple(
        ReplicatedField(
            i,
            str(spec["name"]),
            _dtype(spec.get("wire"), f"fields[{i}].wire"),
            None if spec.get("step") is None else float(spec["step"]),
            str(spec.get("to", "all")),
        )
        for i, spec in enumerate(welcome.get("fields") or ())
    )
    events = tuple(
        EventType(
            i,
            str(spec["name"]),
            str(spec.get("audience", "all")),
            tuple(
                (str(fname), _dtype(ftype, f"events[{i}].fields.{fname}"))
                for fname, ftype in spec.get("fields", ())
            ),
        )
        for i, spec in enumerate(welcome.get("events") or ())
    )
    return GameSchema(
        inputs,
        fields,
        events,
        str(welcome.get("bot") or ""),
        welcome.get("render") or {},
        welcome.get("rules") or {},
    )

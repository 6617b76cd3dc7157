"""Validated decoding of ``INPUT`` bodies for games that declare ``[input]`` fields.

A game without ``[input]`` keeps the arena's ``{tick, x, y}`` and the codec's inlined
fast path (:class:`~server.net.messages.Input`). A game with ``[input]`` gets an
:class:`InputDecoder` built once from its definition; each ``INPUT`` body must hold
``tick`` and every declared field, nothing else, and each value is checked and stored
in the field's column form at once (docs/protocol.md, ``INPUT``):

- ``stick``: a number in [-1, 1] -> ``floor(v * 127 + 0.5)`` (int8; round half up, as
  the default sticks, so every language computes the same step);
- ``angle``: radians in [-2pi, 2pi] -> ``floor(v / 2pi * 65536 + 0.5) mod 65536`` (uint16);
- ``buttons``: an integer in 0..65535 with no bit outside the declared ones (uint16);
- ``int``: an integer in the declared ``[min, max]`` (int32).

Any fault raises :class:`~server.errors.MalformedMessage` with a precise reason: nothing
is masked or clamped, so a client bug is loud and its match-mates never see it.

Every game's ``INPUT`` may also carry the optional keys of issue 18 (:data:`OPTIONAL_KEYS`):
``seq`` (uint32), ``view_tick`` (a tick) and ``view_alpha`` (a number in [0, 1]), the
last two both or neither. Their shape is checked here; what they mean (serial order,
clamping to the history) is :mod:`server.match.intake`'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from server.errors import MalformedMessage
from server.gamedef.schema import InputFieldDef

TWO_PI = 2.0 * math.pi
MAX_TICK = 2**53
SEQ_MAX = 2**32 - 1
"""``seq`` is a uint32: 0 .. 2^32-1, wrapping to 0 after the maximum."""
OPTIONAL_KEYS = frozenset(("seq", "view_tick", "view_alpha"))
"""Keys any ``INPUT`` may add to its game's fields (docs/protocol.md, ``INPUT``)."""


class FieldInput(NamedTuple):
    """A declared-fields input for ``tick``: stored values in declaration order."""

    tick: int
    values: tuple[int, ...]
    seq: int | None = None
    view_tick: int | None = None
    view_alpha: float | None = None


def _number(name: str, v: Any, lo: float, hi: float) -> float:
    t = type(v)
    if t is not float and t is not int:
        raise MalformedMessage(f"INPUT field {name!r}: expected a number, got {t.__name__}")
    f = float(v)
    if not math.isfinite(f):
        raise MalformedMessage(f"INPUT field {name!r}: {v} is not finite")
    if not lo <= f <= hi:
        raise MalformedMessage(f"INPUT field {name!r}: {v} is outside [{lo:g}, {hi:g}]")
    return f


def check_view(view_tick: int | None, view_alpha: float | None) -> None:
    """MalformedMessage unless ``view_tick`` and ``view_alpha`` come both or neither."""
    if view_tick is not None and view_alpha is None:
        raise MalformedMessage("INPUT: 'view_tick' without 'view_alpha' (send both or neither)")
    if view_alpha is not None and view_tick is None:
        raise MalformedMessage("INPUT: 'view_alpha' without 'view_tick' (send both or neither)")


def optional_keys(body: dict[Any, Any]) -> tuple[int | None, int | None, float | None]:
    """``(seq, view_tick, view_alpha)`` of an ``INPUT`` body, checked (None: absent)."""
    seq = body.get("seq")
    if seq is not None:
        seq = _integer("seq", seq, 0, SEQ_MAX)
    view_tick = body.get("view_tick")
    if view_tick is not None:
        view_tick = _integer("view_tick", view_tick, 0, MAX_TICK)
    view_alpha = body.get("view_alpha")
    if view_alpha is not None:
        view_alpha = _number("view_alpha", view_alpha, 0.0, 1.0)
    check_view(view_tick, view_alpha)
    return seq, view_tick, view_alpha


def _integer(name: str, v: Any, lo: int, hi: int) -> int:
    if type(v) is not int:
        raise MalformedMessage(f"INPUT field {name!r}: expected an integer, got {type(v).__name__}")
    if not lo <= v <= hi:
        raise MalformedMessage(f"INPUT field {name!r}: {v} is outside [{lo}, {hi}]")
    return v


class InputDecoder:
    """Checks ``INPUT`` bodies against a definition's declared input fields."""

    def __init__(self, fields: Sequence[InputFieldDef]) -> None:
        self.fields = tuple(fields)
        self.names = tuple(f.name for f in self.fields)
        self.keys = frozenset(("tick", *self.names))
        self._allowed = self.keys | OPTIONAL_KEYS
        self._masks = {f.name: (1 << len(f.bits)) - 1 for f in self.fields}

    def decode(self, body: dict[Any, Any]) -> FieldInput:
        """The body as a :class:`FieldInput`; raises MalformedMessage on any fault."""
        optional: tuple[int | None, int | None, float | None] | None = None
        if body.keys() != self.keys:
            for key in body:
                if key not in self._allowed:
                    raise MalformedMessage(
                        f"INPUT: unknown field {key!r} (this game's fields: "
                        f"{', '.join(self.names)}; optional: seq, view_tick, view_alpha)"
                    )
            missing = sorted(self.keys - body.keys())
            if missing:
                raise MalformedMessage(f"INPUT: missing field {missing[0]!r}")
            optional = optional_keys(body)
        tick = _integer("tick", body["tick"], 0, MAX_TICK)
        values: list[int] = []
        for f in self.fields:
            v = body[f.name]
            if f.kind == "stick":
                values.append(math.floor(_number(f.name, v, -1.0, 1.0) * 127 + 0.5))
            elif f.kind == "angle":
                a = _number(f.name, v, -TWO_PI, TWO_PI)
                values.append(math.floor(a / TWO_PI * 65536 + 0.5) % 65536)
            elif f.kind == "buttons":
                b = _integer(f.name, v, 0, 65535)
                extra = b & ~self._masks[f.name]
                if extra:
                    raise MalformedMessage(
                        f"INPUT field {f.name!r}: bits {extra:#x} are not declared "
                        f"(declared: {', '.join(f.bits)})"
                    )
                values.append(b)
            else:
                values.append(_integer(f.name, v, f.minimum, f.maximum))
        if optional is None:
            return FieldInput(tick, tuple(values))
        return FieldInput(tick, tuple(values), *optional)

    def body(self, tick: int, **values: float | int) -> dict[str, Any]:
        """An ``INPUT`` body for ``values`` as a client sends them (for bots and tests)."""
        return {"tick": tick, **{n: values[n] for n in self.names}}

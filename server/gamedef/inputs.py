"""The ``[input]`` section: the fields a client's ``INPUT`` carries and where they land.

Each ``[input.<name>]`` declares one field: its wire key is ``<name>`` and the frame
processor writes it into column ``input.<name>`` of the player's entity, whose dtype
is fixed by the field's type (:data:`~server.gamedef.schema.INPUT_DTYPES`). Without an
``[input]`` section a game has the arena's two sticks ``x`` and ``y`` (any signed
integer column), exactly as before, so its wire is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

from server.gamedef.check import MISSING, MISSING_TEXT, Checker, choices, describe, join_key
from server.gamedef.limits import INPUT_AXIS_MAX, INT32_MAX, SIGNED_INT_MAX
from server.gamedef.schema import (
    DEFAULT_INPUTS,
    INPUT_DTYPES,
    ArchetypeDef,
    InputFieldDef,
    InputKind,
)

INPUT_KINDS: Final = tuple(INPUT_DTYPES)
INPUT_FIELD_KEYS: Final = (("type",), ("bits", "min", "max"))
RESERVED_INPUT_NAMES: Final = ("tick", "n", "j", "l", "s")
"""``tick`` is the INPUT key of the tick; the others are lockstep frame keys."""
MAX_INPUT_FIELDS: Final = 16
MAX_BUTTON_BITS: Final = 16
"""A buttons field is a uint16."""


def inputs(
    c: Checker,
    data: Mapping[Any, Any],
    fields: Mapping[str, Mapping[str, str]],
    player: ArchetypeDef,
) -> tuple[tuple[InputFieldDef, ...], bool]:
    """``[input]`` (or the default sticks); returns the fields and whether it was declared."""
    if "input" not in data:
        default_sticks(c, fields)
        return DEFAULT_INPUTS, False
    t = c.table(data, "", "input", expected="a table of input fields ([input.<name>])")
    if not t:
        c.fail("input", "at least one input field ([input.<name>])", "an empty table")
    if len(t) > MAX_INPUT_FIELDS:
        c.fail("input", f"at most {MAX_INPUT_FIELDS} input fields", f"{len(t)} fields")
    out: list[InputFieldDef] = []
    for name, ft in t.items():
        path = join_key("input", name)
        c.identifier(name, path, "an input field name")
        if name in RESERVED_INPUT_NAMES:
            c.fail(
                path,
                f"a name other than {choices(RESERVED_INPUT_NAMES)} (reserved wire keys)",
                describe(name),
            )
        if not isinstance(ft, Mapping):
            c.fail(path, f"a table with type = one of {choices(INPUT_KINDS)}", describe(ft))
        c.keys(ft, path, INPUT_FIELD_KEYS)
        kind = cast(InputKind, c.choice(ft, path, "type", INPUT_KINDS))
        allowed = {"buttons": ("bits",), "int": ("min", "max")}.get(kind, ())
        for key in ("bits", "min", "max"):
            if key in ft and key not in allowed:
                c.fail(
                    join_key(path, key),
                    f"no {key!r} for an input of type {kind!r}",
                    describe(ft[key]),
                )
        bits: tuple[str, ...] = ()
        lo = hi = 0
        if kind == "buttons":
            bits = _bits(c, ft.get("bits", MISSING), join_key(path, "bits"))
        elif kind == "int":
            lo = c.int_(ft, path, "min", -INT32_MAX - 1, INT32_MAX, why="int32")
            hi = c.int_(ft, path, "max", lo, INT32_MAX, why="int32, at least min")
        _column(c, fields, name, INPUT_DTYPES[kind], kind)
        out.append(InputFieldDef(name, kind, bits, lo, hi))
    if "input" not in player.components:
        c.fail(
            "game.player_archetype",
            "an archetype with component input (the game declares [input])",
            f"{describe(player.name)} with components {', '.join(player.components)}",
        )
    return tuple(out), True


def _bits(c: Checker, value: object, key: str) -> tuple[str, ...]:
    expected = f"an array of 1 to {MAX_BUTTON_BITS} distinct button names (bit i = bits[i])"
    items = c.array(value, key, expected)
    if not 1 <= len(items) <= MAX_BUTTON_BITS:
        c.fail(key, expected, describe(value))
    out: list[str] = []
    for i, b in enumerate(items):
        c.identifier(b, f"{key}[{i}]", "a button name")
        if b in out:
            c.fail(f"{key}[{i}]", "each button name once", describe(b))
        out.append(b)
    return tuple(out)


def _column(
    c: Checker, fields: Mapping[str, Mapping[str, str]], name: str, dtype: str, kind: str
) -> None:
    key = f"components.input.{name}"
    expected = f'a field {name} = "{dtype}" in [components.input] (an input of type {kind!r})'
    if "input" not in fields:
        c.fail("components.input", expected, MISSING_TEXT)
    got = fields["input"].get(name, MISSING)
    if got != dtype:
        c.fail(key, expected, MISSING_TEXT if got is MISSING else describe(got))


def default_sticks(c: Checker, fields: Mapping[str, Mapping[str, str]]) -> None:
    """No ``[input]``: an ``input`` component, if any, needs signed x/y stick columns."""
    if "input" not in fields:
        return
    for axis in ("x", "y"):
        dtype = fields["input"].get(axis, MISSING)
        if dtype not in SIGNED_INT_MAX:
            c.fail(
                f"components.input.{axis}",
                f"a signed integer dtype, one of {choices(SIGNED_INT_MAX)} (player "
                f"input axes are written here as -{INPUT_AXIS_MAX}..{INPUT_AXIS_MAX})",
                describe(dtype),
            )


def input_schema(defs: tuple[InputFieldDef, ...]) -> list[dict[str, Any]]:
    """The ``WELCOME.input`` list: ``{name, type}`` plus ``bits`` or ``min``/``max``."""
    out: list[dict[str, Any]] = []
    for f in defs:
        entry: dict[str, Any] = {"name": f.name, "type": f.kind}
        if f.kind == "buttons":
            entry["bits"] = list(f.bits)
        elif f.kind == "int":
            entry["min"], entry["max"] = f.minimum, f.maximum
        out.append(entry)
    return out

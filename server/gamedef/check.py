"""The loader's shared error helper: formatting of keys and values, and typed getters.

Every error the loader raises goes through :meth:`Checker.fail`, which builds one
:class:`~server.errors.DefinitionError` naming the file, the dotted key (``pipeline[2].
params.speed_units_per_s``; keys that are not bare TOML keys are quoted), what was
expected and what was found (the value's TOML type and value, see :func:`describe`).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, NoReturn, cast

from server.errors import DefinitionError
from server.gamedef.limits import MAX_NAME_LEN

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
IDENTIFIER_TEXT = (
    f"an identifier (ASCII letters, digits and _, not starting with a digit, "
    f"at most {MAX_NAME_LEN} characters)"
)


class Missing:
    """Marks an absent key (``None`` is not a TOML value, but keep the two apart anyway)."""


MISSING: Final = Missing()
MISSING_TEXT: Final = "nothing (the key is missing)"


# -- formatting helpers ------------------------------------------------------------------


def join_key(path: str, key: object) -> str:
    """``path.key``, quoting ``key`` the way TOML would when it is not a bare key."""
    if isinstance(key, str) and BARE_KEY.fullmatch(key):
        part = key
    elif isinstance(key, str):
        part = json.dumps(key, ensure_ascii=False)
    else:
        part = f"<{type(key).__name__} {key!r}>"
    return f"{path}.{part}" if path else part


def short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: object) -> str:
    """The value as TOML names it: ``integer 300``, ``string "fast"``, ``boolean true``."""
    if value is MISSING:
        return MISSING_TEXT
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        if value.bit_length() > 128:  # str() of a huge int is slow (and capped by Python)
            return f"integer of {value.bit_length()} bits"
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value!r}"
    if isinstance(value, str):
        return f"string {short(json.dumps(value, ensure_ascii=False))}"
    if isinstance(value, Mapping):
        keys = ", ".join(join_key("", k) for k in value)
        return f"table {{{short(keys)}}}" if keys else "an empty table"
    if isinstance(value, list | tuple):
        return f"array of {len(value)} item(s) {short(repr(list(value)))}"
    return f"{type(value).__name__} {short(repr(value))}"


def choices(options: Iterable[str]) -> str:
    return ", ".join(json.dumps(o) for o in options)


def num(x: float) -> str:
    return f"{x:g}"


def unknown(key: object, allowed: Sequence[str]) -> str:
    if not isinstance(key, str):
        return f"a key that is not a string: {describe(key)}"
    hint = difflib.get_close_matches(key, allowed, n=1)
    suffix = f" (did you mean {json.dumps(hint[0])}?)" if hint else ""
    return f"unknown key {json.dumps(key, ensure_ascii=False)}{suffix}"


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Checker:
    """The shared error helper: one parse of one document, so every check can name its file.

    Every section module takes a :class:`Checker` and reports its first problem with
    :meth:`fail`, a :class:`DefinitionError` naming file, key, expected and found.
    """

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, expected: str, got: str) -> NoReturn:
        raise DefinitionError(self.source, key, expected, got)

    # -- typed getters: each handles "missing", "wrong type" and "out of range" -------

    def keys(self, table: Mapping[Any, Any], path: str, spec: tuple[Sequence[str], ...]) -> None:
        """Refuse keys of ``table`` that ``spec`` (required, optional) does not list."""
        required, optional = spec
        allowed = (*required, *optional)
        for key in table:
            if key not in allowed:
                expected = f"one of the keys {', '.join(allowed)}" if allowed else "no keys"
                self.fail(join_key(path, key), expected, unknown(key, allowed))

    def table(
        self,
        parent: Mapping[Any, Any],
        path: str,
        name: str,
        *,
        required: bool = True,
        expected: str = "",
    ) -> Mapping[Any, Any]:
        """The sub-table ``name`` (an empty one when optional and absent)."""
        key = join_key(path, name)
        value = parent.get(name, MISSING)
        if value is MISSING and not required:
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, expected or f"a table ([{key}])", describe(value))
        return value

    def int_(
        self,
        table: Mapping[Any, Any],
        path: str,
        name: str,
        lo: int,
        hi: int | None,
        *,
        default: int | None = None,
        why: str = "",
    ) -> int:
        """An integer in ``lo..hi`` (``hi`` None: unbounded); bool is not an integer."""
        key = join_key(path, name)
        expected = f"an integer in {lo}..{hi}" if hi is not None else f"an integer >= {lo}"
        expected += f" ({why})" if why else ""
        value = table.get(name, MISSING)
        if value is MISSING and default is not None:
            return default
        if not is_int(value) or value < lo or (hi is not None and value > hi):
            self.fail(key, expected, describe(value))
        return cast(int, value)

    def float_(
        self,
        table: Mapping[Any, Any],
        path: str,
        name: str,
        *,
        lo: float,
        lo_open: bool = False,
        hi: float | None = None,
        default: float | None = None,
        why: str = "",
    ) -> float:
        """A finite number (an integer is accepted and converted) within the bounds."""
        key = join_key(path, name)
        value = table.get(name, MISSING)
        if value is MISSING and default is not None:
            return default
        return self.number(key, value, lo=lo, lo_open=lo_open, hi=hi, why=why)

    def number(
        self,
        key: str,
        value: object,
        *,
        lo: float | None,
        lo_open: bool = False,
        hi: float | None = None,
        why: str = "",
    ) -> float:
        """Check one number value (see :meth:`float_`)."""
        if lo is None:
            bounds = f" <= {num(hi)}" if hi is not None else ""
        elif hi is None:
            bounds = f" {'>' if lo_open else '>='} {num(lo)}"
        else:
            bounds = f" in {num(lo)}..{num(hi)}" + (f" (excluding {num(lo)})" if lo_open else "")
        expected = f"a finite number{bounds}" + (f" ({why})" if why else "")
        if not is_number(value):
            self.fail(key, expected, describe(value))
        try:
            x = float(cast(float, value))
        except OverflowError:
            self.fail(key, expected, describe(value))
        ok = math.isfinite(x)
        if ok and lo is not None:
            ok = x > lo if lo_open else x >= lo
        if ok and hi is not None:
            ok = x <= hi
        if not ok:
            self.fail(key, expected, describe(value))
        return x

    def str_(self, table: Mapping[Any, Any], path: str, name: str, expected: str) -> str:
        """A string (no other check)."""
        value = table.get(name, MISSING)
        if not isinstance(value, str):
            self.fail(join_key(path, name), expected, describe(value))
        return value

    def choice(
        self,
        table: Mapping[Any, Any],
        path: str,
        name: str,
        options: Sequence[str],
        default: str | None = None,
        why: str = "",
    ) -> str:
        """One of ``options``."""
        value = table.get(name, MISSING)
        if value is MISSING and default is not None:
            return default
        if not isinstance(value, str) or value not in options:
            expected = f"one of {choices(options)}" + (f" ({why})" if why else "")
            self.fail(join_key(path, name), expected, describe(value))
        return value

    def array(self, value: object, key: str, expected: str) -> Sequence[Any]:
        """A TOML array (a list; a tuple is accepted from Python callers)."""
        if not isinstance(value, list | tuple):
            self.fail(key, expected, describe(value))
        return value

    def identifier(self, name: object, key: str, what: str) -> str:
        """A name used in column keys and on the wire: a short ASCII identifier."""
        if not isinstance(name, str) or len(name) > MAX_NAME_LEN or not IDENTIFIER.fullmatch(name):
            got = f"key {describe(name)}" if isinstance(name, str) else describe(name)
            self.fail(key, f"{what} that is {IDENTIFIER_TEXT}", got)
        return name

    # -- sections ----------------------------------------------------------------------

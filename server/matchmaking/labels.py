"""Match labels and the filters that select matches by them.

Labels are a small flat map ``{key: value}`` with string, number or boolean values
(``{"mode": "ctf", "skill": 1400, "ranked": true}``). A filter names, per key, either a
value (equality) or a map of operators::

    {"mode": "ctf", "skill": {">=": 100, "<": 200}, "region": {"!=": "us"}}

Equality (``==``, or a bare value) and ``!=`` work on every type; the range operators
``>``, ``>=``, ``<``, ``<=`` need numbers. Matchmaker queries may also use ``±`` (ASCII
``+-``): a window of that width around the ticket's own property of the same key, widened
over time by the matchmaker. A label a filter names but the match lacks never matches.

Caps (documented in docs/protocol.md; exceeding one is a clear :class:`BadLabels` or
:class:`BadFilter`, never a truncation):

- at most ``MAX_LABELS`` (16) labels, keys of 1..``MAX_KEY_CHARS`` (32) characters from
  ``[A-Za-z0-9_-]`` starting with a letter or ``_``;
- string values up to ``MAX_VALUE_CHARS`` (64) characters; numbers finite with
  magnitude at most ``MAX_NUMBER`` (1e15);
- filters name at most ``MAX_FILTER_KEYS`` (16) keys, each with at most ``MAX_OPERATORS``
  (4) operators; a filter is two levels deep at most (key, then operator): anything
  nested deeper is refused before it is looked at.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.matchmaking.errors import BadFilter, BadLabels

Scalar = str | bool | int | float
Labels = dict[str, Scalar]

MAX_LABELS = 16
MAX_KEY_CHARS = 32
MAX_VALUE_CHARS = 64
MAX_NUMBER = 1e15
MAX_FILTER_KEYS = 16
MAX_OPERATORS = 4

KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,31}")
RANGE_OPS = frozenset((">", ">=", "<", "<="))
RELATIVE_OPS = frozenset(("±", "+-"))
OPERATORS = frozenset(("==", "!=")) | RANGE_OPS | RELATIVE_OPS


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_key(key: Any, what: type[BadLabels] | type[BadFilter]) -> str:
    """``key`` if it is a valid label key, else raise ``what`` naming it."""
    if not isinstance(key, str) or KEY_RE.fullmatch(key) is None:
        raise what(
            f"label key {_describe(key)}: expected 1-{MAX_KEY_CHARS} characters of "
            "[A-Za-z0-9_-] starting with a letter or _"
        )
    return key


def check_scalar(key: str, value: Any, what: type[BadLabels] | type[BadFilter]) -> Scalar:
    """``value`` if it is a valid label value, else raise ``what`` naming the key."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if len(value) > MAX_VALUE_CHARS:
            raise what(f"label {key!r}: strings are at most {MAX_VALUE_CHARS} characters")
        return value
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > MAX_NUMBER:
            raise what(f"label {key!r}: numbers must be finite, at most {MAX_NUMBER:g}")
        return value
    raise what(f"label {key!r}: expected a string, number or boolean, got {type(value).__name__}")


def validate_labels(raw: Any) -> Labels:
    """A checked copy of ``raw`` as labels (raise :class:`BadLabels` on any fault)."""
    if not isinstance(raw, Mapping):
        raise BadLabels(f"labels: expected a map, got {type(raw).__name__}")
    if len(raw) > MAX_LABELS:
        raise BadLabels(f"labels: at most {MAX_LABELS} labels, got {len(raw)}")
    return {check_key(k, BadLabels): check_scalar(k, v, BadLabels) for k, v in raw.items()}


def merge_labels(*layers: Mapping[str, Scalar]) -> Labels:
    """Later layers override earlier ones; the result is held to the same caps."""
    merged: Labels = {}
    for layer in layers:
        merged.update(layer)
    if len(merged) > MAX_LABELS:
        raise BadLabels(f"labels: at most {MAX_LABELS} labels, got {len(merged)}")
    return merged


def is_number(value: Any) -> bool:
    """Numbers, not booleans (``True`` is an int to Python, not to a filter)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def same(a: Scalar, b: Scalar) -> bool:
    """Equality that keeps kinds apart: ``True`` is not ``1`` and ``"1"`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return type(a) is type(b) and a == b
    return a == b


@dataclass(frozen=True, slots=True)
class Clause:
    """The constraint of one key: accepted values, refused values, a numeric range."""

    key: str
    equals: tuple[Scalar, ...] = ()
    """If not empty, the label must equal one of these (same kind)."""
    differs: tuple[Scalar, ...] = ()
    lo: float = -math.inf
    lo_open: bool = False
    hi: float = math.inf
    hi_open: bool = False
    around: float | None = None
    """Matchmaker queries: ``±`` width around the ticket's own property."""

    @property
    def ranged(self) -> bool:
        """Whether the label must be a number (a range or a relative window is set)."""
        return self.lo > -math.inf or self.hi < math.inf or self.around is not None

    def accepts(
        self, value: Scalar | None, lo: float | None = None, hi: float | None = None
    ) -> bool:
        """Whether a label value satisfies the clause; ``lo``/``hi`` replace the range
        (the matchmaker passes the widened window of ``around`` this way)."""
        if value is None:
            return False
        if self.equals and not any(same(value, e) for e in self.equals):
            return False
        if any(same(value, d) for d in self.differs):
            return False
        if not self.ranged:
            return True
        if not is_number(value):
            return False
        v = float(value)
        low = self.lo if lo is None else max(self.lo, lo)
        high = self.hi if hi is None else min(self.hi, hi)
        if v < low or (self.lo_open and v == self.lo):
            return False
        return not (v > high or (self.hi_open and v == self.hi))


@dataclass(frozen=True, slots=True)
class Filter:
    """A parsed filter: every clause must accept (an empty filter accepts everything)."""

    clauses: tuple[Clause, ...] = ()

    def matches(self, labels: Mapping[str, Scalar]) -> bool:
        """Whether labels pass every clause (relative ``±`` windows are ignored here)."""
        return all(c.accepts(labels.get(c.key)) for c in self.clauses)

    def equalities(self) -> Labels:
        """The single-valued equalities: the labels a match created for this filter gets."""
        return {c.key: c.equals[0] for c in self.clauses if len(c.equals) == 1}

    def __bool__(self) -> bool:
        return bool(self.clauses)


def _operand(key: str, op: str, value: Any) -> Scalar:
    if isinstance(value, Mapping | list | tuple):
        raise BadFilter(
            f"filter {key!r}: operator {op!r} takes a value, not a {type(value).__name__} "
            "(filters are two levels deep at most)"
        )
    scalar = check_scalar(key, value, BadFilter)
    if op in RANGE_OPS | RELATIVE_OPS and not is_number(scalar):
        raise BadFilter(f"filter {key!r}: operator {op!r} needs a number, got {_describe(value)}")
    if op in RELATIVE_OPS and float(scalar) < 0:
        raise BadFilter(f"filter {key!r}: '±' needs a width >= 0, got {scalar}")
    return scalar


def _clause(key: str, spec: Any, relative: bool) -> Clause:
    if not isinstance(spec, Mapping):
        return Clause(key, equals=(_operand(key, "==", spec),))
    if not spec:
        raise BadFilter(f"filter {key!r}: an operator map needs at least one operator")
    if len(spec) > MAX_OPERATORS:
        raise BadFilter(f"filter {key!r}: at most {MAX_OPERATORS} operators, got {len(spec)}")
    equals: list[Scalar] = []
    differs: list[Scalar] = []
    lo, lo_open, hi, hi_open = -math.inf, False, math.inf, False
    around: float | None = None
    for op, value in spec.items():
        if op not in OPERATORS or (op in RELATIVE_OPS and not relative):
            allowed = sorted(OPERATORS if relative else OPERATORS - RELATIVE_OPS)
            raise BadFilter(
                f"filter {key!r}: unknown operator {_describe(op)} (expected one of {allowed})"
            )
        operand = _operand(key, op, value)
        if op == "==":
            equals.append(operand)
        elif op == "!=":
            differs.append(operand)
        elif op in RELATIVE_OPS:
            around = float(operand)
        elif op in (">", ">="):
            lo, lo_open = float(operand), op == ">"
        else:
            hi, hi_open = float(operand), op == "<"
    return Clause(key, tuple(equals), tuple(differs), lo, lo_open, hi, hi_open, around)


def parse_filter(raw: Any, *, relative: bool = False) -> Filter:
    """Parse a filter map (``relative=True``: a matchmaker query, which may use ``±``).

    Raises :class:`BadFilter` naming the key and what was wrong.
    """
    if raw is None:
        return Filter()
    if not isinstance(raw, Mapping):
        raise BadFilter(f"filter: expected a map, got {type(raw).__name__}")
    if len(raw) > MAX_FILTER_KEYS:
        raise BadFilter(f"filter: at most {MAX_FILTER_KEYS} keys, got {len(raw)}")
    return Filter(tuple(_clause(check_key(k, BadFilter), v, relative) for k, v in raw.items()))

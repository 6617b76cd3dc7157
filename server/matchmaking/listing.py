"""The ``GET /matches`` query string: which game, open matches only, label filters, paging.

::

    /matches?game=tag&open=1&label.mode=ctf&label.skill.gte=100&label.skill.lt=200&limit=20

- ``game``: one game's matches (default: every game);
- ``open``: ``1``/``true`` lists only matches with a free seat (``0``/``false``: all);
- ``label.<key>=<value>``: the label equals the value (a string, or the number or boolean
  the text spells: ``label.skill=100`` matches the number 100 and the string ``"100"``);
  repeat it to accept any of several values;
- ``label.<key>.<op>=<number>`` with ``op`` one of ``gt``, ``gte``, ``lt``, ``lte``;
  ``label.<key>.ne=<value>`` refuses a value; ``label.<key>.eq`` is the long form of equality;
- ``offset`` (default 0) and ``limit`` (1..100, default 50) page the answer;
- ``format=json|html`` is the page's own choice and passes through.

Anything else (an unknown parameter, a repeated range operator, a number that does not
parse, more than ``MAX_PARAMS`` parameters) is a :class:`BadListingQuery`. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from server.matchmaking.errors import BadFilter, BadLabels, BadListingQuery
from server.matchmaking.labels import (
    MAX_FILTER_KEYS,
    Clause,
    Filter,
    Scalar,
    check_key,
    check_scalar,
)

MAX_QUERY_CHARS = 2048
MAX_PARAMS = 24
MAX_LIMIT = 100
DEFAULT_LIMIT = 50
MAX_OFFSET = 1_000_000
_RANGE = ("gt", "gte", "lt", "lte")
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no", "")


@dataclass(frozen=True, slots=True)
class ListingQuery:
    """What a listing asks for."""

    game: str | None = None
    open_only: bool = False
    filter: Filter = field(default_factory=Filter)
    offset: int = 0
    limit: int = DEFAULT_LIMIT

    def page(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``GET /matches`` answer for all matching ``rows``: this query's page of them,
        the total, and ``next_offset`` (None on the last page)."""
        page = rows[self.offset : self.offset + self.limit]
        end = self.offset + len(page)
        return {
            "matches": page,
            "total": len(rows),
            "offset": self.offset,
            "limit": self.limit,
            "next_offset": end if end < len(rows) else None,
        }


def _text_values(text: str) -> tuple[Scalar, ...]:
    """The values a URL's text may stand for: itself, plus the number or boolean it spells."""
    values: list[Scalar] = [text]
    if text in ("true", "false"):
        values.append(text == "true")
    else:
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                values.append(int(number) if number.is_integer() else number)
    return tuple(values)


def _number(name: str, text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise BadListingQuery(f"{name}: expected a number, got {text[:40]!r}") from None
    if not math.isfinite(number):
        raise BadListingQuery(f"{name}: expected a finite number, got {text[:40]!r}")
    return number


def _int(name: str, text: str, lo: int, hi: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise BadListingQuery(f"{name}: expected an integer, got {text[:40]!r}") from None
    if not lo <= value <= hi:
        raise BadListingQuery(f"{name}: expected {lo}..{hi}, got {value}")
    return value


@dataclass(slots=True)
class _Building:
    equals: list[Scalar]
    differs: list[Scalar]
    bounds: dict[str, float]


def parse_listing_query(query: str) -> ListingQuery:
    """Parse the part of a URL after ``?`` (raise :class:`BadListingQuery`)."""
    if len(query) > MAX_QUERY_CHARS:
        raise BadListingQuery(f"query string: at most {MAX_QUERY_CHARS} characters")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_PARAMS)
    except ValueError:
        raise BadListingQuery(f"query string: at most {MAX_PARAMS} parameters") from None
    game: str | None = None
    open_only = False
    offset, limit = 0, DEFAULT_LIMIT
    keys: dict[str, _Building] = {}
    for name, value in pairs:
        if name == "game":
            game = value
        elif name == "open":
            if value.lower() not in _TRUE + _FALSE:
                raise BadListingQuery(f"open: expected 1 or 0, got {value[:40]!r}")
            open_only = value.lower() in _TRUE
        elif name == "offset":
            offset = _int(name, value, 0, MAX_OFFSET)
        elif name == "limit":
            limit = _int(name, value, 1, MAX_LIMIT)
        elif name == "format":
            continue
        elif name.startswith("label."):
            _label_param(keys, name, value)
        else:
            raise BadListingQuery(
                f"unknown parameter {name[:40]!r} (expected game, open, offset, limit, "
                "label.<key>[.<op>])"
            )
    if len(keys) > MAX_FILTER_KEYS:
        raise BadListingQuery(f"at most {MAX_FILTER_KEYS} label keys, got {len(keys)}")
    clauses = []
    for key, b in keys.items():
        lo_op = next((op for op in ("gt", "gte") if op in b.bounds), None)
        hi_op = next((op for op in ("lt", "lte") if op in b.bounds), None)
        clauses.append(
            Clause(
                key,
                tuple(b.equals),
                tuple(b.differs),
                b.bounds[lo_op] if lo_op else -math.inf,
                lo_op == "gt",
                b.bounds[hi_op] if hi_op else math.inf,
                hi_op == "lt",
            )
        )
    return ListingQuery(game, open_only, Filter(tuple(clauses)), offset, limit)


def _label_param(keys: dict[str, _Building], name: str, value: str) -> None:
    rest = name[len("label.") :]
    key, _, op = rest.partition(".")
    try:
        check_key(key, BadFilter)
        check_scalar(key, value, BadLabels)
    except (BadFilter, BadLabels) as exc:
        raise BadListingQuery(f"{name[:60]}: {exc.message}") from None
    b = keys.setdefault(key, _Building([], [], {}))
    if op in ("", "eq"):
        b.equals.extend(_text_values(value))
    elif op == "ne":
        b.differs.extend(_text_values(value))
    elif op in _RANGE:
        same_side = ("gt", "gte") if op in ("gt", "gte") else ("lt", "lte")
        if any(o in b.bounds for o in same_side):
            raise BadListingQuery(f"{name}: one lower and one upper bound per key")
        b.bounds[op] = _number(name, value)
    else:
        raise BadListingQuery(
            f"{name[:60]}: unknown operator {op[:20]!r} (expected eq, ne, gt, gte, lt, lte)"
        )

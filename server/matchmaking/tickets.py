"""Matchmaker tickets: who wants a match, what they are, what they accept.

A ticket (the body of ``POST /matchmake/queue``)::

    {"game": "arena", "properties": {"region": "eu", "skill": 1400},
     "query": {"region": "eu", "skill": {"±": 100}}, "min_players": 2, "max_players": 4}

``properties`` are labels (same types and caps); ``query`` is a filter (see
:mod:`server.matchmaking.labels`) over the *other* tickets' properties, where ``±`` means a
window around this ticket's own property of that key, widened by ``widen_per_s`` for every
second the ticket has waited. Two tickets can share a match only if each one's query
accepts the other's properties. Pure: no I/O, no clock.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.matchmaking.errors import BadTicket
from server.matchmaking.labels import Filter, Labels, is_number, parse_filter, validate_labels

MAX_TICKET_PLAYERS = 64
MAX_WIDEN_PER_S = 1e6
TICKET_KEYS = frozenset(
    ("game", "properties", "query", "min_players", "max_players", "widen_per_s")
)


@dataclass(slots=True)
class Ticket:
    """One player's (or party's seat's) wish to be matched."""

    ticket_id: str
    game: str
    properties: Labels
    query: Filter
    min_players: int
    max_players: int
    widen_per_s: float
    created_s: float
    expires_s: float
    address: str = ""

    def window(self, around: float, own: float, now_s: float) -> tuple[float, float]:
        """The ``±`` window of this ticket at ``now_s`` around its own value ``own``."""
        width = around + self.widen_per_s * max(0.0, now_s - self.created_s)
        return own - width, own + width

    def accepts(self, other: Ticket, now_s: float) -> bool:
        """Whether this ticket's query accepts ``other``'s properties at ``now_s``."""
        for c in self.query.clauses:
            value = other.properties.get(c.key)
            if c.around is None:
                if not c.accepts(value):
                    return False
                continue
            lo, hi = self.window(c.around, float(self.properties[c.key]), now_s)
            if not c.accepts(value, lo, hi):
                return False
        return True


def _count(body: Mapping[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if type(value) is not int or not 1 <= value <= MAX_TICKET_PLAYERS:
        raise BadTicket(f"{key}: expected an integer 1..{MAX_TICKET_PLAYERS}, got {value!r:.40}")
    return value


def parse_ticket(
    body: Any,
    now_s: float,
    ttl_s: float,
    default_widen_per_s: float,
    default_game: str,
    address: str = "",
) -> Ticket:
    """A validated ticket from a request body (raise :class:`BadTicket` et al.)."""
    if not isinstance(body, Mapping):
        raise BadTicket(f"ticket: expected a JSON object, got {type(body).__name__}")
    unknown = set(body) - TICKET_KEYS
    if unknown:
        raise BadTicket(f"ticket: unknown keys {sorted(map(str, unknown))[:5]}")
    game = body.get("game", default_game)
    if not isinstance(game, str) or not game:
        raise BadTicket("game: expected a game name")
    properties = validate_labels(body.get("properties", {}))
    query = parse_filter(body.get("query", {}), relative=True)
    for c in query.clauses:
        if c.around is not None and not is_number(properties.get(c.key)):
            raise BadTicket(f"query {c.key!r}: '±' needs a number in properties.{c.key}")
    lo = _count(body, "min_players", 2)
    hi = _count(body, "max_players", max(lo, 2))
    if lo > hi:
        raise BadTicket(f"min_players {lo} is more than max_players {hi}")
    widen = body.get("widen_per_s", default_widen_per_s)
    if not is_number(widen) or not 0 <= widen <= MAX_WIDEN_PER_S:
        raise BadTicket(f"widen_per_s: expected a number 0..{MAX_WIDEN_PER_S:g}")
    return Ticket(
        ticket_id=secrets.token_urlsafe(12),
        game=game,
        properties=properties,
        query=query,
        min_players=lo,
        max_players=hi,
        widen_per_s=float(widen),
        created_s=now_s,
        expires_s=now_s + ttl_s,
        address=address,
    )

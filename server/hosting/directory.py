"""The directory of games and matches: which match a join request lands in.

One :class:`Game` per definition the server was started with (its own
:class:`~server.hosting.manager.MatchManager`: pool, capacity, defaults, labels from
``[game.labels]``). The :class:`Directory` answers a
:class:`~server.matchmaking.requests.JoinRequest` with a match, in this order:
``match_id`` (MATCH_NOT_FOUND / private without its code: JOIN_REJECTED / MATCH_FULL) →
``code`` (failed attempts rate-limited per address) → ``create`` → ``filters``
(join-or-create among listed matches whose labels match) → quick join (the fullest listed
match with room, else a new one). Seats held by pending reservations count against a
match's room. Private matches are never listed and never quick-joined.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from server.errors import DefinitionError, JoinRejected, MatchFull, MatchNotFound
from server.gamedef.schema import GameDefinition
from server.hosting.manager import MatchManager
from server.match.match import Match, MatchState
from server.matchmaking.codes import new_code, normalize_code
from server.matchmaking.errors import BadLabels
from server.matchmaking.labels import Labels, merge_labels, validate_labels
from server.matchmaking.listing import ListingQuery
from server.matchmaking.ratelimit import AddressLimiter
from server.matchmaking.requests import CreateSpec, JoinRequest
from server.matchmaking.reservations import ReservationBook
from server.net.protocol import CloseCode


class CodeAttemptsLimited(JoinRejected):
    """Too many failed join-code attempts from one address (close RATE_LIMITED, HTTP 429)."""

    default_close_code = CloseCode.RATE_LIMITED


def definition_labels(definition: GameDefinition) -> Labels:
    """``[game.labels]`` of the definition's file (empty for a definition built in code)."""
    if definition.source.startswith("<"):
        return {}
    try:
        with open(definition.source, "rb") as fh:
            raw = tomllib.load(fh).get("game", {}).get("labels", {})
        return validate_labels(raw)
    except OSError:
        return {}
    except BadLabels as exc:
        raise DefinitionError(definition.source, "game.labels", "labels", exc.message) from None


@dataclass(slots=True)
class Game:
    """One game of the server."""

    definition: GameDefinition
    manager: MatchManager
    labels: Labels = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The definition's ``[game] name``."""
        return self.definition.name


class Directory:
    """Every game of the process and the way into their matches."""

    def __init__(
        self,
        definitions: list[GameDefinition],
        max_matches: int,
        reservations: ReservationBook,
        code_attempts: AddressLimiter,
    ) -> None:
        ids = itertools.count(1)
        self.games: dict[str, Game] = {}
        for d in definitions:
            if d.name in self.games:
                raise DefinitionError(d.source, "game.name", "a name no other game has", d.name)
            manager = MatchManager(d, max_matches, ids=ids)
            self.games[d.name] = Game(d, manager, definition_labels(d))
        self.default = definitions[0].name
        self.reservations = reservations
        self.code_attempts = code_attempts
        self.codes: dict[str, Match] = {}
        self.locked: set[str] = set()
        """Match ids an admin locked: they take no one new (hosting shares its set)."""

    # -- lookups ---------------------------------------------------------------------------

    def game(self, name: str | None) -> Game:
        """The named game (the first one for None); JoinRejected if there is none."""
        game = self.games.get(name or self.default)
        if game is None:
            wanted = (name or "")[:40]
            raise JoinRejected(f"no game {wanted!r} here (games: {', '.join(self.games)})")
        return game

    def matches(self) -> Iterator[Match]:
        """Every match of every game (ended ones too, until forgotten)."""
        for g in self.games.values():
            yield from g.manager.matches.values()

    def find(self, match_id: str) -> Match | None:
        """The live match with this id in any game."""
        for g in self.games.values():
            m = g.manager.find(match_id)
            if m is not None:
                return m
        return None

    def room(self, match: Match, now_s: float) -> int:
        """Free seats: capacity minus players minus pending reservations."""
        return match.capacity - match.players - self.reservations.held(match.match_id, now_s)

    def listed(self, match: Match) -> bool:
        """Live, public and not locked."""
        return (
            match.state is not MatchState.ENDED
            and not match.private
            and match.match_id not in self.locked
        )

    # -- choosing --------------------------------------------------------------------------

    def choose(self, req: JoinRequest, now_s: float, address: str) -> Match:
        """The match ``req`` lands in (created if it asks for that); see the module docstring.

        Raises MatchNotFound, MatchFull, JoinRejected (incl. CodeAttemptsLimited).
        """
        game = self.game(req.game)
        if req.match_id is not None:
            match = self.find(req.match_id)
            if match is None or (req.game is not None and match.definition.name != game.name):
                raise MatchNotFound(f"no match {req.match_id[:40]!r}")
            if match.private and (req.code is None or normalize_code(req.code) != match.join_code):
                raise JoinRejected("match is private: join it with its code")
            return self._with_room(match, req, now_s)
        if req.code is not None:
            return self._with_room(self._by_code(req.code, now_s, address), req, now_s)
        if req.create is not None:
            return self.create(game, req.create)
        live = [m for m in game.manager.matches.values() if self.listed(m)]
        if req.spectate and req.filters is None:
            if live:
                return max(live, key=lambda m: m.players)
            return self.create(game, CreateSpec())
        if req.filters is not None:
            live = [m for m in live if req.filters.matches(m.label_values)]
        open_ = [m for m in live if self.room(m, now_s) > 0]
        if open_:
            return max(open_, key=lambda m: m.players)
        if not req.may_create:
            raise MatchNotFound("no open match matches the filters")
        if not game.manager.accepting_matches:
            raise MatchFull("every match is full and the server is not starting new ones")
        labels = req.filters.equalities() if req.filters is not None else {}
        return self.create(game, CreateSpec(labels=labels))

    def _with_room(self, match: Match, req: JoinRequest, now_s: float) -> Match:
        if match.match_id in self.locked:
            raise JoinRejected("match is locked")
        if not req.spectate and self.room(match, now_s) <= 0:
            raise MatchFull(f"match {match.match_id} is full ({match.capacity} players)")
        return match

    def _by_code(self, text: str, now_s: float, address: str) -> Match:
        if self.code_attempts.tokens(address, now_s) < 1:
            raise CodeAttemptsLimited("too many wrong join codes: wait and try again")
        code = normalize_code(text)
        match = self.codes.get(code) if code is not None else None
        if match is None or match.state is MatchState.ENDED:
            self.code_attempts.allow(address, now_s)
            raise JoinRejected("no match has this code")
        return match

    def create(self, game: Game, spec: CreateSpec) -> Match:
        """A new match of ``game`` with the game's labels overlaid by the spec's."""
        if not game.manager.accepting_matches:
            raise JoinRejected("server is not starting new matches")
        if spec.code is not None and spec.code in self.codes:
            raise JoinRejected("that join code is taken: try again")
        labels = merge_labels(game.labels, spec.labels)
        definition = game.definition
        if spec.max_players is not None:
            if spec.max_players > definition.max_players:
                raise JoinRejected(
                    f"max_players {spec.max_players} is over the game's {definition.max_players}"
                )
            definition = dataclasses.replace(definition, max_players=spec.max_players)
        match = game.manager.create(definition)
        match.label_values.update(labels)
        match.empty_since_s = time.perf_counter()  # retired if nobody ever comes
        if spec.private:
            match.private = True
            match.join_code = spec.code or new_code(self.codes)
            self.codes[match.join_code] = match
        return match

    def forget(self, match: Match) -> None:
        """An ended match: drop its code and its pending reservations."""
        if match.join_code is not None:
            self.codes.pop(match.join_code, None)
        self.reservations.release_match(match.match_id)

    # -- listing ---------------------------------------------------------------------------

    def listing(self, query: ListingQuery, now_s: float) -> dict[str, Any]:
        """``GET /matches``: listed matches of the query's game(s), filtered, one page."""
        games = [self.game(query.game)] if query.game is not None else self.games.values()
        rows = []
        for g in games:
            for m in g.manager.matches.values():
                if not self.listed(m) or not query.filter.matches(m.label_values):
                    continue
                room = self.room(m, now_s)
                if query.open_only and room <= 0:
                    continue
                rows.append(
                    {**m.labels(), "labels": dict(m.label_values), "open": room > 0, "room": room}
                )
        return query.page(rows)

"""The match manager: create, find, list, join-or-create, retire.

One process runs many matches of one game definition. ``join_or_create`` fills the
open match with the most players that still has room (players meet each other sooner)
and creates a new match only when none has room.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from typing import Any

from server.errors import JoinRejected, MatchFull
from server.gamedef.schema import GameDefinition
from server.match.handler import MatchHandler
from server.match.match import Match, MatchState


class MatchManager:
    """Owns every match of the process."""

    def __init__(
        self,
        definition: GameDefinition,
        max_matches: int = 64,
        handler_factory: Callable[[], MatchHandler] | None = None,
        timer: Callable[[], float] = time.perf_counter,
        ids: Iterator[int] | None = None,
    ) -> None:
        self.definition = definition
        self.max_matches = max_matches
        self.matches: dict[str, Match] = {}
        self._handler_factory = handler_factory
        self._ids = ids if ids is not None else itertools.count(1)
        """Match numbers; several games share one counter so match ids stay unique."""
        self._timer = timer
        self.accepting_matches = True
        """False while degraded or draining: join_or_create will not create."""
        self.on_created: list[Callable[[Match], None]] = []
        self.id_prefix = "m"
        """Match ids are ``<id_prefix><n>``; a cluster node sets ``<node id>~m``."""

    def create(self, definition: GameDefinition | None = None) -> Match:
        """Start a new match (raises MatchFull when the process is at ``max_matches``)."""
        live = [m for m in self.matches.values() if m.state is not MatchState.ENDED]
        if len(live) >= self.max_matches:
            raise MatchFull(f"server runs its maximum of {self.max_matches} matches")
        n = next(self._ids)
        match_id = f"{self.id_prefix}{n}"
        handler = self._handler_factory() if self._handler_factory else None
        match = Match(definition or self.definition, match_id, n, handler, self._timer)
        self.matches[match_id] = match
        for cb in self.on_created:
            cb(match)
        return match

    def find(self, match_id: str) -> Match | None:
        """The match with this id, if it exists and has not ended."""
        m = self.matches.get(match_id)
        return m if m is not None and m.state is not MatchState.ENDED else None

    def list_matches(self) -> list[dict[str, Any]]:
        """Labels of every live match."""
        return [m.labels() for m in self.matches.values() if m.state is not MatchState.ENDED]

    def join_or_create(
        self, spectator: bool = False, exclude: AbstractSet[str] = frozenset()
    ) -> Match:
        """A match with room for one more player (a new one if needed and allowed);
        matches whose id is in ``exclude`` (locked by an admin) take no one new."""
        live = [
            m
            for m in self.matches.values()
            if m.state is not MatchState.ENDED and m.match_id not in exclude
        ]
        if spectator:
            if live:
                return max(live, key=lambda m: m.players)
            if not self.accepting_matches:
                raise JoinRejected("server is not starting new matches")
            return self.create()
        open_ = [m for m in live if m.players < m.capacity]
        if open_:
            return max(open_, key=lambda m: m.players)
        if not self.accepting_matches:
            raise MatchFull("every match is full and the server is not starting new ones")
        return self.create()

    def retire_empty(self, now_s: float, grace_s: float, keep: int = 1) -> list[Match]:
        """End matches empty for longer than ``grace_s``, keeping ``keep`` live ones."""
        live = [m for m in self.matches.values() if m.state is not MatchState.ENDED]
        retired: list[Match] = []
        for m in live:
            if len(live) - len(retired) <= keep:
                break
            if (
                m.players == 0
                and not m.spectators
                and m.empty_since_s is not None
                and now_s - m.empty_since_s > grace_s
            ):
                retired.append(m)
        return retired

    def forget_ended(self) -> None:
        """Drop ended matches from the table (their runners have stopped)."""
        for mid in [k for k, m in self.matches.items() if m.state is MatchState.ENDED]:
            del self.matches[mid]

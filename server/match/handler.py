"""Match lifecycle hooks, in the words Nakama and Colyseus users already know.

A :class:`MatchHandler` sees every join attempt (accept, or reject with a reason), join,
leave (with a :class:`LeaveReason`), tick and the final terminate. Hooks run on the
match's tick path, so they must be quick and must not await anything.

A handler that wants to know *who* joins also implements :class:`IdentityAware`:
``identity_attempt`` gets the player's verified identity (``sub``, ``name``, ``roles`` and
the token's free claims) before ``join_attempt``, and may refuse the same way.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from server.identity.claims import PlayerIdentity
    from server.match.match import Match, Seat
    from server.match.result import MatchResult


class LeaveReason(StrEnum):
    """Why a player left a match. ``DROPPED`` may come back (resume); the others left for good."""

    CONSENTED = "consented"
    """The client said leave."""
    DROPPED = "dropped"
    """The connection was lost; the seat is kept for the grace window."""
    EXPIRED = "expired"
    """A dropped player did not come back within the grace window."""
    KICKED = "kicked"
    """The server (a handler or an operator) removed the player."""
    SHUTDOWN = "shutdown"
    """The match or the server ended."""


class MatchHandler(Protocol):
    """Game-specific decisions around a match's lifecycle."""

    def join_attempt(self, match: Match, player_id: int, spectator: bool) -> str | None:
        """Return None to accept, or a reason to reject (sent to the client)."""

    def join(self, match: Match, seat: Seat) -> None:
        """A player took a seat (new, not a resume)."""

    def leave(self, match: Match, seat: Seat, reason: LeaveReason) -> None:
        """A player left or dropped."""

    def tick(self, match: Match, tick: int) -> None:
        """Called after each simulation step."""

    def terminate(self, match: Match, reason: str, result: MatchResult | None = None) -> None:
        """The match ends; no more ticks. ``result``: set when the game ended it (rules)."""


class IdentityAware(Protocol):
    """Optional handler hook: see the module docstring."""

    def identity_attempt(
        self, match: Match, identity: PlayerIdentity, spectator: bool
    ) -> str | None:
        """Return None to accept ``identity`` (its ``claims`` are the token's free claims),
        or a reason to reject (closed ``JOIN_REJECTED`` with it)."""


class DefaultHandler:
    """Accepts everyone the capacity allows; does nothing else."""

    def join_attempt(self, match: Match, player_id: int, spectator: bool) -> str | None:
        """Accept."""
        return None

    def join(self, match: Match, seat: Seat) -> None:
        """Nothing to do."""

    def leave(self, match: Match, seat: Seat, reason: LeaveReason) -> None:
        """Nothing to do."""

    def tick(self, match: Match, tick: int) -> None:
        """Nothing to do."""

    def terminate(self, match: Match, reason: str, result: MatchResult | None = None) -> None:
        """Nothing to do."""

"""The errors of matchmaking: each carries a stable code string and an HTTP status.

The gateway turns any of these into ``{"error": {"code": ..., "message": ...}}`` with
``status`` (HTTP routes) or into a close code (``HELLO``). The codes are listed in
docs/protocol.md.
"""

from __future__ import annotations

from server.errors import GameServerError


class MatchmakingError(GameServerError):
    """A matchmaking request was refused; ``code`` and ``status`` say why."""

    code = "bad_request"
    status = 400

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class BadFilter(MatchmakingError):
    """A filter or matchmaker query is malformed: wrong type, unknown operator, over a cap."""

    code = "bad_filter"


class BadLabels(MatchmakingError):
    """Labels are malformed or over a cap (count, key length, value length)."""

    code = "bad_labels"


class BadListingQuery(MatchmakingError):
    """A ``GET /matches`` query string that does not parse."""

    code = "bad_query"


class BadTicket(MatchmakingError):
    """A matchmaker ticket is malformed (player counts, properties, query)."""

    code = "bad_ticket"


class TooManyTickets(MatchmakingError):
    """One address holds its maximum of open tickets, or the queue is full."""

    code = "too_many_tickets"
    status = 429


class QueueFull(MatchmakingError):
    """The matchmaker holds its maximum number of tickets."""

    code = "queue_full"
    status = 503

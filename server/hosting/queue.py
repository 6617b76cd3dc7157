"""The matchmaker queue of a server: tickets in, matches and reservations out.

:class:`QueueService` wraps the pure :class:`~server.matchmaking.matchmaker.Matchmaker`:
``submit`` queues a ticket (``POST /matchmake/queue``), :meth:`run` forms matches every
``matchmaker_interval_ms``, creates each formed match (labels from what its tickets'
properties agree on) and reserves one seat per ticket; ``wait`` is the long poll a client
holds until its ticket is matched, expired, cancelled, or the poll times out. A result is
kept until its reservation expires, so a client whose poll timed out gets it on the next.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from server.errors import JoinRejected
from server.hosting.directory import Directory
from server.matchmaking.errors import BadTicket
from server.matchmaking.matchmaker import Matchmaker, PassResult
from server.matchmaking.requests import CreateSpec
from server.matchmaking.tickets import Ticket, parse_ticket


class QueueService:
    """Tickets, results and waiting polls of one server."""

    def __init__(
        self,
        directory: Directory,
        ticket_ttl_s: float,
        widen_per_s: float,
        max_tickets_per_address: int,
        max_tickets: int = 50_000,
    ) -> None:
        self.directory = directory
        self.matchmaker = Matchmaker(
            ticket_ttl_s=ticket_ttl_s,
            widen_per_s=widen_per_s,
            max_tickets=max_tickets,
            max_tickets_per_address=max_tickets_per_address,
        )
        self.results: dict[str, dict[str, Any]] = {}
        self._result_expiry: dict[str, float] = {}
        self._events: dict[str, asyncio.Event] = {}
        self.formed_total = 0
        self.id_prefix = ""
        """Put before every ticket id (a cluster node's ``<node id>~``, so polls route)."""

    def submit(self, body: Any, now_s: float, address: str) -> Ticket:
        """Validate and queue a ticket (raises MatchmakingError subclasses)."""
        mm = self.matchmaker
        ticket = parse_ticket(
            body, now_s, mm.ticket_ttl_s, mm.widen_per_s, self.directory.default, address
        )
        try:
            game = self.directory.game(ticket.game)
        except JoinRejected as exc:
            raise BadTicket(exc.reason) from None
        if ticket.max_players > game.definition.max_players:
            raise BadTicket(
                f"max_players {ticket.max_players} is over the game's {game.definition.max_players}"
            )
        if self.id_prefix:
            ticket.ticket_id = self.id_prefix + ticket.ticket_id
        mm.add(ticket)
        self._events[ticket.ticket_id] = asyncio.Event()
        return ticket

    def status(self, ticket_id: str) -> dict[str, Any] | None:
        """``waiting``, a result (``matched``/``expired``), or None for an unknown ticket."""
        if ticket_id in self.results:
            return self.results[ticket_id]
        if ticket_id in self.matchmaker.tickets:
            return {"status": "waiting", "ticket": ticket_id}
        return None

    async def wait(self, ticket_id: str, timeout_s: float) -> dict[str, Any] | None:
        """The ticket's status once it changes or after ``timeout_s``."""
        event = self._events.get(ticket_id)
        if event is not None and ticket_id not in self.results:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout_s)
        return self.status(ticket_id)

    def cancel(self, ticket_id: str) -> bool:
        """Take a waiting ticket out of the queue."""
        ticket = self.matchmaker.cancel(ticket_id)
        if ticket is None:
            return False
        self._finish(ticket.ticket_id, {"status": "cancelled", "ticket": ticket_id}, 0.0)
        return True

    def run(self, now_s: float) -> PassResult:
        """One matchmaker pass: create the formed matches, reserve their seats."""
        result = self.matchmaker.run(now_s)
        ttl = self.directory.reservations.ttl_s
        for fm in result.formed:
            game = self.directory.game(fm.game)
            cap = min(min(t.max_players for t in fm.tickets), game.definition.max_players)
            try:
                match = self.directory.create(game, CreateSpec(labels=fm.labels, max_players=cap))
            except JoinRejected:
                for t in fm.tickets:  # no room for a new match now: back in the queue
                    with contextlib.suppress(Exception):
                        self.matchmaker.add(t)
                continue
            self.formed_total += 1
            for t in fm.tickets:
                res = self.directory.reservations.reserve(match.match_id, now_s)
                body = {
                    "status": "matched",
                    "ticket": t.ticket_id,
                    "game": fm.game,
                    "match_id": match.match_id,
                    "reservation": res.token,
                    "expires_in_s": ttl,
                    "players": len(fm.tickets),
                }
                self._finish(t.ticket_id, body, now_s + ttl)
        for t in result.expired:
            self._finish(t.ticket_id, {"status": "expired", "ticket": t.ticket_id}, now_s + ttl)
        for tid in [k for k, exp in self._result_expiry.items() if exp <= now_s]:
            self.results.pop(tid, None)
            del self._result_expiry[tid]
        return result

    def _finish(self, ticket_id: str, body: dict[str, Any], keep_until_s: float) -> None:
        self.results[ticket_id] = body
        self._result_expiry[ticket_id] = keep_until_s
        event = self._events.pop(ticket_id, None)
        if event is not None:
            event.set()

    async def loop(self, interval_s: float) -> None:
        """Run a pass every ``interval_s`` until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval_s)
            self.run(loop.time())

"""Which node answers a ``POST /matchmake/*`` in a cluster (docs/operations.md, "Cluster").

:meth:`ClusterRouter.routes` turns one request into the nodes to try, in order; the
gateway (:mod:`server.gateway.matchmake`) answers a route for this node itself and
forwards the others over the directory. A later route is tried only when an earlier one
answered 403, 404 or 409 (the match filled, ended or moved since the directory saw it).

========================  ==================================================================
request                   routes
========================  ==================================================================
``match_id``              the node the id names (``<node id>~m<n>``); a node that is not
                          live -> 404 ``node_gone`` at once (no request to a dead node)
``join-by-code``          the rendezvous ring's first two nodes for the code (the second
                          covers a node that joined the cluster after the match was made)
create, private           a fresh code is drawn here; the match is made on the ring's node
                          for that code, with that code, so join-by-code finds it
create, public            the least-loaded node (:mod:`server.cluster.placement`)
join-or-create, join      the fullest open match of the game in the whole cluster whose
                          labels pass the filters (as ``join-by-id`` on its node), then
                          (when creating is allowed) the least-loaded node
queue (a new ticket)      the ring's node for ``queue:<game>``: every ticket of a game
                          meets in one matchmaker; its ticket id names that node
queue poll, unqueue       the node the ticket id names
========================  ==================================================================

Every route needs the directory: when this node's link to it is down, or a read fails,
the request fails fast with :class:`~server.directory.DirectoryUnavailable` (503
``directory_unavailable``); running matches never notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.cluster.placement import MATCH_COST, PLAYER_COST, Placer
from server.directory import DirectoryUnavailable, MatchRecord, NodeRecord, node_of_match
from server.errors import JoinRejected
from server.hosting.directory import Directory
from server.hosting.node import ClusterNode
from server.matchmaking.codes import new_code, normalize_code
from server.matchmaking.errors import MatchmakingError
from server.matchmaking.requests import JoinRequest, parse_body

FORWARDED_KEYS = ("game", "token", "name", "spectate")
"""What a quick join keeps of its body when it becomes ``join-by-id`` on another node."""


class NodeGone(MatchmakingError):
    """The request names a node (in a match id or ticket) that is no longer live."""

    status = 404
    code = "node_gone"


@dataclass(frozen=True, slots=True)
class Route:
    """Ask ``node_id`` to answer ``POST /matchmake/<kind>`` with ``body``."""

    node_id: str
    kind: str
    body: dict[str, Any]
    code: str | None = None
    """A private match's join code drawn by the routing node (the ring placed it by it)."""
    cost: float = PLAYER_COST
    """Cores the answer is expected to add to the node (counted as pending placement)."""


class ClusterRouter:
    """The routing decisions of one node (see the module docstring)."""

    def __init__(self, node: ClusterNode, games: Directory, placer: Placer | None = None) -> None:
        self.node = node
        self.games = games
        self.placer = placer or Placer(pending_s=2 * node.interval_s)

    def _check_link(self) -> None:
        """Fail fast while this node's last heartbeat failed (before the first one has
        been tried, Redis is simply asked)."""
        health = self.node.health
        if not health.up and health.failures > 0:
            raise DirectoryUnavailable(f"this node cannot reach the directory: {health.last_error}")

    async def _live(self) -> list[NodeRecord]:
        self._check_link()
        return await self.node.directory.live_nodes()

    async def _named(self, node_id: str, what: str) -> Route | None:
        """None when ``node_id`` is this node (answer here); NodeGone if it is not live."""
        if node_id == self.node.node_id:
            return None
        if node_id not in {n.node_id for n in await self._live()}:
            raise NodeGone(
                f"{what} was on node {node_id}, which is gone: matchmake again "
                "(POST /matchmake/join-or-create or the queue)"
            )
        return Route(node_id, "", {})

    async def routes(self, kind: str, body: Any, now_s: float) -> list[Route] | None:
        """The nodes to try for this request, best first; None: answer it here as a
        single node would (the body is malformed, or it names this node)."""
        if not isinstance(body, dict):
            return None
        if kind in ("queue", "unqueue"):
            return await self._queue_routes(kind, body)
        req = parse_body(kind, body)  # MatchmakingError -> the caller's 400
        if req.match_id is not None:
            target = node_of_match(req.match_id)
            if target is None:
                return None
            named = await self._named(target, f"match {req.match_id[:64]}")
            return None if named is None else [Route(named.node_id, kind, body)]
        quick_join = req.create is None and req.code is None and not req.spectate
        records: list[MatchRecord] = []
        if quick_join:  # one Lua call: the live nodes and the game's open-match index
            self._check_link()
            nodes, records = await self.node.directory.open_snapshot(self._game(req))
        else:
            nodes = await self._live()
        if not nodes:
            raise DirectoryUnavailable("no live node in the directory")
        if req.code is not None:
            code = normalize_code(req.code)
            if code is None:
                return None
            return [Route(n, kind, body) for n in Placer.keyed(nodes, f"code:{code}")[:2]]
        if req.create is not None and req.create.private:
            code = new_code()
            target = Placer.keyed(nodes, f"code:{code}")[0]
            return [Route(target, kind, body, code=code, cost=MATCH_COST + PLAYER_COST)]
        try:
            least = self.placer.least_loaded(nodes, now_s).node_id
        except ValueError:
            raise DirectoryUnavailable("every live node is draining") from None
        creating = Route(least, kind, body, cost=MATCH_COST + PLAYER_COST)
        if req.create is not None:
            return [creating]
        out: list[Route] = []
        if not quick_join:  # a spectator may watch a full match: not in the open index
            records = await self.node.directory.list_matches(self._game(req), nodes=nodes)
        best = self._fullest(records, req)
        if best is not None:
            quick = {k: body[k] for k in FORWARDED_KEYS if k in body}
            out.append(Route(best.node_id, "join-by-id", {**quick, "match_id": best.match_id}))
        if req.may_create or not out:
            out.append(creating)
        return out

    def placed(self, route: Route, now_s: float) -> None:
        """``route`` was answered with a reservation: count its cost against its node."""
        self.placer.note(route.node_id, route.cost, now_s)

    def _game(self, req: JoinRequest) -> str:
        try:
            return self.games.game(req.game).name
        except JoinRejected:
            return req.game or self.games.default

    @staticmethod
    def _fullest(records: list[MatchRecord], req: JoinRequest) -> MatchRecord | None:
        """The open match with the most players that the request's filters accept."""
        if req.spectate and req.filters is None:
            live = [r for r in records if not r.private and not r.locked]
        else:
            live = [r for r in records if r.open]
        if req.filters is not None:
            live = [r for r in live if req.filters.matches(r.labels)]
        if not live:
            return None
        return max(live, key=lambda r: (r.players + r.reserved, r.match_id))

    async def _queue_routes(self, kind: str, body: dict[str, Any]) -> list[Route] | None:
        ticket = body.get("ticket")
        if isinstance(ticket, str):
            target = node_of_match(ticket)
            if target is None:
                return None
            named = await self._named(target, f"ticket {ticket[:64]}")
            return None if named is None else [Route(named.node_id, kind, body)]
        if kind != "queue":
            return None
        game = body.get("game")
        name = game if isinstance(game, str) and game else self.games.default
        nodes = await self._live()
        if not nodes:
            raise DirectoryUnavailable("no live node in the directory")
        return [Route(Placer.keyed(nodes, f"queue:{name}")[0], kind, body)]

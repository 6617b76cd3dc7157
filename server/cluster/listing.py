"""``GET /matches`` on a clustered node: every live node's matches, read from the directory.

(The gateway's handler is :meth:`server.gateway.matchmake.MatchmakeRoutes.cluster_listing`;
this module is the pure part: directory entries to listing rows.)

Same query string and the same answer shape as a single node's listing (docs/operations.md,
"Endpoints"), each row with two more keys: ``node`` (the node id holding the match) and
``ws_url`` (where its players connect). Rows come from
:meth:`~server.directory.redis_store.RedisDirectory.list_matches`, which keeps only entries
of nodes whose heartbeat key exists at the moment of reading: a killed node's matches are
never listed once its heartbeat expired, even before Redis drops its match hash. The
counts are as fresh as the last heartbeat of each node (2 s by default).

When the directory cannot be read the answer is 503 ``directory_unavailable`` (no silent
fallback to this node's matches alone: a partial list would look like a complete one).
"""

from __future__ import annotations

from typing import Any

from server.directory import MatchRecord, NodeRecord
from server.matchmaking.listing import ListingQuery

_ROW_DEFAULTS: dict[str, Any] = {
    "mode": "",
    "spectators": 0,
    "tick_rate_hz": 0,
    "snapshot_rate_hz": 0,
    "tick": 0,
    "entities": 0,
}


def listing_rows(
    records: list[MatchRecord], nodes: list[NodeRecord], query: ListingQuery
) -> dict[str, Any]:
    """The listing answer for ``query`` over directory entries (pure)."""
    urls = {n.node_id: n.public_url for n in nodes}
    rows = []
    for r in records:
        if r.private or r.locked or r.state not in ("waiting", "running"):
            continue
        if r.node_id not in urls or not query.filter.matches(r.labels):
            continue
        if query.game is not None and r.game != query.game:
            continue
        room = max(0, r.room)
        if query.open_only and room <= 0:
            continue
        rows.append(
            {
                **_ROW_DEFAULTS,
                **r.info,
                "match_id": r.match_id,
                "game": r.game,
                "players": r.players,
                "capacity": r.capacity,
                "state": r.state,
                "labels": dict(r.labels),
                "open": room > 0,
                "room": room,
                "node": r.node_id,
                "ws_url": urls[r.node_id],
            }
        )
    return query.page(rows)

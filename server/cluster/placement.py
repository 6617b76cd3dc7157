"""Where a new match goes in a cluster: the least-loaded node, or the ring's node for a key.

Pure (no I/O, the clock is passed in). The inputs are the live nodes' heartbeats
(:class:`~server.directory.NodeRecord`: ``load`` = CPU cores the process used over the
last heartbeat interval, which weighs tick work, encoding and sockets alike; ``players``)
plus what this node itself placed since those heartbeats were written, which they cannot
show yet.

A node's **placement score** is, in cores::

    load + PLAYER_COST * players + pending

``PLAYER_COST`` (0.002 cores, ~500 players per core: the measured ceiling of one process is
600-1000 clients) counts players whose cost the CPU figure does not show yet (just seated,
just reserved); ``pending`` is the cost of the matches and seats this node sent to that
node in the last ``pending_s`` seconds (a match ``MATCH_COST``, a seat ``PLAYER_COST``), so
a burst of creates between two heartbeats spreads instead of all landing on the node that
was idle two seconds ago. The lowest score wins; ties go to the smaller node id.

**Keyed placements** (a private match's code, a matchmaker queue's game) go to the node a
:class:`~server.directory.RendezvousRing` over the live, non-draining node ids picks, so
every node sends the same key to the same node without asking anyone.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

from server.directory import NodeRecord, RendezvousRing

PLAYER_COST = 0.002
"""Cores one player costs a node (tick share, encoding, socket): ~500 players per core."""
MATCH_COST = 0.01
"""Cores a new, still empty match costs (its tick and snapshot loop)."""


def placement_score(node: NodeRecord, pending: float = 0.0) -> float:
    """The node's expected load in cores (lower is better); see the module docstring."""
    return node.load + PLAYER_COST * node.players + pending


@dataclass(slots=True)
class Placer:
    """Chooses nodes for new matches and keys, remembering its own recent placements.

    The placements of each node are a heap by expiry with a running sum, so a note and a
    look-up cost O(log n) (a quick join asks for the least-loaded node every time, at
    thousands of placements in ``pending_s``)."""

    pending_s: float = 4.0
    """How long a placement counts against its node (two heartbeats by default)."""
    _recent: dict[str, tuple[list[tuple[float, float]], list[float]]] = field(default_factory=dict)
    """node id -> (heap of (expiry, cost), [sum of those costs])."""

    def note(self, node_id: str, cost: float, now_s: float) -> None:
        """This node just sent ``cost`` cores of work to ``node_id``."""
        heap, total = self._recent.setdefault(node_id, ([], [0.0]))
        heapq.heappush(heap, (now_s + self.pending_s, cost))
        total[0] += cost

    def pending(self, node_id: str, now_s: float) -> float:
        """The cost placed on ``node_id`` that its heartbeat may not show yet."""
        entry = self._recent.get(node_id)
        if entry is None:
            return 0.0
        heap, total = entry
        while heap and heap[0][0] <= now_s:
            total[0] -= heapq.heappop(heap)[1]
        if not heap:
            del self._recent[node_id]  # also resets the float sum's rounding drift
            return 0.0
        return max(0.0, total[0])

    def least_loaded(self, nodes: Sequence[NodeRecord], now_s: float) -> NodeRecord:
        """The live, non-draining node with the lowest score; ValueError if there is none."""
        usable = [n for n in nodes if not n.draining]
        if not usable:
            raise ValueError("no live node takes new matches")
        return min(
            usable,
            key=lambda n: (placement_score(n, self.pending(n.node_id, now_s)), n.node_id),
        )

    @staticmethod
    def keyed(nodes: Sequence[NodeRecord], key: str) -> list[str]:
        """The node ids for ``key``, best first (the ring's order over the usable nodes)."""
        return RendezvousRing(n.node_id for n in nodes if not n.draining).ranked(key)

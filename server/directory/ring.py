"""Keyed placement: rendezvous (highest-random-weight) hashing over the live nodes.

Each (key, node) pair gets a score from a keyed BLAKE2b hash; the key goes to the node
with the highest score. Adding or removing one of N nodes moves only the keys whose best
node changed: about 1/N of them (tests/directory/test_ring.py measures it), and no state
is shared besides the list of node ids. Chosen over a ring with virtual nodes because it
needs no tuning (no virtual-node count) and the node lists here are small (tens), where
its O(N) per look-up costs microseconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence


def _score(key: str, node: str) -> int:
    digest = hashlib.blake2b(f"{node}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class RendezvousRing:
    """Picks a node for a key; the same key and node set always give the same node."""

    def __init__(self, nodes: Iterable[str] = ()) -> None:
        self._nodes: tuple[str, ...] = tuple(sorted(set(nodes)))

    @property
    def nodes(self) -> Sequence[str]:
        """The node ids, sorted."""
        return self._nodes

    def with_nodes(self, nodes: Iterable[str]) -> RendezvousRing:
        """A ring over another node set (rings are immutable)."""
        return RendezvousRing(nodes)

    def pick(self, key: str) -> str:
        """The node for ``key``; ValueError when the ring is empty."""
        if not self._nodes:
            raise ValueError("no nodes to place on")
        return max(self._nodes, key=lambda node: (_score(key, node), node))

    def ranked(self, key: str) -> list[str]:
        """Every node, best first: the fallback order when the first is unreachable."""
        return sorted(self._nodes, key=lambda node: (_score(key, node), node), reverse=True)

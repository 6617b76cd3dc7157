"""Where matches live: which node holds which match, and whether that node is alive.

One process runs with :class:`~server.directory.local.LocalDirectory` (in memory, the
embedded default). Several nodes share a :class:`~server.directory.redis_store.RedisDirectory`:
each node heartbeats a key with a TTL and publishes its matches under a key that expires
with it, so a killed node's matches vanish from listings within one TTL. Listing reads
only entries whose node's heartbeat key still exists, so an entry is invisible the moment
its node's heartbeat is gone, even before Redis expires the entry itself.

The directory is never on the tick path: a stopped Redis stops new joins that need it
(``DirectoryUnavailable``), never a running match.
"""

from server.directory.records import (
    DirectoryUnavailable,
    MatchRecord,
    NodeRecord,
    node_of_match,
    qualified_match_id,
)
from server.directory.ring import RendezvousRing

__all__ = [
    "DirectoryUnavailable",
    "MatchRecord",
    "NodeRecord",
    "RendezvousRing",
    "node_of_match",
    "qualified_match_id",
]

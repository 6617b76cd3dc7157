"""The directory's records: a node (one server process) and a match it holds.

Both are plain frozen dataclasses with a JSON form, because they are written to Redis by
one process and read by another, possibly of a different version: unknown keys in the
JSON are ignored on read, missing optional ones take their defaults.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from server.errors import GameServerError

MATCH_ID_SEPARATOR = "~"
"""Separates the node id from the node-local match id in a qualified match id.

Not ``.``: resume tokens and reservations already use ``.`` between their parts, and a
qualified id travels inside them."""


class DirectoryUnavailable(GameServerError):
    """The shared directory (Redis) cannot be reached; the caller should fail fast (503)."""


def qualified_match_id(node_id: str, local_id: str) -> str:
    """``<node>~<match>``: a match id that names its node, so it routes without a look-up."""
    return f"{node_id}{MATCH_ID_SEPARATOR}{local_id}"


def node_of_match(match_id: str) -> str | None:
    """The node id a qualified match id names, or None for a plain (single-node) id."""
    node, sep, _ = match_id.partition(MATCH_ID_SEPARATOR)
    return node if sep and node else None


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """One live server process, as its heartbeat describes it.

    ``node_id`` is unique per process start (a name plus an incarnation suffix), so a
    restarted node never reuses an old id and old match ids never route to it.
    ``players`` counts seated players and seats held by pending reservations.
    ``load`` is the node's own estimate of how busy it is, 0..1 of one core
    (tick work seconds per second plus a per-player share); placement picks the lowest.
    """

    node_id: str
    public_url: str
    http_url: str
    started_at_s: float
    load: float = 0.0
    players: int = 0
    matches: int = 0
    draining: bool = False

    def to_json(self) -> str:
        """The JSON stored under the node's heartbeat key."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> NodeRecord:
        """Parse a heartbeat value; unknown keys are ignored (a newer node wrote them)."""
        data = _load(text)
        return cls(
            node_id=str(data["node_id"]),
            public_url=str(data["public_url"]),
            http_url=str(data.get("http_url", "")),
            started_at_s=float(data.get("started_at_s", 0.0)),
            load=float(data.get("load", 0.0)),
            players=int(data.get("players", 0)),
            matches=int(data.get("matches", 0)),
            draining=bool(data.get("draining", False)),
        )


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """One match as listings and join-or-create see it (no private code, ever)."""

    match_id: str
    node_id: str
    game: str
    players: int
    capacity: int
    state: str
    private: bool = False
    locked: bool = False
    labels: dict[str, Any] = field(default_factory=dict)
    reserved: int = 0
    """Seats held by pending reservations (they count against the room)."""
    info: dict[str, Any] = field(default_factory=dict)
    """The rest of the match's ``GET /matches`` row (mode, spectators, tick rates, tick,
    entities) as its node last saw it: shown in cluster listings, never used to route."""

    @property
    def room(self) -> int:
        """Free seats: capacity minus players minus pending reservations."""
        return self.capacity - self.players - self.reserved

    @property
    def open(self) -> bool:
        """Joinable by a stranger: running or waiting, public, unlocked, not full."""
        return (
            self.state in ("waiting", "running")
            and not self.private
            and not self.locked
            and self.room > 0
        )

    def to_json(self) -> str:
        """The JSON stored in the node's match hash."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> MatchRecord:
        """Parse a match entry; unknown keys are ignored."""
        data = _load(text)
        labels = data.get("labels", {})
        info = data.get("info", {})
        return cls(
            match_id=str(data["match_id"]),
            node_id=str(data["node_id"]),
            game=str(data["game"]),
            players=int(data.get("players", 0)),
            capacity=int(data.get("capacity", 0)),
            state=str(data.get("state", "running")),
            private=bool(data.get("private", False)),
            locked=bool(data.get("locked", False)),
            labels=dict(labels) if isinstance(labels, dict) else {},
            reserved=int(data.get("reserved", 0)),
            info=dict(info) if isinstance(info, dict) else {},
        )


def _load(text: str | bytes) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("directory record is not a JSON object")
    return data

"""What a player asks for when choosing a match: the ``HELLO`` fields and HTTP bodies.

``HELLO`` and ``POST /matchmake/<kind>`` share the vocabulary (docs/protocol.md):

- ``game``: a game name of this server (default: its first game);
- ``match_id``: that match (at most ``MAX_MATCH_ID_CHARS`` characters);
- ``create``: ``{private: bool, labels: {...}, max_players: int}`` (or ``true`` for all
  defaults; ``false`` forbids creating when ``filters`` match nothing);
- ``code``: a private match's join code;
- ``filters``: join-or-create among matches whose labels match (see
  :mod:`server.matchmaking.labels`).

Parsing is strict: unknown keys, wrong types and over-cap values raise a
:class:`~server.matchmaking.errors.MatchmakingError` naming the field. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from server.matchmaking.errors import BadLabels, MatchmakingError
from server.matchmaking.labels import Filter, Labels, parse_filter, validate_labels

MAX_MATCH_ID_CHARS = 64
MAX_GAME_CHARS = 64
MAX_CODE_CHARS = 24
MAX_NAME_CHARS = 32
MAX_TOKEN_CHARS = 4096
CREATE_KEYS = frozenset(("private", "labels", "max_players"))
KINDS = ("join-or-create", "create", "join", "join-by-id", "join-by-code")
BODY_KEYS = frozenset(
    [
        "game",
        "filters",
        "labels",
        "create",
        "private",
        "max_players",
        "match_id",
        "code",
        "token",
        "name",
        "spectate",
    ]
)


class BadRequest(MatchmakingError):
    """A field of a join request is malformed."""

    code = "bad_request"


@dataclass(frozen=True, slots=True)
class CreateSpec:
    """How to create a match: private or listed, its labels, a lower player cap."""

    private: bool = False
    labels: Labels = field(default_factory=dict)
    max_players: int | None = None
    code: str | None = None
    """A private match's join code chosen before creation (a cluster placed the match on
    the node its code hashes to); never read from a client's body."""


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """A validated choice of match (from HELLO or an HTTP body)."""

    game: str | None = None
    match_id: str | None = None
    create: CreateSpec | None = None
    may_create: bool = True
    """False when the client said ``create: false``."""
    code: str | None = None
    filters: Filter | None = None
    token: str | None = None
    name: str | None = None
    spectate: bool = False


def text(value: Any, key: str, limit: int) -> str:
    """``value`` if it is a non-empty string of at most ``limit`` characters."""
    if not isinstance(value, str) or not value or len(value) > limit:
        raise BadRequest(f"{key}: expected a string of 1-{limit} characters")
    return value


def parse_create(raw: Any) -> CreateSpec | bool:
    """``create``: a spec, or a bare boolean (``True`` = a spec of defaults)."""
    if isinstance(raw, bool):
        return CreateSpec() if raw else False
    if not isinstance(raw, Mapping):
        raise BadRequest("create: expected a map {private, labels, max_players} or a boolean")
    unknown = set(raw) - CREATE_KEYS
    if unknown:
        raise BadRequest(f"create: unknown keys {sorted(map(str, unknown))[:5]}")
    private = raw.get("private", False)
    if not isinstance(private, bool):
        raise BadRequest("create.private: expected a boolean")
    max_players = raw.get("max_players")
    if max_players is not None and (type(max_players) is not int or not 1 <= max_players <= 1024):
        raise BadRequest("create.max_players: expected an integer 1..1024")
    try:
        labels = validate_labels(raw.get("labels", {}))
    except BadLabels as exc:
        raise BadLabels(f"create.{exc.message}") from None
    return CreateSpec(private, labels, max_players)


def join_request(fields: Mapping[str, Any]) -> JoinRequest:
    """A :class:`JoinRequest` from already type-checked-or-not fields (HELLO or a body)."""
    create: CreateSpec | None = None
    may_create = True
    if fields.get("create") is not None:
        parsed = parse_create(fields["create"])
        if parsed is False:
            may_create = False
        else:
            assert isinstance(parsed, CreateSpec)
            create = parsed
    spectate = fields.get("spectate", False)
    if not isinstance(spectate, bool):
        raise BadRequest("spectate: expected a boolean")

    def opt(key: str, limit: int) -> str | None:
        value = fields.get(key)
        return None if value is None else text(value, key, limit)

    filters = fields.get("filters")
    return JoinRequest(
        game=opt("game", MAX_GAME_CHARS),
        match_id=opt("match_id", MAX_MATCH_ID_CHARS),
        create=create,
        may_create=may_create,
        code=opt("code", MAX_CODE_CHARS),
        filters=None if filters is None else parse_filter(filters),
        token=opt("token", MAX_TOKEN_CHARS),
        name=opt("name", MAX_NAME_CHARS),
        spectate=spectate,
    )


def parse_body(kind: str, body: Any) -> JoinRequest:
    """The body of ``POST /matchmake/<kind>``, checked against what that kind needs.

    ``create`` takes ``labels``/``private``/``max_players`` at the top level (or a
    ``create`` map); ``join-by-id`` needs ``match_id``; ``join-by-code`` needs ``code``;
    ``join`` never creates; ``join-or-create`` may take ``filters``.
    """
    if not isinstance(body, Mapping):
        raise BadRequest(f"body: expected a JSON object, got {type(body).__name__}")
    unknown = set(body) - BODY_KEYS
    if unknown:
        raise BadRequest(f"body: unknown keys {sorted(map(str, unknown))[:5]}")
    fields = dict(body)
    top = {k: fields.pop(k) for k in ("labels", "private", "max_players") if k in fields}
    if top:
        if kind != "create":
            raise BadRequest(f"{sorted(top)[0]}: only /matchmake/create takes it")
        if "create" in fields:
            raise BadRequest("give labels/private/max_players or create, not both")
        fields["create"] = top
    if kind == "create":
        fields.setdefault("create", True)
        if fields["create"] is False:
            raise BadRequest("create: /matchmake/create always creates")
    elif "create" in fields and kind != "join-or-create":
        raise BadRequest(f"create: /matchmake/{kind} does not create")
    if kind == "join":
        fields["create"] = False
    req = join_request(fields)
    if kind == "join-by-id" and req.match_id is None:
        raise BadRequest("match_id: /matchmake/join-by-id needs it")
    if kind == "join-by-code" and req.code is None:
        raise BadRequest("code: /matchmake/join-by-code needs it")
    if kind not in ("join-by-id",) and req.match_id is not None:
        raise BadRequest(f"match_id: use /matchmake/join-by-id, not /matchmake/{kind}")
    if kind != "join-by-code" and req.code is not None:
        raise BadRequest(f"code: use /matchmake/join-by-code, not /matchmake/{kind}")
    return req

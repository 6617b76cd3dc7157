"""How bots choose their match: HELLO fields, the HTTP reservation flow, the queue.

A :class:`JoinPlan` (from ``--game``, ``--match-id``, ``--create [--private]``,
``--code``, ``--filters``, ``--via-http``, ``--queue``) turns into the extra ``HELLO``
fields of each bot (and, after an HTTP step, ``ws_url``: the node to connect to, which in
a cluster need not be the one asked). With ``--create`` the swarm's first bot creates the
match and every other bot joins it (by its code when private, by id otherwise) once it is
welcomed. With ``--via-http`` the same choice goes through ``POST /matchmake/<kind>`` and
the bot says ``HELLO {reservation}``; with ``--queue`` each bot queues a ticket and long-
polls ``POST /matchmake/queue`` until it is matched (docs/protocol.md, "HTTP endpoints").
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class JoinFailed(Exception):
    """The HTTP matchmaking step failed: ``status`` and the server's error code."""

    def __init__(self, status: int, code: str) -> None:
        self.status = status
        self.code = code
        super().__init__(f"HTTP {status} {code}")


@dataclass(frozen=True, slots=True)
class JoinPlan:
    """What every bot of a swarm asks for (picklable: ``--procs`` sends it to workers)."""

    game: str | None = None
    match_id: str | None = None
    create: bool = False
    private: bool = False
    code: str | None = None
    filters: dict[str, Any] | None = None
    via_http: bool = False
    queue: dict[str, Any] | None = None
    """A ticket template (``--queue``); ``skill`` is drawn per bot when it has none."""
    spectate: bool = False
    """Watch instead of play (the staleness meter's truth spectator)."""

    @property
    def plain(self) -> bool:
        """True when bots say a bare HELLO (the server's default choice)."""
        return self == JoinPlan()


@dataclass(slots=True)
class Shared:
    """What the creating bot learnt, for the others of its process."""

    created: asyncio.Event = field(default_factory=asyncio.Event)
    match_id: str = ""
    code: str = ""


def choice(plan: JoinPlan, creator: bool, shared: Shared) -> dict[str, Any]:
    """The match-choosing fields (HELLO keys; the body keys of ``/matchmake/*``)."""
    fields: dict[str, Any] = {}
    if plan.game is not None:
        fields["game"] = plan.game
    if plan.create and creator:
        fields["create"] = {"private": plan.private}
    elif plan.create:
        if shared.code:
            fields["code"] = shared.code
        else:
            fields["match_id"] = shared.match_id
    if plan.match_id is not None:
        fields["match_id"] = plan.match_id
    if plan.code is not None:
        fields["code"] = plan.code
    if plan.filters is not None:
        fields["filters"] = plan.filters
    if plan.spectate:
        fields["spectate"] = True
    return fields


def http_kind(fields: dict[str, Any]) -> str:
    """The ``/matchmake/<kind>`` that makes the same choice as these HELLO fields."""
    if "create" in fields:
        return "create"
    if "match_id" in fields:
        return "join-by-id"
    if "code" in fields:
        return "join-by-code"
    return "join-or-create"


async def post_json(ws_url: str, path: str, body: Any, timeout_s: float = 10.0) -> Any:
    """POST JSON to the server of ``ws_url``; the decoded answer (JoinFailed if not 200)."""
    parts = urlsplit(ws_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    try:
        data = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + data)
        raw = await asyncio.wait_for(reader.read(), timeout_s)
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    status = int(status_line.split()[1]) if status_line else 0
    payload = rest.partition(b"\r\n\r\n")[2]
    try:
        answer = json.loads(payload)
    except ValueError:
        raise JoinFailed(status, "not_json") from None
    if status != 200:
        raise JoinFailed(status, str(answer.get("error", {}).get("code", "?")))
    return answer


async def hello_fields(
    plan: JoinPlan, url: str, index: int, creator: bool, shared: Shared, timeout_s: float
) -> dict[str, Any]:
    """The extra HELLO fields of one bot (after any HTTP step). Raises JoinFailed."""
    if plan.create and not creator:
        await asyncio.wait_for(shared.created.wait(), timeout_s)
    fields = choice(plan, creator, shared)
    if plan.queue is not None:
        ticket = dict(plan.queue)
        props = dict(ticket.get("properties", {}))
        props.setdefault("skill", random.Random(index).randint(0, 3000))
        ticket["properties"] = props
        ticket.setdefault("query", {"skill": {"±": 200}})
        if plan.game is not None:
            ticket.setdefault("game", plan.game)
        answer = await post_json(url, "/matchmake/queue", ticket, timeout_s)
        while answer.get("status") == "waiting":
            answer = await post_json(url, "/matchmake/queue", {"ticket": answer["ticket"]})
        if answer.get("status") != "matched":
            raise JoinFailed(200, str(answer.get("status")))
        return {"reservation": answer["reservation"], "ws_url": answer.get("ws_url")}
    if plan.via_http:
        kind = http_kind(fields)
        body = dict(fields)
        if kind == "create":
            body.pop("create")
            body["private"] = plan.private
        answer = await post_json(url, f"/matchmake/{kind}", body, timeout_s)
        return {"reservation": answer["reservation"], "ws_url": answer.get("ws_url")}
    return fields


def again(plan: JoinPlan) -> JoinPlan:
    """The plan of a bot whose node is gone: the same game, filters and HTTP/queue route,
    without the old match (its id, code or creation): join-or-create from scratch."""
    return dataclasses.replace(plan, match_id=None, code=None, create=False, private=False)


def created(shared: Shared, welcome: dict[str, Any]) -> None:
    """The creator's WELCOME: remember its match and code, release the others."""
    shared.match_id = str(welcome.get("match_id", ""))
    shared.code = str(welcome.get("code", ""))
    shared.created.set()

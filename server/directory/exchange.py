"""Request/reply between nodes over Redis, coalesced (docs/operations.md, "Cluster").

A request is a JSON message ``{id, op, body, channel, batch}`` pushed onto the target
node's inbox list ``<prefix>inbox:<node>``; the target pops up to 64 at once
(``BLMPOP``), answers each, and publishes the replies on the requester's channel
``<prefix>replies:<instance>`` (:mod:`server.directory.replies`).

Both directions are coalesced (:mod:`server.directory.coalesce`): every request a node
makes while a push is in flight goes out in the next push, one ``RPUSH`` (with all the
messages) plus one ``PEXPIRE`` per target node, all nodes in one pipeline; every reply an
answering node has ready for one requester while a publish is in flight goes out as one
``PUBLISH`` of a JSON list ``[{id, reply}, ...]`` (only to requesters that said
``"batch": 1``; an older requester gets one ``{id, reply}`` per message, as before). So
at 2,000 joins/s a node sends a few hundred commands a second, not 9,000.

The older reply lists (``replies="list"``: a ``BLPOP`` per request on
``<prefix>reply:<id>``) are kept for the directory benchmark's "before" way.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from server.directory.coalesce import Coalescer
from server.directory.records import DirectoryUnavailable
from server.directory.replies import ReplyListener

if TYPE_CHECKING:
    from server.directory.redis_store import RedisDirectory

log = logging.getLogger("tickwire.directory")

RequestHandler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
"""``handler(op, body) -> reply body`` for requests addressed to this node."""

INBOX_BATCH = 64
"""Requests popped per ``BLMPOP``."""


class Exchange:
    """The request/reply side of one :class:`RedisDirectory` (see the module docstring)."""

    def __init__(self, directory: RedisDirectory) -> None:
        self._d = directory
        self._ids = itertools.count(1)
        self._instance = secrets.token_hex(6)
        self.listener = ReplyListener(
            directory._blocking, directory._key("replies", self._instance)
        )
        self._pushes: Coalescer[None, tuple[str, str, int], None] = Coalescer(self._push_batch)
        self._replies: Coalescer[tuple[str, bool], str, None] = Coalescer(self._publish_batch)

    async def close(self) -> None:
        """Stop the reply subscription and the flushes in flight."""
        await self._pushes.close()
        await self._replies.close()
        await self.listener.close()

    # -- asking ------------------------------------------------------------------------

    async def request(
        self, node_id: str, op: str, body: dict[str, Any], timeout_s: float
    ) -> dict[str, Any]:
        """Send ``op`` to ``node_id`` and wait for its reply (DirectoryUnavailable when
        Redis fails or no reply comes within ``timeout_s``)."""
        if self._d.replies == "list":
            return await self._request_by_list(node_id, op, body, timeout_s)
        listener = self.listener
        try:
            await listener.ensure_subscribed(self._d.op_timeout_s * 2)
        except TimeoutError as exc:
            raise DirectoryUnavailable(f"request {op}: no reply subscription") from exc
        request_id = f"{self._instance}.{next(self._ids):x}"
        message = json.dumps(
            {"id": request_id, "op": op, "body": body, "channel": listener.channel, "batch": 1}
        )
        reply = listener.expect(request_id)
        try:
            async with asyncio.timeout(timeout_s):
                await self._push(node_id, message, timeout_s)
                return await reply
        except TimeoutError as exc:
            raise DirectoryUnavailable(
                f"node {node_id} did not answer {op} in {timeout_s} s"
            ) from exc
        finally:
            listener.forget(request_id)

    async def _push(self, node_id: str, message: str, timeout_s: float) -> None:
        await self._pushes.call(None, (node_id, message, int(timeout_s * 1000) + 1000))

    async def _push_batch(self, _: None, items: list[tuple[str, str, int]]) -> None:
        """One pipeline: per target inbox one ``RPUSH`` of its messages and one ``PEXPIRE``."""
        inboxes: dict[str, tuple[list[str], int]] = {}
        for node_id, message, expire_ms in items:
            messages, longest = inboxes.setdefault(node_id, ([], 0))
            messages.append(message)
            inboxes[node_id] = (messages, max(longest, expire_ms))
        d = self._d
        pipe = d._redis.pipeline(transaction=False)
        for node_id, (messages, expire_ms) in inboxes.items():
            inbox = d._key("inbox", node_id)
            pipe.rpush(inbox, *messages)
            pipe.pexpire(inbox, expire_ms)
        d.ops += 2 * len(inboxes)
        await d._run("request", pipe.execute())

    async def _request_by_list(
        self, node_id: str, op: str, body: dict[str, Any], timeout_s: float
    ) -> dict[str, Any]:
        d = self._d
        request_id = secrets.token_hex(8)
        reply_key = d._key("reply", request_id)
        message = json.dumps({"id": request_id, "op": op, "body": body, "reply": reply_key})
        await self._push(node_id, message, timeout_s)
        try:
            got = await asyncio.wait_for(
                d._blocking.blpop([reply_key], timeout=timeout_s), timeout_s + 1.0
            )
        except (RedisError, OSError, TimeoutError) as exc:
            raise DirectoryUnavailable(f"request {op} to {node_id} failed: {exc}") from exc
        d.ops += 1
        if got is None:
            raise DirectoryUnavailable(f"node {node_id} did not answer {op} in {timeout_s} s")
        reply = json.loads(got[1])
        if not isinstance(reply, dict):
            raise DirectoryUnavailable(f"node {node_id} sent a malformed reply to {op}")
        return reply

    # -- answering ---------------------------------------------------------------------

    async def serve(self, node_id: str, handler: RequestHandler) -> None:
        """Answer requests addressed to ``node_id`` until cancelled (``BLMPOP``: up to
        64 per round trip, each answered in a task of its own, so a long-polling queue
        request never holds up the seat reservations behind it).

        A Redis outage is logged once and retried every second; a handler error becomes
        ``{"error": {"code": "internal", "message": ...}}`` for the requester.

        Cancelling always ends it: a cancel that lands as a pop's reply arrives can be
        absorbed below us (the pop returns its messages instead of raising -- Python
        3.11's ``wait_for``/timeout races), so after every await the loop checks
        whether a cancel is pending on this task (``Task.cancelling``) and then stops,
        leaving the popped messages unanswered (their requesters time out)."""
        d = self._d
        inbox = d._key("inbox", node_id)
        down = False
        answering: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        while True:
            if me is not None and me.cancelling():
                raise asyncio.CancelledError  # a cancel absorbed by the last await
            try:
                got = await d._blocking.blmpop(1, 1, inbox, direction="LEFT", count=INBOX_BATCH)
                if down:
                    log.info("directory reachable again")
                    down = False
            except (RedisError, OSError) as exc:
                if not down:
                    log.warning("directory unreachable, requests paused: %s", exc)
                    down = True
                await asyncio.sleep(1.0)
                continue
            if not got or (me is not None and me.cancelling()):
                continue
            d.ops += 1
            for raw in got[1]:
                try:
                    message = json.loads(raw if isinstance(raw, str | bytes) else "")
                    op = str(message["op"])
                    body = message.get("body") or {}
                    if "channel" in message:
                        to = (str(message["channel"]), "pubsub", bool(message.get("batch")))
                    else:
                        to = (str(message["reply"]), "list", False)
                    request_id = str(message.get("id", ""))
                except (ValueError, KeyError, TypeError):
                    log.warning("malformed directory request dropped")
                    continue
                task = loop.create_task(
                    self._answer(
                        handler, op, body if isinstance(body, dict) else {}, to, request_id
                    )
                )
                answering.add(task)
                task.add_done_callback(answering.discard)

    async def _answer(
        self,
        handler: RequestHandler,
        op: str,
        body: dict[str, Any],
        to: tuple[str, str, bool],
        request_id: str,
    ) -> None:
        try:
            reply = await handler(op, body)
        except Exception as exc:
            log.exception("directory request %s failed", op)
            reply = {"error": {"code": "internal", "message": str(exc)}}
        where, way, batch = to
        d = self._d
        try:
            if way == "pubsub":
                answer = json.dumps({"id": request_id, "reply": reply})
                await self._replies.call((where, batch), answer)
                return
            pipe = d._redis.pipeline(transaction=True)
            pipe.rpush(where, json.dumps(reply))
            pipe.pexpire(where, 5000)
            d.ops += 2
            await d._run("reply", pipe.execute())
        except (RedisError, OSError, DirectoryUnavailable) as exc:
            log.warning("reply to %s lost: %s", op, exc)

    async def _publish_batch(self, key: tuple[str, bool], answers: list[str]) -> None:
        """The replies ready for one requester: one ``PUBLISH`` of a JSON list when it
        takes batches, else one ``PUBLISH`` each (pipelined)."""
        channel, batch = key
        d = self._d
        if batch:
            d.ops += 1
            await d._run("reply", d._redis.publish(channel, "[" + ",".join(answers) + "]"))
            return
        pipe = d._redis.pipeline(transaction=False)
        for answer in answers:
            pipe.publish(channel, answer)
        d.ops += len(answers)
        await d._run("reply", pipe.execute())

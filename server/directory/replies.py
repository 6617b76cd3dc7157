"""Replies to cross-node requests over Redis pub/sub: one subscription per directory.

A requester used to wait for each reply with a ``BLPOP`` on a list of its own (a
connection held per request in flight, two commands for the answerer: ``RPUSH`` +
``PEXPIRE``). Here each :class:`~server.directory.redis_store.RedisDirectory` subscribes
once to its channel ``<prefix>replies:<instance>``; the answering node ``PUBLISH``-es
``{"id", "reply"}`` there (one command; or a JSON list of them, all the replies the
answerer had ready for this requester: :mod:`server.directory.exchange`), and
:class:`ReplyListener` hands each reply to the future of its request id. A reply nobody
waits for any more (timed out) is dropped.

Pub/sub is fire-and-forget: a reply published while the subscription is down (Redis
restarting) is lost, and its request times out as it would have without an answer —
the same :class:`~server.directory.DirectoryUnavailable` after the request's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("tickwire.directory")


class ReplyListener:
    """Futures of the requests in flight, resolved from one pub/sub subscription."""

    def __init__(self, redis: aioredis.Redis, channel: str) -> None:
        self.channel = channel
        self._redis = redis
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None
        self.received = 0
        """Replies delivered (messages read from the subscription)."""

    async def ensure_subscribed(self, timeout_s: float) -> None:
        """Start the subscription (once) and wait until Redis confirmed it."""
        if (
            self._task is not None
            and not self._task.done()
            and self._ready is not None
            and self._ready.is_set()
        ):
            return  # the common case: no timer, no task
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(
                self._listen(self._ready), name="directory-replies"
            )
        assert self._ready is not None
        await asyncio.wait_for(self._ready.wait(), timeout_s)

    def expect(self, request_id: str) -> asyncio.Future[dict[str, Any]]:
        """The future the reply to ``request_id`` will resolve."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        return future

    def forget(self, request_id: str) -> None:
        """The request is over (answered, timed out or failed)."""
        self._waiting.pop(request_id, None)

    async def _listen(self, ready: asyncio.Event) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                ready.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._deliver(message.get("data"))
            except (RedisError, OSError) as exc:
                ready.clear()
                log.debug("reply subscription lost (%s); resubscribing", exc)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _deliver(self, data: Any) -> None:
        """One message: ``{id, reply}``, or a JSON list of them (a batch of replies)."""
        try:
            message = json.loads(data)
        except (ValueError, TypeError):
            log.warning("malformed directory reply dropped")
            return
        for one in message if isinstance(message, list) else [message]:
            try:
                future = self._waiting.pop(str(one["id"]), None)
                reply = one["reply"]
            except (KeyError, TypeError):
                log.warning("malformed directory reply dropped")
                continue
            self.received += 1
            if future is not None and not future.done() and isinstance(reply, dict):
                future.set_result(reply)

    async def close(self) -> None:
        """Stop listening; requests still waiting time out."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

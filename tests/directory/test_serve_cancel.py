"""Cancelling a node's request loop always ends it, even when the cancel is absorbed below.

The hang seen once in tests/cluster/test_agones.py under load: the node's stop cancelled
``serve_requests`` just as a blocking pop's reply arrived, the cancel was absorbed inside
the Redis call (it returned the reply instead of raising), the loop went on popping and
``ClusterNode.stop`` waited for it forever. Here the race is forced: the real pop, against
a real redis-server, is wrapped so that a cancel landing during it hands back what the pop
returned -- what Python 3.11's ``wait_for`` does when its inner call finishes as the
cancel arrives.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from server.directory.redis_store import RedisDirectory
from server.hosting.node import _cancel


def absorb_cancels(directory: RedisDirectory) -> list[Any]:
    """Wrap ``directory``'s blocking pop so the first cancel during it is absorbed (the
    pop's result is returned instead); the list collects what the absorbed pop returned."""
    real = directory._blocking.blmpop
    absorbed: list[Any] = []

    async def blmpop(*args: Any, **kwargs: Any) -> Any:
        pop = asyncio.ensure_future(real(*args, **kwargs))
        try:
            return await asyncio.shield(pop)
        except asyncio.CancelledError:
            if absorbed:  # only once, so the test's clean-up can always end the loop
                pop.cancel()
                raise
            got = await pop
            absorbed.append(got)
            return got

    directory._blocking.blmpop = blmpop  # type: ignore[method-assign]
    return absorbed


async def test_a_cancel_absorbed_as_a_reply_arrives_still_ends_serving(
    redis_server: Any,
) -> None:
    """Cancel while the pop is blocked, then a request arrives: the pop returns it (the
    cancel absorbed), and the loop still ends instead of answering and popping on."""
    a = RedisDirectory(redis_server.url, cluster="c1")
    b = RedisDirectory(redis_server.url, cluster="c1")
    answered: list[str] = []

    async def handler(op: str, body: dict[str, Any]) -> dict[str, Any]:
        answered.append(op)
        return {"ok": True}

    absorbed = absorb_cancels(b)
    serving = asyncio.create_task(b.serve_requests("b", handler))
    try:
        assert await a.request("b", "first", {}) == {"ok": True}  # the loop is popping
        await asyncio.sleep(0.05)  # blocked in the next pop
        serving.cancel()
        inbox = b._key("inbox", "b")
        await a._redis.rpush(inbox, json.dumps({"id": "x", "op": "late", "body": {}}))
        done, _ = await asyncio.wait((serving,), timeout=10)  # a hang, not a speed: 10 s
        assert serving in done, "serve_requests kept running after its cancel"
        assert serving.cancelled()
        assert len(absorbed) == 1
        assert absorbed[0] is not None  # the pop had returned the late request
        assert answered == ["first"]  # popped after the cancel: left unanswered
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await a.close()
        await b.close()


async def test_the_nodes_stop_cancels_again_until_its_task_has_ended() -> None:
    """A task that swallows its first two cancels (whatever the layer) still ends."""
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed == 2:
                    raise
                swallowed += 1
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(_cancel(task, retry_s=0.05), 10)
    assert task.cancelled()
    assert swallowed == 2

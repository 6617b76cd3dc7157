"""Many callers, one Redis round trip: what a node asks while a round trip is in flight
waits for the next one, which carries all of it.

A node answering 2,000 joins a second cannot afford a round trip (and redis-py's Python
work for it: packing, a pooled connection, parsing) per join. :class:`Coalescer` groups
the calls made with the same key: the first one starts a flush on the next event-loop
turn (so every call of the current turn joins it); calls made while that flush is in
flight queue for the flush that follows it. Under light load a call waits for at most one
loop turn; under heavy load one round trip serves every call that arrived during the
previous one (adaptive batching, as Nagle's algorithm does for bytes).

No result is older than its caller: a call never shares a flush that started before it
was made, so a listing coalesced this way obeys the directory's "never a stale entry"
rule exactly as a call of its own would.

Errors: the flush's exception (e.g. :class:`~server.directory.DirectoryUnavailable`)
is raised to every caller of that flush. A caller that is cancelled (its own timeout)
just stops waiting; the flush goes on for the others.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")

Flush = Callable[[K, list[V]], Awaitable[R]]
"""``flush(key, items) -> result``: one round trip for every item; each caller gets the result."""


class Coalescer(Generic[K, V, R]):
    """Calls with the same key share one flush (see the module docstring)."""

    def __init__(self, flush: Flush[K, V, R]) -> None:
        self._flush = flush
        self._waiting: dict[K, list[tuple[V, asyncio.Future[R]]]] = {}
        self._flushing: dict[K, asyncio.Task[None]] = {}
        self.flushes = 0
        """Flushes run (round trips), for the benchmark's items-per-flush figure."""

    async def call(self, key: K, item: V) -> R:
        """Add ``item`` to the next flush of ``key`` and return that flush's result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.setdefault(key, []).append((item, future))
        if key not in self._flushing:
            self._flushing[key] = loop.create_task(self._drain(key))
        return await future

    async def _drain(self, key: K) -> None:
        try:
            while batch := self._waiting.pop(key, None):
                futures = [f for _, f in batch]
                try:
                    self.flushes += 1
                    result = await self._flush(key, [item for item, _ in batch])
                except asyncio.CancelledError:
                    for f in futures:
                        f.cancel()
                    raise
                except Exception as exc:
                    for f in futures:
                        if not f.done():
                            f.set_exception(exc)
                    continue
                for f in futures:
                    if not f.done():
                        f.set_result(result)
        finally:
            self._flushing.pop(key, None)

    async def close(self) -> None:
        """Cancel the flushes in flight (their callers see CancelledError) and any queued."""
        for batch in self._waiting.values():
            for _, f in batch:
                f.cancel()
        self._waiting.clear()
        tasks = list(self._flushing.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

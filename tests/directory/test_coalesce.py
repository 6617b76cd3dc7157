"""Coalescer: calls made while a flush is in flight share the next flush, never an older one."""

from __future__ import annotations

import asyncio

import pytest

from server.directory import DirectoryUnavailable
from server.directory.coalesce import Coalescer


async def test_calls_of_one_turn_share_a_flush_and_later_calls_wait_for_the_next() -> None:
    """Ten calls made together are one flush; a call made while it is in flight gets the
    result of a flush that started after it (never the in-flight one), keys apart."""
    started: list[tuple[str, list[int]]] = []
    gate = asyncio.Event()
    both_keys_flushing = asyncio.Event()

    async def flush(key: str, items: list[int]) -> tuple[int, list[int]]:
        started.append((key, items))
        number = len(started)
        if number == 2:
            both_keys_flushing.set()
        await gate.wait()
        return number, items

    c: Coalescer[str, int, tuple[int, list[int]]] = Coalescer(flush)
    first = [asyncio.create_task(c.call("a", i)) for i in range(10)]
    other_key = asyncio.create_task(c.call("b", 99))
    await both_keys_flushing.wait()
    late = asyncio.create_task(c.call("a", 10))  # the first flush of "a" is in flight
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*first)
    assert all(r == results[0] for r in results)
    assert sorted(results[0][1]) == list(range(10))
    assert (await other_key)[1] == [99]
    number, items = await late
    assert items == [10]
    assert number > results[0][0]  # a flush of its own, started after the call
    assert c.flushes == 3


async def test_a_failed_flush_fails_its_callers_only_and_a_cancelled_caller_is_harmless() -> None:
    calls = 0

    async def flush(key: str, items: list[int]) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise DirectoryUnavailable("redis down")
        return sum(items)

    c: Coalescer[str, int, int] = Coalescer(flush)
    failing = [asyncio.create_task(c.call("k", i)) for i in range(3)]
    await asyncio.sleep(0.001)
    quitter = asyncio.create_task(c.call("k", 100))
    survivor = asyncio.create_task(c.call("k", 5))
    await asyncio.sleep(0)
    quitter.cancel()
    for t in failing:
        with pytest.raises(DirectoryUnavailable):
            await t
    assert await survivor in (5, 105)  # the cancelled item may or may not have been sent
    with pytest.raises(asyncio.CancelledError):
        await quitter
    await c.close()

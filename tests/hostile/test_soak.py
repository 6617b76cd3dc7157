"""Soak: players keep joining and leaving; memory, descriptors and objects stay flat.

CI runs about 15 s; ``pytest tests/hostile/test_soak.py --minutes 10`` (or
``TICKWIRE_SOAK_MINUTES=10``) runs the full-length version. The join rate is scaled so that
a 10-minute run makes well over 1000 joins.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from client_sim.hostile import HonestPool, hello
from server.app import Conn
from server.gamedef import GameDefinition
from server.match.match import Match, Seat
from server.net.codec import encode_client
from server.net.messages import Input, Leave
from server.testing import running_server

DEFAULT_SOAK_S = 14.0
CHURNERS = 6
JOINS_PER_10_MIN = 1000


def soak_seconds(config: pytest.Config) -> float:
    minutes = config.getoption("--minutes") or os.environ.get("TICKWIRE_SOAK_MINUTES")
    return float(minutes) * 60 if minutes else DEFAULT_SOAK_S


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def live(cls: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, cls))


async def churn(url: str, stop: asyncio.Event, seed: int, joins: list[int]) -> None:
    """Join, play a moment, then leave politely or just drop; again and again."""
    rng = random.Random(seed)
    while not stop.is_set():
        try:
            async with connect(url, max_size=None, compression=None, close_timeout=1) as ws:
                welcome = await hello(ws)
                joins[0] += 1
                tick = int(welcome["tick"])
                for k in range(rng.randint(2, 12)):
                    await ws.send(encode_client(Input(tick + k, rng.uniform(-1, 1), 0.5)))
                    await asyncio.sleep(0.05)
                if rng.random() < 0.5:
                    await ws.send(encode_client(Leave()))
                    with contextlib.suppress(ConnectionClosed, TimeoutError):
                        await asyncio.wait_for(ws.wait_closed(), 2)
        except (ConnectionClosed, OSError, TimeoutError):
            pass


@pytest.mark.soak
async def test_server_stays_flat_when_players_keep_joining_and_leaving(
    small_arena: GameDefinition, request: pytest.FixtureRequest
) -> None:
    """Continuous joins and leaves: RSS, fds and live objects stay flat; no task is left."""
    duration = soak_seconds(request.config)
    before_tasks = asyncio.all_tasks()
    async with running_server(small_arena, reconnect_grace_s=1.0, idle_timeout_s=5.0) as srv:
        pool = HonestPool(srv.url, 3)
        await pool.start()
        stop = asyncio.Event()
        joins = [0]
        churners = [asyncio.create_task(churn(srv.url, stop, i, joins)) for i in range(CHURNERS)]
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        warm = min(5.0, duration / 4)
        rss: list[float] = []
        fds: list[int] = []
        start_rss = start_fds = 0.0
        while loop.time() - t0 < duration:
            await asyncio.sleep(0.5)
            if not rss and loop.time() - t0 >= warm:
                start_rss, start_fds = rss_mib(), open_fds()
            if loop.time() - t0 >= warm:
                rss.append(rss_mib())
                fds.append(open_fds())
        rate = pool.min_rate(t0 + warm, loop.time())
        stop.set()
        await asyncio.gather(*churners)
        await asyncio.sleep(2.2)  # dropped seats expire (grace 1 s, swept every second)
        end_rss, end_fds = rss_mib(), open_fds()
        print(
            f"\nsoak {duration:.0f} s: {joins[0]} joins; RSS start {start_rss:.1f} end "
            f"{end_rss:.1f} peak {max(rss):.1f} MiB; fds start {start_fds:.0f} end {end_fds} "
            f"peak {max(fds)}; honest min {rate:.1f} frames/s"
        )
        assert joins[0] >= JOINS_PER_10_MIN * duration / 600
        assert end_rss - start_rss < 10 + 5 * duration / 600
        assert end_fds - start_fds <= 3
        assert pool.errors() == []
        assert rate >= 19.0
        assert len(srv.conns) == len(pool.bots)
        assert live(Conn) == len(srv.conns)
        assert live(Match) == len(srv.manager.matches) <= 2
        match = next(iter(srv.manager.matches.values()))
        assert match.players == len(pool.bots)
        assert live(Seat) <= len(pool.bots) + 2
        await pool.stop()
    await asyncio.sleep(0.2)
    left = {t for t in asyncio.all_tasks() - before_tasks if not t.done()}
    left.discard(asyncio.current_task())  # type: ignore[arg-type]
    assert left == set(), left

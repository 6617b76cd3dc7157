"""Honest bots that play by the rules while hostile cases run, and count their frames."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from client_sim.hostile.wire import as_bytes, code_name, hello
from server.net.codec import decode_server_message, encode_client
from server.net.messages import Hello, Input, Ping
from server.net.protocol import PROTOCOL_VERSION, MessageType


class HonestBot:
    """Plays by the rules: hello, one input per tick, a ping a second; counts frames."""

    def __init__(self, url: str, index: int, token: str | None = None) -> None:
        self.url = url
        self.index = index
        self.token = token
        """The HELLO token (a player JWT on servers that require one)."""
        self.frame_times: list[float] = []
        self.errors: list[str] = []
        self.welcome: dict[str, Any] = {}
        self.server_tick = 0
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.stopping = False

    def start(self) -> None:
        """Run in the background."""
        self.task = asyncio.get_running_loop().create_task(self.run(), name=f"honest-{self.index}")

    async def run(self) -> None:
        """Connect and play until stopped; anything unexpected lands in ``errors``."""
        try:
            async with connect(self.url, max_size=None, compression=None) as ws:
                greeting = Hello(version=PROTOCOL_VERSION, name="honest", token=self.token)
                self.welcome = await hello(ws, greeting)
                self.server_tick = int(self.welcome["tick"])
                self.ready.set()
                sender = asyncio.get_running_loop().create_task(self._send(ws))
                try:
                    await self._read(ws)
                finally:
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                        await sender
        except ConnectionClosed as exc:
            if not self.stopping:
                self.errors.append(f"closed {code_name(exc.rcvd.code if exc.rcvd else 1006)}")
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self.ready.set()

    async def _read(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        async for data in ws:
            kind, body = decode_server_message(as_bytes(data))
            if kind is MessageType.STATE:
                self.frame_times.append(loop.time())
                self.server_tick = int(body["t"])
            elif kind is MessageType.LOCKSTEP_FRAME:
                self.frame_times.append(loop.time())
                self.server_tick = int(body["n"])
            elif kind is MessageType.CHECKPOINT:
                self.server_tick = int(body["frame"])
            elif kind in (MessageType.ERROR, MessageType.DESYNC):
                self.errors.append(f"{kind.name} {body}")

    async def _send(self, ws: ClientConnection) -> None:
        rate = int(self.welcome["tick_rate_hz"])
        lockstep = self.welcome["sync"] == "lockstep"
        ahead = int(self.welcome["input_delay_ticks"]) + 2 if lockstep else 0
        k = 0
        while not self.stopping:
            x = math.sin(k / 17 + self.index)
            y = math.cos(k / 23 + self.index)
            await ws.send(encode_client(Input(self.server_tick + ahead, x, y)))
            if k % rate == 0:
                await ws.send(encode_client(Ping(t=time.time() * 1000)))
            k += 1
            await asyncio.sleep(1 / rate)

    def rate(self, t0: float, t1: float) -> float:
        """Frames per second received in ``[t0, t1]``: (n - 1) over the span they cover."""
        ts = [t for t in self.frame_times if t0 <= t <= t1]
        if len(ts) < 2:
            return 0.0
        # Count the window's edges too so that a stall at either end lowers the rate.
        span = max(ts[-1] - ts[0], (t1 - t0) - 2.0 / max(1, self.welcome["snapshot_rate_hz"]))
        return (len(ts) - 1) / span if span > 0 else 0.0


class HonestPool:
    """A handful of honest bots that play while hostile cases run."""

    def __init__(self, url: str, n: int = 4, tokens: list[str] | None = None) -> None:
        self.bots = [HonestBot(url, i, tokens[i] if tokens else None) for i in range(n)]

    async def start(self) -> dict[str, Any]:
        """Start every bot; return the first WELCOME (sync mode, rates)."""
        for b in self.bots:
            b.start()
        await asyncio.wait_for(asyncio.gather(*(b.ready.wait() for b in self.bots)), 15)
        problems = [e for b in self.bots for e in b.errors]
        if problems:
            raise RuntimeError(f"honest bots could not join: {problems}")
        return self.bots[0].welcome

    async def stop(self) -> None:
        """Stop and disconnect every bot."""
        for b in self.bots:
            b.stopping = True
        for b in self.bots:
            if b.task is not None:
                b.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await b.task

    def min_rate(self, t0: float, t1: float) -> float:
        """The lowest frame rate any bot saw in ``[t0, t1]``."""
        return min(b.rate(t0, t1) for b in self.bots)

    def errors(self) -> list[str]:
        """Everything unexpected any bot saw so far."""
        return [f"bot{b.index}: {e}" for b in self.bots for e in b.errors]

    @property
    def server_tick(self) -> int:
        """The newest tick any bot saw."""
        return max(b.server_tick for b in self.bots)

"""A TCP relay on loopback that delays each direction: real latency without netem.

``python -m client_sim.relay --to 127.0.0.1:8765 --delay-ms 50 --jitter-ms 10 --loss 0.02``
listens on ``--listen`` (default 127.0.0.1:0, the port is printed) and forwards every
connection to ``--to``, holding each chunk of bytes for ``delay + jitter`` in each
direction (so the round trip gains twice the delay).

Why a relay: this machine's kernel has no ``sch_netem`` (``tc qdisc add ... netem`` answers
"Specified qdisc kind is unknown"), so a delayed link cannot be made with ``tc``. Where
netem exists, :func:`netem_available` says so and tests may use namespaces instead.

TCP semantics are kept: bytes of one direction are never reordered (a chunk is released
no earlier than the one before it, so jitter delays but never reorders), and "loss" is
what TCP makes of it — a lost segment is retransmitted after the retransmission timeout,
so with probability ``loss`` a chunk is held an extra ``rto_ms`` (Linux's minimum RTO,
200 ms), and everything behind it waits too (head-of-line blocking).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import subprocess
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LinkProfile:
    """One direction's impairment: delay and jitter in ms, loss as a probability."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    rto_ms: float = 200.0


class DelayRelay:
    """Forwards TCP connections from a loopback port to ``target``, delaying both ways."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        profile: LinkProfile,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        seed: int = 1,
    ) -> None:
        self.target = (target_host, target_port)
        self.profile = profile
        self.listen = (listen_host, listen_port)
        self._rng = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.chunks_delayed = 0
        self.chunks_lost = 0

    @property
    def port(self) -> int:
        """The listening port (after :meth:`start`)."""
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(self._accept, *self.listen)

    async def stop(self) -> None:
        """Stop listening and cut every relayed connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _hold_s(self) -> float:
        p = self.profile
        hold = p.delay_ms + (self._rng.uniform(-p.jitter_ms, p.jitter_ms) if p.jitter_ms else 0)
        if p.loss and self._rng.random() < p.loss:
            self.chunks_lost += 1
            hold += p.rto_ms
        return max(0.0, hold) / 1000.0

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._release(queue, dst))
        last = 0.0
        try:
            while chunk := await src.read(65536):
                # Never earlier than the previous chunk: TCP does not reorder.
                last = max(last, time.monotonic() + self._hold_s())
                self.chunks_delayed += 1
                queue.put_nowait((last, chunk))
        except (ConnectionError, OSError):
            pass
        finally:
            queue.put_nowait((last, b""))
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await sender

    @staticmethod
    async def _release(
        queue: asyncio.Queue[tuple[float, bytes]], dst: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                at, chunk = await queue.get()
                wait = at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    break
                dst.write(chunk)
                await dst.drain()
        finally:
            dst.close()


def netem_available() -> bool:
    """True if this kernel can add a netem qdisc (tried on a throwaway veth pair)."""
    ip = shutil.which("ip")
    tc = shutil.which("tc")
    if ip is None or tc is None:
        return False
    name = f"twnm{random.randrange(1 << 16):04x}"
    made = subprocess.run(
        [ip, "link", "add", name, "type", "veth", "peer", "name", name + "p"],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        return False
    try:
        added = subprocess.run(
            [tc, "qdisc", "add", "dev", name, "root", "netem", "delay", "1ms"],
            capture_output=True,
            check=False,
        )
        return added.returncode == 0
    finally:
        subprocess.run([ip, "link", "del", name], capture_output=True, check=False)


async def _main(args: argparse.Namespace) -> None:
    host, _, port = args.to.rpartition(":")
    lhost, _, lport = args.listen.rpartition(":")
    relay = DelayRelay(
        host or "127.0.0.1",
        int(port),
        LinkProfile(args.delay_ms, args.jitter_ms, args.loss),
        listen_host=lhost or "127.0.0.1",
        listen_port=int(lport or 0),
    )
    await relay.start()
    print(f"relay 127.0.0.1:{relay.port} -> {args.to} (+{args.delay_ms} ms each way)", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m client_sim.relay``."""
    p = argparse.ArgumentParser(prog="python -m client_sim.relay", description=__doc__)
    p.add_argument("--to", required=True, help="host:port to forward to")
    p.add_argument("--listen", default="127.0.0.1:0", help="host:port to listen on")
    p.add_argument("--delay-ms", type=float, default=50.0, help="one-way delay")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="uniform +- jitter")
    p.add_argument("--loss", type=float, default=0.0, help="chance a chunk waits an RTO")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

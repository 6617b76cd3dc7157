"""A delayed link to a server on this machine: netem in network namespaces, else a relay.

``async with delayed_link(port, rtt_ms=100, jitter_ms=10, loss=0.02) as link:`` gives
``link.host``/``link.port`` to connect to instead of ``127.0.0.1:port``, and
``link.kind`` says what carries the delay:

- ``"netem"``: a network namespace joined to this one by a veth pair, ``tc qdisc ...
  netem delay D J loss L`` on both ends, and a zero-delay forwarder
  (:mod:`client_sim.relay`) inside the namespace; bots connect to it, it connects back
  to the server, so each direction crosses the veth twice (``D = rtt / 4``). Loss is
  real packet loss, which TCP turns into retransmissions. Needs root, iproute2 and the
  kernel's ``sch_netem``.
- ``"relay"``: where any of that is missing (``link.why`` says what), the delaying TCP
  relay on loopback (:class:`client_sim.relay.DelayRelay`) holds each chunk ``rtt / 2``
  ± jitter per direction. TCP cannot lose bytes, so loss becomes what TCP makes of it:
  with probability ``loss`` a chunk (and all behind it) waits one retransmission
  timeout (200 ms) more.

Addresses inside the namespace are a /30 of 10.213.0.0/16 chosen per link; nothing
leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from client_sim.relay import DelayRelay, LinkProfile, netem_available

ROOT = Path(__file__).resolve().parent.parent


@dataclass(slots=True)
class Link:
    """Where to connect, and what delays the traffic (see the module doc)."""

    kind: str
    host: str
    port: int
    why: str
    rtt_ms: float
    jitter_ms: float
    loss: float

    @property
    def url(self) -> str:
        """The websocket URL of the server through the link."""
        return f"ws://{self.host}:{self.port}/ws"

    def describe(self) -> str:
        """One line: the link's kind, figures and why that kind."""
        return (
            f"{self.kind}: rtt {self.rtt_ms:g} ms, jitter ±{self.jitter_ms:g} ms, "
            f"loss {self.loss * 100:g}% ({self.why})"
        )


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(f"{' '.join(cmd)}: {done.stderr.strip() or done.returncode}")


def _delete(veth: str, ns: str) -> None:
    """Remove the veth pair and the namespace (what is not there is not an error)."""
    subprocess.run(["ip", "link", "del", veth], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def _netem_args(rtt_ms: float, jitter_ms: float, loss: float) -> list[str]:
    args = ["netem", "delay", f"{rtt_ms / 4:g}ms"]
    if jitter_ms:
        args.append(f"{jitter_ms / 2:g}ms")
    if loss:
        args += ["loss", f"{loss * 100:g}%"]
    return args


def netem_unavailable_reason() -> str | None:
    """None when namespaces with netem can be made here, else why not."""
    if os.geteuid() != 0:
        return "not root: no network namespaces"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "iproute2 (ip, tc) is not installed"
    if not netem_available():
        return "the kernel has no sch_netem (tc: 'Specified qdisc kind is unknown')"
    return None


@contextlib.asynccontextmanager
async def _netem_link(
    port: int, rtt_ms: float, jitter_ms: float, loss: float
) -> AsyncIterator[Link]:
    tag = f"{os.getpid() % 10000:04d}{random.randrange(100):02d}"
    ns, a, b = f"twl{tag}", f"twl{tag}a", f"twl{tag}b"
    net = random.randrange(256)
    root_ip, ns_ip = f"10.213.{net}.1", f"10.213.{net}.2"
    back: DelayRelay | None = None
    proc: asyncio.subprocess.Process | None = None
    try:
        _run("ip", "netns", "add", ns)
        _run("ip", "link", "add", a, "type", "veth", "peer", "name", b)
        _run("ip", "link", "set", b, "netns", ns)
        _run("ip", "addr", "add", f"{root_ip}/30", "dev", a)
        _run("ip", "link", "set", a, "up")
        _run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ns_ip}/30", "dev", b)
        _run("ip", "netns", "exec", ns, "ip", "link", "set", b, "up")
        _run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        netem = _netem_args(rtt_ms, jitter_ms, loss)
        _run("tc", "qdisc", "add", "dev", a, "root", *netem)
        _run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", b, "root", *netem)
        # The server listens on loopback: a zero-delay hop from the veth address to it.
        back = DelayRelay("127.0.0.1", port, LinkProfile(), listen_host=root_ip)
        await back.start()
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", ns, sys.executable, "-m", "client_sim.relay",
            "--to", f"{root_ip}:{back.port}", "--listen", f"{ns_ip}:0", "--delay-ms", "0",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        found = re.search(r":(\d+) ->", line)
        if found is None:
            raise OSError(f"the namespace's forwarder did not start: {line!r}")
        yield Link("netem", ns_ip, int(found.group(1)), "veth + netem", rtt_ms, jitter_ms, loss)
    finally:
        if proc is not None and proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 5)
        if back is not None:
            await back.stop()
        _delete(a, ns)


@contextlib.asynccontextmanager
async def delayed_link(
    port: int,
    rtt_ms: float,
    jitter_ms: float = 0.0,
    loss: float = 0.0,
    *,
    prefer_netem: bool = True,
    seed: int = 1,
) -> AsyncIterator[Link]:
    """A link to ``127.0.0.1:port`` with ``rtt_ms`` round trip (see the module doc)."""
    why = netem_unavailable_reason() if prefer_netem else "relay asked for"
    if why is None:
        stack = contextlib.AsyncExitStack()
        try:
            link = await stack.enter_async_context(_netem_link(port, rtt_ms, jitter_ms, loss))
        except (OSError, TimeoutError) as exc:
            await stack.aclose()
            why = f"netem setup failed: {exc}"
        else:
            async with stack:
                yield link
            return
    profile = LinkProfile(rtt_ms / 2, jitter_ms, loss)
    relay = DelayRelay("127.0.0.1", port, profile, seed=seed)
    await relay.start()
    try:
        yield Link("relay", "127.0.0.1", relay.port, why, rtt_ms, jitter_ms, loss)
    finally:
        await relay.stop()

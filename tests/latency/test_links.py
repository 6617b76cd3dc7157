"""The delayed-link fixture: netem in namespaces where the kernel has it, else the relay.

Each test prints which kind carried the delay (``pytest -s`` shows it) and checks the
delay on a real server's PING/PONG.
"""

from __future__ import annotations

import time

from client_sim.links import delayed_link, netem_unavailable_reason
from server.gamedef import GameDefinition
from server.net.messages import Ping
from server.net.protocol import MessageType
from server.testing import TestClient, running_server


async def test_a_link_delays_the_round_trip_and_says_what_it_is(
    small_arena: GameDefinition,
) -> None:
    async with (
        running_server(small_arena) as srv,
        delayed_link(srv.port, rtt_ms=60, jitter_ms=5) as link,
    ):
        print(f"delayed link: {link.describe()}")
        why = netem_unavailable_reason()
        assert link.kind == ("netem" if why is None else "relay")
        if why is not None:
            assert link.why == why, "the fallback says why netem was not used"
        async with TestClient.connect(link.url) as c:
            await c.expect(MessageType.WELCOME)
            started = time.monotonic()
            await c.send(Ping(t=1.0))
            await c.expect(MessageType.PONG)
            assert time.monotonic() - started >= 0.050  # 60 ms less the jitter both ways


async def test_the_relay_can_be_asked_for(small_arena: GameDefinition) -> None:
    async with (
        running_server(small_arena) as srv,
        delayed_link(srv.port, rtt_ms=20, prefer_netem=False) as link,
    ):
        assert (link.kind, link.host) == ("relay", "127.0.0.1")
        assert "relay" in link.describe()

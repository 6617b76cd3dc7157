"""The browser page in a real Chromium against a real server: play, watch, see the close.

The server runs in a background thread with its own event loop (plus a few bots), so
the test itself is a plain synchronous test driving Playwright's sync API.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.app import TickwireServer
from server.gamedef import GameDefinition
from server.net.messages import Input
from server.net.protocol import CloseCode, MessageType
from server.testing import TestClient
from tests.browser.support import (  # noqa: F401 - CHROMIUM_ARGS, chromium: importable here too
    CHROMIUM_ARGS,
    BackgroundServer,
    chromium,
    in_thread,
    launch,
    own_color_pixels,
)

pytestmark = pytest.mark.browser

BOTS = 3


class ServerThread(BackgroundServer):
    """A real server and ``BOTS`` wandering bots on an event loop in a background thread."""

    async def beside(self, srv: TickwireServer) -> None:
        # Stopping the server closes every connection (pages: SERVER_SHUTDOWN), bots too.
        await asyncio.gather(*(self._bot(srv.url, i) for i in range(BOTS)), return_exceptions=True)

    async def _bot(self, url: str, index: int) -> None:
        async with TestClient.connect(url) as bot:
            await bot.expect(MessageType.WELCOME)
            reader = asyncio.create_task(self._drain(bot))
            step = 0
            try:
                while not reader.done():
                    angle = (index * 2.1 + step * 0.05) % 6.283
                    x, y = round(math.cos(angle), 3), round(math.sin(angle), 3)
                    stick = Input(bot.mirror.tick, x, y)
                    await bot.send(stick)
                    step += 1
                    await asyncio.sleep(0.05)
            finally:
                reader.cancel()

    @staticmethod
    async def _drain(bot: TestClient) -> None:
        while True:
            kind, body = await bot.recv(timeout=30)
            if kind is MessageType.STATE:
                bot.mirror.apply(body)


@pytest.fixture
def server_thread(small_arena: GameDefinition) -> Iterator[ServerThread]:
    """A running server with bots, in its own thread; stopped at the end at the latest."""
    with in_thread(ServerThread(small_arena)) as st:
        yield st


def entity_position(st: ServerThread, player_id: int) -> tuple[float, float]:
    """The world position (units) of ``player_id``'s entity, read on the server."""

    def read(srv: TickwireServer) -> tuple[float, float]:
        for match in srv.manager.matches.values():
            seat = match.by_player.get(player_id)
            if seat is not None and seat.entity is not None:
                world = match.sim.world
                slot = world.slot_of(seat.entity)
                scale = float(match.definition.world.subunits_per_unit)
                return (
                    float(world.col("position.x")[slot]) / scale,
                    float(world.col("position.y")[slot]) / scale,
                )
        raise AssertionError(f"player {player_id} has no entity")

    return st.call(read)


def test_page_plays_watches_and_reports_the_close_when_the_server_stops(
    chromium: Path,  # noqa: F811 - the fixture (conftest.py), re-exported above
    server_thread: ServerThread,
    tmp_path: Path,
) -> None:
    """A player page moves its entity with D/A, a spectator page draws all, both see the close."""
    try:
        from playwright import sync_api
    except ImportError:  # pragma: no cover - the test extras install it
        pytest.fail("the playwright package is missing: pip install -e '.[test]'")
    started = time.monotonic()
    base = server_thread.started.result().http_url
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = launch(pw, chromium)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 780})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(base + "/")
            page.wait_for_function(
                "() => tickwire.ownPos !== null && tickwire.states >= 3", timeout=10_000
            )
            state = page.evaluate("() => tickwire")
            welcome = state["welcome"]
            assert welcome["spectator"] is False
            assert state["ownEntity"] >= 1
            assert own_color_pixels(page) > 20, "the own entity is not drawn"

            # Move away from the nearer vertical edge for about a second.
            x0, _ = entity_position(server_thread, welcome["player_id"])
            key, sign = ("KeyD", 1) if x0 < 500 else ("KeyA", -1)
            page.keyboard.down(key)
            page.wait_for_timeout(1000)
            page.keyboard.up(key)
            page.wait_for_timeout(400)  # stopped on the server, and interpolation caught up
            x1, y1 = entity_position(server_thread, welcome["player_id"])
            assert sign * (x1 - x0) > 40, f"the entity moved from x={x0} to x={x1}"
            shown = page.evaluate("() => tickwire.ownPos")
            assert abs(shown[0] - x1) < 2.0
            assert abs(shown[1] - y1) < 2.0

            watcher = browser.new_page(viewport={"width": 1100, "height": 780})
            watcher.on("pageerror", lambda exc: errors.append(str(exc)))
            watcher.goto(base + "/?spectate=1")
            npcs = server_thread.definition.spawns[0].count
            watcher.wait_for_function(
                f"() => tickwire.drawn >= {npcs + BOTS + 1} && tickwire.rttMs !== null",
                timeout=10_000,
            )
            seen = watcher.evaluate("() => tickwire")
            assert seen["spectator"] is True
            assert seen["ownEntity"] == -1
            assert seen["players"] == BOTS + 1
            page.keyboard.press("KeyG")  # grid overlay on, for the screenshot
            page.wait_for_timeout(100)
            page.screenshot(path=str(tmp_path / "player.png"))
            watcher.screenshot(path=str(tmp_path / "spectator.png"))

            server_thread.stop()
            for p in (page, watcher):
                p.wait_for_function("() => tickwire.closed", timeout=5_000)
                closed = p.evaluate("() => tickwire")
                assert closed["closeCode"] == CloseCode.SERVER_SHUTDOWN
                panel = p.locator("#s-close").inner_text()
                assert panel.startswith(f"{int(CloseCode.SERVER_SHUTDOWN)} SERVER_SHUTDOWN")
                assert closed["closeReason"] in panel
            page.screenshot(path=str(tmp_path / "closed.png"))
        finally:
            browser.close()
    assert errors == []
    assert time.monotonic() - started < 20

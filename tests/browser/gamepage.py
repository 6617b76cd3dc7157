"""Driving the page through a whole game: a server with bots in a thread, one Chromium page.

``play_page(chromium, definition, bots)`` starts a real server (port 0) with ``bots``
bots playing the game's own behaviour, opens the page as one more player, moves (holds
D, then A), aims and fires (mouse over and clicks on the canvas; a right click gives an
order), and waits for the result screen. It returns what the page saw (its
``window.tickwire`` at several moments) for the caller's game-specific checks.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from client_sim.swarm import Swarm, SwarmConfig
from server.app import TickwireServer
from server.gamedef import GameDefinition
from tests.browser.support import CHROMIUM_ARGS, BackgroundServer, launch  # noqa: F401


class GameServerThread(BackgroundServer):
    """A real server and a bot swarm (the game's own behaviour) in a background thread."""

    name = "tickwire-game"
    join_timeout_s = 15.0
    cancel_first = True  # the swarm stops before the server does

    def __init__(self, definition: GameDefinition, bots: int) -> None:
        super().__init__(definition)
        self.bots = bots
        self.go = threading.Event()
        """Set once the page has joined: the bots then join the page's match (the
        fullest with room), so all play one match whenever Chromium comes up."""

    async def beside(self, srv: TickwireServer) -> None:
        config = SwarmConfig(srv.url, self.bots, duration_s=120.0, behaviour=None, ramp_up_s=0.2)
        await asyncio.to_thread(self.go.wait, 60)
        await Swarm(config, self.definition).run()


def play_page(
    chromium: Path, definition: GameDefinition, bots: int, shots: Path, result_timeout_s: float
) -> dict[str, Any]:
    """Play one page through a match (see the module docstring); what it saw."""
    from playwright import sync_api

    st = GameServerThread(definition, bots)
    st.thread.start()
    errors: list[str] = []
    seen: dict[str, Any] = {"errors": errors}
    try:
        base = st.started.result(timeout=15).http_url
        with sync_api.sync_playwright() as pw:
            browser = launch(pw, chromium)
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 780})
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(base + "/")
                page.wait_for_function("() => tickwire.welcome !== null", timeout=15_000)
                st.go.set()
                page.wait_for_function(
                    "() => tickwire.welcome !== null && (tickwire.states >= 3"
                    " || tickwire.frames >= 3)",
                    timeout=15_000,
                )
                seen["welcome"] = page.evaluate("() => tickwire.welcome")
                seen["before"] = page.evaluate("() => tickwire.ownPos")
                box = page.locator("#arena").bounding_box()
                assert box is not None
                cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
                page.mouse.move(cx + 40, cy)
                for key in ("KeyD", "KeyA"):
                    page.keyboard.down(key)
                    page.mouse.down()
                    page.wait_for_timeout(500)
                    seen.setdefault("held_inputs", []).append(
                        page.evaluate("() => tickwire.lastInput")
                    )
                    page.mouse.up()
                    page.keyboard.up(key)
                    seen.setdefault("moved", []).append(page.evaluate("() => tickwire.ownPos"))
                page.mouse.click(cx - 60, cy - 30, button="right")
                page.wait_for_timeout(200)
                seen["ordered_input"] = page.evaluate("() => tickwire.lastInput")
                if seen["welcome"]["sync"] == "state":
                    page.wait_for_function("() => tickwire.fieldChanges > 0", timeout=15_000)
                seen["playing"] = page.evaluate("() => tickwire")
                page.screenshot(path=str(shots / "playing.png"))
                page.wait_for_function(
                    "() => tickwire.result !== null && tickwire.closed",
                    timeout=int(result_timeout_s * 1000),
                )
                seen["result_visible"] = page.locator("#result").is_visible()
                seen["result_text"] = page.locator("#result").inner_text()
                seen["end"] = page.evaluate("() => tickwire")
                page.screenshot(path=str(shots / "result.png"))
            finally:
                browser.close()
    finally:
        st.go.set()
        st.stop()
    return seen

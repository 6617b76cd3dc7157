"""The page predicts its own player: through a link that delays every byte 150 ms each
way, a key press moves the own entity on the canvas before any frame from the server
can reflect it, and the server's frames then confirm the move (issue 18).

The delay is injected with :func:`client_sim.links.delayed_link` (netem in namespaces
where the kernel has it, else the delaying relay; the test prints which).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from client_sim.links import Link, delayed_link
from server.gamedef import load_definition
from server.testing import running_server
from tests.browser.gamepage import CHROMIUM_ARGS
from tests.browser.test_page import chromium  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
RTT_MS = 300.0


class DelayedServer:
    """The shooter's server and a delayed link to it, on a loop in a background thread."""

    def __init__(self) -> None:
        self.link: Future[Link] = Future()
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="tickwire-delayed", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # surfaced to the test through the future
            if not self.link.done():
                self.link.set_exception(exc)
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        shooter = load_definition(ROOT / "data" / "games" / "shooter.toml")
        async with (
            running_server(shooter) as srv,
            delayed_link(srv.port, RTT_MS) as link,
        ):
            self.link.set_result(link)
            await self._stop.wait()

    def stop(self) -> None:
        if self._stop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout=15)


def test_own_player_moves_on_key_press_before_the_servers_frame_arrives(
    chromium: Path,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    from playwright import sync_api

    ds = DelayedServer()
    ds.thread.start()
    errors: list[str] = []
    try:
        link = ds.link.result(timeout=15)
        print(f"delayed link: {link.describe()}")
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 780})
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(f"http://{link.host}:{link.port}/")
                page.wait_for_function(
                    "() => tickwire.prediction.active && tickwire.prediction.serverPos !== null"
                    " && tickwire.states >= 10",
                    timeout=20_000,
                )
                before: dict[str, Any] = page.evaluate("() => tickwire.prediction")
                x0 = before["serverPos"][0]
                assert before["predictedPos"][0] == pytest.approx(x0, abs=0.1), "idle: agree"
                assert before["pending"] >= 3, "a round trip of inputs is in flight"
                # Toward the middle (1 s at 50 u/s stays inside the 300-unit world).
                key, sign = ("KeyD", 1) if x0 < 150 else ("KeyA", -1)
                page.keyboard.down(key)
                # The first drawn frame whose predicted x moved: the server's position of that
                # moment is the one from before the key (its frame cannot be here yet).
                moved: dict[str, Any] = page.evaluate(
                    """([x0, sign]) => new Promise((done) => {
                      const look = () => {
                        const p = tickwire.prediction;
                        if (sign * (p.predictedPos[0] - x0) > 0.5) {
                          done({ ...p, drawn: tickwire.ownPos });
                        } else requestAnimationFrame(look);
                      };
                      look();
                    })""",
                    [x0, sign],
                )
                assert moved["serverPos"][0] == pytest.approx(x0, abs=0.01), moved
                assert sign * (moved["drawn"][0] - x0) > 0.5, "the canvas draws the prediction"
                page.wait_for_timeout(1000)
                page.keyboard.up(key)
                page.wait_for_function(
                    "([x0, sign]) => sign * (tickwire.prediction.serverPos[0] - x0) > 5",
                    arg=[x0, sign],
                    timeout=10_000,
                )
                page.wait_for_timeout(1000)  # the server catches up with the released key
                after: dict[str, Any] = page.evaluate("() => tickwire.prediction")
                page.screenshot(path=str(tmp_path / "predicted.png"))
                assert after["predictedPos"][0] == pytest.approx(after["serverPos"][0], abs=0.2)
                assert after["p99"] is not None, after
                assert after["p99"] < 2.0, after
                status = page.locator("#s-predict").inner_text()
                assert "corrections/s" in status, status
            finally:
                browser.close()
    finally:
        ds.stop()
    assert errors == []

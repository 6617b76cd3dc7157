"""What the Chromium tests share: the browser, and a real server in a background thread.

- :func:`chromium` (a session fixture, provided to every browser test by conftest.py):
  Debian's Chromium, installed with apt-get when missing (``tests/debian_packages``).
- :func:`launch`: a headless Chromium through Playwright's sync API.
- :class:`BackgroundServer`: a real server (port 0) on its own event loop in a daemon
  thread, plus whatever :meth:`~BackgroundServer.beside` runs next to it (bots), so a
  test can drive Playwright synchronously; :func:`in_thread` starts and stops one.
- :func:`own_color_pixels`: how much of the page's own-entity colour the canvas shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

from server.app import TickwireServer
from server.gamedef import GameDefinition
from server.testing import running_server
from tests.debian_packages import ensure_binary

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
R = TypeVar("R")
S = TypeVar("S", bound="BackgroundServer")


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed with apt-get when missing (root only; else a failure
    that names the command; ``pytest --no-browser`` skips the browser tests)."""
    return Path(ensure_binary("chromium", "chromium"))


def launch(pw: Any, chromium_path: Path) -> Any:
    """A headless Chromium (Playwright sync API ``pw``) with the suite's flags."""
    return pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)


class BackgroundServer:
    """A real server (port 0) and :meth:`beside` on an event loop in a daemon thread.

    ``options`` are :func:`server.testing.running_server` overrides. :meth:`stop` stops
    the server, which closes every connection (pages see ``SERVER_SHUTDOWN``); then
    :meth:`beside` is cancelled if it is still running (set ``cancel_first`` to cancel
    it before the server stops instead).
    """

    name = "tickwire-server"
    join_timeout_s = 10.0
    cancel_first = False

    def __init__(self, definition: GameDefinition, **options: Any) -> None:
        self.definition = definition
        self.options = options
        self.loop = asyncio.new_event_loop()
        self.started: Future[TickwireServer] = Future()
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    async def beside(self, srv: TickwireServer) -> None:
        """What runs next to the server (bots); the default is nothing."""

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # surfaced to the test through the future
            if not self.started.done():
                self.started.set_exception(exc)
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with running_server(self.definition, **self.options) as srv:
            task = asyncio.create_task(self.beside(srv))
            self.started.set_result(srv)
            await self._stop.wait()
            if self.cancel_first:
                await _cancel(task)
        await _cancel(task)

    def call(self, fn: Callable[[TickwireServer], R]) -> R:
        """Run ``fn(server)`` on the server's loop (between ticks) and return its result."""
        srv = self.started.result(timeout=10)

        async def run() -> R:
            return fn(srv)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=5)

    def stop(self) -> None:
        """Stop the server (closing every connection) and wait for the thread."""
        if self._stop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout=self.join_timeout_s)


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it; what it raised (a closed connection) is dropped."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


@contextlib.contextmanager
def in_thread(server: S, timeout_s: float = 15.0) -> Iterator[S]:
    """Start ``server``'s thread, wait until it listens, yield it; stop it at the end."""
    server.thread.start()
    try:
        server.started.result(timeout=timeout_s)
        yield server
    finally:
        server.stop()


def own_color_pixels(page: Any) -> int:
    """How many canvas pixels have the page's own-entity colour (#ffcc33)."""
    return int(
        page.evaluate(
            """() => {
              const c = document.getElementById('arena');
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              let n = 0;
              for (let i = 0; i < d.length; i += 4) {
                if (d[i] === 255 && d[i + 1] === 204 && d[i + 2] === 51) n++;
              }
              return n;
            }"""
        )
    )

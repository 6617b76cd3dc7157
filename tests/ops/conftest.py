"""Fixtures for operations tests: a real ``python -m server`` subprocess and HTTP helpers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent.parent
URL_LINE = re.compile(rb"listening on (ws://[\d.]+:(\d+)/ws)")


@dataclass
class ServerProcess:
    """A ``python -m server`` child process and where it listens."""

    proc: asyncio.subprocess.Process
    url: str
    http_url: str
    log_path: Path

    def log_text(self) -> str:
        """Everything the server wrote to stderr (its log) so far."""
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the server process."""
        self.proc.send_signal(sig)

    async def wait(self, timeout: float) -> int:
        """The exit code, waiting at most ``timeout`` seconds."""
        return await asyncio.wait_for(self.proc.wait(), timeout)


def http_get(url: str) -> tuple[int, str]:
    """Status and body of a GET (blocking; call through ``asyncio.to_thread``)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture
def get() -> Callable[[str], Any]:
    """An async GET: ``status, body = await get(url)``."""

    async def _get(url: str) -> tuple[int, str]:
        return await asyncio.to_thread(http_get, url)

    return _get


async def close_code_of(client: Any, timeout: float) -> int | None:
    """Read (and drop) frames until the server closes the connection; its close code."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            await asyncio.wait_for(client.ws.recv(), max(0.01, deadline - loop.time()))
    except ConnectionClosed:
        pass
    return int(client.ws.close_code) if client.ws.close_code is not None else None


@pytest.fixture
def closed() -> Callable[[Any, float], Any]:
    """``code = await closed(test_client, timeout)``: read until closed, return the code."""
    return close_code_of


@pytest.fixture
def spawn_server(
    tmp_path: Path,
) -> Callable[..., contextlib.AbstractAsyncContextManager[ServerProcess]]:
    """Start ``python -m server --port 0 ARGS`` (or ``command + ARGS``) and yield it once
    its URL is printed.

    The log (stderr) goes to a file under ``tmp_path``; the process is killed on exit if
    the test did not stop it.
    """
    counter = iter(range(1000))

    @contextlib.asynccontextmanager
    async def _spawn(
        *args: str,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
    ) -> AsyncIterator[ServerProcess]:
        log_path = tmp_path / f"server-{next(counter)}.log"
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        if command is None:
            command = [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", "0"]
            command += ["--log-format", "json"]
        with log_path.open("wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                *command,
                *args,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
                env=full_env,
                cwd=cwd,
            )
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 20)
            m = URL_LINE.search(line)
            if m is None:
                await proc.wait()
                raise AssertionError(
                    f"server printed no URL: {line!r}\nlog:\n{log_path.read_text()}"
                )
            url = m.group(1).decode()
            http_url = f"http://127.0.0.1:{int(m.group(2))}"
            yield ServerProcess(proc, url, http_url, log_path)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    return _spawn

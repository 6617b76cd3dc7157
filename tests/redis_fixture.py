"""A real ``redis-server`` per test (Debian's package, installed with apt-get when missing).

Loaded as a pytest plugin by tests/conftest.py (``pytest_plugins``)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from debian_packages import ensure_binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisProcess:
    """One redis-server on loopback with no persistence; can be stopped and started again
    on the same port (the Redis-outage fault tests)."""

    def __init__(self, binary: str, workdir: Path, bind: tuple[str, ...] = ("127.0.0.1",)) -> None:
        self.bind = bind
        self.binary = binary
        self.workdir = workdir
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", *self.bind,
                "--protected-mode", "no",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture(scope="session")
def redis_binary() -> str:
    return ensure_binary("redis-server", "redis-server")


@pytest.fixture
def redis_server(redis_binary: str, tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(redis_binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()

"""Waiting for a real server process to answer /healthz."""

from __future__ import annotations

import time
import urllib.request


def wait_healthy(port: int, timeout_s: float = 60, addr: str = "127.0.0.1") -> None:
    """Poll ``http://<addr>:<port>/healthz`` until it answers (a plain function: it sleeps)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{addr}:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"server on {addr}:{port} never became healthy")

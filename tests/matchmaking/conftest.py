"""Helpers for the matchmaking tests: game files, raw HTTP requests, hellos."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from server.net.messages import Hello
from server.net.protocol import PROTOCOL_VERSION, MessageType
from server.testing import TestClient

ROOT = Path(__file__).resolve().parents[2]
ARENA = (ROOT / "data" / "games" / "arena.toml").read_text()


def game_file(folder: Path, name: str, max_players: int = 8, labels: str = "") -> Path:
    """The arena under another name, with few NPCs, ``max_players`` seats, ``[game.labels]``."""
    text = ARENA.replace('name = "arena"', f'name = "{name}"', 1)
    text = re.sub(r"max_players = \d+", f"max_players = {max_players}", text, count=1)
    text = re.sub(r"(?m)^count = \d+", "count = 20", text)
    if labels:
        text = text.replace("[world]", f"[game.labels]\n{labels}\n\n[world]", 1)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture
def two_games(tmp_path: Path) -> str:
    """``alpha`` (4 seats, labels mode=ffa) and ``beta`` (8 seats), as a --game value."""
    a = game_file(tmp_path, "alpha", 4, 'mode = "ffa"\nregion = "eu"')
    b = game_file(tmp_path, "beta", 8)
    return f"{a},{b}"


async def http(
    port: int, method: str, path: str, body: Any = None, raw: bytes | None = None
) -> tuple[int, Any]:
    """One HTTP/1.1 request to 127.0.0.1:port; (status, JSON body or text)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if data:
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    writer.write(head.encode() + b"\r\n" + data)
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    status = int(status_line.split()[1])
    payload = rest.partition(b"\r\n\r\n")[2]
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode(errors="replace")


async def hello(url: str, **fields: Any) -> dict[str, Any] | tuple[int, str]:
    """The WELCOME body, or ``(close code, reason)`` if the server closed instead."""
    try:
        async with TestClient.connect(url, Hello(version=PROTOCOL_VERSION, **fields)) as c:
            return await c.expect(MessageType.WELCOME)
    except ConnectionClosed as exc:
        if exc.rcvd is None:
            return -1, "no close frame"
        return exc.rcvd.code, exc.rcvd.reason

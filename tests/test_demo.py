"""`make demo`'s program: a real server and bots, URLs and a progress line, clean stop."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_serves_bots_and_prints_urls_then_stops_cleanly() -> None:
    """The demo prints the page URL, shows bots joining in its progress lines, exits 0."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.demo",
            "--game",
            "arena",
            "--port",
            "0",
            "--bots",
            "5",
            "--seconds",
            "8",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert re.search(r"play in a browser:\s+http://127\.0\.0\.1:\d+/", out.stdout)
    players = [int(m) for m in re.findall(r"players\s+(\d+)", out.stdout)]
    assert len(players) >= 3, out.stdout
    assert max(players) == 5, out.stdout
    assert re.search(r"private, code [0-9A-Z]{6}", out.stdout), out.stdout  # joinable by code
    assert '"filters": {"mode": "ctf"}' in out.stdout
    assert "demo stopped" in out.stdout
    assert re.search(r"recordings:\s+http://127\.0\.0\.1:\d+/replays", out.stdout)
    recorded = re.findall(r"recorded: (\S+\.twr)", out.stdout)
    assert len(recorded) == 3, out.stdout  # one per match: the crowd's, the private, mode=ctf
    from server.replay.__main__ import main as replay

    assert all(replay([r, "verify"]) == 0 for r in recorded)
    assert re.search(r"admin page:\s+http://127\.0\.0\.1:\d+/admin", out.stdout)
    token = re.search(r"admin token \(8 h\):\s+(\S+)", out.stdout)
    assert token is not None
    assert token.group(1).count(".") == 2, "a JWT"

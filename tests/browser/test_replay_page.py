"""Watching a recording in a real Chromium: ``/?replay=ID``, seek, the world at that tick.

A recording is made offline (a match with four moving players), the real server (port 0,
``record`` = its directory) runs in a background thread, and the page is driven with
its own controls: it pauses, seeks to tick 60 and must show tick 60 and the entity count
the re-simulation has there. A corrupt file closes the page's connection ``MATCH_FAILED``
(shown in its status) while the server keeps serving.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from server.gamedef import GameDefinition, load_definition
from server.match.match import Match
from server.net.protocol import CloseCode
from server.replay.player import ReplayPlayer
from server.replay.recorder import RecordSettings, attach_recorder
from server.replay.replayer import open_recording, recording_definition
from tests.browser.support import BackgroundServer, launch

pytestmark = pytest.mark.browser

ARENA = Path(__file__).resolve().parents[2] / "data" / "games" / "arena.toml"


def record(defn: GameDefinition, directory: Path, ticks: int = 120) -> Path:
    """A recorded match of four players moving at random; the file."""
    match = Match(defn, "m1", 1)
    recorder = attach_recorder(match, RecordSettings(directory, checkpoint_s=1.0))
    rng = np.random.default_rng(3)
    seats = [match.join(i, object()) for i in range(4)]
    for _ in range(ticks):
        for s in seats:
            x, y = (float(v) for v in rng.uniform(-1, 1, 2))
            match.receive_input(s, match.sim.tick + 2, x, y)
        match.tick()
    match.end("test over")
    path: Path = recorder.path
    return path


class ServerThread(BackgroundServer):
    """A real server recording into (and replaying from) ``directory``, in a thread."""

    join_timeout_s = 15.0

    def __init__(self, defn: GameDefinition, directory: Path) -> None:
        super().__init__(defn, record=str(directory))
        self.defn, self.directory = defn, directory


def test_the_page_watches_a_replay_and_seeks(chromium: Path, tmp_path: Path) -> None:
    from playwright import sync_api

    defn = load_definition(ARENA)
    path = record(defn, tmp_path)
    rec = open_recording(path)
    offline = ReplayPlayer(rec, recording_definition(rec), "offline")
    offline.seek(60)
    expected = offline.resim.sim.world.count
    corrupt = tmp_path / "20260101T000000-bad.twr"
    data = bytearray(path.read_bytes())
    data[20:40] = b"\xff" * 20
    corrupt.write_bytes(bytes(data))
    st = ServerThread(defn, tmp_path)
    st.thread.start()
    errors: list[str] = []
    try:
        base = st.started.result(timeout=15).http_url
        with sync_api.sync_playwright() as pw:
            browser = launch(pw, chromium)
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 780})
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(f"{base}/?replay={path.stem}")
                page.wait_for_function(
                    "() => tickwire.replay && tickwire.states >= 2", timeout=15_000
                )
                page.click("#replay-play")  # pause
                page.fill("#replay-tick", "60")
                page.click("#replay-seek")
                page.wait_for_function("() => tickwire.tick === 60", timeout=15_000)
                page.wait_for_function(
                    f"() => document.getElementById('replay-status').textContent"
                    f" === 'tick 60 / 120 · {expected} entities'",
                    timeout=5_000,
                )
                assert page.evaluate("() => tickwire.entities") == expected
                assert page.evaluate("() => tickwire.replay.playing") is False
                bad = browser.new_page()
                bad.goto(f"{base}/?replay={corrupt.stem}")
                bad.wait_for_function("() => tickwire.closed", timeout=15_000)
                assert bad.evaluate("() => tickwire.closeCode") == CloseCode.MATCH_FAILED
                page.click("#replay-play")  # the server still serves the first page
                page.wait_for_function("() => tickwire.tick > 60", timeout=15_000)
            finally:
                browser.close()
    finally:
        st.stop()
    assert errors == []

"""Watching a recording over the websocket (HELLO ``replay``, REPLAY_CONTROL): the real
server on port 0, a real client; bad ids, corrupt files and bad controls close that
connection with their documented code while the server keeps serving."""

from __future__ import annotations

from pathlib import Path

from test_replay import GAMES, play
from websockets.exceptions import ConnectionClosed

from server.gamedef import GameDefinition, load_definition
from server.net.messages import Hello, ReplayControl
from server.net.protocol import PROTOCOL_VERSION, CloseCode, MessageType
from server.replay.player import ReplayPlayer
from server.replay.replayer import Recording, open_recording, recording_definition
from server.testing import TestClient, running_server


def loaded(path: Path) -> tuple[Recording, GameDefinition]:
    rec = open_recording(path)
    return rec, recording_definition(rec)


async def closed_with(client: TestClient) -> int | None:
    """Read until the server closes; the close code."""
    for _ in range(10_000):
        try:
            await client.recv()
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
    raise AssertionError("the server did not close")


async def test_a_replay_is_watched_and_steered_and_bad_ones_are_refused(tmp_path: Path) -> None:
    defn = load_definition(GAMES[0])
    _, rec = play(defn, tmp_path)
    replay_id = rec.path.stem
    offline = ReplayPlayer(*loaded(rec.path), "offline")
    offline.seek(60)
    count_at_60 = offline.resim.sim.world.count
    corrupt = tmp_path / "20260101T000000-bad.twr"
    data = bytearray(rec.path.read_bytes())
    data[20:40] = b"\xff" * 20  # inside the header record: its CRC no longer matches
    corrupt.write_bytes(bytes(data))
    async with running_server(defn, record=str(tmp_path)) as srv:
        hello = Hello(version=PROTOCOL_VERSION, replay=replay_id)
        async with TestClient.connect(srv.url, hello) as c:
            welcome = await c.expect(MessageType.WELCOME)
            assert welcome["spectator"] is True
            assert welcome["replay"]["end_tick"] == 120
            await c.expect(MessageType.STATE)
            await c.send(ReplayControl(play=False, seek=60))
            for _ in range(200):
                body = await c.expect(MessageType.STATE)
                if body["t"] == 60:
                    break
            assert body["t"] == 60
            assert len(c.mirror.entities) == count_at_60
            await c.send(ReplayControl(speed=8.0))
            assert await closed_with(c) == CloseCode.MALFORMED_MESSAGE
        async with TestClient.connect(srv.url, hello) as c:
            await c.expect(MessageType.WELCOME)
            await c.send(ReplayControl(seek=10_000))
            assert await closed_with(c) == CloseCode.MALFORMED_MESSAGE
        for name, code in (
            ("nope", CloseCode.MATCH_NOT_FOUND),
            ("../etc/passwd", CloseCode.MATCH_NOT_FOUND),
            (corrupt.stem, CloseCode.MATCH_FAILED),
        ):
            bad = Hello(version=PROTOCOL_VERSION, replay=name)
            async with TestClient.connect(srv.url, bad) as c:
                assert await closed_with(c) == code, name
        async with TestClient.connect(srv.url) as c:  # live play is unaffected
            await c.expect(MessageType.WELCOME)
            await c.send(ReplayControl(play=True))
            assert await closed_with(c) == CloseCode.UNEXPECTED_MESSAGE

"""Recordings: every shipped game records and verifies; bad files fail cleanly; bounds hold."""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest

from server.gamedef import GameDefinition, load_definition
from server.gamedef.load import override_sync_mode
from server.match.handler import LeaveReason
from server.match.match import Match
from server.net.messages import Input, Leave
from server.net.protocol import MessageType
from server.replay.__main__ import main
from server.replay.format import ReplayError, read_records
from server.replay.recorder import MatchRecorder, RecordSettings, attach_recorder, recording_path
from server.testing import TestClient, running_server

GAMES = sorted((Path(__file__).resolve().parents[2] / "data" / "games").glob("*.toml"))


def play(
    defn: GameDefinition,
    directory: Path,
    ticks: int = 120,
    seed: int = 1,
    change_at: int | None = None,
    close: bool = True,
) -> tuple[Match, MatchRecorder]:
    """A match with players joining, moving and leaving, recorded into ``directory``."""
    match = Match(defn, "m1", 1)
    recorder = attach_recorder(match, RecordSettings(directory, checkpoint_s=1.0))
    rng = np.random.default_rng(seed)
    seats = [match.join(i, object()) for i in range(4)]
    declared = getattr(defn, "inputs_declared", False)
    for t in range(1, ticks + 1):
        for s in seats:
            if rng.random() < 0.3:
                if declared:  # a game with an [input] section: stored values per field
                    values = tuple(random_value(f, rng) for f in getattr(defn, "inputs", ()))
                    if t == change_at:
                        values = (values[0] ^ 1, *values[1:])
                    receive = getattr(match, "receive_fields")  # noqa: B009 (engine's API)
                    receive(s, match.sim.tick + 2, values)
                    continue
                x, y = (float(v) for v in rng.uniform(-1, 1, 2))
                if t == change_at:
                    x = -x
                match.receive_input(s, match.sim.tick + 2, x, y)
        if t == ticks // 3:
            match.leave(seats.pop(0), LeaveReason.CONSENTED)
            seats.append(match.join(50, object()))
        match.tick()
    if close:
        match.end("test over")
    return match, recorder


def random_value(field: Any, rng: np.random.Generator) -> int:
    """A stored value of one declared input field (stick, angle, buttons, int)."""
    kind = field.kind
    if kind == "stick":
        return int(rng.integers(-127, 128))
    if kind == "angle":
        return int(rng.integers(0, 65536))
    if kind == "buttons":
        return int(rng.integers(0, 1 << len(field.bits)))
    return int(rng.integers(field.minimum, field.maximum + 1))


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("mode", ["state", "lockstep"])
@pytest.mark.parametrize("game", GAMES, ids=[g.stem for g in GAMES])
def test_every_shipped_game_records_and_verifies(
    game: Path, mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A recorded test match re-simulates to the same checksum at every checkpoint."""
    defn = override_sync_mode(load_definition(game), mode)
    _, rec = play(defn, tmp_path)
    code, out, _ = cli(capsys, rec.path, "verify")
    assert code == 0, out
    checkpoints = 120 // defn.tick_rate_hz + 1  # one a second (checkpoint_s=1.0), and tick 0
    assert out.startswith(f"ok: {checkpoints} checkpoints agree over 120 ticks")
    code, out, _ = cli(capsys, rec.path, "info")
    facts = json.loads(out)
    assert facts["mode"] == mode
    assert facts["players"] == [0, 1, 2, 3, 50]
    assert facts["complete"] is True
    assert facts["duration_s"] == 120 / defn.tick_rate_hz


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


async def _two_players_one_leaves(arena: GameDefinition, record: str) -> Any:
    async with (
        running_server(arena, record=record) as srv,
        TestClient.connect(srv.url) as a,
        TestClient.connect(srv.url) as b,
    ):
        await a.expect(MessageType.WELCOME)
        await b.expect(MessageType.WELCOME)
        for k in range(10):
            await a.send(Input(srv.manager.matches["m1"].tick_count, 1.0, -0.5 + k / 10))
            await asyncio.sleep(0.03)
        await b.send(Leave())
        await asyncio.sleep(0.2)
        return await asyncio.to_thread(http_json, srv.http_url + "/replays")


async def _one_player(defn: GameDefinition) -> Any:
    async with running_server(defn) as srv, TestClient.connect(srv.url) as a:
        await a.expect(MessageType.WELCOME)
        await asyncio.sleep(0.3)
        return await asyncio.to_thread(http_json, srv.http_url + "/replays")


def test_replays_route_says_when_nothing_is_recorded(arena: GameDefinition) -> None:
    """``GET /replays`` on a server that does not record: an empty list, recording false."""
    listed = asyncio.run(_one_player(arena))
    assert listed == {"recording": False, "directory": None, "replays": []}


def test_server_records_every_match_with_record_flag(
    arena: GameDefinition, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--record DIR``: a real server's match, players joining and leaving, verifies."""
    listed = asyncio.run(_two_players_one_leaves(arena, str(tmp_path)))
    files = list(tmp_path.glob("*.twr"))
    assert len(files) == 1
    assert listed["recording"] is True
    assert [r["id"] for r in listed["replays"]] == [files[0].stem]
    assert listed["replays"][0]["match_id"] == "m1"
    code, out, _ = cli(capsys, files[0], "verify")
    assert code == 0, out
    facts = json.loads(cli(capsys, files[0], "info")[1])
    assert facts["ended"] == "server shutdown"
    assert facts["joins"] == 2
    assert facts["leaves"] == 1


def test_replay_section_of_a_game_turns_recording_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``[replay] record = true`` records without any flag, into its directory."""
    out_dir = tmp_path / "recs"
    game = tmp_path / "game.toml"
    game.write_text(
        GAMES[0].read_text()
        + f'\n[replay]\nrecord = true\ndirectory = "{out_dir}"\ncheckpoint_s = 0.5\n'
    )
    asyncio.run(_one_player(load_definition(game)))
    files = list(out_dir.glob("*.twr"))
    assert len(files) == 1
    assert cli(capsys, files[0], "verify")[0] == 0


def test_a_crash_loses_at_most_the_last_second(tmp_path: Path) -> None:
    """While recording, the file already holds every tick up to the last flush (1 s)."""
    defn = load_definition(GAMES[0])
    match, rec = play(defn, tmp_path, ticks=55, close=False)
    seen = [r.body["t"] for r in read_records(rec.path) if r.kind == "tick"]
    assert seen[-1] >= match.tick_count - defn.tick_rate_hz
    assert seen == list(range(1, seen[-1] + 1))
    match.end("done")


def test_bad_files_fail_with_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Truncated replays to the last whole record; corrupt, foreign, wrong-version,
    changed-definition and empty files are one line naming the file and record, exit 2."""
    _, rec = play(load_definition(GAMES[0]), tmp_path)
    data = rec.path.read_bytes()
    cut = tmp_path / "cut.twr"
    cut.write_bytes(data[: len(data) * 2 // 3])
    code, out, _ = cli(capsys, cut, "verify")
    assert code == 0
    assert "truncated" in out
    bad: dict[str, bytes] = {}
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    bad["corrupt"] = bytes(flipped)
    bad["foreign"] = b"#!/bin/sh\necho hi\n"
    bad["empty"] = b""
    bad["header-only-cut"] = data[:20]
    # A version-2 header: re-frame the first record with another format_version.

    (length, _crc) = struct.unpack_from("<II", data, 8)
    kind, header = msgpack.unpackb(data[16 : 16 + length], raw=False)
    header["format_version"] = 2
    payload = msgpack.packb([kind, header], use_bin_type=True)
    bad["version"] = (
        data[:8] + struct.pack("<II", len(payload), zlib.crc32(payload)) + payload
        + data[16 + length :]
    )  # fmt: skip
    for name, content in bad.items():
        path = tmp_path / f"{name}.twr"
        path.write_bytes(content)
        code, out, err = cli(capsys, path, "verify")
        assert code == 2, name
        assert err.count("\n") == 1, (name, err)
        assert str(path) in err
        assert "Traceback" not in err
        if name in ("corrupt", "version"):
            assert "record" in err
    other = tmp_path / "other.toml"
    other.write_text(GAMES[0].read_text().replace("seed = ", "seed = 1"))
    code, _, err = cli(capsys, rec.path, "--definition", other, "verify")
    assert code == 2
    assert "changed since" in err
    code, _, err = cli(capsys, tmp_path / "missing.twr", "info")
    assert code == 2
    assert err.count("\n") == 1


def test_disk_full_and_size_cap_stop_the_recording_not_the_match(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """/dev/full refuses the writes: the recording stops (logged, counted), ticks go on."""
    defn = load_definition(GAMES[0])
    match = Match(defn, "m1", 1)
    full = Path("/dev/full")
    caplog.set_level(logging.ERROR, "tickwire.replay")
    rec = MatchRecorder(match, full, RecordSettings(tmp_path), fh=full.open("wb", buffering=0))
    match.recorder = rec
    match.join(1, object())
    for _ in range(30):
        match.tick()
    assert not rec.active
    assert "write failed" in rec.stop_reason
    assert match.counters["recording_stopped"] == 1
    assert match.tick_count == 30
    assert any("recording of match m1 stopped" in r.getMessage() for r in caplog.records)

    capped = Match(defn, "m2", 2)
    small = attach_recorder(capped, RecordSettings(tmp_path, checkpoint_s=0.5, max_bytes=60_000))
    for _ in range(60):
        capped.tick()
    capped.end("over")
    assert small.stop_reason.startswith("size cap")
    assert small.path.stat().st_size <= 60_000
    assert next(iter(read_records(small.path))).kind == "header"


def test_rotation_keeps_the_newest_recordings(tmp_path: Path) -> None:
    """``keep`` bounds the files per directory; the oldest go first."""
    settings = RecordSettings(tmp_path, keep=3)
    made = []
    for i in range(5):
        p = recording_path(settings, f"m{i}", now=1_000_000 + i)
        p.write_bytes(b"x")
        made.append(p)
    assert sorted(tmp_path.glob("*.twr")) == sorted(made[-3:])


def test_bisect_names_the_first_divergent_tick_column_and_entity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two lockstep recordings whose inputs differ from tick 40, and a client's log."""
    defn = override_sync_mode(load_definition(GAMES[0]), "lockstep")
    _, a = play(defn, tmp_path / "a")
    _, b = play(defn, tmp_path / "b", change_at=40)
    code, out, _ = cli(capsys, a.path, "bisect", b.path)
    assert code == 1
    first = out.strip()
    assert first.startswith("first divergent tick 4")
    assert "column velocity." in first or "column input." in first
    assert cli(capsys, a.path, "bisect", a.path)[1].strip() == "no divergence"
    checkpoints = [r.body for r in read_records(a.path) if r.kind == "checkpoint"]
    log = tmp_path / "client.jsonl"
    lines = [{"frame": c["t"], "checksum": c["checksum"]} for c in checkpoints]
    lines[3]["checksum"] ^= 1
    log.write_text("\n".join(json.dumps(x) for x in lines))
    code, out, _ = cli(capsys, a.path, "bisect", log)
    assert code == 1
    assert out.startswith(f"first divergent frame {lines[3]['frame']}:")


def test_export_and_tick_rate_rerun(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Positions over time as CSV and NPZ; the inputs re-run at another tick rate."""
    defn = load_definition(GAMES[0])
    match, rec = play(defn, tmp_path, ticks=60)
    n = match.sim.world.count
    code, out, _ = cli(capsys, rec.path, "export", tmp_path / "p.csv", "--every", "10")
    assert code == 0
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "tick,netid,kind,x,y"
    assert len(rows) - 1 == 6 * n
    assert cli(capsys, rec.path, "export", tmp_path / "p.npz")[0] == 0
    npz = np.load(tmp_path / "p.npz")
    assert sorted(npz.files) == ["kind", "netid", "tick", "x", "y"]
    assert npz["tick"].max() == 60
    code, out, _ = cli(capsys, rec.path, "rerun", "--tick-rate", "40")
    assert code == 0
    result = json.loads(out)
    assert result["ticks"] == [60, 120]
    assert result["compared"] == n
    assert result["identical"] is False


def test_recording_cost_benchmark_runs(tmp_path: Path) -> None:
    """``python -m benchmarks replay`` (tiny sizes): both runs, the recorder's share, JSON."""
    from benchmarks.__main__ import main as bench

    out = tmp_path / "replay.json"
    args = ["replay", "--entities", "50", "--players", "4", "--ticks", "30", "--out", str(out)]
    assert bench(args) == 0
    data = json.loads(out.read_text())
    assert data["cpu_s_inside_recorder"] > 0
    assert 0 < data["recorder_share"] < 1


@pytest.mark.parametrize("mode", ["state", "lockstep"])
def test_a_recording_is_watched_with_play_pause_seek_and_speed(mode: str, tmp_path: Path) -> None:
    """A spectator of a replay gets STATE frames of the recorded world; seek lands exactly."""
    from server.replay.player import ReplayPlayer
    from server.replay.replayer import open_recording, recording_definition
    from server.testing import StateMirror

    defn = override_sync_mode(load_definition(GAMES[0]), mode)
    _, rec = play(defn, tmp_path)
    recording = open_recording(rec.path)
    player = ReplayPlayer(recording, recording_definition(recording), "r1")
    conn = object()
    player.watch(conn)
    mirror = StateMirror()

    def show(dt: float) -> int:
        out = player.advance(dt)
        for c, frame in out.frames:
            assert c is conn
            body = msgpack.unpackb(frame, raw=False)[2]
            mirror.apply(body)
        return len(out.frames)

    assert show(1.0) == 1
    assert player.tick == defn.tick_rate_hz
    assert len(mirror.entities) == player.resim.sim.world.count
    player.set_speed(4.0)
    show(0.5)
    assert player.tick == 3 * defn.tick_rate_hz
    player.pause()
    assert show(1.0) == 0
    checkpoints = {
        r.body["t"]: r.body["checksum"] for r in recording.records if r.kind == "checkpoint"
    }
    for target in (100, 20, 45):
        player.seek(target)
        assert player.tick == target
        if target in checkpoints:
            assert player.resim.sim.checksum() == checkpoints[target]
        assert show(0.0) == 1, "a full snapshot after the seek"
        assert len(mirror.entities) == player.resim.sim.world.count
    player.seek(40)
    assert player.resim.sim.checksum() == checkpoints[40]
    with pytest.raises(ValueError, match="speed"):
        player.set_speed(8.0)
    with pytest.raises(ReplayError, match="outside"):
        player.seek(10_000)
    player.play()
    player.set_speed(4.0)
    for _ in range(10):
        show(1.0)
    assert player.ended
    assert player.tick == 120

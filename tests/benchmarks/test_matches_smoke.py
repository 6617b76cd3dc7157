"""`benchmarks e2e --matches` and `benchmarks tick --matches` keep working (tiny sizes;
figures are not asserted, only that each is measured and the layout is what was asked)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.workload import SMALL_INTEREST_UNITS, Layout, small_match_text
from server.config import DEFAULT_GAME
from server.gamedef import load_definition
from tests.benchmarks.support import run_benchmark


def test_small_match_definition_fills_matches_and_shows_each_player_its_whole_match(
    tmp_path: Path,
) -> None:
    """max_players is the match size, the NPC count is per match, radius >= diagonal."""
    path = tmp_path / "g.toml"
    path.write_text(small_match_text(str(DEFAULT_GAME), Layout(100, 8, 50)))
    defn = load_definition(path)
    assert defn.max_players == 8
    assert [s.count for s in defn.spawns] == [50]
    diagonal = (defn.world.width_units**2 + defn.world.height_units**2) ** 0.5
    assert defn.sync.interest_radius_units == SMALL_INTEREST_UNITS >= diagonal


def test_e2e_many_matches_reports_per_client_figures_and_the_floor(tmp_path: Path) -> None:
    """3 matches of 2 players: every bot in, 3 matches on the server, bursts and floor."""
    data, stdout = run_benchmark(
        [
            "e2e",
            "--matches",
            "3",
            "--players-per-match",
            "2",
            "--entities-per-match",
            "5",
            "--duration",
            "2",
            "--warmup",
            "0.5",
            "--ramp-up",
            "0.5",
        ],
        tmp_path / "e2e.json",
    )
    r = data["result"]
    assert r["layout"] == {"matches": 3, "players": 2, "npcs": 5}
    assert r["connected"] == 6
    assert r["server_matches"] == 3
    assert r["max_messages_per_client_per_s"] >= r["rate_per_client"]["min"] > 0
    # Frames alone: at most the messages' count, at least the slowest client's rate.
    frames = r["max_frames_per_client_per_s"]
    assert r["max_messages_per_client_per_s"] >= frames >= int(r["rate_per_client"]["min"])
    assert r["late_ticks"] >= 0
    assert r.get("floor_ratio", 0) > 0, stdout
    bars = {b["bar"] for b in r["bars"]}
    assert {"max messages per client per second", "server RSS MB"} <= bars
    assert "matches running on the server: 3" in stdout


def test_tick_many_matches_reports_the_amortised_cost_per_match_tick(tmp_path: Path) -> None:
    """A few rounds of 3 matches, per match and batched: a cost per match-tick, the
    inputs', step's and frames' parts, and a frame per player either way."""
    data, stdout = run_benchmark(
        ["tick", "--matches", "3", "--entities-per-match", "5", "--ticks", "5", "--warmup", "1"],
        tmp_path / "tick.json",
    )
    alone, batched = data["rows"]
    assert [alone["mode"], batched["mode"]] == ["per-match", "batched"]
    for row in (alone, batched):
        assert row["matches"] == 3
        assert row["us_per_match_tick_p50"] >= row["step_us_per_match_tick_p50"] > 0
        assert row["inputs_us_per_match_tick_p50"] > 0
        assert row["frames_us_per_match_tick_p50"] > 0
        assert row["cpu_us_per_match_tick_p50"] >= row["step_cpu_us_per_match_tick_p50"] >= 0
        assert row["frames_per_round"] == 3 * 8
    assert "per match-tick" in stdout
    assert "faster than per match" in stdout
    assert "CPU time, batched vs per match" in stdout


def test_host_many_matches_reports_cpu_per_match_tick_and_per_input(tmp_path: Path) -> None:
    """3 matches of 2 players hosted for a few deadlines: a CPU cost per match-tick and
    per input, and every player's frame handed to the transport at every deadline."""
    data, stdout = run_benchmark(
        [
            "host",
            "--matches",
            "3",
            "--players-per-match",
            "2",
            "--entities-per-match",
            "5",
            "--ticks",
            "5",
            "--warmup",
            "2",
        ],
        tmp_path / "host.json",
    )
    r = data["result"]
    assert (r["matches"], r["players_per_match"], r["deadlines"]) == (3, 2, 5)
    assert r["cpu_us_per_match_tick_p50"] > 0
    assert r["cpu_us_per_input_p50"] > 0
    assert r["frames_handed"] >= 3 * 2 * 5
    assert r["batched_ticks"] > 0
    assert "us CPU per match-tick" in stdout

"""Every shipped game in a real Chromium: join, move, fire, see a field change, see the result.

The page knows no game: what it draws and sends comes from WELCOME. Each game runs
shortened (one short round) with three of its own bots; the page is the fourth player.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from server.net.protocol import CloseCode
from tests.browser.gamepage import play_page
from tests.games.conftest import shortened

pytestmark = pytest.mark.browser
BOTS = 3

CASES: dict[str, dict[str, Any]] = {
    "tag": {"round_timer": {"round_s": 7.0, "warmup_s": 0.0, "rounds": 1}},
    "shooter": {"round_timer": {"round_s": 8.0}, "fire_projectile": {"damage": 50}},
    "rts": {"round_timer": {"round_s": 7.0}},
}


@pytest.mark.parametrize("game", sorted(CASES))
def test_page_plays_a_game_from_its_schema_to_the_result_screen(
    chromium: Path,
    tmp_path: Path,
    game: str,
) -> None:
    """The page sends every declared input (moving and firing), shows the fields the
    server replicates change, and ends on the result screen with MATCH_ENDED."""
    defn = shortened(game, **CASES[game])
    seen = play_page(chromium, defn, BOTS, tmp_path, result_timeout_s=30)
    assert seen["errors"] == []
    welcome = seen["welcome"]
    declared = [f["name"] for f in welcome["input"]]
    optional = {"seq", "view_tick", "view_alpha"}  # issue 18's keys, any game
    for body in (*seen["held_inputs"], seen["ordered_input"]):
        assert [k for k in body if k not in optional] == ["tick", *declared]
    kinds = {f["type"]: f for f in welcome["input"]}
    if "stick" in kinds:
        assert [b[declared[0]] for b in seen["held_inputs"]] == [1, -1]  # D, then A
    if "buttons" in kinds:
        fire = 1 << max(0, kinds["buttons"]["bits"].index("fire"))
        assert all(b[kinds["buttons"]["name"]] & fire for b in seen["held_inputs"])
    if "int" in kinds:
        assert seen["ordered_input"][kinds["int"]["name"]] > 0  # the right-click point
    if welcome["sync"] == "state":
        before, moved = seen["before"], seen["moved"]
        assert before is not None
        assert math.dist(before, moved[0]) > 1.0, (before, moved)
        assert seen["playing"]["fieldChanges"] > 0
    end = seen["end"]
    assert end["closeCode"] == CloseCode.MATCH_ENDED
    result = end["result"]
    assert len(result["players"]) == BOTS + 1
    assert seen["result_visible"]
    me = welcome["player_id"]
    assert any(p["player_id"] == me for p in result["players"])
    assert result["reason"] in seen["result_text"]

"""Shipped games played to their RESULT by real bots against a real server.

``shortened(name, **params)`` loads ``data/games/<name>.toml`` as TOML, overrides
pipeline parameters by system name (``round_timer={"round_s": 3}``) and validates the
result with the same loader (plug-in modules resolve from the shipped file's folder).
``play_to_result`` runs a real server on port 0 and a bot swarm with the game's own
bot behaviour until every bot's connection has ended.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from client_sim.report import Slo, build_report
from client_sim.swarm import Swarm, SwarmConfig
from server.gamedef import GameDefinition, parse_definition
from server.testing import running_server

GAMES = Path(__file__).resolve().parents[2] / "data" / "games"


def shortened(name: str, **overrides: dict[str, Any]) -> GameDefinition:
    """``data/games/<name>.toml`` with the given systems' params overridden."""
    path = GAMES / f"{name}.toml"
    doc = tomllib.loads(path.read_text())
    seen = set()
    for step in doc.get("pipeline", []):
        extra = overrides.get(step["system"])
        if extra is not None:
            step["params"] = {**step.get("params", {}), **extra}
            seen.add(step["system"])
    missing = set(overrides) - seen
    assert not missing, f"{path}: no pipeline step runs {sorted(missing)}"
    return parse_definition(doc, str(path))


async def play_to_result(
    defn: GameDefinition, bots: int = 8, timeout_s: float = 60.0, **kw: Any
) -> tuple[dict[str, Any], Swarm]:
    """Run ``bots`` bots (the game's own behaviour) until their match ended; the report."""
    async with running_server(defn) as srv:
        options: dict[str, Any] = {
            "duration_s": timeout_s,
            "behaviour": None,
            "ramp_up_s": 0.3,
            "warmup_s": 0.0,
            "until_ended": True,
            **kw,
        }
        config = SwarmConfig(srv.url, bots, **options)
        swarm = Swarm(config, defn)
        parts = [await swarm.run()]
    return build_report(parts, {}, Slo()), swarm


def check_results(report: dict[str, Any], swarm: Swarm, bots: int) -> list[dict[str, Any]]:
    """Every bot got one RESULT of one match, closed MATCH_ENDED, with no protocol fault;
    the RESULT (the same for all) is returned for game-specific checks."""
    assert report["connected"] == bots, report["failures"]
    assert report["errors"] == {}, report["errors"]
    assert report["mirror_errors"] == 0
    assert report["gaps"] == 0
    assert report["desyncs"] == 0
    assert report["close_codes"] == {"4015": bots}, report["close_codes"]
    games = report["games"]
    assert games["results"] == bots, games
    results = [bot.stats.results[0] for bot in swarm.bots]
    first = results[0]
    assert all(r == first for r in results), "bots saw different results"
    assert set(first) >= {"tick", "reason", "winner", "winner_player", "players"}
    players = first["players"]
    assert len(players) == bots
    assert sorted(p["seat"] for p in players) == list(range(bots))
    ids = {bot.welcome["player_id"] for bot in swarm.bots}
    assert {p["player_id"] for p in players} == ids
    for p in players:
        assert set(p) >= {"player_id", "seat", "entity", "score", "fields"}
    if first["winner_player"] >= 0:
        assert first["winner_player"] in ids
        winner = next(p for p in players if p["player_id"] == first["winner_player"])
        assert winner["entity"] == first["winner"]
    return players

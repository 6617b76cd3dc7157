"""Each shipped game, shortened, played by 8 of its own bots to its RESULT.

Real server on port 0, real bots (``python -m client_sim``'s swarm, the behaviour the
definition names in ``[game] bot``): no protocol error, no mirror error, no gap or
desync (the rts bots run lockstep replicas that check every checksum), and a RESULT
with every seated player, the same for all, then ``MATCH_ENDED``.
"""

from __future__ import annotations

from tests.games.conftest import check_results, play_to_result, shortened

BOTS = 8


async def test_tag_is_played_to_its_result_by_eight_chase_tag_bots() -> None:
    """Short rounds of tag: "it" passes on contact, non-"it" players score each second."""
    defn = shortened("tag", round_timer={"round_s": 4.0, "warmup_s": 0.5, "rounds": 2})
    assert defn.bot == "chase_tag"
    report, swarm = await play_to_result(defn, BOTS)
    players = check_results(report, swarm, BOTS)
    result = swarm.bots[0].stats.results[0]
    assert result["reason"] == "rounds"
    assert report["games"]["events"].get("tagged", 0) >= BOTS  # each bot saw the first "it"
    assert all(isinstance(p["score"], int) for p in players)
    assert sum(p["score"] for p in players) > 0  # somebody not "it" scored


async def test_shooter_is_played_to_its_result_by_eight_shooter_aim_bots() -> None:
    """A short shooter match: bots aim and fire, projectiles hit, players die and score."""
    defn = shortened(
        "shooter",
        round_timer={"round_s": 10.0, "score_limit": 3},
        fire_projectile={"damage": 100},  # one hit kills: kills within a short match
    )
    assert defn.bot == "shooter_aim"
    report, swarm = await play_to_result(defn, BOTS)
    players = check_results(report, swarm, BOTS)
    result = swarm.bots[0].stats.results[0]
    assert result["reason"] in {"score_limit", "rounds"}
    events = report["games"]["events"]
    assert events.get("hit", 0) > 0, events
    assert events.get("died", 0) > 0, events
    assert sum(p["score"] for p in players) > 0  # kills were scored
    assert all(set(p["fields"]) == {"score.deaths"} for p in players)


async def test_rts_is_played_to_its_result_by_eight_rts_zone_bots_with_replicas() -> None:
    """Lockstep rts: units go to the zone, replicas agree on every checksum, RESULT."""
    defn = shortened(
        "rts",
        round_timer={"round_s": 6.0},
        follow_owner={"speed_units_per_s": 150.0},  # squads reach the zone in time
    )
    assert defn.sync.mode == "lockstep"
    assert defn.bot == "rts_zone"
    report, swarm = await play_to_result(defn, BOTS, replicas=2)
    check_results(report, swarm, BOTS)
    assert report["replicas"] == 2
    assert report["checksums_sent"] > 0
    result = swarm.bots[0].stats.results[0]
    assert result["reason"] in {"score_limit", "rounds"}

"""client_sim's match-choosing flags against a real server of two games."""

from __future__ import annotations

import pytest

from client_sim.__main__ import build_parser, join_plan
from client_sim.joining import JoinPlan
from client_sim.report import Slo, build_report
from client_sim.swarm import Swarm, SwarmConfig
from server.match.match import MatchState
from server.testing import running_server


async def swarm(url: str, plan: JoinPlan, bots: int) -> dict[str, object]:
    config = SwarmConfig(url, bots, duration_s=1.0, ramp_up_s=0.3, warmup_s=0.2, join=plan)
    return build_report([await Swarm(config, None).run()], {}, Slo())


async def test_create_private_via_http_then_the_others_join_by_code(two_games: str) -> None:
    async with running_server(game=two_games) as server:
        plan = JoinPlan(game="beta", create=True, private=True, via_http=True)
        report = await swarm(server.url, plan, 3)
        assert report["connected"] == 3
        (private,) = [m for m in server.host.directory.matches() if m.private]
        assert private.definition.name == "beta"
        assert private.players == 3  # seats held through the reconnect grace
        report = await swarm(server.url, JoinPlan(game="alpha", filters={"mode": "ffa"}), 2)
        assert report["connected"] == 2


async def test_queue_flag_matches_bots_in_pairs(two_games: str) -> None:
    async with running_server(game=two_games, matchmaker_interval_ms=50) as server:
        ticket = {"properties": {"skill": 100}, "query": {}, "min_players": 2, "max_players": 2}
        report = await swarm(server.url, JoinPlan(game="beta", queue=ticket), 4)
        assert report["connected"] == 4
        assert server.host.queue.formed_total == 2
        formed = [
            m
            for m in server.host.directory.matches()
            if m.capacity == 2 and m.state is not MatchState.ENDED
        ]
        assert sorted(m.players for m in formed) == [2, 2]


def test_flags_make_a_plan() -> None:
    args = build_parser().parse_args(["--game", "tag", "--filters", '{"mode": "ctf"}', "--queue"])
    plan, definition = join_plan(args)
    assert definition is None
    assert plan == JoinPlan(game="tag", filters={"mode": "ctf"}, queue={})
    with pytest.raises(ValueError, match="--private goes with --create"):
        join_plan(build_parser().parse_args(["--private"]))
    with pytest.raises(ValueError, match="--procs 1"):
        join_plan(build_parser().parse_args(["--create", "--procs", "2"]))

"""Placement scores: least-loaded by CPU and players, bursts spread by pending cost,
draining nodes skipped, keyed placement the ring's."""

from __future__ import annotations

from server.cluster.placement import MATCH_COST, PLAYER_COST, Placer, placement_score
from server.directory import NodeRecord, RendezvousRing


def node(node_id: str, load: float = 0.0, players: int = 0, draining: bool = False) -> NodeRecord:
    return NodeRecord(node_id, f"ws://{node_id}/ws", "", 0.0, load, players, 1, draining)


def test_score_weighs_cpu_and_players() -> None:
    assert placement_score(node("a", 0.2, 50)) == 0.2 + 50 * PLAYER_COST
    placer = Placer()
    busy_cpu, many_players = node("a", load=0.5), node("b", load=0.1, players=300)
    assert placer.least_loaded([busy_cpu, many_players], 0.0).node_id == "a"  # 0.5 < 0.7
    assert placer.least_loaded([node("a", 0.3), node("b", 0.1, 50)], 0.0).node_id == "b"


def test_a_burst_between_heartbeats_spreads_and_pending_cost_expires() -> None:
    placer = Placer(pending_s=4.0)
    nodes = [node("a", 0.05), node("b", 0.05 + MATCH_COST / 2)]
    picks = []
    for _ in range(6):
        chosen = placer.least_loaded(nodes, 1.0).node_id
        placer.note(chosen, MATCH_COST, 1.0)
        picks.append(chosen)
    assert picks.count("a") == 3
    assert picks.count("b") == 3
    assert placer.pending("a", 1.0) == 3 * MATCH_COST
    assert placer.pending("a", 5.0) == 0.0  # the heartbeats show it by now


def test_draining_nodes_take_nothing() -> None:
    placer = Placer()
    nodes = [node("a", 0.9), node("b", 0.0, draining=True)]
    assert placer.least_loaded(nodes, 0.0).node_id == "a"
    assert Placer.keyed(nodes, "code:X") == ["a"]
    try:
        placer.least_loaded([node("b", draining=True)], 0.0)
    except ValueError:
        pass
    else:
        raise AssertionError("a cluster of draining nodes placed a match")


def test_keyed_placement_is_the_rings_order() -> None:
    nodes = [node(f"n{i}") for i in range(5)]
    ring = RendezvousRing(n.node_id for n in nodes)
    for key in ("code:ABCDEF", "queue:arena", "queue:tag"):
        assert Placer.keyed(nodes, key) == ring.ranked(key)

"""Rendezvous placement: stable, and adding a node moves about 1/N of the keys."""

from __future__ import annotations

import pytest

from server.directory import RendezvousRing


def test_ring_picks_the_same_node_for_a_key_every_time() -> None:
    """The same key and node set give the same node, whatever order the nodes came in."""
    a = RendezvousRing(["n1", "n2", "n3"])
    b = RendezvousRing(["n3", "n1", "n2"])
    assert all(a.pick(f"k{i}") == b.pick(f"k{i}") for i in range(500))


def test_ring_moves_about_one_in_n_keys_when_a_node_is_added() -> None:
    """Going from 4 to 5 nodes moves ~1/5 of 20,000 keys, all of them to the new node."""
    keys = [f"code-{i}" for i in range(20_000)]
    before = RendezvousRing([f"n{i}" for i in range(4)])
    after = before.with_nodes([*before.nodes, "n4"])
    moved = [k for k in keys if before.pick(k) != after.pick(k)]
    assert len(moved) / len(keys) == pytest.approx(1 / 5, abs=0.02)
    assert {after.pick(k) for k in moved} == {"n4"}


def test_ring_moves_only_the_removed_nodes_keys() -> None:
    """Removing a node moves exactly the keys it held; the others stay where they were."""
    keys = [f"m{i}" for i in range(5_000)]
    full = RendezvousRing(["a", "b", "c", "d"])
    less = full.with_nodes(["a", "b", "d"])
    for k in keys:
        if full.pick(k) != "c":
            assert less.pick(k) == full.pick(k)


def test_ring_ranks_every_node_with_the_pick_first() -> None:
    """The fallback order starts with the pick and lists each node once."""
    ring = RendezvousRing(["x", "y", "z"])
    ranked = ring.ranked("key")
    assert ranked[0] == ring.pick("key")
    assert sorted(ranked) == ["x", "y", "z"]


def test_ring_refuses_to_pick_from_no_nodes() -> None:
    """An empty ring is an error the caller must handle (no node is alive)."""
    with pytest.raises(ValueError, match="no nodes"):
        RendezvousRing().pick("k")

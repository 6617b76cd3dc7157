"""Deferred commands: the net id a queued spawn will get."""

from __future__ import annotations

from server.core.simulation import Simulation
from server.gamedef import GameDefinition


def test_command_buffer_predicts_netids_when_spawns_are_queued(
    small_arena: GameDefinition,
) -> None:
    """A queued spawn's predicted net id is the one it gets when the buffer is applied."""
    sim = Simulation(small_arena)
    sim.spawn_initial()
    first = sim.queue_player()
    second = sim.queue_player()
    predicted = [sim.netid_of(first), sim.netid_of(second)]
    assert predicted == [51, 52]  # after the 50 NPCs, in queue order
    sim.apply_commands()
    assert [sim.netid_of(first), sim.netid_of(second)] == predicted
    sim.queue_despawn(first)
    sim.apply_commands()
    assert sim.netid_of(first) is None
    assert sim.netid_of(second) == 52

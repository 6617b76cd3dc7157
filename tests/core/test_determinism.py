"""Lockstep determinism: the same input log gives the same checksum at every tick."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.determinism import MatchRng
from server.core.frame import InputBatch
from server.core.simulation import Simulation
from server.gamedef import GameDefinition

REPLAY = """
import json, sys
import numpy as np
from server.core.frame import InputBatch
from server.core.simulation import Simulation
from server.gamedef import load_definition
defn = load_definition('data/games/arena.toml')
sim = Simulation(defn)
sim.spawn_initial()
players = [sim.queue_player() for _ in range(8)]
log = np.random.default_rng(7).integers(-127, 128, size=(120, 8, 2)).astype(np.int8)
sums = []
for t in range(120):
    if t == 60:
        sim.queue_despawn(players.pop(3))
        players.append(sim.queue_player())
    batch = InputBatch(np.array(players, np.int64), log[t, :, 0], log[t, :, 1])
    sim.step(batch)
    sums.append(sim.checksum())
print(json.dumps(sums))
"""


def run_replay() -> list[int]:
    out = subprocess.run(
        [sys.executable, "-c", REPLAY], capture_output=True, text=True, check=True
    ).stdout
    result: list[int] = json.loads(out)
    return result


def test_checksums_match_across_processes_for_same_inputs() -> None:
    """Two processes replaying one input log agree on the checksum at every tick."""
    first = run_replay()
    second = run_replay()
    assert len(first) == 120
    assert first == second
    assert len(set(first)) > 100, "the world should change from tick to tick"


@settings(max_examples=15, deadline=None)
@given(
    inputs=st.lists(
        st.tuples(st.integers(-127, 127), st.integers(-127, 127)), min_size=1, max_size=30
    )
)
def test_checksum_is_a_function_of_inputs(
    small_arena: GameDefinition, inputs: list[tuple[int, int]]
) -> None:
    """Replaying the same inputs twice gives equal checksums; changing one input changes them."""

    def run(log: list[tuple[int, int]]) -> list[int]:
        sim = Simulation(small_arena)
        sim.spawn_initial()
        player = np.array([sim.queue_player()], np.int64)
        out = []
        for x, y in log:
            sim.step(InputBatch(player, np.array([x], np.int8), np.array([y], np.int8)))
            out.append(sim.checksum())
        return out

    assert run(inputs) == run(inputs)
    changed = list(inputs)
    x, y = changed[0]
    changed[0] = (x + 1 if x < 127 else x - 1, y)
    assert run(changed)[-1] != run(inputs)[-1]


def test_match_rng_is_splitmix64() -> None:
    """The generator is the reference SplitMix64; array draws equal scalar draws."""
    rng = MatchRng(0)
    assert rng.next_u64() == 0xE220A8397B1DCDAF  # Vigna's splitmix64.c, x = 0
    a, b = MatchRng(12345), MatchRng(12345)
    assert a.u64(7).tolist() == [b.next_u64() for _ in range(7)]
    assert a.integers(-5, 100, 50).tolist() == [b.integers(-5, 100) for _ in range(50)]
    assert a.random(9).tolist() == [b.random() for _ in range(9)]
    assert a.state == b.state
    draws = MatchRng(1).integers(0, 10, 10_000)
    assert draws.min() == 0
    assert draws.max() == 9
    with pytest.raises(ValueError, match="high - low"):
        MatchRng(1).integers(0, (1 << 32) + 1)


def test_match_rng_checkpoint_round_trips() -> None:
    """export/restore carry the 8-byte state; a wrong algorithm is refused."""
    rng = MatchRng.seeded(20261125, 3)
    rng.integers(0, 100, 5)
    copy = MatchRng(0)
    copy.restore(rng.export())
    assert copy.next_u64() == rng.next_u64()
    with pytest.raises(ValueError, match="splitmix64"):
        copy.restore({"algorithm": "pcg64", "state": b"\0" * 8})

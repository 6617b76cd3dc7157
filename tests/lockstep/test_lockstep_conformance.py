"""The lockstep spec's conformance kit, replayed by the server's core and by the JS replica.

The JavaScript replica (server/web/lockstep/) was written from docs/lockstep.md; node
runs it on the kit exactly as a third-party implementation would.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest

from server import lockstep_vectors
from server.core.simulation import LockstepReplica, Simulation

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE_JS = ROOT / "server" / "web" / "lockstep" / "conformance.js"


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kit, written by the command-line entry point."""
    out = tmp_path_factory.mktemp("vectors") / "lockstep.msgpack"
    assert lockstep_vectors.main([str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary (v18+); the suite needs it for the browser replica's tests."""
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is missing: install Node.js 18+ (apt-get install -y nodejs)")
    return path


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = msgpack.unpackb(path.read_bytes(), raw=False)
    return data


def test_kit_is_deterministic_and_covers_joins_leaves_and_rejoins(
    vectors: Path, tmp_path: Path
) -> None:
    """Writing the kit twice gives the same bytes; the cases exercise what they claim."""
    again = tmp_path / "again.msgpack"
    lockstep_vectors.write_vectors(again)
    assert again.read_bytes() == vectors.read_bytes()
    kit = load(vectors)
    assert kit["format"] == "tickwire-lockstep-vectors"
    assert kit["version"] == 1
    frames = [f for c in kit["cases"] for f in c["frames"]]
    assert sum(len(f["j"]) for f in frames) >= 5
    assert sum(len(f["l"]) for f in frames) >= 5
    assert any(set(f["j"]) & set(f["l"]) for f in frames), "a seat left and re-joined"
    for case in kit["cases"]:
        sums = np.frombuffer(case["checksums"], "<u8")
        assert len(sums) == len(case["frames"])
        assert len(set(sums.tolist())) > len(sums) // 2


def test_server_core_replays_the_kit(vectors: Path) -> None:
    """A fresh core restores each checkpoint and reproduces every checksum."""
    for case, plan in zip(load(vectors)["cases"], lockstep_vectors.plans(), strict=True):
        replica = LockstepReplica(Simulation(plan.definition))
        replica.restore(case["checkpoint"]["state"])
        sums = np.frombuffer(case["checksums"], "<u8").tolist()
        for body, want in zip(case["frames"], sums, strict=True):
            replica.apply_body(body)
            assert replica.sim.checksum() == want, (case["name"], body["n"])


def test_js_replica_passes_the_kit(vectors: Path, node: str) -> None:
    """node runs server/web/lockstep/conformance.js: every case, every frame agrees."""
    done = subprocess.run(
        [node, str(CONFORMANCE_JS), str(vectors)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    names = [p.name for p in lockstep_vectors.plans()]
    assert done.stdout.split("\n")[: len(names)] == [
        line for line in done.stdout.split("\n") if line.startswith("ok ")
    ]
    for name in names:
        assert f"ok {name}:" in done.stdout


def test_js_replica_reports_the_first_wrong_frame(vectors: Path, tmp_path: Path, node: str) -> None:
    """A kit with one wrong checksum fails at that frame (the runner can fail)."""
    kit = load(vectors)
    case = kit["cases"][1]
    sums = np.frombuffer(case["checksums"], "<u8").copy()
    sums[17] ^= np.uint64(1)
    case["checksums"] = sums.tobytes()
    bad = tmp_path / "bad.msgpack"
    bad.write_bytes(msgpack.packb(kit, use_bin_type=True))
    done = subprocess.run(
        [node, str(CONFORMANCE_JS), str(bad)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    frame = case["frames"][17]["n"]
    assert f"FAIL {case['name']}: frame {frame} " in done.stdout


def test_vectors_cli_reports_unwritable_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output path that cannot be written is one line on stderr and exit 2."""
    assert lockstep_vectors.main([str(tmp_path / "missing" / "x.msgpack")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot write" in err


def test_rts_cases_exercise_squads_captures_and_rounds(vectors: Path) -> None:
    """The rts cases do what their descriptions claim (so passing them means something)."""
    plans = {p.name: p for p in lockstep_vectors.plans()}
    for case in load(vectors)["cases"]:
        if not case["name"].startswith("rts"):
            continue
        replica = LockstepReplica(Simulation(plans[case["name"]].definition))
        replica.restore(case["checkpoint"]["state"])
        world = replica.sim.world
        counts, scores, rounds, inside = set(), set(), set(), 0
        for body in case["frames"]:
            replica.apply_body(body)
            counts.add(world.count)
            scores.update(world.col("score.points")[world.mask("score")].tolist())
            if world.has_component("round"):
                rounds.update(world.col("round.number")[world.mask("round")].tolist())
                inside += int((world.col("zone.inside") != 0).sum())
        assert max(scores) > 0, (case["name"], "no zone ever scored")
        assert len(counts) >= 3, (case["name"], "squads spawned and orphans despawned")
        if case["name"] == "rts_rules":
            assert len(rounds) >= 3, "rounds ended (resets and repositions)"
            assert inside > 0, "the event zone saw entrants"


def test_js_replica_implements_every_system_of_the_shipped_lockstep_games(node: str) -> None:
    """Each system in the pipeline of a lockstep game in data/games is in the JS SYSTEMS."""
    script = (
        "import('./server/web/lockstep/systems.js')"
        ".then((m) => console.log(Object.keys(m.SYSTEMS).join(',')))"
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    js = set(done.stdout.strip().split(","))
    games = (lockstep_vectors.lockstep_arena(), lockstep_vectors.lockstep_rts())
    used = {step.system for game in games for step in game.pipeline}
    assert used <= js, used - js

"""Broken game definitions: one precise error, and the server refuses to start.

Each file in data/games/broken/ is data/games/arena.toml with one mistake of one kind.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from server.errors import DefinitionError
from server.gamedef import load_definition

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "data" / "games" / "broken"

# file -> (key, words of `expected`, words of `got`)
CASES: dict[str, tuple[str, str, str]] = {
    "wrong_type.toml": ("game.tick_rate_hz", "an integer in 1..240", "boolean true"),
    "unknown_key.toml": ("world.widht_units", "one of the keys width_units", 'did you mean "width'),
    "missing_key.toml": ("game.seed", "an integer", "the key is missing"),
    "bad_system.toml": ("pipeline[1].system", "a registered system", 'string "teleport"'),
    "cyclic_pipeline.toml": (
        "pipeline[1].after",
        "without a cycle in phase 'update'",
        "cyclic pipeline: move -> bounce_at_edges -> move",
    ),
    "impossible_pipeline.toml": (
        "pipeline[3].system",
        "every component 'collide' requires",
        "no archetype has component collider (impossible pipeline)",
    ),
}


def test_every_broken_file_has_a_case() -> None:
    """Each file in data/games/broken/ is checked by this module, and each case has a file."""
    assert sorted(p.name for p in BROKEN.glob("*.toml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_loader_names_file_key_expected_and_found_when_definition_is_broken(name: str) -> None:
    """load_definition raises one DefinitionError naming the file, key, expectation and value."""
    key, expected, got = CASES[name]
    path = BROKEN / name
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    err = info.value
    assert err.path.endswith(name)
    assert err.key == key
    assert expected in err.expected
    assert got in err.got
    assert str(err) == f"{err.path}: {key}: expected {err.expected}, got {err.got}"


def test_server_exits_2_with_one_line_when_definition_is_broken() -> None:
    """``python -m server --game broken.toml`` exits 2 with a one-line error, no traceback."""
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "server", "--game", str(BROKEN / name), "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in sorted(CASES)
    }
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=30)
        key = CASES[name][0]
        assert proc.returncode == 2, (name, out, err)
        assert "Traceback" not in err
        assert "listening" not in out  # it never started half-configured
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("error: ")
        assert f"{name}: {key}: expected " in lines[0]

"""Shared fixtures: the arena definition and small helpers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from server.gamedef import GameDefinition, load_definition

pytest_plugins = ["redis_fixture"]  # the real redis-server fixture (tests/redis_fixture.py)

ROOT = Path(__file__).resolve().parent.parent
ARENA = ROOT / "data" / "games" / "arena.toml"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-browser",
        action="store_true",
        default=False,
        help="skip the tests that drive a real Chromium (they run by default)",
    )
    parser.addoption(
        "--minutes",
        type=float,
        default=None,
        help="soak tests: run this many minutes (default: a short CI run of about 15 s; "
        "or set TICKWIRE_SOAK_MINUTES)",
    )


# Tests that run alone (``make test`` runs them after the rest, in one process): those that
# measure rates or frame counts against the wall clock, drive Chromium, or load both cores
# themselves (benchmark commands, bot swarms, the demos). Every other test may share the
# machine with another test worker (``pytest -n``). A file or folder listed here brings all
# its tests; a test elsewhere joins with ``@pytest.mark.exclusive``.
EXCLUSIVE_PATHS = (
    "tests/benchmarks/",
    "tests/browser/",
    "tests/hostile/",
    "tests/games/",
    "tests/latency/",
    "tests/client_sim/",
    "tests/test_demo.py",
    "tests/docs/test_tutorial.py",
    "tests/cluster/test_cluster_demo.py",
    "tests/cluster/test_cluster_nodes.py",  # snapshots/s while Redis is down
    "tests/cluster/test_cluster_placement.py",  # placement by measured CPU load
    "tests/ops/test_dockerfile.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    exclusive = pytest.mark.exclusive
    for item in items:
        where = Path(str(item.path)).resolve().relative_to(ROOT).as_posix()
        if where.startswith(EXCLUSIVE_PATHS):
            item.add_marker(exclusive)
    if not config.getoption("--no-browser"):
        return
    skip = pytest.mark.skip(reason="--no-browser given")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def arena() -> GameDefinition:
    """The standard workload's definition, as shipped."""
    return load_definition(ARENA)


@pytest.fixture(scope="session")
def small_arena(arena: GameDefinition) -> GameDefinition:
    """The arena with 50 NPCs, quick to step in unit tests."""
    return replace(arena, spawns=(replace(arena.spawns[0], count=50),))

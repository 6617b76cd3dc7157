"""The browser's prediction (server/web/smooth/predict.js) against the server, run by node.

The movement cases are the real core stepping the shooter and the arena; the
reconciliation case is the Python reference's run over a delayed link with late inputs
(tests/client_sim/test_predict.py): the JavaScript must measure the same error at every
frame and count the same corrections.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from server.gamedef import GameDefinition, load_definition
from server.hosting.welcome import movement
from tests.client_sim.test_predict import ServerSide, play

ROOT = Path(__file__).resolve().parents[2]
CHECK_JS = ROOT / "server" / "web" / "smooth" / "check.js"


def _welcome(defn: GameDefinition) -> dict[str, Any]:
    """The WELCOME keys predict.js reads."""
    return {
        "movement": movement(defn),
        "world": [defn.world.width_units, defn.world.height_units],
        "tick_rate_hz": defn.tick_rate_hz,
        "quantize": dict(defn.sync.quantize) or {"position.x": 1 / 16, "position.y": 1 / 16},
    }


def _movement_case(defn: GameDefinition, seed: int, start: tuple[int, int]) -> dict[str, Any]:
    """400 ticks of sticks (diagonals as the page sends them, full, random, zero)."""
    server = ServerSide(defn)
    server.place(*start)
    rng = np.random.default_rng(seed)
    choices = [0.0, 1.0, -1.0, 0.7071067811865476, -0.7071067811865476, 0.5, -0.5]
    sticks: list[list[int]] = []
    want: list[list[int]] = []
    x = y = 0.0
    for k in range(400):
        if k % 7 == 0:
            x, y = (float(rng.choice(choices)) for _ in range(2))
            if rng.random() < 0.3:
                x, y = (float(v) for v in rng.uniform(-1, 1, 2))
        qx, qy = (int(np.floor(v * 127 + 0.5)) for v in (x, y))
        values = (qx, qy, *(0 for _ in defn.inputs[2:]))
        sticks.append([qx, qy])
        want.append(list(server.step(values)))
    return {
        "kind": "movement",
        "name": f"{defn.name}-{seed}",
        "welcome": _welcome(defn),
        "start": list(start),
        "sticks": sticks,
        "want": want,
    }


def _run(
    node: str, cases: list[dict[str, Any]], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    return subprocess.run(
        [node, str(CHECK_JS), str(path)], capture_output=True, text=True, timeout=60
    )


def test_js_movement_and_reconciliation_equal_the_server_and_python(
    node: str, tmp_path: Path
) -> None:
    shooter = load_definition(ROOT / "data" / "games" / "shooter.toml")
    arena = load_definition(ROOT / "data" / "games" / "arena.toml")
    log: list[list[Any]] = []
    predictor, _ = play(shooter, delay=3, late=set(range(20, 300, 25)), log=log)
    cases = [
        _movement_case(shooter, 1, (2 * 256, 2 * 256)),  # a corner: both edges bounce
        _movement_case(shooter, 2, (150 * 256, 299 * 256)),
        _movement_case(arena, 3, (998 * 256, 500 * 256)),
        {
            "kind": "reconcile",
            "name": "shooter-late-inputs",
            "welcome": _welcome(shooter),
            "log": log,
            "corrections": predictor.stats.corrections,
        },
    ]
    done = _run(node, cases, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == [w for c in cases for w in ("ok", c["name"])]


def test_js_check_reports_a_wrong_position(node: str, tmp_path: Path) -> None:
    """One subunit off at tick 10: the runner names that tick (it can fail)."""
    shooter = load_definition(ROOT / "data" / "games" / "shooter.toml")
    case = _movement_case(shooter, 4, (100 * 256, 100 * 256))
    case["want"][9][0] += 1
    done = _run(node, [case], tmp_path)
    assert done.returncode == 1
    assert "FAIL shooter-4: tick 10:" in done.stdout

"""The browser's prediction (server/web/smooth/predict.js) against the server, run by node.

Also the page's backlog skips (server/web/smooth/backlog.js) against the bots'
(client_sim/smooth.py) for the same random sends, frames (``a``, ``aq``) and skips.

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

from client_sim.smooth import SmoothClient
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


def _backlog_case(defn: GameDefinition, seed: int) -> dict[str, Any]:
    """Random sends (some pressing fire), frames acknowledging some of them with a
    backlog ``aq`` of 0-4, and skips asked, with the bots' SmoothClient's answers."""
    buffer = 2
    smooth = SmoothClient(
        defn,
        {"tick_rate_hz": 30, "interpolation_ms": 100, "input_buffer_ticks": buffer, "entity": 1},
    )
    rng = np.random.default_rng(seed)
    log: list[list[int | bool]] = []
    sent = acked = 0
    for _ in range(400):
        buttons = int(rng.choice([0, 0, 0, 1, 2, 3]))
        body = {"tick": 1, "x": 0.5, "y": 0.0, "aim": 0.0, "buttons": buttons}
        op = rng.random()
        if sent < 3 or (op < 0.4 and sent < 60):
            smooth.input_payload(body)
            log.append([1, buttons])
            sent += 1
        elif op < 0.7:
            acked = int(rng.integers(acked, sent))
            q = int(rng.choice([0, 1, 2, 3, 4]))
            smooth._backlog(acked, q)
            log.append([0, acked, q, smooth.backlog])
        else:
            log.append([2, buttons, smooth.skip(body)])
    assert any(row[0] == 2 and row[2] for row in log), "the case never skips: no test"
    return {"kind": "backlog", "name": f"backlog-{seed}", "buffer": buffer, "log": log}


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
        *(_backlog_case(shooter, seed) for seed in (5, 6, 7)),
    ]
    done = _run(node, cases, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == [w for c in cases for w in ("ok", c["name"])]


def test_js_check_reports_a_wrong_skip(node: str, tmp_path: Path) -> None:
    """Python's answer to one skip turned: the runner names that row (it can fail)."""
    shooter = load_definition(ROOT / "data" / "games" / "shooter.toml")
    case = _backlog_case(shooter, 8)
    row = next(i for i, r in enumerate(case["log"]) if r[0] == 2 and r[2])
    case["log"][row][2] = False
    done = _run(node, [case], tmp_path)
    assert done.returncode == 1
    assert f"FAIL backlog-8: row {row}: skip true, python false" in done.stdout


def test_js_check_reports_a_wrong_position(node: str, tmp_path: Path) -> None:
    """One subunit off at tick 10: the runner names that tick (it can fail)."""
    shooter = load_definition(ROOT / "data" / "games" / "shooter.toml")
    case = _movement_case(shooter, 4, (100 * 256, 100 * 256))
    case["want"][9][0] += 1
    done = _run(node, [case], tmp_path)
    assert done.returncode == 1
    assert "FAIL shooter-4: tick 10:" in done.stdout

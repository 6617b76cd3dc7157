"""The server process's GC policy (server.ops.gc_policy), run in a fresh interpreter each
time so the test process's own collector is left as it is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys
from server.ops.gc_policy import apply_gc_policy
import server.app  # what a real server has imported by the time it listens
before = gc.get_threshold()
frozen = apply_gc_policy(int(sys.argv[1]))

class Node:
    pass

# A cycle made after the freeze is garbage the collector must still find.
a, b = Node(), Node()
a.other, b.other = b, a
del a, b
found = gc.collect()
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": frozen,
                  "found": found, "frozen_after": gc.get_freeze_count()}))
"""


def _probe(threshold: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(threshold)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_the_policy_raises_the_young_threshold_and_freezes_what_was_imported() -> None:
    got = _probe(20000)
    assert got["before"] == [700, 10, 10]
    assert got["after"] == [20000, 10, 10]
    # Everything the server's modules made is frozen (thousands of objects) ...
    assert got["frozen"] > 10000
    # ... and nothing made afterwards is: the cycle is collected, the frozen count stays.
    assert got["found"] >= 2
    assert got["frozen_after"] == got["frozen"]


def test_zero_keeps_cpythons_threshold_but_still_freezes() -> None:
    got = _probe(0)
    assert got["after"] == [700, 10, 10]
    assert got["frozen"] > 10000


def test_a_negative_threshold_is_refused_before_the_server_starts() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "server", "--port", "0", "--gc-young-threshold", "-1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "--gc-young-threshold must be >= 0, not -1" in out.stderr

"""The server's heap: trimming, keeping freed memory for the next ticks, and heavy libraries
loaded only when used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from server.ops.memory import HeapTrimmer

ROOT = Path(__file__).resolve().parents[2]


def test_heap_trimmer_trims_at_most_once_per_interval() -> None:
    t = HeapTrimmer(10.0)
    assert t.available  # the test machines run glibc
    assert not t.maybe_trim(100.0)  # the first call starts the clock
    assert not t.maybe_trim(109.0)
    assert t.maybe_trim(110.0)
    assert not t.maybe_trim(119.0)
    assert t.maybe_trim(120.5)
    assert t.trims == 2


def test_heap_trimmer_off() -> None:
    t = HeapTrimmer(0)
    assert not t.available
    assert not t.maybe_trim(0.0)
    assert not t.maybe_trim(1e9)


def test_a_plain_server_loads_neither_redis_nor_jwt() -> None:
    """redis (~6 MB RSS) loads only when clustered, PyJWT + cryptography (~9 MB) only with
    JWT keys: import them inside the function that needs them, not at module level."""
    code = (
        "import sys\n"
        "import server.__main__, server.app\n"
        "print(sorted(m for m in ('redis', 'jwt', 'cryptography') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


FAULT_PROBE = """
import json, resource, sys
import numpy as np
from server.ops.memory import retain_freed_heap
state = retain_freed_heap(int(sys.argv[1]))

def one_tick():
    # A tick's temporaries: thirty arrays of 200-430 KB alive at once, then freed.
    temps = [np.ones(25_000 + 1_000 * i) for i in range(30)]
    del temps

one_tick()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    one_tick()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"state": state, "faults": faults}))
"""


def _fault_probe(retain_mb: int, **env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", FAULT_PROBE, str(retain_mb)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**clean, **env},
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_a_kept_heap_serves_the_next_ticks_temporaries_without_page_faults() -> None:
    """With glibc's defaults every tick's temporaries land on fresh pages (the heap was
    trimmed when they were freed): about one fault per 4 KB page, 20 ticks x ~9 MB. With
    the heap kept, the pages of the first tick serve the next ones."""
    default = _fault_probe(0)
    kept = _fault_probe(256)
    assert default["state"] == "off"
    assert kept["state"] == "kept"
    assert default["faults"] > 20 * 1000
    assert kept["faults"] < 300


def test_the_operators_malloc_environment_wins() -> None:
    got = _fault_probe(256, MALLOC_TRIM_THRESHOLD_="131072")
    assert got["state"] == "environment"
    assert got["faults"] > 20 * 1000  # glibc kept the operator's small threshold


def test_a_negative_heap_retain_is_refused_before_the_server_starts() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "server", "--port", "0", "--heap-retain-mb", "-1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "--heap-retain-mb must be >= 0, not -1" in out.stderr

"""What keeps the server's RSS down: heap trimming, and heavy libraries loaded only when used."""

from __future__ import annotations

import subprocess
import sys

from server.ops.memory import HeapTrimmer


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

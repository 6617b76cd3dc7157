"""The benchmarks' process probe: CPU time to better than the kernel's 10 ms ticks."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from benchmarks.probe import cpu_seconds


def test_cpu_seconds_of_this_process_sits_between_two_process_time_reads() -> None:
    """Read between two ``process_time`` calls it lies between them: tick counts (what
    /proc/pid/stat gives) would read up to 10 ms low and fail the lower bound."""
    deadline = time.process_time() + 0.0173  # burn a few ms that are not a whole tick
    while time.process_time() < deadline:
        pass
    before = time.process_time()
    got = cpu_seconds(os.getpid())
    after = time.process_time()
    assert before <= got <= after


def test_cpu_seconds_counts_another_process_and_refuses_a_gone_one() -> None:
    """A child that burns ~30 ms of CPU reads about that; once reaped, reading it raises."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "d = time.process_time() + 0.03\n"
            "while time.process_time() < d: pass\n"
            "print('done', flush=True)\n"
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "done\n"
        assert cpu_seconds(child.pid) >= 0.03
    finally:
        child.communicate("")
    with pytest.raises(OSError, match=r"No such file|Invalid argument"):
        cpu_seconds(child.pid)

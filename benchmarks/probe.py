"""Measuring a server process from outside: ``/proc`` CPU and memory, ``/metrics``
samples and histogram quantiles, starting and stopping the processes of a run.

Units: CPU in seconds (user + system, as the kernel accounts them), memory in MB,
histogram quantiles in the unit of the histogram's buckets (seconds for Tickwire's).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def pin(core: int, enabled: bool) -> list[str]:
    """``taskset -c core`` when asked for and possible (two cores and taskset present)."""
    if enabled and (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(core)]
    return []


def _process_cpu_clock(pid: int) -> int:
    """Linux's CPU-time clock id of process ``pid``: what glibc's ``clock_getcpuclockid``
    returns (``MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)``), which Python does not wrap."""
    return ((~pid) << 3) | 2


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid``, all its threads (exited ones too).

    Read from the process's CPU-time clock, to the nanosecond. /proc/pid/stat's fields 14
    and 15 (the fallback where that clock is refused) count 10 ms clock ticks: too coarse
    for a floor server that spends 4 ms in a two-second smoke run (its cost per message
    read as 0).
    """
    if sys.platform == "linux":
        try:
            return time.clock_gettime(_process_cpu_clock(pid))
        except OSError:
            pass  # no such clock here: the tick counts below
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def minor_faults(pid: int) -> int:
    """Minor page faults of ``pid`` so far, all its threads (``/proc/pid/stat`` field 10):
    pages the kernel had to map in, e.g. on touching memory the heap just grew into."""
    return int(_stat_fields(pid)[7])


def _stat_fields(pid: int) -> list[str]:
    """``/proc/pid/stat``'s fields from the third (state) on: field ``n`` is ``[n - 3]``
    (the command name, which may hold spaces, is skipped by its closing parenthesis)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()


def memory_mb(pid: int) -> tuple[float, float]:
    """``(VmRSS, VmHWM)`` of ``pid`` in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def scrape(http_url: str) -> dict[str, float]:
    """Every sample of ``/metrics`` as ``name{labels}`` -> value (labels sorted)."""
    with urllib.request.urlopen(f"{http_url}/metrics", timeout=30) as resp:  # saturated: slow
        text = resp.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = s.value
    return out


def metric_sum(samples: dict[str, float], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        have = dict(kv.split("=", 1) for kv in rest.rstrip("}").split(",") if kv)
        if all(have.get(k) == v for k, v in labels.items()):
            total += value
    return total


def histogram_quantiles(
    m0: dict[str, float], m1: dict[str, float], name: str, qs: tuple[float, ...], **labels: str
) -> dict[str, float] | None:
    """Quantiles (same unit as the buckets) of what histogram ``name`` observed between the
    scrapes ``m0`` and ``m1``, summed over labels matching ``labels``, interpolating linearly
    inside a bucket as Prometheus' ``histogram_quantile`` does; None if nothing was observed.
    A quantile in the ``+Inf`` bucket is reported as the highest finite bound."""
    counts: dict[float, float] = {}
    for key, value in m1.items():
        base, _, rest = key.partition("{")
        if base != f"{name}_bucket":
            continue
        have = dict(kv.split("=", 1) for kv in rest.rstrip("}").split(",") if kv)
        if not all(have.get(k) == v for k, v in labels.items()):
            continue
        le = float(have["le"])
        counts[le] = counts.get(le, 0.0) + value - m0.get(key, 0.0)
    bounds = sorted(counts)
    if not bounds or counts[bounds[-1]] <= 0:
        return None
    total = counts[bounds[-1]]
    finite = [b for b in bounds if b != float("inf")]
    out: dict[str, float] = {}
    for q in qs:
        rank = q * total
        lower, below = 0.0, 0.0
        value = finite[-1] if finite else 0.0
        for b in bounds:
            if counts[b] >= rank:
                if b != float("inf"):
                    inside = counts[b] - below
                    frac = (rank - below) / inside if inside > 0 else 1.0
                    value = lower + (b - lower) * frac
                break
            lower, below = b, counts[b]
        out[f"p{round(q * 100):d}"] = value
    return out


async def start_listening(
    cmd: list[str], pattern: str, timeout_s: float = 30.0
) -> tuple[asyncio.subprocess.Process, str]:
    """Start ``cmd`` and wait for a stdout line matching ``pattern`` (group 1 = URL)."""
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout_s)
        if not line:
            break
        m = re.search(pattern, line.decode())
        if m:
            return proc, m.group(1)
    proc.kill()
    raise RuntimeError(f"{cmd[0:4]} did not report its URL")


async def stop(proc: asyncio.subprocess.Process, timeout_s: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file (the bots' report)."""
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def late_ticks(
    m0: dict[str, float], m1: dict[str, float], name: str, period_s: float
) -> tuple[float, float]:
    """``(ticks, bound_s)``: how many ticks histogram ``name`` saw start more than
    ``bound_s`` late between the scrapes, where ``bound_s`` is the largest bucket bound
    at most half of ``period_s`` (a tick that late pushes its frame into the next half
    period: the client sees it as a burst)."""
    counts: dict[float, float] = {}
    for key, value in m1.items():
        base, _, rest = key.partition("{")
        if base != f"{name}_bucket":
            continue
        le = float(dict(kv.split("=", 1) for kv in rest.rstrip("}").split(",") if kv)["le"])
        counts[le] = counts.get(le, 0.0) + value - m0.get(key, 0.0)
    finite = sorted(b for b in counts if b != float("inf") and b <= period_s / 2)
    if not finite or float("inf") not in counts:
        return 0.0, 0.0
    bound = finite[-1]
    return counts[float("inf")] - counts[bound], bound

"""Shared helpers for benchmark commands: result paths, machine description, JSON."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import socket
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def add_heap_argument(p: Any) -> None:
    """``--heap-retain-mb`` for in-process commands: the process's heap as ``python -m
    server`` sets it (server/ops/memory.py), so in-process figures match the server's."""
    from server.config import ServerConfig

    p.add_argument(
        "--heap-retain-mb",
        type=int,
        default=ServerConfig().heap_retain_mb,
        help="freed heap kept as python -m server keeps it (default %(default)s; 0: glibc's)",
    )


def apply_heap(retain_mb: int) -> str:
    """Set the process's heap as the server does; prints and returns what was done."""
    from server.ops.memory import retain_freed_heap

    state = retain_freed_heap(retain_mb)
    print(f"heap: {state} (heap_retain_mb={retain_mb}, as python -m server)", flush=True)
    return state


def machine() -> dict[str, Any]:
    """Where a figure was taken: host, CPU model, cores, Python, numpy."""
    import numpy

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": socket.gethostname(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "when": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def result_path(name: str, out: str | None = None) -> Path:
    """``benchmarks/results/<name>-<date>-<host>.json`` unless ``out`` is given."""
    if out:
        return Path(out)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = _dt.date.today().strftime("%Y%m%d")
    return RESULTS / f"{name}-{stamp}-{socket.gethostname()}.json"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` (with the machine description) as indented JSON; print where."""
    data = {"machine": machine(), **data}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    print(f"wrote {path}")


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]

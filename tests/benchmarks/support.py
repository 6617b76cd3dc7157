"""Running a benchmark command the way a user does, for the smoke tests of tests/benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(args: list[str], out: Path, timeout_s: float = 120) -> tuple[dict[str, Any], str]:
    """``python -m benchmarks ARGS --out OUT`` from the repository root: (its JSON, its stdout).

    A non-zero exit fails the calling test with the command's whole output.
    """
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(out.read_text())
    return data, proc.stdout

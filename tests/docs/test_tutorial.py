"""docs/tutorial.md, followed literally: its files written, its commands run, in order.

Fenced blocks with ``file=PATH`` in their info string are written (blocks naming the
same file are appended, as the tutorial builds the file step by step); every ``sh``
block is run with bash in the same empty folder, with this checkout's Python first on
``PATH``. The test fails if a command fails, and checks what the tutorial says the run
shows: the bots' RESULT and MATCH_ENDED, the tagged events, the demo's page URL.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.M | re.S)


def blocks() -> list[tuple[str, str]]:
    """``(info string, body)`` of every fenced block, in document order."""
    return [(m.group(1).strip(), m.group(2)) for m in BLOCK.finditer(TUTORIAL.read_text())]


def test_tutorial_commands_run_as_written_and_play_tag_to_its_result(tmp_path: Path) -> None:
    """Every file and command of the tutorial works, and the match ends with a RESULT."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    outputs: list[str] = []
    written: set[Path] = set()
    for info, body in blocks():
        words = info.split()
        target = next((w.split("=", 1)[1] for w in words if w.startswith("file=")), None)
        if target is not None:
            path = tmp_path / target
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a" if path in written else "w") as f:
                f.write(body)
            written.add(path)
        elif words[:1] == ["sh"]:
            done = subprocess.run(
                ["bash", "-e", "-c", body],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=90,
                check=False,
            )
            assert done.returncode == 0, (
                f"{body}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
            )
            outputs.append(done.stdout)
    assert len(outputs) == 3, "the tutorial has three command blocks"
    assert outputs[0].strip() == "mytag"
    assert "close codes seen: {'4015': 4}" in outputs[1]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["games"]["results"] == 4
    assert report["games"]["result_reasons"] == {"rounds": 4}
    assert report["games"]["events"].get("tagged", 0) >= 1
    assert re.search(r"play in a browser:\s+http://127\.0\.0\.1:\d+/", outputs[2])
    assert "demo stopped" in outputs[2]

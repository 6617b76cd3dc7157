"""``GET /replays``: the recordings of the server's record directory, newest first.

Only each file's header record is read (cheap for any size); a file whose header
cannot be read is listed with its ``error`` instead of being hidden.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from server.replay.format import ReplayError, read_records
from server.replay.recorder import SUFFIX

MAX_LISTED = 200


def list_recordings(directory: Path | None) -> dict[str, Any]:
    """``{"recording": bool, "directory": str|None, "replays": [...]}``, newest first."""
    if directory is None:
        return {"recording": False, "directory": None, "replays": []}
    try:
        files = sorted(directory.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        files = []
    rows: list[dict[str, Any]] = []
    for path in files[:MAX_LISTED]:
        row: dict[str, Any] = {"id": path.stem}
        try:
            row["bytes"] = path.stat().st_size
            h = next(iter(read_records(path))).body
            row.update(
                game=h["game"], mode=h["mode"], match_id=h["match_id"],
                started_at=h["started_at"], tick_rate_hz=h["tick_rate_hz"],
            )  # fmt: skip
        except (OSError, StopIteration, KeyError, ReplayError) as exc:
            row["error"] = str(exc) or type(exc).__name__
        rows.append(row)
    return {"recording": True, "directory": str(directory), "replays": rows}

"""Bans: a player id (``sub``) refused until a time, with a reason and who banned it.

:class:`BanStore` is a small dictionary with an optional JSON file behind it, rewritten
atomically (write a temporary file, then rename) on every change, so a ban survives a
restart when ``--bans-file`` is given. Expired bans are dropped lazily on lookup. Times
are Unix seconds (float); ``until=None`` is a permanent ban.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from server.errors import GameServerError
from server.identity.claims import valid_sub
from server.identity.durations import parse_duration

MAX_REASON_CHARS = 200
MAX_BANS = 100_000


class BanError(GameServerError):
    """A ban request or the bans file is invalid; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Ban:
    """``sub`` is refused until ``until_s`` (Unix seconds; None = forever)."""

    sub: str
    until_s: float | None
    reason: str
    by: str
    created_s: float

    def active(self, now_s: float) -> bool:
        """True while the ban holds."""
        return self.until_s is None or now_s < self.until_s

    def to_json(self) -> dict[str, Any]:
        """The ban as the admin API shows it (``until`` also as ISO 8601 UTC)."""
        out = asdict(self)
        out["until"] = None if self.until_s is None else iso_utc(self.until_s)
        return out


def iso_utc(t_s: float) -> str:
    """Unix seconds as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_s))


def parse_until(value: object, now_s: float) -> float | None:
    """A ban's end from an API body: None/absent (forever), Unix seconds, ISO 8601, or
    a duration string such as ``"30m"`` / ``"2h"`` / ``"7d"`` from now."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise BanError("until must be null, Unix seconds, an ISO 8601 time or a duration")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value <= now_s:
            raise BanError("until must be a finite time in the future")
        return float(value)
    if isinstance(value, str):
        try:
            return now_s + parse_duration(value)
        except ValueError:
            pass
        try:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BanError(
                "until must be null, Unix seconds, an ISO 8601 time or a duration"
            ) from None
        if stamp.tzinfo is None:
            raise BanError("an ISO 8601 until needs a time zone (e.g. Z)")
        until = stamp.timestamp()
        if until <= now_s:
            raise BanError("until must be in the future")
        return until
    raise BanError("until must be null, Unix seconds, an ISO 8601 time or a duration")


class BanStore:
    """Bans by ``sub``, optionally persisted in ``path`` (JSON)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._bans: dict[str, Ban] = {}
        if self.path is not None and self.path.exists():
            self._load(self.path)

    def _load(self, path: Path) -> None:
        try:
            rows = json.loads(path.read_text())
            for row in rows:
                ban = Ban(
                    sub=str(row["sub"]),
                    until_s=None if row["until_s"] is None else float(row["until_s"]),
                    reason=str(row["reason"]),
                    by=str(row["by"]),
                    created_s=float(row["created_s"]),
                )
                self._bans[ban.sub] = ban
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise BanError(f"{path}: not a bans file ({type(exc).__name__})") from exc

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps([asdict(b) for b in self._bans.values()], indent=1))
        os.replace(tmp, self.path)

    def __len__(self) -> int:
        return len(self._bans)

    def check(self, sub: str, now_s: float) -> Ban | None:
        """The ban that holds for ``sub`` now, or None (an expired ban is forgotten)."""
        ban = self._bans.get(sub)
        if ban is None:
            return None
        if ban.active(now_s):
            return ban
        del self._bans[sub]
        self._save()
        return None

    def add(self, sub: object, until_s: float | None, reason: object, by: str, now_s: float) -> Ban:
        """Ban ``sub`` (replacing an earlier ban of it); BanError for a bad field."""
        if not valid_sub(sub):
            raise BanError("sub must be 1-128 characters of [A-Za-z0-9._:@|+-]")
        assert isinstance(sub, str)
        if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
            raise BanError(f"reason must be a string of at most {MAX_REASON_CHARS} characters")
        if not reason.isprintable():
            raise BanError("reason must be printable")
        if sub not in self._bans and len(self._bans) >= MAX_BANS:
            raise BanError(f"too many bans (at most {MAX_BANS})")
        ban = Ban(sub, until_s, reason, by, now_s)
        self._bans[sub] = ban
        self._save()
        return ban

    def remove(self, sub: str) -> Ban | None:
        """Lift the ban of ``sub``; the lifted ban, or None if there was none."""
        ban = self._bans.pop(sub, None)
        if ban is not None:
            self._save()
        return ban

    def active(self, now_s: float) -> list[Ban]:
        """Every ban that holds now, oldest first."""
        expired = [s for s, b in self._bans.items() if not b.active(now_s)]
        for sub in expired:
            del self._bans[sub]
        if expired:
            self._save()
        return sorted(self._bans.values(), key=lambda b: b.created_s)

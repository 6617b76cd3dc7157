"""Durations written the way operators write them: ``90s``, ``30m``, ``1h``, ``7d``."""

from __future__ import annotations

import math
import re

_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhdw]?)")


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a number with an optional unit s/m/h/d/w (plain = seconds).

    Raises ValueError for anything else, for zero and for non-finite values.
    """
    m = _DURATION.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"not a duration: {text!r} (try 90s, 30m, 1h, 7d)")
    seconds = float(m["n"]) * _UNITS_S[m["unit"] or "s"]
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a duration must be positive: {text!r}")
    return seconds

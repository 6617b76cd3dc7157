"""Issue 18's keys: ``[sync] interpolation_ms`` / ``input_buffer_ticks`` and ``[lag_compensation]``.

``[lag_compensation]`` (optional) turns on the server's position history so a weapon with
``lag_compensation = "rewind"`` tests its hit against what the shooter saw. A weapon that
asks for ``"rewind"`` in a definition without the section is refused here, at load time,
with the pipeline step's key (docs/game-definitions.md, ``[lag_compensation]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from server.gamedef.check import Checker, describe, join_key, unknown
from server.gamedef.schema import ArchetypeDef, LagCompensationDef, LatencyDef

LAG_COMPENSATION_KEYS: Final = ((), ("ms", "archetypes", "hitbox"))
MAX_LAG_COMPENSATION_MS: Final = 5000
"""Source keeps 1 s; five seconds is more than any playable latency."""
MAX_INTERPOLATION_MS: Final = 1000
MAX_INPUT_BUFFER_TICKS: Final = 8
_INT_DTYPES: Final = ("int8", "int16", "int32", "uint8", "uint16", "uint32")


def latency(
    c: Checker,
    data: Mapping[str, Any],
    sync_table: Mapping[Any, Any],
    fields: Mapping[str, Mapping[str, str]],
    archetypes: Sequence[ArchetypeDef],
) -> LatencyDef:
    """The definition's :class:`LatencyDef`; ``data`` is the whole document."""
    interpolation = c.int_(
        sync_table,
        "sync",
        "interpolation_ms",
        0,
        MAX_INTERPOLATION_MS,
        default=100,
        why="how far behind the newest state clients render others",
    )
    buffer = c.int_(
        sync_table,
        "sync",
        "input_buffer_ticks",
        0,
        MAX_INPUT_BUFFER_TICKS,
        default=0,
        why="inputs a client may have waiting; each adds up to a tick of input latency",
    )
    lag = None
    if "lag_compensation" in data:
        lag = lag_compensation(c, c.table(data, "", "lag_compensation"), fields, archetypes)
    else:
        _refuse_rewind_without_history(c, data.get("pipeline"))
    return LatencyDef(interpolation, buffer, lag)


def lag_compensation(
    c: Checker,
    t: Mapping[Any, Any],
    fields: Mapping[str, Mapping[str, str]],
    archetypes: Sequence[ArchetypeDef],
) -> LagCompensationDef:
    """``[lag_compensation]``: ``ms`` (default 1000), ``archetypes``, ``hitbox``."""
    c.keys(t, "lag_compensation", LAG_COMPENSATION_KEYS)
    ms = c.int_(
        t,
        "lag_compensation",
        "ms",
        1,
        MAX_LAG_COMPENSATION_MS,
        default=1000,
        why="milliseconds of history kept: the furthest a shot is rewound",
    )
    names = [a.name for a in archetypes]
    chosen: list[str] = []
    if "archetypes" in t:
        key = "lag_compensation.archetypes"
        raw = c.array(t["archetypes"], key, "an array of archetype names")
        for i, name in enumerate(raw):
            if not isinstance(name, str) or name not in names:
                c.fail(
                    f"{key}[{i}]", f"an archetype name: {', '.join(names)}", unknown(name, names)
                )
            if name in chosen:
                c.fail(f"{key}[{i}]", "each archetype once", f"{describe(name)} again")
            chosen.append(name)
        for name in chosen:
            arch = next(a for a in archetypes if a.name == name)
            if "position" not in arch.components:
                c.fail(key, "archetypes with a position component", f"{describe(name)}")
    hitbox = None
    if "hitbox" in t:
        key = "lag_compensation.hitbox"
        value = t["hitbox"]
        ints = [
            f"{comp}.{f}" for comp, fs in fields.items() for f, d in fs.items() if d in _INT_DTYPES
        ]
        if not isinstance(value, str) or value not in ints:
            c.fail(
                key,
                '"component.field" naming an integer field (a radius in subunits): '
                + ", ".join(ints),
                unknown(value, ints),
            )
        hitbox = value
    return LagCompensationDef(ms, tuple(chosen), hitbox)


def _refuse_rewind_without_history(c: Checker, steps: object) -> None:
    if not isinstance(steps, list):
        return
    for i, step in enumerate(steps):
        params = step.get("params") if isinstance(step, Mapping) else None
        if isinstance(params, Mapping) and params.get("lag_compensation") == "rewind":
            c.fail(
                join_key(f"pipeline[{i}].params", "lag_compensation"),
                '"none", or a [lag_compensation] section (a rewind needs the position history)',
                describe("rewind"),
            )

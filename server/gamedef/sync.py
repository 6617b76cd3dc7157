"""The ``[sync]`` and ``[lockstep]`` sections."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, cast

from server.gamedef.check import (
    MISSING,
    MISSING_TEXT,
    Checker,
    describe,
    join_key,
    num,
    unknown,
)
from server.gamedef.limits import (
    DEFAULT_INPUTS,
    LOCKSTEP_KEYS,
    MAX_LOCKSTEP_TICKS,
    MAX_QUANTIZED,
    SYNC_KEYS,
    SYNC_MODES,
    DefaultInput,
)
from server.gamedef.schema import (
    WIRE_TYPES,
    LockstepDef,
    ReplicatedField,
    SyncDef,
    SyncMode,
    WorldDef,
)

REPLICATE_KEYS: Final = ((), ("wire", "step", "to"))
MAX_REPLICATED: Final = 64
MAX_EVENT_BACKLOG: Final = 65_536


def _min_step(extent: float) -> str:
    """``extent / MAX_QUANTIZED`` rounded *up* to 4 significant digits, so it is valid."""
    exact = extent / MAX_QUANTIZED
    quantum = 10.0 ** (math.floor(math.log10(exact)) - 3)
    return f"{math.ceil(exact / quantum) * quantum:.4g}"


def sync(
    c: Checker,
    t: Mapping[Any, Any],
    tick_rate: int,
    fields: Mapping[str, Mapping[str, str]],
    world: WorldDef,
    archetype_names: Sequence[str] = (),
) -> SyncDef:
    """``[sync]``: the snapshot rate divides the tick rate; state sync fits uint16."""
    c.keys(t, "sync", SYNC_KEYS)
    mode = c.choice(t, "sync", "mode", SYNC_MODES)
    value = t.get("snapshot_rate_hz", MISSING)
    rate = value if isinstance(value, int) and not isinstance(value, bool) else 0
    if not 1 <= rate <= tick_rate or tick_rate % rate:
        divisors = [d for d in range(1, tick_rate + 1) if tick_rate % d == 0]
        c.fail(
            "sync.snapshot_rate_hz",
            f"an integer in 1..{tick_rate} that divides game.tick_rate_hz ({tick_rate}) "
            f"evenly, one of {', '.join(map(str, divisors))} (a snapshot is sent every "
            "tick_rate_hz / snapshot_rate_hz ticks)",
            describe(value),
        )
    radius = c.float_(t, "sync", "interest_radius_units", lo=0.0, lo_open=True, why="world units")
    qt = c.table(
        t, "sync", "quantize", required=False, expected='a table of "component.field" = step'
    )
    declared = [f"{c}.{f}" for c, fs in fields.items() for f in fs]
    quantize: dict[str, float] = {}
    for key, step in qt.items():
        qkey = join_key("sync.quantize", key)
        if not isinstance(key, str) or key not in declared:
            got = unknown(key, declared)
            if isinstance(step, Mapping) and key in fields:
                # ``position.x = 0.1`` unquoted is a nested table in TOML.
                got = f"a table {json.dumps(key)} (unquoted dotted key; quote it)"
            c.fail(
                qkey,
                f'a quoted "component.field" key naming a declared field: {", ".join(declared)}',
                got,
            )
        comp, fname = key.split(".")
        if fields[comp][fname] == "bool":
            c.fail(qkey, "a numeric field (a bool field needs no quantizing)", "bool")
        quantize[key] = c.number(qkey, step, lo=0.0, lo_open=True, why="world units per step")
    if mode == "state":
        check_state_quantize(c, quantize, world)
    replicate = replicated_fields(
        c,
        c.table(t, "sync", "replicate", required=False, expected='a table of "component.field"'),
        fields,
    )
    backlog = c.int_(
        t,
        "sync",
        "event_backlog",
        0,
        MAX_EVENT_BACKLOG,
        default=256,
        why="events kept per seat while it cannot be sent to",
    )
    budget = c.float_(
        t, "sync", "budget_bytes_per_s", lo=0.0, default=0.0, why="bytes per second per client"
    )
    falloff = c.float_(
        t, "sync", "budget_falloff_units", lo=0.0, lo_open=True, default=50.0, why="world units"
    )
    stale_ms = c.float_(
        t, "sync", "budget_max_stale_ms", lo=0.0, lo_open=True, default=1000.0,
        why="milliseconds a changed entity in view may wait under a budget",
    )  # fmt: skip
    importance = budget_importance(
        c, c.table(t, "sync", "importance", required=False, expected="a table of archetypes"),
        archetype_names,
    )  # fmt: skip
    return SyncDef(
        cast(SyncMode, mode), rate, radius, tuple(quantize.items()), replicate, backlog,
        budget, falloff, stale_ms, importance,
    )  # fmt: skip


def budget_importance(
    c: Checker, t: Mapping[Any, Any], names: Sequence[str]
) -> tuple[tuple[str, float], ...]:
    """``[sync.importance]``: ``archetype = weight`` (> 0), in file order."""
    out: list[tuple[str, float]] = []
    for key, value in t.items():
        ikey = join_key("sync.importance", key)
        if not isinstance(key, str) or key not in names:
            c.fail(ikey, f"the name of an archetype: {', '.join(names)}", unknown(key, names))
        out.append((key, c.number(ikey, value, lo=0.0, lo_open=True, hi=1e6, why="weight")))
    return tuple(out)


def replicated_fields(
    c: Checker, t: Mapping[Any, Any], fields: Mapping[str, Mapping[str, str]]
) -> tuple[ReplicatedField, ...]:
    """``[sync.replicate]``: ``"component.field" = {wire, step, to}``, in file order."""
    declared = [f"{comp}.{f}" for comp, fs in fields.items() if comp != "position" for f in fs]
    if len(t) > MAX_REPLICATED:
        c.fail("sync.replicate", f"at most {MAX_REPLICATED} fields", f"{len(t)} fields")
    out: list[ReplicatedField] = []
    for key, spec in t.items():
        rkey = join_key("sync.replicate", key)
        if not isinstance(key, str) or key not in declared:
            got = unknown(key, declared)
            if isinstance(key, str) and key.startswith("position."):
                got = f"{describe(key)} (positions are always sent, quantized by sync.quantize)"
            elif isinstance(spec, Mapping) and key in fields:
                got = f"a table {json.dumps(key)} (unquoted dotted key; quote it)"
            c.fail(
                rkey,
                'a quoted "component.field" key naming a declared field other than position',
                got,
            )
        if not isinstance(spec, Mapping):
            c.fail(rkey, "a table {wire, step, to} (each optional)", describe(spec))
        c.keys(spec, rkey, REPLICATE_KEYS)
        comp, fname = key.split(".")
        dtype = fields[comp][fname]
        if "wire" in spec:
            wire = c.choice(spec, rkey, "wire", WIRE_TYPES)
        elif dtype in WIRE_TYPES:
            wire = dtype
        else:
            c.fail(
                join_key(rkey, "wire"),
                f"a wire type, one of {', '.join(WIRE_TYPES)} (the column is {dtype}, "
                "which is not one)",
                MISSING_TEXT,
            )
        step = None
        if "step" in spec:
            if wire in ("bool", "float32"):
                c.fail(
                    join_key(rkey, "step"),
                    f"no step for wire type {wire} (only integer wire types are quantized)",
                    describe(spec["step"]),
                )
            step = c.float_(spec, rkey, "step", lo=0.0, lo_open=True, why="value per wire step")
        to = c.choice(spec, rkey, "to", ("all", "owner"), default="all")
        out.append(ReplicatedField(key, wire, step, cast(Literal["all", "owner"], to)))
    return tuple(out)


def check_state_quantize(c: Checker, quantize: Mapping[str, float], world: WorldDef) -> None:
    """State sync sends positions as uint16 steps: both axes need a step that fits."""
    for axis, name, extent in (
        ("x", "width_units", world.width_units),
        ("y", "height_units", world.height_units),
    ):
        key = f"position.{axis}"
        qkey = join_key("sync.quantize", key)
        expected = (
            f"a step >= {_min_step(extent)} world units: for state sync "
            f"world.{name} ({num(extent)}) / step must fit in uint16 "
            f"(<= {MAX_QUANTIZED} steps)"
        )
        step = quantize.get(key)
        if step is None:
            c.fail(qkey, expected, MISSING_TEXT)
        if extent / step > MAX_QUANTIZED:
            c.fail(qkey, expected, f"{describe(step)} ({extent / step:.0f} steps)")


def lockstep(c: Checker, t: Mapping[Any, Any], tick_rate: int) -> LockstepDef:
    """``[lockstep]``: every key optional, defaults as in :class:`LockstepDef`."""
    c.keys(t, "lockstep", LOCKSTEP_KEYS)
    delay = c.int_(
        t,
        "lockstep",
        "input_delay_ticks",
        0,
        tick_rate,
        default=2,
        why="at most one second of delay, game.tick_rate_hz ticks",
    )
    checksum = c.int_(t, "lockstep", "checksum_interval_ticks", 1, MAX_LOCKSTEP_TICKS, default=10)
    queue = c.int_(t, "lockstep", "max_send_queue_frames", 1, MAX_LOCKSTEP_TICKS, default=64)
    default_input = c.choice(
        t,
        "lockstep",
        "default_input",
        DEFAULT_INPUTS,
        default="repeat",
        why="what a player who sent nothing in time does",
    )
    return LockstepDef(delay, checksum, queue, cast(DefaultInput, default_input))

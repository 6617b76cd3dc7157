"""The ``[events.*]``, ``[rules]`` and ``[render]`` sections.

Events are one-shot records systems emit with ``ctx.emit``; the ones declared here are
sent to clients in state sync (to their audience, exactly once, in order); undeclared
ones stay server-internal. ``[rules]`` names what a ``RESULT`` reports per player;
``[render]`` is an optional drawing style passed to clients in ``WELCOME.render``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from server.gamedef.check import MISSING, Checker, choices, describe, join_key
from server.gamedef.schema import (
    WIRE_TYPES,
    ArchetypeDef,
    Audience,
    EventDef,
    RenderDef,
    ReplicatedField,
    RulesDef,
)

EVENT_KEYS: Final = (("audience", "fields"), ("at", "to"))
RULES_KEYS: Final = ((), ("score", "result_fields"))
RENDER_KEYS: Final = ((), ("kinds", "bar", "label", "highlight"))
RENDER_KIND_KEYS: Final = ((), ("color", "size_units"))
BAR_KEYS: Final = (("field", "max"), ())
AUDIENCES: Final = ("all", "interest", "owner", "target")
EVENT_FIELD_TYPES: Final = (*WIRE_TYPES, "entity")
MAX_EVENTS: Final = 64
MAX_EVENT_FIELDS: Final = 32
MAX_COLOR_LEN: Final = 32


def events(c: Checker, t: Mapping[Any, Any]) -> tuple[EventDef, ...]:
    """``[events.<name>]``: fields with wire types, an audience and its entity field."""
    if len(t) > MAX_EVENTS:
        c.fail("events", f"at most {MAX_EVENTS} events", f"{len(t)} events")
    out: list[EventDef] = []
    for name, et in t.items():
        path = join_key("events", name)
        c.identifier(name, path, "an event name")
        if not isinstance(et, Mapping):
            c.fail(path, "a table with audience and fields", describe(et))
        c.keys(et, path, EVENT_KEYS)
        audience = cast(Audience, c.choice(et, path, "audience", AUDIENCES))
        fpath = join_key(path, "fields")
        ft = c.table(et, path, "fields", expected='a table of field = "type"')
        if len(ft) > MAX_EVENT_FIELDS:
            c.fail(fpath, f"at most {MAX_EVENT_FIELDS} fields", f"{len(ft)} fields")
        fields: list[tuple[str, str]] = []
        for fname, ftype in ft.items():
            key = join_key(fpath, fname)
            c.identifier(fname, key, "an event field name")
            if not isinstance(ftype, str) or ftype not in EVENT_FIELD_TYPES:
                c.fail(key, f"a field type, one of {choices(EVENT_FIELD_TYPES)}", describe(ftype))
            fields.append((fname, ftype))
        entity_fields = [f for f, ty in fields if ty == "entity"]
        at = to = None
        for key, wanted, default in (
            ("at", audience == "interest", None),
            ("to", audience in ("owner", "target"), audience),
        ):
            value = et.get(key, MISSING)
            kpath = join_key(path, key)
            if not wanted:
                if value is not MISSING:
                    c.fail(kpath, f"no {key!r} for audience {audience!r}", describe(value))
                continue
            if value is MISSING and default is not None:
                value = default
            if not isinstance(value, str) or value not in entity_fields:
                fields_text = ", ".join(entity_fields) or "none declared"
                c.fail(
                    kpath,
                    f'the name of an "entity" field of the event ({fields_text})',
                    describe(value) if value is not MISSING else "nothing (the key is missing)",
                )
            if key == "at":
                at = value
            else:
                to = value
        out.append(EventDef(name, audience, tuple(fields), at, to))
    return tuple(out)


def _player_field(
    c: Checker,
    key: str,
    value: object,
    fields: Mapping[str, Mapping[str, str]],
    player: ArchetypeDef,
) -> str:
    """A quoted ``"component.field"`` of a component the player archetype has."""
    declared = [f"{comp}.{f}" for comp in player.components for f in fields[comp]]
    if not isinstance(value, str) or value not in declared:
        c.fail(
            key,
            f'a "component.field" of the player archetype: {", ".join(declared)}',
            describe(value),
        )
    return value


def rules(
    c: Checker,
    t: Mapping[Any, Any],
    fields: Mapping[str, Mapping[str, str]],
    player: ArchetypeDef,
) -> RulesDef:
    """``[rules]``: the per-player score and result columns of ``RESULT``."""
    c.keys(t, "rules", RULES_KEYS)
    score = None
    if "score" in t:
        score = _player_field(c, "rules.score", t["score"], fields, player)
    items = c.array(t.get("result_fields", []), "rules.result_fields", "an array of fields")
    result: list[str] = []
    for i, v in enumerate(items):
        f = _player_field(c, f"rules.result_fields[{i}]", v, fields, player)
        if f in result:
            c.fail(f"rules.result_fields[{i}]", "each field once", describe(v))
        result.append(f)
    return RulesDef(score, tuple(result))


def render(
    c: Checker,
    t: Mapping[Any, Any],
    archetypes: Sequence[ArchetypeDef],
    replicated: Sequence[ReplicatedField],
) -> RenderDef:
    """``[render]``: colours and sizes per kind, and replicated fields to draw."""
    c.keys(t, "render", RENDER_KEYS)
    names = [a.name for a in archetypes]
    kt = c.table(t, "render", "kinds", required=False, expected="a table of archetypes")
    kinds: list[tuple[str, str | None, float | None]] = []
    for aname, at in kt.items():
        path = join_key("render.kinds", aname)
        if aname not in names:
            c.fail(path, f"the name of an archetype: {', '.join(names)}", describe(aname))
        if not isinstance(at, Mapping):
            c.fail(path, "a table with color and/or size_units", describe(at))
        c.keys(at, path, RENDER_KIND_KEYS)
        color = None
        if "color" in at:
            color = at["color"]
            if not isinstance(color, str) or not 0 < len(color) <= MAX_COLOR_LEN:
                c.fail(
                    join_key(path, "color"),
                    f'a CSS colour string of at most {MAX_COLOR_LEN} characters ("#4af")',
                    describe(color),
                )
        size = None
        if "size_units" in at:
            size = c.float_(at, path, "size_units", lo=0.0, lo_open=True, why="world units")
        kinds.append((aname, color, size))
    keys = {r.key: r for r in replicated}
    expected = f"a replicated field ([sync.replicate]): {', '.join(keys) or 'none declared'}"
    bar = None
    if "bar" in t:
        bt = c.table(t, "render", "bar", expected="a table {field, max}")
        c.keys(bt, "render.bar", BAR_KEYS)
        field = bt.get("field", MISSING)
        if field not in keys:
            c.fail("render.bar.field", expected, describe(field))
        top = c.float_(bt, "render.bar", "max", lo=0.0, lo_open=True, why="a full bar")
        bar = (cast(str, field), top)
    label = highlight = None
    if "label" in t:
        if t["label"] not in keys:
            c.fail("render.label", expected, describe(t["label"]))
        label = cast(str, t["label"])
    if "highlight" in t:
        value = t["highlight"]
        if value not in keys or keys[value].wire != "bool":
            bools = [k for k, r in keys.items() if r.wire == "bool"]
            c.fail(
                "render.highlight",
                f"a replicated field with wire type bool: {', '.join(bools) or 'none declared'}",
                describe(value),
            )
        highlight = cast(str, value)
    return RenderDef(tuple(kinds), bar, label, highlight)

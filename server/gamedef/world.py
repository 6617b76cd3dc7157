"""The ``[world]``, ``[components]``, ``[archetypes]``, ``[[spawns]]``, ``[spatial]`` sections."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

from server.gamedef.check import (
    MISSING,
    MISSING_TEXT,
    Checker,
    choices,
    describe,
    join_key,
)
from server.gamedef.limits import (
    ARCHETYPE_KEYS,
    INDEX_KINDS,
    INT32_MAX,
    MAX_ARCHETYPES,
    MAX_COMPONENTS,
    MAX_FIELDS_PER_COMPONENT,
    MAX_GRID_CELLS,
    MAX_INITIAL_CAPACITY,
    MAX_LEAF_CAPACITY,
    MAX_SPAWN_TOTAL,
    MAX_SUBUNITS_PER_UNIT,
    MAX_WORLD_SUBUNITS,
    SIGNED_INT_MAX,
    SPATIAL_KEYS,
    SPAWN_KEYS,
    WORLD_KEYS,
)
from server.gamedef.schema import (
    FIELD_DTYPES,
    ArchetypeDef,
    ComponentDef,
    IndexKind,
    SpatialDef,
    SpawnDef,
    WorldDef,
)


def world(c: Checker, t: Mapping[Any, Any]) -> WorldDef:
    """``[world]``: sizes bounded so every position fits int32 with room to overshoot."""
    c.keys(t, "world", WORLD_KEYS)
    width = c.float_(t, "world", "width_units", lo=0.0, lo_open=True, why="world units")
    height = c.float_(t, "world", "height_units", lo=0.0, lo_open=True, why="world units")
    scale = c.int_(
        t,
        "world",
        "subunits_per_unit",
        1,
        MAX_SUBUNITS_PER_UNIT,
        why="fixed-point subunits per world unit",
    )
    for name, extent in (("width_units", width), ("height_units", height)):
        subunits = extent * scale
        if not 1.0 <= subunits <= MAX_WORLD_SUBUNITS:
            c.fail(
                f"world.{name}",
                f"{name} * subunits_per_unit in 1..{MAX_WORLD_SUBUNITS} subunits "
                "(positions are int32 and may overshoot an edge for one tick before "
                "they bounce, so half of int32)",
                f"float {extent!r} * integer {scale} = {subunits:.0f} subunits",
            )
    capacity = c.int_(
        t,
        "world",
        "initial_capacity",
        1,
        MAX_INITIAL_CAPACITY,
        default=1024,
        why="entity slots allocated up front",
    )
    return WorldDef(width, height, scale, capacity)


def components(c: Checker, t: Mapping[Any, Any], world: WorldDef) -> tuple[ComponentDef, ...]:
    """``[components.*]``, then what the core needs: fixed-point position/velocity."""
    if len(t) > MAX_COMPONENTS:
        c.fail(
            "components",
            f"at most {MAX_COMPONENTS} components (the world's component mask is uint32)",
            f"{len(t)} components",
        )
    out: list[ComponentDef] = []
    for cname, ft in t.items():
        cpath = join_key("components", cname)
        c.identifier(cname, cpath, "a component name")
        if not isinstance(ft, Mapping):
            c.fail(cpath, 'a table of field = "dtype" (e.g. x = "int32")', describe(ft))
        if len(ft) > MAX_FIELDS_PER_COMPONENT:
            c.fail(
                cpath,
                f"at most {MAX_FIELDS_PER_COMPONENT} fields",
                f"{len(ft)} fields",
            )
        fields: list[tuple[str, str]] = []
        for fname, dtype in ft.items():
            fpath = join_key(cpath, fname)
            c.identifier(fname, fpath, "a field name")
            if not isinstance(dtype, str) or dtype not in FIELD_DTYPES:
                c.fail(fpath, f"a dtype, one of {choices(FIELD_DTYPES)}", describe(dtype))
            fields.append((fname, dtype))
        out.append(ComponentDef(cname, tuple(fields)))
    by_name = {c.name: dict(c.fields) for c in out}
    extents = {"x": world.width_units, "y": world.height_units}
    for cname, why in (
        ("position", "positions are fixed-point subunits"),
        ("velocity", "velocities are fixed-point subunits per second"),
    ):
        if cname not in by_name:
            c.fail(
                f"components.{cname}",
                f"a component with signed integer fields x and y (the core needs it: {why})",
                MISSING_TEXT,
            )
        for axis in ("x", "y"):
            dtype = by_name[cname].get(axis, MISSING)
            key = f"components.{cname}.{axis}"
            if dtype not in SIGNED_INT_MAX:
                c.fail(
                    key,
                    f"a signed integer dtype, one of {choices(SIGNED_INT_MAX)} ({why})",
                    describe(dtype),
                )
            if cname == "position":
                need = 2 * extents[axis] * world.subunits_per_unit
                top = SIGNED_INT_MAX[cast(str, dtype)]
                if need > top:
                    c.fail(
                        key,
                        f"a dtype that holds twice the world's extent on {axis} "
                        f"({need:.0f} subunits)",
                        f"{describe(dtype)} (at most {top})",
                    )
    return tuple(out)


def archetypes(
    c: Checker, t: Mapping[Any, Any], fields: Mapping[str, Mapping[str, str]]
) -> tuple[ArchetypeDef, ...]:
    """``[archetypes.*]``: ``kind_id`` is the file position, so at most 256."""
    if not t:
        c.fail("archetypes", "at least one archetype ([archetypes.<name>])", "none")
    if len(t) > MAX_ARCHETYPES:
        c.fail(
            "archetypes",
            f"at most {MAX_ARCHETYPES} archetypes (kind_id is a uint8 on the wire)",
            f"{len(t)} archetypes",
        )
    out: list[ArchetypeDef] = []
    for kind_id, (aname, at) in enumerate(t.items()):
        apath = join_key("archetypes", aname)
        c.identifier(aname, apath, "an archetype name")
        if not isinstance(at, Mapping):
            c.fail(apath, 'a table with components = ["...", ...]', describe(at))
        c.keys(at, apath, ARCHETYPE_KEYS)
        cpath = f"{apath}.components"
        expected = "a non-empty array of declared component names"
        names = c.array(at.get("components", MISSING), cpath, expected)
        if not names:
            c.fail(cpath, expected, describe(names))
        seen: list[str] = []
        for j, comp in enumerate(names):
            if not isinstance(comp, str) or comp not in fields:
                c.fail(
                    f"{cpath}[{j}]",
                    f"a declared component: {', '.join(fields)}",
                    describe(comp),
                )
            if comp in seen:
                c.fail(f"{cpath}[{j}]", "each component at most once", describe(comp))
            seen.append(comp)
        out.append(ArchetypeDef(aname, tuple(seen), kind_id))
    return tuple(out)


def spawns(
    c: Checker,
    value: object,
    archetypes: Mapping[str, ArchetypeDef],
    fields: Mapping[str, Mapping[str, str]],
    world: WorldDef,
) -> tuple[SpawnDef, ...]:
    """``[[spawns]]``: archetypes that can be placed, counts the core can allocate."""
    items = c.array(value, "spawns", "an array of tables ([[spawns]])")
    vel = fields["velocity"]
    max_speed_subunits = min(INT32_MAX, *(SIGNED_INT_MAX[vel[a]] for a in ("x", "y")))
    max_speed = max_speed_subunits / world.subunits_per_unit
    out: list[SpawnDef] = []
    total = 0
    for i, st in enumerate(items):
        spath = f"spawns[{i}]"
        if not isinstance(st, Mapping):
            c.fail(spath, "a table ([[spawns]])", describe(st))
        c.keys(st, spath, SPAWN_KEYS)
        arch_name = c.str_(st, spath, "archetype", "a string naming an archetype")
        arch = archetypes.get(arch_name)
        if arch is None:
            c.fail(
                f"{spath}.archetype",
                f"the name of an archetype: {', '.join(archetypes)}",
                describe(arch_name),
            )
        if "position" not in arch.components:
            c.fail(
                f"{spath}.archetype",
                "an archetype with component position (spawns are placed at random positions)",
                f"{describe(arch_name)} with components {', '.join(arch.components)}",
            )
        count = c.int_(st, spath, "count", 0, MAX_SPAWN_TOTAL, why="entities")
        speed = c.float_(
            st,
            spath,
            "speed_units_per_s",
            lo=0.0,
            hi=max_speed,
            default=0.0,
            why="world units per second; the velocity dtype and int32 bound it",
        )
        total += count
        if total > MAX_SPAWN_TOTAL:
            c.fail(
                f"{spath}.count",
                f"at most {MAX_SPAWN_TOTAL} spawned entities in total",
                f"{describe(count)}, bringing the total to {total}",
            )
        out.append(SpawnDef(arch_name, count, speed))
    return tuple(out)


def spatial(c: Checker, t: Mapping[Any, Any], world: WorldDef) -> SpatialDef:
    """``[spatial]``: a grid is bounded in cells because it allocates them all."""
    c.keys(t, "spatial", SPATIAL_KEYS)
    index = c.choice(t, "spatial", "index", INDEX_KINDS, default="grid")
    cell = c.float_(
        t, "spatial", "cell_size_units", lo=0.0, lo_open=True, default=50.0, why="world units"
    )
    if index == "grid":
        nx, ny = world.width_units / cell, world.height_units / cell
        cells = math.ceil(nx) * math.ceil(ny) if math.isfinite(nx * ny) else math.inf
        if cells > MAX_GRID_CELLS:
            c.fail(
                "spatial.cell_size_units",
                f"a cell size giving at most {MAX_GRID_CELLS} grid cells over the world",
                f"{describe(t.get('cell_size_units', cell))} ({cells} cells)",
            )
    leaf = c.int_(
        t,
        "spatial",
        "quadtree_leaf_capacity",
        1,
        MAX_LEAF_CAPACITY,
        default=16,
        why="entities per quadtree leaf before it splits",
    )
    return SpatialDef(cast(IndexKind, index), cell, leaf)

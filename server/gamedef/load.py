"""Load a game definition: TOML in, a validated frozen :class:`GameDefinition` out.

Contract: :func:`load_definition` and :func:`parse_definition` either return a
definition every layer can run without further checks, or raise exactly one
:class:`~server.errors.DefinitionError` for the *first* problem found (sections in the
order ``game, world, components, archetypes, spawns, pipeline, spatial, sync,
lockstep``; entries in file order). Nothing is half-configured: parsing builds fresh
frozen objects and has no side effects.

Every error names the file, the dotted key (``pipeline[2].params.speed_units_per_s``,
``components.position.x``; array indices are 0-based, keys that are not bare TOML keys
are quoted: ``sync.quantize."position.x"``), what was expected and what was found, with
the offending value's TOML type and value. Unknown keys are errors too, because a typo
that is silently ignored is a setting that silently does not apply.

Why the load-time checks go beyond types: the core is fixed point (int32 subunits) and
the wire packs positions in uint16, so ranges that would overflow at run time, systems
that could never find their components, and ``after`` constraints that cannot be
satisfied are all refused here, where the error can name the line to fix. Every key is
documented in docs/game-definitions.md.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal, NoReturn, cast

from server.core.phases import PHASE_KEYS
from server.core.systems.registry import ParamSpec, SystemSpec, registered_systems
from server.errors import DefinitionError
from server.gamedef.schema import (
    FIELD_DTYPES,
    ArchetypeDef,
    ComponentDef,
    GameDefinition,
    IndexKind,
    LockstepDef,
    PhaseName,
    SpatialDef,
    SpawnDef,
    SyncDef,
    SyncMode,
    SystemStep,
    WorldDef,
)

__all__ = [
    "MAX_ARCHETYPES",
    "MAX_COMPONENTS",
    "MAX_SPAWN_TOTAL",
    "MAX_TICK_RATE_HZ",
    "load_definition",
    "override_sync_mode",
    "parse_definition",
]

# -- limits (each one documented in docs/game-definitions.md) ----------------------------

MAX_TICK_RATE_HZ: Final = 240
MAX_PLAYERS: Final = 65_535
"""Lockstep frames carry player seats as uint16."""
MAX_SEED: Final = 2**63 - 1
"""The largest TOML integer."""
MAX_SUBUNITS_PER_UNIT: Final = 65_536
INT32_MAX: Final = 2**31 - 1
MAX_WORLD_SUBUNITS: Final = INT32_MAX // 2
"""World extent in subunits: half of int32, because an entity may overshoot an edge by up
to one tick of velocity before ``bounce_at_edges`` reflects it with ``2 * limit - p``."""
MAX_INITIAL_CAPACITY: Final = 1 << 24
MAX_COMPONENTS: Final = 32
"""The world keeps which components an entity has in a uint32 bit mask."""
MAX_ARCHETYPES: Final = 256
"""``kind_id`` is sent to clients as a uint8."""
MAX_FIELDS_PER_COMPONENT: Final = 64
MAX_SPAWN_TOTAL: Final = 1_000_000
MAX_GRID_CELLS: Final = 1 << 20
MAX_LEAF_CAPACITY: Final = 65_536
MAX_QUANTIZED: Final = 65_535
"""State sync sends each quantized position axis as a uint16."""
MAX_LOCKSTEP_TICKS: Final = 65_535
MAX_NAME_LEN: Final = 64
INPUT_AXIS_MAX: Final = 127
"""Player input axes arrive quantized to -127..127 (see server/core/systems/arena.py)."""

#: Largest value of each signed integer dtype (positions, velocities and inputs are signed).
SIGNED_INT_MAX: Final[Mapping[str, int]] = {
    "int8": 2**7 - 1,
    "int16": 2**15 - 1,
    "int32": 2**31 - 1,
    "int64": 2**63 - 1,
}

INDEX_KINDS: Final = ("grid", "quadtree", "brute")
SYNC_MODES: Final = ("state", "lockstep")
DEFAULT_INPUTS: Final = ("zero", "repeat")
DefaultInput = Literal["zero", "repeat"]

# -- the keys each table accepts: (required, optional) -----------------------------------

TOP_KEYS: Final = (
    ("game", "world", "components", "archetypes", "pipeline", "sync"),
    ("spawns", "spatial", "lockstep"),
)
GAME_KEYS: Final = (("name", "tick_rate_hz", "max_players", "seed", "player_archetype"), ())
WORLD_KEYS: Final = (("width_units", "height_units", "subunits_per_unit"), ("initial_capacity",))
ARCHETYPE_KEYS: Final = (("components",), ())
SPAWN_KEYS: Final = (("archetype", "count"), ("speed_units_per_s",))
STEP_KEYS: Final = (("phase", "system"), ("params", "after"))
SPATIAL_KEYS: Final = ((), ("index", "cell_size_units", "quadtree_leaf_capacity"))
SYNC_KEYS: Final = (("mode", "snapshot_rate_hz", "interest_radius_units"), ("quantize",))
LOCKSTEP_KEYS: Final = (
    (),
    ("input_delay_ticks", "checksum_interval_ticks", "max_send_queue_frames", "default_input"),
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_IDENTIFIER_TEXT = (
    f"an identifier (ASCII letters, digits and _, not starting with a digit, "
    f"at most {MAX_NAME_LEN} characters)"
)


class _Missing:
    """Marks an absent key (``None`` is not a TOML value, but keep the two apart anyway)."""


_MISSING: Final = _Missing()
_MISSING_TEXT: Final = "nothing (the key is missing)"


# -- public API ----------------------------------------------------------------------------


def load_definition(path: str | os.PathLike[str]) -> GameDefinition:
    """Read and validate the TOML game definition at ``path``.

    An unreadable file (missing, a directory, not UTF-8) is a :class:`DefinitionError`
    with key ``<file>``; a TOML syntax error one with key ``<toml>`` whose ``got`` is the
    parser's message, which includes the line and column. ``source`` of the result is
    ``os.fspath(path)``.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as fh:
            raw = fh.read()
        text = raw.decode("utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DefinitionError(
            source, "<file>", "a readable TOML file", f"{type(exc).__name__}: {reason}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise DefinitionError(
            source, "<file>", "a UTF-8 encoded TOML file", f"UnicodeDecodeError: {exc}"
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(
            source, "<toml>", "valid TOML (toml.io v1.0.0)", f"a syntax error: {exc}"
        ) from exc
    return parse_definition(data, source)


def parse_definition(data: Mapping[str, Any], source: str = "<string>") -> GameDefinition:
    """Validate ``data`` (a parsed TOML document) into a :class:`GameDefinition`.

    ``source`` names the file in errors and is stored as ``definition.source``. Raises
    :class:`DefinitionError` for the first problem found and nothing else, whatever
    ``data`` holds: callers can show the message to a human as it is.

    Normalisations: ints given for float keys become floats; pipeline ``params`` are
    completed with the systems' defaults (in the order the system declares them);
    ``pipeline`` is returned in run order -- by phase, and inside a phase in file order
    except where ``after`` demands otherwise (a stable topological sort).
    """
    return _Parser(source).definition(data)


def override_sync_mode(defn: GameDefinition, mode: str) -> GameDefinition:
    """``defn`` with ``sync.mode`` replaced (the CLI's ``--sync``), re-validated for ``mode``.

    Switching to ``state`` needs the ``position.x``/``position.y`` quantize steps the
    loader requires of state-sync files, so a lockstep file without them is refused
    here with the same kind of error the loader would give.
    """
    p = _Parser(defn.source)
    if mode == "state":
        p.check_state_quantize(dict(defn.sync.quantize), defn.world)
        new_mode: SyncMode = "state"
    elif mode == "lockstep":
        new_mode = "lockstep"
    else:
        p.fail("sync.mode", f"one of {_choices(SYNC_MODES)} (from --sync)", _describe(mode))
    return dataclasses.replace(defn, sync=dataclasses.replace(defn.sync, mode=new_mode))


# -- formatting helpers ------------------------------------------------------------------


def _join(path: str, key: object) -> str:
    """``path.key``, quoting ``key`` the way TOML would when it is not a bare key."""
    if isinstance(key, str) and _BARE_KEY.fullmatch(key):
        part = key
    elif isinstance(key, str):
        part = json.dumps(key, ensure_ascii=False)
    else:
        part = f"<{type(key).__name__} {key!r}>"
    return f"{path}.{part}" if path else part


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(value: object) -> str:
    """The value as TOML names it: ``integer 300``, ``string "fast"``, ``boolean true``."""
    if value is _MISSING:
        return _MISSING_TEXT
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        if value.bit_length() > 128:  # str() of a huge int is slow (and capped by Python)
            return f"integer of {value.bit_length()} bits"
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value!r}"
    if isinstance(value, str):
        return f"string {_short(json.dumps(value, ensure_ascii=False))}"
    if isinstance(value, Mapping):
        keys = ", ".join(_join("", k) for k in value)
        return f"table {{{_short(keys)}}}" if keys else "an empty table"
    if isinstance(value, list | tuple):
        return f"array of {len(value)} item(s) {_short(repr(list(value)))}"
    return f"{type(value).__name__} {_short(repr(value))}"


def _choices(options: Iterable[str]) -> str:
    return ", ".join(json.dumps(o) for o in options)


def _num(x: float) -> str:
    return f"{x:g}"


def _min_step(extent: float) -> str:
    """``extent / MAX_QUANTIZED`` rounded *up* to 4 significant digits, so it is valid."""
    exact = extent / MAX_QUANTIZED
    quantum = 10.0 ** (math.floor(math.log10(exact)) - 3)
    return f"{math.ceil(exact / quantum) * quantum:.4g}"


def _unknown(key: object, allowed: Sequence[str]) -> str:
    if not isinstance(key, str):
        return f"a key that is not a string: {_describe(key)}"
    hint = difflib.get_close_matches(key, allowed, n=1)
    suffix = f" (did you mean {json.dumps(hint[0])}?)" if hint else ""
    return f"unknown key {json.dumps(key, ensure_ascii=False)}{suffix}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- the parser --------------------------------------------------------------------------


class _Parser:
    """One parse of one document: knows the source so every check can name it."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, expected: str, got: str) -> NoReturn:
        raise DefinitionError(self.source, key, expected, got)

    # -- typed getters: each handles "missing", "wrong type" and "out of range" -------

    def keys(self, table: Mapping[Any, Any], path: str, spec: tuple[Sequence[str], ...]) -> None:
        """Refuse keys of ``table`` that ``spec`` (required, optional) does not list."""
        required, optional = spec
        allowed = (*required, *optional)
        for key in table:
            if key not in allowed:
                expected = f"one of the keys {', '.join(allowed)}" if allowed else "no keys"
                self.fail(_join(path, key), expected, _unknown(key, allowed))

    def table(
        self,
        parent: Mapping[Any, Any],
        path: str,
        name: str,
        *,
        required: bool = True,
        expected: str = "",
    ) -> Mapping[Any, Any]:
        """The sub-table ``name`` (an empty one when optional and absent)."""
        key = _join(path, name)
        value = parent.get(name, _MISSING)
        if value is _MISSING and not required:
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, expected or f"a table ([{key}])", _describe(value))
        return value

    def int_(
        self,
        table: Mapping[Any, Any],
        path: str,
        name: str,
        lo: int,
        hi: int | None,
        *,
        default: int | None = None,
        why: str = "",
    ) -> int:
        """An integer in ``lo..hi`` (``hi`` None: unbounded); bool is not an integer."""
        key = _join(path, name)
        expected = f"an integer in {lo}..{hi}" if hi is not None else f"an integer >= {lo}"
        expected += f" ({why})" if why else ""
        value = table.get(name, _MISSING)
        if value is _MISSING and default is not None:
            return default
        if not _is_int(value) or value < lo or (hi is not None and value > hi):
            self.fail(key, expected, _describe(value))
        return cast(int, value)

    def float_(
        self,
        table: Mapping[Any, Any],
        path: str,
        name: str,
        *,
        lo: float,
        lo_open: bool = False,
        hi: float | None = None,
        default: float | None = None,
        why: str = "",
    ) -> float:
        """A finite number (an integer is accepted and converted) within the bounds."""
        key = _join(path, name)
        value = table.get(name, _MISSING)
        if value is _MISSING and default is not None:
            return default
        return self.number(key, value, lo=lo, lo_open=lo_open, hi=hi, why=why)

    def number(
        self,
        key: str,
        value: object,
        *,
        lo: float | None,
        lo_open: bool = False,
        hi: float | None = None,
        why: str = "",
    ) -> float:
        """Check one number value (see :meth:`float_`)."""
        if lo is None:
            bounds = f" <= {_num(hi)}" if hi is not None else ""
        elif hi is None:
            bounds = f" {'>' if lo_open else '>='} {_num(lo)}"
        else:
            bounds = f" in {_num(lo)}..{_num(hi)}" + (f" (excluding {_num(lo)})" if lo_open else "")
        expected = f"a finite number{bounds}" + (f" ({why})" if why else "")
        if not _is_number(value):
            self.fail(key, expected, _describe(value))
        try:
            x = float(cast(float, value))
        except OverflowError:
            self.fail(key, expected, _describe(value))
        ok = math.isfinite(x)
        if ok and lo is not None:
            ok = x > lo if lo_open else x >= lo
        if ok and hi is not None:
            ok = x <= hi
        if not ok:
            self.fail(key, expected, _describe(value))
        return x

    def str_(self, table: Mapping[Any, Any], path: str, name: str, expected: str) -> str:
        """A string (no other check)."""
        value = table.get(name, _MISSING)
        if not isinstance(value, str):
            self.fail(_join(path, name), expected, _describe(value))
        return value

    def choice(
        self,
        table: Mapping[Any, Any],
        path: str,
        name: str,
        options: Sequence[str],
        default: str | None = None,
        why: str = "",
    ) -> str:
        """One of ``options``."""
        value = table.get(name, _MISSING)
        if value is _MISSING and default is not None:
            return default
        if not isinstance(value, str) or value not in options:
            expected = f"one of {_choices(options)}" + (f" ({why})" if why else "")
            self.fail(_join(path, name), expected, _describe(value))
        return value

    def array(self, value: object, key: str, expected: str) -> Sequence[Any]:
        """A TOML array (a list; a tuple is accepted from Python callers)."""
        if not isinstance(value, list | tuple):
            self.fail(key, expected, _describe(value))
        return value

    def identifier(self, name: object, key: str, what: str) -> str:
        """A name used in column keys and on the wire: a short ASCII identifier."""
        if not isinstance(name, str) or len(name) > MAX_NAME_LEN or not _IDENTIFIER.fullmatch(name):
            got = f"key {_describe(name)}" if isinstance(name, str) else _describe(name)
            self.fail(key, f"{what} that is {_IDENTIFIER_TEXT}", got)
        return name

    # -- sections ----------------------------------------------------------------------

    def definition(self, data: Mapping[str, Any]) -> GameDefinition:
        """The whole document, section by section; cross-references resolved as they come."""
        if not isinstance(data, Mapping):
            self.fail("<root>", "a TOML document (a table)", _describe(data))
        self.keys(data, "", TOP_KEYS)
        game = self.table(data, "", "game")
        self.keys(game, "game", GAME_KEYS)
        name = self.str_(game, "game", "name", "a string naming the game")
        if not name or len(name) > MAX_NAME_LEN or not name.isprintable():
            self.fail(
                "game.name",
                f"a non-empty printable string of at most {MAX_NAME_LEN} characters",
                _describe(name),
            )
        tick_rate = self.int_(
            game, "game", "tick_rate_hz", 1, MAX_TICK_RATE_HZ, why="ticks per second"
        )
        max_players = self.int_(
            game, "game", "max_players", 1, MAX_PLAYERS, why="lockstep seats are uint16"
        )
        seed = self.int_(game, "game", "seed", 0, MAX_SEED, why="seeds the match's PCG64")
        player_archetype = self.str_(
            game, "game", "player_archetype", "a string naming an archetype"
        )

        world = self.world(self.table(data, "", "world"))
        components = self.components(self.table(data, "", "components"), world)
        fields = {c.name: dict(c.fields) for c in components}
        archetypes = self.archetypes(self.table(data, "", "archetypes"), fields)
        by_name = {a.name: a for a in archetypes}
        player = by_name.get(player_archetype)
        if player is None:
            self.fail(
                "game.player_archetype",
                f"the name of an archetype: {', '.join(by_name)}",
                _describe(player_archetype),
            )
        if "position" not in player.components:
            self.fail(
                "game.player_archetype",
                "an archetype with component position (players join at a random position)",
                f"{_describe(player_archetype)} with components {', '.join(player.components)}",
            )
        spawns = self.spawns(data.get("spawns", []), by_name, fields, world)
        pipeline = self.pipeline(data.get("pipeline", _MISSING), archetypes)
        spatial = self.spatial(self.table(data, "", "spatial", required=False), world)
        sync = self.sync(self.table(data, "", "sync"), tick_rate, fields, world)
        lockstep = self.lockstep(self.table(data, "", "lockstep", required=False), tick_rate)
        return GameDefinition(
            source=self.source,
            name=name,
            tick_rate_hz=tick_rate,
            max_players=max_players,
            seed=seed,
            world=world,
            components=components,
            archetypes=archetypes,
            player_archetype=player_archetype,
            spawns=spawns,
            pipeline=pipeline,
            spatial=spatial,
            sync=sync,
            lockstep=lockstep,
        )

    def world(self, t: Mapping[Any, Any]) -> WorldDef:
        """``[world]``: sizes bounded so every position fits int32 with room to overshoot."""
        self.keys(t, "world", WORLD_KEYS)
        width = self.float_(t, "world", "width_units", lo=0.0, lo_open=True, why="world units")
        height = self.float_(t, "world", "height_units", lo=0.0, lo_open=True, why="world units")
        scale = self.int_(
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
                self.fail(
                    f"world.{name}",
                    f"{name} * subunits_per_unit in 1..{MAX_WORLD_SUBUNITS} subunits "
                    "(positions are int32 and may overshoot an edge for one tick before "
                    "they bounce, so half of int32)",
                    f"float {extent!r} * integer {scale} = {subunits:.0f} subunits",
                )
        capacity = self.int_(
            t,
            "world",
            "initial_capacity",
            1,
            MAX_INITIAL_CAPACITY,
            default=1024,
            why="entity slots allocated up front",
        )
        return WorldDef(width, height, scale, capacity)

    def components(self, t: Mapping[Any, Any], world: WorldDef) -> tuple[ComponentDef, ...]:
        """``[components.*]``, then what the core needs: fixed-point position/velocity."""
        if len(t) > MAX_COMPONENTS:
            self.fail(
                "components",
                f"at most {MAX_COMPONENTS} components (the world's component mask is uint32)",
                f"{len(t)} components",
            )
        out: list[ComponentDef] = []
        for cname, ft in t.items():
            cpath = _join("components", cname)
            self.identifier(cname, cpath, "a component name")
            if not isinstance(ft, Mapping):
                self.fail(cpath, 'a table of field = "dtype" (e.g. x = "int32")', _describe(ft))
            if len(ft) > MAX_FIELDS_PER_COMPONENT:
                self.fail(
                    cpath,
                    f"at most {MAX_FIELDS_PER_COMPONENT} fields",
                    f"{len(ft)} fields",
                )
            fields: list[tuple[str, str]] = []
            for fname, dtype in ft.items():
                fpath = _join(cpath, fname)
                self.identifier(fname, fpath, "a field name")
                if not isinstance(dtype, str) or dtype not in FIELD_DTYPES:
                    self.fail(fpath, f"a dtype, one of {_choices(FIELD_DTYPES)}", _describe(dtype))
                fields.append((fname, dtype))
            out.append(ComponentDef(cname, tuple(fields)))
        by_name = {c.name: dict(c.fields) for c in out}
        extents = {"x": world.width_units, "y": world.height_units}
        for cname, why in (
            ("position", "positions are fixed-point subunits"),
            ("velocity", "velocities are fixed-point subunits per second"),
        ):
            if cname not in by_name:
                self.fail(
                    f"components.{cname}",
                    f"a component with signed integer fields x and y (the core needs it: {why})",
                    _MISSING_TEXT,
                )
            for axis in ("x", "y"):
                dtype = by_name[cname].get(axis, _MISSING)
                key = f"components.{cname}.{axis}"
                if dtype not in SIGNED_INT_MAX:
                    self.fail(
                        key,
                        f"a signed integer dtype, one of {_choices(SIGNED_INT_MAX)} ({why})",
                        _describe(dtype),
                    )
                if cname == "position":
                    need = 2 * extents[axis] * world.subunits_per_unit
                    top = SIGNED_INT_MAX[cast(str, dtype)]
                    if need > top:
                        self.fail(
                            key,
                            f"a dtype that holds twice the world's extent on {axis} "
                            f"({need:.0f} subunits)",
                            f"{_describe(dtype)} (at most {top})",
                        )
        if "input" in by_name:
            for axis in ("x", "y"):
                dtype = by_name["input"].get(axis, _MISSING)
                if dtype not in SIGNED_INT_MAX:
                    self.fail(
                        f"components.input.{axis}",
                        f"a signed integer dtype, one of {_choices(SIGNED_INT_MAX)} (player "
                        f"input axes are written here as -{INPUT_AXIS_MAX}..{INPUT_AXIS_MAX})",
                        _describe(dtype),
                    )
        return tuple(out)

    def archetypes(
        self, t: Mapping[Any, Any], fields: Mapping[str, Mapping[str, str]]
    ) -> tuple[ArchetypeDef, ...]:
        """``[archetypes.*]``: ``kind_id`` is the file position, so at most 256."""
        if not t:
            self.fail("archetypes", "at least one archetype ([archetypes.<name>])", "none")
        if len(t) > MAX_ARCHETYPES:
            self.fail(
                "archetypes",
                f"at most {MAX_ARCHETYPES} archetypes (kind_id is a uint8 on the wire)",
                f"{len(t)} archetypes",
            )
        out: list[ArchetypeDef] = []
        for kind_id, (aname, at) in enumerate(t.items()):
            apath = _join("archetypes", aname)
            self.identifier(aname, apath, "an archetype name")
            if not isinstance(at, Mapping):
                self.fail(apath, 'a table with components = ["...", ...]', _describe(at))
            self.keys(at, apath, ARCHETYPE_KEYS)
            cpath = f"{apath}.components"
            expected = "a non-empty array of declared component names"
            names = self.array(at.get("components", _MISSING), cpath, expected)
            if not names:
                self.fail(cpath, expected, _describe(names))
            seen: list[str] = []
            for j, comp in enumerate(names):
                if not isinstance(comp, str) or comp not in fields:
                    self.fail(
                        f"{cpath}[{j}]",
                        f"a declared component: {', '.join(fields)}",
                        _describe(comp),
                    )
                if comp in seen:
                    self.fail(f"{cpath}[{j}]", "each component at most once", _describe(comp))
                seen.append(comp)
            out.append(ArchetypeDef(aname, tuple(seen), kind_id))
        return tuple(out)

    def spawns(
        self,
        value: object,
        archetypes: Mapping[str, ArchetypeDef],
        fields: Mapping[str, Mapping[str, str]],
        world: WorldDef,
    ) -> tuple[SpawnDef, ...]:
        """``[[spawns]]``: archetypes that can be placed, counts the core can allocate."""
        items = self.array(value, "spawns", "an array of tables ([[spawns]])")
        vel = fields["velocity"]
        max_speed_subunits = min(INT32_MAX, *(SIGNED_INT_MAX[vel[a]] for a in ("x", "y")))
        max_speed = max_speed_subunits / world.subunits_per_unit
        out: list[SpawnDef] = []
        total = 0
        for i, st in enumerate(items):
            spath = f"spawns[{i}]"
            if not isinstance(st, Mapping):
                self.fail(spath, "a table ([[spawns]])", _describe(st))
            self.keys(st, spath, SPAWN_KEYS)
            arch_name = self.str_(st, spath, "archetype", "a string naming an archetype")
            arch = archetypes.get(arch_name)
            if arch is None:
                self.fail(
                    f"{spath}.archetype",
                    f"the name of an archetype: {', '.join(archetypes)}",
                    _describe(arch_name),
                )
            if "position" not in arch.components:
                self.fail(
                    f"{spath}.archetype",
                    "an archetype with component position (spawns are placed at random positions)",
                    f"{_describe(arch_name)} with components {', '.join(arch.components)}",
                )
            count = self.int_(st, spath, "count", 0, MAX_SPAWN_TOTAL, why="entities")
            speed = self.float_(
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
                self.fail(
                    f"{spath}.count",
                    f"at most {MAX_SPAWN_TOTAL} spawned entities in total",
                    f"{_describe(count)}, bringing the total to {total}",
                )
            out.append(SpawnDef(arch_name, count, speed))
        return tuple(out)

    def pipeline(self, value: object, archetypes: Sequence[ArchetypeDef]) -> tuple[SystemStep, ...]:
        """``[[pipeline]]``: registered systems in allowed phases, with satisfiable needs."""
        items = self.array(value, "pipeline", "an array of tables ([[pipeline]])")
        systems = registered_systems()
        present = {c for a in archetypes for c in a.components}
        steps: list[SystemStep] = []
        for i, st in enumerate(items):
            spath = f"pipeline[{i}]"
            if not isinstance(st, Mapping):
                self.fail(spath, "a table ([[pipeline]])", _describe(st))
            self.keys(st, spath, STEP_KEYS)
            sys_name = st.get("system", _MISSING)
            if not isinstance(sys_name, str) or sys_name not in systems:
                self.fail(
                    f"{spath}.system",
                    f"a registered system: {', '.join(sorted(systems))}",
                    _describe(sys_name),
                )
            spec = systems[sys_name]
            phase = self.choice(st, spath, "phase", PHASE_KEYS)
            if phase not in spec.phases:
                allowed = [p for p in PHASE_KEYS if p in spec.phases]
                self.fail(
                    f"{spath}.phase",
                    f"a phase system {sys_name!r} may run in: {', '.join(allowed)}",
                    _describe(phase),
                )
            missing = [c for c in spec.requires if c not in present]
            if missing:
                self.fail(
                    f"{spath}.system",
                    f"archetypes that together have every component {sys_name!r} requires "
                    f"({', '.join(spec.requires)})",
                    f"no archetype has component {', '.join(missing)} (impossible pipeline)",
                )
            params = self.params(
                self.table(st, spath, "params", required=False, expected="a table of parameters"),
                spath,
                spec,
            )
            after_key = f"{spath}.after"
            after = self.array(
                st.get("after", []), after_key, "an array of system names in the same phase"
            )
            for j, dep in enumerate(after):
                if not isinstance(dep, str):
                    self.fail(f"{after_key}[{j}]", "a system name (string)", _describe(dep))
            steps.append(
                SystemStep(cast(PhaseName, phase), sys_name, params, tuple(cast(list[str], after)))
            )
        return self.order(steps)

    def params(
        self, t: Mapping[Any, Any], spath: str, spec: SystemSpec
    ) -> tuple[tuple[str, Any], ...]:
        """A step's params checked against the spec, completed with defaults (spec order)."""
        ppath = f"{spath}.params"
        names = tuple(spec.params)
        for key in t:
            if key not in spec.params:
                expected = (
                    f"a parameter of {spec.name!r}: {', '.join(names)}"
                    if names
                    else f"no parameters ({spec.name!r} takes none)"
                )
                self.fail(_join(ppath, key), expected, _unknown(key, names))
        out: list[tuple[str, Any]] = []
        for pname, pspec in spec.params.items():
            value = t.get(pname, _MISSING)
            if value is _MISSING and pspec.default is not None:
                out.append((pname, pspec.default))
                continue
            out.append((pname, self.param(_join(ppath, pname), value, pspec, spec.name)))
        return tuple(out)

    def param(self, key: str, value: object, p: ParamSpec, system: str) -> Any:
        """One parameter value checked against its :class:`ParamSpec`."""
        why = p.doc or f"a parameter of {system!r}"
        if p.default is None:
            why += f"; required by {system!r}"
        if p.kind is float:
            return self.number(key, value, lo=p.minimum, hi=p.maximum, why=why)
        if p.kind is int:
            lo = f">= {_num(p.minimum)}" if p.minimum is not None else ""
            hi = f"<= {_num(p.maximum)}" if p.maximum is not None else ""
            bounds = " and ".join(b for b in (lo, hi) if b)
            expected = "an integer" + (f" {bounds}" if bounds else "") + f" ({why})"
            if (
                not _is_int(value)
                or (p.minimum is not None and cast(int, value) < p.minimum)
                or (p.maximum is not None and cast(int, value) > p.maximum)
            ):
                self.fail(key, expected, _describe(value))
            return value
        kind_name = {bool: "a boolean", str: "a string"}.get(p.kind, f"a {p.kind.__name__}")
        if not isinstance(value, p.kind) or (p.kind is not bool and isinstance(value, bool)):
            self.fail(key, f"{kind_name} ({why})", _describe(value))
        return value

    def order(self, steps: Sequence[SystemStep]) -> tuple[SystemStep, ...]:
        """Steps in run order: by phase, then a stable topological sort on ``after``.

        ``after = ["x"]`` means: after every step of system ``x`` in the same phase.
        Among the steps whose constraints are met, the earliest in the file runs first,
        so a pipeline without ``after`` keeps its file order inside each phase.
        """
        out: list[SystemStep] = []
        for phase in PHASE_KEYS:
            idxs = [i for i, s in enumerate(steps) if s.phase == phase]
            names = list(dict.fromkeys(steps[i].system for i in idxs))
            for i in idxs:
                for j, dep in enumerate(steps[i].after):
                    if dep not in names:
                        self.fail(
                            f"pipeline[{i}].after[{j}]",
                            f"the name of a system in phase {phase!r}: {', '.join(names)}",
                            _describe(dep),
                        )
            deps = {i: [k for k in idxs if steps[k].system in steps[i].after] for i in idxs}
            placed: list[int] = []
            while len(placed) < len(idxs):
                ready = [i for i in idxs if i not in placed and all(d in placed for d in deps[i])]
                if not ready:
                    self.fail_cycle(steps, deps, [i for i in idxs if i not in placed], phase)
                placed.append(ready[0])
            out.extend(steps[i] for i in placed)
        return tuple(out)

    def fail_cycle(
        self,
        steps: Sequence[SystemStep],
        deps: Mapping[int, Sequence[int]],
        remaining: Sequence[int],
        phase: str,
    ) -> NoReturn:
        """Name one cycle among ``remaining`` steps (each still waits for another one)."""
        seen: dict[int, int] = {}
        path: list[int] = []
        cur = remaining[0]
        while cur not in seen:
            seen[cur] = len(path)
            path.append(cur)
            cur = next(d for d in deps[cur] if d in remaining)
        cycle = path[seen[cur] :]
        start = cycle.index(min(cycle))
        cycle = cycle[start:] + cycle[:start]
        chain = " -> ".join(steps[i].system for i in (*cycle, cycle[0]))
        self.fail(
            f"pipeline[{cycle[0]}].after",
            f"'after' constraints without a cycle in phase {phase!r}",
            f"cyclic pipeline: {chain} (each runs after the next)",
        )

    def spatial(self, t: Mapping[Any, Any], world: WorldDef) -> SpatialDef:
        """``[spatial]``: a grid is bounded in cells because it allocates them all."""
        self.keys(t, "spatial", SPATIAL_KEYS)
        index = self.choice(t, "spatial", "index", INDEX_KINDS, default="grid")
        cell = self.float_(
            t, "spatial", "cell_size_units", lo=0.0, lo_open=True, default=50.0, why="world units"
        )
        if index == "grid":
            nx, ny = world.width_units / cell, world.height_units / cell
            cells = math.ceil(nx) * math.ceil(ny) if math.isfinite(nx * ny) else math.inf
            if cells > MAX_GRID_CELLS:
                self.fail(
                    "spatial.cell_size_units",
                    f"a cell size giving at most {MAX_GRID_CELLS} grid cells over the world",
                    f"{_describe(t.get('cell_size_units', cell))} ({cells} cells)",
                )
        leaf = self.int_(
            t,
            "spatial",
            "quadtree_leaf_capacity",
            1,
            MAX_LEAF_CAPACITY,
            default=16,
            why="entities per quadtree leaf before it splits",
        )
        return SpatialDef(cast(IndexKind, index), cell, leaf)

    def sync(
        self,
        t: Mapping[Any, Any],
        tick_rate: int,
        fields: Mapping[str, Mapping[str, str]],
        world: WorldDef,
    ) -> SyncDef:
        """``[sync]``: the snapshot rate divides the tick rate; state sync fits uint16."""
        self.keys(t, "sync", SYNC_KEYS)
        mode = self.choice(t, "sync", "mode", SYNC_MODES)
        value = t.get("snapshot_rate_hz", _MISSING)
        rate = value if isinstance(value, int) and not isinstance(value, bool) else 0
        if not 1 <= rate <= tick_rate or tick_rate % rate:
            divisors = [d for d in range(1, tick_rate + 1) if tick_rate % d == 0]
            self.fail(
                "sync.snapshot_rate_hz",
                f"an integer in 1..{tick_rate} that divides game.tick_rate_hz ({tick_rate}) "
                f"evenly, one of {', '.join(map(str, divisors))} (a snapshot is sent every "
                "tick_rate_hz / snapshot_rate_hz ticks)",
                _describe(value),
            )
        radius = self.float_(
            t, "sync", "interest_radius_units", lo=0.0, lo_open=True, why="world units"
        )
        qt = self.table(
            t, "sync", "quantize", required=False, expected='a table of "component.field" = step'
        )
        declared = [f"{c}.{f}" for c, fs in fields.items() for f in fs]
        quantize: dict[str, float] = {}
        for key, step in qt.items():
            qkey = _join("sync.quantize", key)
            if not isinstance(key, str) or key not in declared:
                got = _unknown(key, declared)
                if isinstance(step, Mapping) and key in fields:
                    # ``position.x = 0.1`` unquoted is a nested table in TOML.
                    got = f"a table {json.dumps(key)} (unquoted dotted key; quote it)"
                self.fail(
                    qkey,
                    f'a quoted "component.field" key naming a declared field: '
                    f"{', '.join(declared)}",
                    got,
                )
            comp, fname = key.split(".")
            if fields[comp][fname] == "bool":
                self.fail(qkey, "a numeric field (a bool field needs no quantizing)", "bool")
            quantize[key] = self.number(
                qkey, step, lo=0.0, lo_open=True, why="world units per step"
            )
        if mode == "state":
            self.check_state_quantize(quantize, world)
        return SyncDef(cast(SyncMode, mode), rate, radius, tuple(quantize.items()))

    def check_state_quantize(self, quantize: Mapping[str, float], world: WorldDef) -> None:
        """State sync sends positions as uint16 steps: both axes need a step that fits."""
        for axis, name, extent in (
            ("x", "width_units", world.width_units),
            ("y", "height_units", world.height_units),
        ):
            key = f"position.{axis}"
            qkey = _join("sync.quantize", key)
            expected = (
                f"a step >= {_min_step(extent)} world units: for state sync "
                f"world.{name} ({_num(extent)}) / step must fit in uint16 "
                f"(<= {MAX_QUANTIZED} steps)"
            )
            step = quantize.get(key)
            if step is None:
                self.fail(qkey, expected, _MISSING_TEXT)
            if extent / step > MAX_QUANTIZED:
                self.fail(qkey, expected, f"{_describe(step)} ({extent / step:.0f} steps)")

    def lockstep(self, t: Mapping[Any, Any], tick_rate: int) -> LockstepDef:
        """``[lockstep]``: every key optional, defaults as in :class:`LockstepDef`."""
        self.keys(t, "lockstep", LOCKSTEP_KEYS)
        delay = self.int_(
            t,
            "lockstep",
            "input_delay_ticks",
            0,
            tick_rate,
            default=2,
            why="at most one second of delay, game.tick_rate_hz ticks",
        )
        checksum = self.int_(
            t, "lockstep", "checksum_interval_ticks", 1, MAX_LOCKSTEP_TICKS, default=10
        )
        queue = self.int_(t, "lockstep", "max_send_queue_frames", 1, MAX_LOCKSTEP_TICKS, default=64)
        default_input = self.choice(
            t,
            "lockstep",
            "default_input",
            DEFAULT_INPUTS,
            default="repeat",
            why="what a player who sent nothing in time does",
        )
        return LockstepDef(delay, checksum, queue, cast(DefaultInput, default_input))

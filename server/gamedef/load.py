"""Load a game definition: TOML in, a validated frozen :class:`GameDefinition` out.

Contract: :func:`load_definition` and :func:`parse_definition` either return a
definition every layer can run without further checks, or raise exactly one
:class:`~server.errors.DefinitionError` for the *first* problem found (sections in the
order ``game, world, components, archetypes, spawns, pipeline, spatial, sync,
lockstep, events, rules, render, lag_compensation``; entries in file order). Nothing is
half-configured: parsing builds fresh frozen objects and has no side effects.

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

Layout: this module holds the public API and the order of sections; each section is
parsed in its own module (:mod:`~server.gamedef.game`, :mod:`~server.gamedef.world`,
:mod:`~server.gamedef.pipeline`, :mod:`~server.gamedef.sync`, ...), and all of them
report through one error helper, :class:`~server.gamedef.check.Checker`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from typing import Any

from server.errors import DefinitionError
from server.gamedef.check import MISSING, Checker, choices, describe
from server.gamedef.events import (
    BAR_KEYS,
    EVENT_KEYS,
    RENDER_KEYS,
    RENDER_KIND_KEYS,
    RULES_KEYS,
    events,
    render,
    rules,
)
from server.gamedef.game import parse_game
from server.gamedef.inputs import INPUT_FIELD_KEYS, inputs
from server.gamedef.latency import LAG_COMPENSATION_KEYS, latency
from server.gamedef.limits import (
    ARCHETYPE_KEYS,
    GAME_KEYS,
    LOCKSTEP_KEYS,
    MAX_ARCHETYPES,
    MAX_COMPONENTS,
    MAX_SPAWN_TOTAL,
    MAX_TICK_RATE_HZ,
    SPATIAL_KEYS,
    SPAWN_KEYS,
    STEP_KEYS,
    SYNC_KEYS,
    SYNC_MODES,
    TOP_KEYS,
    WORLD_KEYS,
)
from server.gamedef.pipeline import pipeline
from server.gamedef.schema import GameDefinition, SyncMode
from server.gamedef.sync import REPLICATE_KEYS, check_state_quantize, lockstep, sync
from server.gamedef.world import archetypes, components, spatial, spawns, world

__all__ = [
    "ARCHETYPE_KEYS",
    "BAR_KEYS",
    "EVENT_KEYS",
    "GAME_KEYS",
    "INPUT_FIELD_KEYS",
    "LAG_COMPENSATION_KEYS",
    "LOCKSTEP_KEYS",
    "MAX_ARCHETYPES",
    "MAX_COMPONENTS",
    "MAX_SPAWN_TOTAL",
    "MAX_TICK_RATE_HZ",
    "RENDER_KEYS",
    "RENDER_KIND_KEYS",
    "REPLICATE_KEYS",
    "RULES_KEYS",
    "SPATIAL_KEYS",
    "SPAWN_KEYS",
    "STEP_KEYS",
    "SYNC_KEYS",
    "TOP_KEYS",
    "WORLD_KEYS",
    "load_definition",
    "override_sync_mode",
    "parse_definition",
]


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
    return _definition(Checker(source), data)


def override_sync_mode(defn: GameDefinition, mode: str) -> GameDefinition:
    """``defn`` with ``sync.mode`` replaced (the CLI's ``--sync``), re-validated for ``mode``.

    Switching to ``state`` needs the ``position.x``/``position.y`` quantize steps the
    loader requires of state-sync files, so a lockstep file without them is refused
    here with the same kind of error the loader would give.
    """
    c = Checker(defn.source)
    if mode == "state":
        check_state_quantize(c, dict(defn.sync.quantize), defn.world)
        new_mode: SyncMode = "state"
    elif mode == "lockstep":
        new_mode = "lockstep"
    else:
        c.fail("sync.mode", f"one of {choices(SYNC_MODES)} (from --sync)", describe(mode))
    return dataclasses.replace(defn, sync=dataclasses.replace(defn.sync, mode=new_mode))


def _definition(c: Checker, data: Mapping[str, Any]) -> GameDefinition:
    """The whole document, section by section; cross-references resolved as they come."""
    if not isinstance(data, Mapping):
        c.fail("<root>", "a TOML document (a table)", describe(data))
    c.keys(data, "", TOP_KEYS)
    game = parse_game(c, data)
    wdef = world(c, c.table(data, "", "world"))
    comps = components(c, c.table(data, "", "components"), wdef)
    fields = {comp.name: dict(comp.fields) for comp in comps}
    archs = archetypes(c, c.table(data, "", "archetypes"), fields)
    by_name = {a.name: a for a in archs}
    player = by_name.get(game.player_archetype)
    if player is None:
        c.fail(
            "game.player_archetype",
            f"the name of an archetype: {', '.join(by_name)}",
            describe(game.player_archetype),
        )
    if "position" not in player.components:
        c.fail(
            "game.player_archetype",
            "an archetype with component position (players join at a random position)",
            f"{describe(game.player_archetype)} with components {', '.join(player.components)}",
        )
    input_defs, inputs_declared = inputs(c, data, fields, player)
    spawn_defs = spawns(c, data.get("spawns", []), by_name, fields, wdef)
    steps = pipeline(c, data.get("pipeline", MISSING), archs)
    spatial_def = spatial(c, c.table(data, "", "spatial", required=False), wdef)
    sync_table = c.table(data, "", "sync")
    sync_def = sync(c, sync_table, game.tick_rate_hz, fields, wdef, [a.name for a in archs])
    lock = lockstep(c, c.table(data, "", "lockstep", required=False), game.tick_rate_hz)
    event_defs = events(c, c.table(data, "", "events", required=False))
    rules_def = rules(c, c.table(data, "", "rules", required=False), fields, player)
    render_def = render(c, c.table(data, "", "render", required=False), archs, sync_def.replicate)
    latency_def = latency(c, data, sync_table, fields, archs)
    return GameDefinition(
        source=c.source,
        name=game.name,
        tick_rate_hz=game.tick_rate_hz,
        max_players=game.max_players,
        seed=game.seed,
        world=wdef,
        components=comps,
        archetypes=archs,
        player_archetype=game.player_archetype,
        spawns=spawn_defs,
        pipeline=steps,
        spatial=spatial_def,
        sync=sync_def,
        lockstep=lock,
        inputs=input_defs,
        inputs_declared=inputs_declared,
        events=event_defs,
        rules=rules_def,
        render=render_def,
        plugins=game.plugins,
        bot=game.bot,
        latency=latency_def,
    )

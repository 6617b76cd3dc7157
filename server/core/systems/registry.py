"""Systems register here by name; game definitions choose which run, where and how.

A system is a plain function over whole arrays::

    def move(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None

It must not loop over entities in Python, must not spawn or despawn directly (use
``ctx.commands``), and must be deterministic given the world, the tick and
``ctx.rng`` (lockstep replicas rely on it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from server.core.phases import PHASE_KEYS

if TYPE_CHECKING:
    from server.core.commands import CommandBuffer
    from server.core.spatial import SpatialIndex
    from server.core.world import World
    from server.gamedef.schema import GameDefinition


@dataclass(slots=True)
class TickContext:
    """What a system may read besides the world, for one tick."""

    tick: int
    tick_rate_hz: int
    definition: GameDefinition
    commands: CommandBuffer
    rng: np.random.Generator
    index: SpatialIndex | None = None
    """Rebuilt after the validate phase; None before the first rebuild."""
    stats: dict[str, float] = field(default_factory=dict)
    """Numbers systems want to report (e.g. ``contacts``); the ops layer exports them."""


SystemFn = Callable[["World", TickContext, Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """A parameter a system accepts: its type, default (None: required) and bounds."""

    kind: type
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""


@dataclass(frozen=True, slots=True)
class SystemSpec:
    """A registered system: function, required components, parameters, allowed phases."""

    name: str
    fn: SystemFn
    requires: tuple[str, ...]
    params: Mapping[str, ParamSpec]
    phases: frozenset[str]
    doc: str


SYSTEMS: dict[str, SystemSpec] = {}


def system(
    name: str,
    *,
    requires: tuple[str, ...] = (),
    params: Mapping[str, ParamSpec] | None = None,
    phases: tuple[str, ...] = PHASE_KEYS,
) -> Callable[[SystemFn], SystemFn]:
    """Register ``fn`` as system ``name`` (a decorator). Names are unique."""

    def register(fn: SystemFn) -> SystemFn:
        if name in SYSTEMS:
            raise ValueError(f"system {name!r} registered twice")
        SYSTEMS[name] = SystemSpec(
            name=name,
            fn=fn,
            requires=requires,
            params=dict(params or {}),
            phases=frozenset(phases),
            doc=(fn.__doc__ or "").strip().split("\n")[0],
        )
        return fn

    return register


def get_system(name: str) -> SystemSpec:
    """The registered system ``name``; KeyError lists the known names."""
    _load_builtin_systems()
    try:
        return SYSTEMS[name]
    except KeyError:
        raise KeyError(f"unknown system {name!r}; known: {', '.join(sorted(SYSTEMS))}") from None


def registered_systems() -> Mapping[str, SystemSpec]:
    """Every registered system by name (built-ins loaded on first call)."""
    _load_builtin_systems()
    return SYSTEMS


def _load_builtin_systems() -> None:
    # Importing the modules runs their @system decorators.
    from server.core.systems import arena, diagnostics  # noqa: F401

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
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from server.core.phases import PHASE_KEYS

if TYPE_CHECKING:
    from server.core.commands import CommandBuffer
    from server.core.determinism import MatchRng
    from server.core.frame import ViewBatch
    from server.core.history import History, Rewound
    from server.core.spatial import SpatialIndex
    from server.core.world import World
    from server.gamedef.schema import GameDefinition


EventFields = dict[str, NDArray[Any]]
"""One batch of events: field name -> 1-D array, every array the same length (n events)."""

EndKind = Literal["round", "match"]


@dataclass(frozen=True, slots=True)
class Ending:
    """A system's request to end the current round or the whole match (see ``TickContext.end``)."""

    kind: EndKind
    reason: str
    """Short machine-friendly reason, e.g. ``"time"``, ``"score_limit"``, ``"rounds"``."""
    winner: int | None = None
    """Net id of the winning player's entity, or None (a draw, or no single winner)."""


@dataclass(slots=True)
class TickContext:
    """What a system may read besides the world, for one tick, and what it reports back.

    Reports: ``stats`` (numbers for metrics), ``events`` (one-shot records, see
    :meth:`emit`) and ``ending`` (see :meth:`end`). The frame processor copies all
    three into :class:`~server.core.frame.FrameResult`.
    """

    tick: int
    tick_rate_hz: int
    definition: GameDefinition
    commands: CommandBuffer
    rng: MatchRng
    """The match's generator (SplitMix64; draws specified in docs/lockstep.md)."""
    index: SpatialIndex | None = None
    """Rebuilt after the validate phase; None before the first rebuild."""
    stats: dict[str, float] = field(default_factory=dict)
    """Numbers systems want to report (e.g. ``contacts``); the ops layer exports them."""
    events: list[tuple[str, EventFields]] = field(default_factory=list)
    """Event batches emitted this tick, ``(name, fields)``, in emission order."""
    ending: Ending | None = None
    """Set by :meth:`end`: the round or the match ends after this tick."""
    history: History | None = None
    """Lag compensation's position ring (None: the game has no ``[lag_compensation]``)."""
    views: ViewBatch | None = None
    """Per player entity: what it was rendering when its input in effect was sent."""

    def view_of(
        self, world: World, slots: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]:
        """``(view ticks, alphas, has a view)`` of the entities at ``slots``.

        An entity without a view (no lag compensation, a bot's input without one, or a
        client that sent none) gets the last simulated tick (``tick - 1``), alpha 0: the
        state it was last sent, as if it had no latency.
        """
        n = len(slots)
        ticks = np.full(n, self.tick - 1, dtype=np.int64)
        alpha = np.zeros(n, dtype=np.float64)
        has = np.zeros(n, dtype=bool)
        views = self.views
        if views is None or len(views.entities) == 0 or n == 0:
            return ticks, alpha, has
        order = np.argsort(views.entities, kind="stable")
        keys = views.entities[order]
        eids = world.col("entity")[slots].astype(np.int64)
        pos = np.minimum(np.searchsorted(keys, eids), len(keys) - 1)
        has = keys[pos] == eids
        ticks[has] = views.ticks[order][pos[has]]
        alpha[has] = views.alpha[order][pos[has]]
        return ticks, alpha, has

    def rewind(self, view_tick: Any, view_alpha: Any) -> Rewound:
        """Interpolated past positions of the recorded entities for each view (arrays or
        scalars), for the caller's own hit test: the world is not rolled back.

        Bounded by the history (:meth:`server.core.history.History.rewind`): a view later
        than the last tick or older than ``[lag_compensation] ms`` is clamped; the
        counts go to ``stats`` (``rewinds``, ``rewinds_clamped``). ValueError if the
        game has no ``[lag_compensation]``.
        """
        if self.history is None:
            raise ValueError("ctx.rewind needs a [lag_compensation] section in the definition")
        out = self.history.rewind(self.tick, view_tick, view_alpha)
        self.stats["rewinds"] = self.stats.get("rewinds", 0) + len(out.ticks)
        clamped = int(out.clamped.sum())
        if clamped:
            self.stats["rewinds_clamped"] = self.stats.get("rewinds_clamped", 0) + clamped
        return out

    def emit(self, name: str, **fields: NDArray[Any] | int | float | bool) -> None:
        """Record one batch of ``n`` events of type ``name`` (no Python loop per event).

        Each field is a scalar or a 1-D array; every array has the same length ``n`` and
        scalars are broadcast to it (all scalars: ``n == 1``). A batch with ``n == 0`` is
        dropped, so a system may emit unconditionally. Entity references are net ids
        (int64 arrays). The arrays are copied: later writes to the world do not change
        an event. ValueError for arrays of different lengths or of more than one
        dimension.
        """
        arrays: dict[str, NDArray[Any]] = {}
        n: int | None = None
        for key, value in fields.items():
            arr = np.asarray(value)
            if arr.ndim > 1:
                raise ValueError(f"event {name!r} field {key!r}: expected 1-D, got {arr.ndim}-D")
            if arr.ndim == 1:
                if n is not None and len(arr) != n:
                    raise ValueError(
                        f"event {name!r} field {key!r}: {len(arr)} values, expected {n}"
                    )
                n = len(arr)
            arrays[key] = arr
        count = 1 if n is None else n
        if count == 0:
            return
        batch: EventFields = {
            key: np.full(count, arr) if arr.ndim == 0 else arr.copy() for key, arr in arrays.items()
        }
        self.events.append((name, batch))

    def end(self, kind: EndKind, reason: str, winner: int | None = None) -> None:
        """End the round (``kind="round"``) or the match (``"match"``) after this tick.

        Recorded as :attr:`ending`. Within one tick the first request of a kind wins and
        a match ending overrides a round ending (the match ends either way). ValueError
        for another ``kind``.
        """
        if kind not in ("round", "match"):
            raise ValueError(f"ending kind must be 'round' or 'match', got {kind!r}")
        current = self.ending
        if current is None or (current.kind == "round" and kind == "match"):
            self.ending = Ending(kind, reason, None if winner is None else int(winner))


SystemFn = Callable[["World", TickContext, Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """A parameter a system accepts: its type, default (None: required) and bounds."""

    kind: type
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""
    choices: tuple[str, ...] = ()
    """For a ``str`` parameter: the values allowed (empty: any string)."""


@dataclass(frozen=True, slots=True)
class SystemSpec:
    """A registered system: function, required components, parameters, allowed phases."""

    name: str
    fn: SystemFn
    requires: tuple[str, ...]
    params: Mapping[str, ParamSpec]
    phases: frozenset[str]
    doc: str
    batch_writes: tuple[str, ...] | None = None
    """The columns the system writes, if it can run once over a stack of matches.

    None: it cannot (the default). A batchable system reads only the columns of the
    components it ``requires`` (and masks),
    ``ctx.definition``, ``ctx.tick_rate_hz`` and ``ctx.index.candidate_pairs``, computes
    each row from its own row and from pairs the index returns, and reports only
    ``ctx.stats``: no ``ctx.tick``, ``ctx.rng``, ``ctx.commands``, ``emit``, ``end`` or
    index queries by position (see :mod:`server.core.batch`).
    """


SYSTEMS: dict[str, SystemSpec] = {}


class DuplicateSystem(ValueError):
    """A second ``@system`` with a name already registered (a plug-in clashing with a built-in)."""


def system(
    name: str,
    *,
    requires: tuple[str, ...] = (),
    params: Mapping[str, ParamSpec] | None = None,
    phases: tuple[str, ...] = PHASE_KEYS,
    batch_writes: tuple[str, ...] | None = None,
) -> Callable[[SystemFn], SystemFn]:
    """Register ``fn`` as system ``name`` (a decorator). Names are unique.

    ``batch_writes``: see :attr:`SystemSpec.batch_writes`.
    """

    def register(fn: SystemFn) -> SystemFn:
        if name in SYSTEMS:
            raise DuplicateSystem(f"system {name!r} registered twice")
        SYSTEMS[name] = SystemSpec(
            name=name,
            fn=fn,
            requires=requires,
            params=dict(params or {}),
            phases=frozenset(phases),
            doc=(fn.__doc__ or "").strip().split("\n")[0],
            batch_writes=batch_writes,
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
    from server.core.systems.library import (  # noqa: F401
        combat,
        lifetime,
        scoring,
        tag,
        units,
        zones,
    )

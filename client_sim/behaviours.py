"""Bot behaviours: data files choose them, plain vectorized functions implement them.

A behaviour is a function registered by name with :func:`behaviour`. Once per tick the
swarm calls it with a :class:`Crowd` (every bot of the process at once) and it writes
each bot's stick and how many inputs each bot sends this tick -- whole-array operations,
so a thousand bots cost one call, not a thousand.

``data/bots/<name>.toml`` picks the function and its parameters::

    [behaviour]
    name = "wander"          # what reports call it
    system = "wander"        # a function registered below
    [params]
    turns_per_s = 0.5

To add a behaviour: write ``def mine(crowd, params): ...`` here (or in your own module
imported before the swarm starts), decorate it with ``@behaviour("mine")``, and add a
``data/bots/mine.toml`` that names it. A parameter whose default is a string (a field
or kind name such as ``"tag.it"``) takes a string in the file; any other takes a number.

Games: ``crowd.view`` answers questions about each bot's mirror (nearest player whose
``tag.it`` is 1, own field values; :class:`WorldView`), ``crowd.inputs`` holds one
array per declared input field besides the first two sticks (which are ``stick``), and
``crowd.schema`` is the game's schema from ``WELCOME``. The game behaviours
(``chase_tag``, ``shooter_aim``, ``rts_zone``) live in :mod:`client_sim.game_behaviours`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from client_sim.schema import GameSchema
from server.gamedef.schema import GameDefinition

BOTS_DIR = Path(__file__).resolve().parent.parent / "data" / "bots"


class BehaviourError(ValueError):
    """A behaviour file is unreadable or names something that does not exist."""


class WorldView(Protocol):
    """Questions a game behaviour asks of the bots' mirrors (see client_sim.view)."""

    def own_position(self, which: NDArray[np.intp]) -> NDArray[np.float64]:
        """(len(which), 2) world units; NaN when unknown."""
        ...

    def own_value(self, which: NDArray[np.intp], field: str) -> NDArray[np.float64]:
        """(len(which),) the bot's own entity's replicated ``field``; NaN when unknown."""
        ...

    def nearest(
        self,
        which: NDArray[np.intp],
        kind: str = "",
        field: str = "",
        equals: float | None = None,
    ) -> NDArray[np.float64]:
        """(len(which), 2) world-unit vector to the nearest matching other entity."""
        ...


@dataclass(slots=True)
class Crowd:
    """What a behaviour reads and writes for all ``n`` bots of one process.

    ``stick`` (n, 2) is each bot's stick in [-1, 1]; ``sends`` (n,) how many inputs each
    bot sends this tick (0: none, 1: the normal case, more: a flood). ``heading``
    (radians) and ``timer`` (ticks) are scratch space that persists between calls.
    ``nearest(bots)`` gives, for the bot indices asked, the vector in world units from
    the bot's own entity to the nearest other entity it holds (NaN when unknown).
    """

    n: int
    tick_rate_hz: float
    rng: np.random.Generator
    nearest: Callable[[NDArray[np.intp]], NDArray[np.float64]]
    stick: NDArray[np.float64] = field(init=False)
    sends: NDArray[np.int64] = field(init=False)
    heading: NDArray[np.float64] = field(init=False)
    timer: NDArray[np.int64] = field(init=False)
    tick: int = 0
    view: WorldView | None = None
    world: tuple[float, float] = (0.0, 0.0)
    """Width and height of the world in units (from ``WELCOME``; 0 until known)."""
    schema: GameSchema | None = None
    inputs: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    """Declared input field -> (n,) wire values (angle radians, buttons and ints as
    whole numbers); the first two stick fields come from ``stick`` instead."""
    definition: GameDefinition | None = None
    """The game's definition when the swarm has it (``--game`` or a shipped game)."""
    memory: dict[str, NDArray[Any]] = field(default_factory=dict)
    """Scratch arrays a behaviour keeps between ticks, by name."""

    def __post_init__(self) -> None:
        self.stick = np.zeros((self.n, 2))
        self.sends = np.zeros(self.n, np.int64)
        self.heading = self.rng.uniform(0.0, 2.0 * np.pi, self.n)
        self.timer = self.rng.integers(0, 1 << 16, self.n)

    def adopt(self, schema: GameSchema, world: tuple[float, float]) -> None:
        """Take a game's schema: one zeroed ``inputs`` array per declared input field."""
        self.schema = schema
        self.world = world
        self.inputs = {f.name: np.zeros(self.n) for f in schema.inputs}

    def button(self, name: str) -> int:
        """The bit mask of button ``name`` in the game's buttons field (0 if undeclared)."""
        if self.schema is None:
            return 0
        return next((f.bit(name) for f in self.schema.inputs if f.kind == "buttons"), 0)


Params = Mapping[str, Any]
"""A behaviour's parameters: numbers (floats) and, where the default is one, strings."""
BehaviourFn = Callable[[Crowd, Params], None]
_REGISTRY: dict[str, tuple[BehaviourFn, dict[str, float | str]]] = {}


def behaviour(name: str, **defaults: float | str) -> Callable[[BehaviourFn], BehaviourFn]:
    """Register ``fn`` under ``name`` with its parameters' defaults (unknown ones are errors)."""

    def register(fn: BehaviourFn) -> BehaviourFn:
        _REGISTRY[name] = (fn, dict(defaults))
        return fn

    return register


@dataclass(frozen=True, slots=True)
class Behaviour:
    """A loaded behaviour: the function and its full parameter set."""

    name: str
    system: str
    fn: BehaviourFn
    params: Params

    def __call__(self, crowd: Crowd) -> None:
        """Run once per tick."""
        self.fn(crowd, self.params)


def registered() -> list[str]:
    """Names of every registered behaviour function."""
    return sorted(_REGISTRY)


def load_behaviour(name_or_path: str) -> Behaviour:
    """Load ``data/bots/<name>.toml`` (or a path to a TOML file).

    Raises :class:`BehaviourError` naming the file and key for a missing file, bad
    TOML, an unknown key or parameter, a non-numeric parameter or an unknown function.
    """
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = BOTS_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        shipped = sorted(p.stem for p in BOTS_DIR.glob("*.toml"))
        raise BehaviourError(f"{path}: no such behaviour file (shipped: {', '.join(shipped)})")
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BehaviourError(f"{path}: not valid TOML: {exc}") from exc
    unknown = set(doc) - {"behaviour", "params"}
    if unknown:
        raise BehaviourError(f"{path}: unknown table(s) {sorted(unknown)}")
    head: dict[str, Any] = doc.get("behaviour", {})
    extra = set(head) - {"name", "system", "description"}
    if extra:
        raise BehaviourError(f"{path}: [behaviour] has unknown key(s) {sorted(extra)}")
    system = head.get("system")
    if not isinstance(system, str):
        raise BehaviourError(f"{path}: [behaviour].system: expected a string, found {system!r}")
    if system not in _REGISTRY:
        raise BehaviourError(
            f"{path}: [behaviour].system: expected one of {registered()}, found {system!r}"
        )
    fn, defaults = _REGISTRY[system]
    params = dict(defaults)
    for key, value in doc.get("params", {}).items():
        if key not in defaults:
            raise BehaviourError(
                f"{path}: [params].{key}: unknown parameter of {system!r} "
                f"(expected one of {sorted(defaults)})"
            )
        if isinstance(defaults[key], str):
            if not isinstance(value, str):
                raise BehaviourError(f"{path}: [params].{key}: expected a string, found {value!r}")
            params[key] = value
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BehaviourError(f"{path}: [params].{key}: expected a number, found {value!r}")
        params[key] = float(value)
    return Behaviour(str(head.get("name", path.stem)), system, fn, params)


# -- the shipped behaviours ------------------------------------------------------------


@behaviour("idle")
def idle(crowd: Crowd, params: Params) -> None:
    """Stand still and send no inputs (pings and acks still go out)."""
    crowd.stick[:] = 0.0
    crowd.sends[:] = 0


def turn_randomly(crowd: Crowd, turns_per_s: float) -> None:
    """Pick a new random heading for a Poisson share of the bots."""
    p = min(1.0, turns_per_s / crowd.tick_rate_hz)
    turning = crowd.rng.random(crowd.n) < p
    k = int(np.count_nonzero(turning))
    if k:
        crowd.heading[turning] = crowd.rng.uniform(0.0, 2.0 * np.pi, k)


@behaviour("wander", turns_per_s=0.5, speed=1.0)
def wander(crowd: Crowd, params: Params) -> None:
    """Walk straight, turning to a random heading ``turns_per_s`` times a second."""
    turn_randomly(crowd, params["turns_per_s"])
    speed = params["speed"]
    crowd.stick[:, 0] = np.cos(crowd.heading) * speed
    crowd.stick[:, 1] = np.sin(crowd.heading) * speed
    crowd.sends[:] = 1


@behaviour("chase", retarget_every_ticks=5.0, speed=1.0, turns_per_s=0.5)
def chase(crowd: Crowd, params: Params) -> None:
    """Steer toward the nearest held entity; wander while that is unknown."""
    every = max(1, int(params["retarget_every_ticks"]))
    due = np.flatnonzero((crowd.timer + crowd.tick) % every == 0)
    if len(due):
        vec = crowd.nearest(due)
        ok = ~np.isnan(vec[:, 0])
        crowd.heading[due[ok]] = np.arctan2(vec[ok, 1], vec[ok, 0])
        lost = due[~ok]
        if len(lost):
            p = min(1.0, params["turns_per_s"] / crowd.tick_rate_hz * every)
            turning = lost[crowd.rng.random(len(lost)) < p]
            crowd.heading[turning] = crowd.rng.uniform(0.0, 2.0 * np.pi, len(turning))
    speed = params["speed"]
    crowd.stick[:, 0] = np.cos(crowd.heading) * speed
    crowd.stick[:, 1] = np.sin(crowd.heading) * speed
    crowd.sends[:] = 1


@behaviour("flood", messages_per_tick=20.0)
def flood(crowd: Crowd, params: Params) -> None:
    """Send ``messages_per_tick`` inputs every tick (to exercise the rate limiter)."""
    crowd.stick[:, 0] = crowd.rng.uniform(-1.0, 1.0, crowd.n)
    crowd.stick[:, 1] = crowd.rng.uniform(-1.0, 1.0, crowd.n)
    crowd.sends[:] = max(1, int(params["messages_per_tick"]))


# The game behaviours register themselves on import (they use the names above).
from client_sim import game_behaviours as _game_behaviours  # noqa: E402

del _game_behaviours

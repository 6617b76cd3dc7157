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
``data/bots/mine.toml`` that names it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

BOTS_DIR = Path(__file__).resolve().parent.parent / "data" / "bots"


class BehaviourError(ValueError):
    """A behaviour file is unreadable or names something that does not exist."""


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

    def __post_init__(self) -> None:
        self.stick = np.zeros((self.n, 2))
        self.sends = np.zeros(self.n, np.int64)
        self.heading = self.rng.uniform(0.0, 2.0 * np.pi, self.n)
        self.timer = self.rng.integers(0, 1 << 16, self.n)


BehaviourFn = Callable[[Crowd, Mapping[str, float]], None]
_REGISTRY: dict[str, tuple[BehaviourFn, dict[str, float]]] = {}


def behaviour(name: str, **defaults: float) -> Callable[[BehaviourFn], BehaviourFn]:
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
    params: Mapping[str, float]

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
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BehaviourError(f"{path}: [params].{key}: expected a number, found {value!r}")
        params[key] = float(value)
    return Behaviour(str(head.get("name", path.stem)), system, fn, params)


# -- the shipped behaviours ------------------------------------------------------------


@behaviour("idle")
def idle(crowd: Crowd, params: Mapping[str, float]) -> None:
    """Stand still and send no inputs (pings and acks still go out)."""
    crowd.stick[:] = 0.0
    crowd.sends[:] = 0


def _turn(crowd: Crowd, turns_per_s: float) -> None:
    """Pick a new random heading for a Poisson share of the bots."""
    p = min(1.0, turns_per_s / crowd.tick_rate_hz)
    turning = crowd.rng.random(crowd.n) < p
    k = int(np.count_nonzero(turning))
    if k:
        crowd.heading[turning] = crowd.rng.uniform(0.0, 2.0 * np.pi, k)


@behaviour("wander", turns_per_s=0.5, speed=1.0)
def wander(crowd: Crowd, params: Mapping[str, float]) -> None:
    """Walk straight, turning to a random heading ``turns_per_s`` times a second."""
    _turn(crowd, params["turns_per_s"])
    speed = params["speed"]
    crowd.stick[:, 0] = np.cos(crowd.heading) * speed
    crowd.stick[:, 1] = np.sin(crowd.heading) * speed
    crowd.sends[:] = 1


@behaviour("chase", retarget_every_ticks=5.0, speed=1.0, turns_per_s=0.5)
def chase(crowd: Crowd, params: Mapping[str, float]) -> None:
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
def flood(crowd: Crowd, params: Mapping[str, float]) -> None:
    """Send ``messages_per_tick`` inputs every tick (to exercise the rate limiter)."""
    crowd.stick[:, 0] = crowd.rng.uniform(-1.0, 1.0, crowd.n)
    crowd.stick[:, 1] = crowd.rng.uniform(-1.0, 1.0, crowd.n)
    crowd.sends[:] = max(1, int(params["messages_per_tick"]))

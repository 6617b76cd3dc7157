"""The case registry: what a case is, what it may use, and the ``@case`` decorator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from client_sim.hostile.honest import HonestPool
from client_sim.hostile.wire import MetricsProbe


@dataclass(slots=True)
class Observation:
    """What one case expected and what it saw; the runner adds the honest bots' view."""

    case: str
    expected: str
    observed: str
    passed: bool
    honest_rate: float | None = None
    """Frames per second over the case, the minimum over honest bots."""
    honest_errors: list[str] = field(default_factory=list)
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Limits:
    """What the harness assumes about the server under test (its defaults unless told)."""

    idle_timeout_s: float = 15.0
    hello_timeout_s: float = 5.0
    open_timeout_s: float = 5.0
    reconnect_grace_s: float = 15.0
    max_message_bytes: int = 4096
    max_connections: int | None = None
    """If known: the storm then also checks that the excess got 503."""
    storm: int = 300
    """Simultaneous handshakes in the connection storm."""
    join_leave_rounds: int = 30
    never_read_s: float = 3.0
    """How long the state-sync non-reader keeps not reading."""
    lag_deadline_s: float = 120.0
    """How long the lockstep non-reader waits for TOO_FAR_BEHIND."""
    slack_s: float = 1.5
    """Allowed lateness on every timeout (the sweeper runs at most once a second)."""
    seat_reservation_s: float = 15.0
    """How long an unused seat reservation lives (the expired-reservation case waits it)."""
    ticket_flood: int = 10_000
    """Matchmaker tickets the flood case sends from one address."""


@dataclass(slots=True)
class Context:
    """What a case may use: the honest pool's view of the server, limits and a probe."""

    pool: HonestPool
    welcome: dict[str, Any]
    limits: Limits
    probe: MetricsProbe

    @property
    def sync(self) -> str:
        """``state`` or ``lockstep``, from WELCOME."""
        return str(self.welcome["sync"])

    @property
    def tick_rate(self) -> int:
        """Simulation ticks per second, from WELCOME."""
        return int(self.welcome["tick_rate_hz"])


CaseFn = Callable[[str, Context], Awaitable[Observation]]


@dataclass(frozen=True, slots=True)
class Case:
    """One hostile case: its function, the documented answer, the modes it applies to."""

    name: str
    fn: CaseFn
    expected: str
    modes: frozenset[str] = frozenset({"state", "lockstep"})


CASES: dict[str, Case] = {}


def case(
    expected: str, modes: tuple[str, ...] = ("state", "lockstep")
) -> Callable[[CaseFn], CaseFn]:
    """Register a case under its function's name."""

    def register(fn: CaseFn) -> CaseFn:
        CASES[fn.__name__] = Case(fn.__name__, fn, expected, frozenset(modes))
        return fn

    return register


def obs(name: str, observed: str, passed: bool) -> Observation:
    """An observation for a registered case."""
    return Observation(name, CASES[name].expected, observed, passed)

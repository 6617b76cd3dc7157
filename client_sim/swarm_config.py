"""What a swarm runs (:class:`SwarmConfig`) and the shape of its progress samples.

Kept apart from :mod:`client_sim.swarm` so that the command line, the multi-process
launcher and the tests can build a configuration without the swarm's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from client_sim import joining

Progress = dict[str, Any]
"""One progress sample: see :meth:`Swarm.progress_sample` for the keys."""

MAX_SAMPLES_PER_BOT = 2000
"""Age and RTT samples kept per bot (a 20 Hz, 100 s run has 2000 frames)."""


@dataclass(frozen=True, slots=True)
class SwarmConfig:
    """What to run. Durations in seconds."""

    url: str
    bots: int
    duration_s: float = 20.0
    behaviour: str | None = "wander"
    """A behaviour file name or path; None plays the game's own (``WELCOME.bot``)."""
    ramp_up_s: float = 2.0
    warmup_s: float | None = None
    """Seconds after ramp-up before measuring; default ``min(2, duration/5)``."""
    window_s: float | None = None
    """Length of the measuring window; default: until the end of the run."""
    replicas: int = 3
    """Lockstep: this many bots run the deterministic replica and check checksums."""
    seed: int = 1
    first_index: int = 0
    """Index of this process's first bot (several processes share one numbering)."""
    open_timeout_s: float = 10.0
    connect_concurrency: int = 64
    rejoin: bool = False
    """Join again after the match ended (``MATCH_ENDED``), e.g. for the demo."""
    rematchmake: bool = False
    """When the bot's node goes away (connection dropped, ``SERVER_SHUTDOWN``,
    ``NODE_GONE``): try one resume at the same node, then matchmake again from scratch
    through ``url`` (docs/protocol.md, "Node loss"); with ``join.via_http`` or a queue."""
    until_ended: bool = False
    """Stop before ``duration_s`` once every bot's connection has ended."""
    join: joining.JoinPlan = field(default_factory=joining.JoinPlan)
    """How the bots choose their match (default: a bare HELLO)."""
    predict: bool = False
    """Bots number their inputs, predict and interpolate (client_sim.smooth)."""
    staleness: bool = False
    """Measure each bot's staleness against a truth spectator (client_sim.staleness)."""

    @property
    def warmup(self) -> float:
        """The warm-up actually used."""
        if self.warmup_s is not None:
            return self.warmup_s
        return min(2.0, self.duration_s / 5)

"""Systems for testing failure handling: a game definition can include them on purpose."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.core.systems.registry import ParamSpec, TickContext, system
from server.core.world import World


class InjectedFault(RuntimeError):
    """Raised by the ``fail_at_tick`` system."""


@system(
    "fail_at_tick",
    params={"tick": ParamSpec(int, None, 0, None, "the tick at which to raise")},
)
def fail_at_tick(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Raise :class:`InjectedFault` at the given tick: proves one failing match ends alone."""
    if ctx.tick == int(params["tick"]):
        raise InjectedFault(f"injected fault at tick {ctx.tick}")

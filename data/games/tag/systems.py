"""Tag's own system (a plug-in: ``[game] systems = ["games.tag.systems"]``).

The built-in library passes the "it" flag (``tag_transfer``), scores the others
(``score``) and runs the rounds (``round_timer``); what only tag needs is here: the
chaser is a little faster than the chased, or nobody would ever be caught by a player
who runs straight away. Written like a built-in: numpy over whole arrays, integer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.core.systems.registry import ParamSpec, TickContext, system
from server.core.world import World


@system(
    "it_speed",
    requires=("tag", "velocity"),
    params={
        "factor": ParamSpec(float, 1.2, 0.0, 10.0, "velocity multiplier of the 'it' player"),
    },
    phases=("input", "pre_update"),
)
def it_speed(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Scale the velocity of every "it" entity by ``factor`` (in 1/256 steps, floored).

    Run it after ``apply_inputs`` (which sets velocity from the stick each tick).
    """
    it = world.mask("tag", "velocity") & world.col("tag.it")
    if not it.any():
        return
    f256 = round(float(params["factor"]) * 256)
    for axis in ("x", "y"):
        v = world.col(f"velocity.{axis}")
        v[it] = (v[it].astype("int64") * f256) >> 8

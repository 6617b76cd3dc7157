"""The WELCOME body: who you are, which match, and what the definition tells a client.

docs/protocol.md (``WELCOME``) lists every field and the sync mode it applies to; fields
of the other mode are sent too (with their definition values) and mean nothing there.
"""

from __future__ import annotations

from typing import Any

from server.core.systems.arena import INPUT_SCALE
from server.core.systems.registry import get_system
from server.gamedef.schema import GameDefinition
from server.hosting.schema import game_schema
from server.match.match import Match, Seat

SPECTATOR_SEAT = -1
"""``WELCOME.seat`` (and ``DESYNC.seat``) of a spectator: spectators hold no seat."""


def welcome_body(
    match: Match, seat: Seat, token: str, resumed: bool, sub: str = "", name: str = ""
) -> dict[str, Any]:
    """The WELCOME map for ``seat`` in ``match``; ``token`` is its fresh resume token,
    ``sub`` and ``name`` the player's verified identity (empty without one)."""
    defn = match.definition
    netid = None
    if seat.entity is not None and match.mode == "state":
        netid = match.sim.netid_of(seat.entity)
    return {
        "player_id": seat.player_id,
        "sub": sub,
        "name": name,
        "entity": -1 if netid is None else netid,
        "match_id": match.match_id,
        "seat": SPECTATOR_SEAT if seat.spectator else seat.seat,
        "spectator": seat.spectator,
        "game": defn.name,
        "tick": match.tick_count,
        "tick_rate_hz": defn.tick_rate_hz,
        "snapshot_rate_hz": defn.sync.snapshot_rate_hz,
        "sync": match.mode,
        "quantize": match.quantizer.spec(),
        "world": [defn.world.width_units, defn.world.height_units],
        "movement": movement(defn),
        "interest_radius": defn.sync.interest_radius_units,
        "kinds": [a.name for a in defn.archetypes],
        "resume_token": "" if seat.spectator else token,
        "resumed": resumed,
        "input_delay_ticks": defn.lockstep.input_delay_ticks,
        "checksum_interval_ticks": defn.lockstep.checksum_interval_ticks,
        "default_input": defn.lockstep.default_input,
        **game_schema(defn, match.fields),
        **latency_fields(defn),
        "labels": dict(match.label_values),
        "private": match.private,
        "code": match.join_code or "",
    }


def latency_fields(defn: GameDefinition) -> dict[str, Any]:
    """``interpolation_ms``, ``input_buffer_ticks`` and ``lag_compensation``: ``{ms}``
    for a game with ``[lag_compensation]``, else nil (docs/protocol.md, ``WELCOME``)."""
    lat = defn.latency
    lag = lat.lag_compensation
    return {
        "interpolation_ms": lat.interpolation_ms,
        "input_buffer_ticks": lat.input_buffer_ticks,
        "lag_compensation": None if lag is None else {"ms": lag.ms},
    }


def movement(defn: GameDefinition) -> dict[str, Any]:
    """How a player's stick moves its entity, derived from the definition.

    Axes: world coordinates grow with +x to the right and +y *down* (screen
    coordinates, origin at the top-left corner; the browser page draws them so).
    Speed: the ``apply_inputs`` step's ``speed_units_per_s`` at full stick (127
    steps); ``speed_subunits_per_tick`` is the exact integer the simulation adds per
    tick (``v = stick * speed_subunits_per_s // 127``, then ``p += v // tick_rate_hz``).
    A definition without ``apply_inputs`` has speed 0 (the stick moves nothing by
    itself).
    """
    speed_units = 0.0
    for step in defn.pipeline:
        if step.system == "apply_inputs":
            default = get_system("apply_inputs").params["speed_units_per_s"].default
            speed_units = float(step.params_dict().get("speed_units_per_s", default))
            break
    scale = defn.world.subunits_per_unit
    per_s = int(speed_units * scale)
    return {
        "x_axis": "right",
        "y_axis": "down",
        "subunits_per_unit": scale,
        "stick_max": INPUT_SCALE,
        "speed_units_per_s": speed_units,
        "speed_subunits_per_tick": per_s // defn.tick_rate_hz,
    }

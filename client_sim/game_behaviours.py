"""Bots that play the shipped games: tag, shooter and rts (``data/bots/<name>.toml``).

Each function is a behaviour like the generic ones in :mod:`client_sim.behaviours`: it
runs once per tick over every bot of the process and writes sticks and declared input
fields for all of them at once. What a bot knows comes from its mirror through
``crowd.view`` (state sync) -- field names and kinds are parameters, so a game that
calls its flag ``chaser.on`` instead of ``tag.it`` only needs another behaviour file.

Looking at the world costs a few numpy calls per bot, so bots re-decide every
``retarget_every_ticks`` ticks (spread over the crowd) and keep their heading between.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from client_sim.behaviours import Crowd, Params, behaviour, turn_randomly


def _due(crowd: Crowd, every_ticks: float) -> NDArray[np.intp]:
    every = max(1, int(every_ticks))
    return np.flatnonzero((crowd.timer + crowd.tick) % every == 0)


def _away_from_walls(crowd: Crowd, which: NDArray[np.intp], margin: float) -> NDArray[np.float64]:
    """A push (n, 2) away from the world's edges for bots closer than ``margin`` units."""
    push = np.zeros((len(which), 2))
    view = crowd.view
    width, height = crowd.world
    if view is None or margin <= 0 or width <= 0:
        return push
    pos = view.own_position(which)
    ok = ~np.isnan(pos[:, 0])
    x, y = pos[ok, 0], pos[ok, 1]
    push[ok, 0] = _edge(x, margin) - _edge(width - x, margin)
    push[ok, 1] = _edge(y, margin) - _edge(height - y, margin)
    return push


def _edge(distance: NDArray[np.float64], margin: float) -> NDArray[np.float64]:
    """0 at ``margin`` or farther from a wall, rising to 1 at the wall."""
    return np.asarray(np.clip((margin - distance) / margin, 0.0, 1.0), np.float64)


def _steer(crowd: Crowd, speed: float) -> None:
    crowd.stick[:, 0] = np.cos(crowd.heading) * speed
    crowd.stick[:, 1] = np.sin(crowd.heading) * speed
    crowd.sends[:] = 1


@behaviour(
    "chase_tag",
    it_field="tag.it",
    player_kind="player",
    flee_radius_units=60.0,
    wall_margin_units=25.0,
    retarget_every_ticks=3.0,
    turns_per_s=0.5,
    speed=1.0,
)
def chase_tag(crowd: Crowd, params: Params) -> None:
    """Tag: when "it", chase the nearest player who is not; otherwise flee the "it"
    player if it is within ``flee_radius_units`` (sliding off walls), else wander."""
    due = _due(crowd, params["retarget_every_ticks"])
    view = crowd.view
    engaged = np.zeros(len(due), np.bool_)
    if len(due) and view is not None:
        field, kind = str(params["it_field"]), str(params["player_kind"])
        it = view.own_value(due, field) == 1.0
        chasers = due[it]
        if len(chasers):
            vec = view.nearest(chasers, kind, field, 0.0)
            ok = ~np.isnan(vec[:, 0])
            crowd.heading[chasers[ok]] = np.arctan2(vec[ok, 1], vec[ok, 0])
            engaged[np.flatnonzero(it)[ok]] = True
        runners = due[~it]
        if len(runners):
            vec = view.nearest(runners, kind, field, 1.0)
            dist = np.hypot(vec[:, 0], vec[:, 1])
            near = ~np.isnan(dist) & (dist < params["flee_radius_units"])
            away = np.zeros((len(runners), 2))
            away[near] = -vec[near] / np.maximum(dist[near, None], 1e-6)
            away += 1.5 * _away_from_walls(crowd, runners, params["wall_margin_units"])
            moving = np.hypot(away[:, 0], away[:, 1]) > 1e-6
            crowd.heading[runners[moving]] = np.arctan2(away[moving, 1], away[moving, 0])
            engaged[np.flatnonzero(~it)[moving]] = True
    wander_unengaged(crowd, params["turns_per_s"], due, engaged)
    _steer(crowd, params["speed"])


def wander_unengaged(
    crowd: Crowd, turns_per_s: float, due: NDArray[np.intp], engaged: NDArray[np.bool_]
) -> None:
    """Remember which of the ``due`` bots found something to do (``engaged``, one per
    due bot) and let the others turn at random as ``wander`` does."""
    busy = crowd.memory.setdefault("engaged", np.zeros(crowd.n, np.bool_))
    busy[due] = engaged
    keep = crowd.heading[busy].copy()
    turn_randomly(crowd, turns_per_s)
    crowd.heading[busy] = keep


@behaviour(
    "shooter_aim",
    player_kind="player",
    aim_input="aim",
    buttons_input="buttons",
    fire_button="fire",
    fire_range_units=120.0,
    keep_distance_units=50.0,
    wall_margin_units=30.0,
    retarget_every_ticks=2.0,
    turns_per_s=0.5,
    speed=1.0,
)
def shooter_aim(crowd: Crowd, params: Params) -> None:
    """Shooter: aim at the nearest visible enemy player and hold fire while it is in
    range; close in to ``keep_distance_units`` then circle-strafe; wander when no enemy
    is in sight (and turn off the walls)."""
    due = _due(crowd, params["retarget_every_ticks"])
    view = crowd.view
    aim_name, buttons_name = str(params["aim_input"]), str(params["buttons_input"])
    fire = crowd.button(str(params["fire_button"]))
    aim = crowd.inputs.get(aim_name)
    buttons = crowd.inputs.get(buttons_name)
    engaged = np.zeros(len(due), np.bool_)
    if len(due) and view is not None:
        vec = view.nearest(due, str(params["player_kind"]))
        dist = np.hypot(vec[:, 0], vec[:, 1])
        seen = ~np.isnan(dist)
        angle = np.arctan2(vec[:, 1], vec[:, 0])
        if aim is not None:
            aim[due[seen]] = angle[seen]
        if buttons is not None:
            in_range = seen & (dist < params["fire_range_units"])
            buttons[due] = np.where(in_range, fire, 0)
        strafe = angle + np.where(dist > params["keep_distance_units"], 0.0, np.pi / 2)
        crowd.heading[due[seen]] = strafe[seen]
        push = _away_from_walls(crowd, due, params["wall_margin_units"])
        walled = np.hypot(push[:, 0], push[:, 1]) > 0.3
        crowd.heading[due[walled]] = np.arctan2(push[walled, 1], push[walled, 0])
        engaged = seen | walled
    wander_unengaged(crowd, params["turns_per_s"], due, engaged)
    _steer(crowd, params["speed"])


@behaviour(
    "shooter_tap",
    player_kind="player",
    aim_input="aim",
    buttons_input="buttons",
    fire_button="fire",
    fire_range_units=100.0,
    tap_every_ticks=20.0,
    hold_ticks=3.0,
    keep_distance_units=50.0,
    wall_margin_units=30.0,
    turns_per_s=0.5,
    speed=1.0,
)
def shooter_tap(crowd: Crowd, params: Params) -> None:
    """The latency benchmark's shooter: moves as ``shooter_aim`` (deciding every tick)
    and aims every tick at the nearest enemy *as the bot sees it* (with a smooth client:
    from its predicted position at the interpolated enemy); every ``tap_every_ticks``
    ticks it holds ``fire_button`` for ``hold_ticks`` inputs when an enemy is within
    ``fire_range_units`` -- one shot, as the weapon's cooldown is longer than the hold
    (held over several inputs so that none is lost when the server takes only the newest
    of two that arrive in one tick). ``crowd.memory["shots"]`` counts the taps per bot;
    a harness sets ``crowd.memory["hold_fire"]`` to stop new taps (so that every shot's
    result has arrived when it counts)."""
    shooter_aim(crowd, {**params, "retarget_every_ticks": 1.0})
    buttons = crowd.inputs.get(str(params["buttons_input"]))
    shots = crowd.memory.setdefault("shots", np.zeros(crowd.n, np.int64))
    if buttons is None or crowd.view is None:
        return
    every, hold = max(1, int(params["tap_every_ticks"])), max(1, int(params["hold_ticks"]))
    phase = (crowd.timer + crowd.tick) % every
    everyone = np.arange(crowd.n)
    vec = crowd.view.nearest(everyone, str(params["player_kind"]))
    in_range = np.hypot(vec[:, 0], vec[:, 1]) < params["fire_range_units"]  # NaN: False
    tapping = crowd.memory.setdefault("tapping", np.zeros(crowd.n, np.bool_))
    start = (phase == 0) & in_range & ("hold_fire" not in crowd.memory)
    tapping[phase == 0] = start[phase == 0]
    tapping &= phase < hold
    shots += start
    buttons[:] = np.where(tapping, crowd.button(str(params["fire_button"])), 0)


@behaviour(
    "rts_zone",
    target_x_input="target_x",
    target_y_input="target_y",
    zone_x=0.0,
    zone_y=0.0,
    spread=0.0,
    resend_every_ticks=30.0,
)
def rts_zone(crowd: Crowd, params: Params) -> None:
    """RTS (lockstep): order the bot's units to the capture zone at (``zone_x``,
    ``zone_y``) in the input fields' units (world units), each bot at its own point
    within ``spread`` of the centre; re-sent every ``resend_every_ticks`` ticks (the
    server repeats the last input between). A zone of (0, 0) means the centre of the
    definition's first ``zones`` pipeline step (``x_units``, ``y_units``)."""
    tx = crowd.inputs.get(str(params["target_x_input"]))
    ty = crowd.inputs.get(str(params["target_y_input"]))
    if tx is not None and ty is not None:
        zx, zy = float(params["zone_x"]), float(params["zone_y"])
        if zx == 0.0 and zy == 0.0:
            zx, zy = _zone_centre(crowd)
        offset = (crowd.timer % 997) / 997.0 * 2.0 * np.pi
        radius = params["spread"] * ((crowd.timer // 997) % 100) / 100.0
        tx[:] = np.round(zx + np.cos(offset) * radius)
        ty[:] = np.round(zy + np.sin(offset) * radius)
    crowd.stick[:] = 0.0
    every = max(1, int(params["resend_every_ticks"]))
    crowd.sends[:] = ((crowd.timer + crowd.tick) % every == 0).astype(np.int64)


def _zone_centre(crowd: Crowd) -> tuple[float, float]:
    """The first ``zones`` step's centre in the definition, else the world's centre."""
    defn = crowd.definition
    if defn is not None:
        for step in defn.pipeline:
            if step.system == "zones":
                p = step.params_dict()
                return float(p["x_units"]), float(p["y_units"])
    return crowd.world[0] / 2, crowd.world[1] / 2

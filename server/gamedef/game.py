"""The ``[game]`` section: name, rates, seats, seed, player archetype, plug-ins, bot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.gamedef.check import MISSING, Checker, describe
from server.gamedef.limits import (
    GAME_KEYS,
    MAX_NAME_LEN,
    MAX_PLAYERS,
    MAX_SEED,
    MAX_TICK_RATE_HZ,
)
from server.gamedef.plugins import load_plugins


@dataclass(frozen=True, slots=True)
class GameSection:
    """``[game]`` as parsed; the player archetype is resolved later, with the archetypes."""

    name: str
    tick_rate_hz: int
    max_players: int
    seed: int
    player_archetype: str
    plugins: tuple[str, ...]
    bot: str


def parse_game(c: Checker, data: Mapping[Any, Any]) -> GameSection:
    """``[game]``; imports the plug-in modules it names (see :mod:`server.gamedef.plugins`)."""
    game = c.table(data, "", "game")
    c.keys(game, "game", GAME_KEYS)
    name = c.str_(game, "game", "name", "a string naming the game")
    if not name or len(name) > MAX_NAME_LEN or not name.isprintable():
        c.fail(
            "game.name",
            f"a non-empty printable string of at most {MAX_NAME_LEN} characters",
            describe(name),
        )
    tick_rate = c.int_(game, "game", "tick_rate_hz", 1, MAX_TICK_RATE_HZ, why="ticks per second")
    max_players = c.int_(
        game, "game", "max_players", 1, MAX_PLAYERS, why="lockstep seats are uint16"
    )
    seed = c.int_(game, "game", "seed", 0, MAX_SEED, why="seeds the match's PCG64")
    player_archetype = c.str_(game, "game", "player_archetype", "a string naming an archetype")
    bot = ""
    if "bot" in game:
        bot = c.identifier(game["bot"], "game.bot", "a bot behaviour name")
    plugins: tuple[str, ...] = ()
    if game.get("systems", MISSING) is not MISSING:
        plugins = load_plugins(c, game["systems"])
    return GameSection(name, tick_rate, max_players, seed, player_archetype, plugins, bot)

"""The game definitions the benchmarks run: copies of the arena with sizes replaced.

Two shapes:

- **one big arena** (:func:`arena_text`): ``data/games/arena.toml`` with M NPCs (and,
  for the sweep, another tick and snapshot rate);
- **many small matches** (:class:`Layout`, :func:`small_match_text`): the arena with
  ``max_players`` set to the players per match (so the server's join-or-create fills
  matches of exactly that size, one after another), ``npcs`` NPCs per match, and a
  100 x 100 unit world seen through an interest radius of 150 units, which is more than
  its diagonal (141.4): every player sees its whole match.

Both are produced by editing the definition's text, so every other key (systems,
quantization, lockstep settings) stays the arena's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SMALL_WORLD_UNITS = 100.0
"""Width and height of a small match's world, world units."""
SMALL_INTEREST_UNITS = 150.0
"""Interest radius of a small match: at least the world's diagonal (141.4 units)."""


@dataclass(frozen=True, slots=True)
class Layout:
    """``matches`` matches of ``players`` players and ``npcs`` NPCs each."""

    matches: int
    players: int
    npcs: int

    @property
    def clients(self) -> int:
        """Players over all matches: one bot each."""
        return self.matches * self.players

    @property
    def name(self) -> str:
        """``100x8x50``."""
        return f"{self.matches}x{self.players}x{self.npcs}"


def _sub(pattern: str, repl: str, text: str, what: str) -> str:
    out, n = re.subn(pattern, repl, text, count=1)
    if n != 1:
        raise ValueError(f"the game definition has no {what} to replace")
    return out


def _rates(text: str, tick_rate: int | None) -> str:
    if tick_rate is None:
        return text
    text = _sub(r"tick_rate_hz = \d+", f"tick_rate_hz = {tick_rate}", text, "tick_rate_hz")
    return _sub(r"snapshot_rate_hz = \d+", f"snapshot_rate_hz = {tick_rate}", text, "snapshot rate")


def _npcs(text: str, count: int) -> str:
    return _sub(
        r'(\[\[spawns\]\]\s*\narchetype = "npc"\s*\ncount = )\d+',
        rf"\g<1>{count}",
        text,
        "npc spawn count",
    )


def arena_text(game: str, entities: int, tick_rate: int | None = None) -> str:
    """The definition ``game`` with ``entities`` NPCs (and another tick rate, if given)."""
    text = _npcs(Path(game).read_text(), entities)
    if entities > 2000:
        text = _sub(
            r"initial_capacity = \d+",
            f"initial_capacity = {entities + 2048}",
            text,
            "initial_capacity",
        )
    return _rates(text, tick_rate)


def small_match_text(game: str, layout: Layout, tick_rate: int | None = None) -> str:
    """The definition ``game`` shaped for ``layout`` (see the module docstring)."""
    text = _npcs(Path(game).read_text(), layout.npcs)
    text = _sub(r"max_players = \d+", f"max_players = {layout.players}", text, "max_players")
    side = f"{SMALL_WORLD_UNITS:.1f}"
    text = _sub(r"width_units = [\d.]+", f"width_units = {side}", text, "world width")
    text = _sub(r"height_units = [\d.]+", f"height_units = {side}", text, "world height")
    capacity = max(64, 1 << (layout.npcs + layout.players + 8).bit_length())
    text = _sub(
        r"initial_capacity = \d+", f"initial_capacity = {capacity}", text, "initial_capacity"
    )
    text = _sub(
        r"interest_radius_units = [\d.]+",
        f"interest_radius_units = {SMALL_INTEREST_UNITS:.1f}",
        text,
        "interest radius",
    )
    return _rates(text, tick_rate)


def write_definition(
    game: str,
    entities: int,
    tick_rate: int | None,
    folder: Path,
    layout: Layout | None = None,
) -> Path:
    """Write the arena copy (``layout`` None) or the small-match copy to ``folder``."""
    text = (
        arena_text(game, entities, tick_rate)
        if layout is None
        else small_match_text(game, layout, tick_rate)
    )
    path = folder / "bench-game.toml"
    path.write_text(text)
    return path

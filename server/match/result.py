"""A match's result: who won, per-player scores and the definition's result fields.

Built by :meth:`server.match.match.Match.tick` on the tick a system calls
``ctx.end("match", reason, winner)``; the hosting layer sends it to every client as
``RESULT`` (:meth:`MatchResult.to_wire`, docs/protocol.md) and then closes each
connection with ``MATCH_ENDED``; the handler's ``terminate`` and the audit log get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.core.systems.registry import Ending
    from server.match.match import Match


@dataclass(frozen=True, slots=True)
class PlayerResult:
    """One seated player's line of the result."""

    player_id: int
    seat: int
    entity: int
    """Net id of the player's entity (-1 if it has none)."""
    score: int | float | bool | None
    fields: tuple[tuple[str, int | float | bool], ...] = ()


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The end of a match, as every client hears it."""

    tick: int
    reason: str
    winner: int
    """Net id of the winning player's entity; -1 for none (a draw)."""
    winner_player: int
    """``player_id`` of the winner; -1 if none or the winner holds no seat."""
    players: tuple[PlayerResult, ...]

    def to_wire(self) -> dict[str, Any]:
        """The ``RESULT`` body."""
        return {
            "tick": self.tick,
            "reason": self.reason,
            "winner": self.winner,
            "winner_player": self.winner_player,
            "players": [
                {
                    "player_id": p.player_id,
                    "seat": p.seat,
                    "entity": p.entity,
                    "score": p.score,
                    "fields": dict(p.fields),
                }
                for p in self.players
            ],
        }

    def audit_text(self) -> str:
        """One line for the log: reason, winner, scores by player."""
        scores = ", ".join(f"{p.player_id}={p.score}" for p in self.players)
        return (
            f"reason={self.reason} tick={self.tick} winner_player={self.winner_player} "
            f"scores=[{scores}]"
        )


def build_result(match: Match, ending: Ending) -> MatchResult:
    """Read the seated players' rule columns from the world at the ending tick."""
    sim = match.sim
    world = sim.world
    rules = match.definition.rules
    players: list[PlayerResult] = []
    winner = -1 if ending.winner is None else int(ending.winner)
    winner_player = -1
    for seat in sorted(match.by_player.values(), key=lambda s: s.seat):
        netid = -1
        score: int | float | bool | None = None
        fields: list[tuple[str, int | float | bool]] = []
        if seat.entity is not None and world.is_alive(seat.entity):
            slot = world.slot_of(seat.entity)
            netid = int(world.netids[slot])
            if rules.score is not None:
                score = world.col(rules.score)[slot].item()
            fields = [(key, world.col(key)[slot].item()) for key in rules.result_fields]
        if netid == winner and winner != -1:
            winner_player = seat.player_id
        players.append(PlayerResult(seat.player_id, seat.seat, netid, score, tuple(fields)))
    return MatchResult(sim.tick, ending.reason, winner, winner_player, tuple(players))

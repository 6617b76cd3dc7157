"""The phases of one tick, in order (names follow bevy and flecs)."""

from __future__ import annotations

from enum import IntEnum


class Phase(IntEnum):
    """A tick runs every phase in this order; commands are applied between phases."""

    INPUT = 0
    """Player inputs drained from the match's queue are written into the world."""
    PRE_UPDATE = 1
    UPDATE = 2
    """Movement and game rules."""
    VALIDATE = 3
    """Constraints: keep entities inside the world. The spatial index is rebuilt after it."""
    POST_UPDATE = 4
    """Systems that need the rebuilt spatial index (collision)."""
    SYNC = 5
    """Last look at the world before the match turns it into frames."""

    @property
    def key(self) -> str:
        """The lower-case name used in game definitions and metrics labels."""
        return self.name.lower()

    @classmethod
    def from_key(cls, key: str) -> Phase:
        """The phase whose :attr:`key` is ``key`` (ValueError otherwise)."""
        try:
            return cls[key.upper()]
        except KeyError:
            raise ValueError(key) from None


PHASE_KEYS: tuple[str, ...] = tuple(p.key for p in Phase)

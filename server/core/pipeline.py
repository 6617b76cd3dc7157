"""The ordered system pipeline a game definition asks for (bevy's ``MainScheduleOrder`` idea).

The definition lists ``(phase, system, params)`` entries; the pipeline groups them by
:class:`~server.core.phases.Phase`, keeping file order inside a phase. Validation of
names, parameters and phases happens when the definition is loaded
(:mod:`server.gamedef.load`), so building a pipeline from a loaded definition cannot fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.core.phases import Phase
from server.core.systems.registry import SystemSpec, get_system
from server.gamedef.schema import GameDefinition


@dataclass(frozen=True, slots=True)
class ScheduledSystem:
    """One system ready to run: its spec, its phase and its resolved parameters."""

    phase: Phase
    spec: SystemSpec
    params: Mapping[str, Any]

    @property
    def label(self) -> str:
        """Name used in timings and metrics (``system`` for single use)."""
        return self.spec.name


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Systems grouped by phase, in run order."""

    by_phase: tuple[tuple[Phase, tuple[ScheduledSystem, ...]], ...]

    @classmethod
    def from_definition(cls, definition: GameDefinition) -> Pipeline:
        """Resolve names to registered systems and fill in parameter defaults."""
        groups: dict[Phase, list[ScheduledSystem]] = {p: [] for p in Phase}
        for step in definition.pipeline:
            spec = get_system(step.system)
            params = {k: p.default for k, p in spec.params.items()}
            params.update(step.params_dict())
            groups[Phase.from_key(step.phase)].append(
                ScheduledSystem(Phase.from_key(step.phase), spec, params)
            )
        return cls(tuple((p, tuple(groups[p])) for p in Phase))

    def systems(self) -> list[ScheduledSystem]:
        """Every scheduled system in run order."""
        return [s for _, group in self.by_phase for s in group]

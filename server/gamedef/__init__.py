"""Game definitions: TOML files in ``data/games/`` loaded into frozen dataclasses."""

from server.gamedef.load import load_definition, parse_definition
from server.gamedef.schema import (
    ArchetypeDef,
    ComponentDef,
    GameDefinition,
    LockstepDef,
    SpatialDef,
    SpawnDef,
    SyncDef,
    SystemStep,
    WorldDef,
)

__all__ = [
    "ArchetypeDef",
    "ComponentDef",
    "GameDefinition",
    "LockstepDef",
    "SpatialDef",
    "SpawnDef",
    "SyncDef",
    "SystemStep",
    "WorldDef",
    "load_definition",
    "parse_definition",
]

"""Built-in systems and the registry that names them."""

from server.core.systems.registry import (
    Ending,
    EventFields,
    ParamSpec,
    SystemSpec,
    TickContext,
    get_system,
    registered_systems,
    system,
)

__all__ = [
    "Ending",
    "EventFields",
    "ParamSpec",
    "SystemSpec",
    "TickContext",
    "get_system",
    "registered_systems",
    "system",
]

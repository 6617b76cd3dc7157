"""The loader's limits and the keys each table accepts (all documented in docs/game-definitions.md).

Each limit says why it exists: most come from what the wire or the fixed-point core can
carry. Key specs are ``(required, optional)`` tuples of key names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

MAX_TICK_RATE_HZ: Final = 240
MAX_PLAYERS: Final = 65_535
"""Lockstep frames carry player seats as uint16."""
MAX_SEED: Final = 2**63 - 1
"""The largest TOML integer."""
MAX_SUBUNITS_PER_UNIT: Final = 65_536
INT32_MAX: Final = 2**31 - 1
MAX_WORLD_SUBUNITS: Final = INT32_MAX // 2
"""World extent in subunits: half of int32, because an entity may overshoot an edge by up
to one tick of velocity before ``bounce_at_edges`` reflects it with ``2 * limit - p``."""
MAX_INITIAL_CAPACITY: Final = 1 << 24
MAX_COMPONENTS: Final = 32
"""The world keeps which components an entity has in a uint32 bit mask."""
MAX_ARCHETYPES: Final = 256
"""``kind_id`` is sent to clients as a uint8."""
MAX_FIELDS_PER_COMPONENT: Final = 64
MAX_SPAWN_TOTAL: Final = 1_000_000
MAX_GRID_CELLS: Final = 1 << 20
MAX_LEAF_CAPACITY: Final = 65_536
MAX_QUANTIZED: Final = 65_535
"""State sync sends each quantized position axis as a uint16."""
MAX_LOCKSTEP_TICKS: Final = 65_535
MAX_NAME_LEN: Final = 64
INPUT_AXIS_MAX: Final = 127
"""Player input axes arrive quantized to -127..127 (see server/core/systems/arena.py)."""

#: Largest value of each signed integer dtype (positions, velocities and inputs are signed).
SIGNED_INT_MAX: Final[Mapping[str, int]] = {
    "int8": 2**7 - 1,
    "int16": 2**15 - 1,
    "int32": 2**31 - 1,
    "int64": 2**63 - 1,
}

INDEX_KINDS: Final = ("grid", "quadtree", "brute")
SYNC_MODES: Final = ("state", "lockstep")
DEFAULT_INPUTS: Final = ("zero", "repeat")
DefaultInput = Literal["zero", "repeat"]

# -- the keys each table accepts: (required, optional) -----------------------------------

TOP_KEYS: Final = (
    ("game", "world", "components", "archetypes", "pipeline", "sync"),
    (
        "spawns",
        "spatial",
        "lockstep",
        "replay",
        "input",
        "events",
        "rules",
        "render",
        "lag_compensation",
    ),
)
GAME_KEYS: Final = (
    ("name", "tick_rate_hz", "max_players", "seed", "player_archetype"),
    ("systems", "bot", "labels"),
)
WORLD_KEYS: Final = (("width_units", "height_units", "subunits_per_unit"), ("initial_capacity",))
ARCHETYPE_KEYS: Final = (("components",), ())
SPAWN_KEYS: Final = (("archetype", "count"), ("speed_units_per_s",))
STEP_KEYS: Final = (("phase", "system"), ("params", "after"))
SPATIAL_KEYS: Final = ((), ("index", "cell_size_units", "quadtree_leaf_capacity"))
SYNC_KEYS: Final = (
    ("mode", "snapshot_rate_hz", "interest_radius_units"),
    (
        "quantize",
        "replicate",
        "event_backlog",
        "budget_bytes_per_s",
        "budget_falloff_units",
        "budget_max_stale_ms",
        "importance",
        "interpolation_ms",
        "input_buffer_ticks",
    ),
)
LOCKSTEP_KEYS: Final = (
    (),
    ("input_delay_ticks", "checksum_interval_ticks", "max_send_queue_frames", "default_input"),
)

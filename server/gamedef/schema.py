"""The shape of a game definition, as frozen dataclasses.

Units are in the names: ``*_hz`` in ticks per second, ``*_units`` in world units,
``*_ticks`` in ticks. Positions and velocities are fixed-point integers in the
simulation (``WorldDef.subunits_per_unit`` subunits per world unit) so lockstep
replicas compute bit-identical worlds; see docs/game-definitions.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SyncMode = Literal["state", "lockstep"]
IndexKind = Literal["grid", "quadtree", "brute"]
PhaseName = Literal["input", "pre_update", "update", "validate", "post_update", "sync"]

#: dtypes a component field may use (numpy names).
FIELD_DTYPES: tuple[str, ...] = (
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "float32",
    "float64",
    "bool",
)


InputKind = Literal["stick", "angle", "buttons", "int"]

#: The ``input`` component column dtype each input kind is written to.
INPUT_DTYPES: dict[str, str] = {
    "stick": "int8",
    "angle": "uint16",
    "buttons": "uint16",
    "int": "int32",
}


@dataclass(frozen=True, slots=True)
class InputFieldDef:
    """One declared input field: its wire key and the ``input.<name>`` column it fills.

    ``stick``: a number in [-1, 1] on the wire, stored ``floor(v * 127 + 0.5)`` (int8);
    ``angle``: radians in [-2pi, 2pi], stored as a binary angle (uint16, 65536 per turn,
    0 = +x, increasing toward +y); ``buttons``: a uint16 bit field, bit i = ``bits[i]``;
    ``int``: an integer in ``[minimum, maximum]`` (int32).
    """

    name: str
    kind: InputKind
    bits: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = 0

    @property
    def dtype(self) -> str:
        """The numpy dtype of the field's ``input`` column (and of its lockstep column)."""
        return INPUT_DTYPES[self.kind]


DEFAULT_INPUTS: tuple[InputFieldDef, ...] = (
    InputFieldDef("x", "stick"),
    InputFieldDef("y", "stick"),
)
"""A definition without ``[input]``: the arena's two sticks (its wire is unchanged)."""


@dataclass(frozen=True, slots=True)
class WorldDef:
    """The playing field: ``[0, width_units] x [0, height_units]`` in world units."""

    width_units: float
    height_units: float
    subunits_per_unit: int
    """Fixed-point scale: an integer position ``p`` is ``p / subunits_per_unit`` world units."""
    initial_capacity: int = 1024
    """Entity slots allocated up front; storage doubles when full."""


@dataclass(frozen=True, slots=True)
class ComponentDef:
    """A component: a named group of fields, each stored as one numpy column."""

    name: str
    fields: tuple[tuple[str, str], ...]
    """``(field name, numpy dtype name)`` pairs, in declaration order."""


@dataclass(frozen=True, slots=True)
class ArchetypeDef:
    """A named set of components an entity is spawned with."""

    name: str
    components: tuple[str, ...]
    kind_id: int
    """Small integer sent to clients so they know what an entity is (0-based, file order)."""


@dataclass(frozen=True, slots=True)
class SpawnDef:
    """Entities created when a match starts."""

    archetype: str
    count: int
    speed_units_per_s: float = 0.0
    """Initial speed in a uniformly random direction (world units per second)."""


@dataclass(frozen=True, slots=True)
class SystemStep:
    """One entry of the pipeline: run ``system`` in ``phase`` with ``params``."""

    phase: PhaseName
    system: str
    params: tuple[tuple[str, Any], ...] = ()
    after: tuple[str, ...] = ()
    """Systems of the same phase this step must run after (the loader orders steps by it)."""

    def params_dict(self) -> dict[str, Any]:
        """The parameters as a fresh dict (the dataclass keeps a hashable tuple)."""
        return dict(self.params)


@dataclass(frozen=True, slots=True)
class SpatialDef:
    """Which spatial index the match uses and how it is tuned."""

    index: IndexKind = "grid"
    cell_size_units: float = 50.0
    """Grid cell edge (world units); also the quadtree's smallest useful node size."""
    quadtree_leaf_capacity: int = 16


#: Types a replicated field or an event field takes on the wire (little-endian).
WIRE_TYPES: tuple[str, ...] = (
    "bool",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "float32",
)
Audience = Literal["all", "interest", "owner", "target"]


@dataclass(frozen=True, slots=True)
class ReplicatedField:
    """A component field state sync sends besides positions (``[sync.replicate]``)."""

    key: str
    """``"component.field"``."""
    wire: str
    """One of :data:`WIRE_TYPES`."""
    step: float | None = None
    """Quantization: the wire carries ``round(value / step)``; None sends the value."""
    to: Literal["all", "owner"] = "all"
    """``owner``: only the player whose own entity it is."""


@dataclass(frozen=True, slots=True)
class EventDef:
    """A declared event (``[events.<name>]``): its fields and who receives it."""

    name: str
    audience: Audience
    fields: tuple[tuple[str, str], ...]
    """``(field name, wire type or "entity")`` in wire order."""
    at: str | None = None
    """``interest``: the entity field whose visibility decides who hears it."""
    to: str | None = None
    """``owner``/``target``: the entity field naming the receiving player's entity."""


@dataclass(frozen=True, slots=True)
class RulesDef:
    """``[rules]``: what a ``RESULT`` reports per player."""

    score: str | None = None
    """``"component.field"`` of the player entity reported as ``score``."""
    result_fields: tuple[str, ...] = ()
    """More ``"component.field"`` columns of the player entity reported in ``fields``."""


@dataclass(frozen=True, slots=True)
class RenderDef:
    """``[render]``: an optional drawing style clients apply from ``WELCOME.render``."""

    kinds: tuple[tuple[str, str | None, float | None], ...] = ()
    """``(archetype, CSS colour or None, radius in world units or None)``."""
    bar: tuple[str, float] | None = None
    """``(replicated field, value drawn as a full bar)``."""
    label: str | None = None
    highlight: str | None = None

    def to_wire(self) -> dict[str, object]:
        """The ``WELCOME.render`` map (absent parts left out)."""
        out: dict[str, object] = {}
        if self.kinds:
            kinds: dict[str, dict[str, object]] = {}
            for name, color, size in self.kinds:
                entry: dict[str, object] = {}
                if color is not None:
                    entry["color"] = color
                if size is not None:
                    entry["size_units"] = size
                kinds[name] = entry
            out["kinds"] = kinds
        if self.bar is not None:
            out["bar"] = {"field": self.bar[0], "max": self.bar[1]}
        if self.label is not None:
            out["label"] = self.label
        if self.highlight is not None:
            out["highlight"] = self.highlight
        return out


@dataclass(frozen=True, slots=True)
class SyncDef:
    """How clients are kept in sync."""

    mode: SyncMode
    snapshot_rate_hz: int
    interest_radius_units: float
    quantize: tuple[tuple[str, float], ...]
    """``("component.field", step in world units)``: replicated fields and their precision."""
    replicate: tuple[ReplicatedField, ...] = ()
    """``[sync.replicate]``: fields sent on enter and on change (index = wire index)."""
    event_backlog: int = 256
    """Events kept per seat that could not be sent yet (dropped, slow); oldest dropped."""
    budget_bytes_per_s: float = 0.0
    """State sync: each client's byte budget (0: none); see server/core/sync/budget.py."""
    budget_falloff_units: float = 50.0
    """Distance at which an entity's priority under a budget has halved (world units)."""
    budget_max_stale_ms: float = 1000.0
    """Under a budget, the longest a changed entity in view waits (milliseconds)."""
    importance: tuple[tuple[str, float], ...] = ()
    """``[sync.importance]``: ``(archetype, weight)``; unlisted archetypes weigh 1."""


@dataclass(frozen=True, slots=True)
class LockstepDef:
    """Lockstep command sync settings."""

    input_delay_ticks: int = 2
    """A command stamped for tick t is applied at frame t; the server waits this many ticks."""
    checksum_interval_ticks: int = 10
    """Clients report their world checksum every this many frames."""
    max_send_queue_frames: int = 64
    """A client further behind than this is closed with ``CloseCode.TOO_FAR_BEHIND``."""
    default_input: Literal["zero", "repeat"] = "repeat"
    """What a player who sent nothing in time does: stand still, or repeat their last input."""


@dataclass(frozen=True, slots=True)
class LagCompensationDef:
    """``[lag_compensation]``: the server keeps a history to rewind a shooter's hit test.

    ``ms`` of past positions (and the ``hitbox`` radius field, when declared) of the
    entities of ``archetypes`` are kept, one row per tick; ``ctx.rewind`` never reaches
    further back than ``ms`` (docs/game-definitions.md, ``[lag_compensation]``).
    """

    ms: int = 1000
    archetypes: tuple[str, ...] = ()
    """Archetypes recorded (empty: every archetype)."""
    hitbox: str | None = None
    """``"component.field"``: an integer radius in subunits recorded with positions."""

    def history_ticks(self, tick_rate_hz: int) -> int:
        """How many ticks back a rewind may reach: ``ceil(ms * tick_rate_hz / 1000)``."""
        return -(-self.ms * tick_rate_hz // 1000)


@dataclass(frozen=True, slots=True)
class LatencyDef:
    """Latency settings: ``[sync]`` interpolation and input buffer, ``[lag_compensation]``."""

    interpolation_ms: int = 100
    """How far behind the newest state clients should render others (WELCOME)."""
    input_buffer_ticks: int = 0
    """Inputs a client may have waiting beyond the next tick (0: latest input wins)."""
    lag_compensation: LagCompensationDef | None = None


@dataclass(frozen=True, slots=True)
class GameDefinition:
    """A whole game: everything a match needs to run, validated at load time."""

    source: str
    """The file it was loaded from (or ``"<string>"``)."""
    name: str
    tick_rate_hz: int
    max_players: int
    seed: int
    world: WorldDef
    components: tuple[ComponentDef, ...]
    archetypes: tuple[ArchetypeDef, ...]
    player_archetype: str
    spawns: tuple[SpawnDef, ...]
    pipeline: tuple[SystemStep, ...]
    spatial: SpatialDef
    sync: SyncDef
    lockstep: LockstepDef = field(default_factory=LockstepDef)
    inputs: tuple[InputFieldDef, ...] = DEFAULT_INPUTS
    """``[input]``: the fields a client's ``INPUT`` carries, in wire order."""
    inputs_declared: bool = False
    """True when the file has an ``[input]`` section (False: the default sticks)."""
    events: tuple[EventDef, ...] = ()
    """``[events.*]`` in file order (index = wire index)."""
    rules: RulesDef = field(default_factory=RulesDef)
    render: RenderDef = field(default_factory=RenderDef)
    plugins: tuple[str, ...] = ()
    """``[game] systems``: the plug-in modules imported when the definition was loaded."""
    bot: str = ""
    """``[game] bot``: the default bot behaviour (``""``: none named)."""
    latency: LatencyDef = field(default_factory=LatencyDef)
    """Issue 18: interpolation delay, input buffer and lag compensation."""

    def archetype(self, name: str) -> ArchetypeDef:
        """The archetype called ``name`` (KeyError if there is none)."""
        for a in self.archetypes:
            if a.name == name:
                return a
        raise KeyError(name)

    @property
    def dt_s(self) -> float:
        """Seconds per tick."""
        return 1.0 / self.tick_rate_hz

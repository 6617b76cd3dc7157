"""Server configuration: one frozen dataclass, filled from flags and environment.

Every limit carries its unit in its name. docs/operations.md lists every flag and the
``TICKWIRE_*`` environment variable that sets its default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


def _default_game() -> Path:
    """The arena beside the source tree, else ``data/games/arena.toml`` under the working
    directory (an installed package, such as the Docker image's, whose data/ lives in /app)."""
    beside_source = Path(__file__).resolve().parent.parent / "data" / "games" / "arena.toml"
    if beside_source.exists():
        return beside_source
    return Path.cwd() / "data" / "games" / "arena.toml"


DEFAULT_GAME = _default_game()


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything the server process needs besides the game definition."""

    host: str = "127.0.0.1"
    port: int = 8765
    game: str = str(DEFAULT_GAME)
    """Game definition file(s): one path, or several separated by commas (the first is the
    default game of a HELLO that names none). ``--game`` may be repeated."""
    games_dir: str | None = None
    """Serve every ``*.toml`` in this folder too (``--games DIR``), sorted by file name."""
    sync: str | None = None
    """Override the definition's sync mode: ``state`` or ``lockstep``."""
    record: str | None = None
    """Record every match into this directory (docs/replays.md); see also ``[replay]``."""
    record_checkpoint_s: float = 10.0
    """Recordings: a checkpoint (whole world + checksum) every this many seconds."""
    record_max_mb: float = 256.0
    """Recordings: stop one at this size (logged, counted); the match goes on."""
    record_keep: int = 100
    """Recordings: keep this many files per directory (the oldest are deleted)."""
    max_message_bytes: int = 4096
    """Largest client frame; bigger frames are closed with 1009 by websockets."""
    max_connections: int = 2000
    """Websocket connections per process; further upgrades get HTTP 503."""
    hello_timeout_s: float = 5.0
    """A connection that has not said hello by then is closed (4004)."""
    open_timeout_s: float = 5.0
    """The HTTP upgrade itself must finish within this (slowloris guard)."""
    idle_timeout_s: float = 15.0
    """A connection silent this long is closed (4006); clients ping every few seconds."""
    reconnect_grace_s: float = 15.0
    """A dropped player's seat is kept this long for a resume."""
    empty_match_grace_s: float = 30.0
    """An empty match is retired after this long (the first match is kept)."""
    rate_messages_per_s: float = 60.0
    rate_burst_messages: float = 120.0
    rate_bytes_per_s: float = 65536.0
    rate_burst_bytes: float = 131072.0
    send_buffer_limit_bytes: int = 65536
    """State sync: a client with more than this unsent gets no new frame this tick.
    Lockstep: the least unsent backlog that closes a client with TOO_FAR_BEHIND (the bound is
    the larger of this and ``max_send_queue_frames`` frames)."""
    socket_send_buffer_bytes: int = 0
    """SO_SNDBUF of accepted sockets (Linux doubles the value); 0 keeps the OS default
    (autotuned, up to ``net.ipv4.tcp_wmem``'s maximum). The slow-reader skip starts only
    once the kernel buffers are full, so a small value makes it come sooner."""
    lean_receive: bool = True
    """After WELCOME, read a game connection's binary frames without websockets' parser
    (server.gateway.lean); False keeps every message on websockets' receive path (for
    comparing the two)."""
    heap_trim_interval_s: float = 10.0
    """Return freed heap memory to the OS (glibc ``malloc_trim``) at most this often;
    0 turns it off (server/ops/memory.py)."""
    heap_retain_mb: int = 256
    """Freed heap memory glibc keeps for the next ticks (between trims), in MB, with
    allocations under 16 MB served from the heap; 0 keeps glibc's adaptive defaults.
    Set by ``python -m server`` at start-up (server/ops/memory.py)."""
    max_catchup_ticks: int = 3
    tick_spin_ms: float = 1.0
    """The scheduler's timer wakes this long before a tick's deadline (uvloop's timers have
    1 ms resolution), then blocks in ``time.sleep`` until it is due (precise to ~0.1 ms,
    no CPU; the loop then serves once what arrived); 0 turns it off (ticks then start up
    to ~1 ms late)."""
    gc_young_threshold: int = 20000
    """Allocations between young garbage collections of the server process (CPython's
    default is 700); 0 keeps CPython's. Set by ``python -m server`` once the server is
    built, before it starts; it also freezes everything alive then (server.ops.gc_policy)."""
    batch_matches: bool = True
    """Step the running state-sync matches of one game definition as one batch per tick
    (server.core.batch) when its systems allow it; False steps each match on its own."""
    drain_grace_s: float = 10.0
    """SIGTERM: matches play on this long before they are ended."""
    auth_token: str | None = None
    """If set, hello must carry this token (4001 otherwise); with a JWT key, the
    development shortcut: this token is accepted as an anonymous player."""
    auth_jwt_secret_file: str | None = None
    """Players are named by HS256 JWTs signed with the secret in this file."""
    auth_jwt_public_key: str | None = None
    """Players are named by JWTs verified with this PEM public key (RS256/EdDSA/ES256)."""
    auth_jwt_audience: str | None = None
    """Required ``aud`` of player tokens (tokens with an ``aud`` are refused without it)."""
    auth_jwt_issuer: str | None = None
    """Required ``iss`` of player tokens."""
    auth_jwt_optional: bool = False
    """With a JWT key: a HELLO without a token is an anonymous player (a token that is
    sent must still verify). For open servers that still know admins and named players."""
    auth_jwt_leeway_s: float = 30.0
    """Clock skew allowed on ``exp``/``nbf``/``iat``."""
    admin_token_file: str | None = None
    """A shared admin secret (``Authorization: Bearer``) for the admin API."""
    audit_file: str | None = None
    """Append the audit trail (hash-chained JSON lines) to this file."""
    bans_file: str | None = None
    """Keep bans in this JSON file across restarts (in memory only without it)."""
    max_matches: int = 64
    log_format: str = "auto"
    """``json``, ``console`` or ``auto`` (console on a terminal)."""
    log_level: str = "info"
    slow_tick_budget_ms: float = 25.0
    """Ticks slower than this log which phase and system took the time."""
    metrics: bool = True
    static_dir: str | None = None
    node_name: str = "n"
    """This node's name in a cluster; its node id is ``<name>-<4 hex digits>``, new at
    every start (``--workers`` names its workers ``w0``, ``w1`` ...)."""
    public_url: str | None = None
    """The websocket URL clients are sent to for this node (default from host and port)."""
    public_http_url: str | None = None
    """The HTTP base URL other hosts reach this node at (Prometheus discovery from the
    directory; default from host and port, wrong when bound to 0.0.0.0 in a container)."""
    redis_url: str | None = None
    """The cluster directory (``redis://host:port/db``). Unset: a single node, no Redis."""
    cluster_name: str = "tickwire"
    """Nodes with the same Redis and cluster name see each other's matches."""
    directory_ttl_s: float = 10.0
    """A node whose heartbeat is older than this is dead: its matches vanish from listings."""
    heartbeat_interval_s: float = 2.0
    """How often a node refreshes its directory entries."""
    agones: bool = False
    """Report Ready/Health/Allocated/Shutdown and player counts to the Agones SDK sidecar
    (``127.0.0.1:$AGONES_SDK_HTTP_PORT``, default 9358): :mod:`server.cluster.agones`."""
    tls_cert: str | None = None
    """PEM certificate chain: serve ``wss://`` and ``https://`` directly (small setups
    without a TLS-terminating proxy). Needs ``tls_key``."""
    tls_key: str | None = None
    """PEM private key of ``tls_cert``."""
    seat_reservation_s: float = 15.0
    """A seat reserved over HTTP (``POST /matchmake/*``) is held this long for its HELLO."""
    matchmaker_interval_ms: float = 500.0
    """How often the matchmaker forms matches from queued tickets."""
    matchmaker_widen_per_s: float = 10.0
    """Default widening of a ticket's ``±`` windows, in the property's units per second."""
    ticket_ttl_s: float = 60.0
    """A queued ticket not matched by then expires (``status: expired``)."""
    queue_poll_s: float = 4.0
    """Longest hold of one ``POST /matchmake/queue`` long poll (kept under open_timeout_s)."""
    max_tickets_per_address: int = 4
    matchmake_rate_per_s: float = 5.0
    """Token bucket per client address over every ``/matchmake/*`` request."""
    matchmake_burst: float = 20.0
    max_body_bytes: int = 8192
    """Largest ``/matchmake/*`` request body; larger ones get HTTP 413."""
    code_attempts_per_min: float = 10.0
    """Wrong join codes an address may try per minute (burst of as many); then refused."""

    def game_paths(self) -> list[Path]:
        """Every definition file to serve: ``game`` (comma-separated), then ``games_dir``."""
        paths = [Path(p.strip()) for p in self.game.split(",") if p.strip()]
        if self.games_dir:
            found = sorted(Path(self.games_dir).glob("*.toml"))
            paths = [*([] if self.game == str(DEFAULT_GAME) else paths), *found]
        seen: list[Path] = []
        for p in paths:
            if p.resolve() not in [s.resolve() for s in seen]:
                seen.append(p)
        return seen

    @classmethod
    def from_env(cls, **overrides: Any) -> ServerConfig:
        """Defaults, then ``TICKWIRE_<FIELD>`` environment variables, then ``overrides``."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            env = os.environ.get(f"TICKWIRE_{f.name.upper()}")
            if env is None:
                continue
            default = f.default
            if isinstance(default, bool):
                values[f.name] = env.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                values[f.name] = int(env)
            elif isinstance(default, float):
                values[f.name] = float(env)
            else:
                values[f.name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

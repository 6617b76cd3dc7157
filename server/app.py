"""Wiring: configuration -> game definition -> hosting + gateway + observer.

:class:`TickwireServer` builds the three parts and runs the housekeeping sweep:

- :class:`~server.gateway.server.Gateway` (websockets: handshake, HTTP routes,
  receive loops, close codes),
- :class:`~server.hosting.host.Host` (matches, runners, admission, delivery),
- :class:`~server.ops.observer.Observer` (metrics and logs).

``python -m server`` and ``server.testing.running_server`` both build one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from server.audit import AuditFileHandler, install_audit_file, remove_audit_file
from server.cluster.agones import AgonesLifecycle, AgonesSdk, sdk_port
from server.cluster.routing import ClusterRouter
from server.config import ServerConfig
from server.directory import qualified_match_id
from server.errors import DefinitionError, DefinitionErrors
from server.gamedef import load_definition
from server.gamedef.load import override_sync_mode
from server.gamedef.schema import GameDefinition
from server.gateway.admin import register_admin
from server.gateway.connection import Conn
from server.gateway.http import json_response
from server.gateway.server import Gateway
from server.hosting.host import Host
from server.hosting.manager import MatchManager
from server.hosting.node import ClusterNode, ProcessLoad, directory_records, new_node_id
from server.hosting.runner import MatchRunner
from server.match.match import Match, MatchState
from server.net.codec import encode
from server.net.protocol import MessageType
from server.ops.degrade import DegradeController
from server.ops.directory import DirectoryObserver
from server.ops.events import Event, log_event
from server.ops.memory import HeapTrimmer
from server.ops.metrics import Metrics
from server.ops.observer import Observer
from server.replay.listing import list_recordings
from server.replay.recorder import attach_recorder
from server.replay.settings import record_settings

__all__ = ["Conn", "TickwireServer"]

log = logging.getLogger("tickwire.server")


def load_definitions(config: ServerConfig) -> list[GameDefinition]:
    """Every game of ``config`` (raises DefinitionErrors naming each broken file)."""
    definitions: list[GameDefinition] = []
    errors: list[DefinitionError] = []
    for path in config.game_paths():
        try:
            definitions.append(load_definition(path))
        except DefinitionError as exc:
            errors.append(exc)
    if len(errors) == 1 and not definitions:
        raise errors[0]
    if errors:
        raise DefinitionErrors(errors)
    if not definitions:
        raise DefinitionErrors(
            [DefinitionError(config.games_dir or config.game, "", "game definitions", "none")]
        )
    return definitions


class TickwireServer:
    """The server: see the module docstring."""

    def __init__(
        self,
        config: ServerConfig,
        definition: GameDefinition | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        definitions = [definition] if definition is not None else load_definitions(config)
        if config.sync:
            definitions = [override_sync_mode(d, config.sync) for d in definitions]
        defn = definitions[0]
        self.definition = defn
        self.definitions = definitions
        self.kind = f"{defn.name}/{defn.sync.mode}"
        self.metrics = metrics or Metrics()
        self.observer = Observer(self.metrics, self.kind, config.slow_tick_budget_ms)
        self.gateway = Gateway(config, self.observer)
        self.host = Host(config, definitions, self.observer, self.gateway)
        self.gateway.attach(self.host)
        recording = record_settings(config, defn)
        replays_dir = recording.directory if recording is not None else None
        self.gateway.replays_dir = replays_dir
        self.gateway.routes.add(
            "GET", "/replays", lambda _r: json_response(200, list_recordings(replays_dir))
        )
        if recording is not None:
            settings = recording

            def record(match: Match) -> None:
                attach_recorder(match, settings)

            for game in self.host.directory.games.values():
                game.manager.on_created.append(record)
        self._sweeper: asyncio.Task[None] | None = None
        self._node_stopped = False
        self.drain_requested = asyncio.Event()
        """Set by ``POST /admin/drain``; ``python -m server`` then stops as on SIGTERM."""
        self.drain_grace_s = config.drain_grace_s
        self.admin = register_admin(
            self.gateway, self.host, self.request_drain, lambda: self.audit_handler
        )
        self._matchmaker: asyncio.Task[None] | None = None
        self.trimmer = HeapTrimmer(config.heap_trim_interval_s)
        """Returns freed heap memory to the OS now and then (server/ops/memory.py)."""
        self.node: ClusterNode | None = None
        """Set when ``redis_url`` is configured: this process's directory entries."""
        if config.redis_url:
            # Imported here: redis (~6 MB of RSS) loads only in a clustered server.
            from server.directory.redis_store import RedisDirectory

            node_id = new_node_id(config.node_name)
            for game in self.host.directory.games.values():
                game.manager.id_prefix = qualified_match_id(node_id, "m")
            self.host.queue.id_prefix = qualified_match_id(node_id, "")
            self.host.node_id = node_id
            observer = DirectoryObserver(
                self.metrics, node_id, config.cluster_name, config.directory_ttl_s
            )
            self.node = ClusterNode(
                RedisDirectory(
                    config.redis_url, cluster=config.cluster_name, ttl_s=config.directory_ttl_s
                ),
                node_id,
                public_url="",
                http_url="",
                matches=lambda: directory_records(
                    node_id, self.host.directory, asyncio.get_running_loop().time()
                ),
                load=ProcessLoad(),
                heartbeat_interval_s=config.heartbeat_interval_s,
                on_change=observer,
            )
            observer.watch(self.node.health)
        self.audit_handler: AuditFileHandler | None = None
        self.agones: AgonesLifecycle | None = None
        """Set with ``--agones``: this node's reports to the Agones SDK sidecar."""

    # -- views of the parts (tests, the demo and tools read these) -------------------

    @property
    def conns(self) -> dict[int, Conn]:
        """Open connections by conn id."""
        return self.gateway.conns

    @property
    def manager(self) -> MatchManager:
        """The match directory."""
        return self.host.manager

    @property
    def runners(self) -> dict[str, MatchRunner]:
        """One runner per live match, by match id."""
        return self.host.runners

    @property
    def degrade(self) -> DegradeController:
        """The overload controller."""
        return self.host.degrade

    @property
    def draining(self) -> bool:
        """True once :meth:`stop` started."""
        return self.host.draining

    @property
    def _server(self) -> Any:
        return self.gateway.server

    def _set_degradation(self, level: int) -> None:
        self.host.set_degradation(level)

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return self.gateway.port

    @property
    def url(self) -> str:
        """The websocket URL clients connect to."""
        scheme = "wss" if self.config.tls_cert else "ws"
        return f"{scheme}://{self.config.host}:{self.port}/ws"

    @property
    def http_url(self) -> str:
        """The base HTTP URL (health, metrics, the browser page)."""
        scheme = "https" if self.config.tls_cert else "http"
        return f"{scheme}://{self.config.host}:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the socket, start the first match and the housekeeping task."""
        if self.config.audit_file:
            self.audit_handler = install_audit_file(self.config.audit_file)
        await self.gateway.start()
        for game in self.host.directory.games.values():
            game.manager.create().label_values.update(game.labels)
        if self.node is not None:
            self.node.public_url = self.config.public_url or self.url
            self.node.http_url = self.config.public_http_url or self.http_url
            self.node.start()
            self.gateway.cluster = self.node
            matchmake = self.gateway.matchmake

            async def answer_peer(op: str, body: dict[str, Any]) -> dict[str, Any]:
                if op != "reserve":
                    return {"status": 400, "body": {"error": {"code": "unknown_op", "message": op}}}
                return await matchmake.answer_peer(body)

            self.gateway.router = ClusterRouter(self.node, self.host.directory)
            self.node.serve(answer_peer)
        if self.config.agones:
            directory = self.host.directory
            self.agones = AgonesLifecycle(
                AgonesSdk(sdk_port()),
                on_address=self._agones_address,
                scheme="wss" if self.config.tls_cert else "ws",
                players=lambda: sum(m.players for m in directory.matches()),
                matches=lambda: sum(
                    1 for m in directory.matches() if m.state is not MatchState.ENDED
                ),
            )
            self.agones.start()
        loop = asyncio.get_running_loop()
        self._sweeper = loop.create_task(self._sweep(), name="sweeper")
        self._matchmaker = loop.create_task(
            self.host.queue.loop(self.config.matchmaker_interval_ms / 1000), name="matchmaker"
        )
        log_event(
            log,
            logging.INFO,
            Event.LISTENING,
            "listening on %s (games %s, sync %s)",
            self.url,
            ", ".join(d.name for d in self.definitions),
            self.definition.sync.mode,
        )

    def _agones_address(self, url: str) -> None:
        """The address Agones published for this pod: advertised unless --public-url."""
        if self.node is not None and not self.config.public_url:
            self.node.public_url = url

    def request_drain(self, grace_s: float) -> None:
        """Start a drain now (no joins, SHUTDOWN to clients); the owner of the process
        (``python -m server``) sees :attr:`drain_requested` and finishes :meth:`stop`."""
        self._begin_drain(grace_s)
        self.drain_grace_s = grace_s
        self.drain_requested.set()

    def _begin_drain(self, grace_s: float) -> None:
        """Refuse joins and tell every client (once)."""
        if not self.host.draining:
            self.host.start_draining()
            self.gateway.notify_all(
                encode(MessageType.SHUTDOWN, {"grace_s": grace_s, "reason": "shutdown"})
            )
            self.observer.draining(len(self.conns), grace_s)

    async def stop(self, grace_s: float = 0.0) -> None:
        """Drain: refuse joins, tell clients, let matches play ``grace_s``, then close all."""
        self._begin_drain(grace_s)
        if self.node is not None and not self._node_stopped:
            self._node_stopped = True
            await self.node.stop()
        if grace_s > 0:
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and self.host.connected_players():  # noqa: ASYNC110 - polls runner-owned state
                await asyncio.sleep(0.05)
        tasks = self.host.stop()
        for task in (self._sweeper, self._matchmaker):
            if task is not None:
                task.cancel()
                tasks.append(task)
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.gateway.stop()
        if self.agones is not None:  # the drain is over: Agones may delete the pod now
            await self.agones.shutdown()
            self.agones = None
        log_event(log, logging.INFO, Event.STOPPED, "stopped")
        if self.audit_handler is not None:
            remove_audit_file(self.audit_handler)
            self.audit_handler = None

    async def _sweep(self) -> None:
        """About once a second: flush counters, idle timeouts, expired seats, empty matches."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, self.config.idle_timeout_s / 4))
            self.observer.flush_counters()
            now = loop.time()
            self.gateway.sweep_idle(now)
            self.host.sweep(now)
            self.trimmer.maybe_trim(now)

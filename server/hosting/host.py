"""Hosting: seats clients in matches, runs each match's ticks, delivers what they produce.

:class:`Host` owns the match directory (:class:`~server.hosting.manager.MatchManager`),
one :class:`~server.hosting.runner.MatchRunner` per match (all driven by one shared
:class:`~server.hosting.scheduler.TickScheduler`), the resume-token signer and
the overload controller. It holds no socket: the gateway hands it :class:`Peer` objects
and it writes through a :class:`Transport`. What happens is reported to the
:class:`~server.ops.observer.Observer`, which never steers.

Seating clients (admission, resume, takeover, WELCOME, leave) is the
:class:`~server.hosting.seating.Seating` half of the host.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

from server.config import ServerConfig
from server.core.clock import DueTick
from server.errors import SystemFailed
from server.gamedef.schema import GameDefinition
from server.hosting.directory import Directory
from server.hosting.manager import MatchManager
from server.hosting.queue import QueueService
from server.hosting.runner import MatchRunner
from server.hosting.scheduler import TickScheduler
from server.hosting.seating import Seating
from server.hosting.tickstats import TickStats
from server.hosting.transport import Transport
from server.identity.admission import authenticator_from_config
from server.identity.claims import PlayerIdentity
from server.match.match import Match, MatchState, TickOutput
from server.match.result import MatchResult
from server.match.tokens import TokenSigner
from server.matchmaking.ratelimit import AddressLimiter
from server.matchmaking.reservations import ReservationBook
from server.net.codec import encode
from server.net.protocol import CloseCode, MessageType
from server.ops.degrade import DegradeController
from server.ops.observer import Observer


class Host(Seating):
    """Every match of every game of this process; see the module docstring."""

    def __init__(
        self,
        config: ServerConfig,
        definitions: list[GameDefinition] | GameDefinition,
        observer: Observer,
        transport: Transport,
    ) -> None:
        if isinstance(definitions, GameDefinition):
            definitions = [definitions]
        self.config = config
        self.definition = definitions[0]
        self.observer = observer
        self.transport = transport
        self.writable: Callable[[object], bool] = transport.writable
        """Runner hook: a connection can take a new state frame if its unsent bytes are
        under the limit. The transport's own method, bound once: it is asked once per
        seat per tick."""
        self.reservations = ReservationBook(config.seat_reservation_s)
        per_min = config.code_attempts_per_min
        self.directory = Directory(
            definitions,
            config.max_matches,
            self.reservations,
            AddressLimiter(per_min / 60, per_min),
        )
        self.observers: dict[str, Observer] = {}
        for game in self.directory.games.values():
            game.manager.on_created.append(self._start_runner)
            kind = f"{game.name}/{game.definition.sync.mode}"
            if kind == observer.kind:
                self.observers[game.name] = observer
            else:
                other = Observer(observer.metrics, kind, observer.slow_tick_budget_ms)
                observer.siblings.append(other)  # flushed with the server's observer
                self.observers[game.name] = other
        self.queue = QueueService(
            self.directory,
            config.ticket_ttl_s,
            config.matchmaker_widen_per_s,
            config.max_tickets_per_address,
        )
        self.runners: dict[str, MatchRunner] = {}
        self.scheduler = TickScheduler(
            config.max_catchup_ticks,
            spin_s=config.tick_spin_ms / 1000.0,
            batching=config.batch_matches,
        )
        """One task per tick rate drives every match's runner (server.hosting.scheduler)."""
        self.signer = TokenSigner()
        self.degrade = DegradeController()
        self.draining = False
        self.node_id: str | None = None
        """This process's node id in a cluster (set by the app), else None."""
        """True once a drain started: no new joins, no new matches."""
        self._player_ids = itertools.count(1)
        self._used_nonces: set[str] = set()
        self.auth = authenticator_from_config(config)
        self.bans = self.auth.bans
        self.identities: dict[tuple[str, int], PlayerIdentity] = {}
        """(match id, player id) -> who holds that seat (kept until the match is gone)."""
        self._seat_of_sub: dict[str, tuple[str, int]] = {}
        self.tick_stats: dict[str, TickStats] = {}
        """Recent tick timings per match id (the admin API's match view)."""
        self.locked: set[str] = set()
        """Match ids locked by an admin: no new joins (resumes and takeovers still work)."""
        self.directory.locked = self.locked

    @property
    def manager(self) -> MatchManager:
        """The default (first) game's match manager."""
        return self.directory.games[self.directory.default].manager

    def observer_for(self, match: Match) -> Observer:
        """The observer of the match's game (metrics labelled ``<game>/<sync>``)."""
        return self.observers.get(match.definition.name, self.observer)

    # -- matches ---------------------------------------------------------------------

    def _start_runner(self, match: Match) -> None:
        match.interest.far_every = 2 if self.degrade.level >= 1 else 1
        runner = MatchRunner(match, self, self.config.max_catchup_ticks)
        self.runners[match.match_id] = runner
        self.scheduler.add(runner)
        self.observer_for(match).match_created(match)

    def end_match(self, match: Match, code: CloseCode, reason: str) -> None:
        """End ``match``: close its connections with ``code`` and stop its runner."""
        for seat in match.end(reason):
            self.transport.close_seat(seat, code, reason)
        runner = self.runners.pop(match.match_id, None)
        if runner is not None:
            runner.stop()
        self.directory.forget(match)

    def start_draining(self) -> None:
        """Refuse joins and new matches from now on."""
        self.draining = True
        for game in self.directory.games.values():
            game.manager.accepting_matches = False

    def connected_players(self) -> int:
        """Players with an open connection in running matches (a drain waits for these)."""
        return sum(
            m.connected_players for m in self.directory.matches() if m.state is MatchState.RUNNING
        )

    def stop(self) -> list[asyncio.Future[None]]:
        """Stop every runner and end every match (SERVER_SHUTDOWN); what to await.

        The scheduler's rate tasks end at their next wake-up (they have no runner left).
        """
        for runner in self.runners.values():
            runner.stop()
        for match in list(self.directory.matches()):
            self.end_match(match, CloseCode.SERVER_SHUTDOWN, "server shutdown")
        done: list[asyncio.Future[None]] = [
            r.task for r in self.runners.values() if r.task is not None
        ]
        return [*done, *self.scheduler.tasks()]

    def set_degradation(self, level: int) -> None:
        """Apply a new overload level (server.ops.degrade): gauge, log, match and join gates."""
        self.observer.degradation(level)
        for game in self.directory.games.values():
            game.manager.accepting_matches = not self.draining and not self.degrade.refuse_matches
        for match in self.directory.matches():
            # Level 1 and up: far entities get every other snapshot (state sync).
            match.interest.far_every = 2 if level >= 1 else 1

    def sweep(self, now_s: float) -> None:
        """Housekeeping (about once a second): expire dropped seats, retire empty matches."""
        cfg = self.config
        for match in list(self.directory.matches()):
            if match.state is MatchState.ENDED:
                continue
            for seat in match.expire_dropped(now_s, cfg.reconnect_grace_s):
                self.observer_for(match).seat_expired(seat, match)
        self.reservations.expire(now_s)
        for game in self.directory.games.values():
            retired = game.manager.retire_empty(time.perf_counter(), cfg.empty_match_grace_s)
            for match in retired:
                if self.reservations.held(match.match_id, now_s):
                    continue  # a reserved seat is on its way
                self.observer_for(match).match_retired(match)
                self.end_match(match, CloseCode.MATCH_ENDED, "empty")
            game.manager.forget_ended()
        live = {m.match_id for m in self.directory.matches()}
        for key in [k for k in self.identities if k[0] not in live]:
            del self.identities[key]
        for mid in [m for m in self.tick_stats if m not in live]:
            del self.tick_stats[mid]
        for sub in [s for s, k in self._seat_of_sub.items() if k[0] not in live]:
            del self._seat_of_sub[sub]
        self.locked &= live

    def matches_by_state(self) -> dict[str, int]:
        """How many matches are in each state (for the gauges)."""
        counts = {str(s): 0 for s in MatchState}
        for m in self.directory.matches():
            counts[str(m.state)] += 1
        return counts

    # -- runner hooks (server.hosting.runner.RunnerHooks) ------------------------------------

    def deliver(self, match: Match, out: TickOutput) -> None:
        """Write a tick's frames synchronously (no awaiting on the tick path)."""
        t0 = time.perf_counter()
        if out.frames:
            n, size = self.transport.send_each(out.frames)
            self.observer.state_sent(n, size, match.interest.last_stats)
        if out.skipped_slow:
            self.observer.slow_readers_skipped(out.skipped_slow)
        if out.broadcast is not None:
            conns, payload = out.broadcast
            floor = self.config.send_buffer_limit_bytes
            limit = max(floor, len(payload) * match.definition.lockstep.max_send_queue_frames)
            sent = self.transport.send_shared(conns, payload, limit)
            self.observer.lockstep_sent(sent, len(payload))
        self.observer.send_time(time.perf_counter() - t0)
        if out.match_result is not None:
            self.finish_match(match, out.match_result)

    def finish_match(self, match: Match, result: MatchResult) -> None:
        """The game ended the match: RESULT to every client, then close MATCH_ENDED."""
        payload = encode(MessageType.RESULT, result.to_wire())
        conns = [s.conn for s in match.by_player.values() if s.conn is not None]
        conns.extend(s.conn for s in match.spectators.values() if s.conn is not None)
        self.transport.send_each([(c, payload) for c in conns])
        self.observer.match_result(match, result)
        self.end_match(match, CloseCode.MATCH_ENDED, f"match ended: {result.reason}")

    def observe_tick(self, match: Match, due: DueTick, out: TickOutput, work_s: float) -> None:
        """Export a tick's timings and feed the overload controller."""
        overrun = work_s > match.definition.dt_s
        self.observer_for(match).tick(match, due, out, work_s, overrun)
        stats = self.tick_stats.get(match.match_id)
        if stats is None:
            stats = self.tick_stats[match.match_id] = TickStats()
        stats.record(work_s, out.result)
        level = self.degrade.observe(overrun)
        if level is not None:
            self.set_degradation(level)

    def observe_skipped(self, match: Match, skipped: int) -> None:
        """Export skipped deadlines."""
        self.observer_for(match).skipped(match, skipped)

    def match_failed(self, match: Match, error: SystemFailed) -> None:
        """End the failed match only; its players are closed with MATCH_FAILED."""
        self.observer_for(match).match_failed()
        self.end_match(match, CloseCode.MATCH_FAILED, f"system {error.system} failed")

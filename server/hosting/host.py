"""Hosting: seats clients in matches, runs each match's ticks, delivers what they produce.

:class:`Host` owns the match directory (:class:`~server.hosting.manager.MatchManager`),
one :class:`~server.hosting.runner.MatchRunner` per match (all driven by one shared
:class:`~server.hosting.scheduler.TickScheduler`), the resume-token signer and
the overload controller. It holds no socket: the gateway hands it :class:`Peer` objects
and it writes through a :class:`Transport`. What happens is reported to the
:class:`~server.ops.observer.Observer`, which never steers.

Admission order (after the gateway has a decoded HELLO): protocol version → token
(:class:`~server.identity.admission.Authenticator`: BAD_TOKEN with the reason class) →
ban (BANNED) → draining → overload → resume or join. A refusal is a :class:`Refusal` the
gateway turns into a close.

Identity: a seat belongs to a player ``sub`` (:attr:`Host.identities`). A signed ``sub``
holds at most one player seat on this server: a second login takes the seat over and
the older connection is closed with KICKED. Resume tokens are bound to the ``sub``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass

from server.config import ServerConfig
from server.core.clock import DueTick
from server.directory.records import node_of_match
from server.errors import JoinRejected, MatchFull, MatchNotFound, SystemFailed
from server.gamedef.schema import GameDefinition
from server.hosting.directory import CodeAttemptsLimited, Directory
from server.hosting.manager import MatchManager
from server.hosting.queue import QueueService
from server.hosting.runner import MatchRunner
from server.hosting.scheduler import TickScheduler
from server.hosting.tickstats import TickStats
from server.hosting.transport import Peer, Transport
from server.hosting.welcome import SPECTATOR_SEAT, welcome_body
from server.identity.admission import Banned, authenticator_from_config
from server.identity.claims import ROLE_SPECTATOR_ONLY, PlayerIdentity
from server.identity.verify import TokenRejected
from server.match.handler import LeaveReason
from server.match.match import Match, MatchState, Seat, TickOutput
from server.match.result import MatchResult
from server.match.tokens import TokenSigner
from server.matchmaking.errors import MatchmakingError
from server.matchmaking.ratelimit import AddressLimiter
from server.matchmaking.requests import JoinRequest, join_request
from server.matchmaking.reservations import ReservationBook, ReservationError
from server.net.codec import encode
from server.net.messages import Hello
from server.net.protocol import PROTOCOL_VERSION, CloseCode, ErrorCode, MessageType
from server.ops.degrade import DegradeController
from server.ops.observer import Observer


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a HELLO was not seated: the close code and an optional reason text."""

    code: CloseCode
    reason: str | None = None


class Host:
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
            self.observers[game.name] = (
                observer
                if kind == observer.kind
                else Observer(observer.metrics, kind, observer.slow_tick_budget_ms)
            )
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

    def writable(self, conn: object) -> bool:
        """A connection can take a new state frame if its unsent bytes are under the limit."""
        return self.transport.writable(conn)

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

    # -- seats -----------------------------------------------------------------------------

    def admit(self, conn: Peer, hello: Hello, now_s: float) -> Refusal | None:
        """Seat ``conn`` (join, spectate or resume) per the module's order; None if seated."""
        if hello.version != PROTOCOL_VERSION:
            self.observer.protocol_error(CloseCode.VERSION_MISMATCH)
            return Refusal(
                CloseCode.VERSION_MISMATCH,
                f"server speaks protocol {PROTOCOL_VERSION}, client {hello.version}",
            )
        try:
            identity = self.auth.admit(hello.token, time.time())
        except TokenRejected as exc:
            self.observer.auth_rejected(conn, str(exc.reason), exc.detail)
            return Refusal(CloseCode.BAD_TOKEN, f"bad token: {exc.reason}")
        except Banned as exc:
            self.observer.banned(conn, exc.identity.sub, exc.ban.reason)
            return Refusal(CloseCode.BANNED, f"banned: {exc.ban.reason}"[:120])
        if self.draining:
            return Refusal(CloseCode.SERVER_BUSY, "server is draining")
        if self.degrade.refuse_joins and not hello.resume:
            return Refusal(CloseCode.SERVER_BUSY, "server is overloaded")
        if hello.resume:
            code = self._resume(conn, hello.resume, now_s, identity)
            if code is not None:
                self.observer.resume_rejected(conn, code)
                return Refusal(code)
            return None
        spectate = hello.spectate or identity.has_role(ROLE_SPECTATOR_ONLY)
        held = None if spectate else self.seat_held_by(identity.sub)
        if held is not None:
            match, seat = held
            self._take_over(conn, seat, match, now_s, "seat taken over by a new login")
            self.observer.taken_over(conn, identity.sub, seat, match)
            return None
        address = str(conn.session.extra.get("address", "?"))
        try:
            if hello.reservation:
                res = self.reservations.redeem(hello.reservation, now_s)
                spectate = spectate or bool(res.info.get("spectate", False))
                found = self.directory.find(res.match_id)
                if found is None:
                    raise MatchNotFound("the reservation's match has ended")
                match = found
            else:
                match = self.directory.choose(join_request_of(hello, spectate), now_s, address)
            screen = getattr(match.handler, "identity_attempt", None)
            refused = screen(match, identity, spectate) if screen is not None else None
            if refused is not None:
                raise JoinRejected(str(refused))
            player_id = next(self._player_ids)
            seat = match.join(player_id, conn, spectator=spectate)
        except ReservationError as exc:
            self.observer.reservation_refused(conn, exc.code)
            return Refusal(exc.close_code, exc.message)
        except MatchmakingError as exc:  # e.g. labels over the caps in create
            return Refusal(CloseCode.MALFORMED_MESSAGE, exc.message[:120])
        except MatchFull as exc:
            return Refusal(CloseCode.MATCH_FULL, exc.reason[:120])
        except JoinRejected as exc:
            if hello.code is not None:
                self.observer.code_attempt(
                    address, ok=False, limited=isinstance(exc, CodeAttemptsLimited)
                )
            self.observer.join_rejected(conn, exc.reason)
            return Refusal(CloseCode(exc.close_code), exc.reason[:120])
        if hello.code is not None:
            self.observer.code_attempt(address, ok=True, limited=False)
        conn.seat, conn.match = seat, match
        conn.session.inputs = match.input_decoder
        self.identities[(match.match_id, player_id)] = identity
        if identity.verified and not spectate:
            self._seat_of_sub[identity.sub] = (match.match_id, player_id)
        self.observer_for(match).joined(conn, player_id, match, seat, identity.sub)
        return None

    def identity_of(self, match: Match, seat: Seat) -> PlayerIdentity | None:
        """Who holds ``seat`` (None for a seat this host did not admit)."""
        return self.identities.get((match.match_id, seat.player_id))

    def seat_held_by(self, sub: str) -> tuple[Match, Seat] | None:
        """The live player seat of signed player ``sub``, if it holds one."""
        key = self._seat_of_sub.get(sub)
        if key is None:
            return None
        match = self.directory.find(key[0])
        seat = match.by_player.get(key[1]) if match is not None else None
        if match is None or seat is None:
            del self._seat_of_sub[sub]
            return None
        return match, seat

    def _take_over(self, conn: Peer, seat: Seat, match: Match, now_s: float, why: str) -> None:
        """Seat ``conn`` on ``seat``; an older connection on it is closed with KICKED."""
        if seat.conn is not None:
            old = seat.conn
            old.seat = None
            self.transport.close_soon(old, CloseCode.KICKED, why)
            match.drop(seat, now_s)
        match.resume(seat, conn)
        conn.seat, conn.match = seat, match
        conn.session.inputs = match.input_decoder

    def _bound_sub(self, identity: PlayerIdentity | None) -> str:
        """What a resume token is bound to: the signed sub, or "" (anonymous players)."""
        return identity.sub if identity is not None and identity.verified else ""

    def _resume(
        self, conn: Peer, token: str, now_s: float, identity: PlayerIdentity
    ) -> CloseCode | None:
        claimed = TokenSigner.peek(token)
        owner = node_of_match(claimed.match_id) if claimed is not None else None
        if self.node_id is not None and owner is not None and owner != self.node_id:
            return CloseCode.NODE_GONE  # another (dead, restarted) node's seat: matchmake
        claim = self.signer.verify(token, self._bound_sub(identity))
        if claim is None:
            return CloseCode.RESUME_FORGED
        if claim.nonce in self._used_nonces:
            return CloseCode.RESUME_REUSED
        match = self.directory.find(claim.match_id)
        seat = match.by_player.get(claim.player_id) if match is not None else None
        if match is None or seat is None:
            return CloseCode.RESUME_EXPIRED
        if seat.resume_nonce != claim.nonce:
            # A newer token was issued for this seat: this one was already used.
            return CloseCode.RESUME_REUSED
        self._used_nonces.add(claim.nonce)
        # Two connections claim one seat: the newest with a valid token wins, the old
        # connection is closed as replaced.
        self._take_over(conn, seat, match, now_s, "seat taken over by a resumed session")
        self.observer.resumed(conn, seat, match)
        return None

    def welcome(
        self, seat: Seat, match: Match, resumed: bool, last_frame: int | None
    ) -> list[bytes]:
        """The messages a seated client gets first: WELCOME, then (lockstep) its catch-up.

        Lockstep catch-up: the frames after ``last_frame`` if they are all still kept,
        else a CHECKPOINT of the world after the last frame.
        """
        identity = self.identity_of(match, seat)
        token, nonce = self.signer.issue(match.match_id, seat.player_id, self._bound_sub(identity))
        seat.resume_nonce = nonce
        body = welcome_body(
            match,
            seat,
            token,
            resumed,
            sub=identity.sub if identity is not None else "",
            name=identity.name if identity is not None else "",
        )
        messages = [encode(MessageType.WELCOME, body)]
        if match.mode == "lockstep":
            frames = match.lockstep_frames_since(last_frame) if last_frame is not None else None
            if frames is not None:
                messages.extend(frames)
            else:
                messages.append(encode(MessageType.CHECKPOINT, match.lockstep_checkpoint()))
        return messages

    def receive_checksum(
        self, conn: Peer, seat: Seat, match: Match, frame: int, checksum: int
    ) -> bytes | None:
        """A client's lockstep checksum: the ERROR or DESYNC message to answer, or None."""
        if match.mode != "lockstep":
            return error_message(ErrorCode.NOT_IN_LOCKSTEP, "not a lockstep match")
        bad = match.receive_checksum(seat, frame, checksum)
        if bad is None:
            return None
        self.observer_for(match).desync(conn, seat, match, bad)
        return encode(
            MessageType.DESYNC,
            {
                "frame": bad,
                "player_id": seat.player_id,
                "seat": SPECTATOR_SEAT if seat.spectator else seat.seat,
            },
        )

    def leave(self, conn: Peer, seat: Seat, match: Match) -> None:
        """The player said LEAVE: free the seat for good."""
        match.leave(seat, LeaveReason.CONSENTED)
        self.observer_for(match).left(conn, seat, match)
        conn.seat = None

    def detach(self, conn: Peer, now_s: float) -> None:
        """The connection is gone: a player's seat is held (dropped), a spectator leaves."""
        seat, match = conn.seat, conn.match
        conn.seat = None
        if seat is None or match is None or match.state is MatchState.ENDED:
            return
        if seat.conn is not conn:
            return
        if seat.spectator:
            match.leave(seat, LeaveReason.CONSENTED)
            return
        match.drop(seat, now_s)
        self.observer_for(match).dropped(conn, seat, match)


def join_request_of(hello: Hello, spectate: bool) -> JoinRequest:
    """The match choice a HELLO makes (its fields were checked by the codec)."""
    return join_request(
        {
            "game": hello.game,
            "match_id": hello.match_id,
            "create": hello.create,
            "code": hello.code,
            "filters": hello.filters,
            "spectate": spectate,
        }
    )


def error_message(code: ErrorCode, reason: str, seq: int | None = None) -> bytes:
    """An encoded non-fatal ERROR message (with ``seq`` when it is about a numbered input)."""
    if seq is None:
        return encode(MessageType.ERROR, {"code": int(code), "reason": reason})
    return encode(MessageType.ERROR, {"code": int(code), "reason": reason, "seq": seq})

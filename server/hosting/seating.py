"""Seating: admission of a HELLO, resume, takeover, WELCOME, leave and detach.

:class:`Seating` is the seat half of :class:`~server.hosting.host.Host` (a mixin: the
host's ``__init__`` sets every attribute declared here). Admission order (after the
gateway has a decoded HELLO): protocol version → token
(:class:`~server.identity.admission.Authenticator`: BAD_TOKEN with the reason class) →
ban (BANNED) → draining → overload → resume or join. A refusal is a :class:`Refusal` the
gateway turns into a close.

Identity: a seat belongs to a player ``sub`` (:attr:`Seating.identities`). A signed ``sub``
holds at most one player seat on this server: a second login takes the seat over and
the older connection is closed with KICKED. Resume tokens are bound to the ``sub``.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from server.directory.records import node_of_match
from server.errors import JoinRejected, MatchFull, MatchNotFound
from server.hosting.directory import CodeAttemptsLimited, Directory
from server.hosting.transport import Peer, Transport
from server.hosting.welcome import SPECTATOR_SEAT, welcome_body
from server.identity.admission import Authenticator, Banned
from server.identity.claims import ROLE_SPECTATOR_ONLY, PlayerIdentity
from server.identity.verify import TokenRejected
from server.match.handler import LeaveReason
from server.match.match import Match, MatchState, Seat
from server.match.tokens import TokenSigner
from server.matchmaking.errors import MatchmakingError
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


class Seating:
    """Seating clients (see the module docstring); mixed into the host."""

    observer: Observer
    transport: Transport
    directory: Directory
    reservations: ReservationBook
    degrade: DegradeController
    signer: TokenSigner
    auth: Authenticator
    draining: bool
    node_id: str | None
    identities: dict[tuple[str, int], PlayerIdentity]
    _player_ids: itertools.count[int]
    _used_nonces: set[str]
    _seat_of_sub: dict[str, tuple[str, int]]

    def observer_for(self, match: Match) -> Observer:
        """The observer of the match's game (the host's override picks per game)."""
        raise NotImplementedError

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

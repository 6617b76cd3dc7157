"""Seat reservations: a signed, single-use claim on one seat of one match, for a while.

The HTTP matchmaking routes reserve a seat and hand the client a token; the client opens
the websocket and says ``HELLO {reservation: token}``. A token is
``<match_id>.<expires_ms>.<nonce>.<signature>``, the signature an HMAC-SHA256 over the
first three parts (with a ``seat:`` domain prefix, so a resume token never verifies as a
reservation) -- the same scheme as resume tokens (:mod:`server.match.tokens`).

A pending reservation counts against its match's capacity until it is redeemed (the
player then holds a real seat) or it expires after ``ttl_s`` (``seat_reservation_s``,
15 s by default). Redeeming checks, in order: the signature (else
:class:`ReservationForged`, close 4022), a second use within the token's lifetime
(:class:`ReservationUsed`, 4024), the time (:class:`ReservationExpired`, 4023; also a
reservation released because its match ended, and any replay after the token's expiry).
Times are passed in (seconds, one monotonic origin for a book). Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from server.matchmaking.errors import MatchmakingError
from server.net.protocol import CloseCode

DEFAULT_TTL_S = 15.0
MAX_TOKEN_CHARS = 256


class ReservationError(MatchmakingError):
    """A reservation that cannot be redeemed; ``close_code`` is the websocket answer."""

    close_code = CloseCode.RESERVATION_FORGED
    status = 403


class ReservationForged(ReservationError):
    """The token does not verify (garbled, altered, or signed by another server)."""

    code = "reservation_forged"
    close_code = CloseCode.RESERVATION_FORGED


class ReservationExpired(ReservationError):
    """The reservation's time ran out (or its match ended) before it was used."""

    code = "reservation_expired"
    close_code = CloseCode.RESERVATION_EXPIRED


class ReservationUsed(ReservationError):
    """The reservation was already redeemed once."""

    code = "reservation_used"
    close_code = CloseCode.RESERVATION_USED


@dataclass(frozen=True, slots=True)
class Reservation:
    """One held seat: what the token names, plus what the reserver asked for."""

    token: str
    match_id: str
    nonce: str
    expires_s: float
    info: Mapping[str, Any] = field(default_factory=dict)
    """Carried to the join: e.g. the player's name, or ``spectate``."""


class ReservationBook:
    """Issues, counts, expires and redeems the reservations of one process."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S, secret: bytes | None = None) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be > 0")
        self.ttl_s = ttl_s
        self._secret = secret or secrets.token_bytes(32)
        self._pending: dict[str, Reservation] = {}
        """nonce -> reservation not yet redeemed nor expired."""
        self._per_match: dict[str, int] = {}
        self._used: dict[str, float] = {}
        """nonce -> expiry of redeemed reservations (kept until the token itself expires)."""
        self._deadlines: list[tuple[float, str]] = []
        self.expired_total = 0

    def _sign(self, text: str) -> str:
        mac = hmac.new(self._secret, b"seat:" + text.encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def reserve(
        self, match_id: str, now_s: float, info: Mapping[str, Any] | None = None
    ) -> Reservation:
        """Hold a seat of ``match_id`` for ``ttl_s``; the caller has checked there is room."""
        if not match_id or "." in match_id:
            raise ValueError(f"match id {match_id!r} cannot carry a reservation")
        nonce = secrets.token_urlsafe(12)
        expires_s = now_s + self.ttl_s
        text = f"{match_id}.{round(expires_s * 1000)}.{nonce}"
        res = Reservation(f"{text}.{self._sign(text)}", match_id, nonce, expires_s, info or {})
        self._pending[nonce] = res
        self._per_match[match_id] = self._per_match.get(match_id, 0) + 1
        heapq.heappush(self._deadlines, (expires_s, nonce))
        return res

    def held(self, match_id: str, now_s: float) -> int:
        """Seats of the match that pending reservations hold at ``now_s``."""
        self.expire(now_s)
        return self._per_match.get(match_id, 0)

    def pending(self) -> int:
        """Reservations pending in the whole process."""
        return len(self._pending)

    def peek(self, token: str) -> tuple[str, str, float] | None:
        """``(match_id, nonce, expires_s)`` of a well-signed token, None if forged/garbled."""
        if len(token) > MAX_TOKEN_CHARS:
            return None
        parts = token.split(".")
        if len(parts) != 4:
            return None
        match_id, expires_ms, nonce, sig = parts
        if not hmac.compare_digest(sig, self._sign(f"{match_id}.{expires_ms}.{nonce}")):
            return None
        try:
            return match_id, nonce, int(expires_ms) / 1000
        except ValueError:
            return None

    def redeem(self, token: str, now_s: float) -> Reservation:
        """Consume the reservation (raise :class:`ReservationError` if it cannot be)."""
        claim = self.peek(token)
        if claim is None:
            raise ReservationForged("reservation does not verify")
        _, nonce, expires_s = claim
        self.expire(now_s)
        if nonce in self._used:
            raise ReservationUsed("reservation was already used")
        res = self._pending.get(nonce)
        if res is None or now_s >= expires_s:
            raise ReservationExpired("reservation expired before it was used")
        self._drop(res)
        self._used[nonce] = res.expires_s
        return res

    def release_match(self, match_id: str) -> int:
        """Forget every pending reservation of an ended match; how many there were."""
        gone = [r for r in self._pending.values() if r.match_id == match_id]
        for r in gone:
            self._drop(r)
        return len(gone)

    def expire(self, now_s: float) -> dict[str, int]:
        """Drop reservations whose time is up; ``{match_id: seats freed}``."""
        freed: dict[str, int] = {}
        while self._deadlines and self._deadlines[0][0] <= now_s:
            _, nonce = heapq.heappop(self._deadlines)
            self._used.pop(nonce, None)
            res = self._pending.get(nonce)
            if res is not None:
                self._drop(res)
                freed[res.match_id] = freed.get(res.match_id, 0) + 1
                self.expired_total += 1
        return freed

    def _drop(self, res: Reservation) -> None:
        del self._pending[res.nonce]
        left = self._per_match[res.match_id] - 1
        if left:
            self._per_match[res.match_id] = left
        else:
            del self._per_match[res.match_id]

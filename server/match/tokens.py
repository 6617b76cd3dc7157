"""Resume tokens: signed, single-use tickets back into a dropped seat.

A token is ``<match_id>.<player_id>.<nonce>.<signature>``; the signature is an
HMAC-SHA256 over the first three parts *and the seat's player identity* (``sub``, which
the token does not spell out) with the server's secret, so a token is bound to the player
it was issued to: presented with another ``sub``, it does not verify. A token whose
signature does not verify is *forged*; one whose seat has expired is *stale*; one whose
nonce was already consumed is *reused*. Every welcome issues a fresh token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ResumeClaim:
    """What a verified token names."""

    match_id: str
    player_id: int
    nonce: str


class TokenSigner:
    """Issues and verifies resume tokens with one process-wide secret."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def _sign(self, text: str, sub: str) -> str:
        message = f"{text}\x00{sub}".encode()
        mac = hmac.new(self._secret, message, hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue(self, match_id: str, player_id: int, sub: str = "") -> tuple[str, str]:
        """A fresh ``(token, nonce)`` for the seat of player ``sub``."""
        nonce = secrets.token_urlsafe(9)
        text = f"{match_id}.{player_id}.{nonce}"
        return f"{text}.{self._sign(text, sub)}", nonce

    @staticmethod
    def peek(token: str) -> ResumeClaim | None:
        """What a token *claims* (unverified): to find the seat whose ``sub`` verifies it."""
        parts = token.split(".")
        if len(parts) != 4:
            return None
        match_id, player, nonce, _sig = parts
        try:
            return ResumeClaim(match_id, int(player), nonce)
        except ValueError:
            return None

    def verify(self, token: str, sub: str = "") -> ResumeClaim | None:
        """The claim of a token well signed for ``sub``, or None (forged, garbled, or
        issued to another player)."""
        claim = self.peek(token)
        if claim is None:
            return None
        text, _, sig = token.rpartition(".")
        if not hmac.compare_digest(sig, self._sign(text, sub)):
            return None
        return claim

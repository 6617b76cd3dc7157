"""Resume tokens: signed, single-use tickets back into a dropped seat.

A token is ``<match_id>.<player_id>.<nonce>.<signature>``; the signature is an
HMAC-SHA256 over the first three parts with the server's secret. A token whose
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

    def _sign(self, text: str) -> str:
        mac = hmac.new(self._secret, text.encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue(self, match_id: str, player_id: int) -> tuple[str, str]:
        """A fresh ``(token, nonce)`` for the player's seat."""
        nonce = secrets.token_urlsafe(9)
        text = f"{match_id}.{player_id}.{nonce}"
        return f"{text}.{self._sign(text)}", nonce

    def verify(self, token: str) -> ResumeClaim | None:
        """The claim of a well-signed token, or None if it is forged or garbled."""
        parts = token.split(".")
        if len(parts) != 4:
            return None
        match_id, player, nonce, sig = parts
        if not hmac.compare_digest(sig, self._sign(f"{match_id}.{player}.{nonce}")):
            return None
        try:
            return ResumeClaim(match_id, int(player), nonce)
        except ValueError:
            return None

"""JWT verification for player and admin tokens, with PyJWT.

Security rests on three choices, each a known JWT pitfall (RFC 8725):

- **The algorithms come from the key, never from the token.** A secret file allows
  exactly ``HS256``; a public key file allows exactly the one family its key type signs
  with (RSA -> ``RS256``, Ed25519/Ed448 -> ``EdDSA``, EC P-256 -> ``ES256``). So
  ``alg: none`` and the classic "HS256 signed with the server's *public* key" forgery are
  both refused as :attr:`RejectReason.ALGORITHM` before any signature is computed.
- **Size first.** A token longer than ``max_token_bytes`` is refused before it is parsed.
- **Claims are required and checked**: ``exp`` and ``sub`` must be present; ``nbf`` and
  ``iat`` are honoured; ``aud`` and ``iss`` are checked when configured (a token that
  carries an ``aud`` is refused by a server that expects none). ``leeway_s`` absorbs clock
  skew between the token issuer and this server.

Every failure raises :class:`TokenRejected` with one :class:`RejectReason`: a short,
stable class that goes into the close reason, the metric label and the audit line. The
token itself goes into none of them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from server.errors import GameServerError
from server.identity.claims import ClaimsInvalid, PlayerIdentity, identity_from_claims

# PyJWT and cryptography (~9 MB of RSS, a second of start-up on a loaded machine) are
# imported on first use: a server without JWT keys never loads them.

MIN_SECRET_BYTES = 32
"""HS256 secrets shorter than this are refused at start (RFC 7518 §3.2: key >= hash size)."""
MIN_RSA_BITS = 2048
DEFAULT_MAX_TOKEN_BYTES = 2048
"""A token with a handful of claims is 200-600 bytes; anything much larger is an attack."""
REQUIRED_CLAIMS = ("exp", "sub")


class RejectReason(StrEnum):
    """Why a token was refused: the class sent in the close reason ``bad token: <class>``."""

    MISSING = "missing"
    """No token where one is required."""
    OVERSIZED = "oversized"
    """Longer than ``max_token_bytes``."""
    MALFORMED = "malformed"
    """Not three base64url segments of JSON, or not a string at all."""
    ALGORITHM = "algorithm"
    """An ``alg`` other than the one the configured key allows (``none`` included)."""
    SIGNATURE = "signature"
    """The signature does not verify with the configured key."""
    EXPIRED = "expired"
    """``exp`` is in the past (beyond the leeway)."""
    NOT_YET_VALID = "not_yet_valid"
    """``nbf`` or ``iat`` is in the future (beyond the leeway)."""
    AUDIENCE = "audience"
    """``aud`` missing, or not the configured audience."""
    ISSUER = "issuer"
    """``iss`` missing, or not the configured issuer."""
    CLAIMS = "claims"
    """A required claim is missing, or a claim has the wrong type or shape."""


class TokenRejected(GameServerError):
    """A token failed verification; ``reason`` is its class, ``detail`` a safe sentence.

    ``detail`` never contains the token or any claim value: it is written to logs.
    """

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail or str(reason)
        super().__init__(f"token rejected ({reason}): {self.detail}")


class KeyConfigError(GameServerError):
    """A key file cannot be used: names the file, what was expected and what was found."""

    def __init__(self, path: str, expected: str, got: str) -> None:
        self.path = path
        super().__init__(f"{path}: expected {expected}, got {got}")


@functools.cache
def _jwt() -> Any:
    import jwt

    return jwt


@functools.cache
def _reasons() -> tuple[tuple[type[Exception], RejectReason], ...]:
    """PyJWT's exceptions, most specific first (several derive from DecodeError)."""
    jwt = _jwt()
    return (
        (jwt.ExpiredSignatureError, RejectReason.EXPIRED),
        (jwt.ImmatureSignatureError, RejectReason.NOT_YET_VALID),
        (jwt.InvalidAudienceError, RejectReason.AUDIENCE),
        (jwt.InvalidIssuerError, RejectReason.ISSUER),
        (jwt.InvalidAlgorithmError, RejectReason.ALGORITHM),
        (jwt.InvalidSignatureError, RejectReason.SIGNATURE),
        (jwt.MissingRequiredClaimError, RejectReason.CLAIMS),
        (jwt.exceptions.InvalidSubjectError, RejectReason.CLAIMS),
        (jwt.exceptions.InvalidJTIError, RejectReason.CLAIMS),
        (jwt.InvalidIssuedAtError, RejectReason.CLAIMS),
        (jwt.InvalidKeyError, RejectReason.ALGORITHM),
        (jwt.DecodeError, RejectReason.MALFORMED),
    )


def reason_of(exc: Exception) -> RejectReason:
    """The reject class of one of PyJWT's exceptions."""
    for kind, reason in _reasons():
        if isinstance(exc, kind):
            return reason
    return RejectReason.MALFORMED


def algorithms_for_public_key(key: object, path: str) -> tuple[str, ...]:
    """The single algorithm family a public key verifies; KeyConfigError for others."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyConfigError(path, f"an RSA key of >= {MIN_RSA_BITS} bits", str(key.key_size))
        return ("RS256",)
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return ("EdDSA",)
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return ("ES256",)
    raise KeyConfigError(path, "an RSA, Ed25519/Ed448 or P-256 public key", type(key).__name__)


def read_secret_file(path: str | Path) -> bytes:
    """The HS256 secret in ``path`` (surrounding whitespace stripped), >= 32 bytes."""
    p = Path(path)
    try:
        secret = p.read_bytes().strip()
    except OSError as exc:
        raise KeyConfigError(str(p), "a readable secret file", exc.strerror or str(exc)) from exc
    if len(secret) < MIN_SECRET_BYTES:
        raise KeyConfigError(str(p), f"a secret of >= {MIN_SECRET_BYTES} bytes", f"{len(secret)}")
    return secret


@dataclass(frozen=True, slots=True)
class JwtVerifier:
    """Verifies tokens against one key; see the module docstring for the rules.

    ``key`` is the HS256 secret (bytes) or a loaded public key object, ``algorithms`` the
    allowed ``alg`` values (derived from the key by the constructors below; never from a
    token). ``leeway_s`` is the clock skew allowed on ``exp``/``nbf``/``iat``, in seconds.
    """

    key: Any
    algorithms: tuple[str, ...]
    audience: str | None = None
    issuer: str | None = None
    leeway_s: float = 30.0
    max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES

    @classmethod
    def from_secret_file(cls, path: str | Path, **options: Any) -> JwtVerifier:
        """HS256 with the shared secret in ``path``."""
        return cls(read_secret_file(path), ("HS256",), **options)

    @classmethod
    def from_public_key_file(cls, path: str | Path, **options: Any) -> JwtVerifier:
        """RS256, EdDSA or ES256 with the PEM public key in ``path`` (by its key type)."""
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        p = Path(path)
        try:
            key = load_pem_public_key(p.read_bytes())
        except OSError as exc:
            raise KeyConfigError(str(p), "a readable PEM public key", str(exc)) from exc
        except ValueError as exc:
            raise KeyConfigError(str(p), "a PEM public key", "something else") from exc
        return cls(key, algorithms_for_public_key(key, str(p)), **options)

    def decode(self, token: object) -> dict[str, Any]:
        """The verified claim set of ``token``; raises :class:`TokenRejected`."""
        if token is None or token == "":
            raise TokenRejected(RejectReason.MISSING, "no token")
        if not isinstance(token, str):
            raise TokenRejected(RejectReason.MALFORMED, "the token is not a string")
        if len(token) > self.max_token_bytes:
            raise TokenRejected(
                RejectReason.OVERSIZED, f"{len(token)} bytes > {self.max_token_bytes}"
            )
        if not token.isascii():
            raise TokenRejected(RejectReason.MALFORMED, "the token is not ASCII")
        jwt = _jwt()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.PyJWTError as exc:
            reason = reason_of(exc)
            raise TokenRejected(reason, _safe_detail(reason, exc)) from None
        return claims

    def verify(self, token: object) -> PlayerIdentity:
        """The identity a valid token names; raises :class:`TokenRejected`."""
        claims = self.decode(token)
        try:
            return identity_from_claims(claims)
        except ClaimsInvalid as exc:
            raise TokenRejected(RejectReason.CLAIMS, str(exc)) from None


def _safe_detail(reason: RejectReason, exc: Exception) -> str:
    """PyJWT's own sentence (it names claims, never values), or a fixed one for garbage."""
    if reason is RejectReason.MALFORMED:
        return "not a well-formed JWT"
    return str(exc)[:120] or str(reason)

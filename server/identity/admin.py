"""The admin API's credential check: ``Authorization: Bearer <credential>``.

A credential is either the shared secret of ``--admin-token-file`` (compared in constant
time with :func:`hmac.compare_digest`), or a player JWT (same key as player tokens) whose
``roles`` include ``admin``. The answer, in this order:

===========  =============================================================
404          no admin credential is configured: the admin API does not exist
429          this address is past its request budget (checked before the credential,
             so guessing costs budget too)
401          no ``Authorization: Bearer`` header
403          a wrong secret, an invalid or expired JWT, or a valid JWT without ``admin``
ok           ``actor`` is the admin's ``sub`` (``admin-token`` for the shared secret)
===========  =============================================================
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from server.identity.claims import ROLE_ADMIN
from server.identity.verify import JwtVerifier, TokenRejected, read_secret_file
from server.net.session import TokenBucket

SHARED_SECRET_ACTOR = "admin-token"
"""The ``actor`` of audit lines for requests made with the ``--admin-token-file`` secret."""


@dataclass(frozen=True, slots=True)
class AdminDecision:
    """The outcome of one check: ``status`` 200 when allowed, else the HTTP status.

    ``error`` is a short stable code for the JSON body (``not_configured``,
    ``rate_limited``, ``no_credential``, ``bad_credential``, ``not_admin``,
    ``token_<reason class>``); ``actor`` the admin's ``sub`` when allowed, or for a
    refused JWT that did verify (``not_admin``), the sub that tried.
    """

    status: int
    actor: str | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        """True if the request may proceed."""
        return self.status == 200


class AdminGuard:
    """Checks admin credentials and rate-limits admin requests per remote address."""

    def __init__(
        self,
        secret: bytes | None = None,
        verifier: JwtVerifier | None = None,
        rate_per_s: float = 20.0,
        burst: float = 40.0,
        max_addresses: int = 4096,
    ) -> None:
        self._secret = secret
        self._verifier = verifier
        self._rate = (rate_per_s, burst)
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._max_addresses = max_addresses

    @classmethod
    def from_config(
        cls,
        admin_token_file: str | Path | None,
        verifier: JwtVerifier | None,
        rate_per_s: float = 20.0,
        burst: float = 40.0,
    ) -> AdminGuard:
        """The guard for ``--admin-token-file`` (if given) and the player-token verifier."""
        secret = read_secret_file(admin_token_file) if admin_token_file else None
        return cls(secret, verifier, rate_per_s, burst)

    @property
    def configured(self) -> bool:
        """True if any admin credential can succeed (otherwise the API answers 404)."""
        return self._secret is not None or self._verifier is not None

    def _allow(self, remote: str, now_s: float) -> bool:
        bucket = self._buckets.get(remote)
        if bucket is None:
            bucket = TokenBucket(*self._rate)
            self._buckets[remote] = bucket
            if len(self._buckets) > self._max_addresses:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(remote)
        return bucket.take(now_s)

    def check(self, authorization: str | None, remote: str, now_s: float) -> AdminDecision:
        """Decide one request from its ``Authorization`` header and remote address."""
        if not self.configured:
            return AdminDecision(404, error="not_configured")
        if not self._allow(remote, now_s):
            return AdminDecision(429, error="rate_limited")
        scheme, _, credential = (authorization or "").strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return AdminDecision(401, error="no_credential")
        if self._secret is not None and hmac.compare_digest(
            credential.encode("utf-8", "replace"), self._secret
        ):
            return AdminDecision(200, actor=SHARED_SECRET_ACTOR)
        if self._verifier is not None and credential.count(".") == 2:
            try:
                identity = self._verifier.verify(credential)
            except TokenRejected as exc:
                return AdminDecision(403, error=f"token_{exc.reason}")
            if ROLE_ADMIN not in identity.roles:
                return AdminDecision(403, actor=identity.sub, error="not_admin")
            return AdminDecision(200, actor=identity.sub)
        return AdminDecision(403, error="bad_credential")

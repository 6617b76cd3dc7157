"""Admission at HELLO: which identity a connection gets, or why it gets none.

:class:`Authenticator` holds the server's auth configuration and decides, for the token
of a HELLO (or of a matchmaking request):

- with a JWT key (``--auth-jwt-secret-file`` / ``--auth-jwt-public-key``): the token must
  verify (:class:`~server.identity.verify.JwtVerifier`); its ``sub`` is the player. The
  development shortcut ``--auth-token``, if also set, is accepted as an anonymous player;
- with only ``--auth-token``: the token must equal it (constant-time comparison); the
  player is anonymous;
- with neither: everybody is an anonymous player;
- with a JWT key and ``--auth-jwt-optional``: no token is an anonymous player, a token
  that is sent must verify.

Anonymous players get ``sub`` ``anon-<n>`` (a process counter: such a sub identifies a
connection, not a person). Then bans: a banned ``sub`` is refused with :class:`Banned`.
"""

from __future__ import annotations

import hmac
import itertools

from server.config import ServerConfig
from server.errors import GameServerError
from server.identity.bans import Ban, BanStore
from server.identity.claims import ANONYMOUS_PREFIX, PlayerIdentity
from server.identity.verify import JwtVerifier, KeyConfigError, RejectReason, TokenRejected


class Banned(GameServerError):
    """The identity is banned; ``ban`` says until when and why."""

    def __init__(self, identity: PlayerIdentity, ban: Ban) -> None:
        self.identity = identity
        self.ban = ban
        super().__init__(f"{identity.sub} is banned: {ban.reason or 'no reason given'}")


class Authenticator:
    """See the module docstring; ``bans`` is shared with the admin API."""

    def __init__(
        self,
        verifier: JwtVerifier | None = None,
        dev_token: str | None = None,
        bans: BanStore | None = None,
        optional: bool = False,
    ) -> None:
        self.optional = optional
        """With a verifier: no token at all is an anonymous player."""
        self.verifier = verifier
        self.dev_token = dev_token
        self.bans = bans if bans is not None else BanStore()
        self._anonymous = itertools.count(1)

    @property
    def signed(self) -> bool:
        """True if players are named by signed tokens (a JWT key is configured)."""
        return self.verifier is not None

    def anonymous(self) -> PlayerIdentity:
        """A fresh anonymous identity."""
        sub = f"{ANONYMOUS_PREFIX}{next(self._anonymous)}"
        return PlayerIdentity(sub=sub, name=sub)

    def _dev_token_matches(self, token: object) -> bool:
        if self.dev_token is None or not isinstance(token, str):
            return False
        return hmac.compare_digest(token.encode("utf-8", "replace"), self.dev_token.encode())

    def identify(self, token: object) -> PlayerIdentity:
        """The identity ``token`` proves; raises :class:`TokenRejected` (no ban check)."""
        if self.verifier is not None:
            if self._dev_token_matches(token) or (self.optional and token in (None, "")):
                return self.anonymous()
            return self.verifier.verify(token)
        if self.dev_token is not None:
            if token is None or token == "":
                raise TokenRejected(RejectReason.MISSING, "no token")
            if not self._dev_token_matches(token):
                raise TokenRejected(RejectReason.SIGNATURE, "not the server's auth token")
        return self.anonymous()

    def admit(self, token: object, now_s: float) -> PlayerIdentity:
        """:meth:`identify`, then the ban check (raises :class:`Banned`); ``now_s`` Unix s."""
        identity = self.identify(token)
        ban = self.bans.check(identity.sub, now_s)
        if ban is not None:
            raise Banned(identity, ban)
        return identity


def authenticator_from_config(config: ServerConfig) -> Authenticator:
    """The authenticator of ``--auth-token`` / ``--auth-jwt-*`` / ``--bans-file``.

    Raises :class:`~server.identity.verify.KeyConfigError` for an unusable key file and
    :class:`~server.identity.bans.BanError` for a corrupt bans file: the server does not
    start half-configured.
    """
    options = {
        "audience": config.auth_jwt_audience,
        "issuer": config.auth_jwt_issuer,
        "leeway_s": config.auth_jwt_leeway_s,
    }
    verifier = None
    if config.auth_jwt_secret_file and config.auth_jwt_public_key:
        raise KeyConfigError(
            config.auth_jwt_public_key,
            "one of --auth-jwt-secret-file and --auth-jwt-public-key",
            "both",
        )
    if config.auth_jwt_secret_file:
        verifier = JwtVerifier.from_secret_file(config.auth_jwt_secret_file, **options)
    elif config.auth_jwt_public_key:
        verifier = JwtVerifier.from_public_key_file(config.auth_jwt_public_key, **options)
    return Authenticator(
        verifier, config.auth_token, BanStore(config.bans_file), config.auth_jwt_optional
    )

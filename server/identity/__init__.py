"""Who a player or an operator is: signed player tokens, bans, admin credentials.

Pure and synchronous (no sockets, no asyncio): the gateway calls these at HELLO, at
matchmaking and on every ``/admin`` request.

- :mod:`server.identity.verify`: :class:`JwtVerifier` checks a JWT (PyJWT, algorithms
  pinned by the configured key) and returns a :class:`PlayerIdentity`, or raises
  :class:`TokenRejected` with a :class:`RejectReason` class.
- :mod:`server.identity.claims`: :class:`PlayerIdentity` from a verified claim set.
- :mod:`server.identity.bans`: :class:`BanStore` of ``(sub, until, reason)``.
- :mod:`server.identity.admin`: :class:`AdminGuard`, the ``Authorization: Bearer`` check
  of the admin API, with a per-address rate limit.
"""

from server.identity.admin import AdminDecision, AdminGuard
from server.identity.bans import Ban, BanStore
from server.identity.claims import PlayerIdentity, identity_from_claims
from server.identity.verify import JwtVerifier, RejectReason, TokenRejected

__all__ = [
    "AdminDecision",
    "AdminGuard",
    "Ban",
    "BanStore",
    "JwtVerifier",
    "PlayerIdentity",
    "RejectReason",
    "TokenRejected",
    "identity_from_claims",
]

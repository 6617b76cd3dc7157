"""A verified claim set turned into the :class:`PlayerIdentity` the server uses.

Registered claims (RFC 7519) and the two Tickwire claims ``name`` and ``roles`` are
checked here; every other claim is a *free claim*, handed unchanged to the match
handler's ``join_attempt``. A ``sub`` is the player id everywhere in the server (seats,
resume tokens, bans, audit lines), so it is held to a small alphabet: it appears in log
lines, URLs (``/admin/bans/{sub}``) and file names, and must not smuggle control
characters, spaces or path separators into any of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

SUB_PATTERN = re.compile(r"[A-Za-z0-9._:@|+-]{1,128}")
"""What a ``sub`` may be: 1-128 characters of letters, digits and ``. _ : @ | + -``."""
ROLE_PATTERN = re.compile(r"[a-z0-9_-]{1,32}")
MAX_NAME_CHARS = 64
MAX_ROLES = 16
REGISTERED = frozenset({"sub", "exp", "nbf", "iat", "aud", "iss", "jti", "name", "roles"})
"""Claims with a meaning here; the rest are free claims."""

ANONYMOUS_PREFIX = "anon-"
"""Subs of anonymous players (``anon-<n>``); refused in tokens so none can pose as one."""
ROLE_ADMIN = "admin"
"""May use the admin API (``/admin/...``)."""
ROLE_SPECTATOR_ONLY = "spectator-only"
"""May watch but never takes a player seat."""


class ClaimsInvalid(ValueError):
    """A claim has the wrong type or shape; the message names the claim."""


@dataclass(frozen=True, slots=True)
class PlayerIdentity:
    """Who is connecting: ``sub`` is the player id, ``claims`` the free claims.

    ``expires_at_s`` is the token's ``exp`` (Unix seconds), None for identities that did
    not come from a token (the development shortcut ``--auth-token`` and open servers).
    """

    sub: str
    name: str
    roles: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    expires_at_s: float | None = None
    verified: bool = False
    """True if a signed token proved this identity (False: anonymous / dev shortcut)."""

    def has_role(self, role: str) -> bool:
        """True if the token granted ``role``."""
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        """True for a token with the ``admin`` role."""
        return ROLE_ADMIN in self.roles


def valid_sub(sub: object) -> bool:
    """True if ``sub`` may name a player (see :data:`SUB_PATTERN`)."""
    return isinstance(sub, str) and SUB_PATTERN.fullmatch(sub) is not None


def _printable(text: str) -> bool:
    return text.isprintable()


def identity_from_claims(payload: Mapping[str, Any]) -> PlayerIdentity:
    """The identity of a verified claim set; raises :class:`ClaimsInvalid`.

    ``sub`` is required (see :data:`SUB_PATTERN`); ``name`` is an optional printable
    string of at most 64 characters (default: the ``sub``); ``roles`` an optional list of
    at most 16 role names (``[a-z0-9_-]{1,32}``).
    """
    sub = payload.get("sub")
    if not valid_sub(sub):
        raise ClaimsInvalid("sub must be 1-128 characters of [A-Za-z0-9._:@|+-]")
    assert isinstance(sub, str)
    if sub.startswith(ANONYMOUS_PREFIX):
        raise ClaimsInvalid(f"sub may not start with {ANONYMOUS_PREFIX!r} (anonymous players)")
    name = payload.get("name", sub)
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
        raise ClaimsInvalid(f"name must be a string of 1-{MAX_NAME_CHARS} characters")
    if not _printable(name):
        raise ClaimsInvalid("name must be printable")
    roles = payload.get("roles", [])
    if not isinstance(roles, list) or len(roles) > MAX_ROLES:
        raise ClaimsInvalid(f"roles must be a list of at most {MAX_ROLES} names")
    for role in roles:
        if not isinstance(role, str) or ROLE_PATTERN.fullmatch(role) is None:
            raise ClaimsInvalid("each role must match [a-z0-9_-]{1,32}")
    exp = payload.get("exp")
    free = {k: v for k, v in payload.items() if k not in REGISTERED}
    return PlayerIdentity(
        sub=sub,
        name=name,
        roles=frozenset(roles),
        claims=MappingProxyType(free),
        expires_at_s=float(exp) if isinstance(exp, int | float) else None,
        verified=True,
    )

"""Join codes of private matches: 6 characters a person can read out and type.

The alphabet leaves out the look-alikes (``0 O``, ``1 I L``, ``2 Z``, ``5 S``, ``8 B``,
``U V``): 23 characters, so a code is one of 23**6 ≈ 1.5e8, drawn with :mod:`secrets`.
Input is read leniently: lower case, spaces and dashes are accepted (``"ab-c 123"``).
Guessing is made slow elsewhere (the gateway rate-limits failed attempts per address and
audits each): at 10 failed tries a minute, finding one of 64 live codes takes about
160 days on average. Pure: no I/O, no clock.
"""

from __future__ import annotations

import secrets
from collections.abc import Container

ALPHABET = "34679ACDEFGHJKMNPQRTWXY"
CODE_LENGTH = 6
_ALLOWED = frozenset(ALPHABET)


def new_code(taken: Container[str] = ()) -> str:
    """A fresh random code not in ``taken``."""
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken:
            return code


def normalize_code(text: str) -> str | None:
    """The canonical form of a typed code, or None if it cannot be one."""
    if len(text) > 4 * CODE_LENGTH:
        return None
    code = text.upper().replace("-", "").replace(" ", "")
    if len(code) != CODE_LENGTH or not _ALLOWED.issuperset(code):
        return None
    return code

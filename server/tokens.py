"""``python -m server.tokens``: make signed player tokens and secrets for local testing.

::

    python -m server.tokens secret --out secret.key          # 32 random bytes, hex, mode 0600
    python -m server.tokens mint --secret-file secret.key --sub alice --ttl 1h
    python -m server.tokens mint --private-key ed25519.pem --sub ops --roles admin

``mint`` prints one JWT on stdout: HS256 with ``--secret-file`` (the file the server reads
with ``--auth-jwt-secret-file``), or RS256/EdDSA/ES256 with ``--private-key`` (whose public
half the server reads with ``--auth-jwt-public-key``). A production deployment mints tokens
in its own login service; this command exists so a developer needs none.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from server.identity.claims import REGISTERED
from server.identity.durations import parse_duration
from server.identity.verify import KeyConfigError, read_secret_file


def algorithm_for_private_key(key: object) -> str:
    """The JWT ``alg`` a private key signs with (the server pins the same by key type)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise KeyConfigError("--private-key", "an RSA, Ed25519/Ed448 or P-256 key", type(key).__name__)


def mint(
    key: Any,
    sub: str,
    ttl_s: float,
    *,
    algorithm: str = "HS256",
    roles: Sequence[str] = (),
    name: str | None = None,
    audience: str | None = None,
    issuer: str | None = None,
    not_before_s: float | None = None,
    claims: Mapping[str, Any] | None = None,
    now_s: float | None = None,
) -> str:
    """A signed token for ``sub`` valid ``ttl_s`` seconds from ``now_s`` (default: now).

    ``key`` is the HS256 secret (bytes) or a private key object; ``claims`` are free claims
    (they may not reuse a registered name). ``not_before_s`` is an absolute ``nbf``.
    """
    now = time.time() if now_s is None else now_s
    payload: dict[str, Any] = dict(claims or {})
    clash = sorted(set(payload) & REGISTERED)
    if clash:
        raise ValueError(f"free claims may not be named {', '.join(clash)}")
    payload.update({"sub": sub, "iat": int(now), "exp": int(now + ttl_s)})
    if roles:
        payload["roles"] = list(roles)
    if name is not None:
        payload["name"] = name
    if audience is not None:
        payload["aud"] = audience
    if issuer is not None:
        payload["iss"] = issuer
    if not_before_s is not None:
        payload["nbf"] = int(not_before_s)
    return jwt.encode(payload, key, algorithm=algorithm)


def write_secret(path: Path) -> None:
    """Write a fresh 32-byte secret (64 hex characters) to ``path``, readable by its owner."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")


def _claim(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def build_parser() -> argparse.ArgumentParser:
    """The ``mint`` and ``secret`` sub-commands."""
    p = argparse.ArgumentParser(prog="python -m server.tokens", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("secret", help="write a new HS256 secret file")
    s.add_argument("--out", type=Path, required=True)
    m = sub.add_parser("mint", help="print a signed player token")
    keys = m.add_mutually_exclusive_group()
    keys.add_argument(
        "--secret-file",
        default=os.environ.get("TICKWIRE_AUTH_JWT_SECRET_FILE"),
        help="HS256 secret (default: $TICKWIRE_AUTH_JWT_SECRET_FILE)",
    )
    keys.add_argument("--private-key", help="PEM private key (RSA, Ed25519 or P-256)")
    m.add_argument("--sub", required=True, help="the player id")
    m.add_argument("--ttl", default="1h", help="lifetime: 90s, 30m, 1h, 7d (default 1h)")
    m.add_argument("--roles", default="", help="comma-separated roles, e.g. admin")
    m.add_argument("--name", help="display name (default: the sub)")
    m.add_argument("--aud", help="audience claim")
    m.add_argument("--iss", help="issuer claim")
    m.add_argument("--nbf-in", help="not valid before this duration from now")
    m.add_argument(
        "--claim", type=_claim, action="append", default=[], help="free claim key=value (JSON)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit 2 on a usage or key error."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "secret":
            write_secret(args.out)
            print(args.out)
            return 0
        if args.private_key:
            key: Any = load_pem_private_key(Path(args.private_key).read_bytes(), password=None)
            algorithm = algorithm_for_private_key(key)
        elif args.secret_file:
            key, algorithm = read_secret_file(args.secret_file), "HS256"
        else:
            print("error: give --secret-file or --private-key", file=sys.stderr)
            return 2
        now = time.time()
        token = mint(
            key,
            args.sub,
            parse_duration(args.ttl),
            algorithm=algorithm,
            roles=[r for r in args.roles.split(",") if r],
            name=args.name,
            audience=args.aud,
            issuer=args.iss,
            not_before_s=now + parse_duration(args.nbf_in) if args.nbf_in else None,
            claims=dict(args.claim),
            now_s=now,
        )
    except (KeyConfigError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

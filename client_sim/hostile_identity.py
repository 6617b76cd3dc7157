"""Hostile cases against identity and the admin API, run while honest bots play.

The server must name players by signed tokens (``--auth-jwt-public-key`` with an RSA key,
so the "HS256 signed with the public key" forgery can be tried) and have an admin
credential. :class:`IdentityKeys` is what the attacker side is given: the public key
(public by nature), a way to mint tokens the server accepts (to make *expired* and
*not yet valid* ones, as a player who kept an old token would have), the admin secret
(for the cases that check how the admin API treats bad bodies) and the tokens the honest
bots use. Each case checks the documented answer (docs/operations.md, docs/protocol.md);
:func:`run_identity_cases` adds the honest bots' frame rate over it, as
:mod:`client_sim.hostile` does. From a shell::

    python -m client_sim.hostile_identity --url ws://127.0.0.1:8765/ws \
        --jwt-private-key rsa.pem --admin-token-file admin.key [--report out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from websockets.exceptions import ConnectionClosed

from client_sim.hostile import Case as _Case
from client_sim.hostile import (
    Context,
    HonestPool,
    Limits,
    MetricsProbe,
    Observation,
    code_name,
    format_table,
    hello,
    host_port,
    open_ws,
    run_case,
)
from server.identity.verify import read_secret_file
from server.net.messages import Hello
from server.net.protocol import PROTOCOL_VERSION, CloseCode
from server.tokens import algorithm_for_private_key, mint


@dataclass(frozen=True)
class IdentityKeys:
    """What the identity cases may use (see the module docstring)."""

    public_pem: bytes
    mint: Callable[..., str]
    """``mint(sub, ttl_s, roles=(), now_s=None, not_before_s=None, claims=None) -> str``."""
    admin_secret: str


IdentityFn = Callable[[str, Context, IdentityKeys], Awaitable[Observation]]
IDENTITY_CASES: dict[str, tuple[str, IdentityFn]] = {}


def identity_case(expected: str) -> Callable[[IdentityFn], IdentityFn]:
    """Register an identity case under its function's name."""

    def register(fn: IdentityFn) -> IdentityFn:
        IDENTITY_CASES[fn.__name__] = (expected, fn)
        return fn

    return register


def _obs(name: str, observed: str, passed: bool) -> Observation:
    return Observation(name, IDENTITY_CASES[name][0], observed, passed)


def b64(data: bytes) -> str:
    """base64url without padding, as JWTs spell it."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


async def hello_close(url: str, token: str | None) -> tuple[int | None, str]:
    """HELLO with ``token``: the close code and reason (None, "welcome" if admitted)."""
    ws = await open_ws(url)
    try:
        await hello(ws, Hello(version=PROTOCOL_VERSION, token=token))
    except ConnectionClosed as exc:
        return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (1006, "")
    await ws.close()
    return None, "welcome"


async def http_call(
    url: str, method: str, path: str, body: bytes = b"", auth: str | None = None
) -> tuple[int, dict[str, Any]]:
    """One HTTP request to the server of websocket ``url``: (status, JSON body or {})."""
    host, port = host_port(url)
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if auth is not None:
        head.append(f"Authorization: Bearer {auth}")
    if body:
        head.append(f"Content-Length: {len(body)}")
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    try:
        data = json.loads(payload) if payload.strip() else {}
    except ValueError:
        data = {}
    return int(status_line.split()[1]), data


def _bad_token(reason: str) -> tuple[int, str]:
    return int(CloseCode.BAD_TOKEN), f"bad token: {reason}"


def _shown(answer: tuple[int | None, str]) -> str:
    return f"{code_name(answer[0])} '{answer[1]}'"


# -- JWT attacks at HELLO ----------------------------------------------------------------


@identity_case("close 4001 'bad token: algorithm'")
async def jwt_alg_none(url: str, ctx: Context, keys: IdentityKeys) -> Observation:
    """An unsigned token (``alg: none``) claiming the admin role."""
    body = {"sub": "mallory", "exp": int(time.time()) + 600, "roles": ["admin"]}
    token = b64(b'{"alg":"none","typ":"JWT"}') + "." + b64(json.dumps(body).encode()) + "."
    got = await hello_close(url, token)
    return _obs("jwt_alg_none", _shown(got), got == _bad_token("algorithm"))


@identity_case("close 4001 'bad token: algorithm'")
async def jwt_hs256_with_public_key(url: str, ctx: Context, keys: IdentityKeys) -> Observation:
    """HS256 with the server's public key as the HMAC secret (RS256/HS256 confusion)."""
    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    body = b64(json.dumps({"sub": "mallory", "exp": int(time.time()) + 600}).encode())
    mac = hmac.new(keys.public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    got = await hello_close(url, f"{header}.{body}.{b64(mac)}")
    return _obs("jwt_hs256_with_public_key", _shown(got), got == _bad_token("algorithm"))


@identity_case("close 4001 'bad token: expired'")
async def jwt_expired(url: str, ctx: Context, keys: IdentityKeys) -> Observation:
    """A well-signed token that expired an hour ago."""
    got = await hello_close(url, keys.mint("olduser", 60, now_s=time.time() - 3600))
    return _obs("jwt_expired", _shown(got), got == _bad_token("expired"))


@identity_case("close 4001 'bad token: not_yet_valid'")
async def jwt_future_nbf(url: str, ctx: Context, keys: IdentityKeys) -> Observation:
    """A well-signed token not valid for another hour (``nbf``)."""
    token = keys.mint("early", 7200, not_before_s=time.time() + 3600)
    got = await hello_close(url, token)
    return _obs("jwt_future_nbf", _shown(got), got == _bad_token("not_yet_valid"))


@identity_case("3 kB token: close 4001 'bad token: oversized'; 100 kB: close 1009 (frame cap)")
async def jwt_oversized(url: str, ctx: Context, keys: IdentityKeys) -> Observation:
    """A signed token padded to 3 kB (under the frame cap) and one of 100 kB."""
    mid = await hello_close(url, keys.mint("big", 60, claims={"pad": "x" * 1900}))
    huge = await hello_close(url, keys.mint("big", 60, claims={"pad": "x" * 100_000}))
    passed = mid == _bad_token("oversized") and huge[0] == CloseCode.MESSAGE_TOO_BIG
    return _obs("jwt_oversized", f"{_shown(mid)}; {code_name(huge[0])}", passed)


@identity_case("close 4001 'bad token: malformed' for each")
async def jwt_garbage_base64(url: str, ctx: Context, keys: IdentityKeys) -> Observation:
    """Segments that are not base64url, not JSON, or not three."""
    tokens = ["!!!.@@@.###", "eyJhbGciOiJIUzI1NiJ9.%%%%.x", "a.b", b64(b"\xff\xfe") + ".e30.x"]
    got = [await hello_close(url, t) for t in tokens]
    passed = all(g == _bad_token("malformed") for g in got)
    return _obs("jwt_garbage_base64", ", ".join(sorted({_shown(g) for g in got})), passed)


@identity_case("close 4025 'banned: <reason>' after POST /admin/bans; welcome after DELETE")
async def banned_player(url: str, ctx: Context, keys: IdentityKeys) -> Observation:
    """Ban a player through the admin API, try to play, lift the ban, play."""
    ban = json.dumps({"sub": "griefer", "until": "10m", "reason": "griefing"}).encode()
    status, _ = await http_call(url, "POST", "/admin/bans", ban, keys.admin_secret)
    token = keys.mint("griefer", 600)
    refused = await hello_close(url, token)
    lifted, _ = await http_call(url, "DELETE", "/admin/bans/griefer", auth=keys.admin_secret)
    back = await hello_close(url, token)
    passed = (
        (status, lifted) == (201, 200)
        and refused
        == (
            int(CloseCode.BANNED),
            "banned: griefing",
        )
        and back == (None, "welcome")
    )
    observed = f"ban {status}, {_shown(refused)}, unban {lifted}, then {back[1]}"
    return _obs("banned_player", observed, passed)


# -- the admin API ----------------------------------------------------------------------


@identity_case("401 without, 403 wrong secret / player token / expired admin token / alg none")
async def admin_bad_credentials(url: str, ctx: Context, keys: IdentityKeys) -> Observation:
    """Every kind of credential the admin API must refuse."""
    header = b64(b'{"alg":"none"}')
    none_admin = f"{header}.{b64(json.dumps({'sub': 'x', 'roles': ['admin']}).encode())}."
    creds = [
        None,
        "x" * 40,
        keys.mint("player", 600),
        keys.mint("ops", 60, roles=["admin"], now_s=time.time() - 3600),
        none_admin,
    ]
    got = [await http_call(url, "GET", "/admin/matches", auth=c) for c in creds]
    statuses = [s for s, _ in got]
    errors = [b.get("error") for _, b in got]
    passed = statuses == [401, 403, 403, 403, 403] and errors == [
        "no_credential",
        "bad_credential",
        "not_admin",
        "token_expired",
        "token_algorithm",
    ]
    return _obs(
        "admin_bad_credentials",
        " ".join(f"{s}:{e}" for s, e in zip(statuses, errors, strict=True)),
        passed,
    )


@identity_case(
    "400 not_json, 413 too_large, 400 unknown_field, 400 bad_id (traversal), 404 unknown player"
)
async def admin_bad_bodies(url: str, ctx: Context, keys: IdentityKeys) -> Observation:
    """Bodies and paths that are not what the routes take."""
    mid = str(ctx.welcome["match_id"])
    a = keys.admin_secret
    got = [
        await http_call(url, "POST", "/admin/notice", b"{not json", a),
        await http_call(url, "POST", "/admin/notice", b'{"text":"' + b"x" * 5000 + b'"}', a),
        await http_call(url, "POST", "/admin/notice", b'{"text":"hi","sudo":true}', a),
        await http_call(url, "GET", "/admin/matches/..%2F..%2Fetc%2Fpasswd", auth=a),
        await http_call(url, "POST", f"/admin/matches/{mid}/kick", b'{"player":"nobody"}', a),
    ]
    want = [
        (400, "not_json"),
        (413, "too_large"),
        (400, "unknown_field"),
        (400, "bad_id"),
        (404, "not_found"),
    ]
    seen = [(s, b.get("error")) for s, b in got]
    return _obs("admin_bad_bodies", " ".join(f"{s}:{e}" for s, e in seen), seen == want)


@identity_case("1000 requests in about a second: 429 past the budget, the rest answered")
async def admin_flood(url: str, ctx: Context, keys: IdentityKeys) -> Observation:
    """1000 admin requests, 50 at a time."""
    statuses: list[int] = []
    for _ in range(20):
        batch = await asyncio.gather(
            *(http_call(url, "GET", "/admin/matches", auth=keys.admin_secret) for _ in range(50)),
            return_exceptions=True,
        )
        statuses += [b[0] if isinstance(b, tuple) else 0 for b in batch]
    limited, ok, other = statuses.count(429), statuses.count(200), len(statuses)
    other -= limited + ok
    passed = limited > 0 and ok > 0 and other == 0
    return _obs("admin_flood", f"{ok}x200, {limited}x429, {other} other", passed)


# -- running -----------------------------------------------------------------------------


async def run_identity_case(
    name: str, url: str, ctx: Context, keys: IdentityKeys, min_window_s: float = 1.0
) -> Observation:
    """Run one identity case with the honest bots' rate over it (as run_case does)."""
    expected, fn = IDENTITY_CASES[name]

    async def bound(u: str, c: Context) -> Observation:
        return await fn(u, c, keys)

    return await run_case(_Case(name, bound, expected), url, ctx, min_window_s)


async def run_identity_cases(
    url: str, keys: IdentityKeys, honest_tokens: list[str], limits: Limits | None = None
) -> list[Observation]:
    """Every identity case, one after another, while honest bots with these tokens play."""
    pool = HonestPool(url, len(honest_tokens), tokens=honest_tokens)
    welcome = await pool.start()
    ctx = Context(pool, welcome, limits or Limits(), MetricsProbe(url))
    try:
        return [await run_identity_case(n, url, ctx, keys) for n in IDENTITY_CASES]
    finally:
        await pool.stop()


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags of ``python -m client_sim.hostile_identity``."""
    p = argparse.ArgumentParser(
        prog="python -m client_sim.hostile_identity",
        description="Run the identity and admin attacks against a running Tickwire server "
        "(started with --auth-jwt-public-key and --admin-token-file) while honest bots play.",
    )
    p.add_argument("--url", required=True, help="websocket URL, e.g. ws://127.0.0.1:8765/ws")
    p.add_argument(
        "--jwt-private-key",
        required=True,
        help="PEM private key whose public half the server verifies with (mints the "
        "honest bots' tokens and the expired / not-yet-valid ones)",
    )
    p.add_argument("--admin-token-file", required=True, help="the server's admin secret")
    p.add_argument("--honest", type=int, default=3, help="honest bots (default %(default)s)")
    p.add_argument("--report", default=None, help="write the observations as JSON here")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 if every case passed and no honest bot saw an error, else 1."""
    args = build_parser().parse_args(argv)
    private = load_pem_private_key(Path(args.jwt_private_key).read_bytes(), password=None)
    algorithm = algorithm_for_private_key(private)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def mint_one(sub: str, ttl_s: float, **kw: Any) -> str:
        return mint(private, sub, ttl_s, algorithm=algorithm, **kw)

    keys = IdentityKeys(public_pem, mint_one, read_secret_file(args.admin_token_file).decode())
    tokens = [mint_one(f"honest{i}", 3600) for i in range(args.honest)]
    results = asyncio.run(run_identity_cases(args.url, keys, tokens))
    print(format_table(results))
    if args.report:
        Path(args.report).write_text(json.dumps([asdict(o) for o in results], indent=1))
    return 0 if all(o.passed and not o.honest_errors for o in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""The identity and admin hostile cases against a real server while honest bots play.

The server names players by RS256 tokens (so the HS256-with-the-public-key forgery is
tried against a real public key) and has an admin secret; three honest bots with valid
tokens play through every case and must keep their snapshot rate and see no error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from client_sim.hostile import Context, HonestPool, Limits, MetricsProbe, format_table
from client_sim.hostile_identity import IDENTITY_CASES, IdentityKeys, run_identity_case
from server.app import TickwireServer
from server.audit import verify_lines
from server.gamedef import GameDefinition
from server.testing import running_server
from server.tokens import mint

ADMIN_SECRET = "hostile-admin-secret-0123456789abcdef"
MIN_HONEST_RATE = 18.0
"""Snapshots/s every honest bot keeps (the arena sends 20). Below test_cases.py's 19: these
cases share the loop with a server whose tokens are RS256 and with ~10 helpers' load."""
FLOOD_HONEST_RATE = 15.0


@dataclass
class Setup:
    srv: TickwireServer
    ctx: Context
    keys: IdentityKeys
    audit: Path


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def identity_arena(
    small_arena: GameDefinition, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Setup]:
    tmp = tmp_path_factory.mktemp("hostile-identity")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp / "rsa.pub.pem").write_bytes(public_pem)
    (tmp / "admin.key").write_text(ADMIN_SECRET)

    def mint_rs(sub: str, ttl_s: float, **kw: Any) -> str:
        return mint(private, sub, ttl_s, algorithm="RS256", **kw)

    options = {
        "auth_jwt_public_key": str(tmp / "rsa.pub.pem"),
        "admin_token_file": str(tmp / "admin.key"),
        "audit_file": str(tmp / "audit.jsonl"),
    }
    async with running_server(small_arena, **options) as srv:
        tokens = [mint_rs(f"honest{i}", 3600) for i in range(3)]
        pool = HonestPool(srv.url, 3, tokens=tokens)
        welcome = await pool.start()
        await asyncio.sleep(1.0)  # the honest bots settle into the rate before the first case
        keys = IdentityKeys(public_pem, mint_rs, ADMIN_SECRET)
        try:
            yield Setup(
                srv,
                Context(pool, welcome, Limits(), MetricsProbe(srv.url)),
                keys,
                tmp / "audit.jsonl",
            )
        finally:
            await pool.stop()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", list(IDENTITY_CASES))
async def test_identity_attack_gets_documented_answer(identity_arena: Setup, name: str) -> None:
    s = identity_arena
    match = next(iter(s.srv.manager.matches.values()))
    tick0 = match.tick_count
    # The flood's 1000 connections are opened by this process's loop too (the server, the
    # honest bots and the attacker share it); as for the connection storm of
    # test_cases.py, its rate is averaged over 4 s so the burst itself is not the verdict.
    window = 4.0 if name == "admin_flood" else 2.0
    o = await run_identity_case(name, s.srv.url, s.ctx, s.keys, min_window_s=window)
    print(format_table([o]))
    assert o.passed, f"{name}: expected {o.expected}, observed {o.observed}"
    assert o.honest_errors == []
    assert o.honest_rate is not None
    # Known cost: each refused admin request is still a TCP accept and an HTTP parse on the
    # server's loop, so a 1000-request burst on a loaded 2-core box costs the honest bots
    # a few frames (17/s over the 4 s window in the full suite; 19-20/s alone). The bar for
    # that case is lower; a front proxy's rate limit is the remedy (docs/operations.md).
    floor = FLOOD_HONEST_RATE if name == "admin_flood" else MIN_HONEST_RATE
    assert o.honest_rate >= floor
    ratio = floor / 20.0
    assert match.tick_count - tick0 >= ratio * s.ctx.tick_rate * o.duration_s - 2
    assert verify_lines(s.audit.read_text().splitlines()).ok

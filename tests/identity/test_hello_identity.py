"""Identity at HELLO against a real server: JWT admission, reason classes, bans, one seat
per player, resume tokens bound to the player, the token never logged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from server.gamedef import GameDefinition
from server.net.messages import Hello
from server.net.protocol import PROTOCOL_VERSION, CloseCode, MessageType
from server.testing import TestClient, running_server
from server.tokens import mint


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


async def refused(url: str, token: str | None, **hello: Any) -> tuple[int, str]:
    """Say hello with ``token``; the close code and reason the server answered with."""
    async with TestClient.connect(
        url, Hello(version=PROTOCOL_VERSION, token=token, **hello)
    ) as client:
        with pytest.raises(ConnectionClosed) as info:
            await client.expect(MessageType.WELCOME)
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


def counter(srv: Any, reason: str) -> float:
    value = srv.metrics.registry.get_sample_value(
        "tickwire_auth_rejected_total", {"reason": reason}
    )
    return float(value or 0.0)


async def test_jwt_admission_and_reason_classes(
    small_arena: GameDefinition,
    secret_file: Path,
    secret: bytes,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    audit_path = tmp_path / "audit.jsonl"
    good = mint(secret, "alice", 600, name="Alice")
    expired = mint(secret, "alice", 10, now_s=time.time() - 3600)
    future = mint(secret, "alice", 600, not_before_s=time.time() + 3600)
    payload = {"sub": "mallory", "exp": int(time.time()) + 60}
    alg_none = b64(b'{"alg":"none"}') + "." + b64(json.dumps(payload).encode()) + "."
    async with running_server(
        small_arena,
        auth_jwt_secret_file=str(secret_file),
        auth_token="dev-shortcut",
        audit_file=str(audit_path),
    ) as srv:
        async with TestClient.connect(srv.url, Hello(version=1, token=good)) as alice:
            welcome = await alice.expect(MessageType.WELCOME)
            assert (welcome["sub"], welcome["name"]) == ("alice", "Alice")
        async with TestClient.connect(srv.url, Hello(version=1, token="dev-shortcut")) as dev:
            assert (await dev.expect(MessageType.WELCOME))["sub"].startswith("anon-")
        cases = {
            None: "missing",
            expired: "expired",
            future: "not_yet_valid",
            alg_none: "algorithm",
            "not.a.jwt": "malformed",
            mint(b"x" * 40, "alice", 60): "signature",
            "e" * 3000: "oversized",
        }
        for token, reason in cases.items():
            assert await refused(srv.url, token) == (CloseCode.BAD_TOKEN, f"bad token: {reason}")
            assert counter(srv, reason) >= 1
    rows = [json.loads(line) for line in audit_path.read_text().splitlines()]
    refusals = [(r["result"], r["reason"]) for r in rows if r["event"] == "conn.auth_rejected"]
    assert refusals == [("bad_token", r) for r in cases.values()]
    # Masking: no token (nor the dev shortcut) appears in any log line or audit line.
    logged = "\n".join(r.getMessage() for r in caplog.records) + audit_path.read_text()
    for secret_text in (good, expired, future, alg_none, "dev-shortcut"):
        assert secret_text not in logged
    for signed in (good, expired, future):
        assert signed.split(".")[2] not in logged, "not even the signature part"


async def test_hs256_signed_with_the_public_key_is_refused(
    small_arena: GameDefinition, rsa_pair: Any, ed_pair: Any
) -> None:
    async with running_server(small_arena, auth_jwt_public_key=str(rsa_pair.public_path)) as srv:
        good = mint(rsa_pair.private, "rita", 60, algorithm="RS256")
        async with TestClient.connect(srv.url, Hello(version=1, token=good)) as rita:
            assert (await rita.expect(MessageType.WELCOME))["sub"] == "rita"
        header = b64(b'{"alg":"HS256","typ":"JWT"}')
        body = b64(json.dumps({"sub": "root", "exp": int(time.time()) + 60}).encode())
        mac = hmac.new(rsa_pair.public_pem, f"{header}.{body}".encode(), hashlib.sha256)
        forged = f"{header}.{body}.{b64(mac.digest())}"
        assert await refused(srv.url, forged) == (CloseCode.BAD_TOKEN, "bad token: algorithm")
        other = mint(ed_pair.private, "eve", 60, algorithm="EdDSA")
        assert await refused(srv.url, other) == (CloseCode.BAD_TOKEN, "bad token: algorithm")


async def test_one_seat_per_player_and_bound_resume_tokens(
    small_arena: GameDefinition, secret_file: Path, secret: bytes
) -> None:
    alice, bob = mint(secret, "alice", 600), mint(secret, "bob", 600)
    async with running_server(small_arena, auth_jwt_secret_file=str(secret_file)) as srv:
        async with TestClient.connect(srv.url, Hello(version=1, token=alice)) as first:
            w1 = await first.expect(MessageType.WELCOME)
            # A second login of alice takes the seat (and its entity) over.
            async with TestClient.connect(srv.url, Hello(version=1, token=alice)) as second:
                w2 = await second.expect(MessageType.WELCOME)
                assert (w2["player_id"], w2["entity"], w2["match_id"]) == (
                    w1["player_id"],
                    w1["entity"],
                    w1["match_id"],
                )
                with pytest.raises(ConnectionClosed) as info:
                    await first.expect(MessageType.WELCOME, timeout=3)
                assert info.value.rcvd is not None
                assert info.value.rcvd.code == CloseCode.KICKED
                token = w2["resume_token"]
                # bob cannot use alice's resume token; alice can.
                code, _ = await refused(srv.url, bob, resume=token)
                assert code == CloseCode.RESUME_FORGED
                resume = Hello(version=1, token=alice, resume=token)
                async with TestClient.connect(srv.url, resume) as third:
                    w3 = await third.expect(MessageType.WELCOME)
                    assert (w3["resumed"], w3["player_id"]) == (True, w1["player_id"])
        assert srv.manager.matches[w1["match_id"]].players == 1


async def test_banned_player_is_refused(
    small_arena: GameDefinition, secret_file: Path, secret: bytes, tmp_path: Path
) -> None:
    bans = tmp_path / "bans.json"
    async with running_server(
        small_arena, auth_jwt_secret_file=str(secret_file), bans_file=str(bans)
    ) as srv:
        srv.host.bans.add("mallory", None, "cheating", "ops", time.time())
        code, reason = await refused(srv.url, mint(secret, "mallory", 60))
        assert (code, reason) == (CloseCode.BANNED, "banned: cheating")
        sample = srv.metrics.registry.get_sample_value("tickwire_banned_refused_total")
        assert sample == 1.0
    assert "mallory" in bans.read_text()


class RedTeamOnly:
    """A handler hook that admits only tokens with the free claim team=red."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def identity_attempt(self, match: Any, identity: Any, spectator: bool) -> str | None:
        self.seen.append((identity.sub, dict(identity.claims)))
        return None if identity.claims.get("team") == "red" else "red team only"


async def test_free_claims_reach_the_match_handler(
    small_arena: GameDefinition, secret_file: Path, secret: bytes
) -> None:
    async with running_server(small_arena, auth_jwt_secret_file=str(secret_file)) as srv:
        match = next(iter(srv.manager.matches.values()))
        hook = RedTeamOnly()
        match.handler.identity_attempt = hook.identity_attempt  # type: ignore[attr-defined]
        red = mint(secret, "rose", 600, claims={"team": "red", "elo": 1500})
        async with TestClient.connect(srv.url, Hello(version=1, token=red)) as rose:
            assert (await rose.expect(MessageType.WELCOME))["sub"] == "rose"
        blue = mint(secret, "bleu", 600, claims={"team": "blue"})
        assert await refused(srv.url, blue) == (CloseCode.JOIN_REJECTED, "red team only")
    assert hook.seen == [("rose", {"team": "red", "elo": 1500}), ("bleu", {"team": "blue"})]


async def test_matchmaking_checks_tokens_and_bans_like_hello(
    small_arena: GameDefinition, secret_file: Path, secret: bytes
) -> None:
    """POST /matchmake/*: a banned player gets 403 banned, a forged token 401 bad_token,
    a good token a reservation."""
    import asyncio
    import urllib.error
    import urllib.request

    def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(url, data=json.dumps(body).encode())
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            with e:
                return e.code, json.loads(e.read())

    async with running_server(small_arena, auth_jwt_secret_file=str(secret_file)) as srv:
        srv.host.bans.add("mallory", None, "cheating", "ops", time.time())
        url = srv.http_url + "/matchmake/join-or-create"
        status, body = await asyncio.to_thread(post, url, {"token": mint(secret, "mallory", 60)})
        assert (status, body["error"]["code"]) == (403, "banned")
        assert body["error"]["message"] == "banned: cheating"
        status, body = await asyncio.to_thread(post, url, {"token": mint(b"x" * 32, "eve", 60)})
        assert (status, body["error"]["code"]) == (401, "bad_token")
        status, body = await asyncio.to_thread(post, url, {"token": mint(secret, "alice", 60)})
        assert status == 200
        assert body["reservation"]

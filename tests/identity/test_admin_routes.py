"""The admin API over real HTTP against a real server with real players."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
from websockets.exceptions import ConnectionClosed

from server.app import TickwireServer
from server.audit import verify_lines
from server.gamedef import GameDefinition, load_definition
from server.net.messages import Hello
from server.net.protocol import PROTOCOL_VERSION, CloseCode, MessageType
from server.testing import TestClient, running_server
from server.tokens import mint

ROOT = Path(__file__).resolve().parents[2]
ADMIN_SECRET = "admin-secret-for-tests-admin-secret-0123"


async def admin_call(
    srv: TickwireServer,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = ADMIN_SECRET,
    raw: bytes | None = None,
) -> tuple[int, dict[str, Any]]:
    """One HTTP request; the status and the decoded JSON body."""
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    head = [f"{method} {path} HTTP/1.1", "Host: test"]
    if token is not None:
        head.append(f"Authorization: Bearer {token}")
    if data:
        head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(payload) if payload.strip() else {}


async def closed_with(client: TestClient, timeout: float = 3.0) -> tuple[int, str]:
    """Read until the server closes; its code and reason."""

    async def read_forever() -> None:
        while True:
            await client.recv(timeout)

    with pytest.raises(ConnectionClosed) as info:
        await read_forever()
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


def read_text(path: Path | str) -> str:
    """A file's text (a plain function: the tests read audit files after the server)."""
    return Path(path).read_text()


@pytest.fixture
def admin_file(tmp_path: Path) -> Path:
    path = tmp_path / "admin.key"
    path.write_text(ADMIN_SECRET + "\n")
    return path


def server_options(secret_file: Path, admin_file: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        "auth_jwt_secret_file": str(secret_file),
        "admin_token_file": str(admin_file),
        "audit_file": str(tmp_path / "audit.jsonl"),
    }


async def test_admin_acts_end_to_end(
    small_arena: GameDefinition,
    secret_file: Path,
    secret: bytes,
    admin_file: Path,
    tmp_path: Path,
) -> None:
    opts = server_options(secret_file, admin_file, tmp_path)
    ops = mint(secret, "ops", 600, roles=["admin"])
    async with running_server(small_arena, **opts) as srv:
        hello_a = Hello(version=1, token=mint(secret, "alice", 600, name="Alice"))
        hello_b = Hello(version=1, token=mint(secret, "bob", 600))
        async with (
            TestClient.connect(srv.url, hello_a) as alice,
            TestClient.connect(srv.url, hello_b) as bob,
        ):
            mid = (await alice.expect(MessageType.WELCOME))["match_id"]
            await bob.expect(MessageType.WELCOME)
            status, listing = await admin_call(srv, "GET", "/admin/matches")
            assert status == 200
            row = next(m for m in listing["matches"] if m["match_id"] == mid)
            assert (row["players"], row["locked"]) == (2, False)
            await asyncio.sleep(0.3)  # a few ticks for the statistics
            status, view = await admin_call(srv, "GET", f"/admin/matches/{mid}", token=ops)
            assert status == 200
            assert {p["sub"]: p["name"] for p in view["players"]} == {
                "alice": "Alice",
                "bob": "bob",
            }
            assert view["tick"]["samples"] > 0
            assert view["tick"]["p99_ms"] >= view["tick"]["p50_ms"] > 0
            assert "movement" in "".join(view["tick"]["systems_ms"]) or view["tick"]["phases_ms"]
            assert view["degradation_level"] == 0
            assert all(p["bytes_out"] > 0 for p in view["players"])

            assert (
                await admin_call(
                    srv, "POST", f"/admin/matches/{mid}/notice", {"text": "hello match"}
                )
            )[1] == {"sent": 2}
            assert (await alice.expect(MessageType.NOTICE))["text"] == "hello match"
            assert (
                await admin_call(
                    srv, "POST", "/admin/notice", {"text": "restart in 5 min", "level": "warning"}
                )
            )[0] == 200
            assert (await bob.expect(MessageType.NOTICE))["text"] == "hello match"
            notice = await bob.expect(MessageType.NOTICE)
            assert (notice["text"], notice["level"], notice["from"]) == (
                "restart in 5 min",
                "warning",
                "admin",
            )

            kick = {"player": "alice", "reason": "afk too long"}
            assert (await admin_call(srv, "POST", f"/admin/matches/{mid}/kick", kick))[0] == 200
            assert await closed_with(alice) == (CloseCode.KICKED, "afk too long")
            view = (await admin_call(srv, "GET", f"/admin/matches/{mid}"))[1]
            assert [p["sub"] for p in view["players"]] == ["bob"]

            assert (await admin_call(srv, "POST", f"/admin/matches/{mid}/lock"))[1]["locked"]
            hello_c = Hello(version=1, token=mint(secret, "carol", 600))
            async with TestClient.connect(srv.url, hello_c) as carol:
                assert (await carol.expect(MessageType.WELCOME))["match_id"] != mid
            await admin_call(srv, "POST", f"/admin/matches/{mid}/unlock")

            ban = {"sub": "bob", "until": "1h", "reason": "spamming"}
            status, out = await admin_call(srv, "POST", "/admin/bans", ban, token=ops)
            assert (status, out["closed_connections"]) == (201, 1)
            assert await closed_with(bob) == (CloseCode.BANNED, "banned: spamming")
        async with TestClient.connect(srv.url, hello_b) as again:
            assert await closed_with(again) == (CloseCode.BANNED, "banned: spamming")
        assert [b["sub"] for b in (await admin_call(srv, "GET", "/admin/bans"))[1]["bans"]] == [
            "bob"
        ]
        assert (await admin_call(srv, "DELETE", "/admin/bans/bob"))[0] == 200
        async with TestClient.connect(srv.url, hello_b) as back:
            mid = (await back.expect(MessageType.WELCOME))["match_id"]
            end = {"reason": "stuck"}
            assert (await admin_call(srv, "POST", f"/admin/matches/{mid}/end", end))[0] == 200
            result = await back.expect(MessageType.RESULT)
            assert result["reason"] == "admin"
            assert await closed_with(back) == (CloseCode.MATCH_ENDED, "admin: stuck")
        assert (await admin_call(srv, "POST", f"/admin/matches/{mid}/end"))[0] == 409
        status, tail = await admin_call(srv, "GET", "/admin/audit?limit=100")
        assert status == 200
    audit = Path(opts["audit_file"])
    assert verify_lines(read_text(audit).splitlines()).ok
    assert tail["head"] == json.loads(read_text(audit).splitlines()[-1])["hash"]
    acts = [
        (r["actor"], r["action"], r["result"]) for r in tail["lines"] if r["event"] == "admin.act"
    ]
    assert ("ops", "ban", "ok") in acts
    assert ("admin-token", "kick", "ok") in acts
    assert ("admin-token", "end", "conflict") in acts
    assert ADMIN_SECRET not in read_text(audit)


async def test_admin_bad_input_leaves_matches_alone(
    small_arena: GameDefinition,
    secret_file: Path,
    secret: bytes,
    admin_file: Path,
    tmp_path: Path,
) -> None:
    opts = server_options(secret_file, admin_file, tmp_path)
    hello = Hello(version=1, token=mint(secret, "p", 600))
    async with running_server(small_arena, **opts) as srv, TestClient.connect(srv.url, hello) as p:
        mid = (await p.expect(MessageType.WELCOME))["match_id"]
        tick0 = srv.manager.matches[mid].tick_count
        player = mint(secret, "alice", 600)
        expired = mint(secret, "ops", 10, roles=["admin"], now_s=time.time() - 3600)
        cases = [
            (("GET", "/admin/matches", None, None, None), 401, "no_credential"),
            (("GET", "/admin/matches", None, player, None), 403, "not_admin"),
            (("GET", "/admin/matches", None, expired, None), 403, "token_expired"),
            (("GET", "/admin/matches", None, "wrong", None), 403, "bad_credential"),
            (("POST", "/admin/notice", None, ADMIN_SECRET, b"{nope"), 400, "not_json"),
            (("POST", "/admin/notice", None, ADMIN_SECRET, b"x" * 5000), 413, "too_large"),
            (
                ("POST", "/admin/notice", {"text": "a", "x": 1}, ADMIN_SECRET, None),
                400,
                "unknown_field",
            ),
            (("GET", "/admin/matches/..%2F..%2Fetc", None, ADMIN_SECRET, None), 400, "bad_id"),
            (
                ("POST", f"/admin/matches/{mid}/kick", {"player": "zed"}, ADMIN_SECRET, None),
                404,
                "not_found",
            ),
            (("GET", "/admin/matches/m999", None, ADMIN_SECRET, None), 404, "not_found"),
            (("PATCH", "/admin/bans", None, ADMIN_SECRET, None), 405, "method_not_allowed"),
        ]
        for (method, path, body, token, raw), status, error in cases:
            got = await admin_call(srv, method, path, body, token=token, raw=raw)
            assert (got[0], got[1].get("error")) == (status, error), (method, path)
        statuses = await asyncio.gather(
            *(admin_call(srv, "GET", "/admin/matches") for _ in range(120))
        )
        assert 429 in {s for s, _ in statuses}, "a flood is rate limited"
        assert srv.manager.matches[mid].tick_count > tick0
        assert srv.manager.matches[mid].players == 1
        await p.expect(MessageType.STATE)
    denied = [json.loads(x) for x in read_text(opts["audit_file"]).splitlines()]
    results = [r["result"] for r in denied if r["event"] == "admin.denied"]
    assert results.count("rate_limited") == 1
    assert {"no_credential", "not_admin", "token_expired", "bad_credential"} <= set(results)
    assert player not in read_text(opts["audit_file"])


async def test_admin_view_ages_a_declared_fields_input_too(
    admin_file: Path, tmp_path: Path
) -> None:
    """A game with its own input fields (shooter: sticks, aim, buttons) decodes INPUT on
    another path; the admin view's ``last_input_age_s`` counts those inputs as well."""
    shooter = load_definition(ROOT / "data" / "games" / "shooter.toml")
    opts = {"admin_token_file": str(admin_file), "audit_file": str(tmp_path / "audit.jsonl")}
    async with running_server(shooter, **opts) as srv, TestClient.connect(srv.url) as c:
        welcome = await c.expect(MessageType.WELCOME)
        mid = welcome["match_id"]
        view = (await admin_call(srv, "GET", f"/admin/matches/{mid}"))[1]
        assert view["players"][0]["last_input_age_s"] is None  # nothing sent yet
        body = {"tick": welcome["tick"] + 1, "x": 0.5, "y": 0.0, "aim": 1.0, "buttons": 1}
        await c.ws.send(msgpack.packb([PROTOCOL_VERSION, int(MessageType.INPUT), body]))
        await asyncio.sleep(0.2)
        view = (await admin_call(srv, "GET", f"/admin/matches/{mid}"))[1]
        player = view["players"][0]
        assert (
            player["inputs"]["on_time"] + player["inputs"]["early"] + player["inputs"]["late"] == 1
        )
        assert 0.0 <= player["last_input_age_s"] < 5.0


async def test_admin_api_absent_without_credentials(small_arena: GameDefinition) -> None:
    async with running_server(small_arena) as srv:
        assert (await admin_call(srv, "GET", "/admin/matches"))[0] == 404
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"GET /admin HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 404")


async def test_admin_drain(
    small_arena: GameDefinition, secret_file: Path, admin_file: Path, tmp_path: Path
) -> None:
    async with running_server(
        small_arena, **server_options(secret_file, admin_file, tmp_path)
    ) as srv:
        assert (await admin_call(srv, "POST", "/admin/drain", {"grace_s": 0}))[0] == 202
        assert srv.draining
        assert srv.drain_requested.is_set()

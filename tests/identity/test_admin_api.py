"""AdminApi as a pure function: routes, statuses, validation and audit lines.

The backend here is a small in-memory stand-in for the server (the real-server tests in
tests/net/test_admin_routes.py drive the same API over HTTP against real matches).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from server.audit import install_audit_file, remove_audit_file, verify_lines
from server.identity import AdminGuard, BanStore, JwtVerifier
from server.identity.admin_api import AdminApi, AdminError, AdminRequest
from server.tokens import mint

SECRET = b"admin-secret-admin-secret-admin-secret"
GOOD = "Bearer " + SECRET.decode()


class Backend:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.ended: set[str] = set()

    def _known(self, match_id: str) -> None:
        if match_id != "m1":
            raise AdminError(404, "not_found", "no such match")

    def list_matches(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        return [{"match_id": "m1", "query": dict(query)}]

    def inspect_match(self, match_id: str) -> dict[str, Any]:
        self._known(match_id)
        return {"match_id": match_id, "players": []}

    def kick(self, match_id: str, player: str, reason: str) -> dict[str, Any]:
        self._known(match_id)
        if player != "alice":
            raise AdminError(404, "not_found", "no such player")
        self.calls.append(("kick", match_id, player, reason))
        return {"kicked": player}

    def end_match(self, match_id: str, reason: str) -> dict[str, Any]:
        self._known(match_id)
        if match_id in self.ended:
            raise AdminError(409, "conflict", "already ended")
        self.ended.add(match_id)
        return {"ended": match_id}

    def set_locked(self, match_id: str, locked: bool) -> dict[str, Any]:
        self._known(match_id)
        return {"locked": locked}

    def notice(self, match_id: str | None, text: str, level: str) -> dict[str, Any]:
        self.calls.append(("notice", match_id, text, level))
        return {"sent": 3}

    def drain(self, grace_s: float) -> dict[str, Any]:
        self.calls.append(("drain", grace_s))
        return {"draining": True}

    def banned(self, sub: str, reason: str) -> int:
        self.calls.append(("banned", sub))
        return 1

    def audit_tail(self, limit: int) -> dict[str, Any]:
        return {"head": "x", "lines": [], "limit": limit}


@pytest.fixture
def audit_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "audit.jsonl"
    handler = install_audit_file(path)
    yield path
    remove_audit_file(handler)


@pytest.fixture
def api(secret_file: Path) -> tuple[AdminApi, Backend]:
    backend = Backend()
    guard = AdminGuard(SECRET, JwtVerifier.from_secret_file(secret_file), rate_per_s=1, burst=50)
    return AdminApi(guard, BanStore(), backend), backend


def call(
    api: AdminApi,
    method: str,
    path: str,
    body: Any = None,
    auth: str | None = GOOD,
    raw: bytes | None = None,
) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    out = api.handle(AdminRequest(method, path, auth, "10.0.0.1", data))
    return out.status, out.payload


def audit_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_acts_are_done_and_audited(
    api: tuple[AdminApi, Backend], audit_file: Path, secret: bytes
) -> None:
    a, backend = api
    admin_jwt = "Bearer " + mint(secret, "ops", 60, roles=["admin"])
    assert call(a, "GET", "/admin/matches?state=running") == (
        200,
        {"matches": [{"match_id": "m1", "query": {"state": "running"}}]},
    )
    status, _ = call(
        a, "POST", "/admin/matches/m1/kick", {"player": "alice", "reason": "afk"}, auth=admin_jwt
    )
    assert status == 200
    assert backend.calls[-1] == ("kick", "m1", "alice", "afk")
    assert call(a, "POST", "/admin/matches/m1/lock")[0] == 200
    assert call(a, "POST", "/admin/notice", {"text": "restart in 5 min"})[0] == 200
    assert backend.calls[-1] == ("notice", None, "restart in 5 min", "info")
    assert call(a, "POST", "/admin/drain", {"grace_s": 5})[0] == 202
    status, out = call(a, "POST", "/admin/bans", {"sub": "bob", "until": "1h", "reason": "spam"})
    assert (status, out["closed_connections"]) == (201, 1)
    assert [b["sub"] for b in call(a, "GET", "/admin/bans")[1]["bans"]] == ["bob"]
    assert call(a, "DELETE", "/admin/bans/bob")[0] == 200
    assert call(a, "DELETE", "/admin/bans/bob")[0] == 404
    rows = audit_rows(audit_file)
    acts = [(r["actor"], r["action"], r["target"], r["result"]) for r in rows]
    assert acts == [
        ("ops", "kick", "m1", "ok"),
        ("admin-token", "lock", "m1", "ok"),
        ("admin-token", "notice", "*", "ok"),
        ("admin-token", "drain", "node", "ok"),
        ("admin-token", "ban", "bob", "ok"),
        ("admin-token", "unban", "bob", "ok"),
        ("admin-token", "unban", "bans/bob", "not_found"),
    ]
    assert verify_lines(audit_file.read_text().splitlines()).ok


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/admin/nothing", None, 404, "not_found"),
        ("GET", "/admin/matches/m1/kick", None, 405, "method_not_allowed"),
        ("POST", "/admin/matches/m1/explode", {}, 404, "not_found"),
        ("GET", "/admin/matches/..", None, 400, "bad_id"),
        ("GET", "/admin/matches/%2e%2e%2fetc", None, 400, "bad_id"),
        ("GET", "/admin/matches/nope", None, 404, "not_found"),
        ("POST", "/admin/matches/m1/kick", {"player": "zed"}, 404, "not_found"),
        ("POST", "/admin/matches/m1/kick", {"player": "alice", "x": 1}, 400, "unknown_field"),
        ("POST", "/admin/matches/m1/kick", {"player": "../x"}, 400, "bad_field"),
        ("POST", "/admin/matches/m1/kick", {}, 400, "bad_field"),
        ("POST", "/admin/matches/m1/kick", [1, 2], 400, "not_json"),
        ("POST", "/admin/matches/m1/notice", {"text": ""}, 400, "bad_field"),
        ("POST", "/admin/matches/m1/notice", {"text": "x", "level": "loud"}, 400, "bad_field"),
        ("POST", "/admin/drain", {"grace_s": "soon"}, 400, "bad_field"),
        ("POST", "/admin/bans", {"sub": "a b", "reason": "x"}, 400, "bad_field"),
        ("POST", "/admin/bans", {"sub": "a", "until": "yesterday"}, 400, "bad_field"),
    ],
)
def test_bad_requests(
    api: tuple[AdminApi, Backend], method: str, path: str, body: Any, status: int, error: str
) -> None:
    assert call(api[0], method, path, body)[0:2][0] == status
    assert call(api[0], method, path, body)[1]["error"] == error


def test_bodies_not_json_or_too_large(api: tuple[AdminApi, Backend]) -> None:
    a, _ = api
    assert call(a, "POST", "/admin/notice", raw=b"{nope")[1]["error"] == "not_json"
    assert call(a, "POST", "/admin/notice", raw=b"\xff\xfe")[1]["error"] == "not_json"
    big = json.dumps({"text": "x" * 5000}).encode()
    assert call(a, "POST", "/admin/notice", raw=big)[0:1] == (413,)


def test_end_of_an_ended_match_is_a_conflict(api: tuple[AdminApi, Backend]) -> None:
    a, _ = api
    assert call(a, "POST", "/admin/matches/m1/end", {"reason": "stuck"})[0] == 200
    assert call(a, "POST", "/admin/matches/m1/end")[1]["error"] == "conflict"


def test_refusals_are_audited_once_per_flood(
    api: tuple[AdminApi, Backend], audit_file: Path, secret: bytes
) -> None:
    a, _ = api
    assert call(a, "GET", "/admin/matches", auth=None)[0] == 401
    player = "Bearer " + mint(secret, "alice", 60)
    assert call(a, "POST", "/admin/matches/m1/end", auth=player)[1]["error"] == "not_admin"
    statuses = [call(a, "GET", "/admin/matches", auth="Bearer wrong")[0] for _ in range(100)]
    assert statuses.count(403) >= 40
    assert statuses[-1] == 429
    rows = audit_rows(audit_file)
    results = [r["result"] for r in rows]
    assert results.count("rate_limited") == 1, "a flood writes one line per window"
    assert results[:2] == ["no_credential", "not_admin"]
    assert rows[1]["actor"] == "alice"
    assert "eyJ" not in audit_file.read_text()
    assert logging.getLogger("tickwire.audit").isEnabledFor(logging.INFO)


def test_unconfigured_api_is_404_and_not_audited(audit_file: Path) -> None:
    a = AdminApi(AdminGuard(), BanStore(), Backend())
    assert call(a, "GET", "/admin/matches") == (
        404,
        {"error": "not_configured", "detail": "not_configured"},
    )
    assert audit_file.read_text() == ""

"""AdminGuard: 404 unconfigured, 429 over budget, 401 no credential, 403 wrong, ok."""

from __future__ import annotations

from pathlib import Path

from server.identity import AdminGuard, JwtVerifier
from server.identity.admin import SHARED_SECRET_ACTOR
from server.tokens import mint

ADMIN_SECRET = b"admin-secret-admin-secret-admin-secret"


def guard(secret_file: Path, **limits: float) -> AdminGuard:
    return AdminGuard(ADMIN_SECRET, JwtVerifier.from_secret_file(secret_file), **limits)


def test_unconfigured_admin_api_does_not_exist() -> None:
    decision = AdminGuard().check("Bearer anything", "1.2.3.4", 0.0)
    assert (decision.status, decision.error) == (404, "not_configured")


def test_shared_secret_and_admin_jwt(secret_file: Path, secret: bytes) -> None:
    g = guard(secret_file)
    ok = g.check("Bearer " + ADMIN_SECRET.decode(), "a", 0.0)
    assert (ok.ok, ok.actor) == (True, SHARED_SECRET_ACTOR)
    admin = g.check("bearer " + mint(secret, "ops", 60, roles=["admin"]), "a", 0.0)
    assert (admin.ok, admin.actor) == (True, "ops")


def test_refusals(secret_file: Path, secret: bytes) -> None:
    g = guard(secret_file)
    assert g.check(None, "a", 0).status == 401
    assert g.check("", "a", 0).status == 401
    assert g.check("Basic abc", "a", 0).status == 401
    assert g.check("Bearer ", "a", 0).status == 401
    wrong = g.check("Bearer " + "x" * 38, "a", 0)
    assert (wrong.status, wrong.error) == (403, "bad_credential")
    player = g.check("Bearer " + mint(secret, "alice", 60), "a", 0)
    assert (player.status, player.error, player.actor) == (403, "not_admin", "alice")
    expired = g.check("Bearer " + mint(secret, "ops", 10, roles=["admin"], now_s=1e9), "a", 0)
    assert (expired.status, expired.error) == (403, "token_expired")
    forged = g.check("Bearer " + mint(b"x" * 40, "ops", 60, roles=["admin"]), "a", 0)
    assert (forged.status, forged.error) == (403, "token_signature")


def test_rate_limit_per_address(secret_file: Path) -> None:
    g = guard(secret_file, rate_per_s=10.0, burst=5.0)
    good = "Bearer " + ADMIN_SECRET.decode()
    answers = [g.check(good, "flood", 0.0).status for _ in range(8)]
    assert answers == [200] * 5 + [429] * 3
    assert g.check(good, "other", 0.0).ok, "another address has its own budget"
    assert g.check(good, "flood", 0.5).ok, "the budget refills"

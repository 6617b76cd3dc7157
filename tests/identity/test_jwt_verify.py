"""JwtVerifier: good tokens become identities; every attack gets its reason class."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from server.identity import JwtVerifier, RejectReason, TokenRejected
from server.identity.verify import KeyConfigError
from server.tokens import mint


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned(payload: dict[str, object], alg: str = "none") -> str:
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(payload).encode())}."


def rejected(verifier: JwtVerifier, token: object) -> RejectReason:
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token)
    assert "eyJ" not in str(info.value), "the token must not appear in the error"
    return info.value.reason


SECRET = b"0123456789abcdef0123456789abcdef-test-secret"
"""The same bytes as the ``secret`` fixture (tests/identity/conftest.py)."""


@pytest.fixture
def hs(secret_file: Path) -> JwtVerifier:
    return JwtVerifier.from_secret_file(secret_file, leeway_s=5)


def test_hs256_token_becomes_an_identity(hs: JwtVerifier, secret: bytes) -> None:
    assert secret == SECRET
    token = mint(SECRET, "alice", 3600, roles=["admin"], name="Alice", claims={"team": "red"})
    who = hs.verify(token)
    assert (who.sub, who.name, who.is_admin) == ("alice", "Alice", True)
    assert dict(who.claims) == {"team": "red"}
    assert who.expires_at_s is not None
    assert who.expires_at_s > time.time()


def test_name_defaults_to_sub_and_roles_to_none(hs: JwtVerifier) -> None:
    who = hs.verify(mint(SECRET, "bob", 60))
    assert (who.name, who.roles) == ("bob", frozenset())


def test_rs256_and_eddsa_public_keys(rsa_pair: Any, ed_pair: Any) -> None:
    rs = JwtVerifier.from_public_key_file(rsa_pair.public_path)
    ed = JwtVerifier.from_public_key_file(ed_pair.public_path)
    assert rs.algorithms == ("RS256",)
    assert ed.algorithms == ("EdDSA",)
    assert rs.verify(mint(rsa_pair.private, "r", 60, algorithm="RS256")).sub == "r"
    assert ed.verify(mint(ed_pair.private, "e", 60, algorithm="EdDSA")).sub == "e"
    # A token of the other key type is refused by algorithm, not tried.
    assert rejected(rs, mint(ed_pair.private, "e", 60, algorithm="EdDSA")) is RejectReason.ALGORITHM


def test_alg_none_is_refused(hs: JwtVerifier, ed_pair: Any) -> None:
    payload = {"sub": "mallory", "exp": int(time.time()) + 60, "roles": ["admin"]}
    assert rejected(hs, unsigned(payload)) is RejectReason.ALGORITHM
    assert rejected(hs, unsigned(payload, "None")) is RejectReason.ALGORITHM
    ed = JwtVerifier.from_public_key_file(ed_pair.public_path)
    assert rejected(ed, unsigned(payload)) is RejectReason.ALGORITHM


def test_hs256_signed_with_the_public_key_is_refused(rsa_pair: Any) -> None:
    """The RS256/HS256 confusion: the attacker knows the public key and HMACs with it."""
    rs = JwtVerifier.from_public_key_file(rsa_pair.public_path)
    payload = {"sub": "mallory", "exp": int(time.time()) + 60, "roles": ["admin"]}
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(payload).encode())
    sig = hmac.new(rsa_pair.public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}.{b64(sig)}"
    assert rejected(rs, forged) is RejectReason.ALGORITHM


def test_wrong_secret_is_a_bad_signature(hs: JwtVerifier) -> None:
    token = mint(b"another-secret-of-at-least-32-bytes!!", "alice", 60)
    assert rejected(hs, token) is RejectReason.SIGNATURE


def test_tampered_payload_is_a_bad_signature(hs: JwtVerifier) -> None:
    head, _, sig = mint(SECRET, "alice", 60).split(".")
    evil = b64(json.dumps({"sub": "root", "exp": int(time.time()) + 60}).encode())
    assert rejected(hs, f"{head}.{evil}.{sig}") is RejectReason.SIGNATURE


def test_expired_and_leeway(hs: JwtVerifier) -> None:
    now = time.time()
    assert rejected(hs, mint(SECRET, "a", 10, now_s=now - 60)) is RejectReason.EXPIRED
    # Expired 2 s ago, within the 5 s leeway: accepted (clock skew).
    assert hs.verify(mint(SECRET, "a", 10, now_s=now - 12)).sub == "a"


def test_future_nbf_and_iat(hs: JwtVerifier) -> None:
    now = time.time()
    early = mint(SECRET, "a", 3600, not_before_s=now + 600)
    assert rejected(hs, early) is RejectReason.NOT_YET_VALID
    assert rejected(hs, mint(SECRET, "a", 3600, now_s=now + 600)) is RejectReason.NOT_YET_VALID


def test_audience_and_issuer(secret_file: Path) -> None:
    strict = JwtVerifier.from_secret_file(secret_file, audience="tickwire", issuer="login")
    good = mint(SECRET, "a", 60, audience="tickwire", issuer="login")
    assert strict.verify(good).sub == "a"
    wrong_aud = mint(SECRET, "a", 60, audience="other", issuer="login")
    assert rejected(strict, wrong_aud) is RejectReason.AUDIENCE
    assert rejected(strict, mint(SECRET, "a", 60, issuer="login")) is RejectReason.CLAIMS
    wrong_iss = mint(SECRET, "a", 60, audience="tickwire", issuer="evil")
    assert rejected(strict, wrong_iss) is RejectReason.ISSUER
    # A server that expects no audience refuses a token meant for one.
    lax = JwtVerifier.from_secret_file(secret_file)
    assert rejected(lax, good) is RejectReason.AUDIENCE


def test_oversized_token_is_refused_before_parsing(hs: JwtVerifier) -> None:
    big = mint(SECRET, "a", 60, claims={"pad": "x" * 100_000})
    assert len(big) > 100_000
    assert rejected(hs, big) is RejectReason.OVERSIZED
    assert rejected(hs, "a" * 100_000) is RejectReason.OVERSIZED


@pytest.mark.parametrize(
    "garbage",
    [
        "not-a-jwt",
        "a.b.c",
        "!!!.@@@.###",
        "eyJhbGciOiJIUzI1NiJ9.%%%%.abc",
        b64(b"\xff\xfe") + "." + b64(b"{}") + ".sig",
        b64(b"[1,2]") + "." + b64(b"{}") + ".sig",
        "é.é.é",
    ],
)
def test_garbage_base64_is_malformed(hs: JwtVerifier, garbage: str) -> None:
    assert rejected(hs, garbage) is RejectReason.MALFORMED


@pytest.mark.parametrize("token", [123, b"bytes", ["list"], {"a": 1}])
def test_non_string_token_is_malformed(hs: JwtVerifier, token: object) -> None:
    assert rejected(hs, token) is RejectReason.MALFORMED


@pytest.mark.parametrize("token", [None, ""])
def test_missing_token(hs: JwtVerifier, token: object) -> None:
    assert rejected(hs, token) is RejectReason.MISSING


@pytest.mark.parametrize(
    "payload",
    [
        {"exp": 2_000_000_000},
        {"sub": "a"},
        {"sub": "bad sub with spaces", "exp": 2_000_000_000},
        {"sub": "../../etc/passwd", "exp": 2_000_000_000},
        {"sub": 42, "exp": 2_000_000_000},
        {"sub": "a", "exp": 2_000_000_000, "roles": "admin"},
        {"sub": "a", "exp": 2_000_000_000, "roles": ["Admin!"]},
        {"sub": "a", "exp": 2_000_000_000, "name": "x" * 65},
        {"sub": "a", "exp": 2_000_000_000, "name": "line\nbreak"},
    ],
)
def test_bad_claims(hs: JwtVerifier, payload: dict[str, object]) -> None:
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    assert rejected(hs, token) is RejectReason.CLAIMS


def test_key_files_are_checked_at_start(tmp_path: Path, ed_pair: Any) -> None:
    short = tmp_path / "short.key"
    short.write_text("too short\n")
    with pytest.raises(KeyConfigError, match=r"short\.key: expected a secret of >= 32 bytes"):
        JwtVerifier.from_secret_file(short)
    with pytest.raises(KeyConfigError, match="readable"):
        JwtVerifier.from_secret_file(tmp_path / "missing.key")
    with pytest.raises(KeyConfigError, match="a PEM public key"):
        JwtVerifier.from_public_key_file(short)
    # A private key where a public one belongs is not silently accepted.
    with pytest.raises(KeyConfigError):
        JwtVerifier.from_public_key_file(ed_pair.private_path)

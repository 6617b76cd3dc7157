"""python -m server.tokens: secret, mint (HS256 and a private key), errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from server.identity import JwtVerifier
from server.tokens import main


def test_secret_then_mint_verifies(tmp_path: Path, capsys: Any) -> None:
    key = tmp_path / "s.key"
    assert main(["secret", "--out", str(key)]) == 0
    assert key.stat().st_mode & 0o777 == 0o600
    capsys.readouterr()
    argv = ["mint", "--secret-file", str(key), "--sub", "alice", "--ttl", "1h"]
    assert main([*argv, "--roles", "admin,ops", "--claim", "team=red", "--claim", "elo=1200"]) == 0
    token = capsys.readouterr().out.strip()
    who = JwtVerifier.from_secret_file(key).verify(token)
    assert (who.sub, who.roles) == ("alice", frozenset({"admin", "ops"}))
    assert dict(who.claims) == {"team": "red", "elo": 1200}


def test_mint_with_a_private_key(ed_pair: Any, capsys: Any) -> None:
    assert main(["mint", "--private-key", str(ed_pair.private_path), "--sub", "bob"]) == 0
    token = capsys.readouterr().out.strip()
    assert JwtVerifier.from_public_key_file(ed_pair.public_path).verify(token).sub == "bob"


def test_mint_errors(tmp_path: Path, secret_file: Path, capsys: Any) -> None:
    assert main(["mint", "--sub", "a", "--secret-file", str(tmp_path / "none")]) == 2
    assert main(["mint", "--sub", "a", "--secret-file", str(secret_file), "--ttl", "soon"]) == 2
    bad_claim = ["--claim", "exp=1"]
    assert main(["mint", "--sub", "a", "--secret-file", str(secret_file), *bad_claim]) == 2
    assert "error:" in capsys.readouterr().err


def test_runs_as_a_module(secret_file: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "server.tokens", "mint", "--sub", "carol", "--ttl", "5m"],
        env={"TICKWIRE_AUTH_JWT_SECRET_FILE": str(secret_file), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert JwtVerifier.from_secret_file(secret_file).verify(out.stdout.strip()).sub == "carol"

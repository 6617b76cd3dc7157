"""Several games per server, and HELLO's game / match_id / create / code / filters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from server.net.messages import Hello
from server.net.protocol import PROTOCOL_VERSION, CloseCode, MessageType
from server.testing import TestClient, running_server
from tests.matchmaking.conftest import ROOT, game_file, hello, http


async def test_two_games_on_one_server(two_games: str) -> None:
    async with running_server(game=two_games) as server:
        first = await hello(server.url)
        assert isinstance(first, dict)
        assert (first["game"], first["labels"]) == ("alpha", {"mode": "ffa", "region": "eu"})
        beta = await hello(server.url, game="beta")
        assert isinstance(beta, dict)
        assert beta["game"] == "beta"
        assert beta["match_id"] != first["match_id"]
        code, reason = await hello(server.url, game="gamma")  # type: ignore[misc]
        assert code == CloseCode.JOIN_REJECTED
        assert "alpha, beta" in reason
        status, listing = await http(server.port, "GET", "/matches?game=beta")
        assert status == 200
        assert {m["game"] for m in listing["matches"]} == {"beta"}
        status, listing = await http(server.port, "GET", "/matches?label.mode=ffa&open=1")
        assert [m["game"] for m in listing["matches"]] == ["alpha"]
        assert listing["matches"][0]["labels"] == {"mode": "ffa", "region": "eu"}
        status, body = await http(server.port, "GET", "/matches?label.skill.gte=abc")
        assert status == 400
        assert body["error"]["code"] == "bad_query"
        status, _ = await http(server.port, "GET", "/matches?game=gamma")
        assert status == 404
        _, metrics = await http(server.port, "GET", "/metrics")
        assert 'kind="beta/state"' in metrics


async def test_private_match_by_code_never_listed(tmp_path: Path) -> None:
    async with running_server(game=str(game_file(tmp_path, "duel", 8))) as server:
        private = {"private": True, "labels": {"mode": "duel"}, "max_players": 2}
        async with TestClient.connect(
            server.url, Hello(version=PROTOCOL_VERSION, create=private)
        ) as owner:
            made = await owner.expect(MessageType.WELCOME)
            code = made["code"]
            assert made["private"] is True
            assert len(code) == 6
            assert made["labels"] == {"mode": "duel"}
            _, listing = await http(server.port, "GET", "/matches")
            assert made["match_id"] not in {m["match_id"] for m in listing["matches"]}
            quick = await hello(server.url)
            assert isinstance(quick, dict)
            assert quick["match_id"] != made["match_id"]  # never quick-joined
            refused = await hello(server.url, match_id=made["match_id"])
            assert refused == (CloseCode.JOIN_REJECTED, "match is private: join it with its code")
            async with TestClient.connect(
                server.url, Hello(version=PROTOCOL_VERSION, code=f"{code[:3].lower()}-{code[3:]}")
            ) as friend:
                welcome = await friend.expect(MessageType.WELCOME)
                assert welcome["match_id"] == made["match_id"]
                full = await hello(server.url, code=code)
                assert full == (
                    CloseCode.MATCH_FULL,
                    f"match {made['match_id']} is full (2 players)",
                )
        assert await hello(server.url, match_id="m999") == (
            CloseCode.MATCH_NOT_FOUND,
            "no match 'm999'",
        )
        wrong = await hello(server.url, code="ZZZZZZ")
        assert wrong == (CloseCode.JOIN_REJECTED, "no match has this code")


async def test_capacity_of_a_created_match(tmp_path: Path) -> None:
    async with running_server(game=str(game_file(tmp_path, "duel", 8))) as server:
        async with TestClient.connect(
            server.url, Hello(version=PROTOCOL_VERSION, create={"max_players": 1})
        ) as owner:
            made = await owner.expect(MessageType.WELCOME)
            full = await hello(server.url, match_id=made["match_id"])
            assert isinstance(full, tuple)
            assert full[0] == CloseCode.MATCH_FULL
            watch = await hello(server.url, match_id=made["match_id"], spectate=True)
            assert isinstance(watch, dict)
            assert watch["spectator"] is True
        too_big = await hello(server.url, create={"max_players": 9})
        assert too_big == (CloseCode.JOIN_REJECTED, "max_players 9 is over the game's 8")


async def test_filters_join_or_create(tmp_path: Path) -> None:
    async with running_server(game=str(game_file(tmp_path, "ctf", 8))) as server:
        async with TestClient.connect(
            server.url, Hello(version=PROTOCOL_VERSION, filters={"mode": "ctf"})
        ) as first:
            made = await first.expect(MessageType.WELCOME)
            assert made["labels"] == {"mode": "ctf"}
            again = await hello(server.url, filters={"mode": "ctf", "size": {"<": 3}})
            assert isinstance(again, dict)
            assert again["match_id"] != made["match_id"]  # no 'size' label: not a match
            same = await hello(server.url, filters={"mode": "ctf"})
            assert isinstance(same, dict)
            assert same["match_id"] == made["match_id"]
        none = await hello(server.url, filters={"mode": "koth"}, create=False)
        assert none == (CloseCode.MATCH_NOT_FOUND, "no open match matches the filters")
        for bad in ({"mode": {"~": 1}}, {"a": {"b": {"c": 1}}}, {f"k{i}": 1 for i in range(40)}):
            code, reason = await hello(server.url, filters=bad)  # type: ignore[misc]
            assert code == CloseCode.MALFORMED_MESSAGE
            assert reason.startswith("field 'filters'")
        code, _ = await hello(server.url, create={"labels": {"x": "y" * 65}})  # type: ignore[misc]
        assert code == CloseCode.MALFORMED_MESSAGE
        code, _ = await hello(server.url, match_id="m" * 10_000)  # type: ignore[misc]
        assert code == CloseCode.MESSAGE_TOO_BIG


def test_games_dir_refuses_broken_definitions_at_start(tmp_path: Path) -> None:
    game_file(tmp_path, "good")
    (tmp_path / "broken.toml").write_text('[game]\nname = "broken"\n')
    (tmp_path / "also.toml").write_text("not toml [")
    proc = subprocess.run(
        [sys.executable, "-m", "server", "--games", str(tmp_path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("error: ") for line in lines)
    assert "also.toml" in lines[0]
    assert "broken.toml" in lines[1]

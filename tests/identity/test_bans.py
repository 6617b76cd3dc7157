"""BanStore: add, check, expire, remove, persist; parse_until's accepted forms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.identity import BanStore
from server.identity.bans import BanError, parse_until
from server.identity.durations import parse_duration

NOW = 1_800_000_000.0


def test_ban_holds_until_it_expires() -> None:
    bans = BanStore()
    bans.add("alice", NOW + 60, "griefing", "ops", NOW)
    ban = bans.check("alice", NOW + 59)
    assert ban is not None
    assert (ban.reason, ban.by) == ("griefing", "ops")
    assert bans.check("alice", NOW + 60) is None
    assert len(bans) == 0, "an expired ban is forgotten"
    assert bans.check("bob", NOW) is None


def test_permanent_ban_replace_and_remove() -> None:
    bans = BanStore()
    bans.add("alice", None, "cheat", "ops", NOW)
    assert bans.check("alice", NOW + 1e9) is not None
    bans.add("alice", NOW + 10, "reduced", "ops2", NOW + 1)
    assert [b.reason for b in bans.active(NOW + 2)] == ["reduced"]
    lifted = bans.remove("alice")
    assert lifted is not None
    assert lifted.reason == "reduced"
    assert bans.remove("alice") is None
    assert bans.active(NOW) == []


def test_bans_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    BanStore(path).add("alice", None, "cheat", "ops", NOW)
    again = BanStore(path)
    ban = again.check("alice", NOW)
    assert ban is not None
    assert ban.to_json()["until"] is None
    again.remove("alice")
    assert json.loads(path.read_text()) == []


def test_corrupt_bans_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bans.json"
    path.write_text("{not json")
    with pytest.raises(BanError, match=r"bans\.json"):
        BanStore(path)


@pytest.mark.parametrize(
    ("sub", "reason"),
    [("", "x"), ("a b", "x"), ("../x", "x"), (7, "x"), ("a", 7), ("a", "x" * 201), ("a", "\x00")],
)
def test_bad_ban_fields(sub: object, reason: object) -> None:
    with pytest.raises(BanError):
        BanStore().add(sub, None, reason, "ops", NOW)


def test_parse_until_forms() -> None:
    assert parse_until(None, NOW) is None
    assert parse_until(NOW + 5, NOW) == NOW + 5
    assert parse_until("2h", NOW) == NOW + 7200
    assert parse_until("2027-01-15T12:00:00Z", NOW) == 1_800_014_400
    for bad in (NOW - 1, float("nan"), True, "yesterday", "2027-01-15T12:00:00", [], "0s"):
        with pytest.raises(BanError):
            parse_until(bad, NOW)


def test_parse_duration() -> None:
    assert [parse_duration(t) for t in ("90", "90s", "30m", "1h", "1.5h", "7d", "1w")] == [
        90,
        90,
        1800,
        3600,
        5400,
        604800,
        604800,
    ]
    for bad in ("", "h", "-1h", "1y", "0", "inf"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)

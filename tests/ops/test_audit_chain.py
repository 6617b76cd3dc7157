"""The audit trail: sealed JSON lines through the audit logger, verified by the CLI."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.audit import (
    GENESIS,
    AuditFileHandler,
    audit_act,
    install_audit_file,
    line_hash,
    main,
    remove_audit_file,
    verify_lines,
)
from server.ops.events import Event, log_event
from server.ops.logging import configure_logging


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[tuple[Path, AuditFileHandler]]:
    path = tmp_path / "audit.jsonl"
    handler = install_audit_file(path)
    yield path, handler
    remove_audit_file(handler)


def write_some(n: int) -> None:
    for i in range(n):
        audit_act(
            Event.JOIN,
            f"act {i}",
            actor="ops",
            action="kick",
            target=f"m1/{i}",
            result="ok",
            match_id="m1",
        )


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_lines_are_chained_json(trail: tuple[Path, AuditFileHandler]) -> None:
    path, handler = trail
    write_some(3)
    rows = [json.loads(line) for line in lines_of(path)]
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[0]["prev"] == GENESIS
    assert rows[1]["prev"] == rows[0]["hash"]
    assert all(line_hash(r) == r["hash"] for r in rows)
    assert rows[2]["hash"] == handler.head
    assert (rows[0]["actor"], rows[0]["action"], rows[0]["target"]) == ("ops", "kick", "m1/0")
    assert rows[0]["match_id"] == "m1"
    assert rows[0]["event"] == "player.join"
    assert verify_lines(lines_of(path)).ok


def test_audit_ignores_log_level(trail: tuple[Path, AuditFileHandler]) -> None:
    path, _ = trail
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("json", "error")
        write_some(1)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert len(lines_of(path)) == 1


def test_secrets_never_reach_the_trail(trail: tuple[Path, AuditFileHandler]) -> None:
    path, _ = trail
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"
    log_event(
        logging.getLogger("tickwire.audit"),
        logging.WARNING,
        Event.AUTH_REJECTED,
        "rejected token=%s",
        jwt_like,
    )
    audit_act(
        Event.AUTH_REJECTED,
        "x",
        actor="?",
        action="login",
        target="-",
        result="refused",
        token=jwt_like,
        authorization="Bearer " + jwt_like,
    )
    text = path.read_text()
    assert jwt_like not in text
    assert "***" in text


def test_restart_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    for _ in range(2):
        handler = install_audit_file(path)
        write_some(2)
        remove_audit_file(handler)
    assert [json.loads(x)["seq"] for x in lines_of(path)] == [1, 2, 3, 4]
    assert verify_lines(lines_of(path)).ok


def test_verify_detects_deleted_edited_reordered(trail: tuple[Path, AuditFileHandler]) -> None:
    path, _ = trail
    write_some(5)
    good = lines_of(path)
    deleted = good[:2] + good[3:]
    assert [n for n, _ in verify_lines(deleted).problems] == [3]
    edited = list(good)
    edited[1] = edited[1].replace('"result":"ok"', '"result":"no"')
    verdict = verify_lines(edited)
    assert verdict.problems == [(2, "edited: the line does not match its hash")]
    # Re-sealing the edited line itself moves the break to the next line.
    row = json.loads(edited[1])
    row["hash"] = line_hash(row)
    edited[1] = json.dumps(row)
    assert [n for n, _ in verify_lines(edited).problems] == [3]
    swapped = [good[0], good[2], good[1], *good[3:]]
    assert not verify_lines(swapped).ok
    assert not verify_lines([*good[:2], "garbage", *good[2:]]).ok
    # A truncated tail is only visible against a head kept elsewhere.
    assert verify_lines(good[:4]).ok
    assert not verify_lines(good[:4], expect_head=json.loads(good[4])["hash"]).ok


def test_cli_verify(
    trail: tuple[Path, AuditFileHandler], capsys: pytest.CaptureFixture[str]
) -> None:
    path, handler = trail
    write_some(3)
    assert main(["verify", str(path), "--expect-head", handler.head]) == 0
    assert "3 lines, intact" in capsys.readouterr().out
    lines = lines_of(path)
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    out = subprocess.run(
        [sys.executable, "-m", "server.audit", "verify", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1
    assert ":2: broken link" in out.stdout
    assert main(["verify", str(path.with_name("missing"))]) == 2

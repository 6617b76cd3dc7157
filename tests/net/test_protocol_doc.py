"""docs/protocol.md documents every message type, close code and error code."""

from __future__ import annotations

import re
from enum import IntEnum
from pathlib import Path

import pytest

from server.net.protocol import CloseCode, ErrorCode, MessageType

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


@pytest.mark.parametrize(
    "member", [*MessageType, *CloseCode, *ErrorCode], ids=lambda m: f"{type(m).__name__}.{m.name}"
)
def test_protocol_doc_lists_every_wire_constant(member: IntEnum) -> None:
    """Each constant has a table row with its name and its value."""
    row = re.compile(rf"^\|\s*`{member.name}`\s*\|\s*{int(member)}\s*\|", re.MULTILINE)
    assert row.search(DOC), f"{type(member).__name__}.{member.name} ({int(member)}) missing"

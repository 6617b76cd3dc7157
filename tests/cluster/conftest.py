"""The cluster tests' fixture: node processes killed at the end of each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from nodeproc import Node


@pytest.fixture
def nodes() -> Iterator[list[Node]]:
    """Append each started :class:`Node`; every one still running is killed afterwards."""
    started: list[Node] = []
    yield started
    for n in started:
        n.stop()

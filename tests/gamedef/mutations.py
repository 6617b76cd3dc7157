"""Helpers of the loader tests: the arena's TOML data and small named mutations of it."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server.errors import DefinitionError
from server.gamedef import parse_definition

ROOT = Path(__file__).resolve().parent.parent.parent
ARENA = ROOT / "data" / "games" / "arena.toml"
DOCS = ROOT / "docs" / "game-definitions.md"
SOURCE = "games/test.toml"

with ARENA.open("rb") as _fh:
    ARENA_DATA: dict[str, Any] = tomllib.load(_fh)


def arena_data() -> dict[str, Any]:
    """A fresh, mutable copy of arena.toml as parsed TOML."""
    return copy.deepcopy(ARENA_DATA)


def parse_error(data: dict[str, Any]) -> DefinitionError:
    """The DefinitionError parsing ``data`` raises (the test fails if there is none)."""
    with pytest.raises(DefinitionError) as info:
        parse_definition(data, SOURCE)
    return info.value


# -- mutations of the arena data, as small named functions --------------------------------

Mutation = Callable[[dict[str, Any]], None]


def set_key(*path: str | int, value: Any) -> Mutation:
    """Set ``data[path...] = value``."""

    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


def del_key(*path: str | int) -> Mutation:
    """Delete ``data[path...]``."""

    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return mutate


def both(*mutations: Mutation) -> Mutation:
    """Apply several mutations in order."""

    def mutate(data: dict[str, Any]) -> None:
        for m in mutations:
            m(data)

    return mutate


def append_step(step: dict[str, Any]) -> Mutation:
    """Add a pipeline step at the end."""
    return lambda data: data["pipeline"].append(step)


def toml_paths(node: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every key path in a parsed TOML document (array items as their index)."""
    out: list[tuple[str | int, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, key))
            out.extend(toml_paths(value, (*prefix, key)))
    elif isinstance(node, list) and node and isinstance(node[0], dict):
        for i, item in enumerate(node):
            out.extend(toml_paths(item, (*prefix, i)))
    return out

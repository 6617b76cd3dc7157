"""No junk escapes the game-definition loader as anything but DefinitionError (hypothesis)."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.core.phases import PHASE_KEYS
from server.errors import DefinitionError
from server.gamedef import parse_definition
from tests.gamedef.mutations import (
    ARENA_DATA,
    SOURCE,
    arena_data,
    toml_paths,
)

KNOWN_WORDS = sorted(
    {str(k) for p in toml_paths(ARENA_DATA) for k in p if isinstance(k, str)}
    | {"after", "params", "initial_capacity", "quadtree_leaf_capacity", "tick", "lockstep"}
    | set(PHASE_KEYS)
    | {"state", "grid", "quadtree", "int32", "int8", "float32", "bool", "position.x"}
)
keys_st = st.sampled_from(KNOWN_WORDS) | st.text(max_size=6)
scalars_st = (
    st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(KNOWN_WORDS)
    | st.dates()
    | st.none()
)
junk_st = st.recursive(
    scalars_st,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(keys_st, children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys_st, junk_st, max_size=8))
def test_loader_raises_only_definition_errors_when_fed_junk(data: dict[str, Any]) -> None:
    """Random nested junk either parses or raises DefinitionError, never anything else."""
    with contextlib.suppress(DefinitionError):
        parse_definition(data, SOURCE)


ARENA_PATHS = toml_paths(ARENA_DATA)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(ARENA_PATHS), st.booleans(), junk_st), min_size=1, max_size=3
    )
)
def test_loader_raises_only_definition_errors_when_arena_is_mutated(
    edits: list[tuple[tuple[str | int, ...], bool, Any]],
) -> None:
    """Replacing or deleting arena keys with junk only ever raises DefinitionError."""
    data = arena_data()
    for path, delete, value in edits:
        node: Any = data
        try:
            for part in path[:-1]:
                node = node[part]
            if delete:
                del node[path[-1]]
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    with contextlib.suppress(DefinitionError):
        parse_definition(data, SOURCE)

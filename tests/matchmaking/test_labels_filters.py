"""Labels and filters: caps, clear errors, and filters held to a plain reference."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.matchmaking.errors import BadFilter, BadLabels
from server.matchmaking.labels import (
    MAX_LABELS,
    MAX_VALUE_CHARS,
    merge_labels,
    parse_filter,
    validate_labels,
)


def test_labels_accept_strings_numbers_booleans() -> None:
    raw = {"mode": "ctf", "skill": 1400, "ratio": 0.5, "ranked": True}
    assert validate_labels(raw) == raw


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ([1, 2], "expected a map"),
        ({f"k{i}": i for i in range(MAX_LABELS + 1)}, "at most 16 labels"),
        ({"mode": "x" * (MAX_VALUE_CHARS + 1)}, "at most 64 characters"),
        ({"k" * 33: 1}, "label key"),
        ({"a.b": 1}, "label key"),
        ({"": 1}, "label key"),
        ({"n": math.nan}, "finite"),
        ({"n": 10**16}, "finite"),
        ({"n": [1]}, "expected a string, number or boolean"),
        ({"n": None}, "expected a string, number or boolean"),
    ],
)
def test_bad_labels_say_what_is_wrong(raw: Any, fragment: str) -> None:
    with pytest.raises(BadLabels, match=fragment):
        validate_labels(raw)


def test_merged_labels_stay_under_the_cap() -> None:
    half = {f"a{i}": i for i in range(10)}
    other = {f"b{i}": i for i in range(10)}
    with pytest.raises(BadLabels, match="at most 16"):
        merge_labels(half, other)
    assert merge_labels({"mode": "dm"}, {"mode": "ctf"}) == {"mode": "ctf"}


def test_filter_equality_and_ranges() -> None:
    f = parse_filter({"mode": "ctf", "skill": {">=": 100, "<": 200}})
    assert f.matches({"mode": "ctf", "skill": 100})
    assert f.matches({"mode": "ctf", "skill": 199.5, "other": 1})
    assert not f.matches({"mode": "ctf", "skill": 200})
    assert not f.matches({"mode": "dm", "skill": 150})
    assert not f.matches({"mode": "ctf"})
    assert not f.matches({"mode": "ctf", "skill": "150"})
    assert f.equalities() == {"mode": "ctf"}
    assert parse_filter({}).matches({})
    assert not parse_filter({})


def test_filter_kinds_stay_apart() -> None:
    assert not parse_filter({"ranked": True}).matches({"ranked": 1})
    assert not parse_filter({"n": 1}).matches({"n": "1"})
    assert parse_filter({"n": 1}).matches({"n": 1.0})
    assert parse_filter({"region": {"!=": "us"}}).matches({"region": "eu"})
    assert not parse_filter({"region": {"!=": "us"}}).matches({"region": "us"})


def _nested(depth: int) -> dict[str, Any]:
    inner: dict[str, Any] = {"x": 1}
    for _ in range(depth):
        inner = {"x": inner}
    return inner


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("mode=ctf", "expected a map"),
        ({"skill": {"~": 1}}, "unknown operator"),
        ({"skill": {"±": 10}}, "unknown operator"),
        ({"skill": {">=": "a"}}, "needs a number"),
        ({"skill": {">=": True}}, "needs a number"),
        ({"skill": {}}, "at least one operator"),
        ({"skill": {">": 1, ">=": 1, "<": 3, "<=": 3, "!=": 2}}, "at most 4 operators"),
        ({"skill": [1, 2]}, "takes a value, not a list"),
        ({"skill": {">=": {"x": 1}}}, "two levels deep"),
        (_nested(100), "two levels deep|unknown operator"),
        ({f"k{i}": 1 for i in range(17)}, "at most 16 keys"),
        ({"bad key": 1}, "label key"),
    ],
)
def test_malformed_filters_are_refused_clearly(raw: Any, fragment: str) -> None:
    with pytest.raises(BadFilter, match=fragment):
        parse_filter(raw)


def test_relative_window_only_in_queries() -> None:
    q = parse_filter({"skill": {"±": 100}}, relative=True)
    assert q.clauses[0].around == 100.0
    assert parse_filter({"skill": {"+-": 5}}, relative=True).clauses[0].around == 5.0
    with pytest.raises(BadFilter, match=">= 0"):
        parse_filter({"skill": {"±": -1}}, relative=True)


_values = st.one_of(
    st.integers(-5, 5), st.sampled_from(["a", "b", "5"]), st.booleans(), st.floats(-5, 5)
)
_ops = st.sampled_from(["==", "!=", ">", ">=", "<", "<="])
_keys = st.sampled_from(["a", "b", "c"])


def _reference(filter_raw: dict[str, Any], labels: dict[str, Any]) -> bool:
    """The obvious reading of a filter, written independently of the parser."""
    for key, spec in filter_raw.items():
        if key not in labels:
            return False
        v = labels[key]
        ops = spec if isinstance(spec, dict) else {"==": spec}
        for op, want in ops.items():
            if op in ("==", "!="):
                equal = type(v) is type(want) and v == want
                if isinstance(v, int | float) and not isinstance(v, bool):
                    equal = (
                        isinstance(want, int | float) and not isinstance(want, bool) and v == want
                    )
                if equal != (op == "=="):
                    return False
                continue
            if isinstance(v, bool | str):
                return False
            if not {">": v > want, ">=": v >= want, "<": v < want, "<=": v <= want}[op]:
                return False
    return True


@settings(max_examples=300, deadline=None)
@given(
    filter_raw=st.dictionaries(
        _keys,
        st.one_of(
            _values,
            st.dictionaries(st.sampled_from(["==", "!="]), _values, min_size=1, max_size=1),
            st.dictionaries(
                st.sampled_from([">", ">=", "<", "<="]),
                st.integers(-5, 5),
                min_size=1,
                max_size=1,
            ),
        ),
        max_size=3,
    ),
    labels=st.dictionaries(_keys, _values, max_size=3),
)
def test_filters_match_the_reference(filter_raw: dict[str, Any], labels: dict[str, Any]) -> None:
    assert parse_filter(filter_raw).matches(labels) == _reference(filter_raw, labels)

"""Listing queries, join codes, per-address token buckets and seat reservations (fake time)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.matchmaking.codes import ALPHABET, CODE_LENGTH, new_code, normalize_code
from server.matchmaking.errors import BadListingQuery
from server.matchmaking.listing import parse_listing_query
from server.matchmaking.ratelimit import AddressLimiter
from server.matchmaking.reservations import (
    ReservationBook,
    ReservationExpired,
    ReservationForged,
    ReservationUsed,
)
from server.net.protocol import CloseCode


def test_listing_query_of_the_issue() -> None:
    q = parse_listing_query("game=tag&open=1&label.mode=ctf&label.skill.gte=100&limit=5")
    assert (q.game, q.open_only, q.limit, q.offset) == ("tag", True, 5, 0)
    assert q.filter.matches({"mode": "ctf", "skill": 100})
    assert not q.filter.matches({"mode": "ctf", "skill": 99})
    assert not q.filter.matches({"mode": "dm", "skill": 150})


def test_listing_text_values_match_numbers_and_strings() -> None:
    f = parse_listing_query("label.skill=100&label.ranked=true").filter
    assert f.matches({"skill": 100, "ranked": True})
    assert f.matches({"skill": "100", "ranked": "true"})
    assert not f.matches({"skill": 101, "ranked": True})
    f = parse_listing_query("label.mode=ctf&label.mode=koth&label.region.ne=us").filter
    assert f.matches({"mode": "koth", "region": "eu"})
    assert not f.matches({"mode": "koth", "region": "us"})
    f = parse_listing_query("label.skill.gt=1&label.skill.lt=3").filter
    assert f.matches({"skill": 2})
    assert not f.matches({"skill": 3})
    assert not f.matches({"skill": 1})


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("colour=red", "unknown parameter"),
        ("label.skill.approx=3", "unknown operator"),
        ("label.skill.gte=abc", "expected a number"),
        ("label.skill.gte=inf", "finite"),
        ("label.skill.gte=1&label.skill.gt=2", "one lower and one upper"),
        ("label.bad key=1", "label key"),
        ("limit=0", "1..100"),
        ("limit=x", "integer"),
        ("offset=-1", "0..1000000"),
        ("open=maybe", "expected 1 or 0"),
        ("&".join(f"label.k{i}=1" for i in range(30)), "at most 24 parameters"),
        ("label.k=" + "x" * 3000, "at most 2048 characters"),
        ("label.k=" + "x" * 100, "at most 64 characters"),
    ],
)
def test_bad_listing_queries(query: str, fragment: str) -> None:
    with pytest.raises(BadListingQuery, match=fragment):
        parse_listing_query(query)


@settings(max_examples=200, deadline=None)
@given(
    lo=st.integers(-1000, 1000),
    hi=st.integers(-1000, 1000),
    mode=st.sampled_from(["ctf", "dm"]),
    skill=st.integers(-1000, 1000),
    label_mode=st.sampled_from(["ctf", "dm"]),
)
def test_listing_agrees_with_the_json_filter(
    lo: int, hi: int, mode: str, skill: int, label_mode: str
) -> None:
    """``label.k.gte=…`` in a URL means what ``{"k": {">=": …}}`` means in a filter."""
    from server.matchmaking.labels import parse_filter

    url = urlencode({"label.mode": mode, "label.skill.gte": lo, "label.skill.lt": hi})
    labels: dict[str, Any] = {"mode": label_mode, "skill": skill}
    by_url = parse_listing_query(url).filter.matches(labels)
    by_json = parse_filter({"mode": mode, "skill": {">=": lo, "<": hi}}).matches(labels)
    assert by_url == by_json


def test_join_codes() -> None:
    codes = {new_code() for _ in range(500)}
    assert len(codes) > 490
    for code in codes:
        assert len(code) == CODE_LENGTH
        assert set(code) <= set(ALPHABET)
        assert normalize_code(code) == code
        assert normalize_code(f" {code[:3].lower()}-{code[3:]} ") == code
    assert not set("0O1IL2Z5S8BUV") & set(ALPHABET)
    assert normalize_code("ABCDE") is None
    assert normalize_code("AAAAA0") is None
    assert normalize_code("A" * 10_000) is None
    taken = {"AAAAAA"}
    assert new_code(taken) not in taken


def test_address_limiter_refills_and_stays_bounded() -> None:
    lim = AddressLimiter(rate_per_s=2.0, burst=3.0, max_addresses=100)
    assert [lim.allow("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert lim.allow("b", 0.0)
    assert not lim.allow("a", 0.2)
    assert lim.allow("a", 0.5)
    for i in range(10_000):
        lim.allow(f"spoof{i}", 1.0)
    assert len(lim) == 100
    with pytest.raises(ValueError, match="rate_per_s"):
        AddressLimiter(0.0, 1.0)


def test_reservation_redeems_once() -> None:
    book = ReservationBook(ttl_s=15.0)
    res = book.reserve("m1", 100.0, {"name": "ann"})
    assert book.held("m1", 100.0) == 1
    assert book.redeem(res.token, 101.0).info == {"name": "ann"}
    assert book.held("m1", 101.0) == 0
    with pytest.raises(ReservationUsed) as used:
        book.redeem(res.token, 102.0)
    assert used.value.close_code == CloseCode.RESERVATION_USED
    # after the token's own expiry a replay reads as expired
    with pytest.raises(ReservationExpired):
        book.redeem(res.token, 200.0)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: "m2" + t[2:],
        lambda t: t.replace(".", "", 1),
        lambda t: "x" * 10_000,
        lambda t: "",
    ],
)
def test_forged_reservations(mangle: Any) -> None:
    book = ReservationBook()
    token = book.reserve("m1", 0.0).token
    with pytest.raises(ReservationForged) as forged:
        book.redeem(mangle(token), 1.0)
    assert forged.value.close_code == CloseCode.RESERVATION_FORGED
    other = ReservationBook().reserve("m1", 0.0).token
    with pytest.raises(ReservationForged):
        book.redeem(other, 1.0)


def test_hundred_unused_reservations_expire_and_free_their_seats() -> None:
    book = ReservationBook(ttl_s=15.0)
    tokens = [book.reserve("m1", float(i) / 100).token for i in range(100)]
    book.reserve("m2", 5.0)
    assert book.held("m1", 14.0) == 100
    assert book.held("m1", 15.005) == 99
    assert book.held("m1", 16.0) == 0
    assert book.held("m2", 16.0) == 1
    assert book.expired_total == 100
    with pytest.raises(ReservationExpired) as late:
        book.redeem(tokens[0], 16.0)
    assert late.value.close_code == CloseCode.RESERVATION_EXPIRED
    assert book.release_match("m2") == 1
    assert book.pending() == 0


def test_reservation_of_an_ended_match_reads_expired() -> None:
    book = ReservationBook()
    token = book.reserve("m7", 0.0).token
    book.release_match("m7")
    with pytest.raises(ReservationExpired):
        book.redeem(token, 1.0)
    with pytest.raises(ValueError, match="cannot carry"):
        book.reserve("a.b", 0.0)

"""``POST /matchmake/*``: seat reservations, JSON errors, rate limits, and the queue."""

from __future__ import annotations

import asyncio
from pathlib import Path

from server.net.protocol import CloseCode
from server.testing import running_server
from tests.matchmaking.conftest import game_file, hello, http


async def test_reservation_flow_and_its_refusals(tmp_path: Path) -> None:
    async with running_server(game=str(game_file(tmp_path, "rsv", 8))) as server:
        status, made = await http(
            server.port, "POST", "/matchmake/create", {"labels": {"mode": "duel"}, "private": True}
        )
        assert status == 200
        assert set(made) == {"match_id", "game", "reservation", "ws_url", "expires_in_s", "code"}
        assert made["ws_url"] == f"ws://127.0.0.1:{server.port}/ws"
        assert made["expires_in_s"] == 15.0
        welcome = await hello(server.url, reservation=made["reservation"])
        assert isinstance(welcome, dict)
        assert welcome["match_id"] == made["match_id"]
        assert welcome["code"] == made["code"]
        used = await hello(server.url, reservation=made["reservation"])
        assert used == (CloseCode.RESERVATION_USED, "reservation was already used")
        forged = made["reservation"][:-3] + (
            "abc" if not made["reservation"].endswith("abc") else "xyz"
        )
        assert (await hello(server.url, reservation=forged))[0] == CloseCode.RESERVATION_FORGED
        status, joined = await http(
            server.port, "POST", "/matchmake/join-by-code", {"code": made["code"].lower()}
        )
        assert status == 200
        assert joined["match_id"] == made["match_id"]
        status, public = await http(server.port, "POST", "/matchmake/join-or-create", {})
        assert status == 200
        assert public["match_id"] != made["match_id"]
        _, metrics = await http(server.port, "GET", "/metrics")
        assert 'tickwire_reservations_refused_total{code="reservation_used"} 1.0' in metrics


async def test_http_errors_are_json_with_statuses(tmp_path: Path) -> None:
    async with running_server(game=str(game_file(tmp_path, "err", 2)), max_body_bytes=512) as s:
        p = s.port
        cases = [
            ("POST", "/matchmake/join-by-id", {"match_id": "m404"}, 404, "match_not_found"),
            ("POST", "/matchmake/join-by-id", {}, 400, "bad_request"),
            ("POST", "/matchmake/join", {"colour": "red"}, 400, "bad_request"),
            ("POST", "/matchmake/join", {"filters": {"mode": {"~": 1}}}, 400, "bad_filter"),
            ("POST", "/matchmake/create", {"labels": {"k": "v" * 100}}, 400, "bad_labels"),
            ("POST", "/matchmake/create", {"max_players": 3}, 403, "join_rejected"),
            ("POST", "/matchmake/join", {"filters": {"mode": "none"}}, 404, "match_not_found"),
            ("POST", "/matchmake/join-by-code", {"code": "ZZZZZZ"}, 403, "join_rejected"),
            ("POST", "/matchmake/teleport", {}, 404, "unknown_endpoint"),
            ("GET", "/matchmake/create", None, 405, "method_not_allowed"),
            ("POST", "/matchmake/join-by-id", {"match_id": "m" * 10_000}, 413, "body_too_large"),
        ]
        for method, path, body, want_status, want_code in cases:
            status, answer = await http(p, method, path, body)
            assert (status, answer["error"]["code"]) == (want_status, want_code), (path, body)
            assert answer["error"]["message"]
        status, answer = await http(p, "POST", "/matchmake/create", raw=b"{not json")
        assert (status, answer["error"]["code"]) == (400, "bad_json")
        status, small = await http(p, "POST", "/matchmake/create", {"max_players": 1})
        assert status == 200
        status, answer = await http(
            p, "POST", "/matchmake/join-by-id", {"match_id": small["match_id"]}
        )
        assert (status, answer["error"]["code"]) == (409, "match_full")  # the reservation holds it
        await hello(s.url)  # the websocket port still serves players
        s.host.start_draining()
        status, answer = await http(p, "POST", "/matchmake/join-or-create", {})
        assert (status, answer["error"]["code"]) == (503, "draining")


async def test_rate_limit_per_address(tmp_path: Path) -> None:
    async with running_server(
        game=str(game_file(tmp_path, "rl", 8)), matchmake_burst=3, matchmake_rate_per_s=0.1
    ) as server:
        statuses = [
            (await http(server.port, "POST", "/matchmake/join-or-create", {}))[0] for _ in range(5)
        ]
        assert statuses == [200, 200, 200, 429, 429]


async def test_hundred_unused_reservations_expire(tmp_path: Path) -> None:
    async with running_server(
        game=str(game_file(tmp_path, "many", 200)), seat_reservation_s=3.0, matchmake_burst=200
    ) as server:
        # 3 s: the 100 reservations and the checks below must all happen before the first
        # expires, also on a busy machine; then the test waits for the expiry, not a time.
        status, made = await http(server.port, "POST", "/matchmake/create", {"max_players": 100})
        assert status == 200
        mid = made["match_id"]
        for _ in range(99):
            status, _ = await http(server.port, "POST", "/matchmake/join-by-id", {"match_id": mid})
            assert status == 200
        status, full = await http(server.port, "POST", "/matchmake/join-by-id", {"match_id": mid})
        assert (status, full["error"]["code"]) == (409, "match_full")
        _, listing = await http(server.port, "GET", "/matches?open=0")
        (row,) = [m for m in listing["matches"] if m["match_id"] == mid]
        assert (row["players"], row["room"], row["open"]) == (0, 0, False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15.0
        while server.host.reservations.pending() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        _, listing = await http(server.port, "GET", "/matches?open=1")
        (row,) = [m for m in listing["matches"] if m["match_id"] == mid]
        assert (row["players"], row["room"], row["open"]) == (0, 100, True)
        assert server.host.reservations.pending() == 0
        assert server.host.reservations.expired_total == 100


async def test_queue_matches_two_tickets(tmp_path: Path) -> None:
    async with running_server(
        game=str(game_file(tmp_path, "q", 8)), matchmaker_interval_ms=50, queue_poll_s=0.5
    ) as server:
        ticket = {
            "properties": {"region": "eu", "skill": 1000},
            "query": {"region": "eu", "skill": {"±": 50}},
            "min_players": 2,
            "max_players": 2,
        }
        other = {**ticket, "properties": {"region": "eu", "skill": 1040}}
        (s1, a), (s2, b) = await asyncio.gather(
            http(server.port, "POST", "/matchmake/queue", ticket),
            http(server.port, "POST", "/matchmake/queue", other),
        )
        assert (s1, s2) == (200, 200)
        assert a["status"] == b["status"] == "matched"
        assert a["match_id"] == b["match_id"]
        assert a["reservation"] != b["reservation"]
        welcome = await hello(server.url, reservation=a["reservation"])
        assert isinstance(welcome, dict)
        assert welcome["match_id"] == a["match_id"]
        assert welcome["labels"] == {"region": "eu", "skill": 1020}
        lonely = {**ticket, "min_players": 3, "max_players": 3}
        status, waiting = await http(server.port, "POST", "/matchmake/queue", lonely)
        assert (status, waiting["status"]) == (200, "waiting")
        status, again = await http(
            server.port, "POST", "/matchmake/queue", {"ticket": waiting["ticket"]}
        )
        assert (status, again["status"]) == (200, "waiting")
        status, gone = await http(
            server.port, "POST", "/matchmake/unqueue", {"ticket": waiting["ticket"]}
        )
        assert (status, gone["status"]) == (200, "cancelled")
        status, answer = await http(server.port, "POST", "/matchmake/unqueue", {"ticket": "nope"})
        assert (status, answer["error"]["code"]) == (404, "unknown_ticket")
        status, answer = await http(server.port, "POST", "/matchmake/queue", {"min_players": 0})
        assert (status, answer["error"]["code"]) == (400, "bad_ticket")

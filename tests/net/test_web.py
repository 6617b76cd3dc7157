"""The browser page's server side: static files, the match list page, WELCOME.entity."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

from server.gamedef import GameDefinition
from server.net.messages import Hello
from server.net.protocol import PROTOCOL_VERSION, MessageType
from server.testing import TestClient, running_server


def http_get(url: str, accept: str | None = None) -> tuple[int, str, str]:
    """Status, content type and body of a GET (errors included)."""
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


async def test_server_serves_the_page_its_script_and_vendored_msgpack(
    small_arena: GameDefinition,
) -> None:
    """`/` is the page, and its script, style sheet and msgpack bundle have their types."""
    async with running_server(small_arena) as srv:
        base = srv.http_url
        status, ctype, body = await asyncio.to_thread(http_get, base + "/?spectate=1")
        assert (status, ctype) == (200, "text/html; charset=utf-8")
        assert '<canvas id="arena"' in body
        for path, want in [
            ("/app.js", "text/javascript; charset=utf-8"),
            ("/style.css", "text/css; charset=utf-8"),
            ("/vendor/msgpack.js", "text/javascript; charset=utf-8"),
        ]:
            status, ctype, _ = await asyncio.to_thread(http_get, base + path)
            assert (status, ctype) == (200, want), path
        status, _, _ = await asyncio.to_thread(http_get, base + "/../pyproject.toml")
        assert status == 404


async def test_matches_route_answers_html_to_browsers_and_json_otherwise(
    small_arena: GameDefinition,
) -> None:
    """A browser's Accept gets a table with a watch link; JSON is kept for everyone else."""
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as c:
        await c.expect(MessageType.WELCOME)
        url = srv.http_url + "/matches"
        browser_accept = "text/html,application/xhtml+xml,*/*;q=0.8"
        status, ctype, page = await asyncio.to_thread(http_get, url, browser_accept)
        assert (status, ctype) == (200, "text/html; charset=utf-8")
        match_id = c.welcome["match_id"]
        assert f"<td>{match_id}</td>" in page
        assert "<td>1 / 1000</td>" in page
        assert "<td>20 Hz</td>" in page
        assert 'href="/?spectate=1"' in page
        for accept, suffix in [("application/json", ""), (browser_accept, "?format=json")]:
            status, ctype, body = await asyncio.to_thread(http_get, url + suffix, accept)
            assert (status, ctype) == (200, "application/json")
            [listed] = json.loads(body)["matches"]
            assert (listed["match_id"], listed["players"]) == (match_id, 1)


async def test_welcome_names_the_players_own_entity_as_state_frames_do(
    small_arena: GameDefinition,
) -> None:
    """WELCOME.entity is the net id under which STATE frames carry the player's entity."""
    async with running_server(small_arena) as srv:
        async with TestClient.connect(srv.url) as player:
            welcome = await player.expect(MessageType.WELCOME)
            body = await player.expect(MessageType.STATE)
            assert body["f"]
            netid = welcome["entity"]
            assert netid in player.mirror.entities
            match = srv.manager.matches[welcome["match_id"]]
            seat = match.by_player[welcome["player_id"]]
            assert seat.entity is not None
            world = match.sim.world
            assert int(world.netids[world.slot_of(seat.entity)]) == netid
            kind, _, _ = player.mirror.entities[netid]
            assert welcome["kinds"][kind] == "player"
        spectate = Hello(version=PROTOCOL_VERSION, spectate=True)
        async with TestClient.connect(srv.url, spectate) as spectator:
            assert (await spectator.expect(MessageType.WELCOME))["entity"] == -1

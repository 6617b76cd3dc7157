"""Issue-13 over real websockets: WELCOME schema, declared inputs, fields, RESULT, failures."""

from __future__ import annotations

from websockets.exceptions import ConnectionClosed

from server.net.codec import encode
from server.net.messages import Hello
from server.net.protocol import PROTOCOL_VERSION, CloseCode, MessageType
from server.testing import TestClient, running_server
from tests.match.gamekit import fields_of, game

FIELDS = ["health.hp:uint8", "score.points:uint16", "ammo.n:uint8"]


async def closed_code(client: TestClient) -> int:
    """Read until the server closes; the close code."""
    try:
        while True:
            await client.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else -1


async def test_server_plays_a_declared_game_to_its_result_over_websockets() -> None:
    """WELCOME has the schema; fire scores; every client gets RESULT, then MATCH_ENDED."""
    async with (
        running_server(game(end_tick=30)) as server,
        TestClient.connect(server.url) as player,
        TestClient.connect(server.url, Hello(PROTOCOL_VERSION, spectate=True)) as watcher,
    ):
        welcome = await player.expect(MessageType.WELCOME)
        assert [f["name"] for f in welcome["input"]] == ["x", "y", "buttons", "aim"]
        assert welcome["input"][2]["bits"] == ["fire", "dash"]
        assert [f["name"] for f in welcome["fields"]] == ["health.hp", "score.points", "ammo.n"]
        assert [e["name"] for e in welcome["events"]] == ["ping", "hit", "mine"]
        assert welcome["rules"]["score"] == "score.points"
        me = welcome["entity"]
        body = {"tick": welcome["tick"] + 1, "x": 0, "y": 0, "buttons": 1, "aim": 0.0}
        await player.ws.send(encode(MessageType.INPUT, body))
        points = 0
        while points == 0:
            state = await player.expect(MessageType.STATE)
            points = fields_of(state, FIELDS).get("score.points", {}).get(me, 0)
        result = await player.expect(MessageType.RESULT, timeout=10)
        assert result["reason"] == "score_limit"
        assert result["winner"] == me
        assert result["players"][0]["score"] >= points
        assert (await watcher.expect(MessageType.RESULT, timeout=10))["tick"] == result["tick"]
        assert await closed_code(player) == CloseCode.MATCH_ENDED
        assert await closed_code(watcher) == CloseCode.MATCH_ENDED


async def test_server_closes_malformed_when_an_input_breaks_its_declaration() -> None:
    """An undeclared button bit closes that client with MALFORMED_MESSAGE, not the match."""
    async with (
        running_server(game()) as server,
        TestClient.connect(server.url) as bad,
        TestClient.connect(server.url) as good,
    ):
        welcome = await bad.expect(MessageType.WELCOME)
        await good.expect(MessageType.WELCOME)
        body = {"tick": welcome["tick"] + 1, "x": 0, "y": 0, "buttons": 1 << 5, "aim": 0.0}
        await bad.ws.send(encode(MessageType.INPUT, body))
        assert await closed_code(bad) == CloseCode.MALFORMED_MESSAGE
        await good.expect(MessageType.STATE)
        await good.expect(MessageType.STATE)


async def test_server_fails_only_the_match_when_a_plugin_system_raises() -> None:
    """The plug-in's exception ends its match with MATCH_FAILED."""
    async with running_server(game(raise_tick=10)) as server, TestClient.connect(server.url) as c:
        await c.expect(MessageType.WELCOME)
        assert await closed_code(c) == CloseCode.MATCH_FAILED

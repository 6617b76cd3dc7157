"""HTTP bodies on the websocket port: BodyReadingConnection hands them to routes."""

from __future__ import annotations

import asyncio

from websockets.http11 import Request, Response

from server.gamedef import GameDefinition
from server.gateway import http
from server.gateway.bodies import MAX_BODY_BYTES, body_too_large, request_body
from server.net.protocol import MessageType
from server.testing import TestClient, running_server


async def raw_http(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


def echo(request: Request) -> Response:
    if body_too_large(request):
        return http.text(413, "too large\n")
    return http.response(200, b"got:" + request_body(request), "text/plain")


async def test_post_bodies_reach_the_route(small_arena: GameDefinition) -> None:
    async with running_server(small_arena) as srv:
        srv.gateway.routes.add("POST", "/echo", echo)
        body = b'{"hello": "world"}'
        head = f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
        answer = await raw_http(srv.port, head.encode() + body)
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(b"got:" + body)
        # The body may arrive in pieces after the head.
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(head.encode())
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(body[:5])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(body[5:])
        split = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert split.endswith(b"got:" + body)
        big = MAX_BODY_BYTES + 1
        head = f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {big}\r\n\r\n"
        assert (await raw_http(srv.port, head.encode() + b"x" * big)).startswith(b"HTTP/1.1 413")
        # Plain GETs and websocket clients are untouched.
        assert (await raw_http(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")).endswith(
            b"ok\n"
        )
        async with TestClient.connect(srv.url) as client:
            await client.expect(MessageType.WELCOME)

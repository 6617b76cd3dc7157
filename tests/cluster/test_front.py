"""The TLS front door (real nginx from Debian's packages, a self-signed certificate) and
the server's own --tls-cert/--tls-key."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import time
import urllib.request
from contextlib import AsyncExitStack
from pathlib import Path

import msgpack
import pytest
from debian_packages import ensure_binary
from nodeproc import free_ports
from websockets.asyncio.client import connect

from server.cluster.front import nginx_config, parse_nodes
from server.gamedef import GameDefinition
from server.net.codec import encode_client
from server.net.messages import Hello
from server.net.protocol import PROTOCOL_VERSION, MessageType
from server.testing import running_server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost."""
    openssl = ensure_binary("openssl", "openssl")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "front.pem", d / "front.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def client_tls(cert: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cert))
    return ctx


@pytest.fixture
def nginx_binary() -> str:
    return ensure_binary("nginx", "nginx")


class Front:
    def __init__(self, binary: str, conf: Path, runtime: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(runtime)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.port = port
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"nginx exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}"
                )
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not listen")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def https_get(url: str, cert: Path) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5, context=client_tls(cert)) as r:
        return r.status, r.read().decode()


async def test_front_routes_each_node_by_name_over_wss(
    small_arena: GameDefinition, certificate: tuple[Path, Path], nginx_binary: str, tmp_path: Path
) -> None:
    """wss://front/n/<node>/ws reaches that node's game socket; /n/<node>/matches its HTTP;
    other paths any node."""
    cert, key = certificate
    async with AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(running_server(small_arena)) for _ in range(2)]
        port = free_ports(1)
        nodes = {f"w{i}": ("127.0.0.1", s.port) for i, s in enumerate(servers)}
        conf = tmp_path / "nginx.conf"
        conf.write_text(
            nginx_config(
                nodes, listen_port=port, cert=str(cert), key=str(key), runtime_dir=str(tmp_path)
            )
        )
        front = Front(nginx_binary, conf, tmp_path, port)
        stack.callback(front.stop)
        for i, srv in enumerate(servers):
            async with connect(f"wss://localhost:{port}/n/w{i}/ws", ssl=client_tls(cert)) as ws:
                await ws.send(encode_client(Hello(version=PROTOCOL_VERSION)))
                welcome = await asyncio.wait_for(ws.recv(), 5)
                assert isinstance(welcome, bytes)
                assert msgpack.unpackb(welcome)[1] == MessageType.WELCOME
                await asyncio.sleep(0.1)
                assert srv.host.connected_players() == 1
                assert servers[1 - i].host.connected_players() == 0
        status, body = await asyncio.to_thread(
            https_get, f"https://localhost:{port}/n/w1/matches", cert
        )
        assert status == 200
        ids = {m["match_id"] for m in json.loads(body)["matches"]}
        assert ids == set(servers[1].manager.matches)
        status, _ = await asyncio.to_thread(https_get, f"https://localhost:{port}/healthz", cert)
        assert status == 200
        with pytest.raises(urllib.error.HTTPError) as missing:
            await asyncio.to_thread(https_get, f"https://localhost:{port}/n/nope/ws", cert)
        assert missing.value.code == 404
        missing.value.close()


async def test_server_serves_wss_itself_with_its_own_certificate(
    small_arena: GameDefinition, certificate: tuple[Path, Path]
) -> None:
    """--tls-cert/--tls-key: the server speaks wss:// directly and refuses plain ws://."""
    cert, key = certificate
    async with running_server(small_arena, tls_cert=str(cert), tls_key=str(key)) as srv:
        assert srv.url.startswith("wss://")
        async with connect(f"wss://localhost:{srv.port}/ws", ssl=client_tls(cert)) as ws:
            await ws.send(encode_client(Hello(version=PROTOCOL_VERSION)))
            reply = await asyncio.wait_for(ws.recv(), 5)
            assert isinstance(reply, bytes)
            assert msgpack.unpackb(reply)[1] == MessageType.WELCOME
        with pytest.raises(Exception):  # noqa: B017, PT011 - any handshake failure will do
            async with connect(f"ws://127.0.0.1:{srv.port}/ws", open_timeout=3):
                pass


def test_front_config_refuses_bad_node_names() -> None:
    """A node name that could inject nginx syntax is refused; the --nodes list parses."""
    with pytest.raises(ValueError, match="letters, digits"):
        nginx_config({"a;b": ("h", 1)}, listen_port=1, cert="c", key="k")
    assert parse_nodes("w0=127.0.0.1:1,w1=h:2") == {"w0": ("127.0.0.1", 1), "w1": ("h", 2)}

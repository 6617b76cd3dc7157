"""Metrics a real server exports, secrets kept out of its logs, and the CLI matching the docs."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed

from server.config import ServerConfig
from server.core.sync.state import StateFrameStats
from server.gamedef import GameDefinition
from server.net.messages import Hello, Input
from server.net.protocol import PROTOCOL_VERSION, CloseCode, MessageType
from server.ops.metrics import Metrics, observe_many
from server.ops.observer import Observer
from server.testing import TestClient, running_server

ROOT = Path(__file__).resolve().parent.parent.parent
OPERATIONS = ROOT / "docs" / "operations.md"

SpawnServer = Callable[..., AbstractAsyncContextManager[Any]]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition: (name, labels) -> value."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when the labelled child does not exist yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(get: Any, http_url: str) -> Samples:
    status, body = await get(http_url + "/metrics")
    assert status == 200
    return parse(body)


async def play(client: TestClient, ticks: int) -> None:
    """Send one input per received state frame, ``ticks`` times."""
    for i in range(ticks):
        state = await client.expect(MessageType.STATE)
        await client.send(Input(tick=state["t"] + 1, x=1.0 if i % 2 else -1.0, y=0.5))


async def scrape_around_play(
    defn: GameDefinition, get: Any, ticks: int, warmup: int = 0
) -> tuple[Samples, Samples]:
    """Metrics before and after two clients each play ``ticks`` ticks on a real server
    (after ``warmup`` ticks of play that neither scrape sees)."""
    async with (
        running_server(defn) as srv,
        TestClient.connect(srv.url) as a,
        TestClient.connect(srv.url) as b,
    ):
        await a.expect(MessageType.WELCOME)
        await b.expect(MessageType.WELCOME)
        if warmup:
            await asyncio.gather(play(a, warmup), play(b, warmup))
        before = await scrape(get, srv.http_url)
        await asyncio.gather(play(a, ticks), play(b, ticks))
        after = await scrape(get, srv.http_url)
    return before, after


async def test_server_counts_ticks_bytes_and_inputs_when_clients_play(
    small_arena: GameDefinition, get: Any
) -> None:
    """Ticks, bytes out and inputs received all rise while two clients play."""
    before, after = await scrape_around_play(small_arena, get, 6)
    kind = {"kind": "arena/state"}
    assert (
        value(after, "tickwire_ticks_total", **kind)
        >= value(before, "tickwire_ticks_total", **kind) + 5
    )
    sent = value(after, "tickwire_sent_bytes_total", type="state") - value(
        before, "tickwire_sent_bytes_total", type="state"
    )
    assert sent > 0
    assert value(after, "tickwire_messages_sent_total", type="state") > value(
        before, "tickwire_messages_sent_total", type="state"
    )
    inputs = value(after, "tickwire_messages_received_total", type="input") - value(
        before, "tickwire_messages_received_total", type="input"
    )
    assert inputs >= 11  # 12 sent; the last may still be in flight
    assert value(after, "tickwire_received_bytes_total") > value(
        before, "tickwire_received_bytes_total"
    )
    assert value(after, "tickwire_clients_connected") == 2
    assert value(after, "tickwire_matches", state="running") == 1
    # Phase histograms: every observed tick lands in the +Inf bucket of 'total'.
    total = {"kind": "arena/state", "phase": "total"}
    assert value(after, "tickwire_tick_duration_seconds_count", **total) >= 6
    assert value(after, "tickwire_tick_duration_seconds_count", kind="arena/state", phase="sync")


async def test_server_counts_frames_built_from_implicit_baselines(
    small_arena: GameDefinition, get: Any
) -> None:
    """Whole-match views take the cell path: once both clients have their first full
    snapshot, their frames come from implicit baselines, and the counter says so."""
    world = replace(small_arena.world, width_units=100.0, height_units=100.0)
    sync = replace(small_arena.sync, interest_radius_units=150.0)
    defn = replace(small_arena, world=world, sync=sync)
    before, after = await scrape_around_play(defn, get, 6, warmup=3)
    implicit = value(after, "tickwire_state_frames_implicit_total") - value(
        before, "tickwire_state_frames_implicit_total"
    )
    frames = value(after, "tickwire_messages_sent_total", type="state") - value(
        before, "tickwire_messages_sent_total", type="state"
    )
    assert implicit >= 10  # 2 clients x 6 inputs, a frame a tick
    assert implicit <= frames


async def test_server_counts_a_protocol_error_when_a_frame_is_not_msgpack(
    small_arena: GameDefinition, get: Any, closed: Any
) -> None:
    """A garbage frame closes that client with 4002 and adds one to the 4002 error counter."""
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as bad:
        await bad.expect(MessageType.WELCOME)
        before = await scrape(get, srv.http_url)
        await bad.ws.send(b"\xc1\xc1\xc1 definitely not msgpack")
        assert await closed(bad, 5) == CloseCode.MALFORMED_MESSAGE
        after = await scrape(get, srv.http_url)

    code = str(int(CloseCode.MALFORMED_MESSAGE))
    assert value(after, "tickwire_protocol_errors_total", code=code) == (
        value(before, "tickwire_protocol_errors_total", code=code) + 1
    )
    assert value(after, "tickwire_closes_total", code=code) == (
        value(before, "tickwire_closes_total", code=code) + 1
    )


async def test_server_exports_tick_buckets_from_a_tenth_of_a_millisecond(
    small_arena: GameDefinition, get: Any
) -> None:
    """Tick and lateness histograms have buckets at 0.1 ms and at 100 ms (and +Inf)."""
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as c:
        await c.expect(MessageType.STATE)
        await c.expect(MessageType.STATE)
        samples = await scrape(get, srv.http_url)
    for name in ("tickwire_tick_duration_seconds_bucket", "tickwire_tick_lateness_seconds_bucket"):
        les = {dict(labels)["le"] for n, labels in samples if n == name}
        assert {"0.0001", "0.1", "+Inf"} <= les, (name, sorted(les))


@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_server_never_logs_tokens_when_clients_authenticate_and_resume(
    spawn_server: SpawnServer, log_format: str
) -> None:
    """Auth and resume tokens (good, wrong, reused, forged) never appear in the log."""
    secret = "S3cr3t-auth-QWERTY-123"
    wrong = "wrong-guess-ZXCVB-987"
    async with spawn_server(
        "--auth-token",
        secret,
        "--log-level",
        "debug",
        "--log-format",
        log_format,
        "--drain-grace-s",
        "1",
    ) as srv:
        v = PROTOCOL_VERSION
        async with TestClient.connect(srv.url, Hello(version=v, token=secret)) as a:
            first = (await a.expect(MessageType.WELCOME))["resume_token"]
        async with TestClient.connect(srv.url, Hello(version=v, token=secret, resume=first)) as b:
            again = await b.expect(MessageType.WELCOME)
            assert again["resumed"] is True
            second = again["resume_token"]
            refused = [
                Hello(version=v, token=wrong),
                Hello(version=v, token=secret, resume=first),  # reused
                Hello(version=v, token=secret, resume=first[:-4] + "AAAA"),  # forged
            ]
            codes = []
            for hello in refused:
                async with TestClient.connect(srv.url, hello) as c:
                    with pytest.raises(ConnectionClosed):
                        await c.recv()
                    codes.append(c.ws.close_code)
            assert codes == [
                CloseCode.BAD_TOKEN,
                CloseCode.RESUME_REUSED,
                CloseCode.RESUME_FORGED,
            ]
        srv.signal(signal.SIGTERM)
        assert await srv.wait(15) == 0
    log = srv.log_text()
    # The events were logged (so the test looks at real lines) ...
    assert "rejected auth" in log
    assert "resume player=" in log
    assert "rejected resume" in log
    # ... without the secrets or any part of a resume token that would let one be replayed.
    for token in (first, second):
        nonce, sig = token.split(".")[2:]
        for s in (token, nonce, sig):
            assert s not in log
    assert secret not in log
    assert wrong not in log


def documented_flags() -> set[str]:
    """The ``--flags`` named in the configuration table of docs/operations.md."""
    text = OPERATIONS.read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`(--[a-z][a-z0-9-]*)", section))


def test_cli_help_lists_every_flag_when_compared_with_operations_doc() -> None:
    """``python -m server --help`` and docs/operations.md name exactly the same flags."""
    out = subprocess.run(
        [sys.executable, "-m", "server", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=30,
    ).stdout
    in_help = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", out)) - {"--help"}
    in_docs = documented_flags()
    assert in_help - in_docs == set(), "flags missing from docs/operations.md"
    assert in_docs - in_help == set(), "documented flags that --help does not list"


def test_operations_doc_lists_every_environment_variable_when_compared_with_config() -> None:
    """Every ServerConfig field has its TICKWIRE_* variable documented, and no other."""
    text = OPERATIONS.read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`(TICKWIRE_[A-Z0-9_]+)`", section))
    expected = {f"TICKWIRE_{name.upper()}" for name in ServerConfig.__dataclass_fields__}
    assert documented == expected


def test_operations_doc_gives_every_default_when_compared_with_config() -> None:
    """The configuration table's default column equals each ServerConfig field's default."""
    section = OPERATIONS.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"\| `[^`]+` \| `TICKWIRE_([A-Z0-9_]+)` \| `([^`]*)` \|", section))
    config = ServerConfig()
    for name in ServerConfig.__dataclass_fields__:
        if name == "game":
            assert rows["GAME"] == "data/games/arena.toml"
            continue
        assert rows[name.upper()] == str(getattr(config, name)), name


def test_operations_doc_lists_every_metric_when_compared_with_the_registry() -> None:
    """Every tickwire_* metric the server registers has a row (name and type) in the doc."""
    section = OPERATIONS.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(tickwire_[a-z0-9_]+)` \| (\w+) \|", section, re.MULTILINE))
    exported = {}
    for family in Metrics().registry.collect():
        if family.name.startswith("tickwire_"):
            name = family.name + ("_total" if family.type == "counter" else "")
            exported[name] = family.type
    assert rows == exported


def test_observe_many_gives_the_exposition_of_one_observe_per_value() -> None:
    """Bulk observations land in the same buckets, sum and count as ``observe`` each."""
    values = [0.0, 0.0001, 0.00011, 0.0004, 0.003, 0.003, 0.05, 0.2, 0.3, 7.5, 0.00025]
    one, bulk = Metrics(), Metrics()
    for v in values:
        one.tick_lateness.labels("arena/state").observe(v)
    observe_many(bulk.tick_lateness.labels("arena/state"), values)
    observe_many(bulk.tick_lateness.labels("arena/state"), [])

    def lateness(m: Metrics) -> Samples:
        return {
            k: v
            for k, v in parse(m.exposition().decode()).items()
            if k[0].startswith("tickwire_tick_lateness") and not k[0].endswith(("_created", "_sum"))
        }

    hist = lateness(one)
    assert hist == lateness(bulk)
    sums = [
        value(
            parse(m.exposition().decode()), "tickwire_tick_lateness_seconds_sum", kind="arena/state"
        )
        for m in (one, bulk)
    ]
    assert sums[1] == pytest.approx(sums[0])
    assert value(hist, "tickwire_tick_lateness_seconds_count", kind="arena/state") == len(values)


def test_observer_flush_adds_every_kinds_counts_when_only_the_first_is_flushed() -> None:
    """Frames counted by the observer of a second game kind reach Prometheus with the
    server's (first) observer's flush, and not before."""
    metrics = Metrics()
    first = Observer(metrics, "arena/state", 50.0)
    second = Observer(metrics, "tag/state", 50.0)
    first.siblings.append(second)
    second.state_sent(3, 300, StateFrameStats(entered=2, changed=5))
    assert (
        value(parse(metrics.exposition().decode()), "tickwire_messages_sent_total", type="state")
        == 0
    )
    first.flush_counters()
    samples = parse(metrics.exposition().decode())
    assert value(samples, "tickwire_messages_sent_total", type="state") == 3
    assert value(samples, "tickwire_sent_bytes_total", type="state") == 300
    assert value(samples, "tickwire_state_entities_changed_total") == 7

"""Every hostile case of client_sim.hostile against a real server while honest bots play.

One server (short timeouts, a small connection limit) and one pool of honest bots serve the
whole module; the cases run one after another against them, as the CLI runs them. Each test
checks the three things: the offender got the documented answer, the honest bots kept the
snapshot rate and saw no error, and the server's memory and tick stayed in bounds.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from client_sim.hostile import (
    CASE_MODULES,
    CASES,
    Context,
    HonestPool,
    Limits,
    MetricsProbe,
    format_table,
    run_case,
)
from server.app import TickwireServer
from server.gamedef import GameDefinition
from server.testing import running_server

ROOT = Path(__file__).resolve().parents[2]

LIMITS = Limits(
    idle_timeout_s=1.0,
    hello_timeout_s=0.5,
    open_timeout_s=1.0,
    reconnect_grace_s=1.0,
    max_connections=40,
    storm=300,
    join_leave_rounds=20,
    never_read_s=1.5,
    slack_s=1.5,
    seat_reservation_s=1.0,
    ticket_flood=600,
)
SERVER_OVERRIDES = {
    "idle_timeout_s": LIMITS.idle_timeout_s,
    "hello_timeout_s": LIMITS.hello_timeout_s,
    "open_timeout_s": LIMITS.open_timeout_s,
    "reconnect_grace_s": LIMITS.reconnect_grace_s,
    "max_connections": LIMITS.max_connections,
    "seat_reservation_s": LIMITS.seat_reservation_s,
}
MIN_HONEST_RATE = 19.0
"""Snapshots per second every honest bot keeps (the arena sends 20)."""
MAX_RSS_GROWTH_MIB = 30.0


def vm_rss_mib() -> float:
    """This process's resident memory (the server runs in it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@dataclass
class Arena:
    srv: TickwireServer
    ctx: Context


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def hostile_arena(small_arena: GameDefinition) -> AsyncIterator[Arena]:
    """A server with short timeouts and three honest bots playing on it."""
    assert small_arena.sync.snapshot_rate_hz == 20
    async with running_server(small_arena, **SERVER_OVERRIDES) as srv:
        pool = HonestPool(srv.url, 3)
        welcome = await pool.start()
        await asyncio.sleep(0.5)
        try:
            yield Arena(srv, Context(pool, welcome, LIMITS, MetricsProbe(srv.url)))
        finally:
            await pool.stop()


STATE_CASES = [name for name, c in CASES.items() if "state" in c.modes]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", STATE_CASES)
async def test_offender_gets_documented_answer_while_honest_bots_play(
    hostile_arena: Arena, name: str
) -> None:
    """The hostile client gets its documented code; honest bots and the server don't notice."""
    srv, ctx = hostile_arena.srv, hostile_arena.ctx
    match = next(iter(srv.manager.matches.values()))
    rss0, tick0 = vm_rss_mib(), match.tick_count
    # A 2 s window: the server, the honest bots and the offender share this process's
    # loop, and on a shared 2-core box one late tick in a 1 s window reads as 19.0/s.
    # The storm's few hundred handshakes are parsed on the server's loop in one burst (a
    # few hundred ms at most); its rate is averaged over 4 s so a burst is not a verdict.
    window = 4.0 if name == "connection_storm" else 2.0
    o = await run_case(CASES[name], srv.url, ctx, min_window_s=window)
    rss1, ticks = vm_rss_mib(), match.tick_count - tick0
    print(format_table([o]))
    assert o.passed, f"{name}: expected {o.expected}, observed {o.observed}"
    assert o.honest_errors == []
    assert o.honest_rate is not None
    assert o.honest_rate >= MIN_HONEST_RATE
    assert rss1 - rss0 < MAX_RSS_GROWTH_MIB
    assert ticks >= 0.9 * ctx.tick_rate * o.duration_s - 2
    assert ticks <= ctx.tick_rate * o.duration_s + 3
    assert len(srv.conns) <= len(ctx.pool.bots) + 2  # the offender's connections are gone


def test_every_documented_hostile_case_is_covered() -> None:
    """The registry holds one case per bad-input kind of docs/protocol.md and QUALITY.md."""
    assert set(CASES) >= {
        "non_msgpack",
        "wrong_shape",
        "wrong_field_types",
        "unknown_message_type",
        "missing_and_extra_fields",
        "non_finite_inputs",
        "input_far_past_and_future",
        "text_frame",
        "oversize_frame",
        "flood",
        "join_leave_loop",
        "never_reads_state",
        "never_reads_lockstep",
        "slowloris_handshake",
        "silent_after_hello",
        "no_hello",
        "stale_token",
        "forged_token",
        "reused_token",
        "two_connections_one_seat",
        "connection_storm",
    }


@pytest.mark.slow
async def test_cli_runs_cases_against_a_server_and_writes_the_report(
    small_arena: GameDefinition, tmp_path: Path
) -> None:
    """``python -m client_sim.hostile`` prints the table and writes a passing JSON report."""
    report = tmp_path / "hostile.json"
    async with running_server(small_arena, **SERVER_OVERRIDES) as srv:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "client_sim.hostile",
            "--url",
            srv.url,
            "--report",
            str(report),
            "--cases",
            "non_msgpack,text_frame,no_hello,never_reads_lockstep",
            "--hello-timeout-s",
            "0.5",
            "--honest",
            "2",
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 0, text + err.decode()
    assert "case" in text
    assert "honest rate" in text
    data = json.loads(report.read_text())
    assert data["sync"] == "state"
    assert data["passed"] is True
    # The lockstep-only case is skipped against a state-sync server.
    assert [r["case"] for r in data["results"]] == ["non_msgpack", "text_frame", "no_hello"]
    assert all(r["honest_rate"] >= MIN_HONEST_RATE for r in data["results"])


def test_cases_come_from_the_listed_modules_in_order() -> None:
    """Each case lives in a module of ``CASE_MODULES``; the modules register in that order.

    This is the contract for adding cases from another module (see client_sim.hostile): the
    ticket flood (matchmaking) stays last because it empties this address's bucket.
    """
    modules = [c.fn.__module__ for c in CASES.values()]
    assert set(modules) <= set(CASE_MODULES)
    order = [CASE_MODULES.index(m) for m in modules]
    assert order == sorted(order)
    assert list(CASES)[-1] == "ticket_flood"

"""The bot swarm against a real server: state sync, lockstep replicas, floods, the CLI."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from client_sim.report import Slo, build_report
from client_sim.swarm import Swarm, SwarmConfig
from client_sim.wire import HandshakeFailed, open_connection
from server.gamedef import GameDefinition
from server.gamedef.load import override_sync_mode
from server.testing import running_server

ROOT = Path(__file__).resolve().parents[2]


async def run_swarm(defn: GameDefinition, url: str, **kw: object) -> dict[str, object]:
    config = SwarmConfig(url, **{"duration_s": 3.0, "ramp_up_s": 0.3, "warmup_s": 0.7, **kw})
    swarm = Swarm(config, defn)
    parts = [await swarm.run()]
    return build_report(parts, {}, Slo(min_rate=18.0))


async def test_swarm_plays_state_sync_at_the_snapshot_rate(small_arena: GameDefinition) -> None:
    """Twenty wandering bots all connect, get ~20 snapshots/s each, and hold what they see."""
    async with running_server(small_arena) as srv:
        report = await run_swarm(small_arena, srv.url, bots=20)
        match = next(iter(srv.manager.matches.values()))
        world = match.sim.world
        sticks = world.col("input.x")[world.mask("input")]
    assert report["connected"] == 20
    assert report["failed"] == 0
    assert report["sync"] == "state"
    assert report["rate_per_bot"]["min"] >= 18.0, report["rate_per_bot"]
    assert report["passed"], report["slo"]
    assert report["mirror_errors"] == 0
    assert report["bytes_in_per_bot_per_s"] > 0
    assert report["bytes_out_per_bot_per_s"] > 0  # inputs went out
    assert report["rtt_ms"]["p50"] > 0
    assert report["close_codes"] == {}
    assert (sticks != 0).any()  # the bots' inputs reached their entities


async def test_swarm_replicas_check_every_lockstep_checksum(small_arena: GameDefinition) -> None:
    """In lockstep, replica bots agree with the server on every checksum and see no gap."""
    defn = override_sync_mode(small_arena, "lockstep")
    defn = replace(defn, lockstep=replace(defn.lockstep, checksum_interval_ticks=1))
    async with running_server(defn) as srv:
        report = await run_swarm(defn, srv.url, bots=6, replicas=2)
        match = next(iter(srv.manager.matches.values()))
        checked = len(match.lockstep.server_checksums)
    assert report["sync"] == "lockstep"
    assert report["connected"] == 6
    assert report["replicas"] == 2
    assert report["checksums_sent"] >= 2 * 30  # 2 replicas x ~2 s of 20 Hz frames
    assert report["desyncs"] == 0
    assert report["gaps"] == 0
    assert report["rate_per_bot"]["min"] >= 18.0
    assert checked > 0


async def test_flood_bots_are_closed_by_the_rate_limiter(small_arena: GameDefinition) -> None:
    """The flood behaviour (400 inputs/s) is closed with RATE_LIMITED (4008)."""
    async with running_server(small_arena) as srv:
        report = await run_swarm(small_arena, srv.url, bots=3, behaviour="flood", duration_s=2.5)
    assert report["close_codes"].get("4008") == 3, report["close_codes"]
    assert not report["passed"]


async def test_wire_client_reports_the_http_status_of_a_refused_upgrade(
    small_arena: GameDefinition,
) -> None:
    """At the connection limit the server answers 503 and the bot transport says so."""
    async with running_server(small_arena, max_connections=0) as srv:
        with pytest.raises(HandshakeFailed) as refused:
            await open_connection(srv.url, lambda _: None, timeout_s=3.0)
    assert refused.value.status == 503


async def test_cli_exit_status_follows_the_slo(small_arena: GameDefinition, tmp_path: Path) -> None:
    """`python -m client_sim` writes its report and exits 1 when an SLO is missed, 0 when met."""
    async with running_server(small_arena) as srv:
        codes = []
        for min_rate in ("1000", "5"):
            out = tmp_path / f"report-{min_rate}.json"
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "client_sim",
                "--url",
                srv.url,
                "--bots",
                "4",
                "--duration",
                "2",
                "--ramp-up",
                "0.2",
                "--min-rate",
                min_rate,
                "--report",
                str(out),
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            stdout, _ = await asyncio.wait_for(proc.communicate(), 30)
            codes.append(proc.returncode)
            report = json.loads(out.read_text())
            assert report["connected"] == 4, stdout.decode()
            assert "frames/s per bot" in stdout.decode()
    assert codes == [1, 0]


async def test_cli_splits_bots_over_processes_and_merges_the_report(
    small_arena: GameDefinition, tmp_path: Path
) -> None:
    """`--procs 2` runs the bots in two processes; one report counts all of them."""
    async with running_server(small_arena) as srv:
        out = tmp_path / "report.json"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "client_sim",
            "--url",
            srv.url,
            "--bots",
            "6",
            "--procs",
            "2",
            "--duration",
            "2",
            "--ramp-up",
            "0.2",
            "--report",
            str(out),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        stdout, _ = await asyncio.wait_for(proc.communicate(), 60)
        players = next(iter(srv.manager.matches.values())).players
    text = stdout.decode()
    assert proc.returncode == 0, text
    report = json.loads(out.read_text())
    assert report["procs"] == 2
    assert report["connected"] == 6, text
    assert report["rate_per_bot"]["min"] > 15
    assert players == 6  # all six held seats in the one match (dropped, not left)
    assert "Traceback" not in text

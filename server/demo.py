"""``make demo``: a real server with its games and swarms of bots, on one machine.

Starts the server in this process (port 8765, or a free one if that is taken) with every
game of ``data/games/`` (or the one ``--game`` names: ``make demo GAME=shooter``) and
bots in child processes (``python -m client_sim``, so the bots' work does not share the
server's event loop), spread over several matches: per game a crowd that quick-joins,
and in the first game also a private match (``--create --private``) and one labelled
``mode=ctf`` (``--filters``). It prints the URLs to open, then, once every bot is in
(or at the end), every match with the ways to join it (HELLO fields, ``POST
/matchmake/*``), then one line per second: tick, players, entities, ms per tick. The
bots play each game's own bot behaviour (``[game] bot``; the arena's is ``wander``) and
join a new match whenever one ends. Ctrl-C (or ``--seconds``) stops everything; the
server drains as on SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from server.app import TickwireServer
from server.config import ServerConfig
from server.gamedef import load_definition
from server.identity.verify import read_secret_file
from server.match.match import MatchState
from server.ops.logging import configure_logging
from server.tokens import mint, write_secret

ROOT = Path(__file__).resolve().parent.parent


def build_parser() -> argparse.ArgumentParser:
    """The demo's flags."""
    p = argparse.ArgumentParser(prog="python -m server.demo", description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=8765, help="port (falls back to a free one)")
    p.add_argument(
        "--game",
        default="all",
        help="a game in data/games/ (arena, tag, shooter, rts), a definition's path, or "
        "'all' (every definition in data/games/, the default)",
    )
    p.add_argument(
        "--bots",
        type=int,
        default=None,
        help="bots (default: 40 in the arena, else one seat short of a full match, "
        "so that the browser takes the last seat)",
    )
    p.add_argument(
        "--behaviour", default=None, help="bot behaviour (data/bots/; default: the game's)"
    )
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: never)")
    p.add_argument("--sync", choices=("state", "lockstep"), default=None)
    return p


async def _start(config: ServerConfig) -> TickwireServer:
    server = TickwireServer(config)
    try:
        await server.start()
    except OSError as exc:
        if config.port == 0:
            raise
        print(f"port {config.port} is taken ({exc.strerror}); using a free one", flush=True)
        server = TickwireServer(replace(config, port=0))
        await server.start()
    return server


def bot_groups(games: list[tuple[Path, str]], bots: int) -> list[tuple[Path, int, list[str]]]:
    """``(definition file, bots, extra client_sim flags)`` per swarm: a quick-join crowd per
    game, and in the first game a private match and a ``mode=ctf`` one (a quarter of the
    first game's bots each, at most 3)."""
    per_game = [bots // len(games) + (1 if i < bots % len(games) else 0) for i in range(len(games))]
    groups: list[tuple[Path, int, list[str]]] = []
    for i, ((path, _name), n) in enumerate(zip(games, per_game, strict=True)):
        side = min(3, max(1, n // 4)) if i == 0 and n >= 3 else 0
        if n - 2 * side > 0:  # first: the crowd fills the game's first match
            groups.append((path, n - 2 * side, []))
        if side:
            groups.append((path, side, ["--create", "--private"]))
            groups.append((path, side, ["--filters", '{"mode": "ctf"}']))
    return groups


def join_lines(server: TickwireServer) -> list[str]:
    """Every live match and how to join it."""
    base = server.http_url
    lines = ["Matches (send one of these HELLOs, or POST it to reserve a seat):"]
    for m in server.host.directory.matches():
        if m.state is MatchState.ENDED:
            continue
        game = m.definition.name
        where = f"  {game:8s} {m.match_id:6s} {m.players:4d}/{m.capacity} players"
        if m.private:
            lines.append(f"{where}  private, code {m.join_code}")
            lines.append(f'      HELLO {{"code": "{m.join_code}"}}')
            lines.append(
                f"      curl -s -X POST {base}/matchmake/join-by-code "
                f'-d \'{{"code": "{m.join_code}"}}\''
            )
            continue
        labels = json.dumps(m.label_values) if m.label_values else "no labels"
        lines.append(f"{where}  {labels}")
        lines.append(f'      HELLO {{"game": "{game}", "match_id": "{m.match_id}"}}')
        if m.label_values:
            lines.append(f'      HELLO {{"game": "{game}", "filters": {labels}}}')
        lines.append(
            f"      curl -s -X POST {base}/matchmake/join-by-id "
            f'-d \'{{"match_id": "{m.match_id}"}}\''
        )
    lines.append(
        f'  a new private match: HELLO {{"create": {{"private": true}}}}; the matchmaker: '
        f"curl -s -X POST {base}/matchmake/queue -d '{{\"min_players\": 2}}'"
    )
    lines.append(f"  listing: {base}/matches?format=json&open=1")
    return lines


def game_path(game: str) -> Path:
    """``data/games/<game>.toml`` for a shipped game's name, else ``game`` as a path."""
    shipped = ROOT / "data" / "games" / f"{game}.toml"
    return shipped if shipped.is_file() else Path(game).resolve()


async def run_demo(args: argparse.Namespace) -> int:
    """Serve and play until Ctrl-C or ``--seconds``; 0 on a clean stop."""
    if args.game == "all":
        paths = sorted((ROOT / "data" / "games").glob("*.toml"))
    else:
        paths = [game_path(args.game)]
    games = [(p, load_definition(p).name) for p in paths]
    definition = load_definition(paths[0])
    if args.bots is None:
        args.bots = 40 if definition.name == "arena" else max(1, definition.max_players - 1)
    # Identity for the demo: a fresh HS256 secret, optional player tokens (the bots and the
    # page play anonymously), an admin JWT minted with it, and an audit trail.
    keys = Path(tempfile.mkdtemp(prefix="tickwire-demo-"))
    write_secret(keys / "jwt.key")
    config = ServerConfig.from_env(
        port=args.port,
        sync=args.sync,
        host="127.0.0.1",
        game=",".join(map(str, paths)),
        auth_jwt_secret_file=str(keys / "jwt.key"),
        auth_jwt_optional=True,
        audit_file=str(keys / "audit.jsonl"),
        record=str(keys / "replays"),
    )
    admin_token = mint(read_secret_file(keys / "jwt.key"), "demo-admin", 8 * 3600, roles=["admin"])
    server = await _start(config)
    behaviour = ["--behaviour", args.behaviour] if args.behaviour else []
    base = server.http_url
    groups = bot_groups(games, args.bots)
    print(
        "\n".join(
            [
                f"Tickwire demo is running {', '.join(n for _, n in games)}:",
                f"  play in a browser:   {base}/",
                f"  watch (spectate):    {base}/?spectate=1",
                f"  matches:             {base}/matches",
                f"  metrics:             {base}/metrics",
                f"  admin page:          {base}/admin",
                f"  admin token (8 h):   {admin_token}",
                f"  audit trail:         {keys / 'audit.jsonl'}  (python -m server.audit verify)",
                f"  recordings:          {base}/replays  (files in {keys / 'replays'})",
                f"  websocket:           {server.url}",
                f"  {args.bots} bots: python -m client_sim --rejoin "
                f"--behaviour {args.behaviour or definition.bot or 'wander'}",
                "Ctrl-C stops.",
            ]
        ),
        flush=True,
    )
    swarms = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "client_sim",
            "--url",
            server.url,
            "--bots",
            str(n),
            *behaviour,
            "--game",
            str(path),
            *extra,
            "--rejoin",
            "--duration",
            str(args.seconds if args.seconds > 0 else 10**7),
            "--ramp-up",
            "2",
            "--quiet",
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
        )
        for path, n, extra in groups
    ]
    listed = False
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if args.seconds > 0:
        loop.call_later(args.seconds, stop.set)
    last_ticks, last_work = 0, 0.0
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            runners = list(server.runners.values())
            ticks = sum(r.stats.ticks for r in runners)
            work = sum(r.stats.work_s for r in runners)
            per_tick = 1000 * (work - last_work) / max(1, ticks - last_ticks)
            last_ticks, last_work = ticks, work
            if not listed and len(server.conns) >= args.bots:  # every bot is in
                print("\n".join(join_lines(server)), flush=True)
                listed = True
            matches = list(server.host.directory.matches())
            players = sum(m.players for m in matches)
            entities = sum(m.sim.world.count for m in matches)
            tick = max((m.tick_count for m in matches), default=0)
            print(
                f"tick {tick:6d}  matches {len(matches)}  players {players:4d}  "
                f"entities {entities:5d}  {per_tick:6.2f} ms/tick  "
                f"connections {len(server.conns)}",
                flush=True,
            )
    finally:
        if not listed:
            print("\n".join(join_lines(server)), flush=True)
        for bots in swarms:
            if bots.returncode is None:
                bots.terminate()
        for bots in swarms:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bots.wait(), 5)
        await server.stop(grace_s=0.5)
    for rec in sorted((keys / "replays").glob("*.twr")):
        print(f"recorded: {rec}  (python -m server.replay {rec} verify)", flush=True)
    print("demo stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``make demo``."""
    args = build_parser().parse_args(argv)
    configure_logging("json", "info")
    # The server's log (and its audit stream: a join per bot) goes to a file, so the
    # terminal shows the URLs and the progress line.
    log_path = Path(tempfile.gettempdir()) / "tickwire-demo.log"
    log_file = log_path.open("w")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(log_file)
    print(f"server log: {log_path}", flush=True)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.run(run_demo(args))
    result: int = uvloop.run(run_demo(args))
    return result


if __name__ == "__main__":
    raise SystemExit(main())

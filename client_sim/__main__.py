"""``python -m client_sim``: a swarm of headless bots against a running server.

Example::

    python -m client_sim --url ws://127.0.0.1:8765/ws --bots 200 --duration 20 \\
        --behaviour wander --report report.json --min-rate 19.5

Prints a progress line each second and a summary at the end; writes the JSON report when
``--report`` is given. Exit status: 0 when every SLO holds, 1 when one is missed, 3 when
no bot could connect (2 is argparse's usage error).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from client_sim.behaviours import BehaviourError, load_behaviour
from client_sim.joining import JoinPlan
from client_sim.procs import install_loop_policy, run_swarms
from client_sim.report import Slo, build_report, merge_progress, progress_line, summary_lines
from client_sim.swarm import Progress, SwarmConfig
from server.errors import DefinitionError
from server.gamedef import GameDefinition, load_definition

DEFAULT_GAME = Path(__file__).resolve().parent.parent / "data" / "games" / "arena.toml"


def build_parser() -> argparse.ArgumentParser:
    """The command line (docs/bots.md documents every flag)."""
    p = argparse.ArgumentParser(prog="python -m client_sim", description=__doc__.split("\n")[0])
    p.add_argument("--url", default="ws://127.0.0.1:8765/ws", help="server websocket URL")
    p.add_argument("--bots", type=int, default=50, help="number of bots (default 50)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds after ramp-up")
    p.add_argument(
        "--behaviour",
        default=None,
        help="data/bots/<name>.toml or a path to a behaviour file (default: the game's "
        "own bot from WELCOME, wander if it names none)",
    )
    p.add_argument("--ramp-up", type=float, default=2.0, help="seconds to connect all bots")
    p.add_argument("--warmup", type=float, default=None, help="seconds not measured after ramp")
    p.add_argument(
        "--window", type=float, default=None, help="seconds measured (default: to the end)"
    )
    p.add_argument("--procs", type=int, default=1, help="bot processes (bots split evenly)")
    p.add_argument(
        "--replicas", type=int, default=3, help="lockstep: bots that run the full replica"
    )
    p.add_argument(
        "--game",
        default=None,
        help="which game to join: a game name, or a definition file (also used by lockstep "
        "replicas; default: data/games/<WELCOME.game>.toml)",
    )
    p.add_argument("--match-id", default=None, help="join this match")
    p.add_argument(
        "--create", action="store_true", help="the first bot creates a match, the rest join it"
    )
    p.add_argument("--private", action="store_true", help="with --create: a private match")
    p.add_argument("--code", default=None, help="join the private match with this code")
    p.add_argument("--filters", default=None, help="join-or-create by labels, a JSON filter")
    p.add_argument(
        "--via-http", action="store_true", help="reserve the seat with POST /matchmake/* first"
    )
    p.add_argument(
        "--queue",
        nargs="?",
        const="{}",
        default=None,
        help="queue a matchmaker ticket (JSON template; skill drawn per bot) and join its match",
    )
    p.add_argument(
        "--rejoin", action="store_true", help="join a new match when one ends (MATCH_ENDED)"
    )
    p.add_argument(
        "--rematchmake",
        action="store_true",
        help="when a node goes away (drop, SERVER_SHUTDOWN, NODE_GONE): resume once, then "
        "matchmake again through --url (use with --via-http or --queue)",
    )
    p.add_argument(
        "--until-ended",
        action="store_true",
        help="stop as soon as every bot's connection has ended (e.g. the match ended)",
    )
    p.add_argument("--seed", type=int, default=1, help="behaviour random seed")
    p.add_argument("--report", default=None, help="write the JSON report here")
    p.add_argument("--min-rate", type=float, default=None, help="SLO: min frames/s per bot")
    p.add_argument("--max-p99-ms", type=float, default=None, help="SLO: max state age p99 ms")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument(
        "--staleness",
        action="store_true",
        help="measure each bot's staleness against a truth spectator (client_sim.staleness)",
    )
    return p


def join_plan(args: argparse.Namespace) -> tuple[JoinPlan, GameDefinition | None]:
    """The match choice of the flags, and the definition ``--game`` names if it is a file."""
    definition = None
    game = args.game
    if game is not None and (game.endswith(".toml") or Path(game).is_file()):
        definition = load_definition(game)
        game = definition.name
    if args.create and args.procs > 1:
        raise ValueError("--create needs --procs 1 (the first bot creates, the rest join it)")
    if args.private and not args.create:
        raise ValueError("--private goes with --create")
    filters = json.loads(args.filters) if args.filters else None
    queue = json.loads(args.queue) if args.queue is not None else None
    if filters is not None and not isinstance(filters, dict):
        raise ValueError("--filters: a JSON object")
    if queue is not None and not isinstance(queue, dict):
        raise ValueError("--queue: a JSON object")
    plan = JoinPlan(
        game=game,
        match_id=args.match_id,
        create=args.create,
        private=args.private,
        code=args.code,
        filters=filters,
        via_http=args.via_http,
        queue=queue,
    )
    return plan, definition


def main(argv: list[str] | None = None) -> int:
    """Run the swarm; see the module docstring for the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.behaviour is not None:
            load_behaviour(args.behaviour)
    except BehaviourError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        plan, definition = join_plan(args)
    except (ValueError, DefinitionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = SwarmConfig(
        url=args.url,
        bots=args.bots,
        duration_s=args.duration,
        behaviour=args.behaviour,
        ramp_up_s=args.ramp_up,
        warmup_s=args.warmup,
        window_s=args.window,
        replicas=args.replicas,
        seed=args.seed,
        rejoin=args.rejoin,
        rematchmake=args.rematchmake,
        until_ended=args.until_ended,
        join=plan,
        staleness=args.staleness,
    )

    def show(samples: list[Progress]) -> None:
        if not args.quiet:
            print(progress_line(merge_progress(samples), args.bots), flush=True)

    install_loop_policy()
    game_file = args.game if definition is not None else None
    parts = run_swarms(config, args.procs, definition, game_file, show)
    meta = {
        "url": args.url,
        "bots": args.bots,
        "procs": args.procs,
        "behaviour": args.behaviour or next((p["behaviour"] for p in parts), None),
        "duration_s": args.duration,
        "ramp_up_s": args.ramp_up,
    }
    report = build_report(parts, meta, Slo(args.min_rate, args.max_p99_ms))
    for line in summary_lines(report):
        print(line)
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2))
        print(f"wrote {args.report}")
    if report["connected"] == 0:
        return 3
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

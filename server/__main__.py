"""``python -m server``: run a Tickwire server (see ``--help`` and docs/operations.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import fields

from server.app import TickwireServer
from server.config import ServerConfig
from server.errors import DefinitionError, DefinitionErrors
from server.identity.bans import BanError
from server.identity.verify import KeyConfigError
from server.ops.events import Event, log_event
from server.ops.gc_policy import apply_gc_policy
from server.ops.logging import configure_logging
from server.ops.memory import retain_freed_heap

log = logging.getLogger("tickwire.main")


# Generated flags whose name is not the field's own (``--no-batch``, not ``--no-batch-matches``).
FLAG_NAMES = {"batch_matches": "batch"}

# Help text for generated flags; a bool field's text describes the switch as named in --help.
FIELD_HELP = {
    "agones": "report to the Agones SDK sidecar (Ready, Health, Allocate, Shutdown, players)",
    "metrics": "do not serve /metrics (404)",
    "batch_matches": "step every match on its own instead of in batches per game definition",
    "gc_young_threshold": "allocations between young garbage collections (default %(default)s; "
    "0: CPython's 700); see server/ops/gc_policy.py",
    "heap_retain_mb": "MB of freed heap glibc keeps for the next ticks between trims (default "
    "%(default)s; 0: glibc's defaults); see server/ops/memory.py",
    "lean_receive": "keep every message on websockets' receive path (see docs/architecture.md)",
}


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags; every one also reads ``TICKWIRE_<NAME>`` from the environment."""
    d = ServerConfig.from_env()
    p = argparse.ArgumentParser(
        prog="python -m server",
        description="Run a Tickwire game server: matches of one game definition over websockets.",
    )
    p.add_argument(
        "--game",
        action="append",
        default=None,
        help="game definition TOML; repeat for several games (default: arena)",
    )
    p.add_argument(
        "--games", dest="games_dir", default=d.games_dir, help="serve every *.toml in DIR"
    )
    p.add_argument("--host", default=d.host, help="interface to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=d.port, help="port; 0 picks a free one")
    p.add_argument(
        "--sync",
        choices=("state", "lockstep"),
        default=d.sync,
        help="override the definition's sync mode",
    )
    p.add_argument("--max-connections", type=int, default=d.max_connections)
    p.add_argument("--max-message-bytes", type=int, default=d.max_message_bytes)
    p.add_argument("--max-matches", type=int, default=d.max_matches)
    p.add_argument("--idle-timeout-s", type=float, default=d.idle_timeout_s)
    p.add_argument("--hello-timeout-s", type=float, default=d.hello_timeout_s)
    p.add_argument("--reconnect-grace-s", type=float, default=d.reconnect_grace_s)
    p.add_argument("--drain-grace-s", type=float, default=d.drain_grace_s)
    p.add_argument("--auth-token", default=d.auth_token, help="require this token in hello")
    p.add_argument("--log-format", choices=("auto", "json", "console"), default=d.log_format)
    p.add_argument("--log-level", default=d.log_level)
    p.add_argument("--slow-tick-budget-ms", type=float, default=d.slow_tick_budget_ms)
    p.add_argument("--no-uvloop", action="store_true", help="use the standard asyncio loop")
    p.add_argument(
        "--workers",
        default=None,
        help="run N nodes (or 'auto' = one per core) on ports --port .. --port+N-1 "
        "under a supervisor that restarts crashed ones and forwards SIGTERM",
    )
    # The remaining limits: one flag per ServerConfig field, so every field has one.
    taken = {a.dest for a in p._actions}
    for f in fields(ServerConfig):
        if f.name in taken:
            continue
        default = getattr(d, f.name)
        flag = "--" + FLAG_NAMES.get(f.name, f.name).replace("_", "-")
        helptext = FIELD_HELP.get(f.name)
        if isinstance(f.default, bool):
            # argparse's type=bool reads any non-empty string, "False" too, as True: a bool
            # field is a switch instead, --name when off by default, --no-name when on.
            if f.default:
                p.add_argument(
                    "--no-" + flag[2:],
                    dest=f.name,
                    action="store_false",
                    default=default,
                    help=helptext,
                )
            else:
                p.add_argument(
                    flag, dest=f.name, action="store_true", default=default, help=helptext
                )
            continue
        kind = type(f.default) if f.default is not None else str
        p.add_argument(flag, dest=f.name, type=kind, default=default, help=helptext)
    return p


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """A ServerConfig from parsed flags (environment defaults already applied)."""
    names = {f.name for f in fields(ServerConfig)}
    values = {k: v for k, v in vars(args).items() if k in names}
    if isinstance(values.get("game"), list):
        values["game"] = ",".join(values["game"])
    return ServerConfig.from_env(**values)


async def serve_until_signalled(config: ServerConfig) -> int:
    """Run until SIGTERM (drain with grace) or SIGINT (drain quickly); return the exit code."""
    heap = retain_freed_heap(config.heap_retain_mb)  # before the server allocates
    server = TickwireServer(config)
    log_event(
        log, logging.INFO, Event.HEAP, "heap: %s (heap_retain_mb=%d)", heap, config.heap_retain_mb
    )
    apply_gc_policy(config.gc_young_threshold)  # built, not started (server.ops.gc_policy)
    await server.start()
    print(f"tickwire listening on {server.url}  (page {server.http_url}/)", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    grace = {"s": config.drain_grace_s}

    def on_signal(sig: signal.Signals) -> None:
        log_event(log, logging.INFO, Event.SIGNAL, "received %s: draining", sig.name)
        if sig is signal.SIGINT:
            grace["s"] = min(1.0, config.drain_grace_s)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, on_signal, sig)
    admin_drain = asyncio.ensure_future(server.drain_requested.wait())
    signalled = asyncio.ensure_future(stop.wait())
    await asyncio.wait((admin_drain, signalled), return_when=asyncio.FIRST_COMPLETED)
    if admin_drain.done() and not signalled.done():
        grace["s"] = server.drain_grace_s
    admin_drain.cancel()
    signalled.cancel()
    await server.stop(grace_s=grace["s"])
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    if args.workers is not None:
        from server.cluster.supervisor import Supervisor, resolve_workers

        try:
            n = resolve_workers(args.workers)
            supervisor = Supervisor(sys.argv[1:] if argv is None else argv, n, config.port)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return supervisor.run()
    for flag, value in (
        ("--gc-young-threshold", config.gc_young_threshold),
        ("--heap-retain-mb", config.heap_retain_mb),
    ):
        if value < 0:
            print(f"error: {flag} must be >= 0, not {value}", file=sys.stderr)
            return 2
    configure_logging(config.log_format, config.log_level)
    try:
        if args.no_uvloop:
            return asyncio.run(serve_until_signalled(config))
        try:
            import uvloop
        except ImportError:
            return asyncio.run(serve_until_signalled(config))
        result: int = uvloop.run(serve_until_signalled(config))
        return result
    except DefinitionErrors as exc:
        for err in exc.errors:
            print(f"error: {err}", file=sys.stderr)
        return 2
    except (DefinitionError, KeyConfigError, BanError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

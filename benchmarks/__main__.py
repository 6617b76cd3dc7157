"""``python -m benchmarks <command>``: every benchmark command in one place."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "tick": ("benchmarks.tick", "core tick cost at 1k/10k/100k entities"),
    "spatial": ("benchmarks.spatial", "grid vs quadtree vs brute force: build and query"),
    "aoi": ("benchmarks.aoi", "batched interest management vs a per-client filter"),
    "budget": ("benchmarks.budget_inproc", "the byte budget in process, against the truth"),
    "host": ("benchmarks.host_ticks", "many small matches hosted in process: CPU per match-tick"),
    "e2e": ("benchmarks.e2e", "server + bots end to end against QUALITY.md's bars"),
    "matrix": ("benchmarks.matrix", "the whole QUALITY.md table, with plots"),
    "sweep": ("benchmarks.sweep", "one match at 10/20/30/60/128 Hz: CPU, lateness, frames/s"),
    "metrics": ("benchmarks.metrics_overhead", "what Prometheus instrumentation costs"),
    "joins": ("benchmarks.joins", "join latency via HTTP seat reservations beside players"),
    "matchmaker": ("benchmarks.matchmaker", "tickets/s the pure matchmaker forms matches from"),
    "games": ("benchmarks.games", "the shipped games under their bots; 50 shooter matches"),
    "replay": ("benchmarks.replay", "what recording a match costs (CPU, bytes)"),
    "directory": ("benchmarks.directory", "one Redis as the cluster directory: heartbeats, joins"),
    "scale": ("benchmarks.scale", "the same load on 1 and 2 workers: cost, split, capacity"),
    "latency": ("benchmarks.latency", "the shooter through delayed links: hits, prediction"),
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a command module's ``add_arguments``/``main``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    available = {}
    for name, (module, help_text) in COMMANDS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue  # not written yet
            raise
        available[name] = mod
        mod.add_arguments(sub.add_parser(name, help=help_text, description=mod.__doc__))
    args = parser.parse_args(argv)
    result: int = available[args.command].main(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

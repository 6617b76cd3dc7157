"""``make demo`` (interim): run the arena headless and print a line per second."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from server.core.simulation import Simulation
from server.gamedef import load_definition

DEFAULT_GAME = Path(__file__).resolve().parent.parent / "data" / "games" / "arena.toml"


def main(argv: list[str] | None = None) -> int:
    """Run the simulation in real time for ``--seconds``; print tick, entities, ms per tick."""
    parser = argparse.ArgumentParser(prog="python -m server.demo")
    parser.add_argument("--game", type=Path, default=DEFAULT_GAME)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    definition = load_definition(args.game)
    sim = Simulation(definition)
    sim.spawn_initial()
    dt = definition.dt_s
    start = time.perf_counter()
    next_report = start + 1.0
    work = 0.0
    ticks_in_window = 0
    n = 0
    while time.perf_counter() - start < args.seconds:
        n += 1
        deadline = start + n * dt
        result = sim.step()
        work += result.total_s
        ticks_in_window += 1
        now = time.perf_counter()
        if now >= next_report:
            print(
                f"tick {sim.tick:6d}  entities {sim.world.count:6d}  "
                f"{1000 * work / ticks_in_window:6.3f} ms/tick  "
                f"contacts {int(result.stats.get('contacts', 0))}",
                flush=True,
            )
            work, ticks_in_window = 0.0, 0
            next_report += 1.0
        sleep = deadline - time.perf_counter()
        if sleep > 0:
            time.sleep(sleep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

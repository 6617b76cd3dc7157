"""Running a swarm in one process or split over several (``--procs N``).

Child processes are started with the ``spawn`` method, so the worker lives in this
importable module (a function of ``__main__`` cannot be pickled by reference). Each child
runs its share of the bots and sends its per-second progress and its final raw results
over a queue; the parent merges progress by second and returns every child's results.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
from dataclasses import replace
from typing import Any

from client_sim.swarm import Progress, Swarm, SwarmConfig
from server.gamedef import load_definition
from server.gamedef.schema import GameDefinition


def install_loop_policy() -> None:
    """Use uvloop when it is installed (it is a dependency)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _worker(
    config: SwarmConfig, game: str | None, out: multiprocessing.Queue[tuple[str, Any]]
) -> None:  # pragma: no cover - runs in a child process
    install_loop_policy()
    definition = load_definition(game) if game else None
    swarm = Swarm(config, definition, progress=lambda p: out.put(("progress", p)))
    out.put(("result", asyncio.run(swarm.run())))


def run_swarms(
    config: SwarmConfig,
    procs: int,
    definition: GameDefinition | None,
    game: str | None,
    on_progress: Any,
) -> list[dict[str, Any]]:
    """Run ``config.bots`` split over ``procs`` processes; each process's raw results."""
    if procs <= 1:
        swarm = Swarm(config, definition, progress=lambda p: on_progress([p]))
        return [asyncio.run(swarm.run())]
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[tuple[str, Any]] = ctx.Queue()
    share, extra = divmod(config.bots, procs)
    children = []
    first = 0
    for i in range(procs):
        n = share + (1 if i < extra else 0)
        cfg = replace(config, bots=n, first_index=first)
        first += n
        child = ctx.Process(target=_worker, args=(cfg, game, out), daemon=True)
        child.start()
        children.append(child)
    results: list[dict[str, Any]] = []
    pending: dict[int, list[Progress]] = {}
    deadline_s = config.ramp_up_s + config.duration_s + 60.0
    while len(results) < procs:
        try:
            kind, payload = out.get(timeout=deadline_s)
        except queue.Empty:
            break
        if kind == "result":
            results.append(payload)
        else:
            group = pending.setdefault(payload["t"], [])
            group.append(payload)
            if len(group) == procs:
                on_progress(pending.pop(payload["t"]))
    for child in children:
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
    out.close()
    out.join_thread()
    return results

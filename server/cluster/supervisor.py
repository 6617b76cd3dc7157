"""``python -m server --workers N``: N server processes (nodes) on one host, supervised.

One Tickwire process uses one core (the GIL), so a host with C cores runs C nodes. Each
worker is an ordinary ``python -m server`` on its own port (``--port`` + i, i = 0..N-1)
with its own node name (``w<i>``): a client must reach the process that holds its match,
so every node needs an address of its own anyway, and the reservation flow hands the
client that address (``ws_url``). Sharing one port with SO_REUSEPORT would send a
websocket to a random worker, which is wrong for a game socket.

The supervisor:

- restarts a worker that exits without being asked to (a crash, SIGKILL), after a
  backoff of ``restart_backoff_s`` that doubles with each quick failure (capped at 30 s);
  the restarted worker is a new incarnation (a new node id), so old match ids never
  route to it;
- forwards SIGTERM and SIGINT to every worker, so each one drains, and exits when all
  have, with 0 if every worker exited 0;
- prints one line per start and exit: ``worker <i> started pid <pid> port <port>``.

It is deliberately not asyncio and holds no game state: it is small enough to trust.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType


@dataclass(slots=True)
class Worker:
    """One supervised node process."""

    index: int
    port: int
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff_s: float = 0.0
    next_start: float = 0.0
    exit_codes: list[int] = field(default_factory=list)


def worker_argv(argv: Sequence[str], index: int, port: int) -> list[str]:
    """The worker's command line: the supervisor's flags without ``--workers`` and with
    this worker's ``--port`` and ``--node-name``; ``{name}`` and ``{port}`` in a
    ``--public-url`` become the worker's (``--public-url wss://front/n/{name}/ws``)."""
    argv = [_per_worker(a, index, port) for a in argv]
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--workers", "--port", "--node-name"):
            skip = True
            continue
        if arg.startswith(("--workers=", "--port=", "--node-name=")):
            continue
        out.append(arg)
    return [
        sys.executable, "-m", "server", *out, "--port", str(port), "--node-name", f"w{index}",
    ]  # fmt: skip


def _per_worker(arg: str, index: int, port: int) -> str:
    if "{name}" in arg or "{port}" in arg:
        return arg.replace("{name}", f"w{index}").replace("{port}", str(port))
    return arg


def resolve_workers(value: str) -> int:
    """``auto`` = the cores this process may use; else a positive integer."""
    if value == "auto":
        return max(1, len(os.sched_getaffinity(0)))
    n = int(value)
    if n < 1:
        raise ValueError("--workers must be at least 1 (or auto)")
    return n


class Supervisor:
    """Starts, restarts and stops the workers (see the module docstring)."""

    def __init__(
        self,
        argv: Sequence[str],
        workers: int,
        base_port: int,
        restart_backoff_s: float = 0.5,
    ) -> None:
        if base_port == 0:
            raise ValueError("--workers needs a fixed --port (worker i listens on port + i)")
        self.argv = list(argv)
        self.restart_backoff_s = restart_backoff_s
        self.workers = [Worker(i, base_port + i) for i in range(workers)]
        self.stopping: signal.Signals | None = None

    def _start(self, w: Worker) -> None:
        w.proc = subprocess.Popen(worker_argv(self.argv, w.index, w.port))
        w.started_at = time.monotonic()
        print(f"worker {w.index} started pid {w.proc.pid} port {w.port}", flush=True)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        sig = signal.Signals(signum)
        if self.stopping is None:
            print(f"supervisor: {sig.name}, stopping every worker", flush=True)
        self.stopping = sig
        for w in self.workers:
            if w.proc is not None and w.proc.poll() is None:
                w.proc.send_signal(sig)

    def run(self) -> int:
        """Supervise until every worker has exited after a stop signal; the exit code."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for w in self.workers:
            self._start(w)
        while True:
            now = time.monotonic()
            alive = 0
            for w in self.workers:
                if w.proc is None:
                    if self.stopping is None and now >= w.next_start:
                        w.restarts += 1
                        self._start(w)
                        alive += 1
                    continue
                code = w.proc.poll()
                if code is None:
                    alive += 1
                    continue
                w.exit_codes.append(code)
                print(f"worker {w.index} exited with {code}", flush=True)
                w.proc = None
                if self.stopping is None:
                    quick = now - w.started_at < 10.0
                    w.backoff_s = min(30.0, w.backoff_s * 2) if quick and w.backoff_s else 0.0
                    w.backoff_s = w.backoff_s or self.restart_backoff_s
                    w.next_start = now + w.backoff_s
                    alive += 1
            if self.stopping is not None and alive == 0:
                last = [w.exit_codes[-1] if w.exit_codes else 0 for w in self.workers]
                return 0 if all(c == 0 for c in last) else 1
            time.sleep(0.1)

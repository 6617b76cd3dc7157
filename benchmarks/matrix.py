"""``python -m benchmarks matrix``: every case of QUALITY.md's table in one run, with plots.

Runs the cases one after another through :func:`benchmarks.e2e.run_case` (server pinned to
core 0, bots to core 1, CPU from ``/proc``, the per-message floor unless ``--no-floor``),
then writes one JSON file with every case's figures and bars, three PNG plots next to it
(server CPU against clients and against entities, with the bars drawn; bytes per client
per second by case) and prints a summary table. The standard cases are::

    state (5000, 200)  state (1000, 500)  state (1000, 1000)  state (20000, 200)
    lockstep (1000, 1000)  budget (20000, 200)

The budget case is state sync at (20000, 200) with ``[sync] budget_bytes_per_s`` (16000 by
default, ``--budget-bytes-per-s``) and the bots measuring their staleness against a truth
spectator (client_sim.staleness); its bars are in :mod:`benchmarks.budget_case`.

``--cases quick`` runs only the three (1000, N) cases; ``--cases`` also takes explicit
``sync:MxN`` items (M entities, N clients) for smoke runs, e.g.
``--cases state:100x5,lockstep:100x5``. Example::

    python -m benchmarks matrix --duration 20 --warmup 5
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import budget_case, e2e, plots
from benchmarks.common import result_path, write_json
from server.config import DEFAULT_GAME

Case = tuple[str, int, int]
"""(sync, entities M, clients N); sync ``budget`` is state sync under a byte budget."""

ALL_CASES: list[Case] = [
    ("state", 5000, 200),
    ("state", 1000, 500),
    ("state", 1000, 1000),
    ("state", 20000, 200),
    ("lockstep", 1000, 1000),
    ("budget", 20000, 200),
]
QUICK_CASES: list[Case] = [
    ("state", 1000, 500),
    ("state", 1000, 1000),
    ("lockstep", 1000, 1000),
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the matrix command."""
    p.add_argument(
        "--cases",
        default="all",
        help="all | quick | comma-separated sync:MxN items (e.g. state:100x5,lockstep:100x5)",
    )
    p.add_argument("--sync", default="state,lockstep,budget", help="only cases of these sync modes")
    p.add_argument(
        "--budget-bytes-per-s",
        type=float,
        default=budget_case.BUDGET_BYTES_PER_S,
        help="the budget case's [sync] budget_bytes_per_s",
    )
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds per case")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds after ramp-up")
    p.add_argument("--ramp-up", type=float, default=None, help="default: clients/100 s, >= 2")
    p.add_argument("--procs", type=int, default=1, help="bot processes")
    p.add_argument("--no-floor", action="store_true", help="skip the per-message floor runs")
    p.add_argument("--no-pin", action="store_true", help="do not use taskset")
    p.add_argument("--no-plots", action="store_true", help="write the JSON only")
    p.add_argument("--game", default=str(DEFAULT_GAME))
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")


def parse_cases(spec: str, syncs: str) -> list[Case]:
    """The cases ``spec`` names, keeping only the sync modes in ``syncs``."""
    if spec == "all":
        cases = list(ALL_CASES)
    elif spec == "quick":
        cases = list(QUICK_CASES)
    else:
        cases = []
        for item in spec.split(","):
            m = re.fullmatch(r"\s*(state|lockstep|budget):(\d+)x(\d+)\s*", item)
            if m is None:
                raise SystemExit(f"--cases: {item!r} is not sync:MxN (e.g. state:1000x500)")
            cases.append((m.group(1), int(m.group(2)), int(m.group(3))))
    wanted = {s.strip() for s in syncs.split(",") if s.strip()}
    unknown = wanted - {"state", "lockstep", "budget"}
    if unknown:
        raise SystemExit(
            f"--sync: unknown mode(s) {sorted(unknown)}; expected state,lockstep,budget"
        )
    return [c for c in cases if c[0] in wanted]


def case_args(args: argparse.Namespace, case: Case, **extra: Any) -> argparse.Namespace:
    """The ``e2e`` namespace for one case: e2e's defaults, this command's shared flags."""
    parser = argparse.ArgumentParser()
    e2e.add_arguments(parser)
    ns = parser.parse_args([])
    sync, entities, clients = case
    ns.sync, ns.entities, ns.clients = sync, entities, clients
    for name in ("duration", "warmup", "ramp_up", "procs", "no_floor", "no_pin", "game"):
        setattr(ns, name, getattr(args, name))
    for name, value in extra.items():
        setattr(ns, name, value)
    return ns


def run_one(ns: argparse.Namespace, budget: float = 0.0) -> dict[str, Any]:
    """One e2e case in its own scratch folder; an exception becomes ``{"error": ...}``.

    ``budget`` > 0: the budget case (:mod:`benchmarks.budget_case`)."""
    with tempfile.TemporaryDirectory(prefix="tickwire-matrix-") as tmp:
        try:
            if budget > 0:
                return asyncio.run(budget_case.run(ns, Path(tmp), budget))
            return asyncio.run(e2e.run_case(ns, Path(tmp)))
        except Exception as exc:  # a failed case must not lose the others' figures
            print(f"  case failed: {type(exc).__name__}: {exc}", flush=True)
            return {
                "sync": ns.sync,
                "entities": ns.entities,
                "clients": ns.clients,
                "error": f"{type(exc).__name__}: {exc}",
            }


def case_name(r: dict[str, Any]) -> str:
    """``state 1000x500`` (``budget 20000x200`` for the budget case)."""
    sync = "budget" if r.get("budget_bytes_per_s") or r["sync"] == "budget" else r["sync"]
    return f"{sync} {r['entities']}x{r['clients']}"


def verdict(r: dict[str, Any]) -> str:
    """PASS if every bar passed, FAIL if one did, ERROR if the case did not complete."""
    if "error" in r:
        return "ERROR"
    return "PASS" if all(b["pass"] for b in r["bars"]) else "FAIL"


def _fmt(v: Any, spec: str = "") -> str:
    return "-" if v is None else format(v, spec)


def summary_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """The summary table: header, then one row per case."""
    rows = [
        [
            "case",
            "CPU core-s/s",
            "bar",
            "frames/s min",
            "B/changed entity",
            "floor ratio",
            "verdict",
        ]
    ]
    for r in results:
        if "error" in r:
            rows.append([case_name(r), "-", "-", "-", "-", "-", "ERROR"])
            continue
        bar = e2e.CPU_BARS.get((r["sync"], r["entities"], r["clients"]))
        rows.append(
            [
                case_name(r),
                _fmt(r["server_cpu_core_s_per_s"], ".3f"),
                _fmt(bar, ".2f"),
                _fmt(r["rate_per_client"]["min"], ".2f"),
                _fmt(r.get("bytes_per_changed_entity")),
                _fmt(r.get("floor_ratio")),
                verdict(r),
            ]
        )
    return rows


def print_table(rows: list[list[str]]) -> None:
    """Columns padded to their widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for k, row in enumerate(rows):
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if k == 0:
            print("-+-".join("-" * w for w in widths))


def make_plots(path: Path, results: list[dict[str, Any]]) -> list[Path]:
    """CPU vs clients (a line per sync and M), CPU vs entities (a line per N), bytes/s."""
    ok = [r for r in results if "error" not in r and not r.get("budget_bytes_per_s")]
    by_m: plots.Series = {}
    by_n: plots.Series = {}
    for r in ok:
        cpu = r["server_cpu_core_s_per_s"]
        by_m.setdefault(f"{r['sync']}, M={r['entities']}", []).append((r["clients"], cpu))
        if r["sync"] == "state":
            by_n.setdefault(f"state, N={r['clients']}", []).append((r["entities"], cpu))
    ran = {(r["sync"], r["entities"], r["clients"]) for r in ok}
    bars = {k: v for k, v in e2e.CPU_BARS.items() if k in ran}
    written = [
        plots.lines(
            plots.png_path(path, "cpu-vs-clients"),
            "Server CPU against clients",
            "clients (N)",
            "server CPU, core-s/s",
            by_m,
            bars=[(n, bar) for (_, _, n), bar in bars.items()],
        ),
        plots.lines(
            plots.png_path(path, "cpu-vs-entities"),
            "Server CPU against entities (state sync)",
            "entities (M)",
            "server CPU, core-s/s",
            by_n,
            bars=[(m, bar) for (s, m, _), bar in bars.items() if s == "state"],
            log_x=len({r["entities"] for r in ok if r["sync"] == "state"}) > 2,
        ),
        plots.bar_chart(
            plots.png_path(path, "bytes-per-client"),
            "Bytes received per client per second",
            "bytes per client per s",
            [case_name(r) for r in ok],
            [float(r["bytes_per_client_per_s"]) for r in ok],
        ),
    ]
    return written


def plot_or_skip(path: Path, results: list[dict[str, Any]]) -> list[Path]:
    """:func:`make_plots` if matplotlib is there, else print :data:`plots.SKIPPED`."""
    if not plots.available():
        print(plots.SKIPPED)
        return []
    written = make_plots(path, results)
    for png in written:
        print(f"wrote {png}")
    return written


def main(args: argparse.Namespace) -> int:
    """Run every case, write JSON and plots, print the summary. 1 if a case errored."""
    cases = parse_cases(args.cases, args.sync)
    if not cases:
        raise SystemExit("no cases to run (check --cases and --sync)")
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    for i, case in enumerate(cases, 1):
        sync, m, n = case
        print(f"case {i}/{len(cases)}: {sync} {m}x{n} ...", flush=True)
        if sync == "budget":
            r = run_one(case_args(args, ("state", m, n), no_floor=True), args.budget_bytes_per_s)
        else:
            r = run_one(case_args(args, case))
        if "error" not in r:
            e2e.print_result(r)
            budget_case.print_budget(r)
        results.append(r)
    path = result_path("matrix", args.out)
    rows = summary_rows(results)
    write_json(
        path,
        {
            "command": "matrix",
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "floor": not args.no_floor,
            "elapsed_s": round(time.monotonic() - started, 1),
            "cases": results,
            "summary": [dict(zip(rows[0], row, strict=True)) for row in rows[1:]],
        },
    )
    if not args.no_plots:
        plot_or_skip(path, results)
    print()
    print_table(rows)
    return 1 if any("error" in r for r in results) else 0

"""Merging the swarm processes' results into one report, and the SLO verdict.

Units: rates are frames (state snapshots or lockstep frames) per second per bot; ages
and round trips are milliseconds; bytes are per bot per second.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from client_sim import staleness


@dataclass(frozen=True, slots=True)
class Slo:
    """Service-level objectives; ``None`` means not checked."""

    min_rate: float | None = None
    """Every connected bot's frames per second must be at least this."""
    max_p99_ms: float | None = None
    """The state age p99 (ms) must be at most this."""


def _pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) if values else 0.0


def build_report(parts: list[dict[str, Any]], meta: dict[str, Any], slo: Slo) -> dict[str, Any]:
    """One report from each process's :meth:`~client_sim.swarm.Swarm.results`."""
    bots = [b for part in parts for b in part["bots"]]
    ages = [a for part in parts for a in part["ages_ms"]]
    rtts = [r for part in parts for r in part["rtts_ms"]]
    connected = [b for b in bots if b["connected"]]
    failures = Counter(str(b["failure"]) for b in bots if not b["connected"])
    rates = [b["rate"] for b in connected]
    closes = Counter(str(b["close_code"]) for b in bots if b["close_code"] is not None)
    errors: Counter[str] = Counter()
    for b in bots:
        errors.update({str(k): v for k, v in b["errors"].items()})
    window = max((p["window_s"] for p in parts), default=0.0)
    sync = next((p["sync"] for p in parts if p["sync"] != "unknown"), "unknown")
    report: dict[str, Any] = {
        **meta,
        "sync": sync,
        "window_s": round(window, 3),
        "connected": len(connected),
        "failed": len(bots) - len(connected),
        "failures": dict(failures),
        "rate_per_bot": {
            "mean": round(float(np.mean(rates)), 3) if rates else 0.0,
            "min": round(min(rates), 3) if rates else 0.0,
        },
        "max_messages_per_bot_per_s": max(
            (b.get("max_messages_per_s", 0) for b in connected), default=0
        ),
        "max_frames_per_bot_per_s": max(
            (b.get("max_frames_per_s", 0) for b in connected), default=0
        ),
        "state_age_ms": {"p50": round(_pct(ages, 50), 3), "p99": round(_pct(ages, 99), 3)},
        "rtt_ms": {"p50": round(_pct(rtts, 50), 3), "p99": round(_pct(rtts, 99), 3)},
        "bytes_in_per_bot_per_s": round(
            float(np.mean([b["bytes_in_per_s"] for b in connected])) if connected else 0.0, 1
        ),
        "bytes_in_per_bot_per_s_max": round(
            max((float(b["bytes_in_per_s"]) for b in connected), default=0.0), 1
        ),
        "bytes_out_per_bot_per_s": round(
            float(np.mean([b["bytes_out_per_s"] for b in connected])) if connected else 0.0, 1
        ),
        "close_codes": dict(closes),
        "errors": dict(errors),
        "gaps": sum(b["gaps"] for b in bots),
        "desyncs": sum(b["desyncs"] for b in bots),
        "checksums_sent": sum(b["checksums"] for b in bots),
        "replicas": sum(1 for b in bots if b["replica"]),
        "mirror_errors": sum(b["mirror_errors"] for b in bots),
    }
    checks: dict[str, dict[str, Any]] = {}
    if slo.min_rate is not None:
        observed = report["rate_per_bot"]["min"]
        checks["min_rate"] = {
            "target": slo.min_rate,
            "observed": observed,
            "pass": bool(connected) and observed >= slo.min_rate,
        }
    if slo.max_p99_ms is not None:
        observed = report["state_age_ms"]["p99"]
        checks["max_p99_ms"] = {
            "target": slo.max_p99_ms,
            "observed": observed,
            "pass": bool(ages) and observed <= slo.max_p99_ms,
        }
    checks["no_protocol_faults"] = {
        "target": "none",
        "observed": f"{report['gaps']} gaps, {report['desyncs']} desyncs, "
        f"{report['mirror_errors']} mirror errors",
        "pass": report["gaps"] == 0 and report["desyncs"] == 0 and report["mirror_errors"] == 0,
    }
    meters = [p["staleness"] for p in parts if p.get("staleness")]
    report["staleness"] = staleness.summary(meters) if meters else None
    report["game"] = next((p.get("game", "") for p in parts if p.get("game")), "")
    report["games"] = game_counters(bots)
    report["slo"] = checks
    report["passed"] = all(c["pass"] for c in checks.values()) and bool(connected)
    return report


def game_counters(bots: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-game counters: events received by name (summed over bots), the bots that
    got events-dropped notices, matches joined, and the ``RESULT`` messages received:
    how many, by reason, and the winners (player ids) of the distinct match endings."""
    events: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    winners: dict[str, int] = {}
    results = 0
    for b in bots:
        events.update(b.get("events", {}))
        for result in b.get("results", ()):
            results += 1
            reasons[str(result.get("reason"))] += 1
            winners[f"{result.get('tick')}:{result.get('reason')}"] = int(
                result.get("winner_player", -1)
            )
    connected = [b for b in bots if b["connected"]]
    return {
        "events": dict(sorted(events.items())),
        "events_per_bot_per_s": round(
            float(np.mean([b.get("events_per_s", 0.0) for b in connected])) if connected else 0.0,
            2,
        ),
        "events_per_s": round(sum(b.get("events_per_s", 0.0) for b in connected), 1),
        "events_lost": sum(b.get("events_lost", 0) for b in bots),
        "matches_joined": sum(b.get("matches", 0) for b in bots),
        "rematchmakes": sum(b.get("rematchmakes", 0) for b in bots),
        "results": results,
        "bots_with_result": sum(1 for b in bots if b.get("results")),
        "result_reasons": dict(reasons),
        "winners": sorted(winners.values()),
    }


def merge_progress(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """One progress sample from each process's sample for the same second."""
    steady = sum(s["steady"] for s in samples)
    connected = sum(s["connected"] for s in samples)
    closes: Counter[str] = Counter()
    for s in samples:
        closes.update({str(k): v for k, v in s["closes"].items()})
    mins = [s["rate_min"] for s in samples if s["steady"]]
    return {
        "t": max(s["t"] for s in samples),
        "started": sum(s["started"] for s in samples),
        "connected": connected,
        "rate_mean": sum(s["frames"] for s in samples) / steady if steady else 0.0,
        "rate_min": min(mins) if mins else 0,
        "kib_per_bot": sum(s["bytes"] for s in samples) / 1024 / connected if connected else 0.0,
        "closes": dict(closes),
        "errors": sum(s["errors"] for s in samples),
        "desyncs": sum(s["desyncs"] for s in samples),
    }


def progress_line(p: dict[str, Any], total_bots: int) -> str:
    """The live line printed each second."""
    closes = " ".join(f"{k}x{v}" for k, v in sorted(p["closes"].items())) or "-"
    return (
        f"[{p['t']:4d}s] bots {p['connected']:5d}/{total_bots} connected "
        f"({p['started']} started)  frames/s per bot {p['rate_mean']:5.1f} "
        f"(min {p['rate_min']:3d})  {p['kib_per_bot']:6.2f} KiB/s per bot  "
        f"closes {closes}  errors {p['errors']}  desyncs {p['desyncs']}"
    )


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A human summary of a report, one figure per line, SLO verdicts last."""
    lines = [
        f"sync {report['sync']}: {report['connected']} connected, {report['failed']} failed "
        f"{report['failures'] or ''}".rstrip(),
        f"frames/s per bot: mean {report['rate_per_bot']['mean']:.2f}, "
        f"min {report['rate_per_bot']['min']:.2f} (window {report['window_s']:.1f}s)",
        f"state age ms: p50 {report['state_age_ms']['p50']:.1f}, "
        f"p99 {report['state_age_ms']['p99']:.1f}",
        f"rtt ms: p50 {report['rtt_ms']['p50']:.2f}, p99 {report['rtt_ms']['p99']:.2f}",
        f"bytes per bot per s: in {report['bytes_in_per_bot_per_s']:.0f}, "
        f"out {report['bytes_out_per_bot_per_s']:.0f}",
        f"close codes seen: {report['close_codes'] or 'none'}; "
        f"errors: {report['errors'] or 'none'}",
        f"lockstep: gaps {report['gaps']}, desyncs {report['desyncs']}, "
        f"checksums sent {report['checksums_sent']} by {report['replicas']} replicas",
    ]
    st = report.get("staleness")
    if st:
        near, held = st["near_snapshots"], st["held_s"]
        lines.append(
            f"staleness vs truth: near (<= {st['near_units']:g} units) p50/p99/max "
            f"{near['p50']:g}/{near['p99']:g}/{near['max']:g} snapshots; anything held "
            f"p99/max {held['p99']:.2f}/{held['max']:.2f} s ({st['frames_compared']} frames "
            f"compared, {st['frames_unmatched']} without truth)"
        )
    games = report.get("games", {})
    if games.get("events") or games.get("results"):
        lines.append(
            f"game {report.get('game') or '?'}: events {games['events'] or 'none'}; "
            f"results {games['results']} ({games['result_reasons'] or 'none'}), "
            f"winners {games['winners']}"
        )
    for name, check in report["slo"].items():
        verdict = "PASS" if check["pass"] else "FAIL"
        lines.append(f"SLO {name}: {verdict} (target {check['target']}, {check['observed']})")
    return lines

"""The bars ``python -m benchmarks e2e`` judges a run against, and its printed report.

:func:`judge` turns one run's result dict (see :func:`benchmarks.e2e.run_case`) into a
list of ``{"bar", "observed", "target", "pass"}``; :func:`print_result` prints the figures
and then each bar with PASS/FAIL. The bars are QUALITY.md's table (one arena) and issue
15's (many small matches).
"""

from __future__ import annotations

from typing import Any

# QUALITY.md's table: (sync, entities, clients) -> server CPU bar in core-s/s.
CPU_BARS: dict[tuple[str, int, int], float] = {
    ("state", 5000, 200): 0.20,
    ("state", 1000, 500): 0.30,
    ("state", 1000, 1000): 0.50,
    ("state", 20000, 200): 0.35,
    ("lockstep", 1000, 1000): 0.36,
}
RATE_BAR = 19.5
AGREEMENT = 0.02
"""The bots' frames/s and the server's count of frames sent per client agree this well."""
BYTES_PER_ENTITY_BAR = 6.0
FLOOR_RATIO_BAR = 1.3
RSS_BARS_MB: dict[tuple[int, int], float] = {(1000, 1000): 80.0, (20000, 200): 150.0}
"""Server RSS bars by (entities, clients), for one arena."""

# Issue 15's bars for many small matches: (sync, matches, players, npcs) -> CPU core-s/s.
MATCH_CPU_BARS: dict[tuple[str, int, int, int], float] = {
    ("state", 100, 8, 50): 0.30,
    ("lockstep", 100, 8, 50): 0.25,
}
MATCH_FLOOR_RATIO_BAR = 1.15
MATCH_RSS_BAR_MB = 120.0
MAX_MESSAGES_PER_S_BAR = 21
"""No catch-up bursts: at 20 Hz a client gets 20 frames and a pong a second, no more."""


def judge(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each applicable bar of QUALITY.md with the observed figure and PASS/FAIL."""
    bars: list[dict[str, Any]] = []

    def bar(name: str, observed: Any, target: str, ok: bool) -> None:
        bars.append({"bar": name, "observed": observed, "target": target, "pass": ok})

    layout = r.get("layout")
    if layout:
        cpu_bar = MATCH_CPU_BARS.get(
            (r["sync"], layout["matches"], layout["players"], layout["npcs"])
        )
    else:
        cpu_bar = CPU_BARS.get((r["sync"], r["entities"], r["clients"]))
    if cpu_bar is not None:
        cpu = r["server_cpu_core_s_per_s"]
        bar("server CPU core-s/s", cpu, f"<= {cpu_bar}", cpu <= cpu_bar)
    rate = r["rate_per_client"]["min"]
    rate_bar = round(RATE_BAR * r["tick_rate_hz"] / 20, 2)  # 19.5 at the standard 20 Hz
    bar("frames/s per client (min)", rate, f">= {rate_bar}", rate >= rate_bar)
    sent = r.get("server_frames_per_client_per_s")
    if sent:
        agree = round(r["rate_per_client"]["mean"] / sent, 4)
        bar(
            "bots' frames/s (mean) / server's sent per client",
            agree,
            f"within {AGREEMENT:.0%} of 1",
            abs(agree - 1) <= AGREEMENT,
        )
    if "bot_close_codes" in r:
        closes = r["bot_close_codes"]
        bar("bots closed by the server", closes or "none", "none", not closes)
    if r["sync"] == "state" and r["bytes_per_changed_entity"] is not None:
        b = r["bytes_per_changed_entity"]
        bar("bytes per changed entity", b, f"<= {BYTES_PER_ENTITY_BAR}", b <= BYTES_PER_ENTITY_BAR)
    if "floor_ratio" in r:
        ratio = r["floor_ratio"]
        limit = MATCH_FLOOR_RATIO_BAR if layout else FLOOR_RATIO_BAR
        bar("CPU per message / floor", ratio, f"<= {limit}", ratio <= limit)
    # RSS saw-tooths with the heap trims: the bar holds for the window's highest sample.
    rss = r.get("server_rss_max_mb", r["server_rss_mb"])
    rss_bar = RSS_BARS_MB.get((r["entities"], r["clients"]))
    if rss_bar is not None and not layout:
        bar("server RSS MB", rss, f"<= {rss_bar}", rss <= rss_bar)
    if layout:
        bar("server RSS MB", rss, f"<= {MATCH_RSS_BAR_MB}", rss <= MATCH_RSS_BAR_MB)
        burst = r.get("max_messages_per_client_per_s")
        if burst is not None:
            limit_msgs = round(MAX_MESSAGES_PER_S_BAR * r["tick_rate_hz"] / 20)
            bar(
                "max messages per client per second",
                burst,
                f"<= {limit_msgs}",
                burst <= limit_msgs,
            )
    return bars


def _ms(q: dict[str, float] | None, key: str) -> str:
    return "-" if not q else f"{q[key]:.2f}"


def print_result(r: dict[str, Any]) -> None:
    """The figures, then the bars."""
    print(
        f"server CPU {r['server_cpu_core_s_per_s']:.3f} core-s/s  RSS {r['server_rss_mb']} MB "
        f"(window median {r.get('server_rss_median_mb', '-')}, "
        f"max {r.get('server_rss_max_mb', '-')})  "
        f"{r.get('server_minor_faults_per_s', 0):.0f} page faults/s  "
        f"frames/s per client mean {r['rate_per_client']['mean']:.2f} "
        f"min {r['rate_per_client']['min']:.2f} "
        f"(server sent {r['server_frames_per_client_per_s']:.2f})  "
        f"state age p50/p99 {r['state_age_ms']['p50']:.1f}/{r['state_age_ms']['p99']:.1f} ms  "
        f"{r['bytes_per_client_per_s']:.0f} B/s per client  "
        f"{r['bytes_per_changed_entity']} B per changed entity  "
        f"{r['cpu_us_per_message']} us CPU per message"
    )
    if r["layout"]:
        print(f"matches running on the server: {r['server_matches']:.0f}")
    if r.get("implicit_frame_share") is not None:
        print(
            f"state frames from implicit baselines (interest by cell): "
            f"{100 * r['implicit_frame_share']:.1f}%"
        )
    core = r.get("server_core")
    if core:
        print(
            f"server's core (all processes): {100 * core['busy']:.0f}% busy, "
            f"{100 * core['irq']:.0f}% in interrupts, {100 * core['steal']:.0f}% stolen"
        )
    print(
        f"ticks: {r['ticks_skipped']:.0f} skipped, {r['late_ticks']:.0f} started more than "
        f"{r['late_tick_bound_ms']} ms late, {r['ticks_overrun']:.0f} overran; lateness "
        f"p50/p99 {_ms(r['tick_lateness_ms'], 'p50')}/{_ms(r['tick_lateness_ms'], 'p99')} ms; "
        f"max {r['max_messages_per_client_per_s']} messages "
        f"({r.get('max_frames_per_client_per_s')} frames) to one client in one second"
    )
    if "floor" in r:
        print(
            f"floor: {r['floor']['cpu_us_per_message']} us per message "
            f"({r['floor']['cpu_core_s_per_s']:.3f} core-s/s); ratio {r.get('floor_ratio')}"
        )
    if "floor_error" in r:
        print(f"floor: the run failed ({r['floor_error']}): no ratio")
    for b in r["bars"]:
        verdict = "PASS" if b["pass"] else "FAIL"
        print(f"  {verdict}  {b['bar']}: {b['observed']} (bar {b['target']})")

"""The latency cases of client_sim.hostile against a lag-compensated game (the arena run
of tests/hostile/test_cases.py covers the game without lag compensation)."""

from __future__ import annotations

from pathlib import Path

from client_sim.hostile import CASES, Context, HonestPool, Limits, MetricsProbe
from client_sim.hostile.wire import hello, open_ws
from server.gamedef.load import load_definition
from server.testing import running_server

GAMES = Path(__file__).resolve().parents[2] / "data" / "games"
LATENCY_CASES = (
    "seq_backwards_wrap_and_missing",
    "view_alpha_nan_or_outside",
    "view_tick_future_and_too_old",
    "input_flood_buffer",
)


async def test_latency_cases_get_their_documented_answers_with_lag_compensation() -> None:
    defn = load_definition(GAMES / "testing" / "lagcomp.toml")
    async with running_server(defn) as srv:
        ws = await open_ws(srv.url)
        welcome = await hello(ws)
        await ws.close()  # before unread frames pile up and hold its close back
        assert welcome["lag_compensation"] == {"ms": 1000}
        ctx = Context(HonestPool(srv.url, 0), welcome, Limits(), MetricsProbe(srv.url))
        results = [await CASES[name].fn(srv.url, ctx) for name in LATENCY_CASES]
        match = next(iter(srv.manager.matches.values()))
        history = match.sim.processor.history
        assert history is not None
        assert history.oldest(match.tick_count) >= match.tick_count - history.limit
    failed = [f"{o.case}: {o.observed}" for o in results if not o.passed]
    assert not failed, failed
    assert "lag_compensation {'ms': 1000}" in results[2].observed

"""A smooth client works off the server's backlog of its inputs (``STATE.aq``) by skipping
sends -- never one that presses a button, never more than the backlog it was told of."""

from __future__ import annotations

from pathlib import Path

from client_sim.smooth import SmoothClient
from server.gamedef.load import load_definition

SHOOTER = Path(__file__).resolve().parents[2] / "data" / "games" / "shooter.toml"


def body(buttons: int = 0) -> dict[str, float | int]:
    return {"tick": 1, "x": 0.5, "y": 0.0, "aim": 0.0, "buttons": buttons}


def test_skips_answer_the_reported_backlog_once_and_spare_presses() -> None:
    welcome = {"tick_rate_hz": 30, "interpolation_ms": 100, "input_buffer_ticks": 2}
    smooth = SmoothClient(load_definition(SHOOTER), {**welcome, "entity": 1})
    for _ in range(10):  # seqs 0..9 sent
        smooth.input_payload(body())
    smooth._backlog(acked=2, q=3)  # 3 + 2 (buffer) wait after seq 2: 3..7 received
    assert smooth.backlog == 3
    assert not smooth.skip(body(buttons=2))  # a press is sent whatever the backlog
    assert [smooth.skip(body()) for _ in range(4)] == [True, True, True, False]
    assert smooth.skipped == 3
    smooth._backlog(acked=3, q=3)  # the server has not seen the skips yet: none more
    assert smooth.backlog == 0
    smooth.input_payload(body())  # seq 10, after the skips
    smooth._backlog(acked=9, q=1)  # seq 10 received: the skips are in; one left
    assert smooth.backlog == 1
    smooth._backlog(acked=10, q=0)
    assert (smooth.backlog, smooth.skip(body())) == (0, False)

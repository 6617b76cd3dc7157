"""Lag compensation counted, not timed: at 100 ms RTT (± 10 ms jitter), 4 smooth bots
that fire at what they see hit with at least 90% of 200 shots or more (issue 18).

The bots are those of ``python -m benchmarks latency`` (``shooter_tap``: predicted self,
interpolated enemies, one hitscan shot per tap); here they tap every 4 ticks against a
hitscan cooldown of 0.1 s so that 200 shots take a few seconds, and move at half speed:
a shot whose input the server applies a tick off the client's prediction (its input
buffer over- or underran) starts half a tick of motion away from where the bot aimed
from, inside the 2-unit hitbox. Damage is 0: nobody dies between a shot and its judgement.
The server's input buffer is the largest (8 ticks): a bot process starved of CPU sends
its inputs in bursts, which a full buffer would supersede (and then the server's shooter
is a tick off where the bot aimed from); compensation covers the added latency (the view
is still well inside the 1 s history). Without compensation the same bots miss: targets
are then 150 ms or more further along, over 3.75 units at 25 units/s.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.latency import run_case

TAP = """
[behaviour]
name = "shooter_tap_fast"
system = "shooter_tap"

[params]
fire_button = "hitscan"
fire_range_units = 100.0
tap_every_ticks = 4
hold_ticks = 2
speed = 0.5
"""


async def test_compensated_hit_rate_at_100_ms_is_at_least_90_percent_of_200_shots(
    tmp_path: Path,
) -> None:
    behaviour = tmp_path / "shooter_tap_fast.toml"
    behaviour.write_text(TAP)
    result = await run_case(
        True,
        rtt_ms=100,
        jitter_ms=10,
        loss=0.0,
        bots=4,
        duration_s=10.0,
        warmup_s=1.0,
        behaviour=str(behaviour),
        cooldown_s=0.1,
        input_buffer_ticks=8,
    )
    print(f"delayed link: {result['link']}; {result['hits']}/{result['shots']} hits")
    assert result["smooth_bots"] == 4, result
    assert result["closes"] == [], result
    assert result["shots"] >= 200, result
    assert result["hit_rate"] >= 0.90, result

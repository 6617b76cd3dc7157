"""The byte-budget case of ``python -m benchmarks matrix``: issue 16's budget bar.

State sync at (20000, 200) with ``[sync] budget_bytes_per_s`` (16 KB/s by default): the
arena definition plus a budget and ``[sync.importance] player = 2`` (other players count
twice an NPC at the same distance), run by :func:`benchmarks.e2e.run_case` with the bots'
``--staleness`` meter (client_sim.staleness): one extra connection per bot process
spectates the match, unbudgeted, and is the server's truth; every bot's mirror is
compared with it after every frame. The spectator is not one of the bots (it is in none
of their figures), but the server's CPU includes building and sending its frames.

Bars (issue 16), checked on what the bots measured:

- every client's bytes per second <= budget + one frame's share (budget / snapshot rate);
  the bots count every byte they receive, pongs included;
- entities within 50 units (truth distance) of the client's own: staleness <= 1
  snapshot (the maximum over every bot, entity and frame; p50/p99 printed too);
- anything the client holds: staleness <= 1 s (maximum).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from benchmarks import e2e

BUDGET_BYTES_PER_S = 16_000.0
NEAR_BAR_SNAPSHOTS = 1.0
HELD_BAR_S = 1.0
PLAYER_IMPORTANCE = 2.0


def budget_text(game: str, budget: float) -> str:
    """``game``'s definition with the budget and the player's importance."""
    text = Path(game).read_text()
    text, n = re.subn(
        r"(interest_radius_units = [\d.]+)",
        rf"\g<1>\nbudget_bytes_per_s = {budget:g}",
        text,
        count=1,
    )
    if n != 1:
        raise ValueError(f"{game}: no [sync] interest_radius_units to put the budget after")
    return text + f"\n[sync.importance]\nplayer = {PLAYER_IMPORTANCE:g}\n"


async def run(args: argparse.Namespace, folder: Path, budget: float) -> dict[str, Any]:
    """The case: the budgeted definition, bots with ``--staleness``, the budget bars."""
    base = folder / "budget-game.toml"
    base.write_text(budget_text(args.game, budget))
    args.game = str(base)
    args.bot_args = ["--staleness"]
    result = await e2e.run_case(args, folder)
    result["budget_bytes_per_s"] = budget
    # Bytes per changed entity is no bar here: held-back rows are not "changed" rows,
    # so entered rows and frame overhead dominate the quotient.
    kept = [b for b in result["bars"] if b["bar"] != "bytes per changed entity"]
    result["bars"] = [*kept, *judge(result, budget)]
    return result


def judge(r: dict[str, Any], budget: float) -> list[dict[str, Any]]:
    """The budget bars (see the module docstring)."""
    one_frame = budget / r["tick_rate_hz"]  # the arena sends a snapshot every tick
    bars = []
    worst = r.get("bytes_per_client_per_s_max") or 0.0
    bars.append(
        {
            "bar": "bytes/s of every client",
            "observed": worst,
            "target": f"<= {budget + one_frame:g} (budget + one frame)",
            "pass": worst <= budget + one_frame,
        }
    )
    st = r.get("staleness")
    if not st or not st["near_samples"]:
        bars.append({"bar": "staleness", "observed": None, "target": "measured", "pass": False})
        return bars
    near = st["near_snapshots"]["max"]
    bars.append(
        {
            "bar": "near (<= 50 units) staleness, max snapshots",
            "observed": near,
            "target": f"<= {NEAR_BAR_SNAPSHOTS:g}",
            "pass": near <= NEAR_BAR_SNAPSHOTS,
        }
    )
    held = st["held_s"]["max"]
    bars.append(
        {
            "bar": "staleness of anything held, max s",
            "observed": held,
            "target": f"<= {HELD_BAR_S:g}",
            "pass": held <= HELD_BAR_S,
        }
    )
    return bars


def print_budget(r: dict[str, Any]) -> None:
    """The budget case's own figures (nothing for other cases)."""
    st = r.get("staleness")
    if not r.get("budget_bytes_per_s") or not st:
        return
    near, held = st["near_snapshots"], st["held_s"]
    print(
        f"budget {r['budget_bytes_per_s']:g} B/s: bytes/s per client mean "
        f"{r['bytes_per_client_per_s']:.0f} max {r['bytes_per_client_per_s_max']:.0f}; "
        f"staleness vs truth: near p50/p99/max {near['p50']:g}/{near['p99']:g}/{near['max']:g} "
        f"snapshots (mean {near['mean']:g}, {st['near_samples']} samples), held p99/max "
        f"{held['p99']:.2f}/{held['max']:.2f} s; {st['frames_compared']} frames compared, "
        f"{st['frames_unmatched']} without truth"
    )

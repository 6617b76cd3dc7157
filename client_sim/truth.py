"""The staleness meter's truth spectator (client_sim.staleness), started by a swarm."""

from __future__ import annotations

import asyncio
import contextlib

from client_sim.bot import Bot
from client_sim.joining import JoinPlan
from client_sim.staleness import StalenessMeter


class TruthWatcher:
    """Spectates the first welcomed bot's match; its frames feed ``meter.truth_frame``.

    The spectator is not one of the swarm's bots: its frames and bytes are in no figure
    but the truth.
    """

    def __init__(
        self, meter: StalenessMeter, url: str, window: list[float], game: str | None
    ) -> None:
        self.meter = meter
        self.bot = Bot(-1, url, window, name="truth")
        self.bot.meter = meter
        self.bot.truth = True
        self.game = game
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin (as a task): wait for a welcomed bot, then spectate its match."""
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        await self.meter.first_welcome.wait()
        match_id = self.meter.match_id or None
        self.bot.plan = JoinPlan(game=self.game, match_id=match_id, spectate=True)
        if await self.bot.connect():
            await self.bot.run()

    async def close(self) -> None:
        """Close the spectator's connection and end the task."""
        if self.bot.ws is not None:
            with contextlib.suppress(Exception):
                await self.bot.close()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

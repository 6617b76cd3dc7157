"""A swarm: many bots in one process, driven by one tick loop.

Timeline (seconds from the start): bots connect spread over ``ramp_up_s``; figures are
taken in the measuring window ``[ramp_up_s + warmup_s, ramp_up_s + duration_s]`` (or
``window_s`` long from its start, when given: a harness sampling the server over the same
seconds lets the bots play on past it so no close falls inside); then
every bot closes normally. One loop ticks at the match's rate, runs the behaviour over
all bots at once and writes each bot's input straight to its socket (no awaiting, no
task per send), pings each bot once a second (staggered), and reports progress once a
second through a callback.

Games: the first ``WELCOME`` gives the tick rate, the game's input schema (the bots send
every declared input field; the arena's ``{tick, x, y}`` keeps its own fast path) and,
when no behaviour was asked for, the game's default bot (``WELCOME.bot``). A bot whose
match ended (``RESULT``, then close ``MATCH_ENDED``) joins again when ``rejoin`` is set;
one whose node went away matchmakes again when ``rematchmake`` is set; ``until_ended``
stops the run once every bot's connection has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from client_sim import joining
from client_sim.behaviours import Behaviour, Crowd, load_behaviour
from client_sim.bot import Bot, shipped_definition
from client_sim.packing import pack
from client_sim.schema import GameSchema
from client_sim.staleness import StalenessMeter
from client_sim.swarm_config import MAX_SAMPLES_PER_BOT, Progress, SwarmConfig
from client_sim.truth import TruthWatcher
from client_sim.view import BotsView, nearest_vectors
from server.gamedef.schema import GameDefinition
from server.net.protocol import CloseCode, MessageType

_MATCH_ENDED = int(CloseCode.MATCH_ENDED)
_LOST = (None, 1006, 1011)
"""A connection that dropped without a close from the server: worth one resume attempt."""
_NODE_CLOSES = (int(CloseCode.SERVER_SHUTDOWN), int(CloseCode.NODE_GONE))


__all__ = ["Progress", "Swarm", "SwarmConfig"]  # config types live in swarm_config


def _node_lost(bot: Bot) -> bool:
    """The bot's node went away under it (dropped, drained, gone), not its match."""
    return bot.stats.close_code in _LOST or bot.stats.close_code in _NODE_CLOSES


class Swarm:
    """Runs ``config.bots`` bots; :meth:`run` returns this process's raw results."""

    def __init__(
        self,
        config: SwarmConfig,
        definition: GameDefinition | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.config = config
        self.definition = definition
        self.behaviour: Behaviour | None = (
            load_behaviour(config.behaviour) if config.behaviour is not None else None
        )
        self.schema: GameSchema | None = None
        self.window = [float("inf"), float("inf")]
        self.bots = [
            Bot(
                config.first_index + i,
                config.url,
                self.window,
                definition,
                replica=config.first_index + i < config.replicas,
                predict=config.predict,
            )
            for i in range(config.bots)
        ]
        shared = joining.Shared()
        for bot in self.bots:
            bot.plan, bot.shared = config.join, shared
        self.crowd = Crowd(
            config.bots,
            20.0,
            np.random.default_rng(config.seed + config.first_index),
            lambda which: nearest_vectors(self.bots, which),
        )
        self.crowd.view = BotsView(self.bots)
        self.meter = StalenessMeter() if config.staleness else None
        for bot in self.bots:
            bot.meter = self.meter
        self._truth: TruthWatcher | None = None
        self.progress = progress
        self.started = 0
        self.ended = 0
        self._last_frames = np.zeros(config.bots, np.int64)
        self._last_bytes = np.zeros(config.bots, np.int64)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def run(self) -> dict[str, Any]:
        """Connect, play, measure, close; the raw results (see :meth:`results`)."""
        cfg = self.config
        t0 = time.perf_counter()
        ramp_end = t0 + cfg.ramp_up_s
        self.window[0] = ramp_end + cfg.warmup
        end = ramp_end + cfg.duration_s
        self.window[1] = end if cfg.window_s is None else min(end, self.window[0] + cfg.window_s)
        connector = asyncio.create_task(self._connect_all(t0))
        if self.meter is not None:
            self._truth = TruthWatcher(self.meter, cfg.url, self.window, cfg.join.game)
            self._truth.start()
        ticker = asyncio.create_task(self._tick_loop(t0, ramp_end + cfg.duration_s))
        try:
            await ticker
            # Stopped early (until_ended): the window ends now, not at the planned end.
            self.window[1] = min(self.window[1], time.perf_counter())
            self.window[0] = min(self.window[0], self.window[1])
        finally:
            self._stopping = True
            connector.cancel()
            # Bounded: a cancellation that asyncio.wait_for swallowed (it can, when the
            # awaited read completes in the same instant) must not hang the run.
            await asyncio.wait({connector}, timeout=10.0)
            await self._close_all()
        return self.results(self.window[1] - self.window[0])

    async def _connect_all(self, t0: float) -> None:
        cfg = self.config
        gate = asyncio.Semaphore(cfg.connect_concurrency)
        n = max(1, cfg.bots)

        async def one(bot: Bot, at: float) -> None:
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.started += 1
            resume: str | None = None
            tries = 0
            try:
                while True:
                    async with gate:
                        try:
                            ok = await bot.connect(cfg.open_timeout_s, resume)
                        except Exception as exc:  # reported, never silently lost
                            bot.stats.failure = f"{type(exc).__name__}: {exc}"
                            return
                    if not ok:
                        if not (cfg.rematchmake and bot.stats.rematchmakes) or tries >= 20:
                            return
                        # The node is gone (NODE_GONE, RESUME_EXPIRED, refused, 503):
                        # matchmake again from scratch, a little later.
                        resume, tries = None, tries + 1
                        await asyncio.sleep(0.5 if tries > 1 else 0.0)
                        continue
                    if self._stopping:  # welcomed after the run ended: leave at once
                        await bot.close()
                        return
                    if resume is not None:
                        bot.stats.resumes += 1
                    bot.stats.failure, resume, tries = None, None, 0
                    await bot.run()
                    if cfg.rematchmake and not bot.closed_by_us and _node_lost(bot):
                        bot.stats.rematchmakes += 1
                        bot.plan = joining.again(bot.plan)
                        token = bot.welcome.get("resume_token")
                        lost = bot.stats.close_code in _LOST
                        resume = str(token) if token and lost else None
                        continue
                    if not (cfg.rejoin and bot.stats.close_code == _MATCH_ENDED):
                        return
            finally:
                self.ended += 1

        self._tasks = [
            asyncio.create_task(one(bot, t0 + cfg.ramp_up_s * i / n))
            for i, bot in enumerate(self.bots)
        ]
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _tick_loop(self, t0: float, end: float) -> None:
        crowd = self.crowd
        bots = self.bots
        behaviour = self.behaviour
        rate = 20.0
        k = 0
        next_report = t0 + 1.0
        input_type = MessageType.INPUT
        while True:
            now = time.perf_counter()
            if now >= end or (self.config.until_ended and self.ended == len(bots)):
                break
            # Adopt the match's tick rate (and the game's schema) from the first welcome.
            for bot in bots:
                if bot.welcome:
                    rate = float(bot.welcome["tick_rate_hz"])
                    if self.schema is None:
                        self._adopt(bot)
                    break
            crowd.tick_rate_hz = rate
            period = 1.0 / rate
            k += 1
            crowd.tick = k
            behaviour = self.behaviour
            if behaviour is not None:
                behaviour(crowd)
            schema = self.schema
            sticks = crowd.stick.tolist()
            sends = crowd.sends.tolist()
            bodies = None if schema is None or schema.arena_inputs else self._input_bodies()
            ping_slot = k % max(1, int(rate))
            for i, bot in enumerate(bots):
                if not bot.live:
                    continue
                count = sends[i] if behaviour is not None else 0
                if count and (bot.frame >= 0 or not bot.lockstep):  # lockstep: frame known
                    if bot.smooth is not None:  # numbered and predicted: one per tick
                        body = (
                            {"x": sticks[i][0], "y": sticks[i][1]} if bodies is None else bodies[i]
                        )
                        if bot.smooth.skip(body):  # the server holds a backlog of ours
                            payload, count = b"", 0
                        else:
                            body["tick"] = bot.input_tick()
                            payload, count = bot.smooth.input_payload(body, now), 1
                    elif bodies is None:
                        sx, sy = sticks[i]
                        payload = pack(input_type, {"tick": bot.input_tick(), "x": sx, "y": sy})
                    else:
                        body = bodies[i]
                        body["tick"] = bot.input_tick()
                        payload = pack(input_type, body)
                    for _ in range(count):
                        bot.send_bytes(payload)
                if i % max(1, int(rate)) == ping_slot:
                    bot.ping()
            if now >= next_report:
                if self.progress is not None:
                    self.progress(self.progress_sample(now - t0))
                next_report = max(next_report + 1.0, now + 0.5)
            deadline = t0 + k * period
            delay = deadline - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:
                # Fell far behind (an overloaded bot process): skip, don't burst.
                t0 += -delay

    def _adopt(self, bot: Bot) -> None:
        """Take the game's schema (and its default bot, if none was asked) from ``bot``."""
        schema = bot.schema
        if schema is None:
            return
        self.schema = schema
        world = bot.welcome.get("world", (0.0, 0.0))
        self.crowd.adopt(schema, (float(world[0]), float(world[1])))
        self.crowd.definition = self.definition or shipped_definition(
            str(bot.welcome.get("game", ""))
        )
        if self.behaviour is None:
            self.behaviour = load_behaviour(schema.bot or "wander")

    def _input_bodies(self) -> list[dict[str, Any]]:
        """Every bot's ``INPUT`` body for a game's declared fields (``tick`` set later).

        The first two stick fields are ``crowd.stick``; the others come from
        ``crowd.inputs``, clamped into their declared ranges (an int to [min, max], a
        button mask to the declared bits) so a behaviour cannot get a bot closed with
        ``MALFORMED_MESSAGE``.
        """
        crowd = self.crowd
        schema = self.schema
        assert schema is not None
        columns: list[tuple[str, list[Any]]] = []
        sticks = 0
        for spec in schema.inputs:
            if spec.kind == "stick" and sticks < 2:
                values = np.clip(crowd.stick[:, sticks], -1.0, 1.0)
                sticks += 1
                columns.append((spec.name, np.round(values, 3).tolist()))
                continue
            raw = crowd.inputs[spec.name]
            if spec.kind == "stick":
                columns.append((spec.name, np.round(np.clip(raw, -1.0, 1.0), 3).tolist()))
            elif spec.kind == "angle":
                wrapped = np.remainder(raw + np.pi, 2 * np.pi) - np.pi
                columns.append((spec.name, np.round(wrapped, 4).tolist()))
            elif spec.kind == "buttons":
                mask = (1 << len(spec.bits)) - 1
                columns.append((spec.name, (raw.astype(np.int64) & mask).tolist()))
            else:
                ints = np.clip(np.round(raw), spec.lo, spec.hi).astype(np.int64)
                columns.append((spec.name, ints.tolist()))
        return [
            {"tick": 0, **{name: values[i] for name, values in columns}} for i in range(crowd.n)
        ]

    async def _close_all(self) -> None:
        for bot in self.bots:
            bot.live = False
        closing = [bot.close() for bot in self.bots if bot.ws is not None]
        if self._truth is not None:
            closing.append(self._truth.close())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), 10.0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def progress_sample(self, elapsed_s: float) -> Progress:
        """Figures for the last second: bots started/connected, frames per connected bot
        (mean and min), kB/s per bot, and totals so far of closes, errors and desyncs."""
        frames = np.fromiter((b.stats.frames for b in self.bots), np.int64, len(self.bots))
        received = np.fromiter((b.stats.bytes_in for b in self.bots), np.int64, len(self.bots))
        live = np.fromiter((b.live for b in self.bots), np.bool_, len(self.bots))
        delta = frames - self._last_frames
        steady = live & (self._last_frames > 0)
        bytes_delta = received - self._last_bytes
        self._last_frames = frames
        self._last_bytes = received
        closes: Counter[int] = Counter()
        errors = 0
        desyncs = 0
        for b in self.bots:
            if b.stats.close_code is not None and not b.live:
                closes[b.stats.close_code] += 1
            errors += sum(b.stats.errors.values())
            desyncs += b.stats.desyncs
        return {
            "t": round(elapsed_s),
            "started": self.started,
            "connected": int(live.sum()),
            "frames": int(delta[steady].sum()),
            "steady": int(steady.sum()),
            "rate_min": int(delta[steady].min()) if steady.any() else 0,
            "bytes": int(bytes_delta[live].sum()),
            "closes": dict(closes),
            "errors": errors,
            "desyncs": desyncs,
        }

    def results(self, window_s: float) -> dict[str, Any]:
        """Raw per-bot results of this process, ready to merge (see client_sim.report)."""
        per_bot = []
        ages: list[float] = []
        rtts: list[float] = []
        for bot in self.bots:
            s = bot.stats
            ages.extend(s.ages_ms[-MAX_SAMPLES_PER_BOT:])
            rtts.extend(s.rtts_ms[-MAX_SAMPLES_PER_BOT:])
            failure = s.failure
            if not s.connected and failure is None:
                failure = "still connecting at the end" if bot.ws else "never started"
            per_bot.append(
                {
                    "connected": s.connected,
                    "failure": failure,
                    "rate": s.window_frames / window_s if window_s > 0 else 0.0,
                    "max_messages_per_s": _max_whole(s.window_per_second, window_s),
                    "max_frames_per_s": _max_whole(s.window_frames_per_second, window_s),
                    "bytes_in_per_s": s.window_bytes_in / window_s if window_s > 0 else 0.0,
                    "bytes_out_per_s": s.window_bytes_out / window_s if window_s > 0 else 0.0,
                    "events_per_s": s.window_events / window_s if window_s > 0 else 0.0,
                    "close_code": s.close_code,
                    "close_reason": s.close_reason,
                    "errors": dict(s.errors),
                    "gaps": s.gaps,
                    "desyncs": s.desyncs,
                    "checksums": s.checksums_sent,
                    "mirror_errors": s.mirror_errors,
                    "replica": bot.replica is not None,
                    "entities": bot.mirror.entity_count(),
                    "matches": s.matches,
                    "rematchmakes": s.rematchmakes,
                    "resumes": s.resumes,
                    "results": s.results,
                    "events": dict(bot.event_counts),
                    "events_lost": bot.events_lost,
                }
            )
        sync = next((b.welcome["sync"] for b in self.bots if b.welcome), "unknown")
        game = next((b.welcome.get("game", "") for b in self.bots if b.welcome), "")
        return {
            "window_s": window_s,
            "sync": sync,
            "game": game,
            "behaviour": self.behaviour.name if self.behaviour is not None else None,
            "bots": per_bot,
            "ages_ms": ages,
            "rtts_ms": rtts,
            "staleness": self.meter.results() if self.meter is not None else None,
        }


def _max_whole(per_second: Counter[int], window_s: float) -> int:
    """The largest count of a whole second inside the window (0 if none)."""
    return max((n for k, n in per_second.items() if k + 1 <= window_s), default=0)

"""Entity interpolation: other entities shown ``interpolation_ms`` behind the server.

A client that drew the newest ``STATE`` as it arrived would show other entities jumping
by a tick's motion at every frame and stalling whenever a frame is late. Instead it
keeps the last frames and draws the world at a *render tick* ``r`` that trails the
server's current tick by ``WELCOME.interpolation_ms`` (default 100 ms): positions are
interpolated linearly between the two frames around ``r``, so a late frame costs
nothing as long as it comes within the interpolation delay. The own entity is not
interpolated: it is predicted (:mod:`client_sim.predict`).

The server's current tick is estimated from arrival times: ``offset`` is the smallest
``arrival - tick * dt`` over the last :data:`OFFSET_WINDOW` frames (the least delayed
frame; a window, so a server that skipped ticks is followed), and ``server_tick(now) =
(now - offset) / dt``. A lag-compensated shot reports ``r`` as ``view_tick =
floor(r)`` and ``view_alpha = r - floor(r)`` (docs/protocol.md, ``INPUT``).

Events are released on their tick: :meth:`Interpolator.due_events` hands out the events
of every frame whose tick the render tick has reached, in tick order, once each.

Times are seconds (``time.perf_counter()``); positions are world units.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from client_sim.mirror import NetMirror

FRAMES_KEPT = 32
"""Frames kept for interpolation (about 1 s at 30 Hz)."""
OFFSET_WINDOW = 90
"""Frames over which the smallest arrival offset is taken."""


@dataclass(slots=True)
class _Frame:
    tick: int
    pos: NDArray[np.uint32]
    known: NDArray[np.bool_]


class Interpolator:
    """Recent frames of one bot's mirror and the render tick derived from them."""

    def __init__(self, tick_rate_hz: int, interpolation_ms: float, step_units: float) -> None:
        self.dt = 1.0 / tick_rate_hz
        self.delay_ticks = interpolation_ms / 1000.0 * tick_rate_hz
        self.step = step_units
        self.frames: deque[_Frame] = deque(maxlen=FRAMES_KEPT)
        self._offsets: deque[float] = deque(maxlen=OFFSET_WINDOW)
        self._offset = 0.0
        self._events: deque[tuple[int, list[tuple[str, dict[str, NDArray[Any]]]]]] = deque()

    def push(self, mirror: NetMirror, arrival_s: float) -> None:
        """Remember the frame the mirror just applied (tick ``mirror.tick``)."""
        tick = mirror.tick
        if self.frames and tick <= self.frames[-1].tick:
            self.frames.clear()  # a new match or a replay seek: start over
            self._offsets.clear()
            self._events.clear()
        self.frames.append(_Frame(tick, mirror.pos.copy(), mirror.known.copy()))
        offset = arrival_s - tick * self.dt
        self._offsets.append(offset)
        self._offset = min(self._offsets)
        if mirror.events:
            self._events.append((tick, mirror.events))

    def server_tick(self, now_s: float) -> float:
        """The server's current tick as estimated at ``now_s`` (NaN before any frame)."""
        if not self.frames:
            return math.nan
        return (now_s - self._offset) / self.dt

    def render_tick(self, now_s: float) -> float:
        """The tick drawn at ``now_s``: ``server_tick - delay``, within the frames held."""
        if not self.frames:
            return math.nan
        r = self.server_tick(now_s) - self.delay_ticks
        return min(max(r, float(self.frames[0].tick)), float(self.frames[-1].tick))

    def view(self, now_s: float) -> tuple[int, float]:
        """``(view_tick, view_alpha)`` for an ``INPUT`` sent at ``now_s``."""
        r = self.render_tick(now_s)
        if math.isnan(r):
            return 0, 0.0
        tick = math.floor(r)
        return tick, min(1.0, max(0.0, r - tick))

    def positions(self, r: float) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """``(net ids, (n, 2) world-unit positions)`` of the entities at render tick ``r``.

        Between the frames ``f0 <= r <= f1`` an entity held in both is interpolated; one
        held in only the later frame (it just entered) is shown there, one held only in
        the earlier (it left) is not shown.
        """
        if not self.frames:
            return np.zeros(0, np.intp), np.zeros((0, 2))
        f0, f1 = self._around(r)
        ids = np.flatnonzero(f1.known)
        p1 = _unpack(f1.pos[ids])
        if f0 is f1 or f1.tick == f0.tick:
            return ids, p1 * self.step
        inside = ids < len(f0.known)
        both = np.zeros(len(ids), np.bool_)
        both[inside] = f0.known[ids[inside]]
        u = (r - f0.tick) / (f1.tick - f0.tick)
        p0 = _unpack(f0.pos[ids[both]])
        p1[both] = p0 + (p1[both] - p0) * u
        return ids, p1 * self.step

    def _around(self, r: float) -> tuple[_Frame, _Frame]:
        frames = self.frames
        for i in range(len(frames) - 1, 0, -1):
            if frames[i - 1].tick <= r:
                return frames[i - 1], frames[i]
        return frames[0], frames[0]

    def due_events(self, r: float) -> list[tuple[int, str, dict[str, NDArray[Any]]]]:
        """Events of the frames whose tick the render tick ``r`` reached, once each."""
        out: list[tuple[int, str, dict[str, NDArray[Any]]]] = []
        while self._events and self._events[0][0] <= r:
            tick, batches = self._events.popleft()
            out.extend((tick, name, fields) for name, fields in batches)
        return out


def _unpack(packed: NDArray[np.uint32]) -> NDArray[np.float64]:
    p = packed.astype(np.int64)
    return np.stack([(p & 0xFFFF), (p >> 16)], axis=1).astype(np.float64)

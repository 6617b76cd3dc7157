"""A bot's smooth-client layer: sequence numbers, prediction, interpolation, view time.

One :class:`SmoothClient` per bot that asked for it (``SwarmConfig.predict``), switched
on by a ``WELCOME`` that carries ``interpolation_ms`` (a server that understands
``INPUT.seq``; an older server gets the bot's plain inputs). Then:

- every input sent gets the next ``seq`` and is predicted
  (:class:`client_sim.predict.Predictor`); in a game with ``WELCOME.lag_compensation``
  it also carries ``view_tick``/``view_alpha``, the render tick of the other entities;
- every ``STATE`` frame is kept for interpolation (:class:`client_sim.interpolate.
  Interpolator`); the newest with ``a`` reconciles the prediction when the bot next uses
  it (:meth:`SmoothClient.reconcile`);
- :meth:`own_position` and :meth:`others` are what the bot *sees*: itself predicted,
  the others ``interpolation_ms`` behind (world units), which ``client_sim.view`` hands
  to the behaviours instead of the raw mirror.

A game whose pipeline has the ``health`` system and replicates ``health.hp``: while the
own ``hp`` is 0 the entity is dead and stands still (the system zeroes its velocity), so
the prediction holds it where the server has it.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import msgpack
import numpy as np
from numpy.typing import NDArray

from client_sim.interpolate import Interpolator
from client_sim.predict import Predictor, seq_newer
from server.gamedef.schema import GameDefinition
from server.net.protocol import PROTOCOL_VERSION, MessageType

if TYPE_CHECKING:
    from client_sim.mirror import NetMirror

_INPUT = int(MessageType.INPUT)
_ID_DTYPE: dict[int, np.dtype[Any]] = {2: np.dtype("<u2"), 4: np.dtype("<u4")}
DEFAULT_INTERPOLATION_MS = 100
INPUT_SUPERSEDED = 7
"""``ErrorCode.INPUT_SUPERSEDED`` (docs/protocol.md, ``ERROR``)."""


def frozen_field(definition: GameDefinition) -> str | None:
    """``"health.hp"`` when the game's dead stand still and the client is sent its hp."""
    has_health = any(step.system == "health" for step in definition.pipeline)
    replicated = {f.key for f in definition.sync.replicate}
    return "health.hp" if has_health and "health.hp" in replicated else None


class SmoothClient:
    """Prediction and interpolation for one bot (see the module doc)."""

    def __init__(self, definition: GameDefinition, welcome: dict[str, Any]) -> None:
        step = float(welcome.get("quantize", {}).get("position.x", 1 / 16))
        self.step = step
        self.entity = int(welcome.get("entity", -1))
        self.predictor = Predictor(definition, step)
        self.interp = Interpolator(
            int(welcome["tick_rate_hz"]),
            float(welcome.get("interpolation_ms", DEFAULT_INTERPOLATION_MS)),
            step,
        )
        self.view_time = welcome.get("lag_compensation") is not None
        """Send ``view_tick``/``view_alpha`` (the game rewinds for hit tests)."""
        self.frozen_by = frozen_field(definition)
        self.buffer = int(welcome.get("input_buffer_ticks", 0))
        self.buttons = [f.name for f in definition.inputs if f.kind == "buttons"]
        """The ``buttons`` fields: an input that presses one is never skipped."""
        self._held: dict[str, int] = {}
        self.backlog = 0
        """Inputs of ours waiting beyond the server's buffer (``STATE.aq``) that no skip
        sent since has answered yet (:meth:`skip`)."""
        self._skips: list[int] = []
        """The seq sent last before each recent skip."""
        self.skipped = 0
        """Sends skipped to work off a backlog (``STATE.aq``)."""
        self.frames_with_ack = 0
        self.inputs_sent = 0
        self._latest: tuple[tuple[int, int], int, int, int | None, bool, bool] | None = None
        self.frames_skipped = 0
        """Frames with ``a`` that a newer one replaced before they were reconciled."""
        self.own_events: Counter[str] = Counter()
        """Events received whose ``by`` is the own entity, by name (e.g. ``hit``: the
        shots of this bot that hit)."""

    @classmethod
    def for_welcome(
        cls, definition: GameDefinition | None, welcome: dict[str, Any]
    ) -> SmoothClient | None:
        """A smooth client when the server speaks ``seq`` and the bot plays an entity."""
        if definition is None or "interpolation_ms" not in welcome:
            return None
        if welcome.get("sync") != "state" or int(welcome.get("entity", -1)) < 0:
            return None
        return cls(definition, welcome)

    # -- receiving ------------------------------------------------------------------

    def on_state(self, mirror: NetMirror, body: dict[str, Any], now_s: float) -> None:
        """After ``mirror.apply(body)``: keep the frame; one with ``a`` is the newest to
        reconcile with."""
        self.interp.push(mirror, now_s)
        for name, fields in mirror.events:
            by = fields.get("by")
            if by is not None:
                self.own_events[name] += int(np.count_nonzero(by == self.entity))
        acked = body.get("a")
        if acked is None:
            return
        self._backlog(int(acked), int(body.get("aq", 0)))
        steps = mirror.position_steps(self.entity)
        if steps is None:
            return
        self.frames_with_ack += 1
        dt = _ID_DTYPE[body["w"]]
        teleported = bool(body["f"]) or any(
            body[key] and self.entity in np.frombuffer(body[key], dt) for key in ("e", "m")
        )
        frozen = False
        if self.frozen_by is not None:
            frozen = mirror.value(self.entity, self.frozen_by) == 0.0
        if self._latest is not None:
            teleported = teleported or self._latest[4]  # a jump in a frame not yet used
            self.frames_skipped += 1
        self._latest = (steps, int(acked), int(body["t"]), body.get("at"), teleported, frozen)

    def reconcile(self) -> None:
        """Reconcile with the newest frame that has ``a``, if not done yet.

        Lazy: called before the prediction is used (an input is sent, the bot looks at
        itself), so frames that arrive together cost one reconciliation, not one each --
        a bot process that fell behind does not fall further behind replaying frames it
        will never use. The error figure is taken on the frames reconciled."""
        latest = self._latest
        if latest is not None:
            self._latest = None
            self.predictor.reconcile(*latest)

    def _backlog(self, acked: int, q: int) -> None:
        """``STATE.aq``: ``q`` of our inputs wait beyond the server's buffer of
        ``input_buffer_ticks``, so ``q + buffer`` after ``a`` (those we sent and the server
        did not drop). The backlog left is ``q`` minus the skips made after sending the
        newest of them (the server has not seen those yet)."""
        if q <= 0:
            self.backlog = 0
            self._skips.clear()
            return
        after = [e.seq for e in self.predictor.pending if seq_newer(e.seq, acked)]
        waiting = q + self.buffer
        newest = after[min(waiting, len(after)) - 1] if after else acked
        self._skips = [s for s in self._skips if not seq_newer(newest, s)]
        self.backlog = max(0, q - len(self._skips))

    def skip(self, body: dict[str, Any]) -> bool:
        """Skip this tick's send? Yes while the server holds a backlog of our inputs
        (``STATE.aq``, docs/protocol.md "Writing a smooth client"), unless ``body`` presses
        a button: the server then takes the next waiting input instead, so the backlog
        (the extra input latency) shrinks by one and nothing is mispredicted."""
        held = self._held
        if self.backlog <= 0 or any(int(body[b]) & ~held.get(b, 0) for b in self.buttons):
            return False
        self.backlog -= 1
        self._skips.append(self.predictor.seq)
        self.skipped += 1
        return True

    def on_error(self, body: dict[str, Any]) -> None:
        """``ERROR INPUT_SUPERSEDED`` names an input the server dropped: re-predict."""
        if body.get("code") == INPUT_SUPERSEDED and isinstance(body.get("seq"), int):
            self.predictor.drop(int(body["seq"]))

    # -- sending --------------------------------------------------------------------

    def input_payload(self, body: dict[str, Any], now_s: float | None = None) -> bytes:
        """``body`` with ``seq`` (and the view time) added, encoded; predicted at once.

        The prediction uses the values the server will decode: the body is packed with
        float32 numbers, as every bot message, and read back."""
        self.reconcile()
        out = dict(body)
        out["seq"] = self.predictor.next_seq()
        if self.view_time:
            view_tick, alpha = self.interp.view(time.perf_counter() if now_s is None else now_s)
            out["view_tick"] = view_tick
            out["view_alpha"] = alpha
        payload: bytes = msgpack.packb(
            [PROTOCOL_VERSION, _INPUT, out], use_bin_type=True, use_single_float=True
        )
        sent = msgpack.unpackb(payload)[2]
        for b in self.buttons:
            self._held[b] = int(sent[b])
        self.predictor.input(out["seq"], self.predictor.mover.quantize(sent))
        self.inputs_sent += 1
        return payload

    # -- what the bot sees ---------------------------------------------------------

    def own_position(self) -> tuple[float, float] | None:
        """The predicted own position (world units), None before the first ``a``."""
        self.reconcile()
        if not self.predictor.based:
            return None
        return self.predictor.position_units

    def others(self, now_s: float) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """``(net ids, (n, 2) world units)`` of everything held but the own entity, at
        the render tick (``interpolation_ms`` behind the server)."""
        ids, pos = self.interp.positions(self.interp.render_tick(now_s))
        keep = ids != self.entity
        return ids[keep], pos[keep]

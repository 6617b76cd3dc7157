// Client-side prediction, reconciliation and the server clock (docs/protocol.md,
// "Writing a smooth client"). The JavaScript twin of client_sim/predict.py and
// client_sim/interpolate.py; tests/client_sim/test_predict_js.py holds the movement to
// the server's for the same inputs.
//
// Movement (WELCOME.movement, the shooter's and the arena's apply_inputs -> move ->
// bounce_at_edges, all integers in subunits):
//   v = floor(q * S / 127)        S = trunc(speed_units_per_s * subunits_per_unit)
//   p = p + floor(v / tick_rate_hz)
//   p < 0: p = min(-p, L), v = |v|;  p > L: p = max(2L - p, 0), v = -|v|   L = trunc(width * spu)
import { floorDiv } from "../lockstep/arith.js";

export const SEQ_MOD = 2 ** 32;
const MAX_PENDING = 64; // unacknowledged inputs kept (2 s at 30 Hz)
const MAX_EXTRA_TICKS = 4; // as client_sim/predict.py

/** RFC 1982: seq is newer than `than` iff (seq - than) mod 2^32 is in 1 .. 2^31 - 1. */
export function seqNewer(seq, than) {
  const d = (((seq - than) % SEQ_MOD) + SEQ_MOD) % SEQ_MOD;
  return d > 0 && d < 2 ** 31;
}

/** A stick in [-1, 1] as the server stores it: floor(v * 127 + 0.5) (int8 steps). */
export function quantizeStick(v) {
  return Math.floor(v * 127 + 0.5);
}

/** The own entity's movement rules from WELCOME (movement, world, tick_rate_hz). */
export class Movement {
  constructor(welcome) {
    const m = welcome.movement;
    this.spu = m.subunits_per_unit;
    this.speed = Math.trunc(m.speed_units_per_s * this.spu);
    this.stickMax = m.stick_max || 127;
    this.rate = welcome.tick_rate_hz;
    this.limit = [Math.trunc(welcome.world[0] * this.spu), Math.trunc(welcome.world[1] * this.spu)];
  }

  /** One tick: s = {x, y, vx, vy} in subunits, (qx, qy) the stick steps; mutates s. */
  step(s, qx, qy) {
    s.vx = floorDiv(qx * this.speed, this.stickMax);
    s.vy = floorDiv(qy * this.speed, this.stickMax);
    s.x += floorDiv(s.vx, this.rate);
    s.y += floorDiv(s.vy, this.rate);
    for (const [p, v, limit] of [["x", "vx", this.limit[0]], ["y", "vy", this.limit[1]]]) {
      if (s[p] < 0) {
        s[p] = Math.min(-s[p], limit);
        s[v] = Math.abs(s[v]);
      } else if (s[p] > limit) {
        s[p] = Math.max(2 * limit - s[p], 0);
        s[v] = -Math.abs(s[v]);
      }
    }
    return s;
  }
}

/** The own player's predicted position, reconciled against every STATE that has `a`. */
export class Predictor {
  constructor(welcome) {
    this.move = new Movement(welcome);
    this.stepUnits = welcome.quantize["position.x"];
    this.stepSub = this.stepUnits * this.move.spu;
    this.toSteps = 1 / (this.move.spu * this.stepUnits); // as the server multiplies
    this.state = { x: 0, y: 0, vx: 0, vy: 0 };
    this.base = { x: 0, y: 0 }; // the last frame's position, where replays start
    this.pending = []; // {seq, qx, qy, x, y}: unacknowledged inputs and where each led
    this.seq = SEQ_MOD - 1;
    this.based = false;
    this.frozen = false;
    this.errors = []; // recent prediction errors, world units
    this.corrections = 0;
    this.reconciliations = 0;
  }

  nextSeq() {
    this.seq = (this.seq + 1) % SEQ_MOD;
    return this.seq;
  }

  /** Predict one tick with input `seq` (stick steps qx, qy) just sent. */
  input(seq, qx, qy) {
    if (this.based && !this.frozen) this.move.step(this.state, qx, qy);
    this.pending.push({ seq, qx, qy, x: this.state.x, y: this.state.y });
    if (this.pending.length > MAX_PENDING) this.pending.shift();
  }

  /** ERROR INPUT_SUPERSEDED named input `seq`: the server dropped it unapplied. Take it
   * out and predict the inputs after it again from the one before. */
  drop(seq) {
    const i = this.pending.findIndex((p) => p.seq === seq);
    if (i < 0) return false;
    this.pending.splice(i, 1);
    if (!this.based || this.frozen) return true;
    const from = i ? this.pending[i - 1] : this.base;
    this.state = { x: from.x, y: from.y, vx: 0, vy: 0 };
    for (const p of this.pending.slice(i)) {
      this.move.step(this.state, p.qx, p.qy);
      p.x = this.state.x;
      p.y = this.state.y;
    }
    return true;
  }

  /** Round half to even, as numpy's rint on the server. */
  static rint(v) {
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  quantized(x, y) {
    return [Predictor.rint(x * this.toSteps), Predictor.rint(y * this.toSteps)];
  }

  /** STATE of tick t said the own entity is at steps (qx, qy) after input a (applied
   * first at tick at). Replays the inputs after a; returns the prediction error (world
   * units) or null. teleported: it came in `m`/`e`; frozen: it cannot move (dead). */
  reconcile(qx, qy, a, t, at, teleported, frozen) {
    this.reconciliations += 1;
    const before = [this.state.x, this.state.y];
    let acked = null;
    while (a !== null && this.pending.length && !seqNewer(this.pending[0].seq, a)) {
      const p = this.pending.shift();
      if (p.seq === a) acked = p;
    }
    let base = [Math.round(qx * this.stepSub), Math.round(qy * this.stepSub)];
    let error = null;
    // No error sample for an input the server held over more than MAX_EXTRA_TICKS.
    if (acked && this.based && t - at <= MAX_EXTRA_TICKS && !teleported && !frozen && !this.frozen) {
      const s = { x: acked.x, y: acked.y, vx: 0, vy: 0 };
      for (let i = 0; i < t - at; i++) this.move.step(s, acked.qx, acked.qy);
      const [px, py] = this.quantized(s.x, s.y);
      error = Math.hypot(px - qx, py - qy) * this.stepUnits;
      this.errors.push(error);
      if (this.errors.length > 300) this.errors.shift();
      if (px === qx && py === qy) base = [s.x, s.y];
    }
    const hadBase = this.based;
    this.frozen = frozen;
    this.based = true;
    this.state.x = base[0];
    this.state.y = base[1];
    this.base = { x: base[0], y: base[1] };
    for (const p of this.pending) {
      if (!frozen) this.move.step(this.state, p.qx, p.qy);
      p.x = this.state.x;
      p.y = this.state.y;
    }
    const moved = Math.max(Math.abs(this.state.x - before[0]), Math.abs(this.state.y - before[1]));
    if (hadBase && !teleported && moved > this.stepSub) this.corrections += 1;
    return error;
  }

  /** The predicted present position in world units. */
  position() {
    return [this.state.x / this.move.spu, this.state.y / this.move.spu];
  }
}

/** The server's tick estimated from frame arrivals: the least delayed frame of the last
 * `window` sets the offset; renderTick trails it by interpolation_ms. Times in ms. */
export class ServerClock {
  constructor(tickRateHz, interpolationMs, window = 90) {
    this.dtMs = 1000 / tickRateHz;
    this.delayTicks = interpolationMs / this.dtMs;
    this.window = window;
    this.offsets = [];
    this.first = null;
    this.last = null;
  }

  frame(tick, nowMs) {
    if (this.last !== null && tick <= this.last) { this.offsets = []; this.first = null; }
    if (this.first === null) this.first = tick;
    this.last = tick;
    this.offsets.push(nowMs - tick * this.dtMs);
    if (this.offsets.length > this.window) this.offsets.shift();
  }

  serverTick(nowMs) {
    if (this.last === null) return NaN;
    return (nowMs - Math.min(...this.offsets)) / this.dtMs;
  }

  /** The tick drawn at nowMs, within the frames received. */
  renderTick(nowMs) {
    if (this.last === null) return NaN;
    const r = this.serverTick(nowMs) - this.delayTicks;
    return Math.min(Math.max(r, this.first), this.last);
  }

  /** [view_tick, view_alpha] for an INPUT sent at nowMs. */
  view(nowMs) {
    const r = this.renderTick(nowMs);
    if (Number.isNaN(r)) return [0, 0];
    const tick = Math.floor(r);
    return [tick, Math.min(1, Math.max(0, r - tick))];
  }
}

/** Median and 99th percentile of numbers (null when empty). */
export function quantiles(values) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p99: at(0.99) };
}

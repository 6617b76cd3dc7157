// The integer arithmetic of docs/lockstep.md §8, exact in JavaScript.
// Numbers are exact integers below 2**53; where a product may exceed that, BigInt does
// the step with numpy's int64 wrap-around. Storing into an Int32Array is wrap32.

const EXACT = 2 ** 53;

/** floor(a / b) for integers a, b (b > 0), exact for |a| < 2**53 (JS `/` rounds). */
export function floorDiv(a, b) {
  let q = Math.floor(a / b);
  if (q * b > a) q -= 1;
  else if ((q + 1) * b <= a) q += 1;
  return q;
}

/** floor(a * b / d) (d > 0) with the product in int64, as numpy's `(a * b) // d`. */
export function mulFloorDiv(a, b, d) {
  const p = a * b;
  if (Math.abs(p) < EXACT) return floorDiv(p, d);
  const bp = BigInt.asIntN(64, BigInt(a) * BigInt(b));
  const bd = BigInt(d);
  let q = bp / bd; // truncates toward zero
  if (q * bd > bp) q -= 1n;
  return Number(q);
}

/** Python's round(v) of a float64: to the nearest integer, ties to even. */
export function pyRound(v) {
  const f = Math.floor(v);
  const rest = v - f; // exact for finite doubles
  if (rest > 0.5) return f + 1;
  if (rest < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** World units to subunits: round(units * subunits_per_unit) (units_to_subunits). */
export function subunits(rules, units) {
  return pyRound(units * rules.world.subunits_per_unit);
}

/** round(seconds * hz), at least 1 for a positive duration, 0 for 0 or less. */
export function secondsToTicks(seconds, hz) {
  if (seconds <= 0) return 0;
  return Math.max(1, pyRound(seconds * hz));
}

/** dx*dx + dy*dy as numpy's int64 (a Number when exact, else a wrapped BigInt). */
export function dist2(dx, dy) {
  const s = dx * dx + dy * dy;
  if (s < EXACT) return s;
  const w = (x) => BigInt.asIntN(64, x);
  const bx = BigInt(dx), by = BigInt(dy);
  return w(w(bx * bx) + w(by * by));
}

/** dx² + dy² <= reach² in int64 (wrapping for huge values, as numpy). */
export function within(dx, dy, reach) {
  const d2 = dist2(dx, dy);
  const r2 = reach * reach;
  if (typeof d2 === "number" && r2 < EXACT) return d2 <= r2;
  return BigInt(d2) <= BigInt.asIntN(64, BigInt(reach) * BigInt(reach));
}

/** Exact floor(sqrt(n)) for 0 <= n < 2**62 (a Number, or the BigInt dist2 returns). */
export function isqrt(n) {
  if (typeof n === "number") {
    let r = Math.floor(Math.sqrt(n));
    if (r * r > n) r -= 1;
    else if ((r + 1) * (r + 1) <= n) r += 1;
    return r;
  }
  if (n < 0n) throw new Error(`isqrt of a negative int64 (${n}): outside the contract`);
  let r = BigInt(Math.floor(Math.sqrt(Number(n))));
  while (r * r > n) r -= 1n;
  while ((r + 1n) * (r + 1n) <= n) r += 1n;
  return Number(r);
}

/** min(max(v, lo), hi). */
export function clip(v, lo, hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

// Trig: 4096 directions per turn, fixed point 1.0 = 16384. Every entry is more than 1e-6
// from a rounding boundary (the server tests it), so any correctly rounded cos/sin gives
// the same table.
export const TRIG_ONE = 16384;
export const COS_TABLE = new Int32Array(4096);
export const SIN_TABLE = new Int32Array(4096);
for (let i = 0; i < 4096; i++) {
  const a = i * ((2 * Math.PI) / 4096);
  COS_TABLE[i] = Math.round(Math.cos(a) * TRIG_ONE);
  SIN_TABLE[i] = Math.round(Math.sin(a) * TRIG_ONE);
}

/** [cos, sin] in 1/16384 of a uint16 binary angle (65536 per turn, 0 = +x). */
export function direction(angle) {
  const i = (angle & 0xffff) >> 4;
  return [COS_TABLE[i], SIN_TABLE[i]];
}

/** The value range of an integer dtype, or null for floats and bool. */
export function dtypeRange(dtype) {
  const m = /^(u?)int(8|16|32)$/.exec(dtype);
  if (!m) return null;
  const bits = Number(m[2]);
  return m[1] ? [0, 2 ** bits - 1] : [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1];
}

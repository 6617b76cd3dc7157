// The built-in systems, exactly as docs/lockstep.md §8 specifies them: the arena's here,
// the rts game's in units.js and rules.js, the shared arithmetic in arith.js.
// Integer columns are typed arrays: storing into an Int32Array wraps mod 2**32 (wrap32).
import { floorDiv } from "./arith.js";
import { RULE_SYSTEMS } from "./rules.js";
import { touchingPairs, UNIT_SYSTEMS } from "./units.js";

export { floorDiv };

function applyInputs(world, ctx, params) {
  const bits = world.maskBits("input", "velocity");
  const has = world.col("has");
  const ix = world.col("input.x"), iy = world.col("input.y");
  const vx = world.col("velocity.x"), vy = world.col("velocity.y");
  const speed = Math.trunc(params.speed_units_per_s * ctx.rules.world.subunits_per_unit);
  for (let i = 0; i < world.count; i++) {
    if ((has[i] & bits) >>> 0 !== bits) continue;
    vx[i] = floorDiv(ix[i] * speed, 127);
    vy[i] = floorDiv(iy[i] * speed, 127);
  }
}

function move(world, ctx) {
  const px = world.col("position.x"), py = world.col("position.y");
  const vx = world.col("velocity.x"), vy = world.col("velocity.y");
  const rate = ctx.rules.tick_rate_hz;
  for (let i = 0; i < world.count; i++) {
    px[i] = px[i] + floorDiv(vx[i], rate);
    py[i] = py[i] + floorDiv(vy[i], rate);
  }
}

function bounceAtEdges(world, ctx) {
  const w = ctx.rules.world;
  for (const [axis, units] of [["x", w.width_units], ["y", w.height_units]]) {
    const limit = Math.trunc(units * w.subunits_per_unit);
    const p = world.col(`position.${axis}`), v = world.col(`velocity.${axis}`);
    for (let i = 0; i < world.count; i++) {
      const pi = p[i];
      if (pi < 0) {
        p[i] = Math.min(-pi | 0, limit);
        v[i] = Math.abs(v[i]);
      } else if (pi > limit) {
        p[i] = Math.max((2 * limit - pi) | 0, 0);
        v[i] = -Math.abs(v[i]);
      }
    }
  }
}

function collide(world, ctx, params) {
  const n = world.count;
  if (n < 2) return;
  const defaultR = Math.trunc(params.radius_units * ctx.rules.world.subunits_per_unit);
  const radius = world.col("collider.radius");
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) r[i] = radius[i] > 0 ? radius[i] : defaultR;
  const touched = new Uint8Array(n);
  const all = Array.from({ length: n }, (_, i) => i);
  for (const [a, b] of touchingPairs(world, all, r)) { touched[a] = 1; touched[b] = 1; }
  const bits = world.maskBits("velocity");
  const has = world.col("has");
  const vx = world.col("velocity.x"), vy = world.col("velocity.y");
  for (let i = 0; i < n; i++) {
    if (touched[i] && (has[i] & bits) >>> 0 === bits) { vx[i] = -vx[i]; vy[i] = -vy[i]; }
  }
}

function failAtTick(world, ctx, params) {
  if (ctx.tick === params.tick) throw new Error(`injected fault at tick ${ctx.tick}`);
}

/**
 * name -> fn(world, ctx, params); ctx = {tick, rules, rng, spawn(archetype, values),
 * despawn(netids), emit(name, fields), end(kind, reason, winner)}: spawns and despawns are
 * queued and applied after the phase (docs/lockstep.md §5).
 */
export const SYSTEMS = {
  apply_inputs: applyInputs,
  move,
  bounce_at_edges: bounceAtEdges,
  collide,
  fail_at_tick: failAtTick,
  ...UNIT_SYSTEMS,
  ...RULE_SYSTEMS,
};

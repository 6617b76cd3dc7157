// Commanded units (the rts game), exactly as docs/lockstep.md §8 specifies them:
// spawn_squad, rally_to_input, follow_owner, separate.
import {
  clip, direction, dist2, floorDiv, isqrt, mulFloorDiv, pyRound, subunits, TRIG_ONE, within,
} from "./arith.js";

/** Slots where every named component is present. */
function slotsWith(world, ...components) {
  const bits = world.maskBits(...components);
  const has = world.col("has");
  const out = [];
  for (let i = 0; i < world.count; i++) if ((has[i] & bits) >>> 0 === bits) out.push(i);
  return out;
}

function worldLimits(ctx) {
  const w = ctx.rules.world;
  return [subunits(ctx.rules, w.width_units), subunits(ctx.rules, w.height_units)];
}

function spawnSquad(world, ctx, params) {
  const arch = world.archetypes.get(params.archetype);
  if (!arch) throw new Error(`spawn_squad: unknown archetype ${params.archetype}`);
  const kind = world.col("kind");
  const owner = world.col("owner.netid");
  const orphans = [];
  for (let i = 0; i < world.count; i++) {
    if (kind[i] === arch.kind && world.slotOf(owner[i]) < 0) orphans.push(world.col("netid")[i]);
  }
  if (orphans.length) ctx.despawn(orphans);
  const spawned = world.col("squad.spawned");
  const players = slotsWith(world, "squad", "position").filter((i) => spawned[i] === 0);
  if (players.length === 0) return;
  const count = params.count;
  const spread = subunits(ctx.rules, params.spread_units);
  const offsets = [];
  for (let k = 0; k < count; k++) {
    const [ux, uy] = direction(floorDiv(k * 65536, count));
    offsets.push([floorDiv(ux * spread, TRIG_ONE), floorDiv(uy * spread, TRIG_ONE)]);
  }
  const [xmax, ymax] = worldLimits(ctx);
  const px = world.col("position.x"), py = world.col("position.y");
  const netid = world.col("netid");
  for (const p of players) {
    spawned[p] = 1;
    for (const [ox, oy] of offsets) {
      ctx.spawn(params.archetype, {
        "position.x": clip(px[p] + ox, 0, xmax),
        "position.y": clip(py[p] + oy, 0, ymax),
        "owner.netid": netid[p],
      });
    }
  }
}

function rallyToInput(world, ctx, params) {
  const tx = world.col(params.x_field), ty = world.col(params.y_field);
  const px = world.col("position.x"), py = world.col("position.y");
  const scale = ctx.rules.world.subunits_per_unit;
  const [xmax, ymax] = worldLimits(ctx);
  for (const i of slotsWith(world, "input", "position")) {
    if (tx[i] === 0 && ty[i] === 0) continue;
    px[i] = clip(tx[i] * scale, 0, xmax);
    py[i] = clip(ty[i] * scale, 0, ymax);
  }
}

function followOwner(world, ctx, params) {
  const px = world.col("position.x"), py = world.col("position.y");
  const vx = world.col("velocity.x"), vy = world.col("velocity.y");
  const owner = world.col("owner.netid");
  const arrive = Math.max(subunits(ctx.rules, params.arrive_units), 0);
  const speed = subunits(ctx.rules, params.speed_units_per_s);
  for (const i of slotsWith(world, "owner", "position", "velocity")) {
    const o = world.slotOf(owner[i]);
    const dx = o >= 0 ? px[o] - px[i] : 0;
    const dy = o >= 0 ? py[o] - py[i] : 0;
    const dist = isqrt(dist2(dx, dy));
    if (dist > arrive) {
      vx[i] = mulFloorDiv(dx, speed, dist);
      vy[i] = mulFloorDiv(dy, speed, dist);
    } else {
      vx[i] = 0;
      vy[i] = 0;
    }
  }
}

/** Every pair a < b of `slots` whose centres are within r[a] + r[b] (exact integers). */
export function touchingPairs(world, slots, r) {
  const px = world.col("position.x"), py = world.col("position.y");
  let maxR = 0;
  for (const i of slots) if (r[i] > maxR) maxR = r[i];
  const order = [...slots].sort((a, b) => px[a] - px[b] || a - b);
  const out = [];
  for (let k = 0; k < order.length; k++) {
    const a = order[k];
    for (let l = k + 1; l < order.length; l++) {
      const b = order[l];
      if (px[b] - px[a] > 2 * maxR) break;
      if (within(px[b] - px[a], py[b] - py[a], r[a] + r[b])) out.push(a < b ? [a, b] : [b, a]);
    }
  }
  return out;
}

function separate(world, ctx, params) {
  const slots = slotsWith(world, params.component, "position", "collider");
  if (world.count < 2 || slots.length < 2) return;
  const defaultR = subunits(ctx.rules, params.radius_units);
  const radius = world.col("collider.radius");
  const r = new Float64Array(world.count);
  for (const i of slots) r[i] = radius[i] > 0 ? radius[i] : defaultR;
  const pairs = touchingPairs(world, slots, r);
  if (pairs.length === 0) return;
  const s = pyRound(params.strength * 256);
  const px = world.col("position.x"), py = world.col("position.y");
  const mx = new Map(), my = new Map();
  const add = (m, i, v) => m.set(i, (m.get(i) || 0) + v);
  for (const [a, b] of pairs) {
    const dx = px[b] - px[a], dy = py[b] - py[a];
    const d = isqrt(dist2(dx, dy));
    const push = Math.max(1, mulFloorDiv(r[a] + r[b] - d, s, 512));
    const ux = d > 0 ? mulFloorDiv(dx, push, d) : push;
    const uy = d > 0 ? mulFloorDiv(dy, push, d) : 0;
    add(mx, a, -ux); add(mx, b, ux);
    add(my, a, -uy); add(my, b, uy);
  }
  const [xmax, ymax] = worldLimits(ctx);
  for (const [i, m] of mx) px[i] = clip(px[i] + m, 0, xmax);
  for (const [i, m] of my) py[i] = clip(py[i] + m, 0, ymax);
}

export const UNIT_SYSTEMS = {
  spawn_squad: spawnSquad,
  rally_to_input: rallyToInput,
  follow_owner: followOwner,
  separate,
};

// Zones and the match clock, exactly as docs/lockstep.md §8 specifies them: zones,
// round_timer. Events and match endings change no state; they go to ctx.emit / ctx.end.
import { clip, dtypeRange, secondsToTicks, subunits, within } from "./arith.js";

function componentOf(key) { return key.split(".", 1)[0]; }

function hasAll(world, i, bits) { return (world.col("has")[i] & bits) >>> 0 === bits; }

/** col[slot] += points * (times the slot is listed), then clipped to the dtype (add_clipped). */
function addClipped(world, key, slots, points) {
  if (slots.length === 0) return;
  const col = world.col(key);
  const range = dtypeRange(world.dtypes.get(key));
  const acc = new Map();
  for (const s of slots) acc.set(s, (acc.get(s) || 0) + points);
  for (const [s, add] of acc) {
    const v = col[s] + add;
    col[s] = range ? clip(v, range[0], range[1]) : v;
  }
}

function insideZone(world, ctx, params, i) {
  const dx = world.col("position.x")[i] - subunits(ctx.rules, params.x_units);
  const dy = world.col("position.y")[i] - subunits(ctx.rules, params.y_units);
  const r = subunits(ctx.rules, params.radius_units);
  if (r > 0) return within(dx, dy, r);
  const hw = subunits(ctx.rules, params.width_units / 2);
  const hh = subunits(ctx.rules, params.height_units / 2);
  return Math.abs(dx) <= hw && Math.abs(dy) <= hh;
}

function zones(world, ctx, params) {
  const mode = params.mode;
  if (!["event", "score", "capture"].includes(mode)) throw new Error(`zones: bad mode ${mode}`);
  const who = world.maskBits(params.who, "position");
  const netid = world.col("netid");
  const inside = [];
  for (let i = 0; i < world.count; i++) {
    if (hasAll(world, i, who) && insideZone(world, ctx, params, i)) inside.push(i);
  }
  if (mode === "event") {
    const bit = (1 << params.id) >>> 0;
    const zoneBits = world.maskBits("zone");
    const flags = world.col("zone.inside");
    const isInside = new Set(inside);
    const entered = [], left = [];
    for (let i = 0; i < world.count; i++) {
      if (!hasAll(world, i, who) || !hasAll(world, i, zoneBits)) continue;
      const was = (flags[i] & bit) !== 0;
      if (isInside.has(i) && !was) { flags[i] = (flags[i] | bit) >>> 0; entered.push(netid[i]); }
      if (!isInside.has(i) && was) { flags[i] = (flags[i] & ~bit) >>> 0; left.push(netid[i]); }
    }
    ctx.emit("zone_entered", { zone: params.id, who: entered });
    ctx.emit("zone_left", { zone: params.id, who: left });
    return;
  }
  const every = secondsToTicks(params.every_s, ctx.rules.tick_rate_hz);
  if (ctx.tick % every !== 0 || inside.length === 0) return;
  const credit = params.credit_field ? world.col(params.credit_field) : netid;
  const credited = inside.map((i) => Number(credit[i]));
  const key = params.score_field;
  const scoreBits = world.maskBits(componentOf(key));
  const scorable = (ids) => ids.map((id) => world.slotOf(id))
    .filter((s) => s >= 0 && hasAll(world, s, scoreBits));
  if (mode === "score") {
    addClipped(world, key, scorable(credited), params.points);
    return;
  }
  const counts = new Map();
  for (const id of credited) counts.set(id, (counts.get(id) || 0) + 1);
  const best = Math.max(...counts.values());
  const top = [...counts].filter(([, n]) => n === best);
  if (top.length !== 1) return;
  const winner = top[0][0];
  addClipped(world, key, scorable([winner]), params.points);
  ctx.emit("zone_scored", { zone: params.id, by: [winner], count: best });
}

/** Net id of the unique highest `key` among entities that have it; null on a tie. */
function topScorer(world, key) {
  const bits = world.maskBits(componentOf(key));
  const col = world.col(key), netid = world.col("netid");
  let best = null, who = null, ties = 0;
  for (let i = 0; i < world.count; i++) {
    if (!hasAll(world, i, bits)) continue;
    const v = Number(col[i]);
    if (best === null || v > best) { best = v; who = netid[i]; ties = 1; } else if (v === best) ties += 1;
  }
  return ties === 1 ? who : null;
}

function roundTimer(world, ctx, params) {
  const hz = ctx.rules.tick_rate_hz;
  const warm = secondsToTicks(params.warmup_s, hz);
  const period = warm + secondsToTicks(params.round_s, hz);
  const k = Math.floor((ctx.tick - 1) / period), t = (ctx.tick - 1) - k * period;
  const live = t >= warm;
  if (world.bits.has("round")) {
    const bits = world.maskBits("round");
    const left = live ? period - t : warm - t;
    for (let i = 0; i < world.count; i++) {
      if (!hasAll(world, i, bits)) continue;
      world.col("round.number")[i] = k + 1;
      world.col("round.live")[i] = live ? 1 : 0;
      world.col("round.left_s")[i] = Math.ceil(left / hz);
    }
  }
  if (t === warm) ctx.emit("round_started", { round: k + 1 });
  const key = params.score_field;
  if (key && params.score_limit > 0) {
    const bits = world.maskBits(componentOf(key));
    const col = world.col(key);
    let max = null;
    for (let i = 0; i < world.count; i++) {
      if (hasAll(world, i, bits) && (max === null || Number(col[i]) > max)) max = Number(col[i]);
    }
    if (max !== null && max >= params.score_limit) {
      ctx.end("match", "score_limit", topScorer(world, key));
      return;
    }
  }
  if (t !== period - 1) return;
  const winner = key ? topScorer(world, key) : null;
  ctx.emit("round_ended", { round: k + 1, winner: winner === null ? 0 : winner });
  if (params.rounds && k + 1 >= params.rounds) {
    ctx.end("match", "rounds", winner);
    return;
  }
  ctx.end("round", "time", winner);
  for (const column of params.reset) {
    const bits = world.maskBits(componentOf(column));
    const col = world.col(column);
    for (let i = 0; i < world.count; i++) if (hasAll(world, i, bits)) col[i] = 0;
  }
  if (params.reposition) {
    const kind = world.archetypes.get(ctx.rules.player_archetype).kind;
    const kinds = world.col("kind");
    const players = [];
    for (let i = 0; i < world.count; i++) if (kinds[i] === kind) players.push(i);
    if (players.length) {
      const [xmax, ymax] = [ctx.rules.world.width_units, ctx.rules.world.height_units]
        .map((u) => subunits(ctx.rules, u) + 1);
      const xs = players.map(() => ctx.rng.integers(0, xmax));
      const ys = players.map(() => ctx.rng.integers(0, ymax));
      players.forEach((p, n) => {
        world.col("position.x")[p] = xs[n];
        world.col("position.y")[p] = ys[n];
      });
    }
  }
}

export const RULE_SYSTEMS = { zones, round_timer: roundTimer };

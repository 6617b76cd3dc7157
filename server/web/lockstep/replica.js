// A lockstep replica: restore a CHECKPOINT, apply LOCKSTEP_FRAMEs, compute checksums.
// Written from docs/lockstep.md alone; `node conformance.js VECTORS` checks it.
import { blake2b } from "./blake2b.js";
import { MatchRng } from "./rng.js";
import { SYSTEMS } from "./systems.js";
import { ARRAYS, World } from "./world.js";

export const PHASES = ["input", "pre_update", "update", "validate", "post_update", "sync"];

export class LockstepReplica {
  /** checkpoint: a CHECKPOINT body {frame, state, game}; throws if it cannot be followed. */
  constructor(checkpoint) {
    const rules = checkpoint.game;
    if (!rules) throw new Error("checkpoint has no game rules (server too old?)");
    const missing = rules.pipeline.map(([, name]) => name).filter((n) => !(n in SYSTEMS));
    if (missing.length) throw new Error(`systems not implemented here: ${missing.join(", ")}`);
    this.rules = rules;
    /** [name, dtype] per input field, in wire order (the arena's x/y sticks by default). */
    this.inputs = rules.inputs || [["x", "int8"], ["y", "int8"]];
    this.world = new World(rules);
    this.world.restore(checkpoint.state.sim.world);
    this.rng = MatchRng.fromCheckpoint(checkpoint.state.sim.rng);
    this.tick = checkpoint.state.sim.tick;
    this.seatNetid = new Map(checkpoint.state.seats.map(([seat, , netid]) => [seat, netid]));
    this.byPhase = PHASES.map((p) => rules.pipeline.filter(([phase]) => phase === p));
    this.pendingSpawns = [];
    this.pendingDespawns = [];
    /** The last ctx.end(...) of a system: {kind, reason, winner, tick}, or null. */
    this.ending = null;
    /** Test hook: called after each system as hook(name, tick, world). */
    this.afterSystem = null;
  }

  /** Apply one decoded LOCKSTEP_FRAME body; it must be frame tick + 1. */
  apply(body) {
    if (body.n !== this.tick + 1) {
      throw new Error(`lockstep frame ${body.n} applied after tick ${this.tick}`);
    }
    const { world, rules } = this;
    for (const seat of body.l) {
      if (this.seatNetid.has(seat)) {
        this.pendingDespawns.push(this.seatNetid.get(seat));
        this.seatNetid.delete(seat);
      }
    }
    const w = rules.world;
    for (const seat of body.j) {
      const x = this.rng.integers(0, Math.trunc(w.width_units * w.subunits_per_unit));
      const y = this.rng.integers(0, Math.trunc(w.height_units * w.subunits_per_unit));
      const netid = world.nextNetid + this.pendingSpawns.length;
      this.pendingSpawns.push([rules.player_archetype, { "position.x": x, "position.y": y }]);
      this.seatNetid.set(seat, netid);
    }
    const seats = new Uint16Array(copy(body.s).buffer);
    // One column per input field (docs/lockstep.md §4), in the field's dtype.
    const columns = this.inputs.map(([name, dtype]) => new ARRAYS[dtype](copy(body[name]).buffer));
    const inputs = [];
    for (let i = 0; i < seats.length; i++) {
      const netid = this.seatNetid.get(seats[i]);
      if (netid !== undefined) inputs.push([netid, columns.map((c) => c[i])]);
    }
    this.step(inputs);
  }

  applyCommands() {
    for (const [archetype, values] of this.pendingSpawns) this.world.spawn(archetype, values);
    this.world.despawn(this.pendingDespawns);
    this.pendingSpawns = [];
    this.pendingDespawns = [];
  }

  step(inputs) {
    this.tick += 1;
    const { world } = this;
    const ctx = {
      tick: this.tick, rules: this.rules, rng: this.rng, events: [],
      spawn: (archetype, values) => { this.pendingSpawns.push([archetype, values]); },
      despawn: (netids) => { this.pendingDespawns.push(...netids); },
      emit: (name, fields) => { ctx.events.push([name, fields]); },
      end: (kind, reason, winner) => {
        // The first ending of a kind wins; a match ending overrides a round ending.
        const e = this.ending;
        if (!e || (e.kind === "round" && kind === "match")) {
          this.ending = { kind, reason, winner, tick: ctx.tick };
        }
      },
    };
    this.applyCommands();
    for (let p = 0; p < PHASES.length; p++) {
      if (p === 0 && inputs.length) {
        const cols = this.inputs.map(([name]) => world.columns.get(`input.${name}`));
        for (const [netid, values] of inputs) {
          const slot = world.slotOf(netid);
          if (slot < 0) continue;
          for (let f = 0; f < cols.length; f++) if (cols[f]) cols[f][slot] = values[f];
        }
      }
      for (const [, name, params] of this.byPhase[p]) {
        SYSTEMS[name](world, ctx, params);
        if (this.afterSystem) this.afterSystem(name, this.tick, world);
      }
      if (this.pendingSpawns.length || this.pendingDespawns.length) this.applyCommands();
    }
  }

  /** The world checksum (docs/lockstep.md §6) as a BigInt uint64. */
  checksum() {
    const digest = blake2b(this.world.checksumBytes(), 8);
    return new DataView(digest.buffer).getBigUint64(0, true);
  }

  /** Net id of a seat's entity, or undefined. */
  netidOf(seat) { return this.seatNetid.get(seat); }
}

// msgpack bin fields may be unaligned views: copy before reinterpreting.
function copy(bytes) {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

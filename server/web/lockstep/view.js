// The page's lockstep mode: a real replica fed by CHECKPOINT and LOCKSTEP_FRAME, drawn on
// the canvas, reporting its checksums (docs/lockstep.md). app.js calls the five hooks.
import { LockstepReplica } from "./replica.js";

const KIND_COLORS = ["#5fa8d3", "#f4a259", "#8cb369", "#bc4b51", "#9d79bc", "#f4e285"];

/**
 * sendChecksum(frame, checksumBigInt) sends CHECKSUM; state is window.tickwire.
 * Exposes state.lockstep = {tick, applied, checksumsSent, lastChecksum, error, desynced,
 * drawn, perturb}. Setting perturb = {system, from} (tests) adds 1 subunit to every
 * position.x after that system from frame `from` on: a deliberate divergence.
 */
export function attachLockstep({ sendChecksum, state }) {
  const L = {
    tick: -1, applied: 0, checksumsSent: 0, lastChecksum: null, error: null,
    desynced: null, drawn: 0, ownNetid: null, perturb: null,
  };
  state.lockstep = L;
  let replica = null;

  function perturbHook(name, tick, world) {
    const p = L.perturb;
    if (!p || p.system !== name || tick < p.from) return;
    const px = world.col("position.x");
    for (let i = 0; i < px.length; i++) px[i] += 1;
  }

  return {
    checkpoint(body) {
      try {
        replica = new LockstepReplica(body);
        replica.afterSystem = perturbHook;
        L.tick = replica.tick;
        L.error = null;
        L.desynced = null;
      } catch (err) {
        replica = null;
        L.error = String(err.message || err);
      }
    },

    frame(body) {
      if (!replica || body.n <= replica.tick) return;
      try {
        replica.apply(body);
      } catch (err) {
        L.error = String(err.message || err);
        replica = null;
        return;
      }
      L.tick = replica.tick;
      L.applied += 1;
      const every = (state.welcome && state.welcome.checksum_interval_ticks) || 10;
      if (body.n % every === 0 && L.desynced === null) {
        const sum = replica.checksum();
        L.lastChecksum = sum.toString();
        sendChecksum(body.n, sum);
        L.checksumsSent += 1;
      }
    },

    desync(body) {
      // docs/lockstep.md §10: stop reporting for this world; a reconnect starts afresh.
      if (L.desynced === null) L.desynced = body.frame;
    },

    /** Draw the replica's entities; sx, sy scale world units to pixels. */
    draw(ctx, sx, sy, welcome) {
      if (!replica) return;
      const world = replica.world;
      const scale = replica.rules.world.subunits_per_unit;
      const px = world.col("position.x"), py = world.col("position.y");
      const kind = world.col("kind"), netid = world.col("netid");
      const playerKind = welcome.kinds.indexOf(replica.rules.player_archetype);
      const own = welcome.spectator ? undefined : replica.netidOf(welcome.seat);
      L.ownNetid = own === undefined ? null : own;
      let ownXY = null;
      for (let i = 0; i < world.count; i++) {
        const x = (px[i] / scale) * sx, y = (py[i] / scale) * sy;
        if (netid[i] === own) { ownXY = [x, y]; continue; }
        ctx.fillStyle = KIND_COLORS[kind[i] % KIND_COLORS.length];
        const r = kind[i] === playerKind ? 3.5 : 2.5;
        ctx.fillRect(x - r, y - r, 2 * r, 2 * r);
      }
      if (ownXY) {
        ctx.fillStyle = "#ffcc33";
        ctx.beginPath();
        ctx.arc(ownXY[0], ownXY[1], 6, 0, 7);
        ctx.fill();
      }
      L.drawn = world.count;
    },

    /** One line for the status panel. */
    status() {
      if (L.error) return `cannot simulate: ${L.error}`;
      if (!replica) return "waiting for a checkpoint";
      if (L.desynced !== null) return `DESYNC at frame ${L.desynced}: reconnect for a fresh checkpoint`;
      return `simulating, frame ${L.tick}, ${L.checksumsSent} checksums sent, no desync`;
    },
  };
}

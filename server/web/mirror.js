// The page's copy of a state-sync match: entities, their replicated fields, recent
// events, filled from STATE frames (lockstep: lockstep/view.js keeps its own replica).
// Nothing here is specific to a game: field and event names come from WELCOME.
import { readColumn, readIds, readPositions } from "./wire.js";

const HISTORY = 4;
const EVENT_FEED = 8;

export class Mirror {
  constructor() {
    // netid -> { kind, x, y (world units, latest), hist: [{t, x, y}], f: {field: value} }
    this.entities = new Map();
    this.fields = [];
    this.eventTypes = [];
    this.eventCounts = {};
    this.feed = []; // newest last: {name, tick, values: {field: value}}
    this.fieldRows = 0; // replicated-field rows received (changes included)
    this.fieldChanges = 0; // rows that changed a value the page already held
    this.eventsLost = 0;
    this.lastStateAt = 0;
  }

  configure(welcome) {
    this.welcome = welcome;
    this.fields = welcome.fields || [];
    this.eventTypes = welcome.events || [];
    this.sx = welcome.quantize["position.x"];
    this.sy = welcome.quantize["position.y"];
  }

  /** Apply a STATE body, in the protocol's order: f, l, e, c/d, m/q, then r and v. */
  applyState(b, now) {
    const ents = this.entities;
    if (b.f) ents.clear();
    for (const id of readIds(b.l, b.w)) ents.delete(id);
    const ids = readIds(b.e, b.w);
    const pos = readPositions(b.p, this.sx, this.sy);
    for (let i = 0; i < ids.length; i++) {
      const [x, y] = pos[i];
      ents.set(ids[i], { kind: b.k[i], x, y, hist: [{ t: now, x, y }], f: {} });
    }
    const updates = [];
    const cids = readIds(b.c, b.w);
    const steps = new Int8Array(b.d.buffer, b.d.byteOffset, b.d.byteLength);
    for (let i = 0; i < cids.length; i++) {
      const e = ents.get(cids[i]);
      if (e) updates.push([e, e.x + steps[2 * i] * this.sx, e.y + steps[2 * i + 1] * this.sy]);
    }
    const mids = readIds(b.m, b.w);
    const mpos = readPositions(b.q, this.sx, this.sy);
    for (let i = 0; i < mids.length; i++) {
      const e = ents.get(mids[i]);
      if (e) updates.push([e, mpos[i][0], mpos[i][1]]);
    }
    for (const [e, x, y] of updates) {
      const last = e.hist[e.hist.length - 1];
      // It stood still since its last change: pin that position to the previous frame.
      if (last.t < this.lastStateAt) e.hist.push({ t: this.lastStateAt, x: e.x, y: e.y });
      e.hist.push({ t: now, x, y });
      if (e.hist.length > HISTORY) e.hist.splice(0, e.hist.length - HISTORY);
      e.x = x;
      e.y = y;
    }
    this.lastStateAt = now;
    if (b.r) this.applyFields(b.r, b.w);
    if (b.v) this.applyEvents(b.v, b.t);
    if (b.o) this.eventsLost += 1;
  }

  /** r: [[field_index, ids, values], ...]; value = raw * step (step nil: raw). */
  applyFields(columns, width) {
    for (const [index, rawIds, rawValues] of columns) {
      const spec = this.fields[index];
      if (!spec) continue;
      const ids = readIds(rawIds, width);
      const values = readColumn(rawValues, spec.wire);
      const step = spec.step == null ? 1 : spec.step;
      for (let i = 0; i < ids.length; i++) {
        const e = this.entities.get(ids[i]);
        if (!e) continue;
        const value = spec.wire === "bool" ? values[i] !== 0 : values[i] * step;
        if (e.f[spec.name] !== undefined && e.f[spec.name] !== value) this.fieldChanges += 1;
        e.f[spec.name] = value;
      }
      this.fieldRows += ids.length;
    }
  }

  /** v: [[event_index, count, [column, ...]], ...] in emission order. */
  applyEvents(batches, tick) {
    for (const [index, count, cols] of batches) {
      const spec = this.eventTypes[index];
      if (!spec) continue;
      this.eventCounts[spec.name] = (this.eventCounts[spec.name] || 0) + count;
      const columns = spec.fields.map(([, type], j) => readColumn(cols[j], type));
      for (let i = Math.max(0, count - EVENT_FEED); i < count; i++) {
        const values = {};
        spec.fields.forEach(([name], j) => { values[name] = columns[j][i]; });
        this.feed.push({ name: spec.name, tick, values });
      }
    }
    if (this.feed.length > EVENT_FEED) this.feed.splice(0, this.feed.length - EVENT_FEED);
  }

  value(id, name) {
    const e = this.entities.get(id);
    return e ? e.f[name] : undefined;
  }
}

/** An entity's position at time t (ms), interpolated between the frames around it. */
export function sample(e, t) {
  const h = e.hist;
  if (t >= h[h.length - 1].t) return [e.x, e.y];
  if (t <= h[0].t) return [h[0].x, h[0].y];
  for (let i = h.length - 2; i >= 0; i--) {
    if (h[i].t <= t) {
      const a = h[i], b = h[i + 1];
      const u = (t - a.t) / (b.t - a.t);
      return [a.x + (b.x - a.x) * u, a.y + (b.y - a.y) * u];
    }
  }
  return [e.x, e.y];
}

// The world as typed-array columns, one row per slot (docs/lockstep.md §2):
// spawning appends, despawning compacts stably, netids grow with slots.
export const ARRAYS = {
  int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array,
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array,
  float32: Float32Array, float64: Float64Array, bool: Uint8Array,
};
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("the lockstep replica needs a little-endian host");
}

export class World {
  /** rules: the CHECKPOINT's `game` map. */
  constructor(rules) {
    this.rules = rules;
    this.bits = new Map(rules.components.map(([name], i) => [name, (1 << i) >>> 0]));
    this.archetypes = new Map(rules.archetypes.map(([name, kind, comps]) => [name, {
      kind, components: comps,
      bits: comps.reduce((acc, c) => (acc | this.bits.get(c)) >>> 0, 0),
    }]));
    this.dtypes = new Map([["has", "uint32"], ["kind", "uint8"], ["netid", "uint32"],
      ["entity", "int64"]]);
    for (const [comp, fields] of rules.components) {
      for (const [field, dtype] of fields) this.dtypes.set(`${comp}.${field}`, dtype);
    }
    this.capacity = 16;
    this.count = 0;
    this.nextNetid = 1;
    this.columns = new Map();
    for (const [name, dtype] of this.dtypes) this.columns.set(name, new ARRAYS[dtype](16));
  }

  /** The live view column[:count] of "component.field" (or has/kind/netid). */
  col(name) { return this.columns.get(name).subarray(0, this.count); }

  /** Bits of the named components (for has & bits === bits tests). */
  maskBits(...names) { return names.reduce((acc, c) => (acc | this.bits.get(c)) >>> 0, 0); }

  ensureCapacity(needed) {
    if (needed <= this.capacity) return;
    const size = Math.max(needed, 2 * this.capacity);
    for (const [name, arr] of this.columns) {
      const grown = new arr.constructor(size);
      grown.set(arr.subarray(0, this.count));
      this.columns.set(name, grown);
    }
    this.capacity = size;
  }

  /** Overwrite from a checkpoint's sim.world map. */
  restore(state) {
    const names = Object.keys(state.columns);
    if (names.length !== this.dtypes.size || names.some((n) => !this.dtypes.has(n))) {
      throw new Error("checkpoint columns do not match the rules' components");
    }
    this.count = 0;
    this.ensureCapacity(state.count);
    for (const [name, [dtype, bytes]] of Object.entries(state.columns)) {
      const Ctor = ARRAYS[dtype];
      if (bytes.byteLength !== state.count * Ctor.BYTES_PER_ELEMENT) {
        throw new Error(`checkpoint column ${name} has ${bytes.byteLength} bytes`);
      }
      const arr = this.columns.get(name);
      new Uint8Array(arr.buffer, 0, bytes.byteLength).set(bytes);
    }
    this.count = state.count;
    this.nextNetid = state.next_netid;
  }

  /** Append one entity of `archetype` with `values` ({"position.x": n, ...}); its netid. */
  spawn(archetype, values) {
    const arch = this.archetypes.get(archetype);
    if (!arch) throw new Error(`unknown archetype ${archetype}`);
    this.ensureCapacity(this.count + 1);
    const slot = this.count;
    for (const [name, arr] of this.columns) {
      arr[slot] = arr instanceof BigInt64Array || arr instanceof BigUint64Array ? 0n : 0;
    }
    for (const [name, value] of Object.entries(values)) this.columns.get(name)[slot] = value;
    this.columns.get("has")[slot] = arch.bits;
    this.columns.get("kind")[slot] = arch.kind;
    const netid = this.nextNetid++;
    this.columns.get("netid")[slot] = netid;
    this.count += 1;
    return netid;
  }

  /** The slot of a live netid, or -1 (netids increase with slots: binary search). */
  slotOf(netid) {
    const ids = this.columns.get("netid");
    let lo = 0, hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = ids[mid];
      if (v === netid) return mid;
      if (v < netid) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  }

  /** Remove the entities with these netids (unknown ones ignored), keeping order. */
  despawn(netids) {
    const gone = new Set(netids);
    if (gone.size === 0) return;
    const ids = this.columns.get("netid");
    const keep = [];
    for (let i = 0; i < this.count; i++) if (!gone.has(ids[i])) keep.push(i);
    if (keep.length === this.count) return;
    for (const arr of this.columns.values()) {
      for (let k = 0; k < keep.length; k++) arr[k] = arr[keep[k]];
    }
    this.count = keep.length;
  }

  /** The bytes the checksum hashes (docs/lockstep.md §6), concatenated. */
  checksumBytes() {
    const names = [...this.columns.keys()].filter((n) => n !== "entity").sort();
    const enc = new TextEncoder();
    const parts = [];
    const head = new Uint8Array(8);
    new DataView(head.buffer).setBigUint64(0, BigInt(this.count), true);
    parts.push(head);
    for (const name of names) {
      const arr = this.columns.get(name);
      parts.push(enc.encode(name));
      parts.push(new Uint8Array(arr.buffer, 0, this.count * arr.BYTES_PER_ELEMENT));
    }
    const total = parts.reduce((n, p) => n + p.byteLength, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.byteLength; }
    return out;
  }
}

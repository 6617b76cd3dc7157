// node server/web/lockstep/conformance.js VECTORS: run the replica on the conformance kit
// (python -m server.lockstep_vectors VECTORS); exit 0 when every checksum matches.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { LockstepReplica } from "./replica.js";

const { decode } = createRequire(import.meta.url)("../vendor/msgpack.js");

export function runCase(c) {
  const replica = new LockstepReplica(c.checkpoint);
  const view = new DataView(c.checksums.buffer, c.checksums.byteOffset, c.checksums.byteLength);
  for (let i = 0; i < c.frames.length; i++) {
    replica.apply(c.frames[i]);
    const want = view.getBigUint64(8 * i, true);
    const got = replica.checksum();
    if (got !== want) return { ok: false, frame: c.frames[i].n, want, got };
  }
  return { ok: true, frames: c.frames.length };
}

const path = process.argv[2];
if (!path) {
  console.error("usage: node conformance.js VECTORS");
  process.exit(2);
}
const kit = decode(readFileSync(path));
if (kit.format !== "tickwire-lockstep-vectors" || kit.version !== 1) {
  console.error(`${path}: not a version 1 lockstep vectors file`);
  process.exit(2);
}
let failed = 0;
for (const c of kit.cases) {
  const r = runCase(c);
  if (r.ok) console.log(`ok ${c.name}: ${r.frames} frames`);
  else {
    failed += 1;
    console.log(`FAIL ${c.name}: frame ${r.frame} checksum ${r.got}, expected ${r.want}`);
  }
}
process.exit(failed ? 1 : 0);

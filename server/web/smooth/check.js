// node server/web/smooth/check.js CASES.json: run predict.js on recorded cases and say
// whether it agrees with the server (tests/client_sim/test_predict_js.py writes them).
//   movement: {welcome, start: [x, y], sticks: [[qx, qy], ...], want: [[x, y], ...]}
//   reconcile: {welcome, log: [[0, qx, qy, a, t, at, error] | [1, seq, qx, qy], ...],
//               corrections: int}   (a frame's error: python's, a number or null)
//   backlog:   {buffer, log: [[0, a, aq, left] | [1, buttons] | [2, buttons, skipped], ...]}
//               (a STATE and python's backlog left after it; a send; a skip asked)
// Prints "ok NAME" or "FAIL NAME: ..." per case; exit 0 when every case agrees.
import { readFileSync } from "node:fs";
import { Backlog } from "./backlog.js";
import { Movement, Predictor } from "./predict.js";

function movement(c) {
  const m = new Movement(c.welcome);
  const s = { x: c.start[0], y: c.start[1], vx: 0, vy: 0 };
  for (let i = 0; i < c.sticks.length; i++) {
    m.step(s, c.sticks[i][0], c.sticks[i][1]);
    const [wx, wy] = c.want[i];
    if (s.x !== wx || s.y !== wy) return `tick ${i + 1}: (${s.x}, ${s.y}), server (${wx}, ${wy})`;
  }
  return null;
}

function reconcile(c) {
  const p = new Predictor(c.welcome);
  for (const row of c.log) {
    if (row[0] === 1) {
      p.seq = row[1];
      p.input(row[1], row[2], row[3]);
      continue;
    }
    const [, qx, qy, a, t, at, want] = row;
    const got = p.reconcile(qx, qy, a < 0 ? null : a, t, at < 0 ? t : at, false, false);
    const same = want === null ? got === null : got !== null && Math.abs(got - want) < 1e-9;
    if (!same) return `frame of tick ${t}: error ${got}, python ${want}`;
  }
  if (p.corrections !== c.corrections) {
    return `corrections ${p.corrections}, python ${c.corrections}`;
  }
  return null;
}

function backlog(c) {
  const b = new Backlog(c.buffer, ["buttons"]);
  const sent = [];
  for (const [i, row] of c.log.entries()) {
    if (row[0] === 0) {
      b.update(row[1], row[2], sent);
      if (b.left !== row[3]) return `row ${i}: backlog ${b.left}, python ${row[3]}`;
    } else if (row[0] === 1) {
      sent.push(sent.length);
      b.sent({ buttons: row[1] });
    } else {
      const got = b.skip({ buttons: row[1] }, sent.length - 1);
      if (got !== row[2]) return `row ${i}: skip ${got}, python ${row[2]}`;
    }
  }
  return null;
}

const CHECKS = { movement, reconcile, backlog };
const path = process.argv[2];
if (!path) {
  console.error("usage: node check.js CASES.json");
  process.exit(2);
}
let failed = 0;
for (const c of JSON.parse(readFileSync(path, "utf8"))) {
  const why = CHECKS[c.kind](c);
  if (why === null) console.log(`ok ${c.name}`);
  else {
    failed += 1;
    console.log(`FAIL ${c.name}: ${why}`);
  }
}
process.exit(failed ? 1 : 0);

// Tickwire browser client: watch or play a match. No build step; see docs/browser.md.
// The wire contract is docs/protocol.md; msgpack comes from vendor/msgpack.js.
import { attachLockstep } from "./lockstep/view.js";

const { encode, decode } = globalThis.MessagePack;

const VERSION = 1;
const T = {
  HELLO: 1, INPUT: 2, PING: 3, ACK: 4, SNAPSHOT_REQUEST: 5, CHECKSUM: 6, LEAVE: 7,
  WELCOME: 64, STATE: 65, LOCKSTEP_FRAME: 66, CHECKPOINT: 67, PONG: 68, ERROR: 69,
  DESYNC: 70, SHUTDOWN: 71,
};
const CLOSE_NAMES = {
  1000: "NORMAL", 1001: "GOING_AWAY", 1006: "ABNORMAL", 1009: "MESSAGE_TOO_BIG",
  4000: "VERSION_MISMATCH", 4001: "BAD_TOKEN", 4002: "MALFORMED_MESSAGE",
  4003: "UNKNOWN_MESSAGE_TYPE", 4004: "HANDSHAKE_TIMEOUT", 4005: "MATCH_FULL",
  4006: "IDLE_TIMEOUT", 4007: "BINARY_ONLY", 4008: "RATE_LIMITED", 4009: "TOO_FAR_BEHIND",
  4010: "JOIN_REJECTED", 4011: "RESUME_FORGED", 4012: "RESUME_EXPIRED", 4013: "RESUME_REUSED",
  4014: "UNEXPECTED_MESSAGE", 4015: "MATCH_ENDED", 4016: "MATCH_FAILED",
  4017: "SERVER_SHUTDOWN", 4018: "KICKED", 4019: "SERVER_BUSY", 4020: "LEFT",
};
const INTERP_DELAY_MS = 100;
const PING_EVERY_MS = 2000;
const KIND_COLORS = ["#5fa8d3", "#f4a259", "#8cb369", "#bc4b51", "#9d79bc", "#f4e285"];

const params = new URLSearchParams(location.search);
const spectate = params.get("spectate") === "1" || params.get("spectate") === "true";
const gridCellUnits = Number(params.get("cell")) || 50;

// Everything the page knows, exposed for tests and the curious (window.tickwire).
const S = {
  connected: false, spectator: spectate, welcome: null, sync: null,
  tick: 0, states: 0, entities: 0, players: 0, drawn: 0, ownEntity: -1, ownPos: null,
  frames: 0, lastFrame: -1, checkpointFrame: -1, desyncs: [], errors: [],
  rttMs: null, snapshotsPerS: 0, bytesInPerS: 0, bytesOutPerS: 0,
  closed: false, closeCode: null, closeName: null, closeReason: null, shutdown: null,
  overlays: { interest: true, grid: false },
};
globalThis.tickwire = S;

// netid -> { kind, x, y (world units, latest), hist: [{t, x, y}] (arrival times) }
const mirror = new Map();
let lastStateAt = 0;
let bytesIn = 0, bytesOut = 0, statesInWindow = 0, windowStart = performance.now();
const held = new Set();

const canvas = document.getElementById("arena");
const ctx = canvas.getContext("2d");
const $ = (id) => document.getElementById(id);

function fitCanvas() {
  // A square as large as the window allows, next to a ~340 px panel.
  const size = Math.max(240, Math.min(innerHeight - 34, innerWidth - 380));
  canvas.width = canvas.height = Math.floor(size);
}
fitCanvas();
addEventListener("resize", fitCanvas);

const proto = location.protocol === "https:" ? "wss" : "ws";
const ws = new WebSocket(`${proto}://${location.host}/ws`);
ws.binaryType = "arraybuffer";

function send(type, body) {
  if (ws.readyState !== WebSocket.OPEN) return;
  const bytes = encode([VERSION, type, body]);
  bytesOut += bytes.byteLength;
  ws.send(bytes);
}

// Lockstep: a real replica (lockstep/view.js); checksums are uint64 BigInts.
const lockstep = attachLockstep({
  state: S,
  sendChecksum: (frame, checksum) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    const bytes = encode([VERSION, T.CHECKSUM, { frame, checksum }], { useBigInt64: true });
    bytesOut += bytes.byteLength;
    ws.send(bytes);
  },
});

ws.addEventListener("open", () => {
  S.connected = true;
  const hello = { version: VERSION, name: "browser" };
  if (spectate) hello.spectate = true;
  send(T.HELLO, hello);
  const ping = () => send(T.PING, { t: performance.now() });
  ping();
  setInterval(ping, PING_EVERY_MS);
});

ws.addEventListener("message", (ev) => {
  const data = new Uint8Array(ev.data);
  bytesIn += data.byteLength;
  const [, type, body] = decode(data);
  switch (type) {
    case T.WELCOME: onWelcome(body); break;
    case T.STATE: onState(body); break;
    case T.LOCKSTEP_FRAME:
      S.frames += 1; S.lastFrame = body.n; S.tick = body.n; lockstep.frame(body); break;
    case T.CHECKPOINT:
      S.checkpointFrame = body.frame; S.lastFrame = body.frame; lockstep.checkpoint(body); break;
    case T.PONG: S.rttMs = performance.now() - body.t; break;
    case T.ERROR: S.errors.push(body); S.errors.splice(0, S.errors.length - 5); break;
    case T.DESYNC: S.desyncs.push(body); lockstep.desync(body); break;
    case T.SHUTDOWN: S.shutdown = body; break;
    default: break;
  }
});

ws.addEventListener("close", (ev) => {
  S.connected = false;
  S.closed = true;
  S.closeCode = ev.code;
  S.closeName = CLOSE_NAMES[ev.code] || "";
  S.closeReason = ev.reason;
  updatePanel();
});

function onWelcome(w) {
  S.welcome = w;
  S.sync = w.sync;
  S.spectator = w.spectator;
  S.tick = w.tick;
  S.ownEntity = typeof w.entity === "number" ? w.entity : -1;
  document.body.classList.toggle("lockstep", w.sync === "lockstep");
  $("role").textContent =
    `${w.spectator ? "spectating" : `player ${w.player_id}, seat ${w.seat}`} · ${w.game}`;
  $("s-match").textContent = w.match_id;
  $("s-sync").textContent = `${w.sync} · ${w.tick_rate_hz} Hz ticks`;
  if (!w.spectator) setInterval(sendInput, 1000 / w.tick_rate_hz);
}

function readIds(bin, width) {
  const n = bin.byteLength / width;
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = width === 2 ? view.getUint16(i * 2, true) : view.getUint32(i * 4, true);
  }
  return out;
}

function readPositions(bin) {
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const sx = S.welcome.quantize["position.x"];
  const sy = S.welcome.quantize["position.y"];
  const out = new Array(bin.byteLength / 4);
  for (let i = 0; i < out.length; i++) {
    out[i] = [view.getUint16(i * 4, true) * sx, view.getUint16(i * 4 + 2, true) * sy];
  }
  return out;
}

function onState(b) {
  if (!S.welcome) return;
  const now = performance.now();
  // In order: clear if f, remove l, insert e, step c by d, move m to q (docs/protocol.md).
  if (b.f) mirror.clear();
  for (const id of readIds(b.l, b.w)) mirror.delete(id);
  const ids = readIds(b.e, b.w);
  const pos = readPositions(b.p);
  for (let i = 0; i < ids.length; i++) {
    const [x, y] = pos[i];
    mirror.set(ids[i], { kind: b.k[i], x, y, hist: [{ t: now, x, y }] });
  }
  // Changed: "c" ids move by int8 steps in "d"; "m" ids jump to absolute "q".
  const updates = [];
  const cids = readIds(b.c, b.w);
  const steps = new Int8Array(b.d.buffer, b.d.byteOffset, b.d.byteLength);
  const sx = S.welcome.quantize["position.x"];
  const sy = S.welcome.quantize["position.y"];
  for (let i = 0; i < cids.length; i++) {
    const e = mirror.get(cids[i]);
    if (e) updates.push([e, e.x + steps[2 * i] * sx, e.y + steps[2 * i + 1] * sy]);
  }
  const mids = readIds(b.m, b.w);
  const mpos = readPositions(b.q);
  for (let i = 0; i < mids.length; i++) {
    const e = mirror.get(mids[i]);
    if (e) updates.push([e, mpos[i][0], mpos[i][1]]);
  }
  for (const [e, x, y] of updates) {
    const last = e.hist[e.hist.length - 1];
    // It stood still since its last change: pin that position to the previous frame.
    if (last.t < lastStateAt) e.hist.push({ t: lastStateAt, x: e.x, y: e.y });
    e.hist.push({ t: now, x, y });
    if (e.hist.length > 4) e.hist.splice(0, e.hist.length - 4);
    e.x = x;
    e.y = y;
  }
  lastStateAt = now;
  S.tick = b.t;
  S.states += 1;
  statesInWindow += 1;
  S.entities = mirror.size;
  send(T.ACK, { tick: b.t });
}

function stick() {
  const k = (...names) => names.some((n) => held.has(n));
  let x = (k("KeyD", "ArrowRight") ? 1 : 0) - (k("KeyA", "ArrowLeft") ? 1 : 0);
  let y = (k("KeyS", "ArrowDown") ? 1 : 0) - (k("KeyW", "ArrowUp") ? 1 : 0);
  if (x && y) { x *= Math.SQRT1_2; y *= Math.SQRT1_2; }
  return [x, y];
}

function sendInput() {
  const w = S.welcome;
  if (!w || S.closed) return;
  const [x, y] = stick();
  // State sync: the newest tick we know; lockstep: the frame the input is meant for.
  const tick = w.sync === "lockstep" ? Math.max(0, S.lastFrame) + w.input_delay_ticks : S.tick;
  send(T.INPUT, { tick, x, y });
}

const MOVE_KEYS = new Set(["KeyW", "KeyA", "KeyS", "KeyD", "ArrowUp", "ArrowDown",
  "ArrowLeft", "ArrowRight"]);
addEventListener("keydown", (ev) => {
  if (MOVE_KEYS.has(ev.code)) { held.add(ev.code); ev.preventDefault(); }
  if (ev.code === "KeyI") S.overlays.interest = !S.overlays.interest;
  if (ev.code === "KeyG") S.overlays.grid = !S.overlays.grid;
});
addEventListener("keyup", (ev) => held.delete(ev.code));
addEventListener("blur", () => held.clear());

function sample(e, t) {
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

function draw() {
  requestAnimationFrame(draw);
  const w = S.welcome;
  const W = canvas.width, H = canvas.height;
  ctx.fillStyle = "#0b0e11";
  ctx.fillRect(0, 0, W, H);
  if (!w) return;
  const sx = W / w.world[0], sy = H / w.world[1];
  if (S.overlays.grid) {
    ctx.strokeStyle = "#1b2229";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let gx = 0; gx <= w.world[0]; gx += gridCellUnits) {
      ctx.moveTo(gx * sx + 0.5, 0); ctx.lineTo(gx * sx + 0.5, H);
    }
    for (let gy = 0; gy <= w.world[1]; gy += gridCellUnits) {
      ctx.moveTo(0, gy * sy + 0.5); ctx.lineTo(W, gy * sy + 0.5);
    }
    ctx.stroke();
  }
  if (w.sync === "lockstep") lockstep.draw(ctx, sx, sy, w);
  const t = performance.now() - INTERP_DELAY_MS;
  let players = 0, drawn = 0, own = null;
  const playerKind = w.kinds.indexOf("player");
  for (const [id, e] of mirror) {
    const [x, y] = sample(e, t);
    if (id === S.ownEntity) { own = [x, y]; continue; }
    if (e.kind === playerKind) players += 1;
    ctx.fillStyle = KIND_COLORS[e.kind % KIND_COLORS.length];
    const r = e.kind === playerKind ? 3.5 : 2.5;
    ctx.fillRect(x * sx - r, y * sy - r, 2 * r, 2 * r);
    drawn += 1;
  }
  if (own) {
    players += 1;
    drawn += 1;
    const [x, y] = own;
    if (S.overlays.interest) {
      ctx.strokeStyle = "rgba(255, 204, 51, 0.5)";
      ctx.beginPath();
      ctx.ellipse(x * sx, y * sy, w.interest_radius * sx, w.interest_radius * sy, 0, 0, 7);
      ctx.stroke();
    }
    ctx.fillStyle = "#ffcc33";
    ctx.beginPath();
    ctx.arc(x * sx, y * sy, 6, 0, 7);
    ctx.fill();
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 2;
    ctx.stroke();
    ctx.lineWidth = 1;
  }
  S.ownPos = own;
  S.players = players;
  S.drawn = drawn;
}
requestAnimationFrame(draw);

function fmtBytes(n) {
  return n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${Math.round(n)} B`;
}

function updatePanel() {
  const now = performance.now();
  const dt = (now - windowStart) / 1000;
  if (dt >= 1) {
    S.snapshotsPerS = statesInWindow / dt;
    S.bytesInPerS = bytesIn / dt;
    S.bytesOutPerS = bytesOut / dt;
    statesInWindow = 0; bytesIn = 0; bytesOut = 0; windowStart = now;
  }
  $("s-conn").textContent = S.closed ? "closed" : S.connected ? "open" : "connecting";
  $("s-tick").textContent = String(S.tick);
  $("s-rate").textContent = S.welcome
    ? `${S.snapshotsPerS.toFixed(1)} (nominal ${S.welcome.snapshot_rate_hz})` : "–";
  $("s-rtt").textContent = S.rttMs === null ? "–" : `${S.rttMs.toFixed(1)} ms`;
  $("s-bytes").textContent = `${fmtBytes(S.bytesInPerS)} / ${fmtBytes(S.bytesOutPerS)}`;
  $("s-count").textContent = `${S.players} / ${mirror.size}`;
  $("s-you").textContent = S.spectator ? "spectator"
    : S.ownPos ? `#${S.ownEntity} at ${S.ownPos[0].toFixed(1)}, ${S.ownPos[1].toFixed(1)}`
      : S.ownEntity >= 0 ? `#${S.ownEntity}` : "–";
  $("s-frames").textContent =
    `${S.frames} received, last ${S.lastFrame}` +
    (S.checkpointFrame >= 0 ? `, checkpoint ${S.checkpointFrame}` : "");
  const desync = $("s-desync");
  desync.textContent = S.desyncs.length
    ? `DESYNC at frame ${S.desyncs[S.desyncs.length - 1].frame} (${S.desyncs.length})`
    : lockstep.status();
  desync.classList.toggle("bad", S.desyncs.length > 0);
  const close = $("s-close");
  if (S.closed) {
    close.textContent = `${S.closeCode} ${S.closeName}${S.closeReason ? `: ${S.closeReason}` : ""}`;
    close.classList.add("closed");
  } else if (S.shutdown) {
    close.textContent = `draining (${S.shutdown.reason}, ${S.shutdown.grace_s} s)`;
  }
}
setInterval(updatePanel, 250);

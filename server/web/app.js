// Tickwire browser client: watch or play any game. No build step; see docs/browser.md.
// The wire contract is docs/protocol.md; msgpack comes from vendor/msgpack.js. What to
// draw and what to send come from WELCOME (render, fields, events, input): the page has
// no code for any particular game.
import { Controls } from "./controls.js";
import { drawFrame } from "./draw.js";
import { Panel, showResult } from "./hud.js";
import { attachLockstep } from "./lockstep/view.js";
import { Mirror } from "./mirror.js";
import { Backlog } from "./smooth/backlog.js";
import { Predictor, quantiles, quantizeStick, ServerClock } from "./smooth/predict.js";
import { attachReplay, replayId } from "./replay.js";
import { CLOSE_NAMES, readIds, T, VERSION } from "./wire.js";

const { encode, decode } = globalThis.MessagePack;
const PING_EVERY_MS = 2000;
const INPUT_SUPERSEDED = 7; // ERROR code: an input of ours was dropped unapplied

const params = new URLSearchParams(location.search);
const replay = replayId(params);
const spectate = replay !== null || params.get("spectate") === "1" || params.get("spectate") === "true";
const gridCellUnits = Number(params.get("cell")) || 50;

// Everything the page knows, exposed for tests and the curious (window.tickwire).
const S = {
  connected: false, spectator: spectate, welcome: null, sync: null,
  tick: 0, states: 0, entities: 0, players: 0, drawn: 0, ownEntity: -1, ownPos: null,
  frames: 0, lastFrame: -1, checkpointFrame: -1, desyncs: [], errors: [],
  rttMs: null, snapshotsPerS: 0, bytesInPerS: 0, bytesOutPerS: 0, inputsSent: 0,
  closed: false, closeCode: null, closeName: null, closeReason: null, shutdown: null, notice: null,
  result: null, scoreboard: [], timer: null, ownFields: {}, eventCounts: {}, fieldChanges: 0,
  lastInput: null,
  overlays: { interest: true, grid: false },
  // Prediction (predict.js): active once WELCOME has interpolation_ms (the server speaks
  // INPUT.seq); predictedPos is where the own entity is drawn, serverPos where the last
  // STATE put it; errors in world units; skipped: sends skipped to work off STATE.aq.
  prediction: { active: false, predictedPos: null, serverPos: null, acked: null, pending: 0,
    error: null, p50: null, p99: null, corrections: 0, correctionsPerS: 0, skipped: 0 },
  renderTick: null,
};
globalThis.tickwire = S;

const mirror = new Mirror();
let predictor = null; // the own entity's prediction (state sync players)
let backlog = null; // our inputs the server holds beyond its buffer (STATE.aq), worked off by skips
let clock = null; // the server tick estimated from arrivals; renderTick trails it

const canvas = document.getElementById("arena");
const ctx = canvas.getContext("2d");
const controls = new Controls(canvas, (code) => {
  if (code === "KeyI") S.overlays.interest = !S.overlays.interest;
  if (code === "KeyG") S.overlays.grid = !S.overlays.grid;
});

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
  panel.bytesOut += bytes.byteLength;
  ws.send(bytes);
}

// Lockstep: a real replica (lockstep/view.js); checksums are uint64 BigInts.
const lockstep = attachLockstep({
  state: S,
  sendChecksum: (frame, checksum) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    const bytes = encode([VERSION, T.CHECKSUM, { frame, checksum }], { useBigInt64: true });
    panel.bytesOut += bytes.byteLength;
    ws.send(bytes);
  },
});
const panel = new Panel(S, mirror, () => lockstep.status(), () => {
  if (!predictor) return;
  const q = quantiles(predictor.errors);
  if (q) { S.prediction.p50 = q.p50; S.prediction.p99 = q.p99; }
  S.prediction.corrections = predictor.corrections;
});

ws.addEventListener("open", () => {
  S.connected = true;
  const hello = { version: VERSION, name: "browser" };
  if (replay !== null) hello.replay = replay;
  else if (spectate) hello.spectate = true;
  send(T.HELLO, hello);
  const ping = () => send(T.PING, { t: performance.now() });
  ping();
  setInterval(ping, PING_EVERY_MS);
});

ws.addEventListener("message", (ev) => {
  const data = new Uint8Array(ev.data);
  panel.bytesIn += data.byteLength;
  const [, type, body] = decode(data);
  switch (type) {
    case T.WELCOME: onWelcome(body); break;
    case T.STATE: onState(body); break;
    case T.LOCKSTEP_FRAME:
      S.frames += 1; S.lastFrame = body.n; S.tick = body.n; lockstep.frame(body); break;
    case T.CHECKPOINT:
      S.checkpointFrame = body.frame; S.lastFrame = body.frame; lockstep.checkpoint(body); break;
    case T.PONG: S.rttMs = performance.now() - body.t; break;
    case T.ERROR:
      S.errors.push(body); S.errors.splice(0, S.errors.length - 5);
      if (predictor && body.code === INPUT_SUPERSEDED) predictor.drop(body.seq);
      break;
    case T.DESYNC: S.desyncs.push(body); lockstep.desync(body); break;
    case T.SHUTDOWN: S.shutdown = body; break;
    case T.NOTICE: S.notice = body; break;
    case T.RESULT: showResult(S, body); break;
    default: break;
  }
});

ws.addEventListener("close", (ev) => {
  S.connected = false;
  S.closed = true;
  S.closeCode = ev.code;
  S.closeName = CLOSE_NAMES[ev.code] || "";
  S.closeReason = ev.reason;
  panel.update();
});

function onWelcome(w) {
  S.welcome = w;
  S.sync = w.sync;
  S.spectator = w.spectator;
  S.tick = w.tick;
  S.ownEntity = typeof w.entity === "number" ? w.entity : -1;
  mirror.configure(w);
  controls.configure(w);
  document.body.classList.toggle("lockstep", w.sync === "lockstep");
  document.getElementById("role").textContent =
    `${w.spectator ? "spectating" : `player ${w.player_id}, seat ${w.seat}`} · ${w.game}`;
  document.getElementById("s-match").textContent = w.match_id;
  document.getElementById("s-sync").textContent = `${w.sync} · ${w.tick_rate_hz} Hz ticks`;
  if (w.replay) attachReplay(S, w, send);
  if (w.sync === "state") clock = new ServerClock(w.tick_rate_hz, w.interpolation_ms ?? 100);
  if (!w.spectator && w.sync === "state" && w.interpolation_ms !== undefined && w.movement) {
    predictor = new Predictor(w);
    const buttons = controls.schema.filter((f) => f.type === "buttons").map((f) => f.name);
    backlog = new Backlog(w.input_buffer_ticks ?? 0, buttons);
    S.prediction.active = true;
  }
  if (!w.spectator) setInterval(sendInput, 1000 / w.tick_rate_hz);
}

function onState(b) {
  if (!S.welcome) return;
  const now = performance.now();
  if (clock) clock.frame(b.t, now);
  mirror.applyState(b, now);
  if (predictor && b.a !== undefined) {
    reconcile(b);
    backlog.update(b.a, b.aq ?? 0, predictor.pending.map((p) => p.seq));
    S.prediction.skipped = backlog.skipped;
  }
  S.tick = b.t;
  S.states += 1;
  panel.states += 1;
  S.entities = mirror.entities.size;
  send(T.ACK, { tick: b.t });
}

// The own entity's authoritative position in this frame -> replay unacknowledged inputs.
function reconcile(b) {
  const own = mirror.entities.get(S.ownEntity);
  if (!own) return;
  const qx = Math.round(own.x / mirror.sx), qy = Math.round(own.y / mirror.sy);
  const jumped = (bin) => bin && readIds(bin, b.w).includes(S.ownEntity);
  const teleported = Boolean(b.f) || jumped(b.e) || jumped(b.m);
  // The shooter's dead stand still (health system): no prediction while health.hp is 0.
  const frozen = own.f["health.hp"] === 0;
  const error = predictor.reconcile(qx, qy, b.a, b.t, b.at ?? b.t, teleported, frozen);
  const P = S.prediction;
  P.serverPos = [own.x, own.y];
  P.acked = b.a;
  if (error !== null) P.error = error;
}

function sendInput() {
  const w = S.welcome;
  if (!w || S.closed) return;
  // State sync: the last STATE.t received + 1 (docs/protocol.md, INPUT); lockstep: the
  // frame the input is meant for.
  const tick = w.sync === "lockstep" ? Math.max(0, S.lastFrame) + w.input_delay_ticks : S.tick + 1;
  const body = controls.body(tick, S.ownPos);
  // After a stall the server holds a backlog of our inputs (STATE.aq): skip this send
  // (neither sent nor predicted) unless it presses a button (smooth/backlog.js).
  if (predictor && backlog.skip(body, predictor.seq)) return;
  if (predictor) {
    backlog.sent(body);
    // Number the input, say what the page shows of the others, and move at once.
    const seq = predictor.nextSeq();
    body.seq = seq;
    if (w.lag_compensation && clock && clock.last !== null) {
      [body.view_tick, body.view_alpha] = clock.view(performance.now());
    }
    const [sx, sy] = controls.schema.filter((f) => f.type === "stick").map((f) => body[f.name]);
    predictor.input(seq, quantizeStick(sx ?? 0), quantizeStick(sy ?? 0));
  }
  S.lastInput = body;
  S.inputsSent += 1;
  send(T.INPUT, body);
}

function draw() {
  requestAnimationFrame(draw);
  if (clock) S.renderTick = clock.renderTick(performance.now());
  if (predictor && predictor.based) {
    S.prediction.predictedPos = predictor.position();
    S.prediction.pending = predictor.pending.length;
  }
  const { players, drawn, own } = drawFrame(ctx, S, mirror, gridCellUnits, (sx, sy) => {
    if (S.sync === "lockstep") lockstep.draw(ctx, sx, sy, S.welcome);
  });
  S.ownPos = own;
  S.players = players;
  S.drawn = drawn;
}
requestAnimationFrame(draw);
setInterval(() => panel.update(), 250);

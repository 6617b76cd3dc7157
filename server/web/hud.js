// The side panel: connection figures, the scoreboard, the round timer, your fields,
// the event feed, and the result screen once RESULT arrives. Field names come from
// WELCOME (render.label / render.highlight / render.bar / rules.score), never from code.
const $ = (id) => document.getElementById(id);

function fmtBytes(n) {
  return n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${Math.round(n)} B`;
}

function fmtValue(v) {
  if (typeof v === "boolean") return v ? "yes" : "no";
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function leaf(name) { return name.split(".").pop(); }

/** The field shown as the round timer: render.timer, else a field named "*.left_s". */
export function timerField(w) {
  if (w.render && w.render.timer) return w.render.timer;
  const f = (w.fields || []).find((spec) => spec.name.endsWith(".left_s"));
  return f ? f.name : null;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}

function scoreboard(S, mirror) {
  const w = S.welcome;
  const render = w.render || {};
  const scoreName = render.label || (w.rules && w.rules.score);
  const body = $("scores");
  if (!scoreName) { body.parentElement.hidden = true; return; }
  body.parentElement.hidden = false;
  $("score-head").textContent = leaf(scoreName);
  const rows = [];
  for (const [id, e] of mirror.entities) {
    if (e.f[scoreName] !== undefined) rows.push([id, e]);
  }
  rows.sort((a, b) => b[1].f[scoreName] - a[1].f[scoreName] || a[0] - b[0]);
  body.replaceChildren();
  for (const [id, e] of rows.slice(0, 16)) {
    const tr = document.createElement("tr");
    if (id === S.ownEntity) tr.className = "own";
    cell(tr, `#${id}${id === S.ownEntity ? " (you)" : ""}`);
    cell(tr, fmtValue(e.f[scoreName]));
    const marks = [];
    if (render.highlight && e.f[render.highlight]) marks.push(leaf(render.highlight));
    if (render.bar && e.f[render.bar.field] !== undefined) {
      marks.push(`${leaf(render.bar.field)} ${fmtValue(e.f[render.bar.field])}`);
    }
    cell(tr, marks.join(" · "), "mark");
    body.appendChild(tr);
  }
  S.scoreboard = rows.map(([id, e]) => [id, e.f[scoreName]]);
}

function gameInfo(S, mirror) {
  const w = S.welcome;
  const own = mirror.entities.get(S.ownEntity);
  const timer = timerField(w);
  let left = null;
  if (timer) {
    left = own && own.f[timer] !== undefined ? own.f[timer] : undefined;
    if (left === undefined) {
      for (const e of mirror.entities.values()) if (e.f[timer] !== undefined) { left = e.f[timer]; break; }
    }
  }
  S.timer = left === undefined ? null : left;
  $("timer").textContent = S.timer === null ? "" : `${Math.ceil(S.timer)} s left`;
  const mine = own ? Object.entries(own.f) : [];
  S.ownFields = Object.fromEntries(mine);
  $("s-fields").textContent = mine.length
    ? mine.map(([k, v]) => `${k} ${fmtValue(v)}`).join(" · ") : "–";
  // Events show on their tick: once the page draws the others at it (S.renderTick).
  const due = mirror.feed.filter((ev) => S.renderTick === null || ev.tick <= S.renderTick);
  $("events").replaceChildren(...due.reverse().map((ev) => {
    const li = document.createElement("li");
    const parts = Object.entries(ev.values).map(([k, v]) => `${k} ${v}`);
    li.textContent = `${ev.name}${parts.length ? `: ${parts.join(", ")}` : ""}`;
    return li;
  }));
  S.eventCounts = { ...mirror.eventCounts };
  S.fieldChanges = mirror.fieldChanges;
}

/** Show the result screen for a RESULT body. */
export function showResult(S, r) {
  S.result = r;
  const me = S.welcome ? S.welcome.player_id : -1;
  const head = r.winner_player < 0 ? "Draw"
    : r.winner_player === me ? "You won!" : `Player ${r.winner_player} won`;
  $("result-title").textContent = head;
  $("result-reason").textContent = `match over: ${r.reason} (tick ${r.tick})`;
  const extra = r.players.length ? Object.keys(r.players[0].fields || {}) : [];
  const headRow = document.createElement("tr");
  for (const h of ["player", "seat", "score", ...extra.map(leaf)]) {
    const th = document.createElement("th");
    th.textContent = h;
    headRow.appendChild(th);
  }
  const rows = [...r.players].sort((a, b) => (b.score ?? 0) - (a.score ?? 0));
  $("result-table").replaceChildren(headRow, ...rows.map((p) => {
    const tr = document.createElement("tr");
    if (p.player_id === me) tr.className = "own";
    if (p.player_id === r.winner_player) tr.classList.add("winner");
    cell(tr, `${p.player_id}${p.player_id === me ? " (you)" : ""}`);
    cell(tr, String(p.seat));
    cell(tr, p.score == null ? "–" : fmtValue(p.score));
    for (const k of extra) cell(tr, fmtValue(p.fields[k]));
    return tr;
  }));
  $("result").hidden = false;
}

export class Panel {
  constructor(S, mirror, lockstepStatus, refreshPrediction = () => {}) {
    this.S = S;
    this.mirror = mirror;
    this.lockstepStatus = lockstepStatus;
    this.refreshPrediction = refreshPrediction;
    this.corrections = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.states = 0;
    this.windowStart = performance.now();
  }

  update() {
    const S = this.S, mirror = this.mirror;
    const now = performance.now();
    const dt = (now - this.windowStart) / 1000;
    this.refreshPrediction();
    const P = S.prediction;
    if (dt >= 1) {
      P.correctionsPerS = (P.corrections - this.corrections) / dt;
      this.corrections = P.corrections;
      S.snapshotsPerS = this.states / dt;
      S.bytesInPerS = this.bytesIn / dt;
      S.bytesOutPerS = this.bytesOut / dt;
      this.states = 0; this.bytesIn = 0; this.bytesOut = 0; this.windowStart = now;
    }
    $("s-conn").textContent = S.closed ? "closed" : S.connected ? "open" : "connecting";
    $("s-tick").textContent = String(S.tick);
    $("s-rate").textContent = S.welcome
      ? `${S.snapshotsPerS.toFixed(1)} (nominal ${S.welcome.snapshot_rate_hz})` : "–";
    $("s-rtt").textContent = S.rttMs === null ? "–" : `${S.rttMs.toFixed(1)} ms`;
    const u = (v) => (v === null ? "–" : v.toFixed(2));
    $("s-predict").textContent = !P.active ? "off"
      : `error ${u(P.error)} u (p50 ${u(P.p50)}, p99 ${u(P.p99)}) · ` +
        `${P.correctionsPerS.toFixed(1)} corrections/s · ${P.pending} pending`;
    $("s-bytes").textContent = `${fmtBytes(S.bytesInPerS)} / ${fmtBytes(S.bytesOutPerS)}`;
    $("s-count").textContent = `${S.players} / ${mirror.entities.size}`;
    $("s-you").textContent = S.spectator ? "spectator"
      : S.ownPos ? `#${S.ownEntity} at ${S.ownPos[0].toFixed(1)}, ${S.ownPos[1].toFixed(1)}`
        : S.ownEntity >= 0 ? `#${S.ownEntity}` : "–";
    $("s-frames").textContent =
      `${S.frames} received, last ${S.lastFrame}` +
      (S.checkpointFrame >= 0 ? `, checkpoint ${S.checkpointFrame}` : "");
    const desync = $("s-desync");
    desync.textContent = S.desyncs.length
      ? `DESYNC at frame ${S.desyncs[S.desyncs.length - 1].frame} (${S.desyncs.length})`
      : this.lockstepStatus();
    desync.classList.toggle("bad", S.desyncs.length > 0);
    const close = $("s-close");
    if (S.closed) {
      close.textContent =
        `${S.closeCode} ${S.closeName}${S.closeReason ? `: ${S.closeReason}` : ""}`;
      close.classList.add("closed");
    } else if (S.shutdown) {
      close.textContent = `draining (${S.shutdown.reason}, ${S.shutdown.grace_s} s)`;
    } else if (S.notice) {
      close.textContent = `notice: ${S.notice.text}`;
    }
    if (S.welcome) {
      scoreboard(S, mirror);
      gameInfo(S, mirror);
    }
  }
}

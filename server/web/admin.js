// Tickwire admin page: talks to /admin/* with the token held in memory only.
// No storage API is used on purpose: a reload (or closing the tab) logs out.
"use strict";

(() => {
  let token = null; // the admin credential; never written anywhere but this variable
  let selected = null; // the match id shown in the match view
  let timer = null;

  const $ = (id) => document.getElementById(id);
  const text = (tag, value) => {
    const el = document.createElement(tag);
    el.textContent = value == null ? "" : String(value);
    return el;
  };

  async function api(method, path, body) {
    const init = { method, headers: { Authorization: "Bearer " + token } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    let data = {};
    try { data = await res.json(); } catch (_) { /* empty or not JSON */ }
    if (res.status === 401 || res.status === 403) {
      logout(data.error || "refused");
      throw new Error(data.error || "refused");
    }
    if (!res.ok) throw new Error(`${res.status} ${data.error || ""}: ${data.detail || ""}`);
    return data;
  }

  function status(msg) { $("status").textContent = msg; }

  function logout(reason) {
    token = null;
    selected = null;
    if (timer !== null) clearInterval(timer);
    timer = null;
    $("console").hidden = true;
    $("login").hidden = false;
    $("who").textContent = "";
    $("login-error").textContent = reason ? "refused: " + reason : "";
  }

  async function login(ev) {
    ev.preventDefault();
    const candidate = $("token").value.trim();
    $("token").value = "";
    if (!candidate) return;
    token = candidate;
    try {
      await api("GET", "/admin/matches");
    } catch (err) {
      if (token !== null) logout(err.message);
      return;
    }
    $("login").hidden = true;
    $("console").hidden = false;
    $("login-error").textContent = "";
    $("who").textContent = "logged in";
    await refresh();
    timer = setInterval(refresh, 1000);
  }

  async function refresh() {
    if (token === null) return;
    try {
      const { matches } = await api("GET", "/admin/matches");
      renderMatches(matches);
      if (selected !== null) renderMatch(await api("GET", "/admin/matches/" + encodeURIComponent(selected)));
      renderAudit(await api("GET", "/admin/audit?limit=30"));
    } catch (err) {
      status(String(err.message || err));
    }
  }

  function renderMatches(matches) {
    const body = $("matches").tBodies[0];
    body.replaceChildren();
    for (const m of matches) {
      const tr = document.createElement("tr");
      tr.dataset.matchId = m.match_id;
      if (m.match_id === selected) tr.classList.add("selected");
      const p99 = m.tick_ms_p99 == null ? "-" : m.tick_ms_p99.toFixed(2) + " ms";
      for (const v of [m.match_id, m.game, m.mode, m.state, `${m.players} / ${m.capacity}`,
        m.spectators, m.locked ? "locked" : "", p99]) tr.append(text("td", v));
      tr.addEventListener("click", () => { selected = m.match_id; refresh(); });
      body.append(tr);
    }
    $("matches-updated").textContent = `${matches.length} live, ${new Date().toLocaleTimeString()}`;
    if (selected !== null && !matches.some((m) => m.match_id === selected)) {
      selected = null;
      $("match-panel").hidden = true;
    }
  }

  function renderMatch(m) {
    $("match-panel").hidden = false;
    $("match-id").textContent = m.match_id;
    $("match-state").textContent = `${m.state}${m.locked ? ", locked" : ""}, degradation ${m.degradation_level}`;
    $("lock-button").textContent = m.locked ? "Unlock" : "Lock";
    $("lock-button").dataset.locked = m.locked ? "1" : "";
    const t = m.tick || {};
    $("tick-stats").textContent = `tick p50 ${fmt(t.p50_ms)} ms, p99 ${fmt(t.p99_ms)} ms over ${t.samples || 0} ticks`;
    sparkline(t.recent_ms || []);
    const body = $("players").tBodies[0];
    body.replaceChildren();
    for (const p of m.players) {
      const tr = document.createElement("tr");
      tr.dataset.sub = p.sub;
      for (const v of [p.player_id, p.sub, p.name, p.seat, p.spectator ? "spectator" : (p.connected ? "playing" : "dropped"),
        fmt(p.rtt_ms), p.bytes_out, fmt(p.last_input_age_s)]) tr.append(text("td", v));
      const td = document.createElement("td");
      const kick = text("button", "Kick");
      kick.className = "kick";
      kick.type = "button";
      kick.addEventListener("click", () => kickPlayer(m.match_id, p));
      td.append(kick);
      tr.append(td);
      body.append(tr);
    }
  }

  function fmt(v) { return v == null ? "-" : Number(v).toFixed(1); }

  function sparkline(values) {
    const c = $("sparkline");
    const g = c.getContext("2d");
    g.clearRect(0, 0, c.width, c.height);
    if (values.length < 2) return;
    const max = Math.max(...values, 0.001);
    g.beginPath();
    values.forEach((v, i) => {
      const x = (i / (values.length - 1)) * (c.width - 2) + 1;
      const y = c.height - 2 - (v / max) * (c.height - 4);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.strokeStyle = "#2a62d4";
    g.stroke();
    g.fillStyle = "#667";
    g.fillText(`${max.toFixed(2)} ms`, 4, 11);
  }

  function renderAudit(tail) {
    $("audit-head").textContent = "head " + (tail.head || "").slice(0, 16);
    const list = $("audit");
    list.replaceChildren();
    for (const line of tail.lines.slice().reverse()) {
      const who = line.actor ? `${line.actor} ${line.action} ${line.target} ${line.result}` : line.msg;
      list.append(text("li", `${line.seq} ${line.ts} ${line.event}: ${who}`));
    }
  }

  async function act(path, body, done) {
    try {
      await api("POST", path, body);
      status(done);
    } catch (err) {
      status(String(err.message || err));
    }
    await refresh();
  }

  function kickPlayer(matchId, p) {
    const reason = window.prompt(`Kick ${p.name} (${p.sub})? Reason shown to the player:`, "kicked by an admin");
    if (reason === null) return;
    act(`/admin/matches/${encodeURIComponent(matchId)}/kick`, { player: p.sub, reason }, `kicked ${p.sub}`);
  }

  $("lock-button").addEventListener("click", () => {
    if (selected === null) return;
    const verb = $("lock-button").dataset.locked ? "unlock" : "lock";
    if (!window.confirm(`${verb} match ${selected}?`)) return;
    act(`/admin/matches/${encodeURIComponent(selected)}/${verb}`, {}, `${verb}ed ${selected}`);
  });

  $("end-button").addEventListener("click", () => {
    if (selected === null) return;
    const reason = window.prompt(`End match ${selected}? Reason:`, "ended by an admin");
    if (reason === null) return;
    act(`/admin/matches/${encodeURIComponent(selected)}/end`, { reason }, `ended ${selected}`);
  });

  $("notice-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const msg = $("notice-text").value.trim();
    if (!msg || selected === null || !window.confirm(`Send "${msg}" to match ${selected}?`)) return;
    $("notice-text").value = "";
    act(`/admin/matches/${encodeURIComponent(selected)}/notice`, { text: msg }, "notice sent");
  });

  $("notice-all-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const msg = $("notice-all-text").value.trim();
    if (!msg || !window.confirm(`Send "${msg}" to every player?`)) return;
    $("notice-all-text").value = "";
    act("/admin/notice", { text: msg }, "notice sent to all");
  });

  $("login-form").addEventListener("submit", login);
})();

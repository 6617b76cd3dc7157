// Watching a recording: /?replay=ID (docs/replays.md, docs/protocol.md REPLAY_CONTROL).
// The page says HELLO {replay: ID}; the server answers as to a spectator and streams STATE.
// This module adds play/pause, speed and seek controls and a status line
// ("tick T / END · N entities", #replay-status) to the side panel.
import { T } from "./wire.js";

/** The recording id of the page's URL, or null. */
export function replayId(params) {
  const id = params.get("replay");
  return id ? id : null;
}

/** Build the controls once WELCOME (with its `replay` map) has arrived. */
export function attachReplay(S, welcome, send) {
  const info = welcome.replay;
  S.replay = { id: info.id, endTick: info.end_tick, playing: info.playing, speed: info.speed };
  const box = document.createElement("section");
  box.id = "replay";
  box.innerHTML = `
    <p><b>replay</b> ${info.id.replace(/[<>&"]/g, "")}</p>
    <button id="replay-play" type="button">pause</button>
    <label>speed <select id="replay-speed">
      <option>0.5</option><option selected>1</option><option>2</option><option>4</option>
    </select></label>
    <label>tick <input id="replay-tick" type="number" min="0" max="${info.end_tick}" value="0"></label>
    <button id="replay-seek" type="button">seek</button>
    <input id="replay-range" type="range" min="0" max="${info.end_tick}" value="0">
    <p id="replay-status" aria-live="polite"></p>`;
  const status = document.getElementById("status");
  status.parentNode.insertBefore(box, status.nextSibling);
  const play = box.querySelector("#replay-play");
  const range = box.querySelector("#replay-range");
  const tickInput = box.querySelector("#replay-tick");
  play.addEventListener("click", () => {
    S.replay.playing = !S.replay.playing;
    send(T.REPLAY_CONTROL, { play: S.replay.playing });
  });
  box.querySelector("#replay-speed").addEventListener("change", (ev) => {
    S.replay.speed = Number(ev.target.value);
    send(T.REPLAY_CONTROL, { speed: S.replay.speed });
  });
  const seek = (tick) => {
    const t = Math.max(0, Math.min(info.end_tick, Math.round(Number(tick) || 0)));
    send(T.REPLAY_CONTROL, { seek: t });
  };
  box.querySelector("#replay-seek").addEventListener("click", () => seek(tickInput.value));
  range.addEventListener("change", () => seek(range.value));
  setInterval(() => {
    play.textContent = S.replay.playing ? "pause" : "play";
    if (document.activeElement !== range) range.value = S.tick;
    box.querySelector("#replay-status").textContent =
      `tick ${S.tick} / ${info.end_tick} · ${S.entities} entities`;
  }, 100);
}

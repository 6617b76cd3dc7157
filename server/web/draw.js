// Drawing the mirror on the canvas, styled only by the definition's [render] table
// (WELCOME.render): per-kind colour and size, a bar field (e.g. health.hp), a label
// field (e.g. score.points) and a highlight field (e.g. tag.it, drawn as a ring).
import { sample } from "./mirror.js";

const INTERP_DELAY_MS = 100; // WELCOME.interpolation_ms when the server says
const KIND_COLORS = ["#5fa8d3", "#f4a259", "#8cb369", "#bc4b51", "#9d79bc", "#f4e285"];
export const OWN_COLOR = "#ffcc33";
const HIGHLIGHT_COLOR = "#ff4d6d";

function styleOf(w, kind, isPlayer) {
  const name = w.kinds[kind];
  const given = (w.render && w.render.kinds && w.render.kinds[name]) || {};
  return {
    color: given.color || KIND_COLORS[kind % KIND_COLORS.length],
    // Radius: size_units scaled to the canvas, else the arena's fixed pixel sizes.
    units: given.size_units,
    px: isPlayer ? 3.5 : 2.5,
  };
}

function drawGrid(ctx, w, sx, sy, cell) {
  const W = ctx.canvas.width, H = ctx.canvas.height;
  ctx.strokeStyle = "#1b2229";
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let gx = 0; gx <= w.world[0]; gx += cell) {
    ctx.moveTo(gx * sx + 0.5, 0); ctx.lineTo(gx * sx + 0.5, H);
  }
  for (let gy = 0; gy <= w.world[1]; gy += cell) {
    ctx.moveTo(0, gy * sy + 0.5); ctx.lineTo(W, gy * sy + 0.5);
  }
  ctx.stroke();
}

function decorate(ctx, render, e, px, py, r) {
  const bar = render.bar;
  if (bar && e.f[bar.field] !== undefined) {
    const u = Math.max(0, Math.min(1, e.f[bar.field] / (bar.max || 1)));
    const bw = Math.max(12, 4 * r);
    ctx.fillStyle = "#2a3038";
    ctx.fillRect(px - bw / 2, py - r - 7, bw, 3);
    ctx.fillStyle = u > 0.5 ? "#8cb369" : u > 0.25 ? "#f4a259" : "#ff6b6b";
    ctx.fillRect(px - bw / 2, py - r - 7, bw * u, 3);
  }
  if (render.highlight && e.f[render.highlight]) {
    ctx.strokeStyle = HIGHLIGHT_COLOR;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(px, py, r + 5, 0, 7);
    ctx.stroke();
    ctx.lineWidth = 1;
    ctx.fillStyle = HIGHLIGHT_COLOR;
    ctx.font = "bold 10px system-ui, sans-serif";
    ctx.fillText(render.highlight.split(".").pop().toUpperCase(), px + r + 5, py - r - 2);
  }
  if (render.label && e.f[render.label] !== undefined) {
    ctx.fillStyle = "#d8dee4";
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillText(String(Math.round(e.f[render.label])), px + r + 3, py + r + 8);
  }
}

/** Draw one frame. S: the page state (welcome, ownEntity, overlays); underlay(sx, sy)
 * draws first (the lockstep replica's world); returns counts. */
export function drawFrame(ctx, S, mirror, gridCellUnits, underlay) {
  const w = S.welcome;
  const W = ctx.canvas.width, H = ctx.canvas.height;
  ctx.fillStyle = "#0b0e11";
  ctx.fillRect(0, 0, W, H);
  if (!w) return { players: 0, drawn: 0, own: null };
  const sx = W / w.world[0], sy = H / w.world[1];
  const render = w.render || {};
  const styled = Boolean(render.kinds || render.bar || render.label || render.highlight);
  if (S.overlays.grid) drawGrid(ctx, w, sx, sy, gridCellUnits);
  underlay(sx, sy);
  const t = performance.now() - (w.interpolation_ms ?? INTERP_DELAY_MS);
  const playerKind = w.kinds.indexOf("player");
  let players = 0, drawn = 0, own = null, ownEntity = null;
  for (const [id, e] of mirror.entities) {
    const [x, y] = sample(e, t);
    const isPlayer = e.kind === playerKind;
    if (isPlayer) players += 1;
    drawn += 1;
    if (id === S.ownEntity) {
      // Predicted (predict.js) where the page predicts, else interpolated like the rest.
      own = (S.prediction && S.prediction.predictedPos) || [x, y];
      ownEntity = e;
      continue;
    }
    const style = styleOf(w, e.kind, isPlayer);
    const r = style.units ? Math.max(1.5, style.units * sx) : style.px;
    ctx.fillStyle = style.color;
    if (styled) {
      ctx.beginPath();
      ctx.arc(x * sx, y * sy, r, 0, 7);
      ctx.fill();
      decorate(ctx, render, e, x * sx, y * sy, r);
    } else {
      ctx.fillRect(x * sx - r, y * sy - r, 2 * r, 2 * r);
    }
  }
  if (own) {
    const [x, y] = own;
    if (S.overlays.interest && S.sync === "state") {
      ctx.strokeStyle = "rgba(255, 204, 51, 0.5)";
      ctx.beginPath();
      ctx.ellipse(x * sx, y * sy, w.interest_radius * sx, w.interest_radius * sy, 0, 0, 7);
      ctx.stroke();
    }
    const style = styleOf(w, ownEntity.kind, true);
    const r = style.units ? Math.max(4, style.units * sx) : 6;
    ctx.fillStyle = styled ? style.color : OWN_COLOR;
    ctx.beginPath();
    ctx.arc(x * sx, y * sy, r, 0, 7);
    ctx.fill();
    ctx.strokeStyle = styled ? OWN_COLOR : "#ffffff";
    ctx.lineWidth = styled ? 3 : 2;
    ctx.stroke();
    ctx.lineWidth = 1;
    if (styled) decorate(ctx, render, ownEntity, x * sx, y * sy, r);
  }
  return { players, drawn, own };
}

// Keyboard and mouse -> the INPUT body of whatever the game declares (WELCOME.input).
//
// The mapping is generic (docs/browser.md, "Controls"):
//   stick   the first two: A/D or left/right, W/S or up/down (diagonals normalised)
//   angle   from your entity toward the mouse pointer (radians, 0 = +x, toward +y)
//   buttons bit "fire" (or bit 0): left click or Space; the other bits in order:
//           Shift, E, Q, R, F, Z, X, C
//   int     a field whose name ends in "x" / "y": the world point last clicked
//           (right click, or left click when the game has no buttons), clamped to
//           [min, max]; any other int field stays at max(min, 0)
const BUTTON_KEYS = ["ShiftLeft", "KeyE", "KeyQ", "KeyR", "KeyF", "KeyZ", "KeyX", "KeyC"];
const MOVE_KEYS = new Set(["KeyW", "KeyA", "KeyS", "KeyD", "ArrowUp", "ArrowDown",
  "ArrowLeft", "ArrowRight", "Space", ...BUTTON_KEYS]);

export class Controls {
  constructor(canvas, onToggle) {
    this.canvas = canvas;
    this.held = new Set();
    this.mouse = null; // [x, y] canvas pixels
    this.mouseButtons = 0;
    this.target = null; // [x, y] world units of the last order click
    this.schema = null;
    this.world = [1, 1];
    addEventListener("keydown", (ev) => {
      if (MOVE_KEYS.has(ev.code)) { this.held.add(ev.code); ev.preventDefault(); }
      onToggle(ev.code);
    });
    addEventListener("keyup", (ev) => this.held.delete(ev.code));
    addEventListener("blur", () => { this.held.clear(); this.mouseButtons = 0; });
    canvas.addEventListener("mousemove", (ev) => { this.mouse = this.pixel(ev); });
    canvas.addEventListener("mousedown", (ev) => {
      this.mouse = this.pixel(ev);
      this.mouseButtons |= 1 << ev.button;
      const orderButton = this.hasButtons() ? 2 : 0;
      if (ev.button === orderButton || ev.button === 2) this.target = this.toWorld(this.mouse);
      canvas.focus();
      ev.preventDefault();
    });
    addEventListener("mouseup", (ev) => { this.mouseButtons &= ~(1 << ev.button); });
    canvas.addEventListener("contextmenu", (ev) => ev.preventDefault());
  }

  configure(welcome) {
    this.schema = welcome.input || [{ name: "x", type: "stick" }, { name: "y", type: "stick" }];
    this.world = welcome.world;
  }

  hasButtons() { return (this.schema || []).some((f) => f.type === "buttons"); }

  pixel(ev) {
    const r = this.canvas.getBoundingClientRect();
    return [(ev.clientX - r.left) * (this.canvas.width / r.width),
      (ev.clientY - r.top) * (this.canvas.height / r.height)];
  }

  toWorld([px, py]) {
    return [px * this.world[0] / this.canvas.width, py * this.world[1] / this.canvas.height];
  }

  stick() {
    const k = (...names) => names.some((n) => this.held.has(n));
    let x = (k("KeyD", "ArrowRight") ? 1 : 0) - (k("KeyA", "ArrowLeft") ? 1 : 0);
    let y = (k("KeyS", "ArrowDown") ? 1 : 0) - (k("KeyW", "ArrowUp") ? 1 : 0);
    if (x && y) { x *= Math.SQRT1_2; y *= Math.SQRT1_2; }
    return [x, y];
  }

  buttons(field) {
    let value = 0;
    const fireBit = Math.max(0, field.bits.indexOf("fire"));
    if (this.held.has("Space") || (this.mouseButtons & 1)) value |= 1 << fireBit;
    let key = 0;
    field.bits.forEach((_, bit) => {
      if (bit === fireBit) return;
      if (this.held.has(BUTTON_KEYS[key])) value |= 1 << bit;
      key += 1;
    });
    return value;
  }

  /** The INPUT body for `tick`: every declared field, in range. ownPos: world units. */
  body(tick, ownPos) {
    const out = { tick };
    const [sx, sy] = this.stick();
    let sticks = 0;
    for (const f of this.schema) {
      if (f.type === "stick") {
        out[f.name] = sticks === 0 ? sx : sticks === 1 ? sy : 0;
        sticks += 1;
      } else if (f.type === "angle") {
        let angle = 0;
        if (this.mouse && ownPos) {
          const [mx, my] = this.toWorld(this.mouse);
          angle = Math.atan2(my - ownPos[1], mx - ownPos[0]);
        }
        out[f.name] = angle;
      } else if (f.type === "buttons") {
        out[f.name] = this.buttons(f);
      } else {
        const axis = f.name.endsWith("x") ? 0 : f.name.endsWith("y") ? 1 : -1;
        const raw = axis >= 0 && this.target ? Math.round(this.target[axis]) : 0;
        out[f.name] = Math.min(f.max, Math.max(f.min, raw));
      }
    }
    return out;
  }
}

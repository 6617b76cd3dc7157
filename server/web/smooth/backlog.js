// Working off the server's backlog of our inputs (STATE.aq; docs/protocol.md, "Writing a
// smooth client", step 1). The JavaScript twin of client_sim/smooth.py's
// SmoothClient._backlog and SmoothClient.skip; tests/client_sim/test_predict_js.py holds
// the two to the same answers for the same recorded sends, frames and skips.
//
// After a stall the server holds `aq` of our inputs beyond its buffer of
// input_buffer_ticks: each is one tick of extra input latency. Skipping one send per
// tick (never one that presses a button) lets the server take the next waiting input
// instead, so the backlog shrinks by one a tick and nothing is mispredicted (a skipped
// tick is neither sent nor predicted).
import { seqNewer } from "./predict.js";

export class Backlog {
  /** bufferTicks: WELCOME.input_buffer_ticks; buttons: the names of the `buttons` fields. */
  constructor(bufferTicks, buttons) {
    this.buffer = bufferTicks;
    this.buttons = buttons;
    this.held = {}; // each buttons field's bits in the last input sent
    this.left = 0; // inputs waiting that no skip made since has answered yet
    this.skips = []; // the seq sent last before each recent skip
    this.skipped = 0; // sends skipped in all
  }

  /** A STATE with `a` (acked) and `aq` (q, 0 when absent); pending: the seqs sent and
   * not yet dropped, oldest first. The backlog left is q minus the skips made after the
   * newest of the q + buffer inputs waiting was sent (the server has not seen those). */
  update(acked, q, pending) {
    if (q <= 0) {
      this.left = 0;
      this.skips = [];
      return;
    }
    const after = pending.filter((s) => seqNewer(s, acked));
    const waiting = q + this.buffer;
    const newest = after.length ? after[Math.min(waiting, after.length) - 1] : acked;
    this.skips = this.skips.filter((s) => !seqNewer(newest, s));
    this.left = Math.max(0, q - this.skips.length);
  }

  /** Skip this tick's send of `body`? lastSeq: the seq of the last input sent. */
  skip(body, lastSeq) {
    if (this.left <= 0) return false;
    for (const b of this.buttons) if ((body[b] ?? 0) & ~(this.held[b] ?? 0)) return false;
    this.left -= 1;
    this.skips.push(lastSeq);
    this.skipped += 1;
    return true;
  }

  /** `body` was sent: remember the buttons it holds (a press is a bit not held before). */
  sent(body) {
    for (const b of this.buttons) this.held[b] = body[b] ?? 0;
  }
}

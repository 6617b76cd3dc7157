// The match's random generator: SplitMix64 (docs/lockstep.md §7), with BigInt.
const MASK = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;
const M1 = 0xbf58476d1ce4e5b9n;
const M2 = 0x94d049bb133111ebn;

export class MatchRng {
  /** state: BigInt (uint64). */
  constructor(state) { this.state = BigInt.asUintN(64, state); }

  /** From the checkpoint's {algorithm: "splitmix64", state: 8 bytes LE}. */
  static fromCheckpoint(rng) {
    if (rng.algorithm !== "splitmix64" || rng.state.byteLength !== 8) {
      throw new Error("checkpoint rng is not {algorithm: splitmix64, state: 8 bytes}");
    }
    const view = new DataView(rng.state.buffer, rng.state.byteOffset, 8);
    return new MatchRng(view.getBigUint64(0, true));
  }

  /** One raw draw, a BigInt in [0, 2**64). */
  nextU64() {
    this.state = (this.state + GOLDEN) & MASK;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * M1) & MASK;
    z = ((z ^ (z >> 27n)) * M2) & MASK;
    return z ^ (z >> 31n);
  }

  /** An integer in [low, high): low + ((draw >> 32) * span >> 32), span in [1, 2**32]. */
  integers(low, high) {
    const span = high - low;
    if (!(span >= 1 && span <= 2 ** 32)) throw new Error(`integers: bad span ${span}`);
    return low + Number(((this.nextU64() >> 32n) * BigInt(span)) >> 32n);
  }

  /** A float in [0, 1): (draw >> 11) * 2**-53. */
  random() { return Number(this.nextU64() >> 11n) * 2 ** -53; }
}

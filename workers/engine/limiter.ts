/** -0.1 dBFS, the promised ceiling; the limiter aims a hair below it so float rounding cannot cross it. */
export const PEAK_CEILING = 10 ** (-0.1 / 20);
const TARGET = PEAK_CEILING * 0.999;

export interface LimiterOptions {
  /** Look-ahead = attack time in samples. */
  lookahead: number;
  /** Release time constant in samples. */
  release: number;
}

/**
 * Look-ahead peak limiter. Gain = box average (over `lookahead`) of a running minimum (over the same span)
 * of the gain each sample needs; every term of the average is <= the need of the sample it is applied to,
 * so the output never exceeds the ceiling, and the gain glides instead of jumping. Latency = lookahead - 1
 * samples; the limiter compensates it, so output length == input length.
 */
export class Limiter {
  readonly #w: number;
  readonly #releaseCoef: number;
  /** Ring of the last w input samples (the delay line). */
  readonly #delay: Float32Array;
  /** Ring of the last w needed gains, for the running minimum. */
  readonly #need: Float32Array;
  /** Ring of the last w held gains, for the box average. */
  readonly #held: Float32Array;
  #heldSum: number;
  #released = 1;
  #pos = 0;
  /** Samples still to swallow at the start (the latency). */
  #skip: number;

  constructor(options: LimiterOptions) {
    this.#w = Math.max(2, Math.round(options.lookahead));
    this.#releaseCoef = Math.exp(-1 / Math.max(1, options.release));
    this.#delay = new Float32Array(this.#w);
    this.#need = new Float32Array(this.#w).fill(1);
    this.#held = new Float32Array(this.#w).fill(1);
    this.#heldSum = this.#w;
    this.#skip = this.#w - 1;
  }

  process(input: Float32Array): Float32Array {
    const out = new Float32Array(Math.max(0, input.length - this.#skip));
    let o = 0;
    for (let i = 0; i < input.length; i++) {
      const y = this.#step(input[i]);
      if (this.#skip > 0) this.#skip--;
      else out[o++] = y;
    }
    return out;
  }

  /** Pushes the latency's worth of silence through, returning the held-back tail. */
  flush(): Float32Array {
    const pending = this.#w - 1 - this.#skip;
    const out = new Float32Array(pending);
    for (let i = 0; i < pending; i++) out[i] = this.#step(0);
    this.#skip = this.#w - 1;
    return out;
  }

  #step(x: number): number {
    const w = this.#w;
    const p = this.#pos;
    const a = Math.abs(x);
    this.#need[p] = a > TARGET ? TARGET / a : 1;
    let min = 1;
    for (let j = 0; j < w; j++) min = Math.min(min, this.#need[j]);
    // Release: the held gain rises back toward 1 exponentially, but never above the current need.
    this.#released = Math.min(min, 1 - (1 - this.#released) * this.#releaseCoef);
    this.#heldSum += this.#released - this.#held[p];
    this.#held[p] = this.#released;
    const gain = Math.min(1, this.#heldSum / w);
    const delayed = this.#delay[(p + 1) % w];
    this.#delay[p] = x;
    this.#pos = (p + 1) % w;
    return delayed * gain;
  }
}

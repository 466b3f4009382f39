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
  /**
   * Running minimum of the last w needed gains as a monotonic deque (ring of capacity w): O(1) per sample
   * instead of a scan of w (measured: the scan was a quarter of a conversion's time). Values are float32,
   * as a ring of needs would hold them, and every need is <= 1, so the minimum is the same.
   */
  readonly #minVal: Float32Array;
  readonly #minAt: Float64Array;
  #minHead = 0;
  #minLen = 0;
  #t = 0;
  /** Consecutive steps with a held gain of exactly 1 (capped): at >= w the held ring is all ones. */
  #ones = 0;
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
    this.#minVal = new Float32Array(this.#w);
    this.#minAt = new Float64Array(this.#w);
    this.#held = new Float32Array(this.#w).fill(1);
    this.#heldSum = this.#w;
    this.#skip = this.#w - 1;
  }

  process(input: Float32Array): Float32Array {
    const skipped = Math.min(this.#skip, input.length);
    const out = new Float32Array(input.length - skipped);
    this.#run(input, input.length, out, skipped);
    this.#skip -= skipped;
    return out;
  }

  /** Pushes the latency's worth of silence through, returning the held-back tail. */
  flush(): Float32Array {
    const pending = this.#w - 1 - this.#skip;
    const out = new Float32Array(pending);
    this.#run(null, pending, out, 0);
    this.#skip = this.#w - 1;
    return out;
  }

  /** Steps `count` samples (of `input`, or silence), writing the outputs after the first `skip` to `out`. */
  #run(input: Float32Array | null, count: number, out: Float32Array, skip: number): void {
    const w = this.#w;
    const coef = this.#releaseCoef;
    const delay = this.#delay;
    const heldRing = this.#held;
    const minVal = this.#minVal;
    const minAt = this.#minAt;
    let heldSum = this.#heldSum;
    let released = this.#released;
    let pos = this.#pos;
    let minHead = this.#minHead;
    let minLen = this.#minLen;
    let t = this.#t;
    let ones = this.#ones;
    for (let i = 0; i < count; i++) {
      const x = input === null ? 0 : input[i];
      if (ones >= w && minVal[minHead] === 1 && Math.abs(x) <= TARGET) {
        // Quiet stretch: every need is 1, so the held gain stays exactly 1, the sum of the held ring stays
        // as it is, and each output is the delayed sample times the same gain: the same numbers as the
        // full step below, without the running minimum (most of speech takes this path).
        const gain = Math.min(1, heldSum / w);
        let j = i;
        for (; j < count; j++) {
          const v = input === null ? 0 : input[j];
          if (Math.abs(v) > TARGET) break;
          const next = pos + 1 === w ? 0 : pos + 1;
          const delayed = delay[next];
          delay[pos] = v;
          pos = next;
          if (j >= skip) out[j - skip] = delayed * gain;
        }
        t += j - i;
        // The running minimum now holds just the latest need (1).
        minHead = 0;
        minLen = 1;
        minVal[0] = 1;
        minAt[0] = t - 1;
        i = j - 1;
        continue;
      }
      const a = Math.abs(x);
      const need = Math.fround(a > TARGET ? TARGET / a : 1);
      while (minLen > 0) {
        const last = minHead + minLen - 1;
        if (minVal[last >= w ? last - w : last] < need) break;
        minLen--;
      }
      if (minLen > 0 && minAt[minHead] <= t - w) {
        minHead = minHead + 1 === w ? 0 : minHead + 1;
        minLen--;
      }
      const back = minHead + minLen >= w ? minHead + minLen - w : minHead + minLen;
      minVal[back] = need;
      minAt[back] = t;
      minLen++;
      t++;
      const min = minVal[minHead];
      // Release: the held gain rises back toward 1 exponentially, but never above the current need.
      released = Math.min(min, 1 - (1 - released) * coef);
      ones = released === 1 ? Math.min(ones + 1, w) : 0;
      heldSum += released - heldRing[pos];
      heldRing[pos] = released;
      const gain = Math.min(1, heldSum / w);
      const next = pos + 1 === w ? 0 : pos + 1;
      const delayed = delay[next];
      delay[pos] = x;
      pos = next;
      if (i >= skip) out[i - skip] = delayed * gain;
    }
    this.#heldSum = heldSum;
    this.#released = released;
    this.#pos = pos;
    this.#minHead = minHead;
    this.#minLen = minLen;
    this.#t = t;
    this.#ones = ones;
  }
}

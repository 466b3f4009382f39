import type { VoiceProfile } from './voice-profile.js';

/** Histogram resolution for F0: 5 cents (0.3 %) from 25 Hz up to 2 kHz keeps memory flat for any length. */
const CENTS_PER_BIN = 5;
const F0_FLOOR = 25;
const N_BINS = Math.ceil((1200 * Math.log2(2000 / F0_FLOOR)) / CENTS_PER_BIN);

export interface FrameBatch {
  f0: Float32Array;
  voicing: Float32Array;
  energy: Float32Array;
  /** frames x bins, row-major. */
  power: Float32Array;
  /** First and one-past-last frame of this batch that belong to the profile. */
  from: number;
  to: number;
}

export interface AccumulatorOptions {
  model: string;
  sampleRate: number;
  bins: number;
  frameHop: number;
  voicingThreshold: number;
  silenceDb: number;
}

/** Aggregates per-frame analysis into a VoiceProfile in constant memory. */
export class ProfileAccumulator {
  readonly #o: AccumulatorOptions;
  readonly #hist = new Float64Array(N_BINS);
  readonly #powerSum: Float64Array;
  readonly #silence: number;
  #frames = 0;
  #voiced = 0;

  constructor(options: AccumulatorOptions) {
    this.#o = options;
    this.#powerSum = new Float64Array(options.bins);
    this.#silence = 10 ** (options.silenceDb / 10);
  }

  add(batch: FrameBatch): void {
    const nb = this.#o.bins;
    const power = batch.power;
    const sum = this.#powerSum;
    for (let i = batch.from; i < batch.to; i++) {
      this.#frames++;
      const row = i * nb;
      for (let k = 0; k < nb; k++) {
        const v = power[row + k];
        // v - v is 0 exactly when v is finite (NaN and +-Inf give NaN): non-finite power counts as 0.
        sum[k] += v - v === 0 ? v : 0;
      }
      const f0 = batch.f0[i];
      if (!(batch.voicing[i] >= this.#o.voicingThreshold && batch.energy[i] >= this.#silence)) continue;
      if (!(f0 > F0_FLOOR && Number.isFinite(f0))) continue;
      const bin = Math.floor((1200 * Math.log2(f0 / F0_FLOOR)) / CENTS_PER_BIN);
      if (bin < N_BINS) {
        this.#hist[bin]++;
        this.#voiced++;
      }
    }
  }

  #percentile(p: number): number | null {
    if (this.#voiced === 0) return null;
    const goal = p * this.#voiced;
    let seen = 0;
    for (let b = 0; b < N_BINS; b++) {
      if (seen + this.#hist[b] >= goal && this.#hist[b] > 0) {
        // Interpolate inside the bin so the median is not quantised to 5 cents.
        const frac = (goal - seen) / this.#hist[b];
        return F0_FLOOR * 2 ** (((b + frac) * CENTS_PER_BIN) / 1200);
      }
      seen += this.#hist[b];
    }
    return null;
  }

  finish(label?: string): VoiceProfile {
    const o = this.#o;
    const frames = Math.max(1, this.#frames);
    const round = (v: number, digits: number): number => Number(v.toFixed(digits));
    const hz = (v: number | null): number | null => (v === null ? null : round(v, 2));
    const seconds = (n: number): number => round((n * o.frameHop) / o.sampleRate, 3);
    return {
      format: 'vcfarm-voice/1',
      model: o.model,
      sampleRate: o.sampleRate,
      f0Median: hz(this.#percentile(0.5)),
      f0P10: hz(this.#percentile(0.1)),
      f0P90: hz(this.#percentile(0.9)),
      voicedSeconds: seconds(this.#voiced),
      durationSeconds: seconds(this.#frames),
      // Floor at 1e-10 (-100 dB) so silence gives a finite, flat envelope.
      envelope: Array.from(this.#powerSum, (s) => round(Math.log(s / frames + 1e-10), 4)),
      ...(label === undefined ? {} : { label }),
    };
  }
}

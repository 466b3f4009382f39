/** Zero crossings of the sinc on each side of an output sample (at the lower of the two rates). */
const ZERO_CROSSINGS = 16;
/** Kaiser window shape: about 90 dB of stop-band rejection. */
const KAISER_BETA = 9;
/** Passband edge as a share of the lower Nyquist frequency (ffmpeg's swresample uses 0.97). */
const CUTOFF = 0.95;
/** Rate pairs needing more phases than this (e.g. 47999 → 24000) are left to ffmpeg. */
export const MAX_PHASES = 4096;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (series). */
function bessel0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

/**
 * Streaming sample-rate conversion of mono float PCM by a rational ratio: a polyphase
 * Kaiser-windowed sinc, one phase per distinct output position between two input samples.
 * Output sample k sits at input time k·in/out (no delay); `end()` flushes the tail so that n
 * input samples give round(n·out/in) output samples, whatever the block sizes.
 *
 * Written here rather than taken from npm: the one maintained resampler there
 * (libsamplerate compiled to WebAssembly) measured 13× real time for 48 → 24 kHz at its fastest
 * setting, slower than the voice-conversion model itself; this one runs at several hundred ×.
 */
export class Resampler {
  readonly up: number;
  readonly down: number;
  readonly #half: number;
  readonly #table: Float32Array;
  #buf = new Float32Array(0);
  /** Input index (absolute) of #buf[0]. */
  #base = 0;
  /** Absolute input index and phase of the next output sample. */
  #pos = 0;
  #phase = 0;
  #inputs = 0;
  #outputs = 0;

  /** Whether the pair needs at most MAX_PHASES filter phases (the constructor refuses more). */
  static supports(inRate: number, outRate: number): boolean {
    return outRate / gcd(inRate, outRate) <= MAX_PHASES;
  }

  constructor(inRate: number, outRate: number) {
    const g = gcd(inRate, outRate);
    this.up = outRate / g;
    this.down = inRate / g;
    if (this.up > MAX_PHASES) throw new RangeError(`resampling ${inRate} → ${outRate} needs too many phases`);
    const fc = CUTOFF * Math.min(1, this.up / this.down);
    this.#half = Math.ceil(ZERO_CROSSINGS / fc);
    const taps = 2 * this.#half;
    this.#table = new Float32Array(this.up * taps);
    const norm = bessel0(KAISER_BETA);
    for (let p = 0; p < this.up; p++) {
      let sum = 0;
      const row = p * taps;
      for (let t = 0; t < taps; t++) {
        const x = t - this.#half + 1 - p / this.up;
        const sinc = x === 0 ? 1 : Math.sin(Math.PI * fc * x) / (Math.PI * fc * x);
        const w = x / this.#half;
        const window = Math.abs(w) >= 1 ? 0 : bessel0(KAISER_BETA * Math.sqrt(1 - w * w)) / norm;
        this.#table[row + t] = sinc * window;
        sum += sinc * window;
      }
      for (let t = 0; t < taps; t++) this.#table[row + t] /= sum;
    }
    // Silence before the start, so the first outputs see a full window.
    this.#buf = new Float32Array(this.#half - 1);
    this.#base = -(this.#half - 1);
  }

  /** Converts one more block; returns what can be computed so far. */
  push(block: Float32Array): Float32Array {
    this.#inputs += block.length;
    this.#append(block);
    return this.#run(Number.POSITIVE_INFINITY);
  }

  /** The remaining output, after silence past the end fills the last windows. */
  end(): Float32Array {
    this.#append(new Float32Array(this.#half + 1));
    const total = Math.floor((this.#inputs * this.up + Math.floor(this.down / 2)) / this.down);
    return this.#run(total - this.#outputs);
  }

  #append(block: Float32Array): void {
    // Keep only what the next output's window still needs.
    const keepFrom = Math.max(0, this.#pos - this.#half + 1 - this.#base);
    const kept = this.#buf.subarray(keepFrom);
    const next = new Float32Array(kept.length + block.length);
    next.set(kept);
    next.set(block, kept.length);
    this.#buf = next;
    this.#base += keepFrom;
  }

  #run(limit: number): Float32Array {
    const taps = 2 * this.#half;
    const buf = this.#buf;
    const last = this.#base + buf.length;
    const available = Math.max(0, Math.min(limit, this.#countReady(last)));
    const out = new Float32Array(available);
    const table = this.#table;
    let pos = this.#pos;
    let phase = this.#phase;
    for (let k = 0; k < available; k++) {
      const start = pos - this.#half + 1 - this.#base;
      const row = phase * taps;
      let acc = 0;
      for (let t = 0; t < taps; t++) acc += buf[start + t] * table[row + t];
      out[k] = acc;
      phase += this.down;
      pos += Math.floor(phase / this.up);
      phase %= this.up;
    }
    this.#pos = pos;
    this.#phase = phase;
    this.#outputs += available;
    return out;
  }

  /** How many outputs have their whole window inside [.., last). */
  #countReady(last: number): number {
    // Output at (pos, phase) needs inputs up to pos + half; positions advance by down/up.
    const maxPos = last - this.#half - 1;
    if (maxPos < this.#pos) return 0;
    // Outputs k ≥ 0 with pos_k ≤ maxPos, pos_k = pos + floor((phase + k·down) / up).
    return Math.floor(((maxPos - this.#pos + 1) * this.up - this.#phase - 1) / this.down) + 1;
  }
}

/**
 * Integrated loudness (ITU-R BS.1770-4, as ffmpeg's ebur128 and loudnorm measure it) of a stream's first
 * `seconds`, mono: K-weighting (a +4 dB shelf above ~1.7 kHz and a 38 Hz high-pass, so rumble and DC weigh
 * nothing), mean square over 400 ms blocks every 100 ms, blocks under -70 LUFS dropped, then those more than
 * 10 LU under the mean of the rest. Hand-written: the npm registry holds no maintained BS.1770 meter for
 * Node (the one browser meter, @domchristie/needles, is unmaintained and Web-Audio-bound); it is checked
 * against ffmpeg's ebur128 on real speech (test/engine/loudness.test.ts). Memory: one sum per 100 ms.
 */
export class LoudnessMeter {
  readonly #limit: number;
  readonly #step: number;
  readonly #filters: Biquad[];
  readonly #sums: number[] = [];
  #acc = 0;
  #inStep = 0;
  #read = 0;
  #peak = 0;

  constructor(sampleRate: number, seconds: number) {
    this.#limit = Math.round(seconds * sampleRate);
    this.#step = Math.round(sampleRate / 10);
    this.#filters = kWeighting(sampleRate);
  }

  /** True once `seconds` of samples have been read. */
  get done(): boolean {
    return this.#read >= this.#limit;
  }

  /** The largest |sample| read. */
  get peak(): number {
    return this.#peak;
  }

  /** Reads the next samples of the stream (non-finite ones as 0), up to the span. */
  add(samples: Float32Array): void {
    const n = Math.min(samples.length, this.#limit - this.#read);
    const [shelf, highPass] = this.#filters;
    for (let i = 0; i < n; i++) {
      const x = samples[i] - samples[i] === 0 ? samples[i] : 0;
      const a = Math.abs(x);
      if (a > this.#peak) this.#peak = a;
      const y = highPass.step(shelf.step(x));
      this.#acc += y * y;
      if (++this.#inStep === this.#step) {
        this.#sums.push(this.#acc);
        this.#acc = 0;
        this.#inStep = 0;
      }
    }
    this.#read += Math.max(0, n);
  }

  /** The integrated loudness in LUFS of what was read; -Infinity when nothing passes the gates. */
  loudness(): number {
    const blocks: number[] = [];
    const s = this.#sums;
    for (let i = 0; i + 4 <= s.length; i++)
      blocks.push((s[i] + s[i + 1] + s[i + 2] + s[i + 3]) / (4 * this.#step));
    // A span shorter than one block: the whole of it as one block.
    if (blocks.length === 0 && this.#read > 0)
      blocks.push((s.reduce((a, b) => a + b, 0) + this.#acc) / this.#read);
    const lufs = (z: number) => -0.691 + 10 * Math.log10(z);
    const mean = (zs: number[]) => zs.reduce((a, b) => a + b, 0) / zs.length;
    const absolute = blocks.filter((z) => lufs(z) > -70);
    if (absolute.length === 0) return Number.NEGATIVE_INFINITY;
    const gate = lufs(mean(absolute)) - 10;
    const relative = absolute.filter((z) => lufs(z) > gate);
    return lufs(mean(relative));
  }
}

/** Direct form I biquad (b0, b1, b2, a1, a2 with a0 = 1). */
class Biquad {
  #x1 = 0;
  #x2 = 0;
  #y1 = 0;
  #y2 = 0;
  constructor(readonly c: readonly [number, number, number, number, number]) {}
  step(x: number): number {
    const [b0, b1, b2, a1, a2] = this.c;
    const y = b0 * x + b1 * this.#x1 + b2 * this.#x2 - a1 * this.#y1 - a2 * this.#y2;
    this.#x2 = this.#x1;
    this.#x1 = x;
    this.#y2 = this.#y1;
    this.#y1 = y;
    return y;
  }
}

/** BS.1770's two K-weighting stages at any rate (the analogue prototypes' parameters, as libebur128 derives them). */
function kWeighting(rate: number): [Biquad, Biquad] {
  let k = Math.tan((Math.PI * 1681.974450955533) / rate);
  let q = 0.7071752369554196;
  const vh = 10 ** (3.999843853973347 / 20);
  const vb = vh ** 0.4996667741545416;
  let a0 = 1 + k / q + k * k;
  const shelf = new Biquad([
    (vh + (vb * k) / q + k * k) / a0,
    (2 * (k * k - vh)) / a0,
    (vh - (vb * k) / q + k * k) / a0,
    (2 * (k * k - 1)) / a0,
    (1 - k / q + k * k) / a0,
  ]);
  k = Math.tan((Math.PI * 38.13547087602444) / rate);
  q = 0.5003270373238773;
  a0 = 1 + k / q + k * k;
  const highPass = new Biquad([1, -2, 1, (2 * (k * k - 1)) / a0, (1 - k / q + k * k) / a0]);
  return [shelf, highPass];
}

/**
 * The gain (linear) that brings an output measured at `outputLufs` to the input's `inputLufs`: a boost of at
 * most `maxDb`, a cut of at most `maxCutDb`, its dB scaled by `strength` (clipped to 0..1: strength 0 leaves
 * the level as it is; exaggerating a conversion does not exaggerate its level), and a boost never beyond
 * `headroom` (the ceiling over the measured output's peak: a boost the limiter would have to take back
 * compresses the speech instead). 1 when either side is silent.
 */
export function loudnessGain(
  inputLufs: number,
  outputLufs: number,
  strength: number,
  limits: { maxDb: number; maxCutDb: number; headroom?: number },
): number {
  if (!(Number.isFinite(inputLufs) && Number.isFinite(outputLufs))) return 1;
  const db = Math.max(-limits.maxCutDb, Math.min(limits.maxDb, inputLufs - outputLufs));
  const gain = 10 ** ((db * Math.max(0, Math.min(1, strength))) / 20);
  return gain > 1 ? Math.min(gain, Math.max(1, limits.headroom ?? Number.POSITIVE_INFINITY)) : gain;
}

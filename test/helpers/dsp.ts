// Signal-processing building blocks for the independent voice measures (voice-measures.ts, speaker-id.ts).
// Textbook algorithms written here on purpose: nothing is shared with models/builder or workers/engine.

const twiddles = new Map<number, { cos: Float64Array; sin: Float64Array }>();

function twiddle(n: number): { cos: Float64Array; sin: Float64Array } {
  let t = twiddles.get(n);
  if (!t) {
    const cos = new Float64Array(n / 2);
    const sin = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) {
      cos[k] = Math.cos((-2 * Math.PI * k) / n);
      sin[k] = Math.sin((-2 * Math.PI * k) / n);
    }
    t = { cos, sin };
    twiddles.set(n, t);
  }
  return t;
}

/** In-place radix-2 decimation-in-time FFT with cached twiddles; length a power of two. */
export function fftInPlace(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const tr = re[i];
      re[i] = re[j];
      re[j] = tr;
      const ti = im[i];
      im[i] = im[j];
      im[j] = ti;
    }
  }
  const { cos, sin } = twiddle(n);
  for (let len = 2; len <= n; len <<= 1) {
    const half = len >> 1;
    const step = n / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step];
        const wi = sin[k * step];
        const a = i + k;
        const b = a + half;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
      }
    }
  }
}

export const hann = (n: number): Float64Array =>
  Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
export const hamming = (n: number): Float64Array =>
  Float64Array.from({ length: n }, (_, i) => 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (n - 1)));

export interface Frame {
  /** Centre of the frame in seconds. */
  time: number;
  /** Windowed samples (length = window length). */
  samples: Float64Array;
  /** Sum of squares of the unwindowed samples. */
  energy: number;
}

/** Overlapping windowed frames (as long as `window`) every `hopS` seconds. */
export function frames(pcm: Float32Array, sampleRate: number, hopS: number, window: Float64Array): Frame[] {
  const len = window.length;
  const hop = Math.round(hopS * sampleRate);
  const out: Frame[] = [];
  for (let s = 0; s + len <= pcm.length; s += hop) {
    const samples = new Float64Array(len);
    let energy = 0;
    for (let i = 0; i < len; i++) {
      energy += pcm[s + i] ** 2;
      samples[i] = pcm[s + i] * window[i];
    }
    out.push({ time: (s + len / 2) / sampleRate, samples, energy });
  }
  return out;
}

/** Frames whose energy is within `db` of the loudest frame (silence and breath left out). */
export function loudFrames<T extends { energy: number }>(list: readonly T[], db: number): T[] {
  const loudest = Math.max(0, ...list.map((f) => f.energy));
  const gate = loudest * 10 ** (-db / 10);
  return list.filter((f) => f.energy > 0 && f.energy >= gate);
}

/** One-sided power spectrum (n/2+1 bins) of `samples` zero-padded to `n`. */
export function powerSpectrum(samples: Float64Array, n: number): Float64Array {
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  re.set(samples.subarray(0, n));
  fftInPlace(re, im);
  const p = new Float64Array(n / 2 + 1);
  for (let k = 0; k <= n / 2; k++) p[k] = re[k] * re[k] + im[k] * im[k];
  return p;
}

/**
 * Real cepstrum of a one-sided log spectrum (n/2+1 bins, natural log), liftered to quefrencies below
 * `keep` samples, and transformed back: the cepstrally smoothed log spectrum (Oppenheim & Schafer,
 * Discrete-Time Signal Processing, ch. 13).
 */
export function cepstralSmooth(logSpectrum: Float64Array, keep: number): Float64Array {
  const half = logSpectrum.length - 1;
  const n = half * 2;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let k = 0; k <= half; k++) re[k] = logSpectrum[k];
  for (let k = 1; k < half; k++) re[n - k] = logSpectrum[k];
  fftInPlace(re, im);
  for (let q = keep; q <= n - keep; q++) {
    re[q] = 0;
    im[q] = 0;
  }
  fftInPlace(re, im);
  return Float64Array.from({ length: half + 1 }, (_, k) => re[k] / n);
}

/** Biased autocorrelation r[0..order]. */
export function autocorrelation(x: Float64Array, order: number): Float64Array {
  const r = new Float64Array(order + 1);
  for (let lag = 0; lag <= order; lag++) {
    let s = 0;
    for (let i = lag; i < x.length; i++) s += x[i] * x[i - lag];
    r[lag] = s;
  }
  return r;
}

/**
 * Levinson-Durbin recursion (Makhoul 1975, "Linear prediction: a tutorial review"): the predictor
 * polynomial A(z) = 1 + a1 z^-1 + ... + ap z^-p from the autocorrelation; `null` if r[0] is zero.
 */
export function levinson(r: Float64Array, order: number): Float64Array | null {
  if (!(r[0] > 0)) return null;
  let a = new Float64Array(order + 1);
  a[0] = 1;
  let err = r[0];
  for (let i = 1; i <= order; i++) {
    let acc = r[i];
    for (let j = 1; j < i; j++) acc += a[j] * r[i - j];
    const k = -acc / err;
    const next = a.slice();
    for (let j = 1; j < i; j++) next[j] = a[j] + k * a[i - j];
    next[i] = k;
    a = next;
    err *= 1 - k * k;
    if (!(err > 0)) return null;
  }
  return a;
}

/**
 * All complex roots of the monic polynomial z^p + c[1] z^(p-1) + ... + c[p] by the Durand-Kerner
 * (Weierstrass) simultaneous iteration. Returns [re, im] pairs.
 */
export function polynomialRoots(c: Float64Array): [number, number][] {
  const p = c.length - 1;
  const zr = new Float64Array(p);
  const zi = new Float64Array(p);
  for (let k = 0; k < p; k++) {
    // (0.4 + 0.9i)^k: the customary starting points, none on a symmetry line.
    const mag = Math.hypot(0.4, 0.9) ** k;
    const ang = Math.atan2(0.9, 0.4) * k;
    zr[k] = mag * Math.cos(ang);
    zi[k] = mag * Math.sin(ang);
  }
  for (let iter = 0; iter < 500; iter++) {
    let moved = 0;
    for (let k = 0; k < p; k++) {
      // Horner: f(z_k).
      let fr = 1;
      let fi = 0;
      for (let j = 1; j <= p; j++) {
        const r = fr * zr[k] - fi * zi[k] + c[j];
        fi = fr * zi[k] + fi * zr[k];
        fr = r;
      }
      // Product of (z_k - z_j), j != k.
      let dr = 1;
      let di = 0;
      for (let j = 0; j < p; j++) {
        if (j === k) continue;
        const ar = zr[k] - zr[j];
        const ai = zi[k] - zi[j];
        const r = dr * ar - di * ai;
        di = dr * ai + di * ar;
        dr = r;
      }
      const den = dr * dr + di * di;
      if (den === 0) continue;
      const qr = (fr * dr + fi * di) / den;
      const qi = (fi * dr - fr * di) / den;
      zr[k] -= qr;
      zi[k] -= qi;
      moved = Math.max(moved, Math.hypot(qr, qi));
    }
    if (moved < 1e-12) break;
  }
  return Array.from({ length: p }, (_, k) => [zr[k], zi[k]]);
}

/** Mel scale (O'Shaughnessy 1987): m = 2595 log10(1 + f / 700). */
export const hzToMel = (f: number): number => 2595 * Math.log10(1 + f / 700);
export const melToHz = (m: number): number => 700 * (10 ** (m / 2595) - 1);

/** Triangular mel filterbank over an n-point FFT's n/2+1 bins (Davis & Mermelstein 1980). */
export function melFilterbank(
  bands: number,
  n: number,
  sampleRate: number,
  lowHz: number,
  highHz: number,
): Float64Array[] {
  const lo = hzToMel(lowHz);
  const hi = hzToMel(highHz);
  const edges = Array.from(
    { length: bands + 2 },
    (_, i) => (melToHz(lo + ((hi - lo) * i) / (bands + 1)) * n) / sampleRate,
  );
  return Array.from({ length: bands }, (_, b) => {
    const w = new Float64Array(n / 2 + 1);
    const [l, c, r] = [edges[b], edges[b + 1], edges[b + 2]];
    for (let k = Math.ceil(l); k <= Math.floor(r) && k <= n / 2; k++) {
      w[k] = k <= c ? (k - l) / (c - l) : (r - k) / (r - c);
    }
    return w;
  });
}

/** DCT-II of `x`, coefficients `from`..`to` inclusive (orthonormal scaling). */
export function dct(x: Float64Array, from: number, to: number): Float64Array {
  const n = x.length;
  const out = new Float64Array(to - from + 1);
  for (let k = from; k <= to; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i] * Math.cos((Math.PI * k * (i + 0.5)) / n);
    out[k - from] = s * Math.sqrt((k === 0 ? 1 : 2) / n);
  }
  return out;
}

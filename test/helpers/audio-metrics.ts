// Independent measurements for judging the engine: written from textbook definitions, sharing no code or
// graphs with the engine (a bug there must not be able to hide itself here).
import { fftInPlace } from './dsp.js';

/** In-place iterative radix-2 FFT; `re`/`im` length must be a power of two (twiddles cached per size). */
export const fft = fftInPlace;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function pearson(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  const ma = a.slice(0, n).reduce((s, v) => s + v, 0) / n;
  const mb = b.slice(0, n).reduce((s, v) => s + v, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

export function peakDbfs(pcm: Float32Array): number {
  let peak = 0;
  for (const v of pcm) peak = Math.max(peak, Math.abs(v));
  return 20 * Math.log10(peak);
}

export function allFinite(pcm: Float32Array): boolean {
  return pcm.every((v) => Number.isFinite(v));
}

function frameRms(pcm: Float32Array, start: number, length: number): number {
  let s = 0;
  for (let i = start; i < start + length; i++) s += pcm[i] ** 2;
  return Math.sqrt(s / length);
}

export interface YinOptions {
  fmin?: number;
  fmax?: number;
  /** Absolute threshold on the cumulative-mean-normalised difference (de Cheveigné & Kawahara 2002). */
  threshold?: number;
  /** Frames quieter than the loudest frame by more than this are not pitched. */
  gateDb?: number;
}

/** YIN pitch track, 10 ms hop; unvoiced or quiet frames are omitted. Returns F0 values in Hz. */
export function yinPitch(pcm: Float32Array, sampleRate: number, options: YinOptions = {}): number[] {
  return yinTrack(pcm, sampleRate, options).f0;
}

/** YIN pitch track with each voiced frame's centre time (s); unvoiced or quiet frames are omitted. */
export function yinTrack(
  pcm: Float32Array,
  sampleRate: number,
  options: YinOptions = {},
): { time: number[]; f0: number[] } {
  const { fmin = 60, fmax = 500, threshold = 0.12, gateDb = 30 } = options;
  const tauMin = Math.floor(sampleRate / fmax);
  const tauMax = Math.ceil(sampleRate / fmin);
  const w = tauMax;
  const hop = Math.round(sampleRate / 100);
  const starts: number[] = [];
  for (let s = 0; s + w + tauMax + 1 < pcm.length; s += hop) starts.push(s);
  const rms = starts.map((s) => frameRms(pcm, s, w + tauMax));
  const gate = Math.max(...rms, 0) * 10 ** (-gateDb / 20);
  const d = new Float64Array(tauMax + 2);
  const f0s: number[] = [];
  const times: number[] = [];
  starts.forEach((s, f) => {
    if (rms[f] <= gate || rms[f] === 0) return;
    for (let tau = 1; tau <= tauMax + 1; tau++) {
      let sum = 0;
      for (let j = 0; j < w; j++) {
        const diff = pcm[s + j] - pcm[s + j + tau];
        sum += diff * diff;
      }
      d[tau] = sum;
    }
    // Cumulative mean normalisation turns d into d' (d'(0) = 1).
    let running = 0;
    const dn = new Float64Array(tauMax + 2);
    dn[0] = 1;
    for (let tau = 1; tau <= tauMax + 1; tau++) {
      running += d[tau];
      dn[tau] = running > 0 ? (d[tau] * tau) / running : 1;
    }
    let tau = tauMin;
    while (tau <= tauMax && dn[tau] >= threshold) tau++;
    if (tau > tauMax) return;
    while (tau + 1 <= tauMax && dn[tau + 1] < dn[tau]) tau++;
    const a = dn[tau - 1];
    const b = dn[tau];
    const c = dn[tau + 1];
    const denom = a - 2 * b + c;
    const shift = denom > 0 ? (0.5 * (a - c)) / denom : 0;
    f0s.push(sampleRate / (tau + shift));
    times.push((s + (w + tauMax) / 2) / sampleRate);
  });
  return { time: times, f0: f0s };
}

/** Power spectra of Hann-windowed frames (one-sided, n/2+1 bins). */
function spectra(pcm: Float32Array, n: number, hop: number, windowLength = n): Float64Array[] {
  const win = Array.from(
    { length: windowLength },
    (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / windowLength),
  );
  const out: Float64Array[] = [];
  for (let s = 0; s + windowLength <= pcm.length; s += hop) {
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    for (let i = 0; i < windowLength; i++) re[i] = pcm[s + i] * win[i];
    fft(re, im);
    const p = new Float64Array(n / 2 + 1);
    for (let k = 0; k <= n / 2; k++) p[k] = re[k] ** 2 + im[k] ** 2;
    out.push(p);
  }
  return out;
}

const frameEnergy = (p: Float64Array): number => p.reduce((s, v) => s + v, 0);

/** Third-octave band centres from 125 Hz to 8 kHz (ISO 266 nominal series). */
export const THIRD_OCTAVES = Array.from({ length: 19 }, (_, i) => 125 * 2 ** (i / 3));

/**
 * Long-term average spectrum in dB per third-octave band (Welch, 2048-point frames), over frames within
 * 40 dB of the loudest, with the mean over bands removed (so overall level does not count).
 */
export function ltasBandsDb(pcm: Float32Array, sampleRate: number): number[] {
  const n = 2048;
  const frames = spectra(pcm, n, n / 4);
  const loudest = Math.max(...frames.map(frameEnergy));
  const active = frames.filter((p) => frameEnergy(p) >= loudest * 1e-4);
  const mean = new Float64Array(n / 2 + 1);
  for (const p of active) for (let k = 0; k < mean.length; k++) mean[k] += p[k] / active.length;
  const bands = THIRD_OCTAVES.map((fc) => {
    const lo = Math.ceil((fc * 2 ** (-1 / 6) * n) / sampleRate);
    const hi = Math.floor((fc * 2 ** (1 / 6) * n) / sampleRate);
    let s = 0;
    for (let k = lo; k <= hi; k++) s += mean[k];
    return 10 * Math.log10(s / (hi - lo + 1) + 1e-20);
  });
  const avg = bands.reduce((s, v) => s + v, 0) / bands.length;
  return bands.map((v) => v - avg);
}

/** RMS difference in dB between two level-normalised band spectra. */
export function bandDistanceDb(a: readonly number[], b: readonly number[]): number {
  return Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length);
}

export interface EnvelopeTrack {
  /** Frame-to-frame envelope change (RMS dB over 150 Hz - 6 kHz), index t = change from frame t-1 to t. */
  changes: number[];
  /** Whether frame t and t-1 are both within 40 dB of the loudest frame. */
  active: boolean[];
}

/**
 * Per-frame spectral envelope by cepstral smoothing (lifter at 1.5 ms quefrency, so harmonics of voices
 * under ~650 Hz are smoothed away and a pitch shift alone barely changes it), 25 ms frames every 10 ms.
 */
export function envelopeTrack(pcm: Float32Array, sampleRate: number): EnvelopeTrack {
  const n = 2 ** Math.ceil(Math.log2(0.025 * sampleRate));
  const frames = spectra(pcm, n, Math.round(sampleRate / 100), Math.round(0.025 * sampleRate));
  const loudest = Math.max(...frames.map(frameEnergy));
  const cut = Math.round(0.0015 * sampleRate);
  const lo = Math.ceil((150 * n) / sampleRate);
  const hi = Math.floor((6000 * n) / sampleRate);
  const envelopes = frames.map((p) => {
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    for (let k = 0; k <= n / 2; k++) {
      re[k] = Math.log(p[k] + loudest * 1e-9);
      if (k > 0 && k < n / 2) re[n - k] = re[k];
    }
    fft(re, im);
    for (let q = cut; q <= n - cut; q++) {
      re[q] = 0;
      im[q] = 0;
    }
    // Forward FFT of the real, even liftered cepstrum gives n * envelope.
    fft(re, im);
    return Array.from({ length: hi - lo + 1 }, (_, i) => ((re[lo + i] / n) * 10) / Math.LN10);
  });
  const loud = frames.map((p) => frameEnergy(p) >= loudest * 1e-4);
  const changes = envelopes.map((e, t) =>
    t === 0 ? 0 : Math.sqrt(e.reduce((s, v, i) => s + (v - envelopes[t - 1][i]) ** 2, 0) / e.length),
  );
  return { changes, active: loud.map((l, t) => t > 0 && l && loud[t - 1]) };
}

/** Correlation of envelope changes between a processed signal and its source, over the source's active frames. */
export function envelopeDynamicsCorrelation(source: EnvelopeTrack, processed: EnvelopeTrack): number {
  const a: number[] = [];
  const b: number[] = [];
  const n = Math.min(source.changes.length, processed.changes.length);
  for (let t = 0; t < n; t++) {
    if (!source.active[t]) continue;
    a.push(source.changes[t]);
    b.push(processed.changes[t]);
  }
  return pearson(a, b);
}

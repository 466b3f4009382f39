// A second, independent F0 estimator, to check the judge's YIN (voice-measures.ts `voicing`) against: two
// frequency-domain methods that share no code with YIN, with the judge's voicing gate or with the model
// (only the textbook FFT of dsp.ts). Neither looks below 250 Hz, so a mains hum and its low harmonics (the
// 120 Hz buzz in some LibriSpeech pauses) cannot pass for a voice; a frame counts as voiced only where the
// two methods agree.
//  - Subharmonic summation (Hermes 1988, "Measurement of pitch by subharmonic summation"): each candidate
//    F0's score is the weighted sum of the spectrum's peaks (how far each bin rises over its +-60 Hz mean)
//    at its multiples within 250-2500 Hz, weight 0.84^(r-1) for the r-th multiple inside that band, less
//    the mean at the two half-way points beside each multiple (so F0/2, whose extra multiples fall between
//    the harmonics, and 2 F0, whose half-way points are harmonics, score low).
//  - The real cepstrum (Noll 1967, "Cepstrum pitch determination") of the log spectrum's 250-4000 Hz band:
//    its largest peak between the quefrencies of 400 and 60 Hz.
import { fftInPlace, hann } from './dsp.js';

export interface IndependentF0Options {
  /** Candidate range (Hz). Default 60..400 (adult speech). */
  fmin?: number;
  fmax?: number;
  /** Largest disagreement between the two methods for a voiced frame (ratio - 1). Default 0.05. */
  agreement?: number;
}

export interface IndependentF0Track {
  /** Centre time (s) of each frame where the two methods agree. */
  time: number[];
  /** Geometric mean of the two estimates there (Hz). */
  f0: number[];
  /** Frames examined (every 10 ms). */
  frames: number;
}

const FRAME_S = 0.048;
const HOP_S = 0.01;
const FFT_SIZE = 4096;
const SHS_BAND: readonly [number, number] = [250, 2500];
const CEPSTRUM_BAND: readonly [number, number] = [250, 4000];
const SHS_DECAY = 0.84;
/** Candidates per octave for the summation (refined by a parabola through the best and its neighbours). */
const STEPS_PER_OCTAVE = 96;
/** Half-width (Hz) of the running mean a spectral peak must rise above to count. */
const PEAK_CONTEXT_HZ = 60;

/** Log power spectrum (natural log) of one windowed frame, FFT_SIZE/2 + 1 bins. */
function logSpectrum(frame: Float64Array, floor: number): Float64Array {
  const re = new Float64Array(FFT_SIZE);
  const im = new Float64Array(FFT_SIZE);
  re.set(frame);
  fftInPlace(re, im);
  return Float64Array.from({ length: FFT_SIZE / 2 + 1 }, (_, k) => Math.log(re[k] ** 2 + im[k] ** 2 + floor));
}

/** How far each bin rises above the running mean of +-PEAK_CONTEXT_HZ around it (0 where it does not). */
function peakProminence(log: Float64Array, sampleRate: number): Float64Array {
  const half = Math.round((PEAK_CONTEXT_HZ * FFT_SIZE) / sampleRate);
  const prefix = new Float64Array(log.length + 1);
  for (let k = 0; k < log.length; k++) prefix[k + 1] = prefix[k] + log[k];
  return log.map((v, k) => {
    const lo = Math.max(0, k - half);
    const hi = Math.min(log.length - 1, k + half);
    return Math.max(0, v - (prefix[hi + 1] - prefix[lo]) / (hi - lo + 1));
  });
}

/** Linear interpolation of `values` at fractional bin `x`. */
function at(values: Float64Array, x: number): number {
  const k = Math.floor(x);
  const t = x - k;
  return values[k] * (1 - t) + values[k + 1] * t;
}

/** Vertex of the parabola through (-1, a), (0, b), (1, c): the offset from the middle point. */
function parabolaOffset(a: number, b: number, c: number): number {
  const denom = a - 2 * b + c;
  return denom < 0 ? (0.5 * (a - c)) / denom : 0;
}

function subharmonicSummation(
  prominence: Float64Array,
  sampleRate: number,
  fmin: number,
  fmax: number,
): number {
  const binHz = sampleRate / FFT_SIZE;
  const steps = Math.ceil(Math.log2(fmax / fmin) * STEPS_PER_OCTAVE);
  const scores = new Float64Array(steps + 1);
  for (let i = 0; i <= steps; i++) {
    const f = fmin * 2 ** (i / STEPS_PER_OCTAVE);
    let weight = 1;
    let s = 0;
    for (let n = Math.ceil(SHS_BAND[0] / f); n * f <= SHS_BAND[1]; n++) {
      const between = at(prominence, ((n - 0.5) * f) / binHz) + at(prominence, ((n + 0.5) * f) / binHz);
      s += weight * (at(prominence, (n * f) / binHz) - 0.5 * between);
      weight *= SHS_DECAY;
    }
    scores[i] = s;
  }
  let best = 0;
  for (let i = 1; i <= steps; i++) if (scores[i] > scores[best]) best = i;
  const shift =
    best > 0 && best < steps ? parabolaOffset(scores[best - 1], scores[best], scores[best + 1]) : 0;
  return fmin * 2 ** ((best + shift) / STEPS_PER_OCTAVE);
}

function cepstrumPeak(log: Float64Array, sampleRate: number, fmin: number, fmax: number): number {
  const lo = Math.ceil((CEPSTRUM_BAND[0] * FFT_SIZE) / sampleRate);
  const hi = Math.floor((CEPSTRUM_BAND[1] * FFT_SIZE) / sampleRate);
  let mean = 0;
  for (let k = lo; k <= hi; k++) mean += log[k] / (hi - lo + 1);
  // The band's log spectrum, mean removed and tapered, as an even sequence: its FFT is the real cepstrum
  // of the band (the spectrum outside it counts as flat).
  const re = new Float64Array(FFT_SIZE);
  const im = new Float64Array(FFT_SIZE);
  const taper = hann(hi - lo + 1);
  for (let k = lo; k <= hi; k++) {
    re[k] = (log[k] - mean) * taper[k - lo];
    re[FFT_SIZE - k] = re[k];
  }
  fftInPlace(re, im);
  const qMin = Math.floor(sampleRate / fmax);
  const qMax = Math.ceil(sampleRate / fmin);
  let best = qMin;
  for (let q = qMin + 1; q <= qMax; q++) if (re[q] > re[best]) best = q;
  return sampleRate / (best + parabolaOffset(re[best - 1], re[best], re[best + 1]));
}

/**
 * F0 track by subharmonic summation and the real cepstrum, 48 ms Hann frames every 10 ms (4096-point FFT):
 * a frame is voiced where both methods' estimates agree within `agreement`, its F0 their geometric mean.
 * Silent frames are skipped; no level gate beyond that (agreement is the voicing decision).
 */
export function independentF0(
  pcm: Float32Array,
  sampleRate: number,
  options: IndependentF0Options = {},
): IndependentF0Track {
  const { fmin = 60, fmax = 400, agreement = 0.05 } = options;
  const length = Math.round(FRAME_S * sampleRate);
  const hop = Math.round(HOP_S * sampleRate);
  const window = hann(length);
  let loudest = 0;
  for (const v of pcm) loudest = Math.max(loudest, v * v);
  const floor = loudest * length * 1e-12;
  const time: number[] = [];
  const f0: number[] = [];
  let count = 0;
  for (let s = 0; s + length <= pcm.length; s += hop) {
    count++;
    const frame = new Float64Array(length);
    let energy = 0;
    for (let i = 0; i < length; i++) {
      frame[i] = pcm[s + i] * window[i];
      energy += frame[i] ** 2;
    }
    if (energy === 0) continue;
    const log = logSpectrum(frame, floor);
    const shs = subharmonicSummation(peakProminence(log, sampleRate), sampleRate, fmin, fmax);
    const cep = cepstrumPeak(log, sampleRate, fmin, fmax);
    if (Math.abs(Math.log(shs / cep)) > Math.log1p(agreement)) continue;
    time.push((s + length / 2) / sampleRate);
    f0.push(Math.sqrt(shs * cep));
  }
  return { time, f0, frames: count };
}

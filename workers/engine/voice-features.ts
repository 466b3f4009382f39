/**
 * Per-frame features a voice profile stores beside its F0 statistics: LPC formants (the vocal-tract
 * scale) and level-free cepstra of the frame envelopes (for the envelope statistics). Pure functions over
 * one frame's power spectrum (bins 0..N/2 of an N-point FFT), so they are unit-tested alone.
 */

// CEPSTRA and MAX_CEPSTRA live with the profile's schema (voice-profile.ts), which bounds its arrays by
// them: the API checks profiles and manifests without loading the engine's feature code.
import { CEPSTRA } from './voice-profile.js';

/**
 * Floor added to every bin before the log, relative to the frame's mean power: band-limited recordings
 * (16 kHz sources hold nothing above 8 kHz) keep a finite envelope. The conversion graph uses the same.
 */
export const RELATIVE_FLOOR = 1e-5;

/** Weight of bin k in a sum over the whole even spectrum: c_k / N. */
function evenWeight(k: number, bins: number): number {
  const n = 2 * (bins - 1);
  return (k === 0 || k === bins - 1 ? 1 : 2) / n;
}

/**
 * The frame cepstra describe the band 0..8 kHz only, the band every speech recording holds (a 16 kHz
 * source is empty above it, and the cliff there would dominate every distance).
 */
export const CEPSTRUM_BAND_HZ = 8000;

/**
 * Weight of bin k in band cepstrum c_q (band `span` bins, held from bin `edge` down): the cosine over the band
 * times the bin's share of it (half at DC), with every bin below `edge` read as bin `edge`, so the cepstra can
 * start above the rumble (a model's `analysis.envelopeFromHz`; recordings differ most below the voice:
 * rumble and DC offsets, LibriSpeech 198 and 150 +44-47 dB at 0 Hz against their 50 Hz-7 kHz mean, which 24
 * cosines over 0..8 kHz carry as a broad hump with ripples). Shared with the model's graphs
 * (models/builder/envelope-map.ts), so the profile's cepstra and the conversion's agree.
 */
export function bandCepstrumWeight(k: number, q: number, span: number, edge: number): number {
  const at = (j: number): number => (Math.cos((Math.PI * q * j) / span) * (j === 0 ? 1 : 2)) / (2 * span);
  if (k > span || k < edge) return 0;
  if (k > edge) return at(k);
  let s = 0;
  for (let j = 0; j <= edge; j++) s += at(j);
  return s;
}

/** The first bin at or above `fromHz` (0 for none) at `hzPerBin`. */
export function cepstrumEdge(hzPerBin: number, fromHz: number): number {
  return Math.max(0, Math.ceil(fromHz / hzPerBin - 1e-9));
}

/**
 * Band cepstrum table: c_q = sum over bins f_k <= band of v_k cos(pi q f_k / band) ln P_k, v_k the bin's share of
 * the band (half at DC), ln P_k below `fromHz` read at the first bin at or above it (bandCepstrumWeight), for
 * q = 1..count, row-major [count][bins]; 0 past the band.
 */
export function cepstrumTable(
  bins: number,
  sampleRate: number,
  fromHz: number,
  count = CEPSTRA,
): Float64Array {
  const hzPerBin = sampleRate / (2 * (bins - 1));
  const span = CEPSTRUM_BAND_HZ / hzPerBin;
  const edge = cepstrumEdge(hzPerBin, fromHz);
  const t = new Float64Array(count * bins);
  for (let q = 1; q <= count; q++) {
    for (let k = 0; k < bins && k <= span; k++) t[(q - 1) * bins + k] = bandCepstrumWeight(k, q, span, edge);
  }
  return t;
}

/** Mean power of the frame over the whole (even) spectrum, or its bins from `fromBin` up. */
export function meanPower(power: ArrayLike<number>, offset: number, bins: number, fromBin = 0): number {
  let s = 0;
  for (let k = fromBin; k < bins; k++) s += evenWeight(k, bins) * power[offset + k];
  return s;
}

/**
 * c1..cQ of ln(power + floor) for one frame into `out`; the table comes from cepstrumTable(), and the floor is
 * relative to the mean power from its held bin up (`fromBin`, cepstrumEdge), so rumble below it sets no floor.
 */
export function frameCepstrum(
  power: ArrayLike<number>,
  offset: number,
  bins: number,
  table: Float64Array,
  out: Float64Array,
  fromBin = 0,
): void {
  const floor = RELATIVE_FLOOR * meanPower(power, offset, bins, fromBin) + 1e-20;
  const logs = new Float64Array(bins);
  for (let k = 0; k < bins; k++) logs[k] = Math.log(power[offset + k] + floor);
  const count = table.length / bins;
  for (let q = 0; q < count; q++) {
    let s = 0;
    const row = q * bins;
    for (let k = 0; k < bins; k++) s += table[row + k] * logs[k];
    out[q] = s;
  }
}

/** LPC analysis band: the frame's spectrum up to 8 kHz, read as if sampled at 16 kHz. */
const LPC_RATE = 16000;
const LPC_ORDER = 18;
/**
 * Pre-emphasis against the voice source's tilt (-12 dB/octave above ~100 Hz): with it F1..F3 of a tilted
 * all-pole vowel come out within 1 %; at 0.5 the first harmonics of real female speech passed for F1.
 */
const PRE_EMPHASIS = 0.97;
/** Formant search: peaks of the LPC envelope on a 10 Hz grid, F1 from 150 Hz, F3 below 5 kHz. */
const GRID_HZ = 10;
const FORMANT_MIN_HZ = 150;
const FORMANT_MAX_HZ = 5000;
/**
 * The envelope is read on a circle of this radius inside the unit circle, which sharpens each pole's peak
 * onto its angle: read on the unit circle, pre-emphasis and the voice's own tilt pulled a 300 Hz F1 to 342 Hz.
 */
const PEAK_RADIUS = 0.97;

/** Levinson-Durbin: autocorrelation r[0..p] -> predictor a[0..p] (a[0] = 1), or null when unstable. */
export function levinson(r: Float64Array, order: number): Float64Array | null {
  const a = new Float64Array(order + 1);
  a[0] = 1;
  let err = r[0];
  if (!(err > 0)) return null;
  const tmp = new Float64Array(order + 1);
  for (let i = 1; i <= order; i++) {
    let acc = r[i];
    for (let j = 1; j < i; j++) acc += a[j] * r[i - j];
    const k = -acc / err;
    if (!(Math.abs(k) < 1)) return null;
    tmp.set(a);
    for (let j = 1; j < i; j++) a[j] = tmp[j] + k * tmp[i - j];
    a[i] = k;
    err *= 1 - k * k;
  }
  return a;
}

/** Precomputed tables for frameFormants at one framing. */
export interface FormantTables {
  bins: number;
  /** Bins below 8 kHz times their weight and the pre-emphasis, cos(2 pi f m / 16000) [order + 1][band]. */
  acf: Float64Array;
  band: number;
  /** cos and sin of the grid frequencies times lag, [grid][order + 1]. */
  cos: Float64Array;
  sin: Float64Array;
  grid: number;
}

/**
 * `fromHz`: the power below it is read at the first bin at or above it (cepstrumEdge), as the envelope
 * cepstra do, so rumble and DC offsets are no pole of the LPC fit.
 */
export function formantTables(bins: number, sampleRate: number, fromHz = 0): FormantTables {
  const n = 2 * (bins - 1);
  const hzPerBin = sampleRate / n;
  const band = Math.min(bins, Math.floor(LPC_RATE / 2 / hzPerBin) + 1);
  const edge = Math.min(band - 1, cepstrumEdge(hzPerBin, fromHz));
  const p = LPC_ORDER + 1;
  const acf = new Float64Array(p * band);
  for (let k = 0; k < band; k++) {
    const w = (2 * Math.PI * k * hzPerBin) / LPC_RATE;
    const emphasis = 1 + PRE_EMPHASIS * PRE_EMPHASIS - 2 * PRE_EMPHASIS * Math.cos(w);
    for (let m = 0; m < p; m++)
      acf[m * band + Math.max(k, edge)] += Math.cos(w * m) * emphasis * (k === 0 ? 1 : 2);
  }
  const grid = Math.floor(FORMANT_MAX_HZ / GRID_HZ) + 2;
  const cos = new Float64Array(grid * p);
  const sin = new Float64Array(grid * p);
  for (let g = 0; g < grid; g++) {
    const w = (2 * Math.PI * g * GRID_HZ) / LPC_RATE;
    for (let m = 0; m < p; m++) {
      cos[g * p + m] = Math.cos(w * m) * PEAK_RADIUS ** -m;
      sin[g * p + m] = Math.sin(w * m) * PEAK_RADIUS ** -m;
    }
  }
  return { bins, acf, band, cos, sin, grid };
}

/**
 * F1..F3 (Hz) of one frame: the first three peaks of its order-18 LPC envelope (8 kHz band,
 * pre-emphasised, read at radius PEAK_RADIUS) between 150 Hz and 5 kHz, parabolically refined; null where
 * fewer peaks are found.
 */
export function frameFormants(power: ArrayLike<number>, offset: number, t: FormantTables): number[] | null {
  const p = LPC_ORDER + 1;
  const r = new Float64Array(p);
  for (let m = 0; m < p; m++) {
    let s = 0;
    const row = m * t.band;
    for (let k = 0; k < t.band; k++) s += t.acf[row + k] * power[offset + k];
    r[m] = s;
  }
  // A little lag windowing keeps the recursion stable on nearly periodic frames.
  r[0] *= 1 + 1e-6;
  const a = levinson(r, LPC_ORDER);
  if (!a) return null;
  const env = new Float64Array(t.grid);
  for (let g = 0; g < t.grid; g++) {
    let re = 0;
    let im = 0;
    for (let m = 0; m < p; m++) {
      re += a[m] * t.cos[g * p + m];
      im -= a[m] * t.sin[g * p + m];
    }
    env[g] = -Math.log(re * re + im * im + 1e-30);
  }
  const found: number[] = [];
  for (let g = 1; g < t.grid - 1 && found.length < 3; g++) {
    if (!(env[g] > env[g - 1] && env[g] >= env[g + 1])) continue;
    const curve = env[g - 1] - 2 * env[g] + env[g + 1];
    const delta = curve < 0 ? (0.5 * (env[g - 1] - env[g + 1])) / curve : 0;
    const hz = (g + Math.max(-0.5, Math.min(0.5, delta))) * GRID_HZ;
    if (hz >= FORMANT_MIN_HZ && hz <= FORMANT_MAX_HZ) found.push(hz);
  }
  return found.length === 3 ? found : null;
}

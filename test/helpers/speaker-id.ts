// A speaker-identification judge of our own: second-order statistics of mean-normalised mel cepstra
// compared by the arithmetic-harmonic sphericity measure (Bimbot, Magrin-Chagnolleau & Mathan 1995,
// "Second-order statistical measures for text-independent speaker identification", Speech Communication
// 17). Deliberately not MFCC + GMM-UBM (the held-back judge of issue 10), and blind to a fixed EQ: cepstral
// mean normalisation removes any time-invariant filter, so only how the spectrum varies counts.
// (A VQ codebook judge, Soong et al. 1985, reached only 34-38 of 40 on the same held-out parts.)
import { dct, frames, hamming, loudFrames, melFilterbank, powerSpectrum } from './dsp.js';
import { MEASURE_RATE } from './voice-measures.js';

const N_FFT = 512;
const BANDS = 40;
const CEPSTRA = 19;
const bank = melFilterbank(BANDS, N_FFT, MEASURE_RATE, 60, 7000);

/**
 * MFCC c1..c19 (Davis & Mermelstein 1980: 25 ms Hamming frames every 10 ms, pre-emphasis 0.97, 40 mel
 * bands 60 Hz-7 kHz, log, DCT-II) of the frames within `gateDb` (40) of the loudest, with their mean removed.
 */
export function mfcc(pcm: Float32Array, sampleRate: number, gateDb = 40, cepstra = CEPSTRA): Float64Array[] {
  if (sampleRate !== MEASURE_RATE) throw new Error(`mfcc takes ${MEASURE_RATE} Hz audio, got ${sampleRate}`);
  const pre = new Float32Array(pcm.length);
  for (let i = pcm.length - 1; i > 0; i--) pre[i] = pcm[i] - 0.97 * pcm[i - 1];
  const active = loudFrames(frames(pre, sampleRate, 0.01, hamming(Math.round(0.025 * sampleRate))), gateDb);
  const floor = Math.max(...active.map((f) => f.energy)) * 1e-9;
  const out = active.map((f) => {
    const p = powerSpectrum(f.samples, N_FFT);
    const logBands = Float64Array.from(bank, (w) => {
      let s = 0;
      for (let k = 0; k < w.length; k++) s += w[k] * p[k];
      return Math.log(s + floor);
    });
    return dct(logBands, 1, cepstra);
  });
  const mean = new Float64Array(cepstra);
  for (const c of out) for (let k = 0; k < cepstra; k++) mean[k] += c[k] / out.length;
  for (const c of out) for (let k = 0; k < cepstra; k++) c[k] -= mean[k];
  return out;
}

/** Covariance matrix (row-major, dim x dim) of zero-mean vectors, with its Cholesky factor. */
interface Covariance {
  dim: number;
  c: Float64Array;
  chol: Float64Array;
}

function covariance(vectors: readonly Float64Array[]): Covariance {
  const dim = vectors[0].length;
  const c = new Float64Array(dim * dim);
  for (const v of vectors)
    for (let i = 0; i < dim; i++) for (let j = 0; j <= i; j++) c[i * dim + j] += v[i] * v[j];
  for (let i = 0; i < dim; i++)
    for (let j = 0; j <= i; j++) {
      c[i * dim + j] /= vectors.length;
      c[j * dim + i] = c[i * dim + j];
    }
  const chol = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++)
    for (let j = 0; j <= i; j++) {
      let s = c[i * dim + j];
      for (let k = 0; k < j; k++) s -= chol[i * dim + k] * chol[j * dim + k];
      chol[i * dim + j] = i === j ? Math.sqrt(s) : s / chol[j * dim + j];
    }
  return { dim, c, chol };
}

/** tr(X Y^-1), solving Y w = x_col by its Cholesky factor, column by column. */
function traceOfQuotient(x: Covariance, y: Covariance): number {
  const d = x.dim;
  const L = y.chol;
  const z = new Float64Array(d);
  const w = new Float64Array(d);
  let trace = 0;
  for (let col = 0; col < d; col++) {
    for (let i = 0; i < d; i++) {
      let r = x.c[i * d + col];
      for (let k = 0; k < i; k++) r -= L[i * d + k] * z[k];
      z[i] = r / L[i * d + i];
    }
    for (let i = d - 1; i >= 0; i--) {
      let r = z[i];
      for (let k = i + 1; k < d; k++) r -= L[k * d + i] * w[k];
      w[i] = r / L[i * d + i];
    }
    trace += w[col];
  }
  return trace;
}

/** Arithmetic-harmonic sphericity: log(tr(X Y^-1) tr(Y X^-1)) - 2 log(dim); 0 when X = Y. */
export function sphericity(x: Covariance, y: Covariance): number {
  return Math.log(traceOfQuotient(x, y) * traceOfQuotient(y, x)) - 2 * Math.log(x.dim);
}

export interface SpeakerModel {
  speaker: string;
  covariance: Covariance;
}

/** One model per speaker, from 16 kHz enrolment audio. */
export function enrol(speakers: readonly { speaker: string; pcm: Float32Array }[]): SpeakerModel[] {
  return speakers.map(({ speaker, pcm }) => ({ speaker, covariance: covariance(mfcc(pcm, MEASURE_RATE)) }));
}

/** Speakers ranked by sphericity between `pcm` (16 kHz) and their models, closest first. */
export function identify(
  models: readonly SpeakerModel[],
  pcm: Float32Array,
): { speaker: string; score: number }[] {
  const test = covariance(mfcc(pcm, MEASURE_RATE));
  return models
    .map((m) => ({ speaker: m.speaker, score: sphericity(m.covariance, test) }))
    .sort((a, b) => a.score - b.score);
}

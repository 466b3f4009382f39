/**
 * Per-frame periodicity on the judge's YIN framing (16 kHz, 10 ms hop, window and lag range for 60-500 Hz),
 * for diagnostics (scripts/f0-bias.ts). Written apart from the judge's YIN (test/helpers/audio-metrics.ts),
 * whose voiced/unvoiced decision is the threshold 0.2 on the same quantity.
 */

const FMIN = 60;
const FMAX = 500;

/**
 * YIN's aperiodicity per 10 ms frame: the smallest cumulative-mean-normalised difference d'(tau) over the lag
 * range (de Cheveigné & Kawahara 2002: about the aperiodic share of the frame's power; 0 for a periodic
 * frame, near 1 for noise). Frame f starts at sample f x hop, as the judge's YIN frames do; NaN past the end.
 */
export function aperiodicity(pcm: Float32Array, sampleRate: number): Float64Array {
  const tauMin = Math.floor(sampleRate / FMAX);
  const tauMax = Math.ceil(sampleRate / FMIN);
  const w = tauMax;
  const hop = Math.round(sampleRate / 100);
  const out = new Float64Array(Math.ceil(pcm.length / hop)).fill(Number.NaN);
  for (let f = 0; f * hop + w + tauMax + 1 < pcm.length; f++) {
    const s = f * hop;
    let running = 0;
    let best = 1;
    for (let tau = 1; tau <= tauMax; tau++) {
      let sum = 0;
      for (let j = 0; j < w; j++) {
        const diff = pcm[s + j] - pcm[s + j + tau];
        sum += diff * diff;
      }
      running += sum;
      if (tau >= tauMin && running > 0) best = Math.min(best, (sum * tau) / running);
    }
    out[f] = best;
  }
  return out;
}

/** Zero-phase second-order Butterworth low-pass (forward and backward), for a band-limited periodicity. */
export function lowPass(pcm: Float32Array, sampleRate: number, cutoffHz: number): Float32Array {
  const k = Math.tan((Math.PI * cutoffHz) / sampleRate);
  const q = Math.SQRT1_2;
  const norm = 1 / (1 + k / q + k * k);
  const b0 = k * k * norm;
  const b1 = 2 * b0;
  const a1 = 2 * (k * k - 1) * norm;
  const a2 = (1 - k / q + k * k) * norm;
  const pass = (x: Float32Array): Float32Array => {
    const y = new Float32Array(x.length);
    let x1 = 0;
    let x2 = 0;
    let y1 = 0;
    let y2 = 0;
    for (let i = 0; i < x.length; i++) {
      const v = b0 * x[i] + b1 * x1 + b0 * x2 - a1 * y1 - a2 * y2;
      x2 = x1;
      x1 = x[i];
      y2 = y1;
      y1 = v;
      y[i] = v;
    }
    return y;
  };
  return pass(pass(pcm).reverse()).reverse();
}

/**
 * Each frame's power above `splitHz` over its power below, in dB (the frame's spectral balance), on the same
 * frames as aperiodicity(): the low band from lowPass, the high band the rest.
 */
export function bandBalance(pcm: Float32Array, sampleRate: number, splitHz: number): Float64Array {
  const low = lowPass(pcm, sampleRate, splitHz);
  const tauMax = Math.ceil(sampleRate / FMIN);
  const span = 2 * tauMax;
  const hop = Math.round(sampleRate / 100);
  const out = new Float64Array(Math.ceil(pcm.length / hop)).fill(Number.NaN);
  for (let f = 0; f * hop + span + 1 < pcm.length; f++) {
    let lo = 0;
    let hi = 0;
    for (let j = f * hop; j < f * hop + span; j++) {
      lo += low[j] ** 2;
      hi += (pcm[j] - low[j]) ** 2;
    }
    out[f] = 10 * Math.log10((hi + 1e-20) / (lo + 1e-20));
  }
  return out;
}

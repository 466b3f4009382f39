import { fft } from '../../test/helpers/audio-metrics.js';

const N = 4096;

/**
 * Level of the band [lo, hi) Hz relative to the whole signal's power, in dB, from the mean
 * Hann-windowed power spectrum (frames of 4096 samples, half overlapped).
 */
export function highBandDb(pcm: Float32Array, sampleRate: number, lo: number, hi: number): number {
  const power = new Float64Array(N / 2 + 1);
  const re = new Float64Array(N);
  const im = new Float64Array(N);
  for (let at = 0; at + N <= pcm.length; at += N / 2) {
    for (let i = 0; i < N; i++) {
      re[i] = pcm[at + i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N));
      im[i] = 0;
    }
    fft(re, im);
    for (let k = 0; k <= N / 2; k++) power[k] += re[k] * re[k] + im[k] * im[k];
  }
  let band = 0;
  let total = 0;
  for (let k = 0; k <= N / 2; k++) {
    const f = (k * sampleRate) / N;
    total += power[k];
    if (f >= lo && f < hi) band += power[k];
  }
  return 10 * Math.log10(band / total + 1e-30);
}

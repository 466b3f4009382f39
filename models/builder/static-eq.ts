import { bins, type Framing, f32, i64, logDb } from './dsp.js';
import { fftSplit, framesA, irfftA, responseA, rfftA } from './fft.js';
import type { GraphBuilder } from './graph-builder.js';

export interface StaticEqOptions {
  /** Gaussian smoothing of the correction, in Hz: sigma = max(minHz, fraction * f). */
  minHz: number;
  fraction: number;
  /** Limits after the level offset: cuts, and boosts (which would lift noise the source barely has). */
  maxCutDb: number;
  maxBoostDb: number;
}

/**
 * Gaussian smoothing matrix [in, out] whose columns sum to 1, generated in-graph (folded at load). Its width
 * grows with frequency like hearing's; at 15 Hz it keeps the fundamental's region apart from the first
 * harmonics', which the long-term spectra of two voices differ in most.
 */
function smoothingMatrix(b: GraphBuilder, f: Framing, o: StaticEqOptions): string {
  const nb = bins(f);
  const hzPerBin = f.sampleRate / f.nfft;
  const k = b.op('Range', [f32(b, [0], []), f32(b, [nb], []), f32(b, [1], [])]);
  const out = b.op('Unsqueeze', [k, i64(b, [0])]);
  const input = b.op('Unsqueeze', [k, i64(b, [1])]);
  const sigma = b.op('Max', [b.op('Mul', [out, f32(b, [o.fraction], [])]), f32(b, [o.minHz / hzPerBin], [])]);
  const z = b.op('Div', [b.op('Sub', [input, out]), sigma]);
  const w = b.op('Exp', [b.op('Mul', [b.op('Mul', [z, z]), f32(b, [-0.5], [])])]);
  return b.op('Div', [w, b.op('ReduceSum', [w, i64(b, [0])], { keepdims: 1 })]);
}

/**
 * Static correction in natural-log power units on the analysis grid [bins]: (target - source) long-term
 * envelopes, smoothed, scaled by strength, offset so the source's long-term power is unchanged, limited.
 */
export function staticEqGain(
  b: GraphBuilder,
  f: Framing,
  src: string,
  tgt: string,
  strength: string,
  o: StaticEqOptions,
): string {
  const diff = b.op('Unsqueeze', [b.op('Sub', [tgt, src]), i64(b, [0])]);
  const smooth = b.op('Squeeze', [b.op('MatMul', [diff, smoothingMatrix(b, f, o)]), i64(b, [0])]);
  const lse = (t: string): string => b.op('ReduceLogSumExp', [t, i64(b, [0])], { keepdims: 1 });
  // Keeps the source's long-term power: the level difference between the recordings is no timbre.
  const level = (g: string): string => b.op('Sub', [g, b.op('Sub', [lse(b.op('Add', [src, g])), lse(src)])]);
  const g = level(b.op('Mul', [smooth, strength]));
  return level(b.op('Clip', [g, f32(b, [-logDb(o.maxCutDb)], []), f32(b, [logDb(o.maxBoostDb)], [])]));
}

/**
 * The converted source's long-term envelope over the whole analysed span, estimated from a short one:
 * `shortConverted` and `shortInput` measured over the same first seconds (converted and as it came), and
 * `longInput` the source's long-term envelope from the analysis pass. What the conversion does to the
 * long-term envelope (shortConverted - shortInput) moves little from one stretch of speech to the next; what
 * the speech says moves either envelope much more, and cancels in the difference.
 */
export function longTermEstimate(
  b: GraphBuilder,
  shortConverted: string,
  shortInput: string,
  longInput: string,
): string {
  return b.op('Add', [longInput, b.op('Sub', [shortConverted, shortInput])]);
}

/** cos(2*pi*r*c/n) for r in 0..rows-1, c in 0..cols-1, reduced mod n for float32 precision. */
function cosMatrix(b: GraphBuilder, rows: number, cols: number, n: number): string {
  const range = (m: number): string => b.op('Range', [f32(b, [0], []), f32(b, [m], []), f32(b, [1], [])]);
  const r = b.op('Unsqueeze', [range(rows), i64(b, [1])]);
  const c = b.op('Unsqueeze', [range(cols), i64(b, [0])]);
  const rc = b.op('Mod', [b.op('Mul', [r, c]), f32(b, [n], [])], { fmod: 1 });
  return b.op('Cos', [b.op('Mul', [rc, f32(b, [(2 * Math.PI) / n], [])])]);
}

/**
 * Applies a zero-phase FIR, designed from `logPowerGain` on grid `f` (frequency sampling, Hann-tapered to
 * nfft+1 taps), to `audio` [1, L] by exact block convolution (overlap-save, real FFTs of 2 * nfft). Output
 * sample p depends on input samples p - nfft/2 .. p + nfft/2 only, so chunked equals whole-file.
 */
export function firFilter(b: GraphBuilder, f: Framing, audio: string, logPowerGain: string): string {
  const n = f.nfft;
  const half = n / 2;
  const nb = bins(f);
  // h[m], m = 0..n/2 (h is even): inverse real DFT of the magnitude on the n-point grid.
  const magnitude = b.op('Exp', [b.op('Mul', [logPowerGain, f32(b, [0.5], [])])]);
  const weights = Array.from({ length: nb }, (_, k) => (k === 0 || k === half ? 1 : 2) / n);
  const weighted = b.op('Unsqueeze', [b.op('Mul', [magnitude, f32(b, weights)]), i64(b, [0])]);
  const h = b.op('MatMul', [weighted, cosMatrix(b, nb, half + 1, n)]);
  // Taper (Hann over 2 * half + 1 taps) and fold the even symmetry into the weights of the 2n-point DFT.
  const taper = Array.from(
    { length: half + 1 },
    (_, m) => (m === 0 ? 1 : 2) * 0.5 * (1 + Math.cos((Math.PI * m) / (half + 1))),
  );
  const response = b.op('MatMul', [b.op('Mul', [h, f32(b, taper)]), cosMatrix(b, half + 1, n + 1, 2 * n)]);

  // Overlap-save: frames of 2n at hop n over the audio with half zeros in front (zeros beyond the edges);
  // each frame's circular convolution is exact at positions half .. half + n, the response spanning
  // +-half. The response is real (zero-phase), so it scales each bin.
  const length = b.op('Slice', [b.op('Shape', [audio]), i64(b, [1]), i64(b, [2])]);
  const blocks = b.op('Div', [b.op('Add', [length, i64(b, [n - 1])]), i64(b, [n])]);
  const padEnd = b.op('Sub', [
    b.op('Mul', [b.op('Add', [blocks, i64(b, [1])]), i64(b, [n])]),
    b.op('Add', [length, i64(b, [half])]),
  ]);
  const padded = b.op('Pad', [audio, b.op('Concat', [i64(b, [0, half, 0]), padEnd], { axis: 0 })]);
  const spec = rfftA(b, framesA(b, padded, 2 * n, n, null), 2 * n);
  const flatResponse = b.op('Reshape', [response, i64(b, [n + 1])]);
  const filtered = irfftA(b, b.op('Mul', [spec, responseA(b, flatResponse, 2 * n)]), 2 * n, null);
  const [, n2] = fftSplit(2 * n);
  const valid = b.op('Slice', [filtered, i64(b, [half / n2]), i64(b, [(half + n) / n2]), i64(b, [0])]);
  const out = b.op('Reshape', [b.op('Transpose', [valid], { perm: [1, 0, 2] }), i64(b, [1, -1])]);
  return b.op('Slice', [out, i64(b, [0]), length, i64(b, [1])]);
}

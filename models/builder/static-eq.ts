import { bins, type Framing, f32, i64, logDb } from './dsp.js';
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
 * nfft+1 taps), to `audio` [1, L] by exact block convolution (blocks of nfft, FFTs of 2 * nfft). Output
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

  // The response is real and even, so two real blocks ride one complex DFT (as real and imaginary parts)
  // and come back apart: half the transforms, and no Hermitian spectrum to rebuild for ORT's inverse DFT.
  const mirror = b.op('Slice', [response, i64(b, [n - 1]), i64(b, [0]), i64(b, [-1]), i64(b, [-1])]);
  const fullResponse = b.op('Reshape', [
    b.op('Concat', [response, mirror], { axis: -1 }),
    i64(b, [2 * n, 1]),
  ]);
  // Blocks of n samples in pairs, zero-padded to 2n.
  const length = b.op('Slice', [b.op('Shape', [audio]), i64(b, [1]), i64(b, [2])]);
  const pair = 2 * n;
  const padEnd = b.op('Mod', [
    b.op('Sub', [i64(b, [pair]), b.op('Mod', [length, i64(b, [pair])])]),
    i64(b, [pair]),
  ]);
  const padded = b.op('Pad', [audio, b.op('Concat', [i64(b, [0, 0, 0]), padEnd], { axis: 0 })]);
  const pairs = b.op('Pad', [b.op('Reshape', [padded, i64(b, [-1, 2, n])]), i64(b, [0, 0, 0, 0, 0, n])]);
  const complex = b.op('Transpose', [pairs], { perm: [0, 2, 1] });
  const spec = b.op('DFT', [complex], { axis: 1, onesided: 0 });
  const filtered = b.op('DFT', [b.op('Mul', [spec, fullResponse])], { axis: 1, inverse: 1, onesided: 0 });
  const real = b.op('Reshape', [b.op('Transpose', [filtered], { perm: [0, 2, 1] }), i64(b, [1, -1, 2 * n])]);
  // Each block's output spans -half .. n + half; the part before 0 wrapped to the end. Unwrap it.
  const unwrapped = b.op(
    'Concat',
    [
      b.op('Slice', [real, i64(b, [2 * n - half]), i64(b, [2 * n]), i64(b, [2])]),
      b.op('Slice', [real, i64(b, [0]), i64(b, [2 * n - half]), i64(b, [2])]),
    ],
    { axis: 2 },
  );
  const columns = b.op('Transpose', [unwrapped], { perm: [0, 2, 1] });
  const blockCount = b.op('Gather', [b.op('Shape', [real]), i64(b, [1])]);
  const olaLength = b.op('Mul', [b.op('Add', [blockCount, i64(b, [1])]), i64(b, [n])]);
  const image = b.op('Concat', [i64(b, [1]), olaLength], { axis: 0 });
  const ola = b.op('Col2Im', [columns, image, i64(b, [1, 2 * n])], { strides: [1, n] });
  const flat = b.op('Reshape', [ola, i64(b, [1, -1])]);
  return b.op('Slice', [flat, i64(b, [half]), b.op('Add', [length, i64(b, [half])]), i64(b, [1])]);
}

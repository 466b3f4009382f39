import { type Framing, f32, i64, lagRange, type PitchOutputs, pitchFromAcf, scalarI64 } from './dsp.js';
import type { GraphBuilder } from './graph-builder.js';

/**
 * Real FFTs as GEMMs (Cooley-Tukey with N = N1 * N2, the twiddles folded into the second stage's per-k1
 * matrices). Why: ORT's CPU STFT/DFT run a scalar radix-2 FFT per frame and recompute the twiddles each
 * time (measured: ~45 us per 1024-point frame, several times what these GEMMs take). The matrices are built
 * in-graph from Range/Cos/Sin and folded at load, so the .onnx stays small.
 *
 * Layouts, chosen so no transpose sits between the stages:
 * - frames "A": [N1, F, N2], sample m = N2 * n1 + n2 of frame t at [n1, t, n2] (rows of N2 samples, so
 *   framing is a gather of contiguous rows);
 * - spectra "native": [N1, F, 2, K2] (real part, then imaginary), bin k = k1 + N1 * k2 at [k1, t, ., k2],
 *   K2 = N2/2 + 1. Positions with k > N/2 hold the mirror image and weigh nothing in cosTableA and irfftA.
 *   Real and imaginary parts as separate runs: |X|^2 is then two products and a sum (measured: half of a
 *   MatMul or ReduceSum over interleaved pairs).
 */

/**
 * N = n1 * n2 with n2 >= n1, both powers of two: frame rows of N2 samples are gathered whole, and the
 * native layout pads N/2 + 1 bins to N1 * (N2/2 + 1) (measured, 512: 16 x 32 ~10 % faster than 32 x 16).
 */
export function fftSplit(n: number): [number, number] {
  let n2 = 1;
  while (n2 * n2 < n) n2 *= 2;
  return [n / n2, n2];
}

/** Range 0..size-1 (float32 or int64), reshaped so it runs along `at` of a rank-`rank` tensor. */
function axis(
  b: GraphBuilder,
  size: number,
  rank: number,
  at: number,
  dtype: 'float32' | 'int64' = 'float32',
) {
  const range =
    dtype === 'float32'
      ? b.op('Range', [f32(b, [0], []), f32(b, [size], []), f32(b, [1], [])])
      : b.op('Range', [scalarI64(b, 0), scalarI64(b, size), scalarI64(b, 1)]);
  const shape = Array.from({ length: rank }, (_, i) => (i === at ? size : 1));
  return b.op('Reshape', [range, i64(b, shape)]);
}

/** cos and sin of 2*pi*(product mod n)/n, the product reduced first so float32 keeps full precision. */
export function angle(b: GraphBuilder, product: string, n: number): [string, string] {
  const t = b.op('Mul', [
    b.op('Mod', [product, f32(b, [n], [])], { fmod: 1 }),
    f32(b, [(2 * Math.PI) / n], []),
  ]);
  return [b.op('Cos', [t]), b.op('Sin', [t])];
}

/** A constant vector v[m], m = 0..n-1, laid out [N1, 1, N2] like frame A's samples. */
export function layoutA(b: GraphBuilder, n: number, values: number[]): string {
  const [n1, n2] = fftSplit(n);
  return f32(b, values, [n1, 1, n2]);
}

/**
 * Frames A [N1, F, N2] of `audio` (any shape holding L samples) at `hop`, F = (L - n) / hop + 1 (L - n a
 * multiple of hop, hop a multiple of N2), times `window` when given.
 */
export function framesA(
  b: GraphBuilder,
  audio: string,
  n: number,
  hop: number,
  window: number[] | null,
): string {
  const [n1, n2] = fftSplit(n);
  const rows = b.op('Reshape', [audio, i64(b, [-1, n2])]);
  const count = b.op('Add', [
    b.op('Div', [
      b.op('Sub', [
        b.op('Squeeze', [b.op('Slice', [b.op('Shape', [rows]), i64(b, [0]), i64(b, [1])]), i64(b, [0])]),
        scalarI64(b, n1),
      ]),
      scalarI64(b, hop / n2),
    ]),
    scalarI64(b, 1),
  ]);
  const starts = b.op('Mul', [
    b.op('Range', [scalarI64(b, 0), count, scalarI64(b, 1)]),
    scalarI64(b, hop / n2),
  ]);
  const index = b.op('Add', [b.op('Unsqueeze', [starts, i64(b, [0])]), axis(b, n1, 2, 0, 'int64')]);
  const frames = b.op('Gather', [rows, index]);
  return window === null ? frames : b.op('Mul', [frames, layoutA(b, n, window)]);
}

/** Frames A [N1, F, N2] -> native spectra [N1, F, 2, K2]. */
export function rfftA(b: GraphBuilder, frames: string, n: number): string {
  const [n1, n2] = fftSplit(n);
  const k2n = n2 / 2 + 1;
  // Stage 1, per n2: DFT of length N1 over n1, as one GEMM D [2 * N1, N1] @ frames [N1, F * N2].
  const [c1, s1] = angle(b, b.op('Mul', [axis(b, n1, 2, 0), axis(b, n1, 2, 1)]), n1);
  const stage1 = b.op('Concat', [c1, b.op('Neg', [s1])], { axis: 0 });
  const a = b.op('MatMul', [stage1, b.op('Reshape', [frames, i64(b, [n1, -1])])]);
  const [re, im] = b.opMulti('Split', [a, i64(b, [n1, n1])], { axis: 0 }, 2);
  const asA = (t: string): string => b.op('Reshape', [t, i64(b, [n1, -1, n2])]);
  // Stage 2, per k1: X[k1 + N1 k2] = sum_n2 A[k1, n2] exp(-2 pi i n2 (k1 + N1 k2) / N), real and imaginary
  // parts of A through their own [N1, N2, 2 * K2] matrices (columns re|im, k2).
  const k1 = axis(b, n1, 3, 0);
  const nn2 = axis(b, n2, 3, 1);
  const k2 = axis(b, k2n, 3, 2);
  const [c, s] = angle(b, b.op('Mul', [nn2, b.op('Add', [k1, b.op('Mul', [k2, f32(b, [n1], [])])])]), n);
  const columns = (x: string, y: string): string => b.op('Concat', [x, y], { axis: 2 });
  const x = b.op('Add', [
    b.op('MatMul', [asA(re), columns(c, b.op('Neg', [s]))]),
    b.op('MatMul', [asA(im), columns(s, c)]),
  ]);
  return b.op('Reshape', [x, i64(b, [n1, -1, 2, k2n])]);
}

/** Bin index k = k1 + N1 * k2 of each native position, float32 [N1, K2, 1]. */
export function nativeBins(b: GraphBuilder, n: number): string {
  const [n1, n2] = fftSplit(n);
  return b.op('Add', [axis(b, n1, 3, 0), b.op('Mul', [axis(b, n2 / 2 + 1, 3, 1), f32(b, [n1], [])])]);
}

/** Weight of each native bin in a sum over the whole (even) spectrum: c_k / N, 0 past N/2. [N1, K2, 1]. */
function evenWeightsA(b: GraphBuilder, n: number, k: string): string {
  const edge = b.op('Or', [b.op('Equal', [k, f32(b, [0], [])]), b.op('Equal', [k, f32(b, [n / 2], [])])]);
  const inside = b.op('Where', [edge, f32(b, [1 / n], []), f32(b, [2 / n], [])]);
  return b.op('Where', [b.op('Greater', [k, f32(b, [n / 2], [])]), f32(b, [0], []), inside]);
}

/**
 * For sums over native bins: cos(2 pi k q / N) weighted by c_k / N (0 past N/2) for q in from..to,
 * [N1, K2, Q] (rows of each k1's bins), so sum_k w_k P_k cos(...) = ReduceSum_k1(P [N1, F, K2] @ table).
 */
export function cosTableA(b: GraphBuilder, n: number, from: number, to: number): string {
  const k = nativeBins(b, n);
  const q = b.op('Reshape', [
    b.op('Range', [f32(b, [from], []), f32(b, [to + 1], []), f32(b, [1], [])]),
    i64(b, [1, 1, -1]),
  ]);
  const [c] = angle(b, b.op('Mul', [k, q]), n);
  return b.op('Mul', [c, evenWeightsA(b, n, k)]);
}

/** Native spectra [N1, F, 2, K2] -> |X|^2 [N1, F, K2]. */
export function powerA(b: GraphBuilder, spec: string): string {
  const [re, im] = b.opMulti('Split', [spec, i64(b, [1, 1])], { axis: 2 }, 2);
  return b.op('Squeeze', [b.op('Add', [b.op('Mul', [re, re]), b.op('Mul', [im, im])]), i64(b, [2])]);
}

/** t [..., K2] repeated for both parts of native spectra: [..., 2, K2]. */
export function bothParts(b: GraphBuilder, t: string): string {
  const u = b.op('Unsqueeze', [t, i64(b, [-2])]);
  return b.op('Concat', [u, u], { axis: -2 });
}

/**
 * Natural-log power [N1, F, K2] -> cepstrally smoothed envelope (tapered lifter, `quefrencies`), same
 * layout; as dsp.smoothLogSpectrum.
 */
export function smoothLogSpectrumA(
  b: GraphBuilder,
  n: number,
  logPower: string,
  quefrencies: number,
): string {
  const [n1] = fftSplit(n);
  const lifter = Array.from(
    { length: quefrencies + 1 },
    (_, q) => (q === 0 ? 1 : 2) * 0.5 * (1 + Math.cos((Math.PI * q) / (quefrencies + 1))),
  );
  const cepstrum = b.op(
    'ReduceSum',
    [b.op('MatMul', [logPower, cosTableA(b, n, 0, quefrencies)]), i64(b, [0])],
    {
      keepdims: 0,
    },
  );
  // Back: env[k] = sum_q c_q lifter_q cos(2 pi k q / N), [N1, Q, K2] per k1.
  const k = b.op('Reshape', [nativeBins(b, n), i64(b, [n1, 1, -1])]);
  const q = b.op('Reshape', [
    b.op('Range', [f32(b, [0], []), f32(b, [quefrencies + 1], []), f32(b, [1], [])]),
    i64(b, [1, -1, 1]),
  ]);
  const [c] = angle(b, b.op('Mul', [k, q]), n);
  return b.op('MatMul', [cepstrum, b.op('Mul', [c, f32(b, lifter, [1, quefrencies + 1, 1])])]);
}

/**
 * Native spectra [N1, F, 2, K2] -> real frames A [N1, F, N2], times `window` when given: the inverse of
 * rfftA, bins past N/2 ignored.
 */
export function irfftA(b: GraphBuilder, spec: string, n: number, window: number[] | null): string {
  const [n1, n2] = fftSplit(n);
  const k2n = n2 / 2 + 1;
  const z = b.op('Reshape', [spec, i64(b, [n1, -1, 2 * k2n])]);
  // x[N2 n1 + n2] = Re sum_k w_k Z_k exp(2 pi i (N2 n1 + n2) k / N), k = k1 + N1 k2, w_k = c_k / N;
  // exp(...) = exp(2 pi i n1 k1 / N1) * exp(2 pi i n2 k / N).
  // Step A, per k1: V[k1, n2] = sum_k2 w_k Z_k exp(2 pi i n2 k / N), rows (re|im, k2) of [N1, 2 * K2, N2].
  const k = nativeBins(b, n);
  const [c, s] = angle(b, b.op('Mul', [k, axis(b, n2, 3, 2)]), n);
  const w = evenWeightsA(b, n, k);
  const [cw, sw] = [b.op('Mul', [c, w]), b.op('Mul', [s, w])];
  // V_r = Z_r cos - Z_i sin, V_i = Z_r sin + Z_i cos.
  const vr = b.op('MatMul', [z, b.op('Concat', [cw, b.op('Neg', [sw])], { axis: 1 })]);
  const vi = b.op('MatMul', [z, b.op('Concat', [sw, cw], { axis: 1 })]);
  // Step B: x[n1] = sum_k1 cos(a) V_r[k1] - sin(a) V_i[k1], a = 2 pi n1 k1 / N1: GEMMs over [N1, F * N2].
  const [ca, sa] = angle(b, b.op('Mul', [axis(b, n1, 2, 0), axis(b, n1, 2, 1)]), n1);
  const flat = (t: string): string => b.op('Reshape', [t, i64(b, [n1, -1])]);
  const x = b.op('Add', [b.op('MatMul', [ca, flat(vr)]), b.op('MatMul', [b.op('Neg', [sa]), flat(vi)])]);
  const frames = b.op('Reshape', [x, i64(b, [n1, -1, n2])]);
  return window === null ? frames : b.op('Mul', [frames, layoutA(b, n, window)]);
}

/**
 * Overlap-add of frames A [N1, F, N2] at `hop` (n a multiple of it, it a multiple of N2) ->
 * [1, (F - 1) * hop + n]: frame rows n1 = a * (hop / N2) + c land on block c of hop a further on.
 */
export function overlapAddA(b: GraphBuilder, frames: string, n: number, hop: number): string {
  const [, n2] = fftSplit(n);
  const per = n / hop;
  const c = hop / n2;
  const split = b.op('Reshape', [frames, i64(b, [per, c, -1, n2])]);
  let sum = '';
  for (let a = 0; a < per; a++) {
    const part = b.op('Squeeze', [
      b.op('Slice', [split, i64(b, [a]), i64(b, [a + 1]), i64(b, [0])]),
      i64(b, [0]),
    ]);
    const placed = b.op('Pad', [part, i64(b, [0, a, 0, 0, per - 1 - a, 0])]);
    sum = a === 0 ? placed : b.op('Add', [sum, placed]);
  }
  return b.op('Reshape', [b.op('Transpose', [sum], { perm: [1, 0, 2] }), i64(b, [1, -1])]);
}

/** The pitch track's power weighting rises from 0 to 1 between these frequencies (Hz). */
const PITCH_HIGH_PASS_HZ = [70, 100] as const;

/**
 * dsp.pitch on native power [N1, F, K2], high-passed (PITCH_HIGH_PASS_HZ). The autocorrelation r[lag] = sum_k w_k P_k cos(2 pi k lag / N) is
 * the inverse FFT of the power, computed as irfftA does but only for the rows n1 that hold lags 0 and
 * minLag..maxLag (lag = N2 * n1 + n2): ~3x fewer multiply-adds than the lag-table MatMul it replaces.
 */
export function pitchA(b: GraphBuilder, power: string, f: Framing, fmin: number, fmax: number): PitchOutputs {
  const n = f.nfft;
  const [n1, n2] = fftSplit(n);
  const [minLag, maxLag] = lagRange(f, fmin, fmax);
  const rows = Math.floor(maxLag / n2) + 1;
  // Step A, per k1: V[k1, n2] = sum_k2 w_k P_k exp(2 pi i n2 k / N) (P real).
  const k = nativeBins(b, n);
  const [c, s] = angle(b, b.op('Mul', [k, axis(b, n2, 3, 2)]), n);
  // High-passed: mains hum (50/60 Hz) and rumble below the lowest voice's second harmonic weigh nothing
  // (the period still shows in the harmonics above). Measured on the 40 LibriSpeech speakers: with the
  // hum in, speaker 1723 (88 Hz, a strong 50 Hz hum) passed only 34 frames as voiced and its median came
  // out at 105 Hz even with peak picking; with it out, 371 frames at 79 Hz.
  const hz = b.op('Mul', [k, f32(b, [f.sampleRate / n], [])]);
  const highPass = b.op('Clip', [
    b.op('Div', [
      b.op('Sub', [hz, f32(b, [PITCH_HIGH_PASS_HZ[0]], [])]),
      f32(b, [PITCH_HIGH_PASS_HZ[1] - PITCH_HIGH_PASS_HZ[0]], []),
    ]),
    f32(b, [0], []),
    f32(b, [1], []),
  ]);
  const w = b.op('Mul', [evenWeightsA(b, n, k), highPass]);
  const flat = (t: string): string => b.op('Reshape', [t, i64(b, [n1, -1])]);
  const vr = flat(b.op('MatMul', [power, b.op('Mul', [c, w])]));
  const vi = flat(b.op('MatMul', [power, b.op('Mul', [s, w])]));
  // Step B for rows 0..rows-1: r[n1, n2] = sum_k1 cos(a) V_r - sin(a) V_i, a = 2 pi n1 k1 / N1.
  const [ca, sa] = angle(b, b.op('Mul', [axis(b, rows, 2, 0), axis(b, n1, 2, 1)]), n1);
  const r = b.op('Add', [b.op('MatMul', [ca, vr]), b.op('MatMul', [b.op('Neg', [sa]), vi])]);
  // [rows, F, N2] -> [1, F, rows * N2]: lag order.
  const lags = b.op('Reshape', [
    b.op('Transpose', [b.op('Reshape', [r, i64(b, [rows, -1, n2])])], { perm: [1, 0, 2] }),
    i64(b, [1, -1, rows * n2]),
  ]);
  const r0 = b.op('Slice', [lags, i64(b, [0]), i64(b, [1]), i64(b, [2])]);
  const searched = b.op('Slice', [lags, i64(b, [minLag]), i64(b, [maxLag + 1]), i64(b, [2])]);
  return pitchFromAcf(b, searched, r0, f, fmin, fmax);
}

/** powerA output [N1, F, K2] in natural bin order: [1, F, N/2 + 1]. */
export function naturalPower(b: GraphBuilder, power: string, n: number): string {
  const [n1, n2] = fftSplit(n);
  // [N1, F, K2] -> [F, K2, N1]: bin k1 + N1 * k2 in order.
  const flat = b.op('Reshape', [
    b.op('Transpose', [power], { perm: [1, 2, 0] }),
    i64(b, [1, -1, (n2 / 2 + 1) * n1]),
  ]);
  return b.op('Slice', [flat, i64(b, [0]), i64(b, [n / 2 + 1]), i64(b, [2])]);
}

/**
 * A real per-bin response [N/2 + 1] (natural order) as a native complex multiplier [N1, 1, 2, K2]; the
 * positions past N/2 take any bin's value (they weigh nothing).
 */
export function responseA(b: GraphBuilder, response: string, n: number): string {
  const [n1] = fftSplit(n);
  const k = b.op('Cast', [b.op('Min', [nativeBins(b, n), f32(b, [n / 2], [])])], { to: 7 });
  return bothParts(b, b.op('Gather', [response, b.op('Reshape', [k, i64(b, [n1, 1, -1])])]));
}

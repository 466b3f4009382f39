import {
  applyLogGain,
  type Framing,
  f32,
  hann,
  i64,
  logDb,
  power,
  scalarI64,
  smoothLogSpectrum,
} from './dsp.js';
import { GraphBuilder } from './graph-builder.js';

/**
 * Read-position nudges that keep successive grains in phase: grain t+1 must read `ratio[t] * hop` further
 * on than grain t, modulo the local period T, so s[t] = wrap_T[t](s[t-1] + (ratio[t] - 1) * hop) into
 * [-T/2, T/2). A recurrence, hence a Scan carrying s from window to window (the engine feeds `state_in`
 * from the previous window's `state_out`), which keeps chunked output equal to whole-file output.
 */
function phaseNudges(
  b: GraphBuilder,
  f: Framing,
  frameRatio: string,
  period: string,
  stateIn: string,
  skip: number,
): string {
  const body = new GraphBuilder('nudge_step', 'ns_');
  const s = body.input('ns_state', 'float32', [1]);
  const period_ = body.input('ns_period', 'float32', []);
  const inc = body.input('ns_inc', 'float32', []);
  const v = body.op('Add', [s, inc]);
  const next = body.op('Sub', [
    v,
    body.op('Mul', [period_, body.op('Round', [body.op('Div', [v, period_])])]),
  ]);
  body.output(next, 'ns_state_out', 'float32', [1]);
  body.output(next, 'ns_nudge', 'float32', [1]);
  const fromSkip = (x: string): string =>
    b.op('Slice', [b.op('Reshape', [x, i64(b, [-1])]), i64(b, [skip]), i64(b, [1_000_000_000])]);
  const incs = b.op('Mul', [b.op('Sub', [frameRatio, f32(b, [1], [])]), f32(b, [f.hop], [])]);
  const [, nudges] = b.opMulti(
    'Scan',
    [stateIn, fromSkip(period), fromSkip(incs)],
    { body, num_scan_inputs: 2 },
    2,
  );
  // The skipped first frames lie in the left context and never reach the output; any finite value will do.
  const head = b.op('Expand', [stateIn, i64(b, [skip])]);
  return b.op('Concat', [head, b.op('Reshape', [nudges, i64(b, [-1])])], { axis: 0 });
}

export interface PitchShiftOptions {
  /** Range the ratio is clipped to; the model's context must cover nfft/2 * (1 + maxRatio) + 1/fmin. */
  minRatio: number;
  maxRatio: number;
  /** Half-length of the anti-alias FIR used when shifting up. */
  aaHalfTaps: number;
  /** Lifter for the per-frame formant correction (lower than the EQ's, so harmonics never count). */
  quefrencies: number;
  maxCorrectionDb: number;
  /** The model's context, to find the frame whose nudge the next window starts from. */
  context: { left: number; right: number };
  /**
   * Leading frames whose period estimate saw padding instead of audio (their long pitch frame reaches past
   * the window start); the recurrence starts after them, from the previous window's value at that frame.
   */
  skipFrames: number;
  /** Largest per-frame factor on the ratio (F0 range mapping); sets the anti-alias cut-off. */
  maxFrameFactor: number;
  /** periodComb: weight of the copies 1, 2, ... periods either side, and how far (input samples) they reach. */
  combWeights: number[];
  combSpan: number;
}

export interface PitchShiftInputs {
  audio: string;
  /** Nudge carried from the previous window [1]. */
  stateIn: string;
  /** Source -> target F0 ratio [1]. */
  ratio: string;
  /** |STFT|^2 of the input on the synthesis frames [1, F, bins]. */
  inputPower: string;
  /** Input period in samples [1, F] and how voiced each frame is, 0..1 [1, F]. */
  period: string;
  voiced: string;
  /** Per-frame factor on the ratio [1, F] (see f0RangeFactor). */
  frameFactor: string;
}

/**
 * Per-frame ratio factor for log-F0 range mapping: (f0 / sourceMedian)^(k - 1) in voiced frames, so the
 * output's spread of log F0 around the target's median is k times the source's (k = target spread /
 * source spread; Liu et al. 2007). Clipped to maxFactor either way and smoothed over `smooth` frames, so
 * octave errors and voicing edges cannot make the ratio jump.
 */
export function f0RangeFactor(
  b: GraphBuilder,
  f0: string,
  voiced: string,
  pitchMap: string,
  maxFactor: number,
  smooth: number,
): string {
  const median = b.op('Slice', [pitchMap, i64(b, [0]), i64(b, [1])]);
  const exponent = b.op('Slice', [pitchMap, i64(b, [1]), i64(b, [2])]);
  const dev = b.op('Clip', [
    b.op('Log', [b.op('Div', [f0, median])]),
    f32(b, [-Math.LN2], []),
    f32(b, [Math.LN2], []),
  ]);
  const lim = Math.log(maxFactor);
  const logFactor = b.op('Clip', [
    b.op('Mul', [b.op('Mul', [dev, voiced]), b.op('Sub', [exponent, f32(b, [1], [])])]),
    f32(b, [-lim], []),
    f32(b, [lim], []),
  ]);
  const half = (smooth - 1) / 2;
  const smoothed = b.op('AveragePool', [b.op('Unsqueeze', [logFactor, i64(b, [1])])], {
    kernel_shape: [smooth],
    pads: [half, half],
    count_include_pad: 0,
  });
  return b.op('Exp', [b.op('Squeeze', [smoothed, i64(b, [1])])]);
}

/** Windowed-sinc low-pass [1, 1, 2M+1] with cutoff min(1, 1/ratio) of Nyquist, built in-graph from the ratio. */
function antiAlias(b: GraphBuilder, ratio: string, m: number): string {
  const n = Array.from({ length: 2 * m + 1 }, (_, i) => i - m);
  const blackman = n.map(
    (k) => 0.42 + 0.5 * Math.cos((Math.PI * k) / (m + 1)) + 0.08 * Math.cos((2 * Math.PI * k) / (m + 1)),
  );
  const fc = b.op('Min', [b.op('Reciprocal', [ratio]), f32(b, [1], [])]);
  // sin(pi*fc*n)/(pi*n); the n = 0 tap is fc itself.
  const pin = f32(
    b,
    n.map((k) => (k === 0 ? 1 : Math.PI * k)),
  );
  const sinc = b.op('Div', [
    b.op('Sin', [
      b.op('Mul', [
        fc,
        f32(
          b,
          n.map((k) => Math.PI * k),
        ),
      ]),
    ]),
    pin,
  ]);
  const taps = b.op('Where', [b.op('Equal', [i64(b, n), i64(b, [0])]), fc, sinc]);
  return b.op('Reshape', [b.op('Mul', [taps, f32(b, blackman)]), i64(b, [1, 1, 2 * m + 1])]);
}

export interface PitchShifted {
  /** One-sided spectra [1, F, bins, 2] of the shifted, formant-corrected frames. */
  spec: string;
  /** Nudge at the last frame before the next window's first frame: the next window's state_in. */
  stateOut: string;
}

/**
 * Comb on the harmonics of voiced input: y[m] = x[m] + sum_j w_j v(m) (x[m + jT(m)] + x[m - jT(m)] - 2x[m])
 * with the period T and voicedness v interpolated from the synthesis frames' centres to every sample.
 * Periodic sound passes unchanged while aperiodic noise drops (by up to 7.6 dB at full weight). Why: the
 * timbre EQ towards a bright, clean voice lifts a real voice's breath noise until pitch trackers lose its
 * low-pitched frames (measured, human -> espeak m3: YIN median F0 +7 % without the comb, +2 % with it).
 * Copies further than combSpan samples away fade out, so low voices are not smeared in time.
 */
function periodComb(
  b: GraphBuilder,
  f: Framing,
  signal: string,
  period: string,
  voiced: string,
  o: PitchShiftOptions,
): string {
  const length = b.op('Shape', [signal]);
  const m = b.op('Range', [
    f32(b, [0], []),
    b.op('Cast', [b.op('Squeeze', [length, i64(b, [0])])], { to: 1 }),
    f32(b, [1], []),
  ]);
  // Fractional frame position of each sample; frame t is centred at t * hop + nfft / 2.
  const u = b.op('Div', [b.op('Sub', [m, f32(b, [f.nfft / 2], [])]), f32(b, [f.hop], [])]);
  const frames = b.op('Cast', [b.op('Gather', [b.op('Shape', [period]), i64(b, [1])])], { to: 1 });
  const last = b.op('Sub', [frames, f32(b, [1], [])]);
  const uc = b.op('Min', [b.op('Max', [u, f32(b, [0], [])]), last]);
  const t0 = b.op('Floor', [uc]);
  const a = b.op('Sub', [uc, t0]);
  const i0 = b.op('Cast', [t0], { to: 7 });
  const i1 = b.op('Cast', [b.op('Min', [b.op('Add', [t0, f32(b, [1], [])]), last])], { to: 7 });
  const atSamples = (perFrame: string): string => {
    const flat = b.op('Reshape', [perFrame, i64(b, [-1])]);
    const p0 = b.op('Gather', [flat, i0]);
    return b.op('Add', [p0, b.op('Mul', [a, b.op('Sub', [b.op('Gather', [flat, i1]), p0])])]);
  };
  const periodAt = atSamples(period);
  const voicedAt = atSamples(voiced);
  const lastStart = b.op('Sub', [b.op('Squeeze', [length, i64(b, [0])]), scalarI64(b, 2)]);
  const base = b.op('Range', [scalarI64(b, 0), b.op('Squeeze', [length, i64(b, [0])]), scalarI64(b, 1)]);
  const readAt = (shift: string): string => {
    const floor = b.op('Floor', [shift]);
    const frac = b.op('Sub', [shift, floor]);
    const idx = b.op('Clip', [
      b.op('Add', [base, b.op('Cast', [floor], { to: 7 })]),
      scalarI64(b, 0),
      lastStart,
    ]);
    const x0 = b.op('Gather', [signal, idx]);
    const x1 = b.op('Gather', [signal, b.op('Add', [idx, scalarI64(b, 1)])]);
    return b.op('Add', [x0, b.op('Mul', [frac, b.op('Sub', [x1, x0])])]);
  };
  const twice = b.op('Add', [signal, signal]);
  let out = signal;
  for (const [j, w] of o.combWeights.entries()) {
    const reach = b.op('Mul', [periodAt, f32(b, [j + 1], [])]);
    const fade = b.op('Clip', [
      b.op('Div', [b.op('Sub', [f32(b, [o.combSpan], []), reach]), f32(b, [o.combSpan / 4], [])]),
      f32(b, [0], []),
      f32(b, [1], []),
    ]);
    const weight = b.op('Mul', [b.op('Mul', [fade, voicedAt]), f32(b, [w], [])]);
    const copies = b.op('Add', [readAt(reach), readAt(b.op('Neg', [reach]))]);
    out = b.op('Add', [out, b.op('Mul', [b.op('Sub', [copies, twice]), weight])]);
  }
  return out;
}

/**
 * Pitch shift by `ratio` (times a per-frame factor) with formants kept: every STFT frame is replaced by a
 * grain of the input resampled by its ratio around the frame centre (after an anti-alias low-pass when
 * shifting up, then periodComb), read from a position nudged so successive grains are in phase (see
 * phaseNudges). Each grain's envelope is then corrected back to the input frame's envelope, so formants
 * stay where they were.
 */
export function pitchShiftSpectra(
  b: GraphBuilder,
  f: Framing,
  x: PitchShiftInputs,
  o: PitchShiftOptions,
): PitchShifted {
  const n = f.nfft;
  const clipRatio = (r: string): string =>
    b.op('Clip', [r, f32(b, [o.minRatio], []), f32(b, [o.maxRatio], [])]);
  const ratio = clipRatio(x.ratio);
  const frameRatio = clipRatio(b.op('Mul', [b.op('Reshape', [x.frameFactor, i64(b, [-1])]), ratio]));
  const aaRatio = clipRatio(b.op('Mul', [ratio, f32(b, [o.maxFrameFactor], [])]));
  const frames = b.op('Gather', [b.op('Shape', [x.inputPower]), i64(b, [1])]);
  const t = b.op('Range', [scalarI64(b, 0), b.op('Squeeze', [frames, i64(b, [0])]), scalarI64(b, 1)]);
  const nudges = phaseNudges(b, f, frameRatio, x.period, x.stateIn, o.skipFrames);
  const length = b.op('Gather', [b.op('Shape', [x.audio]), i64(b, [1])]);
  const lastOwned = b.op('Sub', [
    b.op('Div', [b.op('Sub', [length, i64(b, [o.context.left + o.context.right])]), i64(b, [f.hop])]),
    i64(b, [1]),
  ]);
  const stateOut = b.op('Gather', [nudges, b.op('Add', [lastOwned, i64(b, [o.skipFrames])])]);

  const tau = f32(
    b,
    Array.from({ length: n }, (_, i) => i - n / 2),
  );
  // Offsets from the (integer) frame centre stay small, so their float rounding is the same in every window
  // and chunked output can equal whole-file output; the centre itself is added as an integer.
  const offset = b.op('Add', [
    b.op('Unsqueeze', [nudges, i64(b, [-1])]),
    b.op('Mul', [b.op('Unsqueeze', [frameRatio, i64(b, [-1])]), tau]),
  ]);
  const centreIndex = b.op('Unsqueeze', [
    b.op('Add', [b.op('Mul', [t, i64(b, [f.hop])]), i64(b, [n / 2])]),
    i64(b, [-1]),
  ]);
  const filtered = b.op(
    'Conv',
    [b.op('Unsqueeze', [x.audio, i64(b, [1])]), antiAlias(b, aaRatio, o.aaHalfTaps)],
    { pads: [o.aaHalfTaps, o.aaHalfTaps] },
  );
  const signal = periodComb(b, f, b.op('Reshape', [filtered, i64(b, [-1])]), x.period, x.voiced, o);
  // Reads past the window edges (only frames deep in the context do that) are clamped.
  const lastStart = b.op('Squeeze', [b.op('Sub', [b.op('Shape', [signal]), i64(b, [2])]), i64(b, [0])]);
  const offsetFloor = b.op('Floor', [offset]);
  const frac = b.op('Unsqueeze', [b.op('Sub', [offset, offsetFloor]), i64(b, [0])]);
  const index = b.op('Unsqueeze', [
    b.op('Add', [centreIndex, b.op('Cast', [offsetFloor], { to: 7 })]),
    i64(b, [0]),
  ]);
  const i0 = b.op('Clip', [index, scalarI64(b, 0), lastStart]);
  const x0 = b.op('Gather', [signal, i0]);
  const x1 = b.op('Gather', [signal, b.op('Add', [i0, i64(b, [1])])]);
  const grains = b.op('Add', [x0, b.op('Mul', [frac, b.op('Sub', [x1, x0])])]);

  const windowed = b.op('Unsqueeze', [b.op('Mul', [grains, f32(b, hann(n))]), i64(b, [-1])]);
  const spec = b.op('DFT', [windowed], { axis: 2, onesided: 1 });
  const logOf = (p: string): string => b.op('Log', [b.op('Add', [p, f32(b, [1e-12], [])])]);
  const envIn = smoothLogSpectrum(b, f, logOf(x.inputPower), o.quefrencies);
  const envGrain = smoothLogSpectrum(b, f, logOf(power(b, spec)), o.quefrencies);
  const lim = logDb(o.maxCorrectionDb);
  const correction = b.op('Clip', [b.op('Sub', [envIn, envGrain]), f32(b, [-lim], []), f32(b, [lim], [])]);
  return { spec: applyLogGain(b, spec, correction), stateOut };
}

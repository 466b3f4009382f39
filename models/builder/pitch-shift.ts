import { type Framing, f32, hann, i64, logDb, scalarI64 } from './dsp.js';
import type { EnvelopeCorrection } from './envelope-map.js';
import { bothParts, fftSplit, irfftA, layoutA, overlapAddA, powerA, rfftA } from './fft.js';
import type { GraphBuilder } from './graph-builder.js';
import { type HarmonicOptions, harmonicVoicing } from './harmonic-synthesis.js';

/** Phase resolution of the nudge recurrence: 2^-20 of a period (< 0.001 samples for any F0 in range). */
const PHASE_STEPS = 2 ** 20;

/**
 * Read-position nudges that keep successive grains in phase: grain t+1 must read `ratio[t] * hop` further
 * on than grain t, i.e. its phase within the local period T[t] advances by (ratio[t] - 1) * hop / T[t]
 * cycles. The phase is kept in cycles (so a nudge scales with the period as the pitch moves) and in
 * integer steps of 1/PHASE_STEPS, which makes it a plain cumulative sum modulo PHASE_STEPS: exact and
 * order-free, so chunked output equals whole-file output, and no per-frame Scan (ORT runs a Scan
 * iteration in ~50 us; this was a third of the graph). The engine feeds `state_in` from the previous
 * window's `state_out` (the phase in steps, exact in float32).
 */
function phaseNudges(
  b: GraphBuilder,
  f: Framing,
  frameRatio: string,
  period: string,
  stateIn: string,
  skip: number,
): { nudges: string; phase: string } {
  const fromSkip = (x: string): string =>
    b.op('Slice', [b.op('Reshape', [x, i64(b, [-1])]), i64(b, [skip]), i64(b, [1_000_000_000])]);
  const periods = b.op('Reshape', [period, i64(b, [-1])]);
  const cycles = b.op('Div', [
    b.op('Mul', [b.op('Sub', [frameRatio, f32(b, [1], [])]), f32(b, [f.hop], [])]),
    periods,
  ]);
  const steps = b.op('Cast', [b.op('Round', [b.op('Mul', [fromSkip(cycles), f32(b, [PHASE_STEPS], [])])])], {
    to: 7,
  });
  const start = b.op('Cast', [stateIn], { to: 7 });
  const q = scalarI64(b, PHASE_STEPS);
  // Int64 Mod takes the divisor's sign: [0, PHASE_STEPS).
  const phase = b.op('Mod', [b.op('Add', [b.op('CumSum', [steps, scalarI64(b, 0)]), start]), q]);
  const head = b.op('Expand', [start, i64(b, [skip])]);
  const allPhase = b.op('Concat', [head, phase], { axis: 0 });
  // Centred to [-1/2, 1/2) of a period, then to samples.
  const centred = b.op('Sub', [
    b.op('Mod', [b.op('Add', [allPhase, scalarI64(b, PHASE_STEPS / 2)]), q]),
    scalarI64(b, PHASE_STEPS / 2),
  ]);
  const nudges = b.op('Mul', [
    b.op('Mul', [b.op('Cast', [centred], { to: 1 }), f32(b, [1 / PHASE_STEPS], [])]),
    periods,
  ]);
  // The skipped first frames lie in the left context and never reach the output; any finite value will do.
  return { nudges, phase: b.op('Cast', [allPhase], { to: 1 }) };
}

/**
 * The period at each synthesis frame's centre re-measured on `audio` [1, L] (see PitchShiftOptions.periodRefine);
 * period [1, F] in samples, frame t centred at t * hop + nfft / 2; `confident` [1, F] is 1 where the
 * re-measured period was kept (an interior peak of at least minCorrelation), else 0 (the track's period);
 * `correlation` [1, F] the peak's normalised cross-correlation clipped to 0..1.
 */
function refinePeriod(
  b: GraphBuilder,
  f: Framing,
  audio: string,
  period: string,
  refine: PeriodRefineOptions,
  maxPeriod: number,
): { period: string; confident: string; correlation: string } {
  const { halfLags: J, halfWindow: W } = refine;
  const pad = Math.ceil((W + maxPeriod + J + 2) / 64) * 64;
  const x = b.op('Pad', [b.op('Reshape', [audio, i64(b, [-1])]), i64(b, [pad, pad])]);
  const t0 = b.op('Reshape', [period, i64(b, [-1, 1, 1])]);
  const whole = b.op('Round', [t0]);
  const lag0 = b.op('Cast', [whole], { to: 7 });
  const frames = b.op('Gather', [b.op('Shape', [t0]), i64(b, [0])]);
  const t = b.op('Reshape', [
    b.op('Range', [scalarI64(b, 0), b.op('Squeeze', [frames, i64(b, [0])]), scalarI64(b, 1)]),
    i64(b, [-1, 1, 1]),
  ]);
  // Segment a starts half a lag before the centre, b one lag after a: the period measured around the centre.
  const start = b.op('Sub', [
    b.op('Add', [b.op('Mul', [t, scalarI64(b, f.hop)]), scalarI64(b, f.nfft / 2 + pad - W)]),
    b.op('Div', [lag0, scalarI64(b, 2)]),
  ]);
  const m = b.constant(
    'int64',
    Array.from({ length: 2 * W }, (_, i) => i),
    [1, 1, 2 * W],
  );
  const j = b.constant(
    'int64',
    Array.from({ length: 2 * J + 1 }, (_, i) => i - J),
    [1, 2 * J + 1, 1],
  );
  const segA = b.op('Gather', [x, b.op('Add', [start, m])]);
  const segB = b.op('Gather', [x, b.op('Add', [b.op('Add', [b.op('Add', [start, lag0]), j]), m])]);
  const sum = (v: string): string => b.op('ReduceSum', [v, i64(b, [2])], { keepdims: 0 });
  const num = sum(b.op('Mul', [segA, segB]));
  const energy = b.op('Mul', [sum(b.op('Mul', [segA, segA])), sum(b.op('Mul', [segB, segB]))]);
  const ncc = b.op('Div', [num, b.op('Sqrt', [b.op('Add', [energy, f32(b, [1e-12], [])])])]);
  const idx = b.op('ArgMax', [ncc], { axis: 1, keepdims: 1 });
  const at = (o: number): string =>
    b.op(
      'GatherElements',
      [ncc, b.op('Clip', [b.op('Add', [idx, scalarI64(b, o)]), scalarI64(b, 0), scalarI64(b, 2 * J)])],
      { axis: 1 },
    );
  const [lo, c0, hi] = [at(-1), at(0), at(1)];
  const curvature = b.op('Min', [
    b.op('Sub', [b.op('Add', [lo, hi]), b.op('Add', [c0, c0])]),
    f32(b, [-1e-6], []),
  ]);
  const delta = b.op('Clip', [
    b.op('Div', [b.op('Mul', [b.op('Sub', [lo, hi]), f32(b, [0.5], [])]), curvature]),
    f32(b, [-0.5], []),
    f32(b, [0.5], []),
  ]);
  const refined = b.op('Add', [
    b.op('Add', [
      b.op('Reshape', [whole, i64(b, [-1, 1])]),
      b.op('Cast', [b.op('Sub', [idx, scalarI64(b, J)])], { to: 1 }),
    ]),
    delta,
  ]);
  const interior = b.op('And', [
    b.op('Greater', [idx, scalarI64(b, 0)]),
    b.op('Less', [idx, scalarI64(b, 2 * J)]),
  ]);
  const keep = b.op('And', [interior, b.op('GreaterOrEqual', [c0, f32(b, [refine.minCorrelation], [])])]);
  const flatPeriod = b.op('Reshape', [period, i64(b, [-1, 1])]);
  return {
    period: b.op('Reshape', [b.op('Where', [keep, refined, flatPeriod]), i64(b, [1, -1])]),
    confident: b.op('Reshape', [b.op('Cast', [keep], { to: 1 }), i64(b, [1, -1])]),
    correlation: b.op('Reshape', [b.op('Clip', [c0, f32(b, [0], []), f32(b, [1], [])]), i64(b, [1, -1])]),
  };
}

/** See PitchShiftOptions.periodRefine. */
export interface PeriodRefineOptions {
  halfLags: number;
  halfWindow: number;
  minCorrelation: number;
}

export interface PitchShiftOptions {
  /** Range the ratio is clipped to; the model's context must cover nfft/2 * (1 + maxRatio) + 1/fmin. */
  minRatio: number;
  maxRatio: number;
  /** Half-length of the anti-alias FIR used when shifting up. */
  aaHalfTaps: number;
  /**
   * Shifting down by r leaves the band above r x Nyquist empty; the input's own spectrum fills it, faded in
   * over this fraction below the edge (0: no fill).
   */
  fillFade: number;
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
  /** Longest period the pitch track can report (samples), so the comb's reads stay inside its padding. */
  maxPeriod: number;
  /**
   * 'whiten': grains are read from the input whitened by each frame's own envelope and coloured with the
   * requested one (pitch and vocal tract independent from the start); 'resample': grains of the input
   * itself, resampled with their formants, whose envelope is then corrected.
   */
  synthesis: 'whiten' | 'resample';
  /** Largest colouring (dB either way) of a whitened grain: the whole envelope, not a correction. */
  maxColourDb: number;
  /**
   * How a grain reads between input samples: 'linear' (two taps; default) or 'cubic' (Catmull-Rom, four taps:
   * flat to a higher frequency, which linear interpolation attenuates and modulates as its fraction moves).
   */
  interpolation?: 'linear' | 'cubic';
  /**
   * Period refinement for the nudges (off when absent): each synthesis frame's period is re-measured on the
   * input around its centre by normalised cross-correlation of a 2 x halfWindow segment with the segment one
   * period on, over round(T) +- halfLags with parabolic refinement, and kept where the peak is interior and
   * at least minCorrelation (else the track's). Why: the track's period comes from 43 ms frames every
   * 10.7 ms, and a grain that wraps by one period reads a copy that is off by the period's error.
   */
  periodRefine?: PeriodRefineOptions;
  /** Voiced frames from a sum of harmonics of the output F0 (harmonic-synthesis.ts) instead of grains; null: grains. */
  harmonic: HarmonicOptions | null;
}

export interface PitchShiftInputs {
  audio: string;
  /** Grain phase carried from the previous window [1] (see phaseNudges). */
  stateIn: string;
  /** Source -> target F0 ratio [1]. */
  ratio: string;
  /** STFT of the input on the synthesis frames, native spectra [N1, F, 2, K2], and its |.|^2 [N1, F, K2]. */
  inputSpec: string;
  inputPower: string;
  /** The envelope correction for grains resampled by each frame's ratio (see envelope-map.ts). */
  correction: EnvelopeCorrection;
  /**
   * For synthesis 'whiten': each input frame's own level-free log-power envelope [N1, F, K2] and the
   * colouring of a whitened grain (log power [N1, F, K2] given its power) (envelope-map.ts).
   */
  whitening: string;
  colour: (grainPower: string) => string;
  /** Input period in samples [1, F] and how voiced each frame is, 0..1 [1, F]. */
  period: string;
  voiced: string;
  /** Per-frame factor on the ratio [1, F] (see f0RangeFactor). */
  frameFactor: string;
  /** With `harmonic`: its running phase from the previous window [1]. */
  harmonicStateIn?: string;
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

/** Windowed-sinc low-pass [2M+1] with cutoff min(1, 1/ratio) of Nyquist, built in-graph from the ratio. */
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
  return b.op('Mul', [taps, f32(b, blackman)]);
}

/** Block length of blockFir: output blocks of this many samples, each one row of a single GEMM. */
const FIR_BLOCK = 32;

/**
 * y[p] = sum_k taps[k] x[p + k - m] (taps [2m + 1], zeros beyond the edges) for audio [1, L], L a multiple
 * of FIR_BLOCK and m <= FIR_BLOCK: every output block is a 3-block frame of the input times a banded
 * (Toeplitz) matrix of the taps, all in one MatMul. Why: ORT's 1-D Conv goes through im2col, a copy of
 * 2m + 1 times the signal (measured ~3x slower for 65 taps).
 */
function blockFir(b: GraphBuilder, audio: string, taps: string, m: number): string {
  const block = FIR_BLOCK;
  const padded = b.op('Pad', [audio, i64(b, [0, block, 0, block])]);
  const blocks = b.op('Reshape', [padded, i64(b, [-1, block])]);
  const count = b.op('Sub', [
    b.op('Squeeze', [b.op('Slice', [b.op('Shape', [blocks]), i64(b, [0]), i64(b, [1])]), i64(b, [0])]),
    scalarI64(b, 2),
  ]);
  const index = b.op('Add', [
    b.op('Unsqueeze', [b.op('Range', [scalarI64(b, 0), count, scalarI64(b, 1)]), i64(b, [1])]),
    b.constant('int64', [0, 1, 2], [1, 3]),
  ]);
  const frames = b.op('Reshape', [b.op('Gather', [blocks, index]), i64(b, [-1, 3 * block])]);
  // Row i of a frame is x[block * j - block + i]; output r of the block takes tap k = i - r + m - block.
  const i = b.op('Unsqueeze', [
    b.op('Range', [scalarI64(b, 0), scalarI64(b, 3 * block), scalarI64(b, 1)]),
    i64(b, [1]),
  ]);
  const r = b.op('Unsqueeze', [
    b.op('Range', [scalarI64(b, 0), scalarI64(b, block), scalarI64(b, 1)]),
    i64(b, [0]),
  ]);
  const k = b.op('Add', [b.op('Sub', [i, r]), scalarI64(b, m - block)]);
  const inside = b.op('And', [
    b.op('GreaterOrEqual', [k, scalarI64(b, 0)]),
    b.op('LessOrEqual', [k, scalarI64(b, 2 * m)]),
  ]);
  const tapsZ = b.op('Concat', [taps, f32(b, [0])], { axis: 0 });
  const matrix = b.op('Gather', [tapsZ, b.op('Where', [inside, k, scalarI64(b, 2 * m + 1)])]);
  return b.op('Reshape', [b.op('MatMul', [frames, matrix]), i64(b, [1, -1])]);
}

/** x(i + frac) by Catmull-Rom from x[i - 1 .. i + 2] (signal [L], index and frac flat, same length). */
function catmullRom(b: GraphBuilder, signal: string, index: string, frac: string): string {
  const tap = (o: number): string =>
    b.op('GatherElements', [signal, b.op('Add', [index, scalarI64(b, o)])], { axis: 0 });
  const [xm, x0, x1, x2] = [tap(-1), tap(0), tap(1), tap(2)];
  const k = (v: number): string => f32(b, [v], []);
  // x0 + f/2 (x1 - xm + f (2xm - 5x0 + 4x1 - x2 + f (3(x0 - x1) + x2 - xm)))
  const c3 = b.op('Sub', [b.op('Add', [b.op('Mul', [b.op('Sub', [x0, x1]), k(3)]), x2]), xm]);
  const c2 = b.op('Sub', [
    b.op('Add', [b.op('Sub', [b.op('Mul', [xm, k(2)]), b.op('Mul', [x0, k(5)])]), b.op('Mul', [x1, k(4)])]),
    x2,
  ]);
  const inner = b.op('Add', [
    b.op('Sub', [x1, xm]),
    b.op('Mul', [frac, b.op('Add', [c2, b.op('Mul', [frac, c3])])]),
  ]);
  return b.op('Add', [x0, b.op('Mul', [b.op('Mul', [frac, k(0.5)]), inner])]);
}

export interface PitchShifted {
  /** Native spectra [N1, F, 2, K2] (see fft.ts) of the shifted, formant-corrected frames. */
  spec: string;
  /** Phase at the last frame before the next window's first frame: the next window's state_in. */
  stateOut: string;
  /** With `harmonic`: its running phase for the next window. */
  harmonicStateOut?: string;
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
  // Period and voicedness at every sample: linear between frame centres (frame t is centred at
  // t * hop + nfft / 2), held beyond the first and last. Edge-padded so sample m = hop * j + r sits at
  // j + r / hop: one product and one sum over [2, intervals, hop] (measured: ~20 elementwise ops before,
  // and a Resize took 4x these two).
  const front = f.nfft / 2 / f.hop;
  const perFrame = b.op(
    'Concat',
    [b.op('Reshape', [period, i64(b, [1, -1])]), b.op('Reshape', [voiced, i64(b, [1, -1])])],
    { axis: 0 },
  );
  const edged = b.op('Pad', [perFrame, i64(b, [0, front, 0, f.nfft / f.hop - front])], { mode: 'edge' });
  const from = b.op('Slice', [edged, i64(b, [0]), i64(b, [-1]), i64(b, [1])]);
  const step = b.op('Sub', [b.op('Slice', [edged, i64(b, [1]), i64(b, [1_000_000_000]), i64(b, [1])]), from]);
  const ramp = f32(
    b,
    Array.from({ length: f.hop }, (_, r) => r / f.hop),
    [1, 1, f.hop],
  );
  const atSamples = b.op('Reshape', [
    b.op('Add', [
      b.op('Unsqueeze', [from, i64(b, [2])]),
      b.op('Mul', [b.op('Unsqueeze', [step, i64(b, [2])]), ramp]),
    ]),
    i64(b, [2, -1]),
  ]);
  const row = (r: number): string =>
    b.op('Reshape', [b.op('Slice', [atSamples, i64(b, [r]), i64(b, [r + 1])]), i64(b, [-1])]);
  const periodAt = row(0);
  const voicedAt = row(1);
  // Reads x(m +- shift) = x[i] + frac * d[i], d the first difference, from the signal padded by more than
  // any reach (so no index clipping; only the context's edges read the padding).
  const pad = Math.ceil((o.combWeights.length * o.maxPeriod + 2) / 64) * 64;
  const x = b.op('Pad', [signal, i64(b, [pad, pad])]);
  const d = b.op('Sub', [
    b.op('Slice', [x, i64(b, [1]), i64(b, [1_000_000_000])]),
    b.op('Slice', [x, i64(b, [0]), i64(b, [-1])]),
  ]);
  const length = b.op('Squeeze', [b.op('Shape', [signal]), i64(b, [0])]);
  const base = b.op('Range', [scalarI64(b, pad), b.op('Add', [length, scalarI64(b, pad)]), scalarI64(b, 1)]);
  const baseBefore = b.op('Sub', [base, scalarI64(b, 1)]);
  const read = (i: string, frac: string): string =>
    b.op('Add', [
      b.op('GatherElements', [x, i], { axis: 0 }),
      b.op('Mul', [frac, b.op('GatherElements', [d, i], { axis: 0 })]),
    ]);
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
    const floor = b.op('Floor', [reach]);
    const frac = b.op('Sub', [reach, floor]);
    const whole = b.op('Cast', [floor], { to: 7 });
    // x(m + r) from i = m + floor(r); x(m - r) from i = m - floor(r) - 1 with 1 - frac.
    const ahead = read(b.op('Add', [base, whole]), frac);
    const behind = read(b.op('Sub', [baseBefore, whole]), b.op('Sub', [f32(b, [1], []), frac]));
    const copies = b.op('Add', [ahead, behind]);
    out = b.op('Add', [out, b.op('Mul', [b.op('Sub', [copies, twice]), weight])]);
  }
  return out;
}

/**
 * Pitch shift by `ratio` (times a per-frame factor) with formants kept: every STFT frame is replaced by a
 * grain of the input resampled by its ratio around the frame centre (after an anti-alias low-pass when
 * shifting up, then periodComb), read from a position nudged so successive grains are in phase (see
 * phaseNudges). Where shifting down emptied the top band, the input's own band fills it. Each grain's
 * envelope is then corrected to the input frame's envelope, warped and mapped (envelope-map.ts), so the
 * formants are set independently of the pitch.
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
  const nudgePeriod = o.periodRefine
    ? refinePeriod(b, f, x.audio, x.period, o.periodRefine, o.maxPeriod).period
    : x.period;
  const { nudges, phase } = phaseNudges(b, f, frameRatio, nudgePeriod, x.stateIn, o.skipFrames);
  const length = b.op('Gather', [b.op('Shape', [x.audio]), i64(b, [1])]);
  const lastOwned = b.op('Sub', [
    b.op('Div', [b.op('Sub', [length, i64(b, [o.context.left + o.context.right])]), i64(b, [f.hop])]),
    i64(b, [1]),
  ]);
  const stateOut = b.op('Gather', [phase, b.op('Add', [lastOwned, i64(b, [o.skipFrames])])]);

  // Grains in frame layout A [N1, F, N2] (see fft.ts), read straight into the FFT's first stage.
  const tau = layoutA(
    b,
    n,
    Array.from({ length: n }, (_, i) => i - n / 2),
  );
  const perFrame = (v: string): string => b.op('Reshape', [v, i64(b, [1, -1, 1])]);
  // Offsets from the (integer) frame centre stay small, so their float rounding is the same in every window
  // and chunked output can equal whole-file output; the centre itself is added as an integer.
  const offset = b.op('Add', [perFrame(nudges), b.op('Mul', [perFrame(frameRatio), tau])]);
  // Whitened: the input divided by each frame's own envelope (weighted overlap-add, exact where nothing is
  // divided), so resampling it moves no formant: it has none.
  const whiten = o.synthesis === 'whiten';
  const flatSpec = whiten
    ? b.op('Mul', [x.inputSpec, bothParts(b, b.op('Exp', [b.op('Mul', [x.whitening, f32(b, [-0.5], [])])]))])
    : x.inputSpec;
  const excitation = whiten
    ? overlapAddA(
        b,
        irfftA(
          b,
          flatSpec,
          n,
          hann(n).map((v) => v / 1.5),
        ),
        n,
        f.hop,
      )
    : x.audio;
  const filtered = blockFir(b, excitation, antiAlias(b, aaRatio, o.aaHalfTaps), o.aaHalfTaps);
  const signal = periodComb(b, f, b.op('Reshape', [filtered, i64(b, [-1])]), x.period, x.voiced, o);
  // Read from the signal padded by more than any offset (|nudge| <= maxPeriod / 2, ratio <= maxRatio), so no
  // index clipping; only frames deep in the context read the padding. x(p) = s[i] + frac * d[i].
  const cubic = o.interpolation === 'cubic';
  const reach = o.maxPeriod / 2 + (o.maxRatio * n) / 2 + (cubic ? 3 : 2);
  const pad = Math.ceil(Math.max(0, reach - n / 2) / 64) * 64;
  const padded = b.op('Pad', [signal, i64(b, [pad, pad])]);
  const d = b.op('Sub', [
    b.op('Slice', [padded, i64(b, [1]), i64(b, [1_000_000_000])]),
    b.op('Slice', [padded, i64(b, [0]), i64(b, [-1])]),
  ]);
  const centreIndex = perFrame(b.op('Add', [b.op('Mul', [t, i64(b, [f.hop])]), i64(b, [n / 2 + pad])]));
  const offsetFloor = b.op('Floor', [offset]);
  const flat = (v: string): string => b.op('Reshape', [v, i64(b, [-1])]);
  const frac = flat(b.op('Sub', [offset, offsetFloor]));
  const index = flat(b.op('Add', [centreIndex, b.op('Cast', [offsetFloor], { to: 7 })]));
  const grains = cubic
    ? catmullRom(b, padded, index, frac)
    : b.op('Add', [
        b.op('GatherElements', [padded, index], { axis: 0 }),
        b.op('Mul', [frac, b.op('GatherElements', [d, index], { axis: 0 })]),
      ]);
  const [n1, n2] = fftSplit(n);
  const windowed = b.op('Mul', [b.op('Reshape', [grains, i64(b, [n1, -1, n2])]), layoutA(b, n, hann(n))]);
  const grainSpec = rfftA(b, windowed, n);
  // Band fill: the input's own spectrum where shifting down left the top band empty.
  const corrector = x.correction(frameRatio, o.fillFade);
  const filled = corrector.fill
    ? b.op('Add', [
        grainSpec,
        b.op('Mul', [b.op('Sub', [flatSpec, grainSpec]), bothParts(b, corrector.fill)]),
      ])
    : grainSpec;
  // The harmonics' period: the track's, or re-measured on the input (their voicing then only where it was).
  const own = o.harmonic?.refine
    ? refinePeriod(b, f, x.audio, x.period, o.harmonic.refine, o.maxPeriod)
    : null;
  const harmonic =
    o.harmonic && x.harmonicStateIn
      ? harmonicVoicing(
          b,
          f,
          {
            length,
            f0: b.op('Mul', [
              b.op('Div', [
                f32(b, [f.sampleRate], []),
                b.op('Reshape', [own ? own.period : x.period, i64(b, [-1])]),
              ]),
              frameRatio,
            ]),
            voiced: own ? b.op('Mul', [x.voiced, own.confident]) : x.voiced,
            ...(own && o.harmonic.periodicShare ? { periodic: own.correlation } : {}),
            frameRatio,
            stateIn: x.harmonicStateIn,
            grainSpec: filled,
          },
          o.harmonic,
          o.skipFrames,
          o.context,
        )
      : null;
  const spec = harmonic ? harmonic.spec : filled;
  const envelopeShift = whiten ? x.colour(powerA(b, spec)) : corrector.correct(powerA(b, spec));
  const lim = logDb(whiten ? o.maxColourDb : o.maxCorrectionDb);
  const correction = b.op('Clip', [envelopeShift, f32(b, [-lim], []), f32(b, [lim], [])]);
  const magnitude = b.op('Exp', [b.op('Mul', [correction, f32(b, [0.5], [])])]);
  return {
    spec: b.op('Mul', [spec, bothParts(b, magnitude)]),
    stateOut,
    ...(harmonic ? { harmonicStateOut: harmonic.stateOut } : {}),
  };
}

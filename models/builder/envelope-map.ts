import { bandCepstrumWeight, cepstrumEdge } from '../../workers/engine/index.js';
import { f32, i64 } from './dsp.js';
import { angle, cosTableA, fftSplit } from './fft.js';
import type { GraphBuilder } from './graph-builder.js';

/**
 * Per-frame envelope conversion in the cepstral domain: each frame's level-free envelope is warped in
 * frequency by the vocal-tract ratio of the two voices (its fine detail), and its coarse shape (c1..cQ of
 * the log power with a floor relative to the frame's mean power, as workers/engine/voice-features.ts) is
 * mapped linearly so that the frames get the target's mean and covariance (whitening-colouring).
 */
export interface EnvelopeMapOptions {
  /** Cepstral coefficients c1..cQ over 0..bandHz (the profile's width and band, voice-features.ts). */
  quefrencies: number;
  bandHz: number;
  /**
   * Where the band cepstra start (the profile's, voice-features.ts CEPSTRUM_FROM_HZ): the log power below it is
   * read at the first bin at or above it, so rumble and DC offsets are no part of any envelope.
   */
  fromHz: number;
  sampleRate: number;
  /** How the frame's own (warped) envelope is resolved. */
  lifter: AdaptiveLifter;
  /** Cepstra of the grain's envelope as measured (its coarse shape; the fine detail is known). */
  coarseQuefrencies: number;
  /** Floor added to every bin before the log, times the frame's mean power (as the profile's cepstra). */
  relativeFloor: number;
  /** Warp factor limits: alpha = target / source formant ratio, clipped to this range. */
  minWarp: number;
  maxWarp: number;
  /** The move fades out from here to bandHz. */
  fadeFromHz: number;
  /** Frames the per-frame move is averaged over (odd), so it never flickers. */
  smoothFrames: number;
  /** Frame level (dBFS, mean square) from which the move fades in over `gateRangeDb`: silence is left alone. */
  gateFromDb: number;
  gateRangeDb: number;
  /**
   * What each frame's coarse shape is asked to be: 'warpedMap' (shipped) mu_t + A_w W (c - mu_s), the frame's
   * deviation from the source's mean warped, then whitened and coloured in the warped domain (warpedMap);
   * 'map' (the model before) mu_t + A (c - mu_s) of the unwarped cepstra (linearMap); 'warp' W c alone, no
   * map (experiments only).
   */
  request: 'warpedMap' | 'map' | 'warp';
  /** Ridge added to the warped covariance before its inverse root, times its trace. */
  warpedRidge: number;
  /**
   * The frequency warp: 'formants' (shipped) is piecewise linear through the source's F1, F2, F3 -> the
   * target's, each ratio clipped to formantWarp and scaled by strength in log, F3's ratio above F3
   * (formantWarp); 'ratio' (the model before) scales every frequency by one ratio, the geometric mean of the
   * three clipped to minWarp..maxWarp.
   */
  warpShape: 'ratio' | 'formants';
  formantWarp: WarpLimits;
  /**
   * Exemplar blend (exemplarBlend): each pitch frame's request pulled toward the mean of its k nearest rows
   * of the target's exemplar bank (the profile's `envelopeExemplars`). Absent or null: none.
   */
  exemplars?: ExemplarOptions | null;
}

/** The exemplar blend's settings (docs/MODEL-NOTES.md "Exemplar (k nearest target frames)"). */
export interface ExemplarOptions {
  /** Rows a profile keeps at most (the manifest's analysis.envelopeExemplars). */
  frames: number;
  /** Nearest rows averaged. */
  k: number;
  /** How far the request moves toward their mean (0..1), times strength as every move. */
  weight: number;
  /** Pitch frames their mean is averaged over (odd; 1: none). */
  smoothFrames: number;
  /**
   * Where: 'request' (absent) pulls the map's request before the synthesis and the fit; 'output' re-colours the
   * fitted output toward the k nearest rows of its own measured band cepstra (one more fit-like pass, at most
   * `maxDb` either way), as the offline study did; 'both' does both.
   */
  on?: 'request' | 'output' | 'both';
  maxDb?: number;
  /**
   * How the move shrinks where the bank is sparse: each frame's weight times t / (t + d), d its k nearest rows'
   * mean squared standardised distance per coefficient (absent: no shrinking).
   */
  confidence?: number;
}

export interface EnvelopeMapInputs {
  /** [3] median F1..F3 of the source and the target (0 = unknown). */
  sourceFormants: string;
  targetFormants: string;
  /** [1] */
  strength: string;
  /** Envelope statistics (envelope-stats.ts) per class: means [C, Q], target's covariance root and source's inverse root [C, Q, Q]. */
  sourceMean: string;
  sourceInverseRoot: string;
  targetMean: string;
  targetRoot: string;
  /** The source's covariance root [C, Q, Q] (request 'warpedMap' only). */
  sourceRoot?: string;
  /** The target's exemplar bank [N, Q + 1] (rows [class, c1..cQ]; class 1 voiced, -1 not, 0 no row). */
  exemplars?: string;
}

/** Mean power of each frame over the whole spectrum, [1, F, 1], from native power [N1, F, K2]. */
function framePowerA(b: GraphBuilder, n: number, power: string): string {
  const mean = b.op('ReduceSum', [b.op('MatMul', [power, cosTableA(b, n, 0, 0)]), i64(b, [0])], {
    keepdims: 0,
  });
  return b.op('Reshape', [mean, i64(b, [1, -1, 1])]);
}

/**
 * Mean power per frame [1, F, 1] of native power (n-point frames) over bins `from`..N/2 (voice-features.ts
 * meanPower): the band cepstra's floor, which rumble below their held bin must not raise.
 */
function framePowerFromA(b: GraphBuilder, n: number, power: string, from: number): string {
  if (from === 0) return framePowerA(b, n, power);
  const t = nativeTable(n, 1, (k) => (k < from ? 0 : (k === 0 || k === n / 2 ? 1 : 2) / n), false);
  const mean = b.op('ReduceSum', [b.op('MatMul', [power, f32(b, t.values, t.dims)]), i64(b, [0])], {
    keepdims: 0,
  });
  return b.op('Reshape', [mean, i64(b, [1, -1, 1])]);
}

/** c0..cQ [F, Q + 1] of ln(power + relativeFloor * mean power) per frame. */
function frameCepstraA(b: GraphBuilder, n: number, power: string, q: number, relativeFloor: number): string {
  const floor = b.op('Add', [
    b.op('Mul', [framePowerA(b, n, power), f32(b, [relativeFloor], [])]),
    f32(b, [1e-20], []),
  ]);
  const logPower = b.op('Log', [b.op('Add', [power, floor])]);
  return b.op('ReduceSum', [b.op('MatMul', [logPower, cosTableA(b, n, 0, q)]), i64(b, [0])], { keepdims: 0 });
}

/** How finely a frame's own envelope is resolved: as finely as its harmonics allow. */
export interface AdaptiveLifter {
  /** Highest quefrency (samples) kept in any frame; the frame length sets what is resolvable at all. */
  maxQuefrency: number;
  /** Cut-off as a share of the frame's period in voiced frames (below the first rahmonic). */
  periodShare: number;
  /** Cut-off in unvoiced frames. */
  unvoicedQuefrency: number;
  relativeFloor: number;
}

/**
 * Liftered cepstra c0..cQ [F, Q + 1] of each frame's log power (Q = maxQuefrency), the lifter tapering to 0
 * at min(maxQuefrency, periodShare x period) in voiced frames, unvoicedQuefrency in unvoiced ones (period
 * [F, 1] in samples, voiced 0..1 [F, 1]). Why: a fixed smooth lifter leaves sharp formants where they were
 * when the correction should move them (measured: a 20 % warp moved F1 of female speech by 5 %).
 */
function adaptiveCepstraA(
  b: GraphBuilder,
  n: number,
  power: string,
  period: string,
  voiced: string,
  o: AdaptiveLifter,
): string {
  const q = o.maxQuefrency;
  const cep = frameCepstraA(b, n, power, q, o.relativeFloor);
  const periodic = b.op('Min', [b.op('Mul', [period, f32(b, [o.periodShare], [])]), f32(b, [q], [])]);
  const cutoff = b.op('Add', [
    b.op('Mul', [periodic, voiced]),
    b.op('Mul', [b.op('Sub', [f32(b, [1], []), voiced]), f32(b, [o.unvoicedQuefrency], [])]),
  ]);
  const qs = f32(
    b,
    Array.from({ length: q + 1 }, (_, i) => i),
    [1, q + 1],
  );
  const x = b.op('Min', [b.op('Div', [qs, b.op('Add', [cutoff, f32(b, [1], [])])]), f32(b, [1], [])]);
  const lifter = b.op('Mul', [
    b.op('Add', [b.op('Cos', [b.op('Mul', [x, f32(b, [Math.PI], [])])]), f32(b, [1], [])]),
    f32(b, [0.5], []),
  ]);
  return b.op('Mul', [cep, lifter]);
}

/**
 * Where output frequency index i [1, G] reads the source's envelope (same units), given `topIndex`, the
 * index of bandHz on that grid: the inverse of the frequency warp.
 */
export type FrequencyWarp = (index: string, topIndex: number) => string;

/** Uniform warp by alpha [1]: index / alpha. */
function ratioWarp(b: GraphBuilder, alpha: string): FrequencyWarp {
  return (index) => b.op('Div', [index, alpha]);
}

/** Ratio limits of the formant warp: one [min, max] for F1..F3, or one per formant. */
export type WarpLimits = readonly [number, number] | readonly (readonly [number, number])[];

/** [min, max] of formant k (0..2) under `limits`. */
function limitsOf(limits: WarpLimits, k: number): readonly [number, number] {
  const first = limits[0];
  return typeof first === 'number' ? (limits as readonly [number, number]) : (limits[k] as [number, number]);
}

/**
 * Piecewise-linear warp through the formants: output anchors t_k = s_k r_k^strength (r_k = target / source
 * F_k clipped to `limits`, one range for all or one per formant), source anchors s_k; below F1 and between
 * anchors linear, above F3 the F3 slope. Positions in Hz scaled to index units by topIndex / bandHz.
 */
export function formantWarp(
  b: GraphBuilder,
  x: EnvelopeMapInputs,
  o: EnvelopeMapOptions,
  limits: WarpLimits,
): FrequencyWarp {
  const known = b.op('And', [
    b.op('Greater', [b.op('ReduceMin', [x.sourceFormants], { keepdims: 1 }), f32(b, [0], [])]),
    b.op('Greater', [b.op('ReduceMin', [x.targetFormants], { keepdims: 1 }), f32(b, [0], [])]),
  ]);
  const safe = (v: string): string => b.op('Max', [v, f32(b, [1], [])]);
  const ratio = b.op('Log', [b.op('Div', [safe(x.targetFormants), safe(x.sourceFormants)])]);
  const ranges = [0, 1, 2].map((k) => limitsOf(limits, k));
  const logRatio =
    typeof limits[0] === 'number'
      ? b.op('Clip', [ratio, f32(b, [Math.log(ranges[0][0])], []), f32(b, [Math.log(ranges[0][1])], [])])
      : b.op('Max', [
          b.op('Min', [
            ratio,
            f32(
              b,
              ranges.map((r) => Math.log(r[1])),
              [3],
            ),
          ]),
          f32(
            b,
            ranges.map((r) => Math.log(r[0])),
            [3],
          ),
        ]);
  const scaled = b.op('Mul', [b.op('Where', [known, logRatio, f32(b, [0], [])]), x.strength]);
  // Unknown formants: any increasing anchors (the ratios are 1 then, so the warp is the identity).
  const source = b.op('Where', [known, safe(x.sourceFormants), f32(b, [500, 1500, 2500], [3])]);
  const target = b.op('Mul', [source, b.op('Exp', [scaled])]);
  const at = (v: string, k: number): string => b.op('Slice', [v, i64(b, [k]), i64(b, [k + 1])]);
  return (index, topIndex) => {
    const hz = b.op('Mul', [index, f32(b, [o.bandHz / topIndex], [])]);
    let read = f32(b, [0], []);
    let prevT = f32(b, [0], []);
    let prevS = f32(b, [0], []);
    for (let k = 0; k < 4; k++) {
      const t = k < 3 ? at(target, k) : f32(b, [1e9], []);
      const sk = k < 3 ? at(source, k) : null;
      // Slope of segment k: (s_k - s_{k-1}) / (t_k - t_{k-1}); above F3 the F3 ratio's.
      const slope = sk
        ? b.op('Div', [b.op('Sub', [sk, prevS]), b.op('Sub', [t, prevT])])
        : b.op('Div', [at(source, 2), at(target, 2)]);
      const span = b.op('Clip', [b.op('Sub', [hz, prevT]), f32(b, [0], []), b.op('Sub', [t, prevT])]);
      read = b.op('Add', [read, b.op('Mul', [span, slope])]);
      prevT = t;
      if (sk) prevS = sk;
    }
    return b.op('Mul', [read, f32(b, [topIndex / o.bandHz], [])]);
  };
}

/** alpha^strength [1]: geometric mean of target / source F1..F3, 1 when either is unknown, clipped. */
function warpFactor(b: GraphBuilder, x: EnvelopeMapInputs, o: EnvelopeMapOptions): string {
  const known = b.op('And', [
    b.op('Greater', [b.op('ReduceMin', [x.sourceFormants], { keepdims: 1 }), f32(b, [0], [])]),
    b.op('Greater', [b.op('ReduceMin', [x.targetFormants], { keepdims: 1 }), f32(b, [0], [])]),
  ]);
  const safe = (v: string): string => b.op('Max', [v, f32(b, [1], [])]);
  const logRatio = b.op(
    'ReduceMean',
    [b.op('Log', [b.op('Div', [safe(x.targetFormants), safe(x.sourceFormants)])])],
    {
      keepdims: 1,
    },
  );
  const clipped = b.op('Clip', [
    logRatio,
    f32(b, [Math.log(o.minWarp)], []),
    f32(b, [Math.log(o.maxWarp)], []),
  ]);
  const scaled = b.op('Mul', [b.op('Where', [known, clipped, f32(b, [0], [])]), x.strength]);
  return b.op('Exp', [scaled]);
}

/**
 * Matrix W with c_warped = c @ W for cepstra of an envelope sampled on `points` frequencies spanning
 * [0, top] (E(j) = c0 + 2 sum_q c_q cos(pi q j / (points - 1))): the envelope read at warp(j) (held at the
 * top beyond it: a downward warp repeats the top band instead of folding it), projected back onto the same
 * cepstra. Rows and columns run over q = from..q; the identity warp gives the identity.
 */
function warpMatrix(b: GraphBuilder, points: number, from: number, q: number, warp: FrequencyWarp): string {
  const top = points - 1;
  const grid = Array.from({ length: points }, (_, j) => j);
  const weights = grid.map((j) => (j === 0 || j === top ? 1 : 2) / (2 * top));
  const qs = Array.from({ length: q + 1 - from }, (_, i) => i + from);
  const at = b.op('Min', [warp(f32(b, grid, [1, points]), top), f32(b, [top], [])]);
  // read[q, j] = m_q cos(pi q at_j / top); project[j, q'] = v_j cos(pi q' j / top).
  const [read] = angle(b, b.op('Mul', [f32(b, qs, [qs.length, 1]), at]), 2 * top);
  const m = qs.map((i) => (i === 0 ? 1 : 2));
  const project = grid.flatMap((j) =>
    qs.map((i) => weights[j] * Math.cos((Math.PI * ((i * j) % (2 * top))) / top)),
  );
  return b.op('MatMul', [
    b.op('Mul', [read, f32(b, m, [qs.length, 1])]),
    f32(b, project, [points, qs.length]),
  ]);
}

/** Native-layout constant [N1, K2, Q] (or its [N1, Q, K2] transpose): value(k, q) per bin k <= N/2, 0 past it. */
function nativeTable(n: number, q: number, value: (k: number, q: number) => number, transpose: boolean) {
  const [n1, n2] = fftSplit(n);
  const k2n = n2 / 2 + 1;
  const out = new Array<number>(n1 * k2n * q).fill(0);
  for (let k1 = 0; k1 < n1; k1++) {
    for (let k2 = 0; k2 < k2n; k2++) {
      const k = k1 + n1 * k2;
      if (k > n / 2) continue;
      for (let i = 0; i < q; i++) {
        const at = transpose ? (k1 * q + i) * k2n + k2 : (k1 * k2n + k2) * q + i;
        out[at] = value(k, i + 1);
      }
    }
  }
  return { values: out, dims: transpose ? [n1, q, k2n] : [n1, k2n, q] };
}

/**
 * Band cepstra c1..cQ [F, Q] of ln(power + floor), held below fromHz, as voice-features.ts cepstrumTable computes
 * them.
 */
export function bandCepstraA(
  b: GraphBuilder,
  n: number,
  power: string,
  o: Pick<EnvelopeMapOptions, 'bandHz' | 'fromHz' | 'quefrencies' | 'relativeFloor' | 'sampleRate'>,
): string {
  const span = (o.bandHz * n) / o.sampleRate;
  const edge = cepstrumEdge(o.sampleRate / n, o.fromHz);
  const t = nativeTable(n, o.quefrencies, (k, q) => bandCepstrumWeight(k, q, span, edge), false);
  const floor = b.op('Add', [
    b.op('Mul', [framePowerFromA(b, n, power, edge), f32(b, [o.relativeFloor], [])]),
    f32(b, [1e-20], []),
  ]);
  const logPower = b.op('Log', [b.op('Add', [power, floor])]);
  return b.op('ReduceSum', [b.op('MatMul', [logPower, f32(b, t.values, t.dims)]), i64(b, [0])], {
    keepdims: 0,
  });
}

/** [P, C] per pitch frame -> [2P - 1, C] per synthesis frame: pitch frame j sits on synthesis frame 2j. */
function toSynthFrames(b: GraphBuilder, x: string): string {
  const a = b.op('Slice', [x, i64(b, [0]), i64(b, [-1]), i64(b, [0])]);
  const c = b.op('Slice', [x, i64(b, [1]), i64(b, [1_000_000_000]), i64(b, [0])]);
  const mid = b.op('Mul', [b.op('Add', [a, c]), f32(b, [0.5], [])]);
  const pairs = b.op('Concat', [b.op('Unsqueeze', [a, i64(b, [1])]), b.op('Unsqueeze', [mid, i64(b, [1])])], {
    axis: 1,
  });
  const width = b.op('Slice', [b.op('Shape', [x]), i64(b, [1]), i64(b, [2])]);
  const last = b.op('Slice', [x, i64(b, [-1]), i64(b, [1_000_000_000]), i64(b, [0])]);
  return b.op(
    'Concat',
    [b.op('Reshape', [pairs, b.op('Concat', [i64(b, [-1]), width], { axis: 0 })]), last],
    {
      axis: 0,
    },
  );
}

/** Level in dBFS (mean square) per frame [F, 1] from native power of Hann-windowed n-point frames. */
function frameDb(b: GraphBuilder, n: number, power: string): string {
  // Mean power / sum(hann^2) is the mean square (Parseval).
  const windowPower = (3 * n) / 8;
  const mean = b.op('Reshape', [framePowerA(b, n, power), i64(b, [-1, 1])]);
  const ms = b.op('Div', [b.op('Add', [mean, f32(b, [1e-20], [])]), f32(b, [windowPower], [])]);
  return b.op('Mul', [b.op('Log', [ms]), f32(b, [10 / Math.LN10], [])]);
}

/**
 * The move [P, Q] per pitch frame (and the warped envelope `shape` it starts from): from the frame's
 * level-free envelope warped by alpha, `strength` times
 * the way to its linearly mapped envelope (linearMap), faded out in silence. Measured on the long frames
 * (`n`), as the profile's statistics were, so no framing bias enters the move.
 */
function envelopeMove(
  b: GraphBuilder,
  frames: { n: number; power: string; voiced: string },
  frequencyWarp: FrequencyWarp,
  x: EnvelopeMapInputs,
  o: EnvelopeMapOptions,
): { shape: string; move: string } {
  const { n, power } = frames;
  const raw = bandCepstraA(b, n, power, o);
  const warp = warpMatrix(b, WARP_POINTS, 1, o.quefrencies, frequencyWarp);
  const shape = b.op('MatMul', [raw, warp]);
  const asked =
    o.request === 'warp'
      ? shape
      : o.request === 'warpedMap'
        ? warpedMap(b, raw, frames.voiced, x, warp, o.quefrencies, o.warpedRidge)
        : linearMap(b, raw, frames.voiced, x);
  const blended =
    o.exemplars && x.exemplars && o.exemplars.on !== 'output'
      ? exemplarBlend(b, asked, frames.voiced, x.exemplars, x.targetRoot, o.quefrencies, o.exemplars)
      : asked;
  const move = b.op('Sub', [blended, shape]);
  const gate = b.op('Clip', [
    b.op('Div', [
      b.op('Sub', [frameDb(b, n, power), f32(b, [o.gateFromDb], [])]),
      f32(b, [o.gateRangeDb], []),
    ]),
    f32(b, [0], []),
    f32(b, [1], []),
  ]);
  const amount = b.op('Clip', [x.strength, f32(b, [0], []), f32(b, [2], [])]);
  return { shape, move: b.op('Mul', [b.op('Mul', [move, gate]), amount]) };
}

/**
 * Whitening-colouring of row cepstra [P, Q]: mu_t + (c - mu_s) S_s^(-1/2) S_t^(1/2), i.e. c' = mu_t + A (c - mu_s)
 * with A = S_t^(1/2) S_s^(-1/2) for column vectors: the output's frames get the target's mean and covariance.
 * Two classes, voiced and unvoiced frames (statistics [2, Q] and [2, Q, Q]): each frame blends the two maps
 * by how voiced it is ([P, 1], 0..1).
 */
function linearMap(b: GraphBuilder, cepstra: string, voiced: string, x: EnvelopeMapInputs): string {
  const pick = (v: string, c: number): string =>
    b.op('Squeeze', [b.op('Slice', [v, i64(b, [c]), i64(b, [c + 1])]), i64(b, [0])]);
  const map = (c: number): string => {
    const a = b.op('MatMul', [pick(x.sourceInverseRoot, c), pick(x.targetRoot, c)]);
    return b.op('Add', [
      b.op('MatMul', [b.op('Sub', [cepstra, pick(x.sourceMean, c)]), a]),
      pick(x.targetMean, c),
    ]);
  };
  const v = map(0);
  const u = map(1);
  return b.op('Add', [u, b.op('Mul', [b.op('Sub', [v, u]), voiced])]);
}

/** Distance added between a frame and a bank row of another class (or an empty row): never among the k. */
const OTHER_CLASS = 1e9;

/**
 * The request [P, Q] pulled toward its exemplars: for each pitch frame, the mean of its k nearest bank rows
 * of its own class (voiced when voiced [P, 1] >= 0.5), distance on c1..cQ over the target's per-coefficient
 * spread of that class (from the covariance root [2, Q, Q], symmetric: its rows' squares sum to the
 * variances), that mean averaged over `smoothFrames`, then `weight` of the way toward it. A frame none of
 * whose k nearest rows is of its class (a bank without such frames, or none at all: the one empty row fed for
 * a profile without exemplars) keeps its request. Why: the statistical map gives every frame the target's
 * mean and covariance but not the target's frames; offline (docs/MODEL-NOTES.md) this lifted the parallel
 * cut 33 -> 41-43 %.
 */
export function exemplarBlend(
  b: GraphBuilder,
  asked: string,
  voiced: string,
  bank: string,
  targetRoot: string,
  q: number,
  o: ExemplarOptions,
): string {
  const flag = b.op('Reshape', [
    b.op('Slice', [bank, i64(b, [0]), i64(b, [1]), i64(b, [1])]),
    i64(b, [1, -1]),
  ]);
  const rows = b.op('Slice', [bank, i64(b, [1]), i64(b, [q + 1]), i64(b, [1])]);
  // 1 / sd per class [2, Q].
  const variance = b.op('ReduceSum', [b.op('Mul', [targetRoot, targetRoot]), i64(b, [2])], { keepdims: 0 });
  const inverseSd = b.op('Div', [
    f32(b, [1], []),
    b.op('Sqrt', [b.op('Add', [variance, f32(b, [1e-8], [])])]),
  ]);
  const pick = (c: number): string => b.op('Slice', [inverseSd, i64(b, [c]), i64(b, [c + 1]), i64(b, [0])]);
  const frameVoiced = b.op('GreaterOrEqual', [voiced, f32(b, [0.5], [])]);
  const rowVoiced = b.op('Greater', [b.op('Reshape', [flag, i64(b, [-1, 1])]), f32(b, [0], [])]);
  const a = b.op('Mul', [asked, b.op('Where', [frameVoiced, pick(0), pick(1)])]);
  const e = b.op('Mul', [rows, b.op('Where', [rowVoiced, pick(0), pick(1)])]);
  const aa = b.op('ReduceSum', [b.op('Mul', [a, a]), i64(b, [1])], { keepdims: 1 });
  const ee = b.op('Reshape', [
    b.op('ReduceSum', [b.op('Mul', [e, e]), i64(b, [1])], { keepdims: 1 }),
    i64(b, [1, -1]),
  ]);
  const cross = b.op('MatMul', [a, b.op('Transpose', [e], { perm: [1, 0] })]);
  const distance = b.op('Add', [b.op('Sub', [aa, b.op('Mul', [cross, f32(b, [2], [])])]), ee]);
  // Row class as +-1 against the frame's: same class 0 off, another (or an empty row, 0) OTHER_CLASS.
  const frameSign = b.op('Sub', [
    b.op('Mul', [b.op('Cast', [frameVoiced], { to: 1 }), f32(b, [2], [])]),
    f32(b, [1], []),
  ]);
  const mismatch = b.op('Cast', [b.op('Not', [b.op('Equal', [flag, frameSign])])], { to: 1 });
  const masked = b.op('Add', [distance, b.op('Mul', [mismatch, f32(b, [OTHER_CLASS], [])])]);
  const n = b.op('Slice', [b.op('Shape', [bank]), i64(b, [0]), i64(b, [1])]);
  const k = b.op('Min', [n, i64(b, [o.k])]);
  const top = b.opMulti('TopK', [masked, k], { axis: 1, largest: 0, sorted: 0 }, 2);
  const valid = b.op('Cast', [b.op('Less', [top[0], f32(b, [OTHER_CLASS / 2], [])])], { to: 1 });
  const neighbours = b.op('Gather', [rows, top[1]], { axis: 0 });
  const sum = b.op(
    'ReduceSum',
    [b.op('Mul', [neighbours, b.op('Unsqueeze', [valid, i64(b, [2])])]), i64(b, [1])],
    {
      keepdims: 0,
    },
  );
  const count = b.op('ReduceSum', [valid, i64(b, [1])], { keepdims: 1 });
  const has = b.op('Cast', [b.op('Greater', [count, f32(b, [0], [])])], { to: 1 });
  const mean = b.op('Div', [sum, b.op('Max', [count, f32(b, [1], [])])]);
  // Frames without exemplars keep their request: their share weighs nothing in the average either.
  const trust =
    o.confidence === undefined
      ? has
      : b.op('Mul', [has, confidence(b, top[0], valid, count, q, o.confidence)]);
  const smoothMean = o.smoothFrames > 1 ? smoothFrames(b, mean, o.smoothFrames) : mean;
  const smoothHas = o.smoothFrames > 1 ? smoothFrames(b, has, o.smoothFrames) : has;
  const smoothTrust = o.smoothFrames > 1 ? smoothFrames(b, trust, o.smoothFrames) : trust;
  const goal = b.op('Div', [smoothMean, b.op('Max', [smoothHas, f32(b, [1e-6], [])])]);
  const weight = b.op('Mul', [smoothTrust, f32(b, [o.weight], [])]);
  return b.op('Add', [asked, b.op('Mul', [b.op('Sub', [goal, asked]), weight])]);
}

/**
 * t / (t + d) per frame [P, 1], d the mean over its valid neighbours of their squared standardised distance
 * [P, k] per coefficient: near 1 where the bank has frames like this one, smaller where it has none close.
 */
function confidence(
  b: GraphBuilder,
  distances: string,
  valid: string,
  count: string,
  q: number,
  t: number,
): string {
  const near = b.op('Div', [
    b.op('ReduceSum', [b.op('Mul', [distances, valid]), i64(b, [1])], { keepdims: 1 }),
    b.op('Mul', [b.op('Max', [count, f32(b, [1], [])]), f32(b, [q], [])]),
  ]);
  const d = b.op('Max', [near, f32(b, [0], [])]);
  return b.op('Div', [f32(b, [t], []), b.op('Add', [f32(b, [t], []), d])]);
}

/** Newton-Schulz iterations for the inverse square root of the warped source covariance. */
const ROOT_ITERATIONS = 30;
/**
 * (S)^(-1/2) of a symmetric positive definite [Q, Q] by the coupled Newton-Schulz iteration (matrix products
 * only, so in-graph): S scaled by its trace (eigenvalues in (0, 1]), Y -> S^(1/2), Z -> S^(-1/2).
 */
export function inverseRoot(b: GraphBuilder, s: string, q: number, ridge: number): string {
  const eye = Array.from({ length: q * q }, (_, i) => (i % (q + 1) === 0 ? 1 : 0));
  const identity = f32(b, eye, [q, q]);
  const trace = b.op('ReduceSum', [b.op('Mul', [s, identity])], { keepdims: 0 });
  const ridged = b.op('Add', [s, b.op('Mul', [identity, b.op('Mul', [trace, f32(b, [ridge], [])])])]);
  const scale = b.op('Mul', [trace, f32(b, [1 + ridge * q], [])]);
  let y = b.op('Div', [ridged, scale]);
  let z = identity;
  for (let i = 0; i < ROOT_ITERATIONS; i++) {
    const t = b.op('Mul', [
      b.op('Sub', [
        f32(
          b,
          eye.map((v) => 3 * v),
          [q, q],
        ),
        b.op('MatMul', [z, y]),
      ]),
      f32(b, [0.5], []),
    ]);
    y = b.op('MatMul', [y, t]);
    z = b.op('MatMul', [t, z]);
  }
  return b.op('Div', [z, b.op('Sqrt', [scale])]);
}

/**
 * Whitening-colouring in the warped domain: each frame's deviation from the source's mean, warped (row
 * cepstra: d W), whitened by the warped deviations' own covariance W^T S_s W and coloured with the target's:
 * mu_t + d W (W^T S_s W)^(-1/2) S_t^(1/2). Why: the map of the unwarped cepstra (linearMap) re-imposes the
 * source frame's formant positions on the coarse shape, which the fit then renders, and the warp is lost
 * (measured: 1098 -> 1040 asked 0.851, the output showed 0.995).
 */
export function warpedMap(
  b: GraphBuilder,
  cepstra: string,
  voiced: string,
  x: EnvelopeMapInputs,
  warp: string,
  q: number,
  ridge: number,
): string {
  const root = x.sourceRoot;
  if (!root) throw new Error('warpedMap needs the source covariance root');
  const pick = (v: string, c: number): string =>
    b.op('Squeeze', [b.op('Slice', [v, i64(b, [c]), i64(b, [c + 1])]), i64(b, [0])]);
  const map = (c: number): string => {
    const r = pick(root, c);
    const rw = b.op('MatMul', [r, warp]);
    const covariance = b.op('MatMul', [b.op('Transpose', [rw], { perm: [1, 0] }), rw]);
    const a = b.op('MatMul', [inverseRoot(b, covariance, q, ridge), pick(x.targetRoot, c)]);
    const deviation = b.op('MatMul', [b.op('Sub', [cepstra, pick(x.sourceMean, c)]), warp]);
    return b.op('Add', [b.op('MatMul', [deviation, a]), pick(x.targetMean, c)]);
  };
  const v = map(0);
  const u = map(1);
  return b.op('Add', [u, b.op('Mul', [b.op('Sub', [v, u]), voiced])]);
}

/** Moving average over `frames` (odd) along the first axis of [F, C]. */
function smoothFrames(b: GraphBuilder, x: string, frames: number): string {
  const half = (frames - 1) / 2;
  const pooled = b.op(
    'AveragePool',
    [b.op('Unsqueeze', [b.op('Transpose', [x], { perm: [1, 0] }), i64(b, [0])])],
    {
      kernel_shape: [frames],
      pads: [half, half],
      count_include_pad: 0,
    },
  );
  return b.op('Transpose', [b.op('Squeeze', [pooled, i64(b, [0])])], { perm: [1, 0] });
}

/** Frequency grid the band cepstra are warped on. */
const WARP_POINTS = 257;

/** Cepstra [F, Q + 1] -> log-power envelope on the natural bins 0..N/2, [F, N/2 + 1] (tapered lifter or none). */
function naturalEnvelope(b: GraphBuilder, n: number, cepstra: string, q: number, taper = false): string {
  const nb = n / 2 + 1;
  const table: number[] = [];
  for (let i = 0; i <= q; i++) {
    const lift = taper ? 0.5 * (1 + Math.cos((Math.PI * i) / (q + 1))) : 1;
    for (let k = 0; k < nb; k++) {
      table.push((i === 0 ? 1 : 2) * lift * Math.cos((Math.PI * ((i * k) % n)) / (n / 2)));
    }
  }
  return b.op('MatMul', [cepstra, f32(b, table, [q + 1, nb])]);
}

/** Band cepstra [F, Q] -> log-power change on the natural bins [F, N/2 + 1], faded out at the band's top. */
function naturalBandEnvelope(b: GraphBuilder, n: number, cepstra: string, o: EnvelopeMapOptions): string {
  const q = o.quefrencies;
  const nb = n / 2 + 1;
  const span = (o.bandHz * n) / o.sampleRate;
  const fadeFrom = (o.fadeFromHz * n) / o.sampleRate;
  const fade = (k: number): number => Math.max(0, Math.min(1, (span - k) / (span - fadeFrom)));
  const table: number[] = [];
  for (let i = 1; i <= q; i++) {
    for (let k = 0; k < nb; k++) table.push(2 * fade(k) * Math.cos((Math.PI * i * Math.min(k, span)) / span));
  }
  return b.op('MatMul', [cepstra, f32(b, table, [q, nb])]);
}

/**
 * E [F, B] (natural bins) read at k / factor (factor [F, 1] or [1, 1]), linearly interpolated, held at the
 * top bin beyond it: the envelope scaled in frequency by `factor`.
 */
function scaleEnvelope(b: GraphBuilder, envelope: string, bins: number, factor: string): string {
  return warpEnvelope(b, envelope, bins, (k) => b.op('Div', [k, factor]));
}

/** E [F, B] read at warp(k) (linearly interpolated, held at the top bin beyond it). */
function warpEnvelope(
  b: GraphBuilder,
  envelope: string,
  bins: number,
  warp: (k: string, top: number) => string,
): string {
  const k = f32(
    b,
    Array.from({ length: bins }, (_, i) => i),
    [1, bins],
  );
  const at = b.op('Min', [warp(k, bins - 1), f32(b, [bins - 1], [])]);
  const below = b.op('Min', [b.op('Floor', [at]), f32(b, [bins - 2], [])]);
  const frac = b.op('Sub', [at, below]);
  const frames = b.op('Slice', [b.op('Shape', [envelope]), i64(b, [0]), i64(b, [1])]);
  const index = b.op('Expand', [
    b.op('Cast', [below], { to: 7 }),
    b.op('Concat', [frames, i64(b, [bins])], { axis: 0 }),
  ]);
  const lo = b.op('GatherElements', [envelope, index], { axis: 1 });
  const hi = b.op('GatherElements', [envelope, b.op('Add', [index, i64(b, [1])])], { axis: 1 });
  return b.op('Add', [lo, b.op('Mul', [frac, b.op('Sub', [hi, lo])])]);
}

/** Natural [F, N/2 + 1] -> native layout [N1, F, K2] (positions past N/2 take bin N/2; they weigh nothing). */
export function toNative(b: GraphBuilder, n: number, natural: string): string {
  const [n1, n2] = fftSplit(n);
  const k2n = n2 / 2 + 1;
  const index: number[] = [];
  for (let k1 = 0; k1 < n1; k1++) for (let k2 = 0; k2 < k2n; k2++) index.push(Math.min(k1 + n1 * k2, n / 2));
  const gathered = b.op('Gather', [natural, b.constant('int64', index, [n1, k2n])], { axis: 1 });
  return b.op('Transpose', [gathered], { perm: [1, 0, 2] });
}

/**
 * Share of each natural bin [F, N/2 + 1] that the band fill takes from the input (see pitch-shift.ts): 0 below
 * (1 - fade) r N/2, 1 from r N/2 on, in frames shifted down (r < 1) only.
 */
export function fillShare(
  b: GraphBuilder,
  k: string,
  half: number,
  frameRatio: string,
  fade: number,
): string {
  const edge = b.op('Mul', [frameRatio, f32(b, [half], [])]);
  const ramp = b.op('Div', [
    b.op('Sub', [k, b.op('Mul', [edge, f32(b, [1 - fade], [])])]),
    b.op('Mul', [edge, f32(b, [fade], [])]),
  ]);
  const down = b.op('Less', [edge, f32(b, [half], [])]);
  return b.op('Where', [down, b.op('Clip', [ramp, f32(b, [0], []), f32(b, [1], [])]), f32(b, [0], [])]);
}

/**
 * For grains resampled by frameRatio [F] (see mapEnvelopes): the share of each bin the band fill takes from
 * the input, native [N1, F, K2] (null without a fill), and the log-power correction [N1, F, K2] of the
 * filled grains given their power.
 */
export type EnvelopeCorrection = (
  frameRatio: string,
  fillFade: number,
) => { fill: string | null; correct: (grainPower: string) => string };

/**
 * Band fill where the input's own band ends below Nyquist: a grain shifted down by r holds nothing above r
 * times the input's content edge (8 kHz for the 16 kHz recordings most speech comes as), and fillShare's
 * edge at r x Nyquist left a hole between the two (measured, female -> male at r 0.55 on LibriSpeech: the
 * 4-6 kHz band 9-15 dB below the source's, no correction could lift it, and the outputs' long-term
 * envelope moved away from every speaker's). The input is taken where the grain's known envelope lies more
 * than CONTENT_FILL_DB[0] (all of it from [1]) below the input's own, in the top half of the shifted band.
 */
const CONTENT_FILL_DB = [10, 20] as const;

/**
 * The per-frame envelope correction for the pitch shifter. Target: the input frame's own envelope (resolved
 * as finely as its harmonics allow, level kept) scaled in frequency by alpha, plus the mapped envelope's move
 * (envelopeMove on the pitch frames, averaged over smoothFrames, interpolated to the synthesis frames). The
 * warped envelope's own frame-to-frame movement stays: only the slowly varying move is added to it.
 * From: the grain's envelope, known exactly: the input's scaled by the frame's ratio (and the input's own
 * where the band fill takes over). Why not measure it on the grain: a downward shift by r narrows formant
 * bandwidths by r, sharper than any smooth estimate, and an estimate of the grain's envelope left those
 * peaks in place (measured: the envelope move of a female -> male conversion did not show at all).
 */
export function mapEnvelopes(
  b: GraphBuilder,
  frames: { n: number; power: string; period: string; voiced: string },
  pitchFrames: { n: number; power: string; voiced: string },
  x: EnvelopeMapInputs,
  o: EnvelopeMapOptions,
): EnvelopeMapping {
  const n = frames.n;
  const nb = n / 2 + 1;
  const cep = adaptiveCepstraA(b, n, frames.power, frames.period, frames.voiced, o.lifter);
  const own = naturalEnvelope(b, n, cep, o.lifter.maxQuefrency);
  const byFormants = o.warpShape === 'formants';
  const frequencyWarp = byFormants ? formantWarp(b, x, o, o.formantWarp) : ratioWarp(b, warpFactor(b, x, o));
  const mapped = envelopeMove(b, pitchFrames, frequencyWarp, x, o);
  const move = smoothFrames(b, mapped.move, o.smoothFrames);
  const target = b.op('Add', [
    // Natural bins span 0..sampleRate/2; the warp's positions are in Hz of bandHz over its top index.
    warpEnvelope(b, own, nb, (k) => frequencyWarp(k, ((nb - 1) * o.bandHz * 2) / o.sampleRate)),
    naturalBandEnvelope(b, n, toSynthFrames(b, move), o),
  ]);
  // Coarse smoothing (c0..c_coarse, tapered) as a matrix on the natural bins, [B, B].
  const coarse = o.coarseQuefrencies;
  const smoothing: number[] = [];
  const taper = (i: number): number => (i === 0 ? 1 : 2) * 0.5 * (1 + Math.cos((Math.PI * i) / (coarse + 1)));
  for (let j = 0; j < nb; j++) {
    const w = (j === 0 || j === nb - 1 ? 1 : 2) / n;
    for (let k = 0; k < nb; k++) {
      let v = 0;
      for (let i = 0; i <= coarse; i++) {
        v +=
          taper(i) *
          Math.cos((Math.PI * ((i * j) % n)) / (n / 2)) *
          Math.cos((Math.PI * ((i * k) % n)) / (n / 2));
      }
      smoothing.push(w * v);
    }
  }
  const smooth = (e: string): string => b.op('MatMul', [e, f32(b, smoothing, [nb, nb])]);
  const correction: EnvelopeCorrection = (frameRatio, fillFade) => {
    const ratio = b.op('Reshape', [frameRatio, i64(b, [-1, 1])]);
    const k = f32(
      b,
      Array.from({ length: nb }, (_, i) => i),
      [1, nb],
    );
    const resampled = scaleEnvelope(b, own, nb, ratio);
    const fill = fillFade > 0 ? contentFill(b, k, n / 2, ratio, fillFade, own, resampled) : null;
    const known = fill
      ? b.op('Add', [resampled, b.op('Mul', [fill, b.op('Sub', [own, resampled])])])
      : resampled;
    return {
      fill: fill ? toNative(b, n, fill) : null,
      correct: (grainPower) => correctFrom(known, grainPower),
    };
  };
  const measuredCoarse = (grainPower: string): string =>
    naturalEnvelope(b, n, frameCepstraA(b, n, grainPower, coarse, o.lifter.relativeFloor), coarse, true);
  function correctFrom(known: string, grainPower: string): string {
    // The grain's coarse envelope as measured (a grain spans 512 x r input samples, not the frame's 512),
    // its fine detail as known.
    const grain = b.op('Add', [b.op('Sub', [known, smooth(known)]), measuredCoarse(grainPower)]);
    return toNative(b, n, b.op('Sub', [target, grain]));
  }
  // The frame's own envelope without its level (its mean over the bins): dividing the input by it leaves a
  // flat excitation at the input's level, so a level change between frames is not smeared by the grains.
  const ownShape = b.op('Sub', [own, b.op('ReduceMean', [own, i64(b, [1])], { keepdims: 1 })]);
  return {
    correction,
    whitening: toNative(b, n, ownShape),
    // A whitened grain is flat but for what the whitening left (its coarse shape, measured) and its level.
    colour: (grainPower) => toNative(b, n, b.op('Sub', [target, measuredCoarse(grainPower)])),
    requested: b.op('Add', [mapped.shape, move]),
  };
}

/**
 * What mapEnvelopes gives the synthesis: `correction` for grains resampled with their formants (synthesis
 * 'resample'), or for synthesis 'whiten' the log-power envelope [N1, F, K2] that whitens each input frame
 * (its own, level-free) and the log-power correction that colours a whitened grain (power given) with the
 * envelope the frame must get; `requested` is the envelope each pitch frame is asked to get as band
 * cepstra c1..cQ [P, Q] (the profile's space), for the closed-loop fit and for probes that measure how much
 * of it reaches the output (test/helpers/envelope-fidelity.ts).
 */
export interface EnvelopeMapping {
  correction: EnvelopeCorrection;
  whitening: string;
  colour: (grainPower: string) => string;
  requested: string;
}

/**
 * fillShare, and where the input's own envelope `own` [F, B] lies well above the resampled grain's
 * `resampled` in the top half of a downward-shifted band, the input too (CONTENT_FILL_DB).
 */
function contentFill(
  b: GraphBuilder,
  k: string,
  half: number,
  ratio: string,
  fade: number,
  own: string,
  resampled: string,
): string {
  const [from, to] = CONTENT_FILL_DB.map((db) => (db / 10) * Math.LN10);
  const deficit = b.op('Clip', [
    b.op('Div', [b.op('Sub', [b.op('Sub', [own, resampled]), f32(b, [from], [])]), f32(b, [to - from], [])]),
    f32(b, [0], []),
    f32(b, [1], []),
  ]);
  const edge = b.op('Mul', [ratio, f32(b, [half], [])]);
  const upper = b.op('Cast', [b.op('Greater', [k, b.op('Mul', [edge, f32(b, [0.5], [])])])], { to: 1 });
  const down = b.op('Cast', [b.op('Less', [edge, f32(b, [half], [])])], { to: 1 });
  return b.op('Max', [
    fillShare(b, k, half, ratio, fade),
    b.op('Mul', [deficit, b.op('Mul', [upper, down])]),
  ]);
}

/** How the output is fitted to the request (fitEnvelopes). */
export interface EnvelopeFitOptions {
  /** Largest gain either way (dB) the fit applies to any bin. */
  maxDb: number;
  /** Frames the fit's correction is averaged over (odd). */
  smoothFrames: number;
  /** Times the output is measured and corrected (each pass measures the previous one's output). */
  passes: number;
  /**
   * Below this frequency (Hz) the output is taken to be what was requested (fitBandCepstra): the fit neither
   * reads nor corrects it. 0: the whole band.
   */
  fromHz?: number;
}

/**
 * Band cepstra c1..cQ [F, Q] of the output (native power of n-point frames) as bandCepstraA, but with its log
 * power below `fromHz` replaced by the requested envelope there ([F, Q] band cepstra, level-free, given the
 * output's own level c0). Why: recordings differ most below the voice's F0 (mains hum, rumble, a DC offset:
 * LibriSpeech 198 and 150 hold 30-45 dB more at 0-60 Hz than the band's mean, 2514 and 1992 do not), the
 * profiles' cepstra carry it, and a correction made of 24 cosines can only answer a miss there by tilting
 * 0-900 Hz, which moved the output's F1 by 6-33 % (judge LPC, fit against no fit, 1992->198: 432 -> 574 Hz).
 * Linear: T_above(ln P) + c0 a + requested R, with a and R the low bins' share of the projection.
 */
export function fitBandCepstra(
  b: GraphBuilder,
  n: number,
  power: string,
  requested: string,
  o: EnvelopeMapOptions,
  fromHz: number,
): string {
  const span = (o.bandHz * n) / o.sampleRate;
  const low = (fromHz * n) / o.sampleRate;
  const weight = (k: number): number => (k === 0 ? 1 : 2) / (2 * span);
  const cos = (q: number, k: number): number => Math.cos((Math.PI * q * k) / span);
  const inBand = (k: number): boolean => k <= span;
  const above = nativeTable(
    n,
    o.quefrencies,
    (k, q) => (inBand(k) && k >= low ? cos(q, k) * weight(k) : 0),
    false,
  );
  const level = nativeTable(n, 1, (k) => (inBand(k) ? weight(k) : 0), false);
  const lowBins = Array.from({ length: Math.ceil(low) }, (_, k) => k).filter((k) => k < low && inBand(k));
  const q = o.quefrencies;
  const a = Array.from({ length: q }, (_, i) =>
    lowBins.reduce((sum, k) => sum + weight(k) * cos(i + 1, k), 0),
  );
  // R[i, j]: the requested envelope's value on the low bins (E(k) = 2 sum_i c_i cos(pi i k / span)) projected
  // on c_j.
  const r: number[] = [];
  for (let i = 1; i <= q; i++)
    for (let j = 1; j <= q; j++)
      r.push(lowBins.reduce((sum, k) => sum + 2 * cos(i, k) * weight(k) * cos(j, k), 0));
  const floor = b.op('Add', [
    b.op('Mul', [framePowerA(b, n, power), f32(b, [o.relativeFloor], [])]),
    f32(b, [1e-20], []),
  ]);
  const logPower = b.op('Log', [b.op('Add', [power, floor])]);
  const project = (t: { values: number[]; dims: number[] }): string =>
    b.op('ReduceSum', [b.op('MatMul', [logPower, f32(b, t.values, t.dims)]), i64(b, [0])], { keepdims: 0 });
  return b.op('Add', [
    b.op('Add', [project(above), b.op('MatMul', [project(level), f32(b, a, [1, q])])]),
    b.op('MatMul', [requested, f32(b, r, [q, q])]),
  ]);
}

/**
 * Closed-loop colouring: the log-power gain, native [N1, F, K2] on the synthesis frames (n-point), that
 * takes each output frame's band cepstra (measured on the output's pitch frames `outputPower`, native power
 * of `pitchN`-point frames) to the `requested` ones [P, Q]. Why: band cepstra of the raw log power depend
 * on F0 as well as on the envelope (harmonics of another F0 sample the envelope elsewhere), so an
 * open-loop synthesis misses the request by that much.
 */
export function fitEnvelopes(
  b: GraphBuilder,
  n: number,
  pitchN: number,
  outputPower: string,
  requested: string,
  o: EnvelopeMapOptions,
  fit: EnvelopeFitOptions,
): string {
  const gate = b.op('Clip', [
    b.op('Div', [
      b.op('Sub', [frameDb(b, pitchN, outputPower), f32(b, [o.gateFromDb], [])]),
      f32(b, [o.gateRangeDb], []),
    ]),
    f32(b, [0], []),
    f32(b, [1], []),
  ]);
  const measured = fit.fromHz
    ? fitBandCepstra(b, pitchN, outputPower, requested, o, fit.fromHz)
    : bandCepstraA(b, pitchN, outputPower, o);
  const miss = b.op('Mul', [b.op('Sub', [requested, measured]), gate]);
  const smoothed = smoothFrames(b, miss, fit.smoothFrames);
  const lim = (fit.maxDb / 10) * Math.LN10;
  const gain = b.op('Clip', [
    naturalBandEnvelope(b, n, toSynthFrames(b, smoothed), o),
    f32(b, [-lim], []),
    f32(b, [lim], []),
  ]);
  return toNative(b, n, gain);
}

import { type Framing, f32, hann, i64, scalarI64 } from './dsp.js';
import { bothParts, framesA, nativeBins, powerA, rfftA } from './fft.js';
import type { GraphBuilder } from './graph-builder.js';
import type { PeriodRefineOptions } from './pitch-shift.js';

/**
 * Harmonic synthesis of voiced frames (issue 10): instead of resampled grains of the whitened excitation, a
 * sum of harmonics of the output F0 with a flat spectrum up to a maximum voiced frequency, which the
 * existing colouring then shapes with the requested envelope (multiplying a frame's spectrum by a smooth
 * envelope scales each harmonic by the envelope at its frequency). Why: a downward shift of grains leaves
 * harmonics that drift off the scaled contour from about the eighth and a less periodic 1-2 kHz band (README
 * "Where the rest of the distance sits"); a running phase has neither.
 */
export interface HarmonicOptions {
  /** Harmonics up to this frequency (Hz); above it the grains stay. */
  maxVoicedHz: number;
  /** The harmonic share fades from 1 at (1 - fade) x maxVoicedHz to 0 at maxVoicedHz. */
  fade: number;
  /**
   * Harmonic share at a frame ratio of 1; it reaches 1 at a shift of `fullAtRatio` either way (log-linear).
   * 0 keeps the grains where F0 is kept (they lose little there: self-pitch MCD 0.81 dB against 1.15 with
   * harmonics), and strength 0 (no shift) gives the grains' output exactly.
   */
  shareAtUnity: number;
  fullAtRatio: number;
  /**
   * Largest share of a voiced frame's band below maxVoicedHz given to the harmonics (the rest stays grains;
   * the two, both periodic, then interfere). Not shipped (docs/MODEL-NOTES.md): the judge's full 30 at 1 gave
   * 21/1, 9/30 formants, cut 61 %, correlation 0.812; at 0.5 25/1, 9/30, 65 %, 0.847.
   */
  maxShare: number;
  /**
   * The harmonics' period re-measured on the input at each synthesis frame (pitch-shift.ts refinePeriod:
   * cross-correlation around the frame's centre) instead of the track's (43 ms frames every 10.7 ms, the
   * frames between the mean of their neighbours); frames where it fails (no interior peak of at least
   * minCorrelation) keep the grains. Absent: the track's period in every voiced frame.
   */
  refine?: PeriodRefineOptions;
  /**
   * With `refine`: the harmonics take only the frame's periodic share p of the band's power (p the
   * re-measured period's normalised cross-correlation) and the grains keep the rest (amplitudes sqrt(w p) and
   * sqrt(1 - w p), w the share above), so the valleys between harmonics keep the source's noise.
   */
  periodicShare?: boolean;
}

/** Phase resolution: 2^-24 of a cycle per step (an integer phase below 2^24 is exact in float32, the state). */
const PHASE_STEPS = 2 ** 24;

export interface HarmonicInputs {
  /** Length of the window's audio, int64 [1]. */
  length: string;
  /** Output F0 per synthesis frame (Hz) [F] and how voiced each frame is, 0..1 [1, F]. */
  f0: string;
  voiced: string;
  /** Per-frame ratio (output over input F0) [F]. */
  frameRatio: string;
  /** Running phase carried from the previous window (integer steps in float32) [1]. */
  stateIn: string;
  /** The grains' spectra, native [N1, F, 2, K2], that the harmonics replace where voiced. */
  grainSpec: string;
  /** Periodic share of each frame's power, 0..1 [1, F] (HarmonicOptions.periodicShare); absent: 1. */
  periodic?: string;
}

/**
 * Per-frame values [F] at every sample of the window [L]: linear between frame centres (frame t at
 * t * hop + nfft / 2), held beyond the first and last (as pitch-shift.ts's comb reads period and voicing).
 */
function atSamples(b: GraphBuilder, f: Framing, perFrame: string): string {
  const front = f.nfft / 2 / f.hop;
  const row = b.op('Reshape', [perFrame, i64(b, [1, -1])]);
  const edged = b.op('Pad', [row, i64(b, [0, front, 0, f.nfft / f.hop - front])], { mode: 'edge' });
  const from = b.op('Slice', [edged, i64(b, [0]), i64(b, [-1]), i64(b, [1])]);
  const step = b.op('Sub', [b.op('Slice', [edged, i64(b, [1]), i64(b, [1_000_000_000]), i64(b, [1])]), from]);
  const ramp = f32(
    b,
    Array.from({ length: f.hop }, (_, r) => r / f.hop),
    [1, 1, f.hop],
  );
  return b.op('Reshape', [
    b.op('Add', [
      b.op('Unsqueeze', [from, i64(b, [2])]),
      b.op('Mul', [b.op('Unsqueeze', [step, i64(b, [2])]), ramp]),
    ]),
    i64(b, [-1]),
  ]);
}

/**
 * The running phase of the fundamental in cycles [L] (centred to [-1/2, 1/2)) and the state for the next
 * window: integer steps of 1/PHASE_STEPS summed from sample `start` on (the first sample whose F0 saw no
 * padding), the previous window's value before it. Exact and order-free, so chunked output equals
 * whole-file output.
 */
function runningPhase(
  b: GraphBuilder,
  f0AtSamples: string,
  sampleRate: number,
  stateIn: string,
  start: number,
  ownedEnd: string,
): { phase: string; stateOut: string } {
  const steps = b.op(
    'Cast',
    [
      b.op('Round', [
        b.op('Mul', [
          b.op('Slice', [f0AtSamples, i64(b, [start]), i64(b, [1_000_000_000])]),
          f32(b, [PHASE_STEPS / sampleRate], []),
        ]),
      ]),
    ],
    { to: 7 },
  );
  const q = scalarI64(b, PHASE_STEPS);
  const first = b.op('Cast', [stateIn], { to: 7 });
  const summed = b.op('Mod', [b.op('Add', [b.op('CumSum', [steps, scalarI64(b, 0)]), first]), q]);
  const whole = b.op('Concat', [b.op('Expand', [first, i64(b, [start])]), summed], { axis: 0 });
  const stateOut = b.op('Cast', [b.op('Gather', [whole, ownedEnd])], { to: 1 });
  const centred = b.op('Sub', [
    b.op('Mod', [b.op('Add', [whole, scalarI64(b, PHASE_STEPS / 2)]), q]),
    scalarI64(b, PHASE_STEPS / 2),
  ]);
  return {
    phase: b.op('Mul', [b.op('Cast', [centred], { to: 1 }), f32(b, [1 / PHASE_STEPS], [])]),
    stateOut,
  };
}

/**
 * Sum of cos(2 pi k phase) for k = 1..K plus `frac` of harmonic K + 1, K + frac = maxHz / f0 (so a harmonic
 * fades in and out as F0 moves, never appearing at once): the Dirichlet kernel in closed form,
 * sin((2K + 1) x) / (2 sin x) - 1/2 with x = pi phase, K at x = 0. One pass over the samples whatever K.
 */
function harmonicSum(b: GraphBuilder, phase: string, f0AtSamples: string, maxHz: number): string {
  const count = b.op('Div', [f32(b, [maxHz], []), b.op('Max', [f0AtSamples, f32(b, [1], [])])]);
  const k = b.op('Floor', [count]);
  const frac = b.op('Sub', [count, k]);
  const x = b.op('Mul', [phase, f32(b, [Math.PI], [])]);
  const num = b.op('Sin', [b.op('Mul', [b.op('Add', [b.op('Add', [k, k]), f32(b, [1], [])]), x])]);
  const den = b.op('Mul', [b.op('Sin', [x]), f32(b, [2], [])]);
  const tiny = b.op('Less', [b.op('Abs', [x]), f32(b, [1e-7], [])]);
  const safe = b.op('Where', [tiny, f32(b, [1], []), den]);
  const kernel = b.op('Where', [tiny, k, b.op('Sub', [b.op('Div', [num, safe]), f32(b, [0.5], [])])]);
  const next = b.op('Cos', [
    b.op('Mul', [b.op('Mul', [b.op('Add', [k, f32(b, [1], [])]), x]), f32(b, [2], [])]),
  ]);
  return b.op('Add', [kernel, b.op('Mul', [frac, next])]);
}

/**
 * The grains' spectra with the band below maxVoicedHz of voiced frames taken (by the frame's voicing and
 * shift, see HarmonicOptions) from the harmonic excitation at the output F0, its level matched per frame to
 * the grains' in that band (the colouring sets the envelope afterwards, so only the two parts' balance
 * matters), and the running phase for the next window.
 */
export function harmonicVoicing(
  b: GraphBuilder,
  f: Framing,
  x: HarmonicInputs,
  o: HarmonicOptions,
  skipFrames: number,
  context: { left: number; right: number },
): { spec: string; stateOut: string } {
  const n = f.nfft;
  const f0At = atSamples(b, f, x.f0);
  // Owned samples end at length - left - right; the next window's sample `start` is this one's
  // `start + owned`, so the state is the phase one sample before that.
  const start = skipFrames * f.hop + n / 2;
  const ownedEnd = b.op('Sub', [x.length, scalarI64(b, context.left + context.right - start + 1)]);
  const { phase, stateOut } = runningPhase(b, f0At, f.sampleRate, x.stateIn, start, ownedEnd);
  const excitation = harmonicSum(b, phase, f0At, o.maxVoicedHz);
  const harmSpec = rfftA(b, framesA(b, b.op('Reshape', [excitation, i64(b, [1, -1])]), n, f.hop, hann(n)), n);
  // Band weight over the native bins [N1, 1, K2] (nativeBins is [N1, K2, 1]).
  const hz = b.op('Transpose', [b.op('Mul', [nativeBins(b, n), f32(b, [f.sampleRate / n], [])])], {
    perm: [0, 2, 1],
  });
  const top = o.maxVoicedHz;
  const band = b.op('Clip', [
    b.op('Div', [b.op('Sub', [f32(b, [top], []), hz]), f32(b, [o.fade * top], [])]),
    f32(b, [0], []),
    f32(b, [1], []),
  ]);
  // Level match over the band's full part (above 100 Hz): the grains' power over the harmonics'.
  const matchBand = b.op('Cast', [b.op('Greater', [band, f32(b, [0.999], [])])], { to: 1 });
  const above = b.op('Cast', [b.op('Greater', [hz, f32(b, [100], [])])], { to: 1 });
  const mask = b.op('Mul', [matchBand, above]);
  const bandPower = (spec: string): string =>
    b.op('ReduceSum', [b.op('Mul', [powerA(b, spec), mask]), i64(b, [0, 2])], { keepdims: 1 });
  const gain = b.op('Sqrt', [
    b.op('Div', [bandPower(x.grainSpec), b.op('Add', [bandPower(harmSpec), f32(b, [1e-12], [])])]),
  ]);
  // Share per frame [1, F, 1]: voicing times the shift's (log-linear in |log ratio|), at most maxShare.
  const ratio = b.op('Reshape', [x.frameRatio, i64(b, [1, -1, 1])]);
  const shifted = b.op('Clip', [
    b.op('Div', [b.op('Abs', [b.op('Log', [ratio])]), f32(b, [Math.log(o.fullAtRatio)], [])]),
    f32(b, [0], []),
    f32(b, [1], []),
  ]);
  const byShift = b.op('Add', [
    f32(b, [o.shareAtUnity], []),
    b.op('Mul', [shifted, f32(b, [1 - o.shareAtUnity], [])]),
  ]);
  const share = b.op('Mul', [
    b.op('Mul', [b.op('Reshape', [x.voiced, i64(b, [1, -1, 1])]), byShift]),
    f32(b, [o.maxShare], []),
  ]);
  const w = b.op('Mul', [band, share]);
  // Amplitude weights: linear (w, 1 - w), or power-complementary over the periodic share.
  const [grainW, harmW] = x.periodic
    ? (() => {
        const wp = b.op('Mul', [w, b.op('Reshape', [x.periodic, i64(b, [1, -1, 1])])]);
        return [b.op('Sqrt', [b.op('Sub', [f32(b, [1], []), wp])]), b.op('Sqrt', [wp])];
      })()
    : [b.op('Sub', [f32(b, [1], []), w]), w];
  const spec = b.op('Add', [
    b.op('Mul', [x.grainSpec, bothParts(b, grainW)]),
    b.op('Mul', [harmSpec, bothParts(b, b.op('Mul', [harmW, gain]))]),
  ]);
  return { spec, stateOut };
}

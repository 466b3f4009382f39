import type { GraphInputSpec } from '../../workers/engine/index.js';
import type { BuiltModel } from './built-model.js';
import { OPSET } from './built-model.js';
import { applyLogGain, bins, envelopeShift, type Framing, pitch, power, resynthesise, stft } from './dsp.js';
import { GraphBuilder } from './graph-builder.js';
import { type PitchShiftOptions, pitchShiftSpectra } from './pitch-shift.js';
import { firFilter, type StaticEqOptions, staticEqGain } from './static-eq.js';

/** 24 kHz keeps speech up to 12 kHz; 1024-sample frames hold 2.5 periods of a 60 Hz voice (analysis, F0). */
const FRAMING: Framing = { sampleRate: 24000, nfft: 1024, hop: 256 };
/** Synthesis: 21 ms grains smear transients far less than 43 ms ones (measured: envelope-change correlation
 * 0.65 -> 0.86 on speech), and F0 still comes from 1024-sample frames on the same centres. */
const SYNTH: Framing = { sampleRate: 24000, nfft: 512, hop: 128 };
const PITCH_FRAMES: Framing = { sampleRate: 24000, nfft: 1024, hop: 128 };
const F0_MIN = 60;
const F0_MAX = 500;
/** Cepstral coefficients (at 512 points) kept in the envelope shift: ~150 Hz detail, never single harmonics. */
const QUEFRENCIES = 80;
/** The envelope shift is held flat below this; see envelopeShift. */
const HOLD_HZ = 350;
const MAX_SHIFT_DB = 24;
/** Covers every read of the pitch shifter: grain spread 256 + ratio 2 x 256 + half a 60 Hz period + FIR 32. */
const CONTEXT = { left: 1792, right: 1792 };
/** One octave either way. */
const PITCH_SHIFT = {
  minRatio: 0.5,
  maxRatio: 2,
  aaHalfTaps: 32,
  quefrencies: 24,
  maxCorrectionDb: 30,
  context: CONTEXT,
  skipFrames: 2,
};

function analyseGraph(): Uint8Array {
  const b = new GraphBuilder('vcfarm-default-analyse');
  const audio = b.input('audio', 'float32', [1, 'samples']);
  const pow = power(b, stft(b, audio, FRAMING));
  const p = pitch(b, pow, FRAMING, F0_MIN, F0_MAX);
  b.output(p.f0, 'f0', 'float32', [1, 'frames']);
  b.output(p.voicing, 'voicing', 'float32', [1, 'frames']);
  b.output(p.energy, 'energy', 'float32', [1, 'frames']);
  b.output(pow, 'power', 'float32', [1, 'frames', bins(FRAMING)]);
  return b.toBytes(OPSET);
}

function convertGraph(o: DefaultModelOptions): Uint8Array {
  const b = new GraphBuilder('vcfarm-default-convert');
  const nb = bins(FRAMING);
  const audio = b.input('audio', 'float32', [1, 'samples']);
  const stateIn = b.input('nudge_in', 'float32', [1]);
  const src = b.input('source_envelope', 'float32', [nb]);
  const tgt = b.input('target_envelope', 'float32', [nb]);
  const strength = b.input('strength', 'float32', [1]);
  const ratio = b.input('pitch_ratio', 'float32', [1]);
  const inputPower = power(b, stft(b, audio, SYNTH));
  // Pad so the long pitch frames are centred where the short synthesis frames are.
  const half = (PITCH_FRAMES.nfft - SYNTH.nfft) / 2;
  const padded = b.op('Pad', [audio, b.constant('int64', [0, half, 0, half])]);
  const track = pitch(b, power(b, stft(b, padded, PITCH_FRAMES)), PITCH_FRAMES, F0_MIN, F0_MAX);
  const period = b.op('Div', [b.constant('float32', [SYNTH.sampleRate], []), track.f0]);
  const context = o.context ?? CONTEXT;
  const shifted = pitchShiftSpectra(
    b,
    SYNTH,
    audio,
    stateIn,
    ratio,
    inputPower,
    period,
    { ...PITCH_SHIFT, context, comb: o.comb },
    track.voicing,
  );
  // Profiles hold 1024-point envelopes; every other bin is the 512-point grid.
  const decimate = (env: string): string =>
    b.op('Slice', [
      env,
      b.constant('int64', [0]),
      b.constant('int64', [nb]),
      b.constant('int64', [0]),
      b.constant('int64', [2]),
    ]);
  let out: string;
  if (o.eq) {
    const gain = staticEqGain(b, FRAMING, src, tgt, strength, o.eq);
    out = firFilter(b, FRAMING, resynthesise(b, audio, shifted.spec, SYNTH), gain);
  } else {
    const shift = envelopeShift(
      b,
      SYNTH,
      decimate(src),
      decimate(tgt),
      strength,
      o.quefrencies ?? QUEFRENCIES,
      MAX_SHIFT_DB,
      o.holdHz ?? HOLD_HZ,
    );
    out = resynthesise(b, audio, applyLogGain(b, shifted.spec, shift), SYNTH);
  }
  b.output(out, 'converted', 'float32', [1, 'samples']);
  b.output(shifted.stateOut, 'nudge_out', 'float32', [1]);
  return b.toBytes(OPSET);
}

/**
 * The default model: timbre conversion by a static, smoothed spectral-envelope shift (source long-term
 * envelope -> target's) and an in-graph, formant-keeping pitch shift by pitchRatioFor(source, target).
 * In-graph rather than ffmpeg rubberband: measured on the same speech, rubberband (formant=preserved) moved
 * the long-term envelope away from the target (distance 1.1-6x the source's), cut the envelope-change
 * correlation to 0.4-0.5, and changed length and timing by up to ~1700 samples.
 */
export interface DefaultModelOptions {
  holdHz?: number;
  quefrencies?: number;
  eq?: StaticEqOptions;
  comb?: PitchShiftOptions['comb'];
  context?: { left: number; right: number };
}

export function buildDefaultModel(o: DefaultModelOptions = {}): BuiltModel {
  const nb = bins(FRAMING);
  const audioIn: GraphInputSpec = {
    name: 'audio',
    dtype: 'float32',
    shape: [1, 'samples'],
    source: { from: 'audio' },
  };
  return {
    files: { 'analyse.onnx': analyseGraph(), 'convert.onnx': convertGraph(o) },
    manifest: {
      format: 'vcfarm-model/1',
      name: 'vcfarm-default',
      sampleRate: FRAMING.sampleRate,
      chunkSamples: 16384,
      context: o.context ?? CONTEXT,
      alignSamples: FRAMING.hop,
      graphs: {
        analyse: {
          file: 'analyse.onnx',
          inputs: [audioIn],
          outputs: [
            { name: 'f0', dtype: 'float32', shape: [1, 'frames'] },
            { name: 'voicing', dtype: 'float32', shape: [1, 'frames'] },
            { name: 'energy', dtype: 'float32', shape: [1, 'frames'] },
            { name: 'power', dtype: 'float32', shape: [1, 'frames', nb] },
          ],
        },
        convert: {
          file: 'convert.onnx',
          inputs: [
            audioIn,
            {
              name: 'nudge_in',
              dtype: 'float32',
              shape: [1],
              source: { from: 'state', output: 'nudge_out', initial: 0 },
            },
            {
              name: 'source_envelope',
              dtype: 'float32',
              shape: [nb],
              source: { from: 'voice', field: 'envelope', role: 'source' },
            },
            {
              name: 'target_envelope',
              dtype: 'float32',
              shape: [nb],
              source: { from: 'voice', field: 'envelope' },
            },
            {
              name: 'strength',
              dtype: 'float32',
              shape: [1],
              source: { from: 'param', name: 'strength', default: 1 },
            },
            { name: 'pitch_ratio', dtype: 'float32', shape: [1], source: { from: 'pitchRatio' } },
          ],
          outputs: [
            { name: 'converted', dtype: 'float32', shape: [1, 'samples'] },
            { name: 'nudge_out', dtype: 'float32', shape: [1] },
          ],
        },
      },
      analysis: {
        graph: 'analyse',
        frameLength: FRAMING.nfft,
        frameHop: FRAMING.hop,
        outputs: { f0: 'f0', voicing: 'voicing', energy: 'energy', power: 'power' },
        voicingThreshold: 0.8,
        silenceDb: -50,
      },
      conversion: { chain: ['convert'], output: { graph: 'convert', output: 'converted' } },
    },
  };
}

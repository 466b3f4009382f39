import type { GraphInputSpec } from '../../workers/engine/index.js';
import type { BuiltModel } from './built-model.js';
import { OPSET } from './built-model.js';
import { bins, type Framing, f32, pitch, power, resynthesise, stft } from './dsp.js';
import { GraphBuilder } from './graph-builder.js';
import { f0RangeFactor, type PitchShiftOptions, pitchShiftSpectra } from './pitch-shift.js';
import { firFilter, type StaticEqOptions, staticEqGain } from './static-eq.js';

/** 24 kHz keeps speech up to 12 kHz; 1024-sample frames hold 2.5 periods of a 60 Hz voice (analysis, F0). */
const FRAMING: Framing = { sampleRate: 24000, nfft: 1024, hop: 256 };
/** Synthesis: 21 ms grains smear transients far less than 43 ms ones (measured: envelope-change correlation
 * 0.65 -> 0.86 on speech), and F0 still comes from 1024-sample frames on the same centres. */
const SYNTH: Framing = { sampleRate: 24000, nfft: 512, hop: 128 };
const PITCH_FRAMES: Framing = { sampleRate: 24000, nfft: 1024, hop: 128 };
const F0_MIN = 60;
const F0_MAX = 500;
/** Normalised autocorrelation peak ramp from unvoiced (0) to voiced (1), for the comb and the F0 mapping. */
const VOICED_FROM = 0.6;
const VOICED_TO = 0.85;
/**
 * Timbre EQ on the 1024-point analysis grid (23 Hz): fine enough to shape the region of the fundamental
 * and first harmonics, which a 512-point synthesis-frame gain could not (measured: long-term distance cut
 * 36-70 % -> 76-91 % on the quality pairs). Boosts and cuts are limited to keep noise and hum in check.
 */
const EQ: StaticEqOptions = { minHz: 15, fraction: 0.05, maxCutDb: 30, maxBoostDb: 24 };
/**
 * F0 range mapping (see f0RangeFactor): at most this factor on the ratio either way, smoothed over 5
 * frames (27 ms). Why: a converted voice loses some frames to pitch trackers, mostly its lowest; with the
 * source's wider range kept that biased the median (measured, human -> espeak m3: +5.3 % -> +2.0 %).
 */
const F0_MAP = { maxFactor: 1.3, smoothFrames: 5 };
/**
 * Covers every read behind an output sample: EQ FIR 512 + grain spread 256 + ratio 2 x 256 + half a 60 Hz
 * period 200 + comb span 520 + anti-alias FIR 32 = 2032 samples.
 */
const CONTEXT = { left: 2048, right: 2048 };
/** One octave either way. */
const PITCH_SHIFT: PitchShiftOptions = {
  minRatio: 0.5,
  maxRatio: 2,
  aaHalfTaps: 32,
  quefrencies: 24,
  maxCorrectionDb: 30,
  context: CONTEXT,
  // 2 frames whose pitch frame reaches past the window start, 2 more reached by the F0 map smoothing.
  skipFrames: 4,
  maxFrameFactor: F0_MAP.maxFactor,
  combWeights: [0.1875, 0.125, 0.0625],
  combSpan: 520,
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

function convertGraph(): Uint8Array {
  const b = new GraphBuilder('vcfarm-default-convert');
  const nb = bins(FRAMING);
  const audio = b.input('audio', 'float32', [1, 'samples']);
  const stateIn = b.input('nudge_in', 'float32', [1]);
  const src = b.input('source_envelope', 'float32', [nb]);
  const tgt = b.input('target_envelope', 'float32', [nb]);
  const strength = b.input('strength', 'float32', [1]);
  const ratio = b.input('pitch_ratio', 'float32', [1]);
  const pitchMap = b.input('pitch_map', 'float32', [2]);
  const inputPower = power(b, stft(b, audio, SYNTH));
  // Pad so the long pitch frames are centred where the short synthesis frames are.
  const half = (PITCH_FRAMES.nfft - SYNTH.nfft) / 2;
  const padded = b.op('Pad', [audio, b.constant('int64', [0, half, 0, half])]);
  const track = pitch(b, power(b, stft(b, padded, PITCH_FRAMES)), PITCH_FRAMES, F0_MIN, F0_MAX);
  const voiced = b.op('Clip', [
    b.op('Div', [
      b.op('Sub', [track.voicing, f32(b, [VOICED_FROM], [])]),
      f32(b, [VOICED_TO - VOICED_FROM], []),
    ]),
    f32(b, [0], []),
    f32(b, [1], []),
  ]);
  const shifted = pitchShiftSpectra(
    b,
    SYNTH,
    {
      audio,
      stateIn,
      ratio,
      inputPower,
      period: b.op('Div', [f32(b, [SYNTH.sampleRate], []), track.f0]),
      voiced,
      frameFactor: f0RangeFactor(b, track.f0, voiced, pitchMap, F0_MAP.maxFactor, F0_MAP.smoothFrames),
    },
    PITCH_SHIFT,
  );
  const gain = staticEqGain(b, FRAMING, src, tgt, strength, EQ);
  const out = firFilter(b, FRAMING, resynthesise(b, audio, shifted.spec, SYNTH), gain);
  b.output(out, 'converted', 'float32', [1, 'samples']);
  b.output(shifted.stateOut, 'nudge_out', 'float32', [1]);
  return b.toBytes(OPSET);
}

/**
 * The default model: an in-graph, formant-keeping pitch shift by pitchRatioFor(source, target) with the
 * target's spread of log F0 (pitchMapFor) and a period comb on voiced input, then a static timbre EQ
 * (source long-term envelope -> target's) as a 1025-tap zero-phase FIR.
 * In-graph rather than ffmpeg rubberband: measured on the same speech, rubberband (formant=preserved) moved
 * the long-term envelope away from the target (distance 1.1-6x the source's), cut the envelope-change
 * correlation to 0.4-0.5, and changed length and timing by up to ~1700 samples.
 */
export function buildDefaultModel(): BuiltModel {
  const nb = bins(FRAMING);
  const audioIn: GraphInputSpec = {
    name: 'audio',
    dtype: 'float32',
    shape: [1, 'samples'],
    source: { from: 'audio' },
  };
  return {
    files: { 'analyse.onnx': analyseGraph(), 'convert.onnx': convertGraph() },
    manifest: {
      format: 'vcfarm-model/1',
      name: 'vcfarm-default',
      sampleRate: FRAMING.sampleRate,
      chunkSamples: 16384,
      context: CONTEXT,
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
            { name: 'pitch_map', dtype: 'float32', shape: [2], source: { from: 'pitchMap' } },
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

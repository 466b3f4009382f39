import type { ModelManifest } from '../../workers/engine/index.js';
import type { BuiltModel } from './built-model.js';
import { OPSET } from './built-model.js';
import { bins, type Framing, f32, i64, pitch, power, scalarI64, stft } from './dsp.js';
import { GraphBuilder } from './graph-builder.js';

/** ContentVec's frame: 320 samples at 16 kHz (50 frames/s); RVC repeats each twice (100 frames/s). */
export const RVC_FEATURE_HOP = 320;
export const RVC_FRAME_HOP = 160;
export const RVC_CHANNELS = 768;
export const RVC_NOISE_CHANNELS = 192;
/** Output samples per 100 frames/s frame at 40 kHz. */
const OUT_RATE = 40000;
const OUT_HOP = OUT_RATE / 100;

/** The F0 tracker of the builder's DSP (normalised autocorrelation) at 16 kHz, one frame per 10 ms. */
export const RVC_F0_FRAMING: Framing = { sampleRate: 16000, nfft: 1024, hop: RVC_FRAME_HOP };

/** Channel weights of the stand-in features; their mean is 1, so the channel mean of a frame is its RMS. */
const weights = (): number[] => Array.from({ length: RVC_CHANNELS }, (_, c) => 0.5 + c / (RVC_CHANNELS - 1));

/** An F0 tracker for RVC folders: f0 / voicing / energy / power per 160-sample frame of 16 kHz audio. */
export function rvcTrackerGraph(): Uint8Array {
  const b = new GraphBuilder('vcfarm-rvc-f0');
  const audio = b.input('audio', 'float32', [1, 'samples']);
  const pow = power(b, stft(b, audio, RVC_F0_FRAMING));
  const p = pitch(b, pow, RVC_F0_FRAMING, 50, 1100);
  b.output(p.f0, 'f0', 'float32', [1, 'frames']);
  b.output(p.voicing, 'voicing', 'float32', [1, 'frames']);
  b.output(p.energy, 'energy', 'float32', [1, 'frames']);
  b.output(pow, 'power', 'float32', [1, 'frames', bins(RVC_F0_FRAMING)]);
  return b.toBytes(OPSET);
}

/**
 * Stands in for ContentVec (vec-768-layer-12.onnx): `source` [1, 1, n] -> `embed` [1, T, 768] with one
 * frame per 320 samples and, like the real network's convolutions, one frame fewer than n / 320. Each
 * frame is its 320 samples' RMS times fixed channel weights.
 */
export function stubContentVecGraph(): Uint8Array {
  const b = new GraphBuilder('vcfarm-rvc-test-vec');
  const source = b.input('source', 'float32', [1, 1, 'n']);
  const framed = b.op('Reshape', [source, i64(b, [1, -1, RVC_FEATURE_HOP])]);
  const meanSquare = b.op('ReduceMean', [b.op('Mul', [framed, framed]), i64(b, [2])], { keepdims: 1 });
  const rms = b.op('Sqrt', [meanSquare]);
  const feats = b.op('Mul', [rms, f32(b, weights())]);
  const frames = b.op('Gather', [b.op('Shape', [feats]), scalarI64(b, 1)]);
  const fewer = b.op('Unsqueeze', [b.op('Sub', [frames, scalarI64(b, 1)]), i64(b, [0])]);
  const cut = b.op('Slice', [feats, i64(b, [0]), fewer, i64(b, [1])]);
  b.output(cut, 'embed', 'float32', [1, 'frames', RVC_CHANNELS]);
  return b.toBytes(OPSET);
}

/**
 * Stands in for an RVC v2 generator at 40 kHz, with the export's exact inputs and output. Per 10 ms frame
 * (400 samples): voiced frames (pitch > 1) are a sine at `pitchf` of RMS = the frame's feature mean,
 * restarting each frame (continuous when 100 Hz divides the F0); unvoiced frames hold
 * 0.5 * feature mean * rnd[0, 0, frame]. Everything is divided by (1 + ds) and frames at or beyond
 * `phone_lengths` are silent. So the output shows each input: F0, voicing, loudness, speaker and noise.
 */
export function stubRvcGeneratorGraph(): Uint8Array {
  const b = new GraphBuilder('vcfarm-rvc-test-generator');
  const phone = b.input('phone', 'float32', [1, 'frames', RVC_CHANNELS]);
  const lengths = b.input('phone_lengths', 'int64', [1]);
  const coarse = b.input('pitch', 'int64', [1, 'frames']);
  const hz = b.input('pitchf', 'float32', [1, 'frames']);
  const ds = b.input('ds', 'int64', [1]);
  const rnd = b.input('rnd', 'float32', [1, RVC_NOISE_CHANNELS, 'frames']);

  const last = (t: string): string => b.op('Unsqueeze', [t, i64(b, [2])]);
  const level = b.op('ReduceMean', [phone, i64(b, [2])], { keepdims: 0 });
  const voiced = b.op('Cast', [b.op('Greater', [coarse, scalarI64(b, 1)])], { to: 1 });
  const unvoiced = b.op('Sub', [f32(b, [1], []), voiced]);
  const frames = b.op('Gather', [b.op('Shape', [hz]), scalarI64(b, 1)]);
  const index = b.op('Range', [scalarI64(b, 0), frames, scalarI64(b, 1)]);
  const inLength = b.op('Cast', [b.op('Less', [index, lengths])], { to: 1 });
  const speaker = b.op('Div', [
    f32(b, [1], []),
    b.op('Add', [f32(b, [1], []), b.op('Cast', [ds], { to: 1 })]),
  ]);
  const gain = b.op('Mul', [b.op('Mul', [level, inLength]), speaker]);

  const phaseStep = f32(
    b,
    Array.from({ length: OUT_HOP }, (_, j) => (2 * Math.PI * j) / OUT_RATE),
  );
  const sine = b.op('Sin', [b.op('Mul', [last(hz), phaseStep])]);
  const tone = b.op('Mul', [sine, last(b.op('Mul', [voiced, f32(b, [Math.SQRT2], [])]))]);
  const firstNoise = b.op('Gather', [rnd, scalarI64(b, 0)], { axis: 1 });
  const hiss = last(b.op('Mul', [b.op('Mul', [firstNoise, unvoiced]), f32(b, [0.5], [])]));
  const framesOut = b.op('Mul', [b.op('Add', [tone, hiss]), last(gain)]);
  b.output(b.op('Reshape', [framesOut, i64(b, [1, 1, -1])]), 'audio', 'float32', [1, 1, 'samples']);
  return b.toBytes(OPSET);
}

/** The manifest that serves an RVC v2 export (with its ContentVec) by itself; file names as given. */
export function rvcManifest(
  name: string,
  files = { vec: 'vec.onnx', generator: 'generator.onnx' },
): ModelManifest {
  const frames = [1, 'frames'];
  return {
    format: 'vcfarm-model/1',
    name,
    sampleRate: 16000,
    outputSampleRate: OUT_RATE,
    chunkSamples: 16000 * 4,
    context: { left: 16000 / 5, right: 16000 / 5 },
    alignSamples: RVC_FEATURE_HOP,
    frames: { hop: RVC_FRAME_HOP },
    graphs: {
      f0: {
        file: 'f0.onnx',
        inputs: [{ name: 'audio', dtype: 'float32', shape: [1, 'samples'], source: { from: 'audio' } }],
        outputs: [
          { name: 'f0', dtype: 'float32', shape: frames },
          { name: 'voicing', dtype: 'float32', shape: frames },
          { name: 'energy', dtype: 'float32', shape: frames },
          { name: 'power', dtype: 'float32', shape: [1, 'frames', bins(RVC_F0_FRAMING)] },
        ],
      },
      vec: {
        file: files.vec,
        inputs: [{ name: 'source', dtype: 'float32', shape: [1, 1, 'n'], source: { from: 'audio' } }],
        outputs: [{ name: 'embed', dtype: 'float32', shape: [1, 'frames', RVC_CHANNELS] }],
      },
      generator: {
        file: files.generator,
        inputs: [
          {
            name: 'phone',
            dtype: 'float32',
            shape: [1, 'frames', RVC_CHANNELS],
            source: { from: 'features', graph: 'vec', output: 'embed', repeat: 2 },
          },
          { name: 'phone_lengths', dtype: 'int64', shape: [1], source: { from: 'frameCount' } },
          { name: 'pitch', dtype: 'int64', shape: frames, source: { from: 'f0', unit: 'coarse' } },
          { name: 'pitchf', dtype: 'float32', shape: frames, source: { from: 'f0', unit: 'hz' } },
          {
            name: 'ds',
            dtype: 'int64',
            shape: [1],
            source: { from: 'voice', field: 'speakerId', default: 0 },
          },
          {
            name: 'rnd',
            dtype: 'float32',
            shape: [1, RVC_NOISE_CHANNELS, 'frames'],
            source: { from: 'noise', seed: 1 },
          },
        ],
        outputs: [{ name: 'audio', dtype: 'float32', shape: [1, 1, 'samples'] }],
      },
    },
    analysis: {
      graph: 'f0',
      frameLength: RVC_F0_FRAMING.nfft,
      frameHop: RVC_F0_FRAMING.hop,
      outputs: { f0: 'f0', voicing: 'voicing', energy: 'energy', power: 'power' },
      voicingThreshold: 0.6,
      silenceDb: -50,
    },
    conversion: { chain: ['vec', 'generator'], output: { graph: 'generator', output: 'audio' } },
  };
}

/** A model folder with the exact RVC v2 export signatures and trivial weights (tests, and the README's example). */
export function buildRvcTestModel(name = 'vcfarm-rvc-test'): BuiltModel {
  return {
    manifest: rvcManifest(name),
    files: {
      'f0.onnx': rvcTrackerGraph(),
      'vec.onnx': stubContentVecGraph(),
      'generator.onnx': stubRvcGeneratorGraph(),
    },
  };
}

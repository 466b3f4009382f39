import type { BuiltModel } from './built-model.js';
import { OPSET } from './built-model.js';
import { f32, i64, scalarI64 } from './dsp.js';
import { GraphBuilder } from './graph-builder.js';
import {
  RVC_CHANNELS,
  RVC_FEATURE_HOP,
  RVC_NOISE_CHANNELS,
  rvcManifest,
  rvcTrackerGraph,
} from './rvc-folder.js';

/** The stand-in generator's rate and samples per 100 frames/s frame. */
const OUT_RATE = 40000;
const OUT_HOP = OUT_RATE / 100;

/** Channel weights of the stand-in features; their mean is 1, so the channel mean of a frame is its RMS. */
const weights = (): number[] => Array.from({ length: RVC_CHANNELS }, (_, c) => 0.5 + c / (RVC_CHANNELS - 1));

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

/** A model folder with the exact RVC v2 export signatures and trivial weights (tests, and the README's example). */
export function buildRvcTestModel(name = 'vcfarm-rvc-test'): BuiltModel {
  return {
    manifest: rvcManifest({ name, vec: 'vec.onnx', generator: 'generator.onnx', outputSampleRate: OUT_RATE }),
    files: {
      'f0.onnx': rvcTrackerGraph(),
      'vec.onnx': stubContentVecGraph(),
      'generator.onnx': stubRvcGeneratorGraph(),
    },
  };
}

import { type InferenceSession, Tensor } from 'onnxruntime-node';
import type { ChunkWindow } from './chunker.js';
import { ModelManifestError } from './errors.js';
import type { GraphSpec, ModelManifest } from './manifest.js';

/** RVC's coarse pitch: mel of F0 between these bounds mapped onto bins 1..255. */
const F0_MIN = 50;
const F0_MAX = 1100;
const mel = (hz: number): number => 1127 * Math.log(1 + hz / 700);
const MEL_MIN = mel(F0_MIN);
const MEL_MAX = mel(F0_MAX);

/** Round half to even, like numpy's rint that RVC uses. */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** RVC's coarse F0 bin (1..255, 1 for unvoiced) of a frequency in Hz. */
export function coarsePitch(hz: number): number {
  let m = mel(Math.max(0, hz));
  if (m > 0) m = ((m - MEL_MIN) * 254) / (MEL_MAX - MEL_MIN) + 1;
  return rint(Math.min(255, Math.max(1, m)));
}

/** lowbias32 (Chris Wellons' integer hash): a stateless mixer, so any window can make any frame's noise. */
function mix(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

function uniform(seed: number, frame: number, index: number): number {
  const h = mix(mix(mix(seed ^ 0x9e3779b9) ^ frame) ^ index);
  return (h + 0.5) / 2 ** 32;
}

/**
 * Standard normal value number `channel` of stream frame `frame` (Box-Muller on two hashed uniforms).
 * A pure function: chunked and whole-file runs feed a generator the same noise.
 */
export function frameNoise(seed: number, frame: number, channel: number): number {
  const u1 = uniform(seed, frame, 2 * channel);
  const u2 = uniform(seed, frame, 2 * channel + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Per-frame outputs of the analysis graph on one window. */
export interface WindowAnalysis {
  f0: Float32Array;
  voicing: Float32Array;
  energy: Float32Array;
}

export interface FrameFeederOptions {
  manifest: ModelManifest;
  /** Runs the analysis graph on a window's audio. */
  analyse(audio: Float32Array): Promise<WindowAnalysis>;
  /** Maps a voiced source F0 (Hz) to the F0 the output should have. */
  mapF0(hz: number): number;
}

type Value = InferenceSession.OnnxValueMapType[string];

/** The index of the single symbolic dim of a declared shape. */
const frameAxis = (shape: readonly (number | string)[]): number =>
  shape.findIndex((d) => typeof d === 'string');

/**
 * Makes the frame-domain inputs (features, f0, noise, frameCount) of one window. The analysis graph runs
 * at most once per window, and only if an input needs F0.
 */
export class FrameFeeder {
  readonly #o: FrameFeederOptions;
  readonly #hop: number;
  readonly #left: number;
  #f0: { window: ChunkWindow; hz: Float32Array } | undefined;

  constructor(options: FrameFeederOptions) {
    this.#o = options;
    this.#hop = options.manifest.frames?.hop ?? 1;
    this.#left = options.manifest.context.left;
  }

  /** Frame-domain feeds of `spec` for window `w` (graph outputs so far in `results`). */
  async feeds(
    graph: string,
    spec: GraphSpec,
    w: ChunkWindow,
    results: ReadonlyMap<string, InferenceSession.OnnxValueMapType>,
  ): Promise<Record<string, Value>> {
    const count = w.samples.length / this.#hop;
    const first = (w.start - this.#left) / this.#hop;
    const feeds: Record<string, Value> = {};
    for (const input of spec.inputs) {
      const s = input.source;
      const dims = input.shape.map((d) => (typeof d === 'number' ? d : count));
      if (s.from === 'frameCount') {
        feeds[input.name] = new Tensor('int64', BigInt64Array.from([BigInt(count)]), dims);
      } else if (s.from === 'f0') {
        const hz = await this.#track(w, count);
        feeds[input.name] =
          s.unit === 'hz'
            ? new Tensor('float32', hz, dims)
            : new Tensor(
                'int64',
                BigInt64Array.from(hz, (f) => BigInt(coarsePitch(f))),
                dims,
              );
      } else if (s.from === 'noise') {
        feeds[input.name] = new Tensor('float32', noise(s.seed, first, dims, frameAxis(input.shape)), dims);
      } else if (s.from === 'features') {
        const value = results.get(s.graph)?.[s.output] as Tensor | undefined;
        const declared = this.#o.manifest.graphs[s.graph].outputs.find((o) => o.name === s.output);
        if (!value || !declared) throw new Error(`graph "${s.graph}" produced no "${s.output}"`);
        feeds[input.name] = fitFeatures(
          graph,
          input.name,
          value,
          frameAxis(declared.shape),
          count,
          s.repeat ?? 1,
        );
      }
    }
    return feeds;
  }

  /** F0 (Hz, mapped; 0 when unvoiced) at each frame's centre, from the nearest analysis frame. */
  async #track(w: ChunkWindow, count: number): Promise<Float32Array> {
    if (this.#f0?.window === w) return this.#f0.hz;
    const m = this.#o.manifest;
    const a = m.analysis;
    const out = await this.#o.analyse(w.samples);
    const silence = 10 ** (a.silenceDb / 10);
    const hz = new Float32Array(count);
    const last = out.f0.length - 1;
    for (let k = 0; k < count; k++) {
      const centre = k * this.#hop + this.#hop / 2;
      const j = Math.min(last, Math.max(0, Math.round((centre - a.frameLength / 2) / a.frameHop)));
      const voiced = out.voicing[j] >= a.voicingThreshold && out.energy[j] >= silence && out.f0[j] > 0;
      hz[k] = voiced ? this.#o.mapF0(out.f0[j]) : 0;
    }
    this.#f0 = { window: w, hz };
    return hz;
  }
}

function noise(seed: number, first: number, dims: number[], axis: number): Float32Array {
  const total = dims.reduce((p, d) => p * d, 1);
  const inner = dims.slice(axis + 1).reduce((p, d) => p * d, 1);
  const count = dims[axis];
  const out = new Float32Array(total);
  for (let i = 0; i < total; i++) {
    const frame = Math.floor(i / inner) % count;
    const channel = Math.floor(i / (inner * count)) * inner + (i % inner);
    out[i] = frameNoise(seed, first + frame, channel);
  }
  return out;
}

/** A feature graph may give a frame or two fewer (or more) than the window holds; more is a broken model. */
const FRAME_SLACK = 2;

/**
 * Fits a [.., T', ..] feature tensor to count / repeat frames along `axis` (padding with the last frame,
 * or cutting), then repeats each frame `repeat` times.
 */
function fitFeatures(
  graph: string,
  input: string,
  value: Tensor,
  axis: number,
  count: number,
  repeat: number,
): Tensor {
  const dims = value.dims.map(Number);
  const have = dims[axis];
  const want = count / repeat;
  if (!(value.data instanceof Float32Array) || Math.abs(have - want) > FRAME_SLACK || have < 1) {
    throw new ModelManifestError(
      `graph "${graph}" input "${input}": the feature graph gave ${have} frames for a window of ${want}`,
    );
  }
  const data = value.data;
  const inner = dims.slice(axis + 1).reduce((p, d) => p * d, 1);
  const outer = dims.slice(0, axis).reduce((p, d) => p * d, 1);
  const out = new Float32Array(outer * count * inner);
  for (let o = 0; o < outer; o++) {
    for (let f = 0; f < count; f++) {
      const src = (o * have + Math.min(have - 1, Math.floor(f / repeat))) * inner;
      out.set(data.subarray(src, src + inner), (o * count + f) * inner);
    }
  }
  dims[axis] = count;
  return new Tensor('float32', out, dims);
}

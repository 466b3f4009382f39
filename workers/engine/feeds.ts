import { type InferenceSession, Tensor } from 'onnxruntime-node';
import { EngineOptionsError, VoiceProfileError } from './errors.js';
import type { GraphInputSpec, GraphSpec, ModelManifest } from './manifest.js';
import type { VoiceProfile } from './voice-profile.js';

export interface FeedContext {
  target?: VoiceProfile;
  source?: VoiceProfile;
  params: Readonly<Record<string, number>>;
  /** Value for inputs whose source is 'pitchRatio'. */
  pitchRatio?: number;
  /** Value for inputs whose source is 'pitchMap'. */
  pitchMap?: readonly [number, number];
}

function makeTensor(dtype: GraphInputSpec['dtype'], values: ArrayLike<number>, dims: number[]): Tensor {
  if (dtype === 'int64')
    return new Tensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(Math.round(v)))), dims);
  return new Tensor('float32', Float32Array.from(values), dims);
}

/** Concrete dims for a declared shape holding `length` values; at most one symbolic dim takes the rest. */
function concreteDims(spec: GraphInputSpec, length: number): number[] | null {
  const fixed = spec.shape.reduce<number>((p, d) => (typeof d === 'number' ? p * d : p), 1);
  const symbolic = spec.shape.filter((d) => typeof d === 'string').length;
  if (symbolic > 1 || (symbolic === 0 && fixed !== length) || length % fixed !== 0) return null;
  return spec.shape.map((d) => (typeof d === 'number' ? d : length / fixed));
}

function voiceTensor(
  graph: string,
  spec: GraphInputSpec,
  profile: VoiceProfile,
  role: string,
  field: string,
  fallback?: number,
): Tensor {
  const raw: unknown = (profile as Record<string, unknown>)[field] ?? fallback;
  if (raw === undefined) {
    throw new VoiceProfileError(
      `voice profile (${role}) has no "${field}", which this model needs: it was made by an older model; clone the voice again`,
    );
  }
  // A default for an input with a symbolic dim (e.g. a bank of rows the profile may lack) fills one row.
  const symbolic = spec.shape.some((d) => typeof d === 'string');
  const size = spec.shape.reduce<number>((p, d) => (typeof d === 'number' ? p * d : p), 1);
  const values = typeof raw === 'number' ? new Array<number>(symbolic ? size : 1).fill(raw) : raw;
  const ok = Array.isArray(values) && values.every((v) => typeof v === 'number' && Number.isFinite(v));
  const dims = ok ? concreteDims(spec, values.length) : null;
  if (!ok || dims === null) {
    throw new VoiceProfileError(
      `voice profile (${role}) field "${field}" does not fit graph "${graph}" input "${spec.name}" [${spec.shape.join(', ')}]`,
    );
  }
  return makeTensor(spec.dtype, values, dims);
}

/** Tensors for the inputs that stay the same for every window (voice fields and params). */
export function constantFeeds(graph: string, spec: GraphSpec, ctx: FeedContext): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const input of spec.inputs) {
    const s = input.source;
    if (s.from === 'voice') {
      const role = s.role ?? 'target';
      const profile = role === 'target' ? ctx.target : ctx.source;
      if (!profile)
        throw new VoiceProfileError(`graph "${graph}" input "${input.name}" needs a ${role} voice profile`);
      feeds[input.name] = voiceTensor(graph, input, profile, role, s.field, s.default);
    } else if (s.from === 'pitchRatio') {
      const dims = concreteDims(input, 1);
      if (ctx.pitchRatio === undefined || dims === null) {
        throw new EngineOptionsError(`graph "${graph}" input "${input.name}" needs a pitch ratio [1]`);
      }
      feeds[input.name] = makeTensor(input.dtype, [ctx.pitchRatio], dims);
    } else if (s.from === 'pitchMap') {
      const dims = concreteDims(input, 2);
      if (ctx.pitchMap === undefined || dims === null) {
        throw new EngineOptionsError(`graph "${graph}" input "${input.name}" needs a pitch map [2]`);
      }
      feeds[input.name] = makeTensor(input.dtype, ctx.pitchMap, dims);
    } else if (s.from === 'param') {
      const value = ctx.params[s.name] ?? s.default;
      const dims = concreteDims(input, 1);
      if (dims === null)
        throw new EngineOptionsError(`param "${s.name}" cannot fill graph "${graph}" input "${input.name}"`);
      feeds[input.name] = makeTensor(input.dtype, [value], dims);
    }
  }
  return feeds;
}

type Value = InferenceSession.OnnxValueMapType[string];

/** Adds the per-window inputs (audio, earlier graphs' outputs, carried state) to the constant ones. */
export function windowFeeds(
  spec: GraphSpec,
  constant: Record<string, Tensor>,
  audio: Float32Array,
  previous: ReadonlyMap<string, InferenceSession.OnnxValueMapType>,
  state: ReadonlyMap<string, Value> = new Map(),
): InferenceSession.FeedsType {
  const feeds: Record<string, Value> = { ...constant };
  for (const input of spec.inputs) {
    const s = input.source;
    if (s.from === 'audio') {
      // Shapes were checked at load time; the symbolic dim takes the window length.
      feeds[input.name] = new Tensor('float32', audio, concreteDims(input, audio.length) ?? [audio.length]);
    } else if (s.from === 'state') {
      feeds[input.name] =
        state.get(input.name) ?? makeTensor(input.dtype, [s.initial], concreteDims(input, 1) ?? [1]);
    } else if (s.from === 'graph') {
      const value = previous.get(s.graph)?.[s.output];
      if (value === undefined) throw new Error(`graph "${s.graph}" produced no "${s.output}"`);
      feeds[input.name] = value;
    }
  }
  return feeds;
}

/** Names of every param any graph of the model reads, for option validation. */
export function paramNames(manifest: ModelManifest): Set<string> {
  const names = new Set<string>();
  for (const g of Object.values(manifest.graphs)) {
    for (const i of g.inputs) if (i.source.from === 'param') names.add(i.source.name);
  }
  return names;
}

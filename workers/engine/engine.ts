import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { Chunker, type ChunkWindow } from './chunker.js';
import { EngineError, EngineErrorCode, EngineOptionsError, VoiceProfileError } from './errors.js';
import { constantFeeds, paramNames, windowFeeds } from './feeds.js';
import { Limiter } from './limiter.js';
import type { ModelManifest } from './manifest.js';
import { type LoadedModel, loadModel } from './model-loader.js';
import { ProfileAccumulator } from './profile-accumulator.js';
import { pitchMapFor, pitchRatioFor, type VoiceProfile } from './voice-profile.js';

/** Anything that yields PCM blocks (mono float32 at the model's sample rate). */
export type PcmSource = AsyncIterable<Float32Array> | Iterable<Float32Array>;

export interface RunOptions {
  /** Samples per model run; must be a multiple of the manifest's alignSamples. Default: manifest chunkSamples. */
  chunkSamples?: number;
}

export interface AnalyseOptions extends RunOptions {
  /** Stored in the profile for humans. */
  label?: string;
}

export interface ConverterOptions extends RunOptions {
  /** Target voice. */
  voice: VoiceProfile;
  /**
   * Profile of the input, from a first analyse() pass. The timbre shift is target minus this, the same for
   * every chunk. Default: the target itself, i.e. no timbre shift (pitch and limiter still apply).
   */
  sourceProfile?: VoiceProfile;
  /** 0 = keep the source timbre, 1 = reach the target's long-term envelope. Default 1; range 0..2. */
  strength?: number;
  /** Extra pitch shift on top of the source->target F0 ratio, in semitones. Default 0. */
  semitones?: number;
  /** Other model params by name; unknown names are refused. */
  params?: Record<string, number>;
}

/** Streaming conversion; output length equals input length, sample for sample. */
export interface Converter {
  /** Converts what it can of `pcm`; may return nothing until a full chunk (plus look-ahead) has arrived. */
  push(pcm: Float32Array): Promise<Float32Array[]>;
  /** Converts the remainder; the converter is finished afterwards. */
  flush(): Promise<Float32Array[]>;
}

/** Input samples beyond this are treated as broken and clamped (float decoders can overshoot 1 a little). */
const INPUT_CLAMP = 8;
const LIMITER_LOOKAHEAD_S = 0.002;
const LIMITER_RELEASE_S = 0.05;

function sanitise(pcm: Float32Array): Float32Array {
  const out = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) {
    const v = pcm[i];
    out[i] = Number.isFinite(v) ? Math.max(-INPUT_CLAMP, Math.min(INPUT_CLAMP, v)) : 0;
  }
  return out;
}

function floats(value: InferenceSession.OnnxValueMapType[string] | undefined, what: string): Float32Array {
  const data = (value as Tensor | undefined)?.data;
  if (!(data instanceof Float32Array)) throw new Error(`${what} is not a float32 tensor`);
  return data;
}

/**
 * Voice conversion over one loaded model. Create one per worker thread (sessions are single-threaded and
 * not shared); analyse() and converters may be used one after another on the same engine.
 */
export class VoiceConversionEngine {
  readonly #model: LoadedModel;
  readonly #params: Set<string>;

  private constructor(model: LoadedModel) {
    this.#model = model;
    this.#params = paramNames(model.manifest);
  }

  /** Loads and checks the model in `modelDir` (model.json + graphs). */
  static async load(modelDir: string): Promise<VoiceConversionEngine> {
    return new VoiceConversionEngine(await loadModel(modelDir));
  }

  get manifest(): ModelManifest {
    return this.#model.manifest;
  }

  get sampleRate(): number {
    return this.#model.manifest.sampleRate;
  }

  async close(): Promise<void> {
    await this.#model.release();
  }

  #chunker(options: RunOptions): Chunker {
    const m = this.#model.manifest;
    const chunk = options.chunkSamples ?? m.chunkSamples;
    if (!Number.isInteger(chunk) || chunk <= 0 || chunk % m.alignSamples !== 0) {
      throw new EngineOptionsError(`options.chunkSamples must be a positive multiple of ${m.alignSamples}`);
    }
    return new Chunker({ chunk, left: m.context.left, right: m.context.right });
  }

  #session(name: string): InferenceSession {
    const g = this.#model.graphs.get(name);
    if (!g) throw new EngineError(EngineErrorCode.converterState, 'engine is closed');
    return g.session;
  }

  /** Runs the analysis graph over the stream and aggregates it into a profile (memory stays flat). */
  async analyse(pcm: PcmSource, options: AnalyseOptions = {}): Promise<VoiceProfile> {
    const m = this.#model.manifest;
    const a = m.analysis;
    const spec = m.graphs[a.graph];
    const chunker = this.#chunker(options);
    const constant = constantFeeds(a.graph, spec, { params: {} });
    const bins = Number(spec.outputs.find((o) => o.name === a.outputs.power)?.shape.at(-1));
    const acc = new ProfileAccumulator({ model: m.name, sampleRate: m.sampleRate, bins, ...a });
    const run = async (w: ChunkWindow): Promise<void> => {
      const out = await this.#session(a.graph).run(windowFeeds(spec, constant, w.samples, new Map()));
      const f0 = floats(out[a.outputs.f0], 'analysis f0');
      // Keep the frames centred inside this window's chunk, so every frame of the stream counts once.
      const first = (m.context.left - a.frameLength / 2) / a.frameHop;
      const from = Math.max(0, Math.ceil(first));
      const to = Math.min(f0.length, Math.ceil(first + w.valid / a.frameHop));
      acc.add({
        f0,
        voicing: floats(out[a.outputs.voicing], 'analysis voicing'),
        energy: floats(out[a.outputs.energy], 'analysis energy'),
        power: floats(out[a.outputs.power], 'analysis power'),
        from,
        to,
      });
    };
    for await (const block of pcm) for (const w of chunker.push(sanitise(block))) await run(w);
    for (const w of chunker.flush()) await run(w);
    return acc.finish(options.label);
  }

  #checkProfile(p: VoiceProfile, name: string): void {
    const m = this.#model.manifest;
    if (p.sampleRate !== m.sampleRate || p.model !== m.name) {
      throw new VoiceProfileError(
        `options.${name} was made by model "${p.model}" at ${p.sampleRate} Hz; this is "${m.name}" at ${m.sampleRate} Hz`,
      );
    }
  }

  #params_(options: ConverterOptions): Record<string, number> {
    const params: Record<string, number> = { ...options.params };
    for (const [k, v] of Object.entries(params)) {
      if (!this.#params.has(k))
        throw new EngineOptionsError(`options.params.${k} is not a parameter of this model`);
      if (!Number.isFinite(v)) throw new EngineOptionsError(`options.params.${k} must be a finite number`);
    }
    if (options.strength !== undefined) {
      const s = options.strength;
      if (!(s >= 0 && s <= 2)) throw new EngineOptionsError('options.strength must be between 0 and 2');
      params.strength = s;
    }
    return params;
  }

  /** A streaming converter: model chain per fixed window, then a look-ahead limiter (peak <= -0.1 dBFS). */
  createConverter(options: ConverterOptions): Converter {
    const m = this.#model.manifest;
    this.#checkProfile(options.voice, 'voice');
    const source = options.sourceProfile ?? options.voice;
    this.#checkProfile(source, 'sourceProfile');
    const semitones = options.semitones ?? 0;
    if (!Number.isFinite(semitones))
      throw new EngineOptionsError('options.semitones must be a finite number');
    const pitchRatio = pitchRatioFor(source, options.voice, semitones);
    const ctx = {
      target: options.voice,
      source,
      params: this.#params_(options),
      pitchRatio,
      pitchMap: pitchMapFor(source, options.voice),
    };
    const chain = m.conversion.chain.map((name) => ({
      name,
      spec: m.graphs[name],
      constant: constantFeeds(name, m.graphs[name], ctx),
      // Recurrent inputs, fed from this graph's outputs of the previous window.
      state: new Map<string, InferenceSession.OnnxValueMapType[string]>(),
    }));
    const chunker = this.#chunker(options);
    const limiter = new Limiter({
      lookahead: Math.round(LIMITER_LOOKAHEAD_S * m.sampleRate),
      release: LIMITER_RELEASE_S * m.sampleRate,
    });
    const convertWindow = async (w: ChunkWindow): Promise<Float32Array> => {
      const results = new Map<string, InferenceSession.OnnxValueMapType>();
      for (const g of chain) {
        const out = await this.#session(g.name).run(
          windowFeeds(g.spec, g.constant, w.samples, results, g.state),
        );
        results.set(g.name, out);
        for (const input of g.spec.inputs)
          if (input.source.from === 'state') g.state.set(input.name, out[input.source.output]);
      }
      const out = floats(
        results.get(m.conversion.output.graph)?.[m.conversion.output.output],
        'conversion output',
      );
      const centre = chunker.centre(w, out);
      for (let i = 0; i < centre.length; i++) if (!Number.isFinite(centre[i])) centre[i] = 0;
      return limiter.process(centre);
    };
    // Calls are serialised so overlapping push() calls cannot reorder windows.
    let tail: Promise<unknown> = Promise.resolve();
    let finished = false;
    const serial = <T>(job: () => Promise<T>): Promise<T> => {
      const next = tail.then(job);
      tail = next.catch(() => undefined);
      return next;
    };
    const guard = (): void => {
      if (finished) throw new EngineError(EngineErrorCode.converterState, 'converter used after flush()');
    };
    return {
      push: (pcm) => {
        guard();
        return serial(async () => {
          const out: Float32Array[] = [];
          for (const w of chunker.push(sanitise(pcm))) out.push(await convertWindow(w));
          return out.filter((b) => b.length > 0);
        });
      },
      flush: () => {
        guard();
        finished = true;
        return serial(async () => {
          const out: Float32Array[] = [];
          for (const w of chunker.flush()) out.push(await convertWindow(w));
          out.push(limiter.flush());
          return out.filter((b) => b.length > 0);
        });
      },
    };
  }

  /**
   * Second analysis pass for a conversion: the long-term envelope of the input as the pitch shifter renders
   * it (strength 0), merged into `sourceProfile`. Converting with the result makes the timbre shift aim at
   * what the shifter really outputs (measured: long-term envelope distance to the target 0.5-1.5x of the
   * source's with the plain profile, 0.2-0.5x with this one). F0 statistics stay those of the input.
   */
  async analyseShifted(pcm: PcmSource, options: ConverterOptions): Promise<VoiceProfile> {
    const shifted = await this.analyse(this.convert(pcm, { ...options, strength: 0 }), options);
    const source = options.sourceProfile ?? options.voice;
    return { ...source, envelope: shifted.envelope };
  }

  /** Convenience over createConverter(): converts a whole stream, yielding blocks as they are ready. */
  async *convert(pcm: PcmSource, options: ConverterOptions): AsyncGenerator<Float32Array> {
    const converter = this.createConverter(options);
    for await (const block of pcm) yield* await converter.push(block);
    yield* await converter.flush();
  }
}

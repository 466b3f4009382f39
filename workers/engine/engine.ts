import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { Chunker, type ChunkWindow } from './chunker.js';
import { type ChainGraph, ConversionPass, type InPassMeasure, serialConverter } from './conversion-pass.js';
import { shrinkToPrior } from './envelope-prior.js';
import {
  EngineError,
  EngineErrorCode,
  EngineOptionsError,
  ModelManifestError,
  VoiceProfileError,
} from './errors.js';
import { constantFeeds, type FeedContext, paramNames, windowFeeds } from './feeds.js';
import { withMatchedFormants } from './formant-match.js';
import { FrameFeeder } from './frame-feeds.js';
import { usesFrames } from './frame-manifest.js';
import type { ModelManifest } from './manifest.js';
import { type LoadedModel, loadModel } from './model-loader.js';
import { ProfileAccumulator } from './profile-accumulator.js';
import { floats, sanitise } from './samples.js';
import { CEPSTRA, pitchMapFor, pitchRatioFor, type VoiceProfile } from './voice-profile.js';

/**
 * A conversion's source statistics (median F0 and spread, formants, envelope statistics) come from its
 * first this many seconds, so its first audio waits for a bounded analysis whatever the input's length.
 * Chosen by measurement (docs/BENCHMARKS.md, bench/source-prefix.ts); longer than every utterance the judge
 * converts, so its figures are those of a whole-file analysis.
 */
export const SOURCE_ANALYSIS_SECONDS = 30;

/** Anything that yields PCM blocks (mono float32 at the model's sample rate). */
export type PcmSource = AsyncIterable<Float32Array> | Iterable<Float32Array>;

export interface RunOptions {
  /** Samples per model run; must be a multiple of the manifest's alignSamples. Default: manifest chunkSamples. */
  chunkSamples?: number;
}

export interface AnalyseOptions extends RunOptions {
  /** Stored in the profile for humans. */
  label?: string;
  /**
   * Analyse only the stream's first `seconds` (exactly that many samples, whatever the block sizes; the
   * rest is not read). Default: the whole stream.
   */
  seconds?: number;
}

export interface ConverterOptions extends RunOptions {
  /** Target voice. */
  voice: VoiceProfile;
  /**
   * Profile of the input, from a first analyse() pass: its F0 statistics set the pitch ratio and range
   * mapping, and graphs that take the source's envelope (role 'source') get this one's. Models that measure
   * the envelope in the conversion pass (input source 'analysis', as the default model's EQ does) need no
   * other pass. Default: the target itself, i.e. no pitch shift beyond `semitones`.
   */
  sourceProfile?: VoiceProfile;
  /** 0 = keep the source timbre, 1 = reach the target's long-term envelope. Default 1; range 0..2. */
  strength?: number;
  /** Extra pitch shift on top of the source->target F0 ratio, in semitones. Default 0. */
  semitones?: number;
  /** Other model params by name; unknown names are refused. */
  params?: Record<string, number>;
}

/** What analyseReference() gives. */
export interface ReferenceAnalysis {
  profile: VoiceProfile;
  /**
   * Of consecutive voiced frames, the share whose F0 holds still (slower than 5 cents per 10 ms); null
   * when no two voiced frames follow each other.
   */
  steadyPitchShare: number | null;
}

/** Streaming conversion; output length equals input length, sample for sample. */
export interface Converter {
  /** Converts what it can of `pcm`; may return nothing until a full chunk (plus look-ahead) has arrived. */
  push(pcm: Float32Array): Promise<Float32Array[]>;
  /** Converts the remainder; the converter is finished afterwards. */
  flush(): Promise<Float32Array[]>;
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

  /** Rate of the audio the engine takes (analyse() and converters). */
  get sampleRate(): number {
    return this.#model.manifest.sampleRate;
  }

  /** Rate of what converters return: the manifest's outputSampleRate, else sampleRate. */
  get outputSampleRate(): number {
    return this.#model.manifest.outputSampleRate ?? this.#model.manifest.sampleRate;
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

  /** `details`: see AccumulatorOptions; in-pass measurements need the envelope only. */
  #accumulator(details: 'all' | 'none'): ProfileAccumulator {
    const m = this.#model.manifest;
    const a = m.analysis;
    const bins = Number(m.graphs[a.graph].outputs.find((o) => o.name === a.outputs.power)?.shape.at(-1));
    return new ProfileAccumulator({ model: m.name, sampleRate: m.sampleRate, bins, ...a, details });
  }

  /**
   * Runs the analysis graph on one window of `audio` and adds the frames centred inside the window's chunk
   * (so every frame of the stream counts once), up to stream position `limit` (samples).
   */
  async #analyseWindow(
    acc: ProfileAccumulator,
    constant: Record<string, Tensor>,
    w: ChunkWindow,
    audio: Float32Array,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<void> {
    const m = this.#model.manifest;
    const a = m.analysis;
    const out = await this.#session(a.graph).run(windowFeeds(m.graphs[a.graph], constant, audio, new Map()));
    const f0 = floats(out[a.outputs.f0], 'analysis f0');
    const first = (m.context.left - a.frameLength / 2) / a.frameHop;
    const from = Math.max(0, Math.ceil(first));
    const end = Math.min(w.valid, limit - w.start);
    const to = Math.min(f0.length, Math.ceil(first + end / a.frameHop));
    acc.add({
      f0,
      voicing: floats(out[a.outputs.voicing], 'analysis voicing'),
      energy: floats(out[a.outputs.energy], 'analysis energy'),
      power: floats(out[a.outputs.power], 'analysis power'),
      from,
      to,
    });
  }

  /**
   * Runs the analysis graph over the stream (or its first `options.seconds`) and aggregates it into a
   * profile (memory stays flat).
   */
  async analyse(pcm: PcmSource, options: AnalyseOptions = {}): Promise<VoiceProfile> {
    return (await this.#gather(pcm, options)).finish(options.label);
  }

  /**
   * analyse() for a clone's reference recording: the profile, and how its F0 moves, which tells speech
   * from a tone (ProfileAccumulator.steadyPitchShare).
   */
  async analyseReference(pcm: PcmSource, options: AnalyseOptions = {}): Promise<ReferenceAnalysis> {
    const acc = await this.#gather(pcm, options);
    return { profile: acc.finish(options.label), steadyPitchShare: acc.steadyPitchShare };
  }

  async #gather(pcm: PcmSource, options: AnalyseOptions): Promise<ProfileAccumulator> {
    const a = this.#model.manifest.analysis;
    const chunker = this.#chunker(options);
    const limit = this.#sampleLimit(options.seconds);
    const constant = constantFeeds(a.graph, this.#model.manifest.graphs[a.graph], { params: {} });
    const acc = this.#accumulator('all');
    let read = 0;
    for await (const block of pcm) {
      const taken = block.length <= limit - read ? block : block.subarray(0, limit - read);
      read += taken.length;
      for (const w of chunker.push(taken)) await this.#analyseWindow(acc, constant, w, sanitise(w.samples));
      if (read >= limit) break;
    }
    for (const w of chunker.flush()) await this.#analyseWindow(acc, constant, w, sanitise(w.samples));
    return acc;
  }

  #sampleLimit(seconds: number | undefined): number {
    if (seconds === undefined) return Number.POSITIVE_INFINITY;
    if (!(Number.isFinite(seconds) && seconds > 0))
      throw new EngineOptionsError('options.seconds must be a positive number');
    return Math.round(seconds * this.#model.manifest.sampleRate);
  }

  #checkProfile(p: VoiceProfile, name: string): void {
    const m = this.#model.manifest;
    if (p.sampleRate !== m.sampleRate || p.model !== m.name) {
      throw new VoiceProfileError(
        `options.${name} was made by model "${p.model}" at ${p.sampleRate} Hz; this is "${m.name}" at ${m.sampleRate} Hz`,
      );
    }
    const from = m.analysis.envelopeFromHz ?? 0;
    if (p.envelopeMean !== undefined && (p.envelopeFromHz ?? 0) !== from) {
      throw new VoiceProfileError(
        `voice profile (${name}) holds envelope statistics from ${p.envelopeFromHz ?? 0} Hz and this model reads them from ${from} Hz: it was made by an older model; clone the voice again`,
      );
    }
    const count = m.analysis.envelopeCepstra ?? CEPSTRA;
    if (p.envelopeMean !== undefined && (p.envelopeCepstra ?? CEPSTRA) !== count) {
      throw new VoiceProfileError(
        `voice profile (${name}) holds ${p.envelopeCepstra ?? CEPSTRA} envelope cepstra and this model reads ${count}: it was made by another model; clone the voice again`,
      );
    }
  }

  /** Checks the converter's options and derives what its feeds need (params, pitch ratio and map). */
  #conversionContext(
    options: ConverterOptions,
  ): FeedContext & { pitchRatio: number; pitchMap: [number, number] } {
    this.#checkProfile(options.voice, 'voice');
    this.#checkProfile(options.sourceProfile ?? options.voice, 'sourceProfile');
    // The source's envelope statistics, moved toward the model's prior by how short the source is.
    const { sourcePrior: prior, formantMatch } = this.#model.manifest.analysis;
    const shrunk =
      options.sourceProfile === undefined
        ? options.voice
        : prior === undefined
          ? options.sourceProfile
          : shrinkToPrior(options.sourceProfile, prior);
    // Its formants matched frame to frame to the target's, when the model asks for it.
    const source =
      formantMatch === undefined || options.sourceProfile === undefined
        ? shrunk
        : withMatchedFormants(shrunk, options.voice, formantMatch);
    const semitones = options.semitones ?? 0;
    if (!Number.isFinite(semitones))
      throw new EngineOptionsError('options.semitones must be a finite number');
    const params = this.#checkedParams(options);
    // Strength scales the way to the target's F0 as it scales the model's other moves.
    const strength = params.strength ?? 1;
    return {
      target: options.voice,
      source,
      params,
      pitchRatio: pitchRatioFor(source, options.voice, semitones, strength),
      pitchMap: pitchMapFor(source, options.voice, strength),
    };
  }

  #checkedParams(options: ConverterOptions): Record<string, number> {
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

  /** The conversion chain's graphs with this conversion's constant feeds. */
  #chain(ctx: FeedContext): ChainGraph[] {
    const m = this.#model.manifest;
    return m.conversion.chain.map((name) => ({
      name,
      spec: m.graphs[name],
      constant: constantFeeds(name, m.graphs[name], ctx),
      state: new Map<string, InferenceSession.OnnxValueMapType[string]>(),
    }));
  }

  /** The chain's inputs measured in this pass (source 'analysis'), each with its own accumulator. */
  #inPassMeasures(chain: ChainGraph[]): InPassMeasure[] {
    return chain.flatMap((g, index) =>
      g.spec.inputs.flatMap((input) => {
        const s = input.source;
        if (s.from !== 'analysis') return [];
        // Without a graph: the conversion's input audio.
        const of = 'graph' in s ? { graph: s.graph, output: s.output } : {};
        return [{ index, input: input.name, ...of, seconds: s.seconds, acc: this.#accumulator('none') }];
      }),
    );
  }

  /**
   * A streaming converter: model chain per fixed window, then a look-ahead limiter (peak <= -0.1 dBFS).
   * When the chain measures an input in-pass (source 'analysis'), output starts once that measurement's
   * span has arrived (or at flush), the windows until then being held.
   */
  createConverter(options: ConverterOptions): Converter {
    return serialConverter(this.#pass(options));
  }

  #pass(options: ConverterOptions): ConversionPass {
    const m = this.#model.manifest;
    const ctx = this.#conversionContext(options);
    const chain = this.#chain(ctx);
    const analysisConstant = constantFeeds(m.analysis.graph, m.graphs[m.analysis.graph], { params: {} });
    return new ConversionPass({
      manifest: m,
      chain,
      measures: this.#inPassMeasures(chain),
      chunker: this.#chunker(options),
      outRate: this.outputSampleRate,
      frames: usesFrames(m) ? this.#frameFeeder(ctx.pitchRatio, ctx.pitchMap) : undefined,
      run: (name, feeds, samples) => this.#run(name, feeds, samples),
      measure: (acc, w, audio, limit) => this.#analyseWindow(acc, analysisConstant, w, audio, limit),
      centreAt: (w, out, outRate) => this.#centreAt(w, out, outRate),
      strength: ctx.params.strength ?? 1,
    });
  }

  /** Runs one chain graph; ORT's own message (it may hold build paths) stays in `cause`, for the log. */
  async #run(
    name: string,
    feeds: InferenceSession.FeedsType,
    samples: number,
  ): Promise<InferenceSession.OnnxValueMapType> {
    const session = this.#session(name);
    try {
      return await session.run(feeds);
    } catch (cause) {
      throw new EngineError(
        EngineErrorCode.modelRun,
        `graph "${name}" failed to run on a window of ${samples} samples`,
        { cause },
      );
    }
  }

  /** The chunk's part of an output at another rate than the input (window edges at whole output samples). */
  #centreAt(w: ChunkWindow, out: Float32Array, outRate: number): Float32Array {
    const m = this.#model.manifest;
    const ratio = outRate / m.sampleRate;
    if (out.length !== Math.round(w.samples.length * ratio)) {
      const o = m.conversion.output;
      throw new ModelManifestError(
        `model manifest: graph "${o.graph}" output "${o.output}" gave ${out.length} samples for a window of ${w.samples.length} (expected ${Math.round(w.samples.length * ratio)} at ${outRate} Hz)`,
      );
    }
    const from = Math.round(m.context.left * ratio);
    const start = Math.round(w.start * ratio);
    return out.subarray(from, from + Math.floor((w.start + w.valid) * ratio) - start);
  }

  /** Frame-domain inputs: F0 from the analysis graph on each window, mapped like the pitch shifter's. */
  #frameFeeder(ratio: number, map: readonly [number, number]): FrameFeeder {
    const m = this.#model.manifest;
    const a = m.analysis;
    const constant = constantFeeds(a.graph, m.graphs[a.graph], { params: {} });
    const [median, k] = map;
    return new FrameFeeder({
      manifest: m,
      analyse: async (audio) => {
        const out = await this.#session(a.graph).run(
          windowFeeds(m.graphs[a.graph], constant, audio, new Map()),
        );
        return {
          f0: floats(out[a.outputs.f0], 'analysis f0'),
          voicing: floats(out[a.outputs.voicing], 'analysis voicing'),
          energy: floats(out[a.outputs.energy], 'analysis energy'),
        };
      },
      mapF0: (hz) => hz * ratio * (median > 0 && k !== 1 ? (hz / median) ** (k - 1) : 1),
    });
  }

  /**
   * Converts a whole stream, yielding each block as soon as it is converted (the same blocks as
   * createConverter()'s push() and flush() give, in the same order, without waiting for a push's
   * last window: the first audio after an in-pass measurement goes out before the held windows
   * behind it are converted).
   */
  async *convert(pcm: PcmSource, options: ConverterOptions): AsyncGenerator<Float32Array> {
    const pass = this.#pass(options);
    for await (const block of pcm) {
      for await (const out of pass.pushing(block)) if (out.length > 0) yield out;
    }
    for await (const out of pass.flushing()) if (out.length > 0) yield out;
  }
}

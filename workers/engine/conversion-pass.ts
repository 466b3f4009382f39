import { type InferenceSession, Tensor } from 'onnxruntime-node';
import type { Chunker, ChunkWindow } from './chunker.js';
import { EngineError, EngineErrorCode, ModelManifestError } from './errors.js';
import { windowFeeds } from './feeds.js';
import type { FrameFeeder } from './frame-feeds.js';
import { Limiter, PEAK_CEILING } from './limiter.js';
import { LoudnessMeter, loudnessGain } from './loudness.js';
import type { GraphSpec, ModelManifest } from './manifest.js';
import type { ProfileAccumulator } from './profile-accumulator.js';
import { floats, sanitise } from './samples.js';

const LIMITER_LOOKAHEAD_S = 0.002;
const LIMITER_RELEASE_S = 0.05;

type Outputs = InferenceSession.OnnxValueMapType;

/** One graph of the conversion chain, with this conversion's constant feeds. */
export interface ChainGraph {
  name: string;
  spec: GraphSpec;
  constant: Record<string, Tensor>;
  /** Recurrent inputs, fed from this graph's outputs of the previous window. */
  state: Map<string, Outputs[string]>;
}

/**
 * An input measured in this pass (source 'analysis'): graph `index` waits until it is complete. What is
 * measured: an earlier graph's `output`, or the conversion's input audio (no `graph`).
 */
export interface InPassMeasure {
  index: number;
  input: string;
  graph?: string;
  output?: string;
  seconds: number;
  acc: ProfileAccumulator;
}

export interface ConversionPassOptions {
  manifest: ModelManifest;
  chain: ChainGraph[];
  measures: InPassMeasure[];
  chunker: Chunker;
  outRate: number;
  frames: FrameFeeder | undefined;
  /** Runs one chain graph (errors become EngineErrors). */
  run(name: string, feeds: InferenceSession.FeedsType, samples: number): Promise<Outputs>;
  /** Adds one window of `audio`, up to stream position `limit`, to a measurement. */
  measure(acc: ProfileAccumulator, w: ChunkWindow, audio: Float32Array, limit: number): Promise<void>;
  /** The chunk's part of an output at another rate than the input. */
  centreAt(w: ChunkWindow, out: Float32Array, outRate: number): Float32Array;
  /** The conversion's strength (the manifest's conversion.loudness gain scales with it). */
  strength: number;
}

/**
 * The output level stage (manifest conversion.loudness): input and measured output over the same span. A graph
 * at or after the gate is measured on the held windows once the gate opens (`afterGate`).
 */
interface LevelStage {
  graph: string;
  afterGate: boolean;
  output: string;
  maxDb: number;
  maxCutDb: number;
  input: LoudnessMeter;
  measured: LoudnessMeter;
}

/**
 * The state of one streaming conversion: model chain per fixed window, then a look-ahead limiter
 * (peak <= -0.1 dBFS). When the chain measures an input in-pass (source 'analysis'), graphs from the first
 * that takes one (the gate) wait until every measurement is complete; windows are held (with the earlier
 * graphs' outputs) until then.
 */
export class ConversionPass {
  readonly #o: ConversionPassOptions;
  readonly #gate: number;
  readonly #held: { w: ChunkWindow; results: Map<string, Outputs>; ran?: boolean }[] = [];
  readonly #limiter: Limiter;
  readonly #level: LevelStage | undefined;
  /** The level stage's gain, once its span is measured (1 without the stage). */
  #gain: number | undefined;

  constructor(options: ConversionPassOptions) {
    this.#o = options;
    const { measures, chain, outRate, manifest: m } = options;
    const l = m.conversion.loudness;
    this.#gate = measures.length > 0 ? Math.min(...measures.map((x) => x.index)) : chain.length;
    const gate = this.#gate;
    this.#level =
      l === undefined
        ? undefined
        : {
            ...l,
            afterGate: chain.findIndex((g) => g.name === l.graph) >= gate,
            input: new LoudnessMeter(m.sampleRate, l.seconds),
            measured: new LoudnessMeter(m.sampleRate, l.seconds),
          };
    this.#gain = l === undefined ? 1 : undefined;
    this.#limiter = new Limiter({
      lookahead: Math.round(LIMITER_LOOKAHEAD_S * outRate),
      release: LIMITER_RELEASE_S * outRate,
    });
  }

  push(pcm: Float32Array): Promise<Float32Array[]> {
    return collect(this.pushing(pcm));
  }

  flush(): Promise<Float32Array[]> {
    return collect(this.flushing());
  }

  /**
   * push() block by block: each window is yielded as soon as it is converted, so the first block of
   * the held windows, once the measurements open the gate, goes out before the rest are converted.
   */
  async *pushing(pcm: Float32Array): AsyncGenerator<Float32Array> {
    for (const w of this.#o.chunker.push(pcm)) yield* this.#convertWindow(w);
  }

  /** flush() block by block (see pushing()). */
  async *flushing(): AsyncGenerator<Float32Array> {
    for (const w of this.#o.chunker.flush()) yield* this.#convertWindow(w);
    // A stream shorter than every measurement: measured on all of it.
    if (this.#o.measures.length > 0 || this.#gain === undefined) yield* this.#release();
    yield this.#limiter.flush();
  }

  async *#convertWindow(w: ChunkWindow): AsyncGenerator<Float32Array> {
    const { manifest: m, measures } = this.#o;
    sanitise(w.samples);
    const results = new Map<string, Outputs>();
    await this.#runGraphs(w, results, 0, this.#gate);
    this.#measureLevel(w, results);
    if (measures.length === 0 && this.#gain !== undefined) {
      yield await this.#finishWindow(w, results);
      return;
    }
    for (const x of measures) {
      const limit = Math.round(x.seconds * m.sampleRate);
      if (w.start >= limit) continue;
      const audio =
        x.graph === undefined || x.output === undefined
          ? w.samples
          : floats(results.get(x.graph)?.[x.output], `graph "${x.graph}" output "${x.output}"`);
      await this.#o.measure(x.acc, w, audio, limit);
    }
    this.#held.push({ w, results });
    const done = measures.every((x) => w.start + w.valid >= Math.round(x.seconds * m.sampleRate));
    if (done && (this.#gain !== undefined || this.#levelMeasured())) yield* this.#release();
  }

  /** Adds the window's chunk of the input and of the level stage's graph output to its meters. */
  #measureLevel(w: ChunkWindow, results: Map<string, Outputs>): void {
    const l = this.#level;
    if (l === undefined || this.#gain !== undefined || l.input.done || !results.has(l.graph)) return;
    const out = floats(results.get(l.graph)?.[l.output], `graph "${l.graph}" output "${l.output}"`);
    if (out.length !== w.samples.length)
      throw new ModelManifestError(
        `model manifest: conversion.loudness measures graph "${l.graph}" output "${l.output}", which is not at the input's rate`,
      );
    l.input.add(this.#o.chunker.centre(w, w.samples));
    l.measured.add(this.#o.chunker.centre(w, out));
  }

  /** Whether the level stage's span is measured, or (after the gate) will be on the held windows. */
  #levelMeasured(): boolean {
    return this.#level === undefined || this.#level.afterGate || this.#level.input.done;
  }

  async #runGraphs(w: ChunkWindow, results: Map<string, Outputs>, from: number, to: number): Promise<void> {
    const { chain, frames } = this.#o;
    for (const g of chain.slice(from, to)) {
      const feeds = windowFeeds(g.spec, g.constant, w.samples, results, g.state);
      if (frames) Object.assign(feeds, await frames.feeds(g.name, g.spec, w, results));
      const out = await this.#o.run(g.name, feeds, w.samples.length);
      results.set(g.name, out);
      for (const input of g.spec.inputs)
        if (input.source.from === 'state') g.state.set(input.name, out[input.source.output]);
    }
  }

  /** Runs the graphs from the gate on (unless they ran), then the gain and the limiter. */
  async #finishWindow(w: ChunkWindow, results: Map<string, Outputs>, ran = false): Promise<Float32Array> {
    const { manifest: m, chain, chunker, outRate } = this.#o;
    if (!ran) await this.#runGraphs(w, results, this.#gate, chain.length);
    const out = floats(
      results.get(m.conversion.output.graph)?.[m.conversion.output.output],
      'conversion output',
    );
    const centre = outRate === m.sampleRate ? chunker.centre(w, out) : this.#o.centreAt(w, out, outRate);
    const gain = this.#gain ?? 1;
    for (let i = 0; i < centre.length; i++) centre[i] = Number.isFinite(centre[i]) ? centre[i] * gain : 0;
    return this.#limiter.process(centre);
  }

  /** Completes the measurements, opens the gate and converts the held windows, one by one. */
  async *#release(): AsyncGenerator<Float32Array> {
    const { chain, measures } = this.#o;
    for (const x of measures) {
      const envelope = x.acc.finish().envelope;
      chain[x.index].constant[x.input] = new Tensor('float32', Float32Array.from(envelope), [
        envelope.length,
      ]);
    }
    measures.length = 0;
    const l = this.#level;
    if (this.#gain === undefined && l?.afterGate)
      for (const h of this.#held) {
        if (l.input.done) break;
        await this.#runGraphs(h.w, h.results, this.#gate, chain.length);
        h.ran = true;
        this.#measureLevel(h.w, h.results);
      }
    if (this.#gain === undefined && l !== undefined)
      this.#gain = loudnessGain(l.input.loudness(), l.measured.loudness(), this.#o.strength, {
        maxDb: l.maxDb,
        maxCutDb: l.maxCutDb,
        headroom: PEAK_CEILING / l.measured.peak,
      });
    while (this.#held.length > 0) {
      const h = this.#held.shift();
      if (h) yield await this.#finishWindow(h.w, h.results, h.ran);
    }
  }
}

/** The non-empty blocks of `blocks`, gathered. */
async function collect(blocks: AsyncGenerator<Float32Array>): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for await (const b of blocks) if (b.length > 0) out.push(b);
  return out;
}

/** A Converter over a pass: calls are serialised so overlapping push() calls cannot reorder windows. */
export function serialConverter(pass: ConversionPass): {
  push(pcm: Float32Array): Promise<Float32Array[]>;
  flush(): Promise<Float32Array[]>;
} {
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
      return serial(() => pass.push(pcm));
    },
    flush: () => {
      guard();
      finished = true;
      return serial(() => pass.flush());
    },
  };
}

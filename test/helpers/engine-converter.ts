import assert from 'node:assert/strict';
import {
  type ConverterOptions,
  SOURCE_ANALYSIS_SECONDS,
  type VoiceConversionEngine,
  type VoiceProfile,
} from '../../workers/engine/index.js';
import { blocks, concat } from './audio-io.js';
import type { Converter } from './judge.js';

/**
 * The pool task's passes through `engine`, as a judge Converter: clone the voice from the clone part,
 * analyse the source (its first SOURCE_ANALYSIS_SECONDS, as the task does), convert it (blocks of varying size, as a decoder pipe delivers them).
 * `sourceSeconds` (experiments) analyses only the source's first seconds, the statistics a source that short
 * would have, and converts the whole source with them, so the judge's measures stay those of the full length.
 */
export function engineConverter(
  engine: VoiceConversionEngine,
  strength = 1,
  sourceSeconds = SOURCE_ANALYSIS_SECONDS,
): Converter {
  const seconds = Math.min(sourceSeconds, SOURCE_ANALYSIS_SECONDS);
  // A voice is cloned once per clone part handed in (parallelMcd converts three sentences with one clone):
  // the analysis of the same samples gives the same profile.
  const voices = new WeakMap<Float32Array, Promise<VoiceProfile>>();
  return async ({ source, clone, sampleRate }) => {
    if (sampleRate !== engine.sampleRate) throw new Error(`engine runs at ${engine.sampleRate} Hz`);
    let cloned = voices.get(clone);
    if (!cloned) {
      cloned = engine.analyse(blocks(clone));
      voices.set(clone, cloned);
    }
    const voice = await cloned;
    const sourceProfile = await engine.analyse(blocks(source), { seconds });
    const out: Float32Array[] = [];
    for await (const b of engine.convert(blocks(source), { voice, sourceProfile, strength })) out.push(b);
    return { pcm: concat(out), sampleRate };
  };
}

/** The whole of `pcm` through one converter, pushed in blocks of `sizes` (varying sizes by default, as a decoder pipe delivers them). */
export async function convertAll(
  engine: VoiceConversionEngine,
  pcm: Float32Array,
  options: ConverterOptions,
  sizes?: number[],
): Promise<Float32Array> {
  const converter = engine.createConverter(options);
  const out: Float32Array[] = [];
  for (const b of blocks(pcm, sizes)) out.push(...(await converter.push(b)));
  out.push(...(await converter.flush()));
  return concat(out);
}

/** The whole of `pcm` as one window and one block: the reference a chunked conversion must equal. */
export function convertWhole(
  engine: VoiceConversionEngine,
  pcm: Float32Array,
  options: ConverterOptions,
): Promise<Float32Array> {
  return convertAll(engine, pcm, { ...options, chunkSamples: Math.ceil(pcm.length / 256) * 256 }, [
    pcm.length,
  ]);
}

/**
 * `pcm` converted in blocks of varying size and as one whole window; asserts the chunked output has
 * the source's length, is finite and equals the whole-file one within 1e-4. Returns the whole-file output.
 */
export async function convertChunkedAsWhole(
  engine: VoiceConversionEngine,
  pcm: Float32Array,
  options: ConverterOptions,
): Promise<Float32Array> {
  const chunked = await convertAll(engine, pcm, options, [1, 5000, 333, 65536]);
  const whole = await convertWhole(engine, pcm, options);
  assert.equal(chunked.length, pcm.length);
  assert.equal(whole.length, pcm.length);
  assert.ok(chunked.every(Number.isFinite), 'the chunked output holds NaN or Infinity');
  const maxDiff = chunked.reduce((m, v, i) => Math.max(m, Math.abs(v - whole[i])), 0);
  assert.ok(maxDiff <= 1e-4, `chunked vs whole-file differ by ${maxDiff}`);
  return whole;
}

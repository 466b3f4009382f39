// Real human speech for the quality tests: the LibriSpeech utterances in the shared speech folder
// (scripts/lib/speech-corpus.ts finds them), decoded through a per-run cache keyed by content hash.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { decodeFile, resamplePcm } from './audio-io.js';

export { type Speaker, speakers, speechDir } from '../../scripts/lib/speech-corpus.js';

/** Split point of an utterance: the voice is cloned from the first 60 %, judged against the last 40 %. */
export const CLONE_SHARE = 0.6;

export function firstPart(pcm: Float32Array, share = CLONE_SHARE): Float32Array {
  return pcm.subarray(0, Math.round(pcm.length * share));
}

export function lastPart(pcm: Float32Array, share = CLONE_SHARE): Float32Array {
  return pcm.subarray(Math.round(pcm.length * share));
}

const asFloats = (b: Buffer): Float32Array =>
  new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

/**
 * Decoded and resampled audio cached under `dir` (a per-run temp dir the caller removes), keyed by a hash
 * of the input's content and the operation, so one run never decodes the same thing twice. Threads may
 * share `dir`. Under `npm test`, VCFARM_TEST_PCM_CACHE (a folder in the run's temporary root, set by
 * scripts/test.sh) takes the place of `dir`, so the test files of a run share what they decode.
 */
export class PcmCache {
  readonly #dir: string;
  readonly #memo = new Map<string, Promise<Float32Array>>();

  constructor(dir: string) {
    this.#dir = process.env.VCFARM_TEST_PCM_CACHE || dir;
  }

  #cached(key: string, make: () => Promise<Float32Array>): Promise<Float32Array> {
    let p = this.#memo.get(key);
    if (!p) {
      const file = join(this.#dir, `${key}.f32`);
      p = (async () => {
        if (existsSync(file)) return asFloats(await readFile(file));
        const pcm = await make();
        // Written aside and renamed: a thread sharing the folder (judge-pool.ts) sees the whole file or none.
        const part = `${file}.${process.pid}-${threadId}.part`;
        await writeFile(part, pcm);
        await rename(part, file);
        return pcm;
      })();
      this.#memo.set(key, p);
    }
    return p;
  }

  /** The audio file `path` as mono float32 at `sampleRate`. */
  async decode(path: string, sampleRate: number): Promise<Float32Array> {
    const hash = createHash('sha256')
      .update(await readFile(path))
      .digest('hex')
      .slice(0, 24);
    return this.#cached(`${hash}-${sampleRate}`, () => decodeFile(path, { sampleRate }));
  }

  /** `pcm` (at `from` Hz) resampled to `to` Hz. */
  resample(pcm: Float32Array, from: number, to: number): Promise<Float32Array> {
    if (from === to) return Promise.resolve(pcm);
    const hash = createHash('sha256').update(pcm).digest('hex').slice(0, 24);
    return this.#cached(`${hash}-${from}-${to}`, () => resamplePcm(pcm, from, to));
  }
}

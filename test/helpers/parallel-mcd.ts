// Issue 10's parallel-data bar: mel-cepstral distortion (c1-c24, DTW-aligned; voice-measures.ts) between a
// conversion's output and the real target voice saying the same sentence, against the source saying it.
// espeak-ng voices are the parallel speakers (the same text, different synthetic speakers). The voice is
// cloned from a passage of the target voice that shares no sentence with the converted one.
import { join } from 'node:path';
import { decodeFile, espeak, resamplePcm } from './audio-io.js';
import type { Converter } from './judge.js';
import { MEASURE_RATE, melCepstra, melCepstralDistortion } from './voice-measures.js';

/** Harvard sentences (IEEE 1969): lists 1 and 2, the clone passage; list 3, the converted sentences. */
export const CLONE_PASSAGE = [
  'The birch canoe slid on the smooth planks.',
  'Glue the sheet to the dark blue background.',
  "It's easy to tell the depth of a well.",
  'These days a chicken leg is a rare dish.',
  'Rice is often served in round bowls.',
  'The juice of lemons makes fine punch.',
  'The box was thrown beside the parked truck.',
  'The hogs were fed chopped corn and garbage.',
  'Four hours of steady work faced us.',
  'A large size in stockings is hard to sell.',
].join(' ');
export const SENTENCES = [
  'The small pup gnawed a hole in the sock.',
  'The fish twisted and turned on the bent hook.',
  'Press the pants and sew a button on the vest.',
];

/** espeak-ng voice pairs: two each of male->female and female->male, one each of the same gender. */
export const PARALLEL_PAIRS: readonly { source: string; target: string }[] = [
  { source: 'en-us+m3', target: 'en-us+f3' },
  { source: 'en+m1', target: 'en+f2' },
  { source: 'en-us+f3', target: 'en-us+m3' },
  { source: 'en+f4', target: 'en+m7' },
  { source: 'en+m1', target: 'en-us+m3' },
  { source: 'en+f2', target: 'en+f4' },
];

export interface ParallelVerdict {
  source: string;
  target: string;
  /** MCD (dB) source vs target and output vs target, each the mean over the sentences. */
  before: number;
  after: number;
  /** 1 - after / before. */
  cut: number;
}

/** Renders `text` by `voice` into `dir` and decodes it at `sampleRate`. */
async function say(dir: string, voice: string, text: string, name: string, sampleRate: number) {
  const wav = join(dir, `${voice.replace(/[^a-z0-9]/gi, '_')}-${name}.wav`);
  await espeak(voice, text, wav);
  return decodeFile(wav, { sampleRate });
}

/**
 * Runs `convert` (at `sampleRate`) on every pair and sentence: the voice cloned from the target's passage,
 * each sentence of the source's converted, the output compared with the target's own sentence.
 */
export async function parallelMcd(
  dir: string,
  convert: Converter,
  sampleRate: number,
  pairs: readonly { source: string; target: string }[] = PARALLEL_PAIRS,
): Promise<ParallelVerdict[]> {
  const out: ParallelVerdict[] = [];
  for (const pair of pairs) {
    const clone = await say(dir, pair.target, CLONE_PASSAGE, 'passage', sampleRate);
    let before = 0;
    let after = 0;
    for (const [i, text] of SENTENCES.entries()) {
      const target = melCepstra(await say(dir, pair.target, text, `s${i}`, MEASURE_RATE), MEASURE_RATE);
      const source = await say(dir, pair.source, text, `s${i}`, sampleRate);
      const converted = await convert({ source, clone, sampleRate, pair });
      const out16 =
        converted.sampleRate === MEASURE_RATE
          ? converted.pcm
          : await resamplePcm(converted.pcm, converted.sampleRate, MEASURE_RATE);
      before += melCepstralDistortion(
        melCepstra(await say(dir, pair.source, text, `s${i}`, MEASURE_RATE), MEASURE_RATE),
        target,
      );
      after += melCepstralDistortion(melCepstra(out16, MEASURE_RATE), target);
    }
    before /= SENTENCES.length;
    after /= SENTENCES.length;
    out.push({ ...pair, before, after, cut: 1 - after / before });
  }
  return out;
}

// The LibriSpeech utterances of the shared speech folder (40 speakers, one utterance each, CC BY 4.0):
// where they are and who speaks. Used by scripts (the preset previews' source) and by the tests.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Speaker {
  id: string;
  file: string;
  gender: 'male' | 'female';
  medianF0: number;
  seconds: number;
}

/**
 * The LibriSpeech folder: `VCFARM_SPEECH_DIR`, else the first `shared/speech/librispeech` found walking up
 * from the repository (the main checkout has it at `../shared`, worktrees one level further up).
 */
export function speechDir(): string {
  if (process.env.VCFARM_SPEECH_DIR) return resolve(process.env.VCFARM_SPEECH_DIR);
  // dist/scripts/lib/ → the repository.
  let dir = fileURLToPath(new URL('../../..', import.meta.url));
  for (;;) {
    const candidate = join(dir, 'shared', 'speech', 'librispeech');
    if (existsSync(join(candidate, 'SPEAKERS.tsv'))) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error('LibriSpeech speech folder not found: set VCFARM_SPEECH_DIR');
    dir = up;
  }
}

/**
 * The LibriSpeech speakers the default model's source prior is measured on (scripts/build-prior.ts): the 14
 * in no pair of the judge (test/helpers/judge.ts JUDGE_PAIRS; test/unit/prior-speakers.test.ts checks it).
 */
export const PRIOR_SPEAKERS: readonly string[] = [
  '103',
  '1334',
  '1502',
  '1553',
  '1594',
  '1723',
  '1841',
  '1898',
  '1926',
  '196',
  '200',
  '2007',
  '233',
  '2384',
];

/** SPEAKERS.tsv, in file order. */
export function speakers(): Speaker[] {
  const dir = speechDir();
  const [, ...rows] = readFileSync(join(dir, 'SPEAKERS.tsv'), 'utf8').trim().split('\n');
  return rows.map((row) => {
    const [file, id, gender, f0, seconds] = row.split('\t');
    if (gender !== 'male' && gender !== 'female') throw new Error(`SPEAKERS.tsv: bad gender ${gender}`);
    return { id, file: join(dir, file), gender, medianF0: Number(f0), seconds: Number(seconds) };
  });
}

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { parseManifest, sourcePriorOf, VoiceConversionEngine } from '../workers/engine/index.js';
import { PRIOR_SPEAKERS, speakers } from './lib/speech-corpus.js';

/**
 * Writes models/builder/source-prior.json, the default model's speaker-independent prior for a conversion's
 * source envelope statistics (workers/engine/envelope-prior.ts), which `npm run build:model` embeds in the
 * manifest. Made from espeak-ng voices that neither the parallel-data MCD measure (test/helpers/parallel-mcd.ts:
 * variants m1, m3, m7, f2, f3, f4) nor the speaker-identification judge (LibriSpeech) uses, each reading
 * ten Harvard sentences (lists 4-5) that no measure reads, and the 14 LibriSpeech speakers in no judge pair
 * (REAL below). Run it again when the analysis graph changes.
 *   node dist/scripts/build-prior.js [--frames K] [--espeak-only] [--out FILE] [--model DIR]
 * --model: a variant's folder (build-model.js --variant) whose analysis differs from the default model's (e.g.
 * another `map.quefrencies`), for a prior the variant is then built again with (extra.sourcePrior: FILE).
 */
const VOICES = ['en+m2', 'en+m4', 'en+m6', 'en+f1', 'en+f5', 'en-us+m5', 'en-us+f5', 'en-gb-x-rp+m2'];
const TEXT = [
  'The wide road shimmered in the hot sun.',
  'The lazy cow lay in the cool grass.',
  'Lift the square stone over the fence.',
  'The rope will bind the seven books at once.',
  'Hop over the fence and plunge in.',
  'The friendly gang left the drug store.',
  'Mesh wire keeps chicks inside.',
  'The frosty air passed through the coat.',
  'The crooked maze failed to fool the mouse.',
  'Adding fast leads to wrong sums.',
].join(' ');
/**
 * Weight of the prior in frames (10.7 ms each), faded out linearly by the source's analysed length up to
 * FADE_SECONDS: a 3 s sentence (~150 voiced frames) is moved about 40 % of the way; a source of 8 s or more
 * keeps its own statistics (the prior is synthetic speech: at full weight on 10-35 s real sources it cost
 * the judge's formant bar 6 -> 4-5 of 30). Chosen on the parallel-data MCD (docs/MODEL-NOTES.md).
 */
const FRAMES = 150;
const FADE_SECONDS = 8;

const MODEL_DIR = fileURLToPath(new URL('../../models/default/', import.meta.url));
const OUT = fileURLToPath(new URL('../../models/builder/source-prior.json', import.meta.url));
const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: String(FRAMES) },
    'espeak-only': { type: 'boolean', default: false },
    out: { type: 'string', default: OUT },
    model: { type: 'string', default: MODEL_DIR },
  },
});
const frames = Number(values.frames);
if (!(frames > 0)) throw new Error('--frames must be a positive number');
/**
 * Real speech beside the synthetic voices: the LibriSpeech speakers in no judge pair (PRIOR_SPEAKERS; the
 * judge converts and measures only its pairs' speakers; all 40 are enrolled in its speaker identification,
 * and a prior averaged over 22 voices carries no one speaker's identity). --espeak-only: the prior before.
 */
const REAL = values['espeak-only'] ? [] : speakers().filter((s) => PRIOR_SPEAKERS.includes(s.id));
if (REAL.length !== (values['espeak-only'] ? 0 : PRIOR_SPEAKERS.length))
  throw new Error('build-prior: a LibriSpeech speaker of the prior is missing from SPEAKERS.tsv');

const engine = await VoiceConversionEngine.load(values.model);
const work = await mkdtemp(join(tmpdir(), 'vcfarm-prior-'));
try {
  const profiles = [];
  for (const voice of VOICES) {
    const wav = join(work, `${voice.replace(/[^a-z0-9]/gi, '_')}.wav`);
    await promisify(execFile)('espeak-ng', ['-v', voice, '-w', wav, TEXT]);
    const pcm = await decode(wav, engine.sampleRate);
    profiles.push(await engine.analyse([pcm]));
  }
  for (const s of REAL) profiles.push(await engine.analyse([await decode(s.file, engine.sampleRate)]));
  const from = `espeak-ng ${VOICES.join(' ')} (Harvard lists 4-5)${REAL.length > 0 ? `; LibriSpeech ${REAL.map((s) => s.id).join(' ')}` : ''}`;
  const prior = {
    ...sourcePriorOf(profiles, frames, from),
    fadeSeconds: FADE_SECONDS,
  };
  // Checked as the manifest will hold it.
  const manifest = JSON.parse(await readFile(join(values.model, 'model.json'), 'utf8'));
  parseManifest({ ...manifest, analysis: { ...manifest.analysis, sourcePrior: prior } });
  await writeFile(values.out, `${JSON.stringify(prior)}\n`);
  console.log(`source prior from ${profiles.length} voices, ${frames} frames, written to ${values.out}`);
} finally {
  await rm(work, { recursive: true, force: true });
  await engine.close();
}

async function decode(path: string, rate: number): Promise<Float32Array> {
  const run = promisify(execFile);
  const { stdout } = await run(
    'ffmpeg',
    ['-hide_banner', '-v', 'error', '-i', path, '-ac', '1', '-ar', String(rate), '-f', 'f32le', '-'],
    { encoding: 'buffer', maxBuffer: 1 << 28 },
  );
  return new Float32Array(stdout.buffer.slice(stdout.byteOffset, stdout.byteOffset + stdout.byteLength));
}

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VoiceConversionEngine } from '../../workers/engine/index.js';
import { median } from '../helpers/audio-metrics.js';
import { engineConverter } from '../helpers/engine-converter.js';
import { type ParallelVerdict, parallelMcd } from '../helpers/parallel-mcd.js';

// Issue 10's parallel-data bar on the default model: mel-cepstral distortion (c1-c24, DTW-aligned;
// test/helpers/voice-measures.ts, which shares no code with the engine) of the output against the target
// espeak-ng voice saying the same sentence, cut against the source saying it. The voice is cloned from ten
// Harvard sentences of the target voice; three others of the source voice are converted (each ~3 s, so the
// source's statistics rest on one sentence). The bar is a 40 % median cut: met, by 0.2 of a point (40.2 % today,
// cross-gender pairs 40-43 %, `node dist/scripts/parallel-mcd.js`; 33.2 % before the exemplar stage on the
// output, the builder's ENVELOPE_MAP.exemplars, 39.8 % with it before its confidence weighting). The median is
// asserted at the bar itself (the conversions are deterministic on a machine); the rest with margin, so a change
// that loses them fails. Without the source prior (workers/engine/envelope-prior.ts) and the warped map
// the model made 8 %; with the prior alone 15 %; the warped map without the prior 24 %; with both and the
// medians' formant ratios (before the matched ratios, workers/engine/formant-match.ts) 29.6 %, en+m1->en-us+m3 -28 %.

const MODEL_DIR = fileURLToPath(new URL('../../../models/default/', import.meta.url));
let engine: VoiceConversionEngine;
let work: string;
let verdicts: ParallelVerdict[];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vcfarm-mcd-'));
  engine = await VoiceConversionEngine.load(MODEL_DIR);
  verdicts = await parallelMcd(work, engineConverter(engine, 1), engine.sampleRate);
  for (const v of verdicts)
    console.log(
      `# ${v.source}->${v.target} ${v.before.toFixed(2)} -> ${v.after.toFixed(2)} dB (${(v.cut * 100).toFixed(0)} %)`,
    );
});
after(async () => {
  await engine?.close();
  await rm(work, { recursive: true, force: true });
});

const gender = (voice: string): string => voice.replace(/.*\+([mf]).*/, '$1');

test('parallel MCD: median cut over the 6 espeak pairs >= 40 % (issue 10 bar)', () => {
  const cut = median(verdicts.map((v) => v.cut));
  console.log(`# median cut ${(cut * 100).toFixed(1)} %`);
  assert.equal(verdicts.length, 6);
  assert.ok(cut >= 0.4, `median cut ${(cut * 100).toFixed(1)} %`);
});

test('parallel MCD: every cross-gender conversion lands closer to the target than the source was (cut >= 37 %; today 40-43 %)', () => {
  const cross = verdicts.filter((v) => gender(v.source) !== gender(v.target));
  assert.equal(cross.length, 4);
  const weak = cross
    .filter((v) => !(v.cut >= 0.37))
    .map((v) => `${v.source}->${v.target} ${(v.cut * 100).toFixed(1)} %`);
  assert.deepEqual(weak, []);
});

test("parallel MCD: the same-gender male pair is no longer pushed away by one sentence's formants (cut >= -16 %; today -12 %, -18 % before the exemplar stage, with the medians' ratios -28 %)", () => {
  const pair = verdicts.find((v) => v.source === 'en+m1' && v.target === 'en-us+m3');
  assert.ok(pair, 'the pair is measured');
  assert.ok(pair.cut >= -0.16, `en+m1->en-us+m3 ${(pair.cut * 100).toFixed(1)} %`);
});

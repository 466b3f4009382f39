import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildDefaultModel } from '../../models/builder/default-model.js';
import { writeModel } from '../../models/builder/write-model.js';
import { parseVoiceProfile, VoiceConversionEngine, type VoiceProfile } from '../../workers/engine/index.js';
import { blocks, loadSpeech } from '../helpers/audio-io.js';
import { convertAll, convertChunkedAsWhole } from '../helpers/engine-converter.js';

// The grain synthesis's options that are off in models/default (pitch-shift.ts: `periodRefine`, cubic
// `interpolation`; measured in docs/MODEL-NOTES.md, "The synthesis's floor"): a model built with them must keep the
// engine's contract, chunked output equal to whole-file output, and must change what it renders.
const DEFAULT_DIR = fileURLToPath(new URL('../../../models/default/', import.meta.url));
let work: string;
let variant: VoiceConversionEngine;
let plain: VoiceConversionEngine;
let speech: Record<string, Float32Array>;
let voice: VoiceProfile;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vcfarm-grain-options-'));
  const dir = join(work, 'model');
  await writeModel(
    buildDefaultModel(
      {},
      {},
      { interpolation: 'cubic', periodRefine: { halfLags: 12, halfWindow: 128, minCorrelation: 0.5 } },
    ),
    dir,
  );
  variant = await VoiceConversionEngine.load(dir);
  plain = await VoiceConversionEngine.load(DEFAULT_DIR);
  speech = await loadSpeech(work, variant.sampleRate, ['en-us+f3']);
  voice = parseVoiceProfile(
    JSON.parse(await readFile(join(DEFAULT_DIR, 'voices', 'espeak-m3.json'), 'utf8')),
  );
});
after(async () => {
  await variant?.close();
  await plain?.close();
  await rm(work, { recursive: true, force: true });
});

test('period refinement and cubic reads: chunked output equals whole-file output, and differs from the default', async () => {
  const src = speech['en-us+f3'];
  const sourceProfile = await variant.analyse(blocks(src));
  const options = { voice, sourceProfile, strength: 1 };
  const whole = await convertChunkedAsWhole(variant, src, options);
  // f3 -> m3 shifts down by about 0.5: every grain's read moves with the nudges and the kernel.
  const reference = await convertAll(plain, src, options);
  const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  const change = rms(reference.map((v, i) => v - whole[i])) / rms(reference);
  assert.ok(change > 1e-3, `the options changed the output by only ${change} of its rms`);
});

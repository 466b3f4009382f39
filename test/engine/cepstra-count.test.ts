import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildDefaultModel } from '../../models/builder/default-model.js';
import { writeModel } from '../../models/builder/write-model.js';
import {
  parseManifest,
  parseVoiceProfile,
  sourcePriorOf,
  VoiceConversionEngine,
  type VoiceProfile,
} from '../../workers/engine/index.js';
import { blocks, loadSpeech } from '../helpers/audio-io.js';
import { convertAll, convertChunkedAsWhole } from '../helpers/engine-converter.js';

// The number of band cepstra as a builder option (`map.quefrencies`, docs/MODEL-NOTES.md "Band cepstra count"):
// the manifest names it (analysis.envelopeCepstra), profiles record it, a profile of another count is refused
// with VC_ERR_VOICE_PROFILE both ways, and the variant (with a prior of its own count) keeps the engine's contract.
const DEFAULT_DIR = fileURLToPath(new URL('../../../models/default/', import.meta.url));
const Q = 40;
let work: string;
let variant: VoiceConversionEngine;
let plain: VoiceConversionEngine;
let speech: Record<string, Float32Array>;
let preset: VoiceProfile;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vcfarm-cepstra-count-'));
  const bare = join(work, 'bare');
  await writeModel(buildDefaultModel({ quefrencies: Q }), bare);
  const noPrior = await VoiceConversionEngine.load(bare);
  speech = await loadSpeech(work, noPrior.sampleRate, ['en-us+m3', 'en-us+f3']);
  // A prior of the variant's own count, as scripts/build-prior.ts --model makes it (from fewer voices).
  const profiles = [];
  for (const v of ['en-us+m3', 'en-us+f3']) profiles.push(await noPrior.analyse(blocks(speech[v])));
  await noPrior.close();
  const dir = join(work, 'model');
  await writeModel(
    buildDefaultModel({ quefrencies: Q }, {}, {}, { sourcePrior: sourcePriorOf(profiles, 150) }),
    dir,
  );
  variant = await VoiceConversionEngine.load(dir);
  plain = await VoiceConversionEngine.load(DEFAULT_DIR);
  preset = parseVoiceProfile(
    JSON.parse(await readFile(join(DEFAULT_DIR, 'voices', 'espeak-m3.json'), 'utf8')),
  );
});
after(async () => {
  await variant?.close();
  await plain?.close();
  await rm(work, { recursive: true, force: true });
});

test('a 40-cepstra model: its manifest and profiles say 40, statistics sized for 40', async () => {
  const manifest = JSON.parse(await readFile(join(work, 'model', 'model.json'), 'utf8'));
  assert.equal(manifest.analysis.envelopeCepstra, Q);
  assert.equal(manifest.analysis.sourcePrior.mean.length, 2 * Q);
  const p = await variant.analyse(blocks(speech['en-us+f3']));
  assert.equal(p.envelopeCepstra, Q);
  assert.equal(p.envelopeMean?.length, 2 * Q);
  assert.equal(p.envelopeRoot?.length, 2 * Q * Q);
  assert.equal(p.envelopeInverseRoot?.length, 2 * Q * Q);
  // The default model's manifest and profiles stay as they were (no field: 24).
  const def = JSON.parse(await readFile(join(DEFAULT_DIR, 'model.json'), 'utf8'));
  assert.equal(def.analysis.envelopeCepstra, undefined);
  assert.equal(preset.envelopeCepstra, undefined);
  assert.equal(preset.envelopeMean?.length, 2 * 24);
});

test('a profile of another count is refused with VC_ERR_VOICE_PROFILE, either way', async () => {
  const p = await variant.analyse(blocks(speech['en-us+m3']));
  assert.throws(() => plain.createConverter({ voice: p }), {
    code: 'VC_ERR_VOICE_PROFILE',
    message: /\(voice\) holds 40 envelope cepstra and this model reads 24.*clone the voice again/,
  });
  assert.throws(() => variant.createConverter({ voice: p, sourceProfile: preset }), {
    code: 'VC_ERR_VOICE_PROFILE',
    message: /\(sourceProfile\) holds 24 envelope cepstra and this model reads 40/,
  });
  // A profile claiming more cepstra than any model may hold is no profile.
  assert.throws(() => parseVoiceProfile({ ...preset, envelopeCepstra: 65 }), {
    code: 'VC_ERR_VOICE_PROFILE',
  });
});

test("a manifest whose prior holds another count than its profiles' is refused", async () => {
  const manifest = JSON.parse(await readFile(join(work, 'model', 'model.json'), 'utf8'));
  const def = JSON.parse(await readFile(join(DEFAULT_DIR, 'model.json'), 'utf8'));
  const mixed = { ...manifest, analysis: { ...manifest.analysis, sourcePrior: def.analysis.sourcePrior } };
  assert.throws(() => parseManifest(mixed), {
    code: 'VC_ERR_MODEL_MANIFEST',
    message: /sourcePrior\/mean holds 48 numbers; the model's 40 cepstra need 80/,
  });
});

test('a 40-cepstra model converts: chunked output equals whole-file output, and differs from 24', async () => {
  const src = speech['en-us+f3'];
  const voice = await variant.analyse(blocks(speech['en-us+m3']));
  // A short source's statistics are moved toward the variant's prior (envelope-prior.ts at 40).
  const sourceProfile = await variant.analyse(blocks(src), { seconds: 2 });
  const options = { voice, sourceProfile, strength: 1 };
  const whole = await convertChunkedAsWhole(variant, src, options);
  const reference = await convertAll(plain, src, {
    voice: await plain.analyse(blocks(speech['en-us+m3'])),
    sourceProfile: await plain.analyse(blocks(src), { seconds: 2 }),
    strength: 1,
  });
  const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  const change = rms(reference.map((v, i) => v - whole[i])) / rms(reference);
  assert.ok(change > 1e-3, `40 cepstra changed the output by only ${change} of its rms`);
});

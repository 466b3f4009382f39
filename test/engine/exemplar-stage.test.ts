import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildDefaultModel } from '../../models/builder/default-model.js';
import type { ExemplarOptions } from '../../models/builder/envelope-map.js';
import { writeModel } from '../../models/builder/write-model.js';
import {
  ExemplarBank,
  parseVoiceProfile,
  VoiceConversionEngine,
  type VoiceProfile,
} from '../../workers/engine/index.js';
import { blocks, loadSpeech } from '../helpers/audio-io.js';
import { allFinite } from '../helpers/audio-metrics.js';
import { convertChunkedAsWhole, convertWhole } from '../helpers/engine-converter.js';

// The exemplar envelope stage as a builder option (`map.exemplars`, envelope-map.ts exemplarBlend;
// docs/MODEL-NOTES.md "The exemplar stage in the graph"): the manifest asks for a bank, a profile cloned with
// it keeps one, conversions with it differ from the same model without the stage, chunked output still equals
// whole-file output, and a profile without a bank (cloned before it) converts exactly as without the stage.
const Q = 24;
const STAGE: ExemplarOptions = { frames: 1024, k: 8, weight: 0.75, smoothFrames: 1 };
let work: string;
let withStage: VoiceConversionEngine;
let without: VoiceConversionEngine;
let tiny: VoiceConversionEngine;
let post: VoiceConversionEngine;
let postZero: VoiceConversionEngine;
let postSure: VoiceConversionEngine;
let postDoubt: VoiceConversionEngine;
let speech: Record<string, Float32Array>;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vcfarm-exemplar-stage-'));
  // No source prior in any of them: the three differ only in the stage.
  await writeModel(buildDefaultModel({ exemplars: STAGE }), join(work, 'stage'));
  await writeModel(buildDefaultModel({ exemplars: null }), join(work, 'without'));
  // A bank of at most 4 rows, fewer than k: TopK takes what there is.
  await writeModel(buildDefaultModel({ exemplars: { ...STAGE, frames: 4 } }), join(work, 'tiny'));
  // The blend on the fitted output's own band cepstra instead of the request (one more fit-like pass).
  await writeModel(
    buildDefaultModel({ exemplars: { ...STAGE, on: 'output', maxDb: 12 } }),
    join(work, 'post'),
  );
  // The same pass allowed no gain: what the pass's re-synthesis alone gives (its longer context places the
  // grains elsewhere than the stage-less model's, so that is the reference, not the stage-less output).
  await writeModel(
    buildDefaultModel({ exemplars: { ...STAGE, on: 'output', maxDb: 0 } }),
    join(work, 'post-zero'),
  );
  // The move shrunk by the bank's distance (`confidence`): a huge t trusts every frame, a tiny one none.
  await writeModel(
    buildDefaultModel({ exemplars: { ...STAGE, on: 'output', maxDb: 12, confidence: 1e4 } }),
    join(work, 'post-sure'),
  );
  await writeModel(
    buildDefaultModel({ exemplars: { ...STAGE, on: 'output', maxDb: 12, confidence: 1e-4 } }),
    join(work, 'post-doubt'),
  );
  withStage = await VoiceConversionEngine.load(join(work, 'stage'));
  postSure = await VoiceConversionEngine.load(join(work, 'post-sure'));
  postDoubt = await VoiceConversionEngine.load(join(work, 'post-doubt'));
  post = await VoiceConversionEngine.load(join(work, 'post'));
  postZero = await VoiceConversionEngine.load(join(work, 'post-zero'));
  without = await VoiceConversionEngine.load(join(work, 'without'));
  tiny = await VoiceConversionEngine.load(join(work, 'tiny'));
  speech = await loadSpeech(work, withStage.sampleRate, ['en-us+m3', 'en-us+f3']);
});
after(async () => {
  await withStage?.close();
  await postSure?.close();
  await postDoubt?.close();
  await without?.close();
  await tiny?.close();
  await post?.close();
  await postZero?.close();
  await rm(work, { recursive: true, force: true });
});

const rows = (p: VoiceProfile): number[][] => {
  const flat = p.envelopeExemplars ?? [];
  return Array.from({ length: flat.length / (Q + 1) }, (_, i) => flat.slice(i * (Q + 1), (i + 1) * (Q + 1)));
};

test('the manifest asks for a bank; a profile cloned with it keeps rows [class, c1..c24]', async () => {
  const manifest = JSON.parse(await readFile(join(work, 'stage', 'model.json'), 'utf8'));
  assert.equal(manifest.analysis.envelopeExemplars, STAGE.frames);
  const input = manifest.graphs.shift.inputs.find(
    (i: { name: string }) => i.name === 'target_envelope_exemplars',
  );
  assert.deepEqual(input.source, { from: 'voice', field: 'envelopeExemplars', default: 0 });
  const p = await withStage.analyse(blocks(speech['en-us+f3']));
  const bank = rows(p);
  assert.equal((p.envelopeExemplars ?? []).length % (Q + 1), 0);
  // The espeak sentence has about 400 frames above the silence floor: all kept, voiced and unvoiced.
  assert.ok(bank.length > 200 && bank.length <= STAGE.frames, `${bank.length} rows`);
  assert.ok(bank.every((r) => r[0] === 1 || r[0] === -1));
  assert.ok(bank.some((r) => r[0] === 1) && bank.some((r) => r[0] === -1));
  // The rows' voiced mean is the profile's voiced envelope mean (same cepstra, same frames, all kept).
  const voiced = bank.filter((r) => r[0] === 1);
  const mean1 = voiced.reduce((s, r) => s + r[1], 0) / voiced.length;
  assert.ok(
    Math.abs(mean1 - (p.envelopeMean?.[0] ?? Number.NaN)) < 1e-3,
    `${mean1} vs ${p.envelopeMean?.[0]}`,
  );
  assert.equal(
    parseVoiceProfile(JSON.parse(JSON.stringify(p))).envelopeExemplars?.length,
    bank.length * (Q + 1),
  );
  // A model without the stage keeps no bank.
  const plain = await without.analyse(blocks(speech['en-us+f3']));
  assert.equal(plain.envelopeExemplars, undefined);
  // A bank capped at 4 keeps 2..4 rows spread over the clone.
  const small = rows(await tiny.analyse(blocks(speech['en-us+f3'])));
  assert.ok(small.length >= 2 && small.length <= 4, `${small.length} rows`);
});

test('ExemplarBank keeps an evenly spaced sample within its cap', () => {
  const bank = new ExemplarBank(8, 2);
  for (let i = 0; i < 100; i++) bank.add([i, -i], i % 2 === 0);
  const r = bank.rows();
  assert.equal(r.length % 3, 0);
  const firsts = Array.from({ length: r.length / 3 }, (_, i) => r[3 * i + 1]);
  assert.ok(firsts.length >= 4 && firsts.length <= 8, `${firsts.length} rows`);
  const steps = firsts.slice(1).map((v, i) => v - firsts[i]);
  assert.ok(
    steps.every((s) => s === steps[0]),
    `uneven steps ${steps}`,
  );
  assert.ok(firsts[0] === 0 && (firsts.at(-1) ?? 0) >= 100 - steps[0], `${firsts}`);
  assert.ok(Array.from({ length: r.length / 3 }, (_, i) => r[3 * i]).every((c) => c === 1));
});

test('the stage converts: chunked output equals whole-file output, and it moves the output', async () => {
  const src = speech['en-us+f3'];
  const voice = await withStage.analyse(blocks(speech['en-us+m3']));
  const sourceProfile = await withStage.analyse(blocks(src), { seconds: 2 });
  const options = { voice, sourceProfile, strength: 1 };
  const whole = await convertChunkedAsWhole(withStage, src, options);
  const reference = await convertWhole(without, src, options);
  const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  const change = rms(reference.map((v, i) => v - whole[i])) / rms(reference);
  assert.ok(change > 1e-2, `the stage changed the output by only ${change} of its rms`);
  // Fewer rows than k: still finite, still a move.
  const small = await convertWhole(tiny, src, {
    ...options,
    voice: await tiny.analyse(blocks(speech['en-us+m3'])),
  });
  assert.ok(allFinite(small));
  assert.ok(rms(reference.map((v, i) => v - small[i])) / rms(reference) > 1e-3);
});

test('a profile without a bank (cloned before the stage) converts exactly as without the stage', async () => {
  const src = speech['en-us+m3'];
  const { envelopeExemplars: _bank, ...voice } = await withStage.analyse(blocks(speech['en-us+f3']));
  const { envelopeExemplars: _own, ...sourceProfile } = await withStage.analyse(blocks(src), { seconds: 2 });
  const options = { voice, sourceProfile, strength: 1 };
  const staged = await convertWhole(withStage, src, options);
  const plain = await convertWhole(without, src, options);
  const maxDiff = staged.reduce((m, v, i) => Math.max(m, Math.abs(v - plain[i])), 0);
  assert.ok(maxDiff <= 1e-5, `no bank, yet the output moved by ${maxDiff}`);
});

test("on: 'output' converts chunked as whole-file, moves the output, and without a bank only re-synthesises it", async () => {
  const src = speech['en-us+f3'];
  const voice = await post.analyse(blocks(speech['en-us+m3']));
  const sourceProfile = await post.analyse(blocks(src), { seconds: 2 });
  const options = { voice, sourceProfile, strength: 1 };
  const whole = await convertChunkedAsWhole(post, src, options);
  const reference = await convertWhole(postZero, src, options);
  const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  const moved = rms(reference.map((v, i) => v - whole[i])) / rms(reference);
  assert.ok(moved > 1e-2, `the pass moved the output by only ${moved} of its rms`);
  const { envelopeExemplars: _bank, ...bare } = voice;
  const unmoved = await convertWhole(post, src, { ...options, voice: bare });
  const change = unmoved.reduce((m, v, i) => Math.max(m, Math.abs(v - reference[i])), 0);
  assert.ok(change <= 1e-5, `no bank, yet the output moved by ${change}`);
});

test('confidence: the move shrinks where the bank has no frame near (t / (t + d)): a huge t moves as without it, a tiny one hardly at all', async () => {
  const src = speech['en-us+f3'];
  const voice = await post.analyse(blocks(speech['en-us+m3']));
  const sourceProfile = await post.analyse(blocks(src), { seconds: 2 });
  const options = { voice, sourceProfile, strength: 1 };
  const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  const [full, sure, doubt, zero] = await Promise.all(
    [post, postSure, postDoubt, postZero].map((e) => convertWhole(e, src, options)),
  );
  const moved = rms(zero.map((v, i) => v - full[i]));
  const sureOff = rms(sure.map((v, i) => v - full[i])) / moved;
  const doubtMoved = rms(doubt.map((v, i) => v - zero[i])) / moved;
  console.log(
    `# t 1e4: ${sureOff.toExponential(2)} of the move off; t 1e-4: ${doubtMoved.toExponential(2)} of it made`,
  );
  assert.ok(sureOff < 0.01, `a huge t still ${sureOff} of the move off`);
  assert.ok(doubtMoved < 0.05, `a tiny t still made ${doubtMoved} of the move`);
  assert.ok(allFinite(doubt));
});

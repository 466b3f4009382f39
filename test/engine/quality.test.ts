import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VoiceConversionEngine } from '../../workers/engine/index.js';
import { espeak } from '../helpers/audio-io.js';
import { median } from '../helpers/audio-metrics.js';
import { engineConverter } from '../helpers/engine-converter.js';
import { FORMANT_PAIRS, type Identity, JUDGE_PAIRS, Judge, type Verdict } from '../helpers/judge.js';
import { PcmCache } from '../helpers/librispeech.js';
import {
  envelopeDistanceDb,
  formantError,
  MEASURE_RATE,
  melCepstra,
  melCepstralDistortion,
} from '../helpers/voice-measures.js';

// Issue 10's quality bars on real human speech, judged by measures that share no code with the engine
// (test/helpers/voice-measures.ts, speaker-id.ts; proven in voice-measures.test.ts). Every voice is cloned
// from the first 60 % of a LibriSpeech speaker's utterance and the output is judged against the last 40 %.
// LibriSpeech is 16 kHz: the engine gets it resampled to its rate, so nothing above 8 kHz is judged.

const MODEL_DIR = fileURLToPath(new URL('../../../models/default/', import.meta.url));
let engine: VoiceConversionEngine;
let judge: Judge;
let work: string;
let cache: PcmCache;
/** The 30 conversions through the model, fully measured. */
let verdicts: Verdict[];
/** The same 30 through a plain formant-preserving pitch shift to the target's F0, identified only. */
let pitchShift: Identity[];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vcfarm-quality-'));
  cache = new PcmCache(work);
  engine = await VoiceConversionEngine.load(MODEL_DIR);
  judge = await Judge.create(cache);
  const convert = engineConverter(engine, 1);
  verdicts = [];
  for (const pair of JUDGE_PAIRS) verdicts.push(await judge.judge(pair, convert, engine.sampleRate));
  const shift = judge.pitchShift();
  pitchShift = [];
  for (const pair of JUDGE_PAIRS)
    pitchShift.push(await judge.identifyConversion(pair, shift.convert, shift.sampleRate));
});
after(async () => {
  await engine?.close();
  await rm(work, { recursive: true, force: true });
});

const name = (v: Identity) => `${v.pair.source}->${v.pair.target}`;
const verdictOf = (pair: { source: string; target: string }) => {
  const v = verdicts.find((x) => x.pair.source === pair.source && x.pair.target === pair.target);
  if (!v) throw new Error(`${pair.source}->${pair.target} is not among the judged conversions`);
  return v;
};

test('speaker identity: judged the target in >= 20 of 30, the source in <= 3, >= twice the pitch shift', () => {
  const asTarget = verdicts.filter((v) => v.asTarget).length;
  const asSource = verdicts.filter((v) => v.asSource).length;
  const shiftTarget = pitchShift.filter((v) => v.asTarget).length;
  const shiftSource = pitchShift.filter((v) => v.asSource).length;
  console.log(
    `# model: target ${asTarget}/30, source ${asSource}/30; pitch shift: target ${shiftTarget}/30, source ${shiftSource}/30`,
  );
  for (const v of verdicts) console.log(`# ${name(v)} ${v.kind}: judged ${v.identifiedAs}`);
  assert.equal(verdicts.length, 30);
  assert.ok(asTarget >= 20, `identified as the target in ${asTarget} of 30`);
  assert.ok(asSource <= 3, `identified as the source in ${asSource} of 30`);
  assert.ok(asTarget >= 2 * shiftTarget, `${asTarget} target hits vs ${shiftTarget} for a plain pitch shift`);
});

test('formants: median F1-F3 within 8 % of the target on pairs whose formants differ by >= 10 %', () => {
  const failures: string[] = [];
  for (const pair of FORMANT_PAIRS) {
    const v = verdictOf(pair);
    const held = v.formants.target;
    const clone = judge.measures(pair.target, 'clone').formants;
    // Preconditions: the pair is far enough apart, and the target's own halves agree (a stable measure).
    assert.ok(v.formantGap >= 0.1, `${name(v)}: source and target formants differ by only ${v.formantGap}`);
    assert.ok(
      formantError(clone, held) <= 0.08,
      `${name(v)}: target halves differ by ${formantError(clone, held)}`,
    );
    const o = v.formants.output;
    console.log(
      `# ${name(v)} ${v.kind}: target ${[held.f1, held.f2, held.f3].map(Math.round)} Hz, output ${[o.f1, o.f2, o.f3].map(Math.round)} Hz, ` +
        `source gap ${(v.formantGap * 100).toFixed(0)} %, output error ${(v.formantError * 100).toFixed(0)} %`,
    );
    if (v.formantError > 0.08) failures.push(`${name(v)} off by ${(v.formantError * 100).toFixed(1)} %`);
  }
  assert.deepEqual(failures, []);
});

test('envelope: mean cepstral envelope distance to the target cut by >= 60 % (each formant pair, median of 30)', () => {
  const failures: string[] = [];
  for (const pair of FORMANT_PAIRS) {
    const v = verdictOf(pair);
    // Precondition: the bar is reachable, i.e. the target's own halves are well within 40 % of the gap.
    const self = envelopeDistanceDb(
      judge.measures(pair.target, 'clone').envelope,
      judge.measures(pair.target, 'held').envelope,
    );
    assert.ok(
      self <= 0.4 * v.envelope.before,
      `${name(v)}: target halves ${self} dB apart vs gap ${v.envelope.before}`,
    );
    console.log(
      `# ${name(v)}: ${v.envelope.before.toFixed(2)} -> ${v.envelope.after.toFixed(2)} dB (cut ${(v.envelope.cut * 100).toFixed(0)} %; target halves ${self.toFixed(2)} dB)`,
    );
    if (v.envelope.cut < 0.6) failures.push(`${name(v)} cut by ${(v.envelope.cut * 100).toFixed(0)} %`);
  }
  const cut = median(verdicts.map((v) => v.envelope.cut));
  console.log(`# median cut over 30: ${(cut * 100).toFixed(0)} %`);
  if (cut < 0.6) failures.push(`median over 30 cut by ${(cut * 100).toFixed(0)} %`);
  assert.deepEqual(failures, []);
});

test("envelope dynamics: the source's frame-to-frame envelope change kept (correlation >= 0.75) in all 30", () => {
  const weak = verdicts
    .filter((v) => !(v.dynamics >= 0.75))
    .map((v) => `${name(v)} ${v.dynamics.toFixed(3)}`);
  console.log(`# min ${Math.min(...verdicts.map((v) => v.dynamics)).toFixed(3)}`);
  assert.deepEqual(weak, []);
});

test("F0: output median within 5 % of the target's (targets whose halves agree within 3 %)", () => {
  const stable = verdicts.filter((v) => Math.abs(judge.f0(v.pair.target, 'clone') / v.f0.target - 1) <= 0.03);
  assert.ok(stable.length >= 10, `only ${stable.length} conversions have a target with a stable F0`);
  const off = stable
    .filter((v) => !(Math.abs(v.f0.error) <= 0.05))
    .map((v) => `${name(v)} ${v.f0.target.toFixed(0)} -> ${v.f0.output.toFixed(0)} Hz`);
  console.log(`# ${stable.length} conversions judged on F0; off: ${off.length}`);
  assert.deepEqual(off, []);
});

test('output: duration exact, peak <= -0.1 dBFS, no NaN, in all 30', () => {
  for (const v of verdicts) {
    assert.equal(v.lengthDelta, 0, `${name(v)}: length off by ${v.lengthDelta} samples`);
    assert.ok(v.peakDbfs <= -0.1, `${name(v)}: peak ${v.peakDbfs} dBFS`);
    assert.ok(v.finite, `${name(v)}: non-finite samples`);
  }
});

const SENTENCE = 'The birch canoe slid on the smooth planks, and glue the sheet to the dark blue background.';
const CLONE_TEXT =
  'It is easy to tell the depth of a well. These days a chicken leg is a rare dish. Rice is often served in round bowls.';

test('mel-cepstral distortion on espeak parallel data: output vs the real target voice cut by >= 40 %', async () => {
  const render = async (voice: string, text: string, tag: string) => {
    const wav = join(work, `${voice}-${tag}.wav`);
    await espeak(voice, text, wav);
    return {
      at16: await cache.decode(wav, MEASURE_RATE),
      atEngine: await cache.decode(wav, engine.sampleRate),
    };
  };
  const convert = engineConverter(engine, 1);
  const failures: string[] = [];
  for (const [from, to] of [
    ['en-us+m3', 'en-us+f3'],
    ['en-us+f3', 'en-us+m3'],
  ] as const) {
    const source = await render(from, SENTENCE, 'sentence');
    const target = await render(to, SENTENCE, 'sentence');
    // The voice is cloned from a different text of the target voice.
    const clone = await render(to, CLONE_TEXT, 'clone');
    const out = await convert({
      source: source.atEngine,
      clone: clone.atEngine,
      sampleRate: engine.sampleRate,
      pair: { source: from, target: to },
    });
    const out16 = await cache.resample(out.pcm, out.sampleRate, MEASURE_RATE);
    const tgt = melCepstra(target.at16, MEASURE_RATE);
    const beforeDb = melCepstralDistortion(melCepstra(source.at16, MEASURE_RATE), tgt);
    const afterDb = melCepstralDistortion(melCepstra(out16, MEASURE_RATE), tgt);
    const cut = 1 - afterDb / beforeDb;
    console.log(
      `# ${from} -> ${to}: MCD ${beforeDb.toFixed(2)} -> ${afterDb.toFixed(2)} dB (cut ${(cut * 100).toFixed(0)} %)`,
    );
    if (!(cut >= 0.4)) failures.push(`${from} -> ${to} cut by ${(cut * 100).toFixed(0)} %`);
  }
  assert.deepEqual(failures, []);
});

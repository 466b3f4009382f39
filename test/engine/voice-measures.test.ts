import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { espeak, filterPcm } from '../helpers/audio-io.js';
import { median } from '../helpers/audio-metrics.js';
import { firstPart, lastPart, PcmCache, speakers } from '../helpers/librispeech.js';
import { enrol, identify } from '../helpers/speaker-id.js';
import {
  envelopeDistanceDb,
  envelopeDynamicsCorrelation,
  envelopeTrack,
  MEASURE_RATE,
  meanEnvelopeDb,
  medianFormants,
  melCepstra,
  melCepstralDistortion,
} from '../helpers/voice-measures.js';

// The judge's own measures (test/helpers/voice-measures.ts, speaker-id.ts) proven on known signals and on
// the 40 LibriSpeech speakers, so a verdict of the engine quality tests can be trusted.

const SR = MEASURE_RATE;
let work: string;
let cache: PcmCache;
let speech: { id: string; gender: string; pcm: Float32Array }[];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vcfarm-measures-'));
  cache = new PcmCache(work);
  speech = [];
  for (const s of speakers())
    speech.push({ id: s.id, gender: s.gender, pcm: await cache.decode(s.file, SR) });
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A vowel: an impulse train at `f0` through a cascade of two-pole resonators (Klatt 1980). */
function vowel(f0: number, formants: readonly [number, number][], seconds = 1): Float32Array {
  const out = new Float32Array(Math.round(seconds * SR));
  const period = SR / f0;
  for (let t = 0; t < out.length; t += period) out[Math.floor(t)] = 1;
  let x = Float64Array.from(out);
  for (const [f, bw] of formants) {
    const r = Math.exp((-Math.PI * bw) / SR);
    const a1 = 2 * r * Math.cos((2 * Math.PI * f) / SR);
    const a2 = -r * r;
    const y = new Float64Array(x.length);
    for (let n = 0; n < x.length; n++) y[n] = x[n] + a1 * (y[n - 1] ?? 0) + a2 * (y[n - 2] ?? 0);
    x = y;
  }
  const peak = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return Float32Array.from(x, (v) => (0.5 * v) / peak);
}

// LPC of voiced speech is biased toward the harmonic nearest F1 (a textbook limitation of the
// autocorrelation method), at high F0 (up to half the harmonic spacing), so F1 gets 10 %, F2 and F3 5 %.
test('formants: LPC recovers the resonances of synthetic vowels (F1 within 10 %, F2 and F3 within 5 %)', () => {
  const cases: { f0: number; f: [number, number][] }[] = [
    {
      f0: 110,
      f: [
        [700, 80],
        [1220, 90],
        [2600, 120],
      ],
    },
    {
      f0: 120,
      f: [
        [450, 70],
        [2000, 100],
        [2900, 150],
      ],
    },
    {
      f0: 210,
      f: [
        [850, 90],
        [1600, 100],
        [2900, 150],
      ],
    },
  ];
  for (const { f0, f } of cases) {
    const got = medianFormants(vowel(f0, f), SR);
    const measured = [got.f1, got.f2, got.f3];
    console.log(`# F0 ${f0}: ${f.map(([hz]) => hz)} -> ${measured.map((v) => v.toFixed(0))}`);
    for (const [k, v] of measured.entries()) {
      assert.ok(Math.abs(v / f[k][0] - 1) <= (k === 0 ? 0.1 : 0.05), `F${k + 1} ${v} vs ${f[k][0]}`);
    }
    assert.ok(got.frames >= 80, `only ${got.frames} voiced frames`);
  }
});

test('formants: the female speakers F1-F3 lie above the male speakers (group medians)', () => {
  const by = (g: string) => speech.filter((s) => s.gender === g).map((s) => medianFormants(s.pcm, SR));
  const male = by('male');
  const female = by('female');
  for (const k of ['f1', 'f2', 'f3'] as const) {
    const m = median(male.map((x) => x[k]));
    const f = median(female.map((x) => x[k]));
    console.log(`# ${k}: male ${m.toFixed(0)} Hz, female ${f.toFixed(0)} Hz`);
    assert.ok(f > m * 1.04, `${k}: female ${f} vs male ${m}`);
  }
});

test("envelope distance: a speaker's two halves lie close, different speakers far; level does not count", () => {
  const first = speech.map((s) => meanEnvelopeDb(firstPart(s.pcm), SR));
  const last = speech.map((s) => meanEnvelopeDb(lastPart(s.pcm), SR));
  const same = first.map((e, i) => envelopeDistanceDb(e, last[i]));
  const different = first.flatMap((e, i) =>
    last.filter((_, j) => j !== i).map((o) => envelopeDistanceDb(e, o)),
  );
  const closerThanMedianOther = same.filter((d) => d < median(different)).length;
  console.log(
    `# same speaker: median ${median(same).toFixed(2)} dB; different: median ${median(different).toFixed(2)} dB; ` +
      `own halves closer than the median other pair: ${closerThanMedianOther}/40`,
  );
  assert.ok(median(same) <= 1.8, `same-speaker median ${median(same)}`);
  assert.ok(median(different) >= 4, `different-speaker median ${median(different)}`);
  assert.ok(closerThanMedianOther >= 38, `${closerThanMedianOther}/40`);
  const quiet = speech[0].pcm.map((v) => v * 0.1);
  assert.ok(envelopeDistanceDb(meanEnvelopeDb(quiet, SR), meanEnvelopeDb(speech[0].pcm, SR)) < 0.05);
});

test('speaker identification: 40 speakers, enrolled on one part, identified on the other', () => {
  for (const [enrolOn, testOn, name] of [
    [firstPart, lastPart, 'first 60 % -> last 40 %'],
    [lastPart, firstPart, 'last 40 % -> first 60 %'],
  ] as const) {
    const models = enrol(speech.map((s) => ({ speaker: s.id, pcm: enrolOn(s.pcm) })));
    const misses = speech.filter((s) => identify(models, testOn(s.pcm))[0].speaker !== s.id).map((s) => s.id);
    console.log(`# ${name}: ${40 - misses.length}/40 top-1 (missed: ${misses.join(', ') || 'none'})`);
    assert.ok(misses.length <= 1, `${name}: missed ${misses.join(', ')}`);
  }
});

test('speaker identification is blind to a fixed EQ', async () => {
  const models = enrol(speech.map((s) => ({ speaker: s.id, pcm: firstPart(s.pcm) })));
  const eq = 'equalizer=f=800:t=o:w=1:g=8,equalizer=f=3000:t=o:w=1:g=-8';
  let hits = 0;
  for (const s of speech.slice(0, 10)) {
    const filtered = await filterPcm(lastPart(s.pcm), { sampleRate: SR, filter: eq });
    if (identify(models, filtered)[0].speaker === s.id) hits++;
  }
  assert.ok(hits >= 9, `${hits}/10 identified through an EQ`);
});

test('mel-cepstral distortion: DTW aligns one voice at two speeds; another voice is far', async () => {
  const text = 'The birch canoe slid on the smooth planks, and the box was thrown beside the parked truck.';
  const render = async (voice: string, wpm: number) => {
    const wav = join(work, `${voice}-${wpm}.wav`);
    await espeak(voice, text, wav, wpm);
    return melCepstra(await cache.decode(wav, SR), SR);
  };
  const m3 = await render('en-us+m3', 175);
  const m3slow = await render('en-us+m3', 130);
  const f3 = await render('en-us+f3', 175);
  assert.equal(melCepstralDistortion(m3, m3), 0);
  const sameVoice = melCepstralDistortion(m3, m3slow);
  const otherVoice = melCepstralDistortion(m3, f3);
  console.log(
    `# MCD: same voice, other speed ${sameVoice.toFixed(2)} dB; other voice ${otherVoice.toFixed(2)} dB`,
  );
  assert.ok(sameVoice < 0.6 * otherVoice, `${sameVoice} vs ${otherVoice}`);
});

test('envelope-change correlation: kept through a fixed EQ, absent across speakers', async () => {
  const src = speech[1].pcm;
  const shifted = await filterPcm(src, {
    sampleRate: SR,
    filter: 'equalizer=f=800:t=o:w=1:g=8,equalizer=f=3000:t=o:w=1:g=-8',
  });
  const track = envelopeTrack(src, SR);
  const kept = envelopeDynamicsCorrelation(track, envelopeTrack(shifted, SR));
  const other = envelopeDynamicsCorrelation(track, envelopeTrack(speech[2].pcm, SR));
  console.log(
    `# envelope-change correlation: through an EQ ${kept.toFixed(3)}, other speaker ${other.toFixed(3)}`,
  );
  assert.equal(envelopeDynamicsCorrelation(track, track), 1);
  assert.ok(kept >= 0.9, `EQ: ${kept}`);
  assert.ok(Math.abs(other) < 0.3, `other speaker: ${other}`);
});
